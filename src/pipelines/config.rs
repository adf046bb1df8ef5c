//! Every setting of a run, as one typed value: validated once, written to config.json by
//! serde, and read back by `--resume` (which compares the whole value, so a resumed run
//! cannot silently differ from the original and no list of flags is kept by hand).

use crate::data::{Crop, DataSpec, Split};
use crate::error::{Error, Result};
use crate::models::{
    Geco, Likelihood, MmdChoice, NetKind, NetOptions, Objective, PixelCnnShape, Regularizer,
};
use crate::train::Schedule;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long to train a stage: `"epochs": N` or `"steps": N` in a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    Epochs(usize),
    Steps(usize),
}

/// One VAE, or Dai & Wipf's two stages (the second trained on the first's latents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    Vae,
    TwoStage,
}

/// A stage's optimisation: Adam's learning rate, its halving schedule, and the length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "StageRepr", try_from = "StageRepr")]
pub struct StageConfig {
    /// f64 so config.json shows the value given (an f32 prints as 0.0010000000474974513).
    pub lr: f64,
    /// Halve the learning rate every this many epochs (None: constant).
    pub lr_halve_every: Option<usize>,
    pub length: Length,
}

/// A stage as config.json holds it: the length as `"epochs"` or `"steps"`, the other absent
/// or null (runs written before stage 2 existed wrote both, one of them null).
#[derive(Serialize, Deserialize)]
struct StageRepr {
    lr: f64,
    lr_halve_every: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    steps: Option<usize>,
}

impl From<StageConfig> for StageRepr {
    fn from(s: StageConfig) -> StageRepr {
        let (epochs, steps) = match s.length {
            Length::Epochs(n) => (Some(n), None),
            Length::Steps(n) => (None, Some(n)),
        };
        StageRepr {
            lr: s.lr,
            lr_halve_every: s.lr_halve_every,
            epochs,
            steps,
        }
    }
}

impl TryFrom<StageRepr> for StageConfig {
    type Error = String;
    fn try_from(r: StageRepr) -> std::result::Result<StageConfig, String> {
        let length = match (r.epochs, r.steps) {
            (Some(e), None) => Length::Epochs(e),
            (None, Some(s)) => Length::Steps(s),
            _ => return Err("exactly one of \"epochs\" and \"steps\" must be given".into()),
        };
        Ok(StageConfig {
            lr: r.lr,
            lr_halve_every: r.lr_halve_every,
            length,
        })
    }
}

/// The stage-2 VAE: the reference MLP's width and depth, and its own schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage2Config {
    pub hidden: usize,
    pub layers: usize,
    #[serde(flatten)]
    pub schedule: StageConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub data: String,
    pub split: Split,
    pub image_size: Option<usize>,
    pub crop: Option<Crop>,
    pub limit: Option<usize>,
    /// Runs written before stage 2 existed have no "model": they are single-stage.
    #[serde(default = "single_stage")]
    pub model: ModelKind,
    pub net: NetKind,
    /// The PixelCNN decoder's depth and width (present exactly when the net is pixelcnn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixelcnn: Option<PixelCnnShape>,
    /// The Sequential VAE's T (present exactly when the net is sequential).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_steps: Option<usize>,
    /// κ; the Sequential VAE's per step.
    pub latent_dim: usize,
    #[serde(flatten)]
    pub likelihood: Likelihood,
    /// Zhao et al.'s R(q); runs written before it existed are ELBO (β-VAE) runs.
    #[serde(default)]
    pub regularizer: Regularizer,
    /// The MMD regulariser's kernel (present exactly when the regulariser is MMD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmd_kernel: Option<MmdChoice>,
    /// The regulariser's weight (`--reg-weight`, or `--beta` for the KL).
    pub beta: f32,
    /// GECO's constraint and multiplier schedule (`--objective geco`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geco: Option<Geco>,
    pub batch_size: usize,
    pub seed: u64,
    pub log_every: usize,
    pub checkpoint_every: usize,
    /// Also checkpoint at the first log this many minutes after the last checkpoint.
    #[serde(default = "default_checkpoint_minutes")]
    pub checkpoint_minutes: f64,
    pub sample_every: Option<usize>,
    /// Î(x; z) of stage 1 logged every N steps into metrics.jsonl (`--mi-every`), from
    /// `mi_images` training images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mi_every: Option<usize>,
    #[serde(default = "default_mi_images")]
    pub mi_images: usize,
    /// Checkpoints kept per stage (`--keep-checkpoints`); runs written before it kept one.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub keep_checkpoints: usize,
    /// Stage 1 (the image VAE).
    #[serde(flatten)]
    pub stage1: StageConfig,
    /// Present on two-stage runs.
    pub stage2: Option<Stage2Config>,
}

