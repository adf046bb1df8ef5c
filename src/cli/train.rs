//! `vae-gpu train`, `vae-gpu sample`, `vae-gpu reconstruct`.

use super::objective::ObjectiveArgs;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use vae_gpu::data::{shapes, Crop, Split};
use vae_gpu::models::generate::{self, Draw};
use vae_gpu::models::NetKind;
use vae_gpu::pipelines::config::{self, Length, ModelKind, RunConfig, Stage2Config, StageConfig};
use vae_gpu::pipelines::defaults::{self, Defaults};
use vae_gpu::pipelines::{self, two_stage, Run};
use vae_gpu::run_dir;
use vae_gpu::text::value_name;
use vae_gpu::{Error, Gpu, Result, Selection};

/// Every flag is optional so that the ones a user gave can be told from defaults: `--resume`
/// refuses any given flag that would change the run (all but the lengths), read off this
/// struct's serialised form, so a new flag is covered without a list to update.
#[derive(Args, Default, Serialize)]
pub struct TrainArgs {
    /// shapes (built in), fashion-mnist, mnist, cifar10, or a folder of IDX files, CIFAR-10
    /// batches or PNG/JPEG images, or an IDX image file [default: shapes]
    #[arg(long)]
    data: Option<String>,
    /// Which split of the dataset [default: train]
    #[arg(long, value_enum)]
    split: Option<Split>,
    /// Side of shapes and of images cut from a folder (shapes 32, folders 64)
    #[arg(long, allow_negative_numbers = true)]
    image_size: Option<usize>,
    /// Crop of folder images before resizing, TOP,LEFT,SIZE (CelebA: 45,25,128) [default:
    /// the largest centred square]
    #[arg(long)]
    crop: Option<String>,
    /// Use only the first N images
    #[arg(long, allow_negative_numbers = true)]
    limit: Option<usize>,
    /// two-stage (Dai & Wipf: a second VAE on the first's latents) or vae [default: two-stage]
    #[arg(long, value_enum)]
    model: Option<ModelKind>,
    /// The stage-1 network [default: mlp on shapes, infogan otherwise]
    #[arg(long, value_enum)]
    net: Option<NetKind>,
    /// Latent size κ [default: 64]
    #[arg(long, allow_negative_numbers = true)]
    latent_dim: Option<usize>,
    #[command(flatten)]
    #[serde(flatten)]
    objective: ObjectiveArgs,
    /// [default: 64]
    #[arg(long, allow_negative_numbers = true)]
    batch_size: Option<usize>,
    /// Adam learning rate of stage 1 [default: 1e-4; shapes: 3e-3]
    #[arg(long, allow_hyphen_values = true)]
    lr: Option<f64>,
    /// Halve stage 1's learning rate every N epochs [default: 150]
    #[arg(long, allow_negative_numbers = true)]
    lr_halve_every: Option<usize>,
    /// Train stage 1 for N epochs (N·⌊images / batch⌋ steps) [default: 400; shapes: 600 steps]
    #[arg(long, conflicts_with = "steps", allow_negative_numbers = true)]
    epochs: Option<usize>,
    /// Train stage 1 for N steps in all
    #[arg(long, allow_negative_numbers = true)]
    steps: Option<usize>,
    /// Train stage 2 for N epochs over the encoded training set [default: 800; shapes: 400
    /// steps]
    #[arg(long, conflicts_with = "stage2_steps", allow_negative_numbers = true)]
    stage2_epochs: Option<usize>,
    /// Train stage 2 for N steps in all
    #[arg(long, allow_negative_numbers = true)]
    stage2_steps: Option<usize>,
    /// Stage 2's Adam learning rate [default: as stage 1's]
    #[arg(long, allow_hyphen_values = true)]
    stage2_lr: Option<f64>,
    /// Halve stage 2's learning rate every N epochs [default: 300]
    #[arg(long, allow_negative_numbers = true)]
    stage2_lr_halve_every: Option<usize>,
    /// Width of stage 2's hidden layers [default: 1024; shapes: 256]
    #[arg(long, allow_negative_numbers = true)]
    stage2_hidden: Option<usize>,
    /// With --resume: 2 adds stage 2 to a finished single-stage run (the --stage2-* flags
    /// then set it up)
    #[arg(long, requires = "resume", value_parser = clap::value_parser!(u32).range(2..=2))]
    stage: Option<u32>,
    /// Seeds the initialisation, the shuffles and ε [default: 1]
    #[arg(long)]
    seed: Option<u64>,
    /// Read the metrics back and log them every N steps [default: 50]
    #[arg(long, allow_negative_numbers = true)]
    log_every: Option<usize>,
    /// Checkpoint every N steps, a multiple of --log-every [default: 20 × --log-every]
    #[arg(long, allow_negative_numbers = true)]
    checkpoint_every: Option<usize>,
    /// Also checkpoint at the first log once this many minutes have passed since the last
    /// checkpoint [default: 5]
    #[arg(long, allow_hyphen_values = true)]
    checkpoint_minutes: Option<f64>,
    /// Also write samples.png and reconstructions.png every N steps of stage 1
    #[arg(long, allow_negative_numbers = true)]
    sample_every: Option<usize>,
    /// Run directory [default: runs/DATA-NET-DATE-TIME]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory exactly where its checkpoints left off (only the
    /// lengths, --steps/--epochs and --stage2-steps/--stage2-epochs, may be given)
    #[arg(long, conflicts_with_all = ["out", "force"])]
    resume: Option<PathBuf>,
    /// Replace the run already in --out
    #[arg(long)]
    force: bool,
}

