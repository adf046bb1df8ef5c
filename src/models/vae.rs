//! The VAE objective on any `Network` (settings in `objective`): a reconstruction term —
//! −log p(x | z) under the chosen likelihood, or GECO's λ·C — plus w·R(q) with R the KL, the
//! MMD to N(0, I) or nothing; sums over elements divided by the batch size (as the reference
//! codes them), with z = μ_z + σ_z·ε drawn on the device.

use super::geco::GecoState;
use super::objective::{Likelihood, Objective, Regularizer};
use super::trainable::{Batch, Metric, Trainable};
use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::loss;
use crate::kernels::mmd::MmdConfig;
use crate::kernels::random::{self, RandomKey};
use crate::kernels::softmax_ce::Categorical;
use crate::nn::{Adam, Init, ParamId, ParamStore, ParamsBuilder};
use crate::tensor::Tensor;

/// The MMD regulariser's N(0, I) draws use the model's noise stream plus this (stage 1: 8).
pub const PRIOR_STREAM_OFFSET: u32 = 8;

/// The scalar terms of one forward pass (shape [] on the tape) and the decoder mean.
pub struct Losses {
    pub total: Var,
    /// −log p(x | z); None under GECO, whose constraint takes its place.
    pub reconstruction: Option<Var>,
    /// KL(q(z | x) ‖ N(0, I)), computed (for the metrics) whatever the regulariser.
    pub kl: Var,
    /// MMD² of the batch's z to N(0, I), with the MMD regulariser.
    pub mmd: Option<Var>,
    /// GECO's constraint C of this batch.
    pub constraint: Option<Var>,
    /// The decoder mean; None for an autoregressive decoder, whose pixels' distributions
    /// depend on the pixels before them.
    pub mu_x: Option<Var>,
}

/// What a training step leaves on the device (nothing is read back): one value per name of
/// `Vae::metric_names`, in order, and the decoder mean (None for autoregressive decoders).
pub struct StepOutput {
    pub metrics: Vec<Tensor>,
    pub mu_x: Option<Tensor>,
}

impl StepOutput {
    /// The loss (the first metric).
    pub fn total(&self) -> &Tensor {
        &self.metrics[0]
    }
}

pub struct Vae {
    pub net: Box<dyn Network>,
    pub objective: Objective,
    /// Present only for the learned-γ likelihood without GECO (registered as `loggamma`).
    pub loggamma: Option<ParamId>,
    /// Present under GECO: λ and C_ma.
    pub geco: Option<GecoState>,
}

impl Vae {
    /// Registers the objective's parameters and state (loggamma, or GECO's λ and C_ma) after
    /// the network's.
    pub fn new(b: &mut ParamsBuilder, net: Box<dyn Network>, objective: Objective) -> Vae {
        let geco = objective.geco.map(|g| GecoState::new(b, g));
        let loggamma = match (objective.likelihood, &geco) {
            (Likelihood::GaussianLearned, None) => Some(b.param("loggamma", &[1], Init::Zeros)),
            _ => None,
        };
        Vae {
            net,
            objective,
            loggamma,
            geco,
        }
    }

    /// Values per example (D).
    pub fn example_len(&self) -> usize {
        self.net.example_shape().iter().product()
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let want = self.net.example_shape();
        let shape = x.shape();
        if shape.len() != want.len() + 1 || shape[1..] != want[..] || shape[0] == 0 {
            return Err(Error::shape(
                "vae input",
                format!("{shape:?} is not [N] ++ {want:?}"),
            ));
        }
        if self.objective.regularizer == Regularizer::Mmd && shape[0] < 2 {
            return Err(Error::shape(
                "vae input",
                format!("the MMD regulariser compares a batch of codes with N(0, I) draws and needs at least 2 examples, got {shape:?}"),
            ));
        }
        Ok(())
    }

    /// −log p(x | z) with the likelihood's γ (None under GECO).
    fn nll(&self, t: &mut Tape, s: &ParamStore, x: Var, mu_x: Var) -> Result<Option<Var>> {
        if self.geco.is_some() {
            return Ok(None);
        }
        Ok(Some(match (self.objective.likelihood, self.loggamma) {
            (Likelihood::GaussianLearned, Some(id)) => {
                let lg = t.param(s, id)?;
                t.gaussian_nll(x, mu_x, lg)?
            }
            (Likelihood::GaussianFixed { gamma }, _) => {
                let lg = t.constant(Tensor::full(s.gpu(), &[1], gamma.ln())?)?;
                t.gaussian_nll(x, mu_x, lg)?
            }
            (Likelihood::Bernoulli, _) => t.bernoulli_ce(x, mu_x)?,
            (l, _) => {
                return Err(Error::shape(
                    "vae objective",
                    format!(
                        "the {} likelihood needs an autoregressive decoder",
                        l.name()
                    ),
                ))
            }
        }))
    }

