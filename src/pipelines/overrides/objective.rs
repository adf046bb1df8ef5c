//! The objective's overrides (`vae-gpu train`'s flags): the likelihood, the regulariser of
//! Zhao et al.'s generalised objective and its weight, and GECO (Rezende & Viola).

use crate::error::{Error, Result};
use crate::models::{Geco, Likelihood, MmdChoice, Objective, Regularizer};
use clap::Args;
use serde::{Deserialize, Serialize};

#[derive(Args, Clone, Debug, Default, Serialize, Deserialize)]
pub struct ObjectiveOverrides {
    /// Decoder likelihood: gaussian (learned γ unless --gamma), bernoulli, or categorical
    /// (256 values a pixel; --net pixelcnn) [default: gaussian; categorical for pixelcnn]
    #[arg(long, value_enum, ignore_case = true)]
    pub likelihood: Option<LikelihoodFlag>,
    /// Fix the Gaussian decoder's γ (a standard deviation) instead of learning it
    #[arg(long, allow_hyphen_values = true)]
    pub gamma: Option<f32>,
    /// The regulariser R(q) of E[−log p(x|z)] + w·R(q): kl (the ELBO), mmd (MMD² between the
    /// batch's codes z ~ q(z|x) and as many N(0, I) draws, InfoVAE) or none (the unregularised
    /// objective) [default: kl]
    #[arg(long, value_enum, ignore_case = true)]
    pub regularizer: Option<Regularizer>,
    /// The regulariser's weight w (β for the KL) [default: 1]
    #[arg(long, alias = "beta", allow_hyphen_values = true)]
    pub reg_weight: Option<f32>,
    /// The MMD regulariser's kernel: imq, C/(C + ‖a − b‖²), or rbf, exp(−‖a − b‖²/C); the
    /// bandwidth C is 2κ, the mean ‖a − b‖² of two N(0, I) points [default: imq]
    #[arg(long, value_enum, ignore_case = true)]
    pub mmd_kernel: Option<MmdChoice>,
    /// elbo, or geco: minimise w·R(q) subject to the reconstruction constraint
    /// C = Σ_pixels ‖x − μ_x‖² − D·R² per image (averaged over the batch; D values per image,
    /// so κ² = D·R²), met when the MSE is at most R², with a Lagrange multiplier λ (λ plays
    /// 1/(2γ²) of the Gaussian likelihood) [default: elbo]
    #[arg(long, value_enum, ignore_case = true)]
    pub objective: Option<ObjectiveFlag>,
    /// GECO's tolerance R: the reconstruction RMSE per pixel value to reach, in (0, 1)
    #[arg(long, allow_hyphen_values = true)]
    pub geco_rmse: Option<f64>,
    /// GECO's moving-average factor α of C [default: 0.99]
    #[arg(long, allow_hyphen_values = true)]
    pub geco_alpha: Option<f64>,
    /// GECO's η in λ ← λ·exp(η·C_ma) [default: 0.01]
    #[arg(long, allow_hyphen_values = true)]
    pub geco_lr: Option<f64>,
    /// Update λ every N steps [default: 1]
    #[arg(long, allow_negative_numbers = true)]
    pub geco_every: Option<usize>,
    /// Steps before λ's first update (C is averaged from the start) [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub geco_warmup: Option<usize>,
    /// LO,HI: bounds of λ's factor per update [default: 0.9,1.1]
    #[arg(long, allow_hyphen_values = true)]
    pub geco_clamp: Option<String>,
}

/// `--likelihood`: the decoder's family (the Gaussian's γ learned unless `--gamma` fixes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LikelihoodFlag {
    Gaussian,
    Bernoulli,
    /// 256 values per pixel (--net pixelcnn, where it is the default).
    Categorical,
}

/// `--objective`: the ELBO's weighted sum, or GECO's constrained optimisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveFlag {
    Elbo,
    Geco,
}

/// The objective's part of a run's settings.
pub struct ObjectiveSettings {
    pub likelihood: Likelihood,
    pub regularizer: Regularizer,
    pub mmd_kernel: Option<MmdChoice>,
    pub beta: f32,
    pub geco: Option<Geco>,
}

fn parse_clamp(s: &str) -> Result<[f64; 2]> {
    let bad = || Error::flag("--geco-clamp", format!("'{s}' is not LO,HI (two numbers)"));
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let num = |v: &str| v.trim().parse::<f64>().map_err(|_| bad());
    Ok([num(lo)?, num(hi)?])
}

