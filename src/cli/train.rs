//! `vae-gpu train`, `vae-gpu sample`, `vae-gpu reconstruct`.

use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vae_gpu::data::{shapes, Crop, Split};
use vae_gpu::models::{generate, Likelihood, NetKind, Objective};
use vae_gpu::train::config::{Length, TrainConfig};
use vae_gpu::train::{self, checkpoint, files, Session};
use vae_gpu::{Error, Gpu, Result, Selection};

/// Steps of the out-of-the-box run on `shapes` (about a minute on a 2-core software Vulkan).
const SHAPES_STEPS: usize = 400;
/// Learning rate of the out-of-the-box run: 10× the reference's 1e-4, so learned γ has time to
/// fall and the latents to open up within its few hundred steps.
const SHAPES_LR: f32 = 1e-3;
/// The reference's stage-1 schedule: 400 epochs, the learning rate halved every 150.
const REFERENCE_EPOCHS: usize = 400;
const REFERENCE_HALVE_EVERY: usize = 150;

#[derive(Args, Default)]
pub struct TrainArgs {
    /// shapes (built in), fashion-mnist, mnist, cifar10, or a folder of IDX files, CIFAR-10
    /// batches or PNG/JPEG images, or an IDX image file [default: shapes]
    #[arg(long)]
    data: Option<String>,
    /// train or test [default: train]
    #[arg(long)]
    split: Option<String>,
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
    /// infogan, wae or mlp [default: mlp on shapes, infogan otherwise]
    #[arg(long)]
    net: Option<String>,
    /// Latent size κ [default: 64]
    #[arg(long, allow_negative_numbers = true)]
    latent_dim: Option<usize>,
    /// Decoder likelihood: gaussian (learned γ unless --gamma) or bernoulli [default: gaussian]
    #[arg(long)]
    likelihood: Option<String>,
    /// Fix the Gaussian decoder's γ (a standard deviation) instead of learning it
    #[arg(long, allow_hyphen_values = true)]
    gamma: Option<f32>,
    /// Weight of the KL term [default: 1]
    #[arg(long, allow_hyphen_values = true)]
    beta: Option<f32>,
    /// [default: 64]
    #[arg(long, allow_negative_numbers = true)]
    batch_size: Option<usize>,
    /// Adam learning rate [default: 1e-4; shapes: 1e-3]
    #[arg(long, allow_hyphen_values = true)]
    lr: Option<f32>,
    /// Halve the learning rate every N epochs [default: 150]
    #[arg(long, allow_negative_numbers = true)]
    lr_halve_every: Option<usize>,
    /// Train for N epochs (N·⌊images / batch⌋ steps) [default: 400; shapes: 400 steps]
    #[arg(long, conflicts_with = "steps", allow_negative_numbers = true)]
    epochs: Option<usize>,
    /// Train for N steps in all
    #[arg(long, allow_negative_numbers = true)]
    steps: Option<usize>,
    /// Seeds the initialisation, the shuffles and ε [default: 1]
    #[arg(long)]
    seed: Option<u64>,
    /// Read the metrics back and log them every N steps [default: 50]
    #[arg(long, allow_negative_numbers = true)]
    log_every: Option<usize>,
    /// Checkpoint every N steps, a multiple of --log-every [default: 20 × --log-every]
    #[arg(long, allow_negative_numbers = true)]
    checkpoint_every: Option<usize>,
    /// Also write samples.png and reconstructions.png every N steps
    #[arg(long, allow_negative_numbers = true)]
    sample_every: Option<usize>,
    /// Run directory [default: runs/DATA-NET-DATE-TIME]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory exactly where its checkpoint left off (only
    /// --steps or --epochs may be given, to train longer)
    #[arg(long, conflicts_with_all = ["out", "force"])]
    resume: Option<PathBuf>,
    /// Replace the run already in --out
    #[arg(long)]
    force: bool,
}

