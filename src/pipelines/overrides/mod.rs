//! A run's settings as overrides of the defaults: every field optional, so the ones given
//! can be told from the rest. `vae-gpu train`'s flags are these (clap), recipes write them as
//! values, and `to_flags` prints them back as the equivalent `vae-gpu train` command.
//! `resolve` fills the rest from `defaults`; `resumed` applies what a resume may change.

pub mod objective;

use super::config::{Length, ModelKind, RunConfig, Stage2Config, StageConfig};
use super::config_file;
use super::defaults::{self, Defaults};
use crate::data::{Crop, Split};
use crate::error::{Error, Result};
use crate::models::{Likelihood, NetKind, PixelCnnShape};
use crate::run_dir;
use clap::Args;
use objective::ObjectiveOverrides;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Read off its serialised form (`given_except`, `to_flags`), so a new field is covered
/// without a list to update.
#[derive(Args, Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunOverrides {
    /// shapes (built in), fashion-mnist, mnist, cifar10, or a folder of IDX files, CIFAR-10
    /// batches or PNG/JPEG images, or an IDX image file [default: shapes]
    #[arg(long)]
    pub data: Option<String>,
    /// Which split of the dataset [default: train]
    #[arg(long, value_enum, ignore_case = true)]
    pub split: Option<Split>,
    /// Side of shapes and of images cut from a folder (shapes 32, folders 64)
    #[arg(long, allow_negative_numbers = true)]
    pub image_size: Option<usize>,
    /// Crop of folder images before resizing, TOP,LEFT,SIZE (CelebA: 45,25,128) [default:
    /// the largest centred square]
    #[arg(long)]
    pub crop: Option<String>,
    /// Use only the first N images
    #[arg(long, allow_negative_numbers = true)]
    pub limit: Option<usize>,
    /// two-stage (Dai & Wipf: a second VAE on the first's latents) or vae [default: two-stage]
    #[arg(long, value_enum, ignore_case = true)]
    pub model: Option<ModelKind>,
    /// The stage-1 network [default: mlp on shapes, infogan otherwise]
    #[arg(long, value_enum, ignore_case = true)]
    pub net: Option<NetKind>,
    /// Latent size κ [default: 64]
    #[arg(long, allow_negative_numbers = true)]
    pub latent_dim: Option<usize>,
    /// Gated layers of the PixelCNN decoder (--net pixelcnn) [default: 12, the reference's]
    #[arg(long, allow_negative_numbers = true)]
    pub pixelcnn_layers: Option<usize>,
    /// Channels of the PixelCNN decoder's layers [default: 32, the reference's]
    #[arg(long, allow_negative_numbers = true)]
    pub pixelcnn_width: Option<usize>,
    /// Steps T of the Sequential VAE (--net sequential), each with its own weights and a
    /// --latent-dim code [default: 8, the reference's]
    #[arg(long, allow_negative_numbers = true)]
    pub sequence_steps: Option<usize>,
    #[command(flatten)]
    #[serde(flatten)]
    pub objective: ObjectiveOverrides,
    /// [default: 64]
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// Adam learning rate of stage 1 [default: 1e-4; shapes: 3e-3]
    #[arg(long, allow_hyphen_values = true)]
    pub lr: Option<f64>,
    /// Halve stage 1's learning rate every N epochs [default: 150]
    #[arg(long, allow_negative_numbers = true)]
    pub lr_halve_every: Option<usize>,
    /// Train stage 1 for N epochs (N·⌊images / batch⌋ steps) [default: 400; shapes: 600 steps]
    #[arg(long, conflicts_with = "steps", allow_negative_numbers = true)]
    pub epochs: Option<usize>,
    /// Train stage 1 for N steps in all
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<usize>,
    /// Train stage 2 for N epochs over the encoded training set [default: 800; shapes: 400
    /// steps]
    #[arg(long, conflicts_with = "stage2_steps", allow_negative_numbers = true)]
    pub stage2_epochs: Option<usize>,
    /// Train stage 2 for N steps in all
    #[arg(long, allow_negative_numbers = true)]
    pub stage2_steps: Option<usize>,
    /// Stage 2's Adam learning rate [default: as stage 1's]
    #[arg(long, allow_hyphen_values = true)]
    pub stage2_lr: Option<f64>,
    /// Halve stage 2's learning rate every N epochs [default: 300]
    #[arg(long, allow_negative_numbers = true)]
    pub stage2_lr_halve_every: Option<usize>,
    /// Width of stage 2's hidden layers [default: 1024; shapes: 256]
    #[arg(long, allow_negative_numbers = true)]
    pub stage2_hidden: Option<usize>,
    /// Seeds the initialisation, the shuffles and ε [default: 1]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Read the metrics back and log them every N steps [default: 50]
    #[arg(long, allow_negative_numbers = true)]
    pub log_every: Option<usize>,
    /// Checkpoint every N steps, a multiple of --log-every [default: 20 × --log-every]
    #[arg(long, allow_negative_numbers = true)]
    pub checkpoint_every: Option<usize>,
    /// Also checkpoint at the first log once this many minutes have passed since the last
    /// checkpoint [default: 5]
    #[arg(long, allow_hyphen_values = true)]
    pub checkpoint_minutes: Option<f64>,
    /// Keep the last K checkpoints of each stage: the latest at its name, the others in
    /// checkpoints/ [default: 1]
    #[arg(long, allow_negative_numbers = true)]
    pub keep_checkpoints: Option<usize>,
    /// Draw samples.png and reconstructions.png every N steps of stage 1, keeping each
    /// sample grid as samples/step-N.png; 0 draws them only at the end [default: with every
    /// checkpoint, --checkpoint-every]
    #[arg(long, allow_negative_numbers = true)]
    pub sample_every: Option<usize>,
    /// Log Zhao et al.'s Î(x; z) of stage 1 every N steps (a multiple of --log-every) into
    /// metrics.jsonl as `mi` [default: never]
    #[arg(long, allow_negative_numbers = true)]
    pub mi_every: Option<usize>,
    /// Training images Î(x; z) is estimated from during training (its ceiling is log M)
    /// [default: 1000]
    #[arg(long, allow_negative_numbers = true)]
    pub mi_images: Option<usize>,
}

