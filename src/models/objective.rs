//! What a stage-1 VAE minimises, as settings: the decoder's likelihood, the regulariser of
//! Zhao et al.'s generalised objective and its weight, and optionally GECO's constraint in
//! place of the likelihood term (Rezende & Viola). `Vae` turns these into losses.

use crate::kernels::mmd::MmdKernel;
use serde::{Deserialize, Serialize};

/// The decoder's likelihood p(x | z). In a config: `"likelihood": NAME` (and `"gamma"` for
/// the fixed-γ one).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "likelihood")]
pub enum Likelihood {
    /// N(μ_x, γ²I) with loggamma a learned scalar initialised to 0 (Dai & Wipf's default).
    #[serde(rename = "gaussian-learned-gamma")]
    GaussianLearned,
    /// N(μ_x, γ²I) with γ held fixed.
    #[serde(rename = "gaussian-fixed-gamma")]
    GaussianFixed { gamma: f32 },
    /// Bernoulli(μ_x): the cross-entropy baseline (for the PixelCNN decoder: two classes
    /// per pixel of binarised data).
    #[serde(rename = "bernoulli")]
    Bernoulli,
    /// A categorical over the 256 values of each 8-bit pixel: autoregressive decoders only.
    #[serde(rename = "categorical")]
    Categorical,
}

impl Likelihood {
    pub fn name(self) -> &'static str {
        match self {
            Likelihood::GaussianLearned => "gaussian-learned-gamma",
            Likelihood::GaussianFixed { .. } => "gaussian-fixed-gamma",
            Likelihood::Bernoulli => "bernoulli",
            Likelihood::Categorical => "categorical",
        }
    }
}

/// R(q) of the generalised objective E_q[−log p(x | z)] + w·R(q) (Zhao, Song & Ermon).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Regularizer {
    /// KL(q(z | x) ‖ N(0, I)) averaged over the batch: the ELBO (w = 1) or a β-VAE.
    #[default]
    Kl,
    /// MMD² between the batch's z ~ q(z | x) and as many draws of N(0, I) (InfoVAE).
    Mmd,
    /// No regulariser: the unregularised, autoencoder-like objective.
    None,
}

/// The MMD regulariser's kernel. Both use the scale C = 2κ, E‖a − b‖² for two independent
/// N(0, I) points in κ dimensions, so the kernel neither saturates nor flattens at the prior.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MmdChoice {
    /// Inverse multiquadric C/(C + ‖a − b‖²): heavy tails keep a gradient for far-off codes
    /// (Tolstikhin et al.'s WAE choice).
    #[default]
    Imq,
    /// Gaussian exp(−‖a − b‖²/C) (Zhao et al.'s InfoVAE code).
    Rbf,
}

impl MmdChoice {
    pub fn kernel(self, latent: usize) -> MmdKernel {
        match self {
            MmdChoice::Imq => MmdKernel::imq_for_dim(latent),
            MmdChoice::Rbf => MmdKernel::rbf_for_dim(latent),
        }
    }
}

/// GECO (Rezende & Viola, Algorithm 1): minimise w·R(q) subject to E[C] ≤ 0, with the
/// reconstruction constraint C = (1/B)·Σ_images ‖x − μ_x‖² − D·R² — a squared error summed
/// over each image's D values, averaged over the batch, against κ² = D·R² for a per-value
/// RMSE tolerance R. The constraint is met exactly when the batch's MSE is at most R².
/// f64 so config.json shows the values given (the kernels take them as f32).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Geco {
    /// The tolerance R as an RMSE per pixel value (pixels in [0, 1]).
    pub rmse: f64,
    /// The constraint's moving-average factor α (the paper's 0.99).
    pub alpha: f64,
    /// η in λ ← λ·exp(η·C_ma).
    pub lr: f64,
    /// Update λ after every this many steps…
    pub every: usize,
    /// …from this step on (the steps before it only average C).
    pub warmup: usize,
    /// The per-update factor exp(η·C_ma) is clamped to [lo, hi].
    pub clamp: [f64; 2],
}

impl Geco {
    /// Public GECO code's defaults: α 0.99 (the paper), η 0.01, the factor clamped to
    /// [0.9, 1.1], an update every step and no warm-up (Algorithm 1).
    pub fn with_rmse(rmse: f64) -> Geco {
        Geco {
            rmse,
            alpha: 0.99,
            lr: 0.01,
            every: 1,
            warmup: 0,
            clamp: [0.9, 1.1],
        }
    }

    /// κ² = D·R² for examples of `values` numbers each.
    pub fn kappa_squared(&self, values: usize) -> f64 {
        values as f64 * self.rmse * self.rmse
    }

    /// Whether λ is updated after (0-based) step `step`: from the warm-up on, every `every`.
    pub fn updates_after(&self, step: u64) -> bool {
        let (w, k) = (self.warmup as u64, self.every.max(1) as u64);
        step >= w && (step - w).is_multiple_of(k)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objective {
    pub likelihood: Likelihood,
    pub regularizer: Regularizer,
    /// The MMD regulariser's kernel (unused by the others).
    pub mmd_kernel: MmdChoice,
    /// The regulariser's weight w (β for the KL; 1 is the ELBO).
    pub beta: f32,
    /// GECO's constraint replaces the likelihood term (Gaussian only: λ plays 1/(2γ²)).
    pub geco: Option<Geco>,
}

impl Objective {
    /// E[−log p(x | z)] + β·KL.
    pub fn elbo(likelihood: Likelihood, beta: f32) -> Objective {
        Objective {
            likelihood,
            beta,
            ..Objective::default()
        }
    }
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            likelihood: Likelihood::GaussianLearned,
            regularizer: Regularizer::Kl,
            mmd_kernel: MmdChoice::Imq,
            beta: 1.0,
            geco: None,
        }
    }
}