impl TrainArgs {
    /// The flags given that a resumed run may not change.
    fn fixed_flags_given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut check = |given: bool, name| {
            if given {
                v.push(name)
            }
        };
        check(self.data.is_some(), "--data");
        check(self.split.is_some(), "--split");
        check(self.image_size.is_some(), "--image-size");
        check(self.crop.is_some(), "--crop");
        check(self.limit.is_some(), "--limit");
        check(self.net.is_some(), "--net");
        check(self.latent_dim.is_some(), "--latent-dim");
        check(self.likelihood.is_some(), "--likelihood");
        check(self.gamma.is_some(), "--gamma");
        check(self.beta.is_some(), "--beta");
        check(self.batch_size.is_some(), "--batch-size");
        check(self.lr.is_some(), "--lr");
        check(self.lr_halve_every.is_some(), "--lr-halve-every");
        check(self.seed.is_some(), "--seed");
        check(self.log_every.is_some(), "--log-every");
        check(self.checkpoint_every.is_some(), "--checkpoint-every");
        check(self.sample_every.is_some(), "--sample-every");
        v
    }

    fn length(&self) -> Option<Length> {
        self.epochs
            .map(Length::Epochs)
            .or(self.steps.map(Length::Steps))
    }

    fn config(&self) -> Result<TrainConfig> {
        let data = self.data.clone().unwrap_or_else(|| "shapes".into());
        let is_shapes = data == "shapes";
        let likelihood = match (self.likelihood.as_deref(), self.gamma) {
            (None | Some("gaussian"), None) => Likelihood::GaussianLearned,
            (None | Some("gaussian"), Some(gamma)) => Likelihood::GaussianFixed { gamma },
            (Some("bernoulli"), None) => Likelihood::Bernoulli,
            (Some("bernoulli"), Some(_)) => {
                return Err(Error::flag(
                    "--gamma",
                    "applies only to --likelihood gaussian",
                ))
            }
            (Some(other), _) => {
                return Err(Error::flag(
                    "--likelihood",
                    format!("'{other}' is not gaussian or bernoulli"),
                ))
            }
        };
        let log_every = self.log_every.unwrap_or(50);
        Ok(TrainConfig {
            split: Split::parse(self.split.as_deref().unwrap_or("train"))?,
            image_size: self.image_size,
            crop: self.crop.as_deref().map(Crop::parse).transpose()?,
            limit: self.limit,
            net: match &self.net {
                Some(n) => NetKind::parse(n)?,
                None if is_shapes => NetKind::Mlp,
                None => NetKind::InfoGan,
            },
            latent: self.latent_dim.unwrap_or(64),
            objective: Objective {
                likelihood,
                beta: self.beta.unwrap_or(1.0),
            },
            batch: self.batch_size.unwrap_or(64),
            lr: self.lr.unwrap_or(if is_shapes { SHAPES_LR } else { 1e-4 }),
            lr_halve_every: Some(self.lr_halve_every.unwrap_or(REFERENCE_HALVE_EVERY)),
            length: self.length().unwrap_or(if is_shapes {
                Length::Steps(SHAPES_STEPS)
            } else {
                Length::Epochs(REFERENCE_EPOCHS)
            }),
            seed: self.seed.unwrap_or(1),
            log_every,
            checkpoint_every: self.checkpoint_every.unwrap_or(20 * log_every),
            sample_every: self.sample_every,
            data,
        })
    }
}

/// runs/DATA-NET-YYYYMMDD-HHMMSS (UTC).
fn default_out(cfg: &TrainConfig) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    let name = Path::new(&cfg.data)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    PathBuf::from("runs").join(format!(
        "{name}-{}-{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        cfg.net.name(),
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    ))
}