fn one() -> usize {
    1
}

/// `--mi-images`'s default: Î's ceiling is log M = 6.9 nats, and M²κ terms take well under a
/// second.
pub fn default_mi_images() -> usize {
    1000
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn single_stage() -> ModelKind {
    ModelKind::Vae
}

/// The default of `--checkpoint-minutes`, also for runs written before it existed.
pub fn default_checkpoint_minutes() -> f64 {
    5.0
}

/// The Philox streams of each stage's own noise: stage 1 keeps stream 0 (as before stage 2
/// existed, so older runs resume exactly); stage 2's VAE and its resampled latents get their
/// own, apart from sampling's (`models::generate`).
pub const STAGE1_STREAM: u32 = 0;
pub const STAGE2_STREAM: u32 = 16;
pub const LATENT_STREAM: u32 = 17;

fn positive(flag: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        Err(Error::flag(flag, "must be at least 1"))
    } else {
        Ok(())
    }
}

impl StageConfig {
    fn validate(&self, prefix: &'static str) -> Result<()> {
        let flag = |a: &'static str, b: &'static str| if prefix.is_empty() { a } else { b };
        match self.length {
            Length::Epochs(n) => positive(flag("--epochs", "--stage2-epochs"), n)?,
            Length::Steps(n) => positive(flag("--steps", "--stage2-steps"), n)?,
        }
        if let Some(n) = self.lr_halve_every {
            positive(flag("--lr-halve-every", "--stage2-lr-halve-every"), n)?;
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::flag(
                flag("--lr", "--stage2-lr"),
                format!("must be a positive finite number, not {}", self.lr),
            ));
        }
        Ok(())
    }

    /// Steps in all, at `per_epoch` steps an epoch.
    pub fn total_steps(&self, per_epoch: usize) -> u64 {
        match self.length {
            Length::Epochs(e) => (e * per_epoch) as u64,
            Length::Steps(s) => s as u64,
        }
    }
}

impl RunConfig {
    pub fn data_spec(&self) -> DataSpec {
        DataSpec {
            data: self.data.clone(),
            split: self.split,
            image_size: self.image_size,
            crop: self.crop,
            limit: self.limit,
        }
    }

    pub fn net_options(&self) -> NetOptions {
        NetOptions {
            pixelcnn: self.pixelcnn,
            sequence_steps: self.sequence_steps,
        }
    }

    pub fn objective(&self) -> Objective {
        Objective {
            likelihood: self.likelihood,
            regularizer: self.regularizer,
            mmd_kernel: self.mmd_kernel.unwrap_or_default(),
            beta: self.beta,
            geco: self.geco,
        }
    }