    /// −log p(x | z) = −Σ_i log p(x_i | x_<i, z) of an autoregressive decoder with `classes`
    /// values per pixel: 256-way over 8-bit values, or 2-way on binarised data (a pixel's
    /// class is round(x·(K − 1))).
    fn pixel_nll(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        z: Var,
        classes: usize,
        train: bool,
    ) -> Result<Var> {
        let logits = self.net.decode_pixels(t, s, z, x, train)?;
        let mut shape = t.value(x).shape().to_vec();
        shape.remove(1);
        let targets = t.reshape(x, &shape)?;
        let how = Categorical {
            axis: 1,
            scale: (classes - 1) as f32,
        };
        t.softmax_ce(logits, targets, how)
    }

    /// GECO's C = Σ‖x − μ_x‖²/B − D·R². The Gaussian loss at γ = 1/√2 is Σ(x − μ_x)²/B +
    /// D·½·log π exactly, so one affine map of it gives C with its gradient.
    fn constraint(&self, t: &mut Tape, x: Var, mu_x: Var) -> Result<Option<Var>> {
        let Some(g) = &self.geco else { return Ok(None) };
        let d = self.example_len();
        let lg = t.constant(Tensor::full(t.value(x).gpu(), &[1], -0.5 * 2f32.ln())?)?;
        let l = t.gaussian_nll(x, mu_x, lg)?;
        let offset = d as f64 * 0.5 * std::f64::consts::PI.ln() + g.settings.kappa_squared(d);
        Ok(Some(t.affine(l, 1.0, -offset as f32)?))
    }

    /// The objective with ε (and the MMD's prior draws) from `key`. In training, GECO's
    /// moving average takes this batch (`key.step` 0 starts it).
    pub fn losses(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        key: RandomKey,
        train: bool,
    ) -> Result<Losses> {
        self.check_input(t.value(x))?;
        let (mu, sigma) = self.net.encode(t, s, x, train)?;
        let z = t.reparameterize(mu, sigma, key)?;
        let (mu_x, reconstruction, constraint) = match self.net.pixel_classes() {
            Some(k) => (None, Some(self.pixel_nll(t, s, x, z, k, train)?), None),
            None => match self.net.decode_steps(t, s, z, train)? {
                // Σ_t −log p_t(x | z_t, x_{t−1}): every step reconstructs the data.
                Some(steps) => {
                    let mut total = None;
                    for &x_t in &steps {
                        let Some(term) = self.nll(t, s, x, x_t)? else {
                            return Err(Error::shape(
                                "vae objective",
                                "a sequential decoder is trained with a likelihood per step, not GECO's constraint",
                            ));
                        };
                        total = Some(match total {
                            Some(sum) => t.add(sum, term)?,
                            None => term,
                        });
                    }
                    (steps.last().copied(), total, None)
                }
                None => {
                    let mu_x = self.net.decode(t, s, z, train)?;
                    let reconstruction = self.nll(t, s, x, mu_x)?;
                    (Some(mu_x), reconstruction, self.constraint(t, x, mu_x)?)
                }
            },
        };
        let kl = t.kl_normal(mu, sigma)?;
        let o = &self.objective;
        let mmd = match o.regularizer {
            Regularizer::Mmd => {
                let prior_key = RandomKey {
                    stream: key.stream + PRIOR_STREAM_OFFSET,
                    ..key
                };
                let shape = t.value(z).shape().to_vec();
                let prior = t.constant(random::normal(s.gpu(), &shape, prior_key)?)?;
                let cfg = MmdConfig {
                    kernel: o.mmd_kernel.kernel(self.net.latent()),
                    unbiased: true,
                };
                Some(t.mmd(z, prior, cfg)?)
            }
            _ => None,
        };
        let regularizer = match (o.regularizer, mmd) {
            (Regularizer::Kl, _) => Some(kl),
            (Regularizer::Mmd, Some(m)) => Some(m),
            _ => None,
        };
        let weighted = match regularizer {
            Some(r) if o.beta != 1.0 => Some(t.affine(r, o.beta, 0.0)?),
            r => r,
        };
        let data_term = match (&self.geco, constraint, reconstruction) {
            (Some(g), Some(c), _) => g.term(t, s, c, key.step, train)?,
            (_, _, Some(r)) => r,
            _ => {
                return Err(Error::shape(
                    "vae objective",
                    "neither a likelihood term nor a constraint was built",
                ))
            }
        };
        let total = match weighted {
            Some(w) => t.add(data_term, w)?,
            None => data_term,
        };
        Ok(Losses {
            total,
            reconstruction,
            kl,
            mmd,
            constraint,
            mu_x,
        })
    }