pub fn run(sel: &Selection, args: TrainArgs) -> Result<i32> {
    let (cfg, dir, resume) = match &args.resume {
        Some(dir) => {
            let given = args.fixed_flags_given();
            if !given.is_empty() {
                return Err(Error::flag(
                    given[0],
                    format!(
                        "cannot change when resuming: {} fixes it (only --steps or --epochs may be given)",
                        dir.join(files::CONFIG).display()
                    ),
                ));
            }
            if !dir.join(files::CHECKPOINT).is_file() {
                return Err(Error::flag(
                    "--resume",
                    format!("{} has no {}", dir.display(), files::CHECKPOINT),
                ));
            }
            let (mut cfg, _) = train::read_config(dir)?;
            if let Some(l) = args.length() {
                cfg.length = l;
            }
            (cfg, dir.clone(), true)
        }
        None => {
            let cfg = args.config()?;
            cfg.validate()?;
            let dir = args.out.clone().unwrap_or_else(|| default_out(&cfg));
            (cfg, dir, false)
        }
    };
    let gpu = Gpu::new(sel)?;
    // Everything that can be checked is checked before the run directory is touched.
    let session = Session::new(&gpu, cfg)?;
    if !resume {
        files::prepare_new(&dir, args.force)?;
    }
    eprintln!(
        "vae-gpu train: {} ({} images {}×{}×{}), {} net, {} parameters, {} steps, on {} ({:?}); run directory {}",
        session.data.source,
        session.data.len(),
        session.data.channels,
        session.data.side,
        session.data.side,
        session.cfg.net.name(),
        session.store.count(),
        session.total_steps(),
        gpu.info.name,
        gpu.info.backend,
        dir.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // A second Ctrl-C quits at once; the checkpoint on disk is whole either way (atomic).
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\nvae-gpu: interrupted; checkpointing after this step (Ctrl-C again to quit now)"
        );
    });
    let done = train::train(&gpu, &session, &dir, resume, &stop)?;
    if let Some(row) = &done.last {
        eprintln!("last metrics: {row}");
    }
    if done.interrupted {
        eprintln!(
            "stopped at step {}; continue with: vae-gpu train --resume {}",
            done.steps,
            dir.display()
        );
        return Ok(130);
    }
    eprintln!(
        "done: {} steps; wrote {}",
        done.steps,
        files::ALL
            .map(|f| dir.join(f).display().to_string())
            .join(", ")
    );
    if session.data.source == "shapes" {
        eprintln!(
            "(shapes lie on a {}-dimensional manifold)",
            shapes::MANIFOLD_DIM
        );
    }
    Ok(0)
}

/// Rebuilds a finished (or checkpointed) run's model from its directory.
/// (device, session, steps trained).
fn open_run(sel: &Selection, dir: &Path, split: Option<Split>) -> Result<(Arc<Gpu>, Session, u64)> {
    let (mut cfg, _) = train::read_config(dir)?;
    if let Some(s) = split {
        cfg.split = s;
    }
    // Sampling needs only the image size, but a batch must fit in what is loaded.
    cfg.batch = 1;
    let gpu = Gpu::new(sel)?;
    let session = Session::new(&gpu, cfg)?;
    let meta = checkpoint::load(&dir.join(files::CHECKPOINT), &session.store, None)?;
    Ok((gpu, session, meta.step))
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
    /// Seeds z (and the pixel noise)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG [default: RUN/sample-deterministic.png or RUN/sample-ancestral.png]
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn sample(sel: &Selection, a: SampleArgs) -> Result<i32> {
    let (_gpu, s, steps) = open_run(sel, &a.run, None)?;
    let x = s.with_debiased_bn(steps, || {
        generate::sample(&s.vae, &s.store, a.n as usize, a.seed, a.ancestral)
    })?;
    let mode = if a.ancestral {
        "ancestral"
    } else {
        "deterministic"
    };
    let out = a
        .out
        .unwrap_or_else(|| a.run.join(format!("sample-{mode}.png")));
    vae_gpu::grid::write_png(&out, &x, s.data.channels, s.data.side, 8)?;
    eprintln!("wrote {} ({} {mode} samples)", out.display(), a.n);
    Ok(0)
}

#[derive(Args)]
pub struct ReconstructArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Number of images (originals and reconstructions in alternating rows of 8)
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=4096))]
    n: u64,
    /// Which split of the run's dataset: train or test
    #[arg(long, default_value = "test")]
    split: String,
    /// Output PNG [default: RUN/reconstruct-SPLIT.png]
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn reconstruct(sel: &Selection, a: ReconstructArgs) -> Result<i32> {
    let split = Split::parse(&a.split)?;
    let (_gpu, s, steps) = open_run(sel, &a.run, Some(split))?;
    let n = (a.n as usize).min(s.data.len());
    let mut x = Vec::new();
    s.data.gather(&(0..n).collect::<Vec<_>>(), &mut x);
    let r = s.with_debiased_bn(steps, || generate::reconstruct(&s.vae, &s.store, &x))?;
    let tiles = vae_gpu::grid::interleave_rows(&x, &r, s.data.image_len(), 8);
    let out = a
        .out
        .unwrap_or_else(|| a.run.join(format!("reconstruct-{}.png", a.split)));
    vae_gpu::grid::write_png(&out, &tiles, s.data.channels, s.data.side, 8.min(n))?;
    eprintln!(
        "wrote {} ({n} {} images and their reconstructions)",
        out.display(),
        a.split
    );
    Ok(0)
}