    /// The regulariser's and GECO's settings, each on its own and against the likelihood.
    fn validate_objective(&self) -> Result<()> {
        let autoregressive = self.net == NetKind::PixelCnn;
        if self.likelihood == Likelihood::Categorical && !autoregressive {
            return Err(Error::flag(
                "--likelihood",
                format!(
                    "categorical is an autoregressive decoder's likelihood (--net pixelcnn), not {}'s",
                    crate::text::value_name(&self.net)
                ),
            ));
        }
        if autoregressive && self.model == ModelKind::TwoStage {
            return Err(Error::flag(
                "--model",
                "the PixelCNN-VAE is Zhao et al.'s single-stage model: give --model vae",
            ));
        }
        if self.net == NetKind::Sequential {
            if self.model == ModelKind::TwoStage {
                return Err(Error::flag(
                    "--model",
                    "the Sequential VAE is Zhao et al.'s single-stage model: give --model vae",
                ));
            }
            if self.geco.is_some() {
                return Err(Error::flag(
                    "--geco-rmse",
                    "GECO constrains one reconstruction; the Sequential VAE makes one a step: train it with a likelihood",
                ));
            }
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::flag(
                "--reg-weight/--beta",
                format!("must be a finite number ≥ 0, not {}", self.beta),
            ));
        }
        match self.regularizer {
            Regularizer::None if self.beta != 1.0 => {
                return Err(Error::flag(
                    "--reg-weight",
                    "--regularizer none has no term to weight",
                ))
            }
            Regularizer::Mmd if self.batch_size < 2 => {
                return Err(Error::flag(
                    "--batch-size",
                    "the MMD regulariser compares a batch of codes with as many N(0, I) draws and needs a batch of at least 2",
                ))
            }
            Regularizer::Mmd if self.mmd_kernel.is_none() => {
                return Err(Error::flag("--mmd-kernel", "the MMD regulariser needs its kernel"))
            }
            Regularizer::Kl | Regularizer::None if self.mmd_kernel.is_some() => {
                return Err(Error::flag(
                    "--mmd-kernel",
                    format!("applies only to --regularizer mmd, not {}", crate::text::value_name(&self.regularizer)),
                ))
            }
            _ => {}
        }
        let Some(g) = &self.geco else { return Ok(()) };
        match self.likelihood {
            Likelihood::GaussianLearned => {}
            Likelihood::GaussianFixed { .. } => {
                return Err(Error::flag(
                    "--gamma",
                    "GECO sets the reconstruction weight itself: its λ plays 1/(2γ²), so a fixed γ has no place",
                ))
            }
            Likelihood::Bernoulli | Likelihood::Categorical => {
                return Err(Error::flag(
                    "--likelihood",
                    format!(
                        "GECO constrains the squared error ‖x − μ_x‖², which is the Gaussian likelihood's term (λ plays 1/(2γ²)); a {} decoder has no such term to constrain, so GECO needs --likelihood gaussian",
                        if self.likelihood == Likelihood::Bernoulli { "Bernoulli" } else { "categorical" }
                    ),
                ))
            }
        }
        if self.regularizer == Regularizer::None {
            return Err(Error::flag(
                "--regularizer",
                "GECO minimises the regulariser subject to the reconstruction constraint; with none there is nothing to minimise",
            ));
        }
        if !(g.rmse.is_finite() && g.rmse > 0.0) {
            return Err(Error::flag(
                "--geco-rmse",
                format!(
                    "the tolerance must be a positive RMSE per pixel value, not {}",
                    g.rmse
                ),
            ));
        }
        if g.rmse >= 1.0 {
            return Err(Error::flag(
                "--geco-rmse",
                format!(
                    "{} is out of reach in pixel units: pixels lie in [0, 1], so every reconstruction's RMSE is below 1 and the constraint would never bind; give a tolerance below 1 (0.1 is a blurry reconstruction, 0.05 a sharp one)",
                    g.rmse
                ),
            ));
        }
        if !(0.0..1.0).contains(&g.alpha) {
            return Err(Error::flag(
                "--geco-alpha",
                format!(
                    "the moving-average factor must be in [0, 1), not {}",
                    g.alpha
                ),
            ));
        }
        if !(g.lr.is_finite() && g.lr > 0.0) {
            return Err(Error::flag(
                "--geco-lr",
                format!("must be a positive finite number, not {}", g.lr),
            ));
        }
        positive("--geco-every", g.every)?;
        let [lo, hi] = g.clamp;
        if !(lo > 0.0 && lo <= 1.0 && hi >= 1.0 && hi.is_finite()) {
            return Err(Error::flag(
                "--geco-clamp",
                format!("needs 0 < LO ≤ 1 ≤ HI < ∞ (λ's factor per update), not {lo},{hi}"),
            ));
        }
        Ok(())
    }

    /// Checks every value on its own; dataset-dependent checks happen when the data is loaded.
    pub fn validate(&self) -> Result<()> {
        positive("--batch-size", self.batch_size)?;
        positive("--latent-dim", self.latent_dim)?;
        positive("--log-every", self.log_every)?;
        positive("--checkpoint-every", self.checkpoint_every)?;
        positive("--keep-checkpoints", self.keep_checkpoints)?;
        positive("--mi-images", self.mi_images)?;
        for (flag, v) in [
            ("--mi-every", self.mi_every),
            ("--sequence-steps", self.sequence_steps),
            ("--sample-every", self.sample_every),
            ("--limit", self.limit),
            ("--image-size", self.image_size),
        ] {
            if let Some(n) = v {
                positive(flag, n)?;
            }
        }
        self.stage1.validate("")?;
        self.validate_objective()?;
        if let Likelihood::GaussianFixed { gamma } = self.likelihood {
            if !(gamma.is_finite() && gamma > 0.0) {
                return Err(Error::flag(
                    "--gamma",
                    format!("must be a positive finite number, not {gamma}"),
                ));
            }
        }
        if !(self.checkpoint_minutes.is_finite() && self.checkpoint_minutes > 0.0) {
            return Err(Error::flag(
                "--checkpoint-minutes",
                format!("must be a positive number, not {}", self.checkpoint_minutes),
            ));
        }
        if !self.checkpoint_every.is_multiple_of(self.log_every) {
            return Err(Error::flag(
                "--checkpoint-every",
                format!(
                    "{} is not a multiple of --log-every {} (checkpoints are written after the metrics are read, so a diverged step is never saved)",
                    self.checkpoint_every, self.log_every
                ),
            ));
        }
        if let Some(n) = self.mi_every {
            if !n.is_multiple_of(self.log_every) {
                return Err(Error::flag(
                    "--mi-every",
                    format!(
                        "{n} is not a multiple of --log-every {} (Î(x; z) goes into the logged rows)",
                        self.log_every
                    ),
                ));
            }
        }
        if let Some(n) = self.sample_every {
            if !n.is_multiple_of(self.log_every) {
                return Err(Error::flag(
                    "--sample-every",
                    format!(
                        "{n} is not a multiple of --log-every {} (grids are drawn when the metrics are logged)",
                        self.log_every
                    ),
                ));
            }
        }
        match (&self.model, &self.stage2) {
            (ModelKind::TwoStage, Some(s2)) => {
                positive("--stage2-hidden", s2.hidden)?;
                positive("--stage2-layers", s2.layers)?;
                s2.schedule.validate("stage2")
            }
            (ModelKind::TwoStage, None) => Err(Error::flag(
                "--model",
                "a two-stage run needs its stage-2 settings",
            )),
            (ModelKind::Vae, Some(_)) => Err(Error::flag(
                "--model",
                "stage-2 settings given to a single-stage run (use --model two-stage)",
            )),
            (ModelKind::Vae, None) => Ok(()),
        }
    }

    fn schedule(&self, stage: u32, s: &StageConfig, per_epoch: usize, stream: u32) -> Schedule {
        Schedule {
            stage,
            lr: s.lr as f32,
            lr_halve_every: s.lr_halve_every,
            total_steps: s.total_steps(per_epoch),
            seed: self.seed,
            stream,
            log_every: self.log_every,
            checkpoint_every: self.checkpoint_every,
            checkpoint_interval: Duration::from_secs_f64(self.checkpoint_minutes * 60.0),
            keep_checkpoints: self.keep_checkpoints,
        }
    }

    pub fn stage1_schedule(&self, per_epoch: usize) -> Schedule {
        self.schedule(1, &self.stage1, per_epoch, STAGE1_STREAM)
    }

    /// None on a single-stage run.
    pub fn stage2_schedule(&self, per_epoch: usize) -> Option<Schedule> {
        let s2 = self.stage2.as_ref()?;
        Some(self.schedule(2, &s2.schedule, per_epoch, STAGE2_STREAM))
    }
}
