//! The VAE objective on any `Network`: reconstruction −log p(x | z) under the chosen
//! likelihood plus β·KL(q(z | x) ‖ N(0, I)), sums over elements divided by the batch size
//! (as the reference codes them), with z = μ_z + σ_z·ε drawn on the device.

use super::trainable::{Batch, Metric, Trainable};
use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::loss;
use crate::kernels::random::RandomKey;
use crate::nn::{Adam, Init, ParamId, ParamStore, ParamsBuilder};
use crate::tensor::Tensor;

/// The decoder's likelihood p(x | z). In a config: `"likelihood": NAME` (and `"gamma"` for
/// the fixed-γ one).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "likelihood")]
pub enum Likelihood {
    /// N(μ_x, γ²I) with loggamma a learned scalar initialised to 0 (Dai & Wipf's default).
    #[serde(rename = "gaussian-learned-gamma")]
    GaussianLearned,
    /// N(μ_x, γ²I) with γ held fixed.
    #[serde(rename = "gaussian-fixed-gamma")]
    GaussianFixed { gamma: f32 },
    /// Bernoulli(μ_x): the cross-entropy baseline.
    #[serde(rename = "bernoulli")]
    Bernoulli,
}

impl Likelihood {
    pub fn name(self) -> &'static str {
        match self {
            Likelihood::GaussianLearned => "gaussian-learned-gamma",
            Likelihood::GaussianFixed { .. } => "gaussian-fixed-gamma",
            Likelihood::Bernoulli => "bernoulli",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    pub likelihood: Likelihood,
    /// Weight of the KL term (1 for the ELBO).
    pub beta: f32,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            likelihood: Likelihood::GaussianLearned,
            beta: 1.0,
        }
    }
}

/// The scalar terms of one forward pass (shape [] on the tape) and the decoder mean.
pub struct Losses {
    pub total: Var,
    pub reconstruction: Var,
    pub kl: Var,
    pub mu_x: Var,
}

/// What a training step leaves on the device (nothing is read back).
pub struct StepOutput {
    pub total: Tensor,
    pub reconstruction: Tensor,
    pub kl: Tensor,
    pub mu_x: Tensor,
}

pub struct Vae {
    pub net: Box<dyn Network>,
    pub objective: Objective,
    /// Present only for the learned-γ likelihood (registered as `loggamma`).
    pub loggamma: Option<ParamId>,
}

impl Vae {
    /// Registers the objective's parameters (the learned loggamma) after the network's.
    pub fn new(b: &mut ParamsBuilder, net: Box<dyn Network>, objective: Objective) -> Vae {
        let loggamma = match objective.likelihood {
            Likelihood::GaussianLearned => Some(b.param("loggamma", &[1], Init::Zeros)),
            _ => None,
        };
        Vae {
            net,
            objective,
            loggamma,
        }
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
        Ok(())
    }

    /// The negative ELBO (β-weighted) with ε drawn from `key`.
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
        let mu_x = self.net.decode(t, s, z, train)?;
        let reconstruction = match (self.objective.likelihood, self.loggamma) {
            (Likelihood::GaussianLearned, Some(id)) => {
                let lg = t.param(s, id)?;
                t.gaussian_nll(x, mu_x, lg)?
            }
            (Likelihood::GaussianFixed { gamma }, _) => {
                let lg = t.constant(Tensor::full(s.gpu(), &[1], gamma.ln())?)?;
                t.gaussian_nll(x, mu_x, lg)?
            }
            _ => t.bernoulli_ce(x, mu_x)?,
        };
        let kl = t.kl_normal(mu, sigma)?;
        let weighted = if self.objective.beta == 1.0 {
            kl
        } else {
            t.affine(kl, self.objective.beta, 0.0)?
        };
        let total = t.add(reconstruction, weighted)?;
        Ok(Losses {
            total,
            reconstruction,
            kl,
            mu_x,
        })
    }

    /// One training step, recorded but not submitted: zero the gradients, forward, backward,
    /// Adam. The caller appends its metric updates and submits the step as one command buffer.
    pub fn train_step(
        &self,
        s: &ParamStore,
        adam: &mut Adam,
        x: &Tensor,
        key: RandomKey,
        lr: f32,
    ) -> Result<StepOutput> {
        s.zero_grad()?;
        let mut t = Tape::new(s.gpu());
        let xv = t.constant(x.clone())?;
        let l = self.losses(&mut t, s, xv, key, true)?;
        t.backward(l.total, s)?;
        adam.step(s, lr)?;
        Ok(StepOutput {
            total: t.value(l.total).clone(),
            reconstruction: t.value(l.reconstruction).clone(),
            kl: t.value(l.kl).clone(),
            mu_x: t.value(l.mu_x).clone(),
        })
    }

    /// Σ(x − μ_x)² of one step's output, for the MSE column, the same way for every
    /// likelihood (Bernoulli has no such term): two small passes over the batch.
    pub fn squared_error(x: &Tensor, mu_x: &Tensor) -> Result<Tensor> {
        let zero = Tensor::zeros(x.gpu(), &[1])?;
        loss::gaussian_nll(x, mu_x, &zero)?.narrow0(1, 1)
    }

    /// γ as the decoder uses it (None for Bernoulli); reads the learned value back.
    pub fn gamma(&self, s: &ParamStore) -> Result<Option<f32>> {
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
        let values = batch * self.vae.net.example_shape().iter().product::<usize>();
        vec![
            Metric::mean("loss"),
            Metric::mean("reconstruction"),
            Metric::mean("kl"),
            Metric {
                name: "mse",
                per: values as f64,
            },
        ]
    }

    fn step(&self, adam: &mut Adam, batch: &Batch, key: RandomKey, lr: f32) -> Result<Vec<Tensor>> {
        let out = self.vae.train_step(self.store, adam, &batch.x, key, lr)?;
        let sse = Vae::squared_error(&batch.x, &out.mu_x)?;
        Ok(vec![out.total, out.reconstruction, out.kl, sse])
    }

    fn readings(&self) -> Result<Vec<(&'static str, f64)>> {
        Ok(self
            .vae
            .gamma(self.store)?
            .map(|g| ("gamma", g as f64))
            .into_iter()
            .collect())
    }
}
