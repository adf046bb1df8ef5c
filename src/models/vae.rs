//! The VAE objective on any `Network`: reconstruction −log p(x | z) under the chosen
//! likelihood plus β·KL(q(z | x) ‖ N(0, I)), sums over elements divided by the batch size
//! (as the reference codes them), with z = μ_z + σ_z·ε drawn on the device.

use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::random::RandomKey;
use crate::nn::{Adam, Init, ParamId, ParamStore, ParamsBuilder};
use crate::tensor::Tensor;

/// The decoder's likelihood p(x | z).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Likelihood {
    /// N(μ_x, γ²I) with loggamma a learned scalar initialised to 0 (Dai & Wipf's default).
    GaussianLearned,
    /// N(μ_x, γ²I) with γ held fixed.
    GaussianFixed { gamma: f32 },
    /// Bernoulli(μ_x): the cross-entropy baseline.
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
        let (c, side) = self.net.image();
        let shape = x.shape();
        if shape.len() != 4 || shape[1..] != [c, side, side] || shape[0] == 0 {
            return Err(Error::shape(
                "vae input",
                format!("{shape:?} is not [N, {c}, {side}, {side}]"),
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

    /// γ as the decoder uses it (None for Bernoulli); reads the learned value back.
    pub fn gamma(&self, s: &ParamStore) -> Result<Option<f32>> {
        Ok(match (self.objective.likelihood, self.loggamma) {
            (Likelihood::GaussianLearned, Some(id)) => Some(s.value(id).to_vec()?[0].exp()),
            (Likelihood::GaussianFixed { gamma }, _) => Some(gamma),
            _ => None,
        })
    }
}
