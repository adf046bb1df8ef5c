//! Every setting of a run, validated once, and its `config.json` form (which `--resume`
//! reads back, so a resumed run cannot silently differ from the original).

use crate::data::{Crop, DataSpec, Split};
use crate::error::{Error, Result};
use crate::models::{Likelihood, NetKind, Objective};
use serde_json::{json, Value};

/// How long to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    Epochs(usize),
    Steps(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub data: String,
    pub split: Split,
    pub image_size: Option<usize>,
    pub crop: Option<Crop>,
    pub limit: Option<usize>,
    pub net: NetKind,
    pub latent: usize,
    pub objective: Objective,
    pub batch: usize,
    pub lr: f32,
    /// Halve the learning rate every this many epochs (None: constant).
    pub lr_halve_every: Option<usize>,
    pub length: Length,
    pub seed: u64,
    pub log_every: usize,
    pub checkpoint_every: usize,
    pub sample_every: Option<usize>,
}

impl TrainConfig {
    pub fn data_spec(&self) -> DataSpec {
        DataSpec {
            data: self.data.clone(),
            split: self.split,
            image_size: self.image_size,
            crop: self.crop,
            limit: self.limit,
        }
    }

    /// Checks every value on its own; dataset-dependent checks happen when the data is loaded.
    pub fn validate(&self) -> Result<()> {
        let positive = |flag, v: usize| {
            if v == 0 {
                Err(Error::flag(flag, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        positive("--batch-size", self.batch)?;
        positive("--latent-dim", self.latent)?;
        positive("--log-every", self.log_every)?;
        positive("--checkpoint-every", self.checkpoint_every)?;
        match self.length {
            Length::Epochs(n) => positive("--epochs", n)?,
            Length::Steps(n) => positive("--steps", n)?,
        }
        if let Some(n) = self.lr_halve_every {
            positive("--lr-halve-every", n)?;
        }
        if let Some(n) = self.sample_every {
            positive("--sample-every", n)?;
        }
        if let Some(n) = self.limit {
            positive("--limit", n)?;
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::flag(
                "--lr",
                format!("must be a positive finite number, not {}", self.lr),
            ));
        }
        if !(self.objective.beta.is_finite() && self.objective.beta >= 0.0) {
            return Err(Error::flag(
                "--beta",
                format!("must be a finite number ≥ 0, not {}", self.objective.beta),
            ));
        }
        if let Likelihood::GaussianFixed { gamma } = self.objective.likelihood {
            if !(gamma.is_finite() && gamma > 0.0) {
                return Err(Error::flag(
                    "--gamma",
                    format!("must be a positive finite number, not {gamma}"),
                ));
            }
        }
        if let Some(s) = self.image_size {
            positive("--image-size", s)?;
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
        Ok(())
    }

    /// Learning rate for (0-based) epoch `e`: lr·0.5^⌊e / halve_every⌋.
    pub fn lr_at(&self, epoch: usize) -> f32 {
        match self.lr_halve_every {
            Some(h) => self.lr * 0.5f32.powi((epoch / h).min(126) as i32),
            None => self.lr,
        }
    }

    pub fn to_json(&self) -> Value {
        let (likelihood, gamma) = match self.objective.likelihood {
            Likelihood::GaussianLearned => ("gaussian-learned-gamma", None),
            Likelihood::GaussianFixed { gamma } => ("gaussian-fixed-gamma", Some(gamma)),
            Likelihood::Bernoulli => ("bernoulli", None),
        };
        let (epochs, steps) = match self.length {
            Length::Epochs(n) => (Some(n), None),
            Length::Steps(n) => (None, Some(n)),
        };
        json!({
            "data": self.data,
            "split": self.split.name(),
            "image_size": self.image_size,
            "crop": self.crop.map(|c| format!("{},{},{}", c.top, c.left, c.size)),
            "limit": self.limit,
            "net": self.net.name(),
            "latent_dim": self.latent,
            "likelihood": likelihood,
            "gamma": gamma,
            "beta": self.objective.beta,
            "batch_size": self.batch,
            "lr": self.lr,
            "lr_halve_every": self.lr_halve_every,
            "epochs": epochs,
            "steps": steps,
            "seed": self.seed,
            "log_every": self.log_every,
            "checkpoint_every": self.checkpoint_every,
            "sample_every": self.sample_every,
        })
    }

    /// Reads the settings back from config.json's "train" object.
    pub fn from_json(v: &Value, file: &str) -> Result<TrainConfig> {
        let bad = |k: &str| Error::data(file, format!("setting '{k}' is missing or malformed"));
        let u = |k: &str| v[k].as_u64().map(|n| n as usize).ok_or_else(|| bad(k));
        let opt_u = |k: &str| -> Result<Option<usize>> {
            match &v[k] {
                Value::Null => Ok(None),
                x => x.as_u64().map(|n| Some(n as usize)).ok_or_else(|| bad(k)),
            }
        };
        let f = |k: &str| v[k].as_f64().map(|n| n as f32).ok_or_else(|| bad(k));
        let s = |k: &str| v[k].as_str().ok_or_else(|| bad(k));
        let likelihood = match s("likelihood")? {
            "gaussian-learned-gamma" => Likelihood::GaussianLearned,
            "gaussian-fixed-gamma" => Likelihood::GaussianFixed { gamma: f("gamma")? },
            "bernoulli" => Likelihood::Bernoulli,
            _ => return Err(bad("likelihood")),
        };
        let length = match (opt_u("epochs")?, opt_u("steps")?) {
            (Some(e), None) => Length::Epochs(e),
            (None, Some(s)) => Length::Steps(s),
            _ => return Err(bad("epochs/steps")),
        };
        let cfg = TrainConfig {
            data: s("data")?.to_string(),
            split: Split::parse(s("split")?).map_err(|_| bad("split"))?,
            image_size: opt_u("image_size")?,
            crop: match &v["crop"] {
                Value::Null => None,
                c => Some(
                    Crop::parse(c.as_str().ok_or_else(|| bad("crop"))?).map_err(|_| bad("crop"))?,
                ),
            },
            limit: opt_u("limit")?,
            net: NetKind::parse(s("net")?).map_err(|_| bad("net"))?,
            latent: u("latent_dim")?,
            objective: Objective {
                likelihood,
                beta: f("beta")?,
            },
            batch: u("batch_size")?,
            lr: f("lr")?,
            lr_halve_every: opt_u("lr_halve_every")?,
            length,
            seed: v["seed"].as_u64().ok_or_else(|| bad("seed"))?,
            log_every: u("log_every")?,
            checkpoint_every: u("checkpoint_every")?,
            sample_every: opt_u("sample_every")?,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}