/// `vae-gpu train` FLAGS parsed from words (a recipe's runs are written as train flags).
pub fn parse_flags(words: &[String]) -> Result<TrainArgs> {
    #[derive(clap::Parser)]
    struct Words {
        #[command(flatten)]
        args: TrainArgs,
    }
    use clap::Parser;
    Words::try_parse_from(std::iter::once("train".to_string()).chain(words.iter().cloned()))
        .map(|w| w.args)
        .map_err(|e| {
            Error::flag(
                "train flags",
                format!("{} in: {}", e.kind(), words.join(" ")),
            )
        })
}

/// Flags that may be given with --resume: the lengths, and (with --stage 2) stage 2's setup.
const RESUMABLE: [&str; 5] = ["resume", "steps", "epochs", "stage2_steps", "stage2_epochs"];
const ADDS_STAGE2: [&str; 4] = [
    "stage",
    "stage2_lr",
    "stage2_lr_halve_every",
    "stage2_hidden",
];

fn flag_name(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

impl TrainArgs {
    /// The given flags (as --kebab-case) outside `allowed`.
    fn given_except(&self, allowed: &[&str]) -> Vec<String> {
        let v = serde_json::to_value(self).expect("flags serialise");
        v.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null() && **v != serde_json::Value::Bool(false))
            .filter(|(k, _)| !allowed.contains(&k.as_str()))
            .map(|(k, _)| flag_name(k))
            .collect()
    }

    fn length(&self) -> Option<Length> {
        self.epochs
            .map(Length::Epochs)
            .or(self.steps.map(Length::Steps))
    }

    fn stage2_length(&self) -> Option<Length> {
        self.stage2_epochs
            .map(Length::Epochs)
            .or(self.stage2_steps.map(Length::Steps))
    }

    /// Stage 2's settings from the flags and the data's defaults.
    fn stage2(&self, d: &Defaults, stage1_lr: f64) -> Stage2Config {
        Stage2Config {
            hidden: self.stage2_hidden.unwrap_or(d.stage2_hidden),
            layers: vae_gpu::models::stage2::LAYERS,
            schedule: StageConfig {
                lr: self.stage2_lr.unwrap_or(stage1_lr),
                lr_halve_every: Some(
                    self.stage2_lr_halve_every
                        .unwrap_or(d.stage2_lr_halve_every),
                ),
                length: self.stage2_length().unwrap_or(d.stage2_length),
            },
        }
    }

    /// The run's settings from the flags and the defaults.
    pub fn config(&self) -> Result<RunConfig> {
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
        let lr = self.lr.unwrap_or(d.lr);
        Ok(RunConfig {
            split: self.split.unwrap_or(Split::Train),
            image_size: self.image_size,
            crop: self.crop.as_deref().map(Crop::parse).transpose()?,
            limit: self.limit,
            model,
            net: self.net.unwrap_or(d.net),
            latent_dim: self.latent_dim.unwrap_or(defaults::LATENT_DIM),
            likelihood: o.likelihood,
            regularizer: o.regularizer,
            mmd_kernel: o.mmd_kernel,
            beta: o.beta,
            geco: o.geco,
            batch_size: self.batch_size.unwrap_or(defaults::BATCH_SIZE),
            seed: self.seed.unwrap_or(defaults::SEED),
            log_every,
            checkpoint_every: self
                .checkpoint_every
                .unwrap_or(defaults::CHECKPOINT_LOGS * log_every),
            checkpoint_minutes: self
                .checkpoint_minutes
                .unwrap_or_else(config::default_checkpoint_minutes),
            sample_every: self.sample_every,
            stage1: StageConfig {
                lr,
                lr_halve_every: Some(self.lr_halve_every.unwrap_or(d.lr_halve_every)),
                length: self.length().unwrap_or(d.length),
            },
            stage2: (model == ModelKind::TwoStage).then(|| self.stage2(&d, lr)),
            data,
        })
    }

    /// The settings of a run being resumed from `dir`, with the lengths (and, with --stage 2,
    /// stage 2's setup) the flags give; any other flag is refused.
    fn resumed_config(&self, dir: &Path) -> Result<RunConfig> {
        let cfg_file = dir.join(run_dir::CONFIG);
        let mut cfg = pipelines::config_file::read(dir)?.train;
        let adding = self.stage == Some(2);
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

/// runs/DATA-NET-YYYYMMDD-HHMMSS (UTC).
fn default_out(cfg: &RunConfig) -> PathBuf {
    let t = time::OffsetDateTime::now_utc();
    let name = Path::new(&cfg.data)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    PathBuf::from("runs").join(format!(
        "{name}-{}-{:04}{:02}{:02}-{:02}{:02}{:02}",
        value_name(&cfg.net),
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

pub fn run(sel: &Selection, args: TrainArgs) -> Result<i32> {
    train_in(
        &mut || Gpu::new(sel),
        args,
        super::interrupt::flag(),
        &mut |_| {},
    )
}

/// `vae-gpu train` with these flags: the adapter from `gpu` (asked for only once the flags
/// are checked), stopping cleanly at the next step once `stop` is set, calling
/// `starting(stage)` as each stage begins. Returns the exit code (130 when interrupted).
pub fn train_in(
    gpu: &mut dyn FnMut() -> Result<Arc<Gpu>>,
    args: TrainArgs,
    stop: &AtomicBool,
    starting: &mut dyn FnMut(u32),
) -> Result<i32> {
    let (cfg, dir, resume) = match &args.resume {
        Some(dir) => {
            if !dir.join(run_dir::CHECKPOINT).is_file() {
                return Err(Error::flag(
                    "--resume",
                    format!("{} has no {}", dir.display(), run_dir::CHECKPOINT),
                ));
            }
            (args.resumed_config(dir)?, dir.clone(), true)
        }
        None => {
            let cfg = args.config()?;
            cfg.validate()?;
            let dir = args.out.clone().unwrap_or_else(|| default_out(&cfg));
            (cfg, dir, false)
        }
    };
    let gpu = gpu()?;
    // Everything that can be checked is checked before the run directory is touched.
    let run = Run::new(&gpu, cfg)?;
    if !resume {
        run_dir::prepare_new(&dir, args.force)?;
    } else if args.stage == Some(2) {
        let s1 = pipelines::checkpoint_steps(&dir.join(run_dir::CHECKPOINT))?.unwrap_or(0);
        if s1 < run.stage1_steps() {
            return Err(Error::flag(
                "--stage",
                format!(
                    "stage 1 of {} is unfinished ({s1} of {} steps): finish it with --resume {0} first",
                    dir.display(),
                    run.stage1_steps()
                ),
            ));
        }
    }
    if resume {
        pipelines::check_resumable(&run, &dir)?;
        // The lengths asked for (and a stage 2 added) become the run's settings.
        run.write_config(&gpu, &dir)?;
    }
    let stages = match run.stage2_steps() {
        Some(s2) => format!("{} + {s2} steps (stages 1 + 2)", run.stage1_steps()),
        None => format!("{} steps", run.stage1_steps()),
    };
    eprintln!(
        "vae-gpu train: {} ({} images {}×{}×{}), {} net, {} parameters{}, {stages}, on {} ({:?}); run directory {}",
        run.data.source,
        run.data.len(),
        run.data.channels,
        run.data.side,
        run.data.side,
        value_name(&run.cfg.net),
        run.stage1.store.count(),
        run.stage2
            .as_ref()
            .map_or(String::new(), |s| format!(" + {} in stage 2", s.store.count())),
        gpu.info.name,
        gpu.info.backend,
        dir.display()
    );
    let done = pipelines::train(&gpu, &run, &dir, resume, stop, starting)?;
    let last = done.stage2.as_ref().unwrap_or(&done.stage1);
    if let Some(row) = &last.last {
        let row = serde_json::to_string(row).expect("a row serialises");
        eprintln!("last metrics: {row}");
    }
    if done.interrupted() {
        eprintln!(
            "stopped at step {} of stage {}; continue with: vae-gpu train --resume {}",
            last.steps,
            if done.stage2.is_some() { 2 } else { 1 },
            dir.display()
        );
        return Ok(130);
    }
    let written: Vec<String> = run_dir::ALL
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    eprintln!("done; wrote {}", written.join(", "));
    if run.data.source == "shapes" {
        eprintln!(
            "(shapes lie on a {}-dimensional manifold; `vae-gpu eval {}` counts the active latent dimensions)",
            shapes::MANIFOLD_DIM,
            dir.display()
        );
    }
    Ok(0)
}

#[derive(Args)]
pub struct SampleArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Number of images
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    n: u64,
    /// x ~ p(x | z) (μ_x + γ·ε, or Bernoulli draws) instead of x = μ_x(z)
    #[arg(long)]
    ancestral: bool,
    /// x = μ_x(z) + α·σ_x: every pixel at the same quantile of its distribution (σ_x = γ for
    /// Gaussian decoders, GECO's 1/√(2λ), √(μ(1 − μ)) for Bernoulli), clamped to [0, 1]
    #[arg(long, conflicts_with = "ancestral", allow_hyphen_values = true)]
    alpha: Option<f32>,
    /// Seeds z (and the pixel noise)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// 2: two-stage samples u ~ N(0, I) → z = ẑ(u) + γ_z·ε → x; 1: z ~ N(0, I) straight into
    /// stage 1's decoder [default: 2 on a two-stage run, else 1]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    stage: Option<u32>,
    /// Output PNG [default: RUN/sample-MODE.png, MODE deterministic, ancestral or alphaA]
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn sample(sel: &Selection, a: SampleArgs) -> Result<i32> {
    pipelines::config_file::read(&a.run)?;
    if let Some(out) = &a.out {
        super::out::prepare(out, "png")?;
    }
    let gpu = Gpu::new(sel)?;
    let (run, steps1, steps2) = pipelines::open(&gpu, &a.run, None)?;
    let stage = match (a.stage, steps2) {
        (Some(2), None) => {
            return Err(Error::flag(
                "--stage",
                format!(
                    "{} has no trained stage 2 (train one with vae-gpu train --resume {0}{})",
                    a.run.display(),
                    if run.stage2.is_none() {
                        " --stage 2"
                    } else {
                        ""
                    }
                ),
            ))
        }
        (Some(s), _) => s,
        (None, Some(_)) => 2,
        (None, None) => 1,
    };
    let n = a.n as usize;
    let how = match (a.ancestral, a.alpha) {
        (_, Some(alpha)) if !alpha.is_finite() => {
            return Err(Error::flag(
                "--alpha",
                format!("must be a finite number, not {alpha}"),
            ))
        }
        (_, Some(alpha)) => Draw::Shifted(alpha),
        (true, None) => Draw::Ancestral,
        (false, None) => Draw::Mean,
    };
    let x = if stage == 2 {
        two_stage::sample(&run, steps1, n, a.seed, how)?
    } else {
        let s = &run.stage1;
        s.with_debiased_bn(steps1, || {
            generate::sample(&s.vae, &s.store, n, a.seed, how)
        })?
    };
    let mode = how.name();
    let name = if stage == 2 {
        format!("sample-two-stage-{mode}.png")
    } else {
        format!("sample-{mode}.png")
    };
    let out = a.out.unwrap_or_else(|| a.run.join(name));
    vae_gpu::grid::write_png(&out, &x, run.data.channels, run.data.side, 8)?;
    eprintln!(
        "wrote {} ({n} {mode} {} samples)",
        out.display(),
        if stage == 2 { "two-stage" } else { "stage-1" }
    );
    Ok(0)
}

#[derive(Args)]
pub struct ReconstructArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Number of images (originals and reconstructions in alternating rows of 8)
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    n: u64,
    /// Which split of the run's dataset
    #[arg(long, value_enum, default_value_t = Split::Test)]
    split: Split,
    /// Output PNG [default: RUN/reconstruct-SPLIT.png]
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn reconstruct(sel: &Selection, a: ReconstructArgs) -> Result<i32> {
    let split = a.split;
    pipelines::config_file::read(&a.run)?;
    if let Some(out) = &a.out {
        super::out::prepare(out, "png")?;
    }
    let gpu = Gpu::new(sel)?;
    let (run, steps, _) = pipelines::open(&gpu, &a.run, Some(split))?;
    let s = &run.stage1;
    let n = (a.n as usize).min(run.data.len());
    let mut x = Vec::new();
    run.data.gather(&(0..n).collect::<Vec<_>>(), &mut x);
    let r = s.with_debiased_bn(steps, || generate::reconstruct(&s.vae, &s.store, &x))?;
    let tiles = vae_gpu::grid::interleave_rows(&x, &r, run.data.image_len(), 8);
    let out = a.out.unwrap_or_else(|| {
        a.run
            .join(format!("reconstruct-{}.png", value_name(&split)))
    });
    vae_gpu::grid::write_png(&out, &tiles, run.data.channels, run.data.side, 8.min(n))?;
    eprintln!(
        "wrote {} ({n} {} images and their reconstructions)",
        out.display(),
        value_name(&split)
    );
    Ok(0)
}