    /// The metrics a training step returns, in order: the loss, then each term present.
    pub fn metric_names(&self) -> Vec<&'static str> {
        let mut v = vec!["loss"];
        if self.geco.is_none() {
            v.push("reconstruction");
        }
        v.push("kl");
        if self.objective.regularizer == Regularizer::Mmd {
            v.push("mmd");
        }
        if self.geco.is_some() {
            v.extend(["constraint", "lambda"]);
        }
        if self.net.pixel_classes().is_none() {
            v.push("mse");
        }
        v
    }

    /// One training step, recorded but not submitted: zero the gradients, forward, backward,
    /// Adam (and GECO's λ update). The caller appends its metric updates and submits the
    /// step as one command buffer.
    pub fn train_step(
        &self,
        s: &ParamStore,
        adam: &mut Adam,
        x: &Tensor,
        key: RandomKey,
        lr: f32,
    ) -> Result<StepOutput> {
        s.zero_grad();
        let mut t = Tape::new(s.gpu());
        let xv = t.constant(x.clone())?;
        let l = self.losses(&mut t, s, xv, key, true)?;
        t.backward(l.total, s)?;
        adam.step(s, lr)?;
        let value = |v: Var| t.value(v).clone();
        let mut metrics = vec![value(l.total)];
        metrics.extend(l.reconstruction.map(value));
        metrics.push(value(l.kl));
        metrics.extend(l.mmd.map(value));
        if let (Some(g), Some(c)) = (&self.geco, l.constraint) {
            let c = value(c);
            g.after_step(s, &c, key.step)?;
            // λ after this step's update, read by the metric sums before the next step:
            // an overflow to infinity stops the run at this step.
            metrics.extend([c, g.lambda(s).clone()]);
        }
        let mu_x = l.mu_x.map(value);
        if let Some(m) = &mu_x {
            metrics.push(Vae::squared_error(x, m)?);
        }
        Ok(StepOutput { metrics, mu_x })
    }

    /// Σ(x − μ_x)² of one step's output, for the MSE column, the same way for every
    /// likelihood (Bernoulli has no such term): two small passes over the batch.
    pub fn squared_error(x: &Tensor, mu_x: &Tensor) -> Result<Tensor> {
        let zero = Tensor::zeros(x.gpu(), &[1])?;
        loss::gaussian_nll(x, mu_x, &zero)?.narrow0(1, 1)
    }

    /// γ as the decoder uses it (None for Bernoulli); reads the learned value back. Under
    /// GECO, the γ that λ stands for: λ·‖x − μ_x‖² = ‖x − μ_x‖²/(2γ²), so γ = 1/√(2λ).
    pub fn gamma(&self, s: &ParamStore) -> Result<Option<f32>> {
        if let Some(g) = &self.geco {
            let (lambda, _) = g.read(s)?;
            return Ok(Some(1.0 / (2.0 * lambda).sqrt()));
        }
        Ok(match (self.objective.likelihood, self.loggamma) {
            (Likelihood::GaussianLearned, Some(id)) => Some(s.value(id).to_vec()?[0].exp()),
            (Likelihood::GaussianFixed { gamma }, _) => Some(gamma),
            _ => None,
        })
    }
}

/// A VAE and its parameters, as the training loop sees it.
pub struct VaeModel<'a> {
    pub vae: &'a Vae,
    pub store: &'a ParamStore,
}

impl Trainable for VaeModel<'_> {
    fn store(&self) -> &ParamStore {
        self.store
    }

    fn metrics(&self, batch: usize) -> Vec<Metric> {
        let values = batch * self.vae.example_len();
        self.vae
            .metric_names()
            .into_iter()
            .map(|name| match name {
                "mse" => Metric {
                    name,
                    per: values as f64,
                    checked: None,
                },
                "lambda" => Metric {
                    checked: Some(
                        "λ grows while the constraint is unmet: give a reachable --geco-rmse, or a smaller --geco-lr or --geco-clamp",
                    ),
                    ..Metric::mean(name)
                },
                _ => Metric::mean(name),
            })
            .collect()
    }

    fn step(&self, adam: &mut Adam, batch: &Batch, key: RandomKey, lr: f32) -> Result<Vec<Tensor>> {
        Ok(self
            .vae
            .train_step(self.store, adam, &batch.x, key, lr)?
            .metrics)
    }

    /// γ (learned, fixed, or GECO's equivalent); under GECO also C_ma now and whether the
    /// constraint is met by it (1) or not (0).
    fn readings(&self) -> Result<Vec<(&'static str, f64)>> {
        let mut v: Vec<(&'static str, f64)> = self
            .vae
            .gamma(self.store)?
            .map(|g| ("gamma", g as f64))
            .into_iter()
            .collect();
        if let Some(g) = &self.vae.geco {
            let (_, c_ma) = g.read(self.store)?;
            v.push(("c_ma", c_ma as f64));
            v.push(("constraint_met", (c_ma <= 0.0) as u8 as f64));
        }
        Ok(v)
    }
}