/// Overrides a resume may give: the lengths; and the ones that set up stage 2 when a resume
/// adds it.
const RESUMABLE: [&str; 4] = ["steps", "epochs", "stage2_steps", "stage2_epochs"];
const ADDS_STAGE2: [&str; 3] = ["stage2_lr", "stage2_lr_halve_every", "stage2_hidden"];

/// A field's flag: `stage2_lr` is `--stage2-lr`.
pub fn flag_name(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

impl RunOverrides {
    /// Overrides from `vae-gpu train` flags (as a user types them).
    pub fn parse_flags(words: &[String]) -> Result<RunOverrides> {
        #[derive(clap::Parser)]
        struct Words {
            #[command(flatten)]
            run: RunOverrides,
        }
        use clap::Parser;
        Words::try_parse_from(std::iter::once("train".to_string()).chain(words.iter().cloned()))
            .map(|w| w.run)
            .map_err(|e| {
                Error::flag(
                    "train flags",
                    format!("{} in: {}", e.kind(), words.join(" ")),
                )
            })
    }

    /// The overrides that give exactly `cfg` (a new run from an old run's config.json).
    pub fn from_config(cfg: &RunConfig) -> RunOverrides {
        let (epochs, steps) = split_length(cfg.stage1.length);
        let s2 = cfg.stage2.as_ref();
        let (stage2_epochs, stage2_steps) =
            s2.map_or((None, None), |s| split_length(s.schedule.length));
        RunOverrides {
            data: Some(cfg.data.clone()),
            split: Some(cfg.split),
            image_size: cfg.image_size,
            crop: cfg.crop.map(String::from),
            limit: cfg.limit,
            model: Some(cfg.model),
            net: Some(cfg.net),
            latent_dim: Some(cfg.latent_dim),
            pixelcnn_layers: cfg.pixelcnn.map(|p| p.layers),
            pixelcnn_width: cfg.pixelcnn.map(|p| p.width),
            sequence_steps: cfg.sequence_steps,
            objective: ObjectiveOverrides::from_settings(
                cfg.likelihood,
                cfg.regularizer,
                cfg.mmd_kernel,
                cfg.beta,
                cfg.geco,
            ),
            batch_size: Some(cfg.batch_size),
            lr: Some(cfg.stage1.lr),
            lr_halve_every: cfg.stage1.lr_halve_every,
            epochs,
            steps,
            stage2_epochs,
            stage2_steps,
            stage2_lr: s2.map(|s| s.schedule.lr),
            stage2_lr_halve_every: s2.and_then(|s| s.schedule.lr_halve_every),
            stage2_hidden: s2.map(|s| s.hidden),
            seed: Some(cfg.seed),
            log_every: Some(cfg.log_every),
            checkpoint_every: Some(cfg.checkpoint_every),
            checkpoint_minutes: Some(cfg.checkpoint_minutes),
            sample_every: Some(cfg.sample_every.unwrap_or(0)),
            mi_every: cfg.mi_every,
            mi_images: Some(cfg.mi_images),
            keep_checkpoints: Some(cfg.keep_checkpoints),
        }
    }

    /// Overrides from a file: a TOML table of settings named as the flags are (`steps = 1000`,
    /// `data = "fashion-mnist"`, `geco_rmse = 0.1`), or a run's config.json (its settings, for
    /// a new run like it). A key that is no setting is refused, naming the closest.
    pub fn from_file(path: &Path) -> Result<RunOverrides> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |what: String| Error::flag("--config", format!("{}: {what}", path.display()));
        if path.extension().is_some_and(|e| e == "json") {
            let file: config_file::ConfigFile = serde_json::from_str(&text)
                .map_err(|e| bad(format!("not a vae-gpu config.json: {e}")))?;
            file.train.validate()?;
            return Ok(RunOverrides::from_config(&file.train));
        }
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| bad(format!("not TOML: {e}")))?;
        let known = serde_json::to_value(RunOverrides::default()).expect("overrides serialise");
        let names: Vec<&str> = known
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        if let Some(k) = table.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(bad(format!(
                "'{k}' is not a setting{} (the settings are the train flags, written with _ for -)",
                crate::text::did_you_mean(k, &names)
            )));
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| bad(format!("{e}")))
    }

    /// These overrides with every one `on_top` gives replacing it (a length given there
    /// replaces this one's in either unit).
    pub fn under(&self, on_top: &RunOverrides) -> RunOverrides {
        let mut base = serde_json::to_value(self).expect("overrides serialise");
        let top = serde_json::to_value(on_top).expect("overrides serialise");
        let base_map = base.as_object_mut().expect("a struct serialises to a map");
        for (a, b) in [("epochs", "steps"), ("stage2_epochs", "stage2_steps")] {
            if !top[a].is_null() || !top[b].is_null() {
                base_map.insert(a.into(), serde_json::Value::Null);
                base_map.insert(b.into(), serde_json::Value::Null);
            }
        }
        for (k, v) in top.as_object().into_iter().flatten() {
            if !v.is_null() && *v != serde_json::Value::Bool(false) {
                base_map.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).expect("merged overrides deserialise")
    }

    /// The `vae-gpu train` flags that give these overrides, sorted by name.
    pub fn to_flags(&self) -> Vec<String> {
        let v = serde_json::to_value(self).expect("overrides serialise");
        let mut out = Vec::new();
        for (k, v) in v.as_object().into_iter().flatten() {
            match v {
                serde_json::Value::Null | serde_json::Value::Bool(false) => {}
                serde_json::Value::Bool(true) => out.push(flag_name(k)),
                serde_json::Value::String(s) => out.extend([flag_name(k), s.clone()]),
                other => out.extend([flag_name(k), other.to_string()]),
            }
        }
        out
    }

    /// The given flags (as --kebab-case) outside `allowed`.
    pub fn given_except(&self, allowed: &[&str]) -> Vec<String> {
        let v = serde_json::to_value(self).expect("flags serialise");
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null() && **v != serde_json::Value::Bool(false))
            .filter(|(k, _)| !allowed.contains(&k.as_str()))
            .map(|(k, _)| flag_name(k))
            .collect()
    }

    pub fn length(&self) -> Option<Length> {
        self.epochs
            .map(Length::Epochs)
            .or(self.steps.map(Length::Steps))
    }

    pub fn stage2_length(&self) -> Option<Length> {
        self.stage2_epochs
            .map(Length::Epochs)
            .or(self.stage2_steps.map(Length::Steps))
    }

    /// Stage 2's settings from the overrides and the data's defaults.
    fn stage2(&self, d: &Defaults, stage1_lr: f64) -> Stage2Config {
        Stage2Config {
            hidden: self.stage2_hidden.unwrap_or(d.stage2_hidden),
            layers: crate::models::stage2::LAYERS,
            schedule: StageConfig {
                lr: self.stage2_lr.unwrap_or(stage1_lr),
                lr_halve_every: Some(
                    self.stage2_lr_halve_every
                        .unwrap_or(d.stage2_lr_halve_every),
                ),
                length: self.stage2_length().unwrap_or_else(|| match self.length() {
                    Some(l) => d.stage2_for(l),
                    None => d.stage2_length,
                }),
            },
        }
    }

    /// The run's settings: these overrides, and the defaults for the rest.
    pub fn resolve(&self) -> Result<RunConfig> {
        let data = self.data.clone().unwrap_or_else(|| defaults::DATA.into());
        let d = Defaults::for_data(&data);
        let o = self.objective.settings()?;
        let model = self.model.unwrap_or(defaults::MODEL);
        if model == ModelKind::Vae {
            if let Some(f) = self
                .given_except(&[])
                .into_iter()
                .find(|f| f.starts_with("--stage2-"))
            {
                return Err(Error::flag(
                    f,
                    "sets up stage 2, which only --model two-stage has",
                ));
            }
        }
        let log_every = self.log_every.unwrap_or(defaults::LOG_EVERY);
        let checkpoint_every = self
            .checkpoint_every
            .unwrap_or(defaults::CHECKPOINT_LOGS * log_every);
        let lr = self.lr.unwrap_or(d.lr);
        let net = self.net.unwrap_or(d.net);
        // The PixelCNN decoder's own default: a categorical over each pixel's 256 values.
        let likelihood = match (net, self.objective.likelihood, self.objective.gamma) {
            (NetKind::PixelCnn, None, None) => Likelihood::Categorical,
            (NetKind::PixelCnn, None, Some(_)) => {
                return Err(Error::flag(
                    "--gamma",
                    "is the Gaussian likelihood's, which the PixelCNN decoder cannot take (its pixels are categorical)",
                ))
            }
            _ => o.likelihood,
        };
        let pixelcnn = match (net, self.pixelcnn_layers, self.pixelcnn_width) {
            (NetKind::PixelCnn, layers, width) => {
                let d = PixelCnnShape::default();
                Some(PixelCnnShape {
                    layers: layers.unwrap_or(d.layers),
                    width: width.unwrap_or(d.width),
                })
            }
            (_, Some(_), _) | (_, _, Some(_)) => {
                return Err(Error::flag(
                    if self.pixelcnn_layers.is_some() {
                        "--pixelcnn-layers"
                    } else {
                        "--pixelcnn-width"
                    },
                    "shapes the PixelCNN decoder, which only --net pixelcnn has",
                ))
            }
            _ => None,
        };
        let sequence_steps = match (net, self.sequence_steps) {
            (NetKind::Sequential, t) => Some(t.unwrap_or(crate::models::sequential::DEFAULT_STEPS)),
            (_, Some(_)) => {
                return Err(Error::flag(
                    "--sequence-steps",
                    "sets the Sequential VAE's steps, which only --net sequential has",
                ))
            }
            _ => None,
        };
        Ok(RunConfig {
            split: self.split.unwrap_or(Split::Train),
            image_size: self.image_size,
            crop: self.crop.as_deref().map(Crop::parse).transpose()?,
            limit: self.limit,
            model,
            net,
            pixelcnn,
            sequence_steps,
            latent_dim: self.latent_dim.unwrap_or(defaults::LATENT_DIM),
            likelihood,
            regularizer: o.regularizer,
            mmd_kernel: o.mmd_kernel,
            beta: o.beta,
            geco: o.geco,
            batch_size: self.batch_size.unwrap_or(defaults::BATCH_SIZE),
            seed: self.seed.unwrap_or(defaults::SEED),
            log_every,
            checkpoint_every,
            checkpoint_minutes: self
                .checkpoint_minutes
                .unwrap_or_else(super::config::default_checkpoint_minutes),
            // A grid with every checkpoint unless asked otherwise; 0 draws none along the way.
            keep_checkpoints: self.keep_checkpoints.unwrap_or(1),
            // An autoregressive decoder draws a grid pixel by pixel (a forward pass each):
            // only at the end unless asked.
            mi_every: self.mi_every,
            mi_images: self
                .mi_images
                .unwrap_or_else(super::config::default_mi_images),
            sample_every: match self.sample_every {
                Some(0) => None,
                Some(n) => Some(n),
                None if net == NetKind::PixelCnn => None,
                None => Some(checkpoint_every),
            },
            stage1: StageConfig {
                lr,
                lr_halve_every: Some(self.lr_halve_every.unwrap_or(d.lr_halve_every)),
                length: self.length().unwrap_or(d.length),
            },
            stage2: (model == ModelKind::TwoStage).then(|| self.stage2(&d, lr)),
            data,
        })
    }

    /// The settings of the run in `dir` resumed with these overrides: the lengths, and (when
    /// `adding_stage2`, on a single-stage run) stage 2's setup; any other override is refused.
    pub fn resumed(&self, dir: &Path, adding_stage2: bool) -> Result<RunConfig> {
        let cfg_file = dir.join(run_dir::CONFIG);
        let mut cfg = config_file::read(dir)?.train;
        let adding = adding_stage2;
        let mut allowed = RESUMABLE.to_vec();
        if adding {
            allowed.extend(ADDS_STAGE2);
        }
        if let Some(f) = self.given_except(&allowed).into_iter().next() {
            let why = if ADDS_STAGE2.iter().any(|a| f == flag_name(a)) {
                "sets up stage 2, which --resume does only with --stage 2 on a single-stage run"
                    .to_string()
            } else {
                format!(
                    "cannot change when resuming: {} fixes it (only the lengths --steps, --epochs, --stage2-steps, --stage2-epochs may be given)",
                    cfg_file.display()
                )
            };
            return Err(Error::flag(f, why));
        }
        if adding {
            if cfg.model == ModelKind::TwoStage {
                return Err(Error::flag(
                    "--stage",
                    format!("{} is a two-stage run already", dir.display()),
                ));
            }
            if self.length().is_some() {
                return Err(Error::flag(
                    "--steps",
                    "stage 1 of a run getting its stage 2 is finished; give --stage2-steps or --stage2-epochs",
                ));
            }
            let lr = cfg.stage1.lr;
            cfg.model = ModelKind::TwoStage;
            cfg.stage2 = Some(self.stage2(&Defaults::for_data(&cfg.data), lr));
        } else if let Some(l) = self.stage2_length() {
            match cfg.stage2.as_mut() {
                Some(s2) => s2.schedule.length = l,
                None => {
                    return Err(Error::flag(
                        "--stage2-steps",
                        format!(
                            "{} has no stage 2 (add one with --stage 2 --resume {0})",
                            dir.display()
                        ),
                    ))
                }
            }
        }
        if let Some(l) = self.length() {
            cfg.stage1.length = l;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// (epochs, steps) of a length, one of them given.
fn split_length(l: Length) -> (Option<usize>, Option<usize>) {
    match l {
        Length::Epochs(e) => (Some(e), None),
        Length::Steps(s) => (None, Some(s)),
    }
}