impl ObjectiveOverrides {
    /// The overrides that give exactly these settings.
    pub fn from_settings(
        likelihood: Likelihood,
        regularizer: Regularizer,
        mmd_kernel: Option<MmdChoice>,
        beta: f32,
        geco: Option<Geco>,
    ) -> ObjectiveOverrides {
        let (flag, gamma) = match likelihood {
            Likelihood::GaussianLearned => (LikelihoodFlag::Gaussian, None),
            Likelihood::GaussianFixed { gamma } => (LikelihoodFlag::Gaussian, Some(gamma)),
            Likelihood::Bernoulli => (LikelihoodFlag::Bernoulli, None),
            Likelihood::Categorical => (LikelihoodFlag::Categorical, None),
        };
        ObjectiveOverrides {
            likelihood: Some(flag),
            gamma,
            regularizer: Some(regularizer),
            // A regulariser of none takes no weight.
            reg_weight: (regularizer != Regularizer::None).then_some(beta),
            mmd_kernel,
            objective: Some(if geco.is_some() {
                ObjectiveFlag::Geco
            } else {
                ObjectiveFlag::Elbo
            }),
            geco_rmse: geco.map(|g| g.rmse),
            geco_alpha: geco.map(|g| g.alpha),
            geco_lr: geco.map(|g| g.lr),
            geco_every: geco.map(|g| g.every),
            geco_warmup: geco.map(|g| g.warmup),
            geco_clamp: geco.map(|g| format!("{},{}", g.clamp[0], g.clamp[1])),
        }
    }

    fn likelihood(&self) -> Result<Likelihood> {
        let gaussian = Some(LikelihoodFlag::Gaussian);
        match (self.likelihood.or(gaussian), self.gamma) {
            (Some(LikelihoodFlag::Gaussian) | None, None) => Ok(Likelihood::GaussianLearned),
            (Some(LikelihoodFlag::Gaussian) | None, Some(gamma)) => {
                Ok(Likelihood::GaussianFixed { gamma })
            }
            (Some(LikelihoodFlag::Bernoulli), None) => Ok(Likelihood::Bernoulli),
            (Some(LikelihoodFlag::Categorical), None) => Ok(Likelihood::Categorical),
            (Some(LikelihoodFlag::Bernoulli | LikelihoodFlag::Categorical), Some(_)) => Err(
                Error::flag("--gamma", "applies only to --likelihood gaussian"),
            ),
        }
    }

    fn geco(&self) -> Result<Option<Geco>> {
        let geco_flag = [
            ("--geco-alpha", self.geco_alpha.is_some()),
            ("--geco-lr", self.geco_lr.is_some()),
            ("--geco-every", self.geco_every.is_some()),
            ("--geco-warmup", self.geco_warmup.is_some()),
            ("--geco-clamp", self.geco_clamp.is_some()),
            ("--geco-rmse", self.geco_rmse.is_some()),
        ]
        .into_iter()
        .find(|(_, given)| *given)
        .map(|(f, _)| f);
        match self.objective.unwrap_or(ObjectiveFlag::Elbo) {
            ObjectiveFlag::Elbo => match geco_flag {
                Some(f) => Err(Error::flag(f, "sets up GECO, which needs --objective geco")),
                None => Ok(None),
            },
            ObjectiveFlag::Geco => {
                let rmse = self.geco_rmse.ok_or_else(|| {
                    Error::flag(
                        "--geco-rmse",
                        "--objective geco needs its tolerance: the per-pixel RMSE to reach, e.g. --geco-rmse 0.1",
                    )
                })?;
                let mut g = Geco::with_rmse(rmse);
                g.alpha = self.geco_alpha.unwrap_or(g.alpha);
                g.lr = self.geco_lr.unwrap_or(g.lr);
                g.every = self.geco_every.unwrap_or(g.every);
                g.warmup = self.geco_warmup.unwrap_or(g.warmup);
                if let Some(c) = &self.geco_clamp {
                    g.clamp = parse_clamp(c)?;
                }
                Ok(Some(g))
            }
        }
    }

    pub fn settings(&self) -> Result<ObjectiveSettings> {
        let regularizer = self.regularizer.unwrap_or_default();
        if regularizer == Regularizer::None && self.reg_weight.is_some() {
            return Err(Error::flag(
                "--reg-weight",
                "--regularizer none has no term to weight",
            ));
        }
        let mmd_kernel = match (regularizer, self.mmd_kernel) {
            (Regularizer::Mmd, k) => Some(k.unwrap_or_default()),
            (_, Some(_)) => {
                return Err(Error::flag(
                    "--mmd-kernel",
                    "applies only to --regularizer mmd",
                ))
            }
            (_, None) => None,
        };
        Ok(ObjectiveSettings {
            likelihood: self.likelihood()?,
            regularizer,
            mmd_kernel,
            beta: self.reg_weight.unwrap_or(Objective::default().beta),
            geco: self.geco()?,
        })
    }
}
