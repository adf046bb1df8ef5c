//! The papers' procedures, composed from data, models and the training loop: a run is a
//! stage-1 VAE on images and, for Dai & Wipf's two-stage VAE, a stage-2 VAE on its latents
//! (`two_stage`). One run directory holds both stages (see `run_dir`).

pub mod classifier;
pub mod config;
pub mod config_file;
pub mod defaults;
pub mod export;
pub mod latents;
pub mod overrides;
pub mod status;
pub mod two_stage;

use crate::data::{self, shapes, Dataset};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::models::{self, generate, Vae, VaeModel};
use crate::nn::{with_debiased_bn, ParamStore, ParamsBuilder};
use crate::run_dir;
use crate::train::source::ImageBatches;
use crate::train::{self, checkpoint, Finished, Hooks};
use config::RunConfig;
use config_file::{AdapterRecord, ConfigFile, DatasetRecord};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A trained (or training) VAE: its objective and network, and its parameters.
pub struct Stage {
    pub vae: Vae,
    pub store: ParamStore,
}

impl Stage {
    pub fn model(&self) -> VaeModel<'_> {
        VaeModel {
            vae: &self.vae,
            store: &self.store,
        }
    }

    /// Runs `f` with this stage's batch-norm averages debiased for `steps` updates.
    pub fn with_debiased_bn<T>(&self, steps: u64, f: impl FnOnce() -> Result<T>) -> Result<T> {
        with_debiased_bn(&self.store, self.vae.net.batch_norm_momentum(), steps, f)
    }
}

/// A run's settings, data and models.
pub struct Run {
    pub cfg: RunConfig,
    pub data: Dataset,
    pub stage1: Stage,
    /// Present on two-stage runs.
    pub stage2: Option<Stage>,
}

impl Run {
    /// Loads the data and builds the models (initialised from the seed).
    pub fn new(gpu: &Arc<Gpu>, cfg: RunConfig) -> Result<Run> {
        cfg.validate()?;
        let mut data = data::load(&cfg.data_spec())?;
        // A Bernoulli PixelCNN models binarised images: the encoder, the decoder's inputs and
        // its targets all see the same 0/1 pixels.
        if cfg.net == models::NetKind::PixelCnn && cfg.likelihood == models::Likelihood::Bernoulli {
            data.binarize();
        }
        if data.len() < cfg.batch_size {
            return Err(Error::flag(
                "--batch-size",
                format!(
                    "{} is more than the {} images of {}",
                    cfg.batch_size,
                    data.len(),
                    data.source
                ),
            ));
        }
        if let Some(steps) = cfg.sequence_steps {
            let limits = gpu.device.limits();
            models::sequential::check_fits(
                limits
                    .max_storage_buffer_binding_size
                    .min(limits.max_buffer_size),
                (data.channels, data.side, cfg.latent_dim),
                steps,
            )?;
        }
        let mut b = ParamsBuilder::new(cfg.seed);
        let net = models::build(
            &mut b,
            cfg.net,
            data.channels,
            data.side,
            cfg.latent_dim,
            cfg.likelihood,
            cfg.net_options(),
        )?;
        let vae = Vae::new(&mut b, net, cfg.objective());
        let stage1 = Stage {
            vae,
            store: b.build(gpu)?,
        };
        let stage2 = match &cfg.stage2 {
            Some(s2) => Some(two_stage::build(gpu, &cfg, s2)?),
            None => None,
        };
        Ok(Run {
            cfg,
            data,
            stage1,
            stage2,
        })
    }

    pub fn per_epoch(&self) -> usize {
        self.data.len() / self.cfg.batch_size
    }

    pub fn stage1_steps(&self) -> u64 {
        self.cfg.stage1.total_steps(self.per_epoch())
    }

    pub fn stage2_steps(&self) -> Option<u64> {
        Some(
            self.cfg
                .stage2
                .as_ref()?
                .schedule
                .total_steps(self.per_epoch()),
        )
    }

    /// samples.png (64 draws of μ_x(z), z ~ N(0, I)) and reconstructions.png (the first 32
    /// training images, each row of originals followed by its row of reconstructions), after
    /// `steps` stage-1 steps; 16 and 8 for an autoregressive decoder.
    pub fn write_grids(&self, dir: &Path, steps: u64) -> Result<()> {
        let s = &self.stage1;
        let (c, side) = (self.data.channels, self.data.side);
        // An autoregressive decoder's grids take a forward pass per pixel: 16 samples and 8
        // reconstructions instead of 64 and 32.
        let (samples, originals) = match s.vae.net.pixel_classes() {
            Some(_) => (16, 8),
            None => (64, 32),
        };
        s.with_debiased_bn(steps, || {
            let x = generate::sample(
                &s.vae,
                &s.store,
                samples,
                self.cfg.seed,
                generate::Draw::Mean,
            )?;
            let kept = run_dir::step_grid(dir, steps);
            if let Some(folder) = kept.parent() {
                std::fs::create_dir_all(folder).map_err(|e| Error::io(folder, e))?;
            }
            crate::grid::write_png(&kept, &x, c, side, 8)?;
            crate::grid::write_png(&dir.join(run_dir::SAMPLES), &x, c, side, 8)?;
            self.write_step_grid(dir)?;
            let n = self.data.len().min(originals);
            let mut x = Vec::new();
            self.data.gather(&(0..n).collect::<Vec<_>>(), &mut x);
            let r = generate::reconstruct(&s.vae, &s.store, &x)?;
            let tiles = crate::grid::interleave_rows(&x, &r, c * side * side, 8);
            crate::grid::write_png(
                &dir.join(run_dir::RECONSTRUCTIONS),
                &tiles,
                c,
                side,
                8.min(n),
            )
        })
    }

    /// A sequential decoder's SAMPLES_STEPS: 8 draws z ~ N(0, I) from the run's seed, a row
    /// each, x_t of every step t across. Nothing for other decoders.
    fn write_step_grid(&self, dir: &Path) -> Result<()> {
        let s = &self.stage1;
        let z = generate::prior(&s.vae, &s.store, 8, self.cfg.seed)?;
        let Some(steps) = generate::decode_steps(&s.vae, &s.store, &z, 8)? else {
            return Ok(());
        };
        let image = self.data.image_len();
        let tiles: Vec<f32> = (0..8)
            .flat_map(|i| {
                steps
                    .iter()
                    .flat_map(move |x| &x[i * image..(i + 1) * image])
            })
            .copied()
            .collect();
        let (c, side) = (self.data.channels, self.data.side);
        crate::grid::write_png(
            &dir.join(run_dir::SAMPLES_STEPS),
            &tiles,
            c,
            side,
            steps.len(),
        )
    }

    fn config_file(&self, gpu: &Gpu) -> ConfigFile {
        ConfigFile {
            vae_gpu_version: env!("CARGO_PKG_VERSION").into(),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            adapter: AdapterRecord {
                name: gpu.info.name.clone(),
                backend: format!("{:?}", gpu.info.backend),
                device_type: format!("{:?}", gpu.info.device_type),
                driver: gpu.info.driver.clone(),
                driver_info: gpu.info.driver_info.clone(),
            },
            dataset: DatasetRecord {
                source: self.data.source.clone(),
                images: self.data.len(),
                channels: self.data.channels,
                side: self.data.side,
                labels: self.data.labels.is_some(),
                manifold_dim: (self.data.source == "shapes").then_some(shapes::MANIFOLD_DIM),
            },
            parameters: self.stage1.store.count(),
            stage2_parameters: self.stage2.as_ref().map(|s| s.store.count()),
            steps_per_epoch: self.per_epoch(),
            total_steps: self.stage1_steps(),
            stage2_total_steps: self.stage2_steps(),
            train: self.cfg.clone(),
        }
    }

    /// Writes config.json (a new run, or stage 2 added to a finished one).
    pub fn write_config(&self, gpu: &Gpu, dir: &Path) -> Result<()> {
        run_dir::write_json(&dir.join(run_dir::CONFIG), &self.config_file(gpu))
    }
}

/// The steps a checkpoint holds (None when there is no checkpoint).
pub fn checkpoint_steps(path: &Path) -> Result<Option<u64>> {
    if !path.exists() {
        return Ok(None);
    }
    checkpoint::read_step(path).map(Some)
}

/// Whether `run` (settings as resumed) can continue in `dir`: something is left to train,
/// and stage 1 is not asked to shrink. Checked before any file is written. Returns stage 1's
/// steps when stage 1 is to train on under a stage 2 trained on it: that stage 2 no longer
/// matches its latents, so `train` sets it aside (`run_dir::set_aside_stage2`) and trains a
/// new one.
pub fn check_resumable(run: &Run, dir: &Path) -> Result<Option<u64>> {
    let s2_ckpt = dir.join(run_dir::STAGE2_CHECKPOINT);
    let stage1_ckpt = dir.join(run_dir::CHECKPOINT);
    let s1 = checkpoint_steps(&stage1_ckpt)?.unwrap_or(0);
    let s2 = checkpoint_steps(&s2_ckpt)?;
    let stage2_left = run.stage2_steps().is_some_and(|t| s2.is_none_or(|d| d < t));
    if s1 > run.stage1_steps() {
        return Err(Error::flag(
            "--steps",
            format!(
                "stage 1 of {} has trained {s1} steps already; it cannot be cut to {}",
                dir.display(),
                run.stage1_steps()
            ),
        ));
    }
    if s1 >= run.stage1_steps() && !stage2_left {
        return Err(Error::flag(
            if run.stage2.is_some() {
                "--stage2-steps"
            } else {
                "--steps"
            },
            format!(
                "{} already has all of its steps ({s1}{}); ask for more with --steps or --epochs{}",
                dir.display(),
                s2.map_or(String::new(), |d| format!(" + {d} in stage 2")),
                if run.stage2.is_some() {
                    " (stage 1) or --stage2-steps / --stage2-epochs"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok((s2.is_some() && s1 < run.stage1_steps()).then_some(s1))
}

/// Grids drawn every `--sample-every` steps of stage 1, and the caller's measurements.
struct GridHooks<'a> {
    run: &'a Run,
    dir: &'a Path,
    measure: &'a mut dyn Hooks,
}

impl Hooks for GridHooks<'_> {
    fn measure(&mut self, done: u64) -> Result<Vec<(&'static str, f64)>> {
        self.measure.measure(done)
    }

    fn logged(&mut self, done: u64) -> Result<()> {
        if self
            .run
            .cfg
            .sample_every
            .is_some_and(|n| done.is_multiple_of(n as u64))
        {
            self.run.write_grids(self.dir, done)?;
        }
        Ok(())
    }
}

/// How a whole run's training ended.
pub struct Trained {
    pub stage1: Finished,
    /// None on a single-stage run, or when stage 1 was interrupted.
    pub stage2: Option<Finished>,
}

impl Trained {
    pub fn interrupted(&self) -> bool {
        self.stage1.interrupted || self.stage2.as_ref().is_some_and(|s| s.interrupted)
    }
}

/// Trains `run` in `dir`: stage 1, its grids, then stage 2 on its latents when the run has
/// one. With `resume`, each stage continues from its checkpoint (a finished stage is
/// skipped); otherwise `dir` must be prepared and config.json is written first.
/// `starting(stage)` is called as each stage begins; `measure` adds values to stage 1's logged
/// rows (`eval::information::DuringTraining`'s Î(x; z)). While it trains, `run_dir::TRAINING`
/// says so; a run that diverges leaves its message in `run_dir::DIVERGED` (removed when it
/// is resumed).
pub fn train(
    gpu: &Arc<Gpu>,
    run: &Run,
    dir: &Path,
    resume: bool,
    stop: &AtomicBool,
    starting: &mut dyn FnMut(u32),
    measure: &mut dyn Hooks,
) -> Result<Trained> {
    let marker = dir.join(run_dir::DIVERGED);
    if marker.exists() {
        std::fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
    }
    let training = dir.join(run_dir::TRAINING);
    run_dir::write_atomic(&training, format!("{}\n", std::process::id()).as_bytes())?;
    let result = train_stages(gpu, run, dir, resume, stop, starting, measure);
    let _ = std::fs::remove_file(&training);
    if let Err(Error::Diverged(message)) = &result {
        run_dir::write_atomic(&marker, format!("{message}\n").as_bytes())?;
    }
    result
}

fn train_stages(
    gpu: &Arc<Gpu>,
    run: &Run,
    dir: &Path,
    resume: bool,
    stop: &AtomicBool,
    starting: &mut dyn FnMut(u32),
    measure: &mut dyn Hooks,
) -> Result<Trained> {
    let s2_ckpt = dir.join(run_dir::STAGE2_CHECKPOINT);
    let stage1_ckpt = dir.join(run_dir::CHECKPOINT);
    if resume {
        if let Some(s1) = check_resumable(run, dir)? {
            run_dir::set_aside_stage2(dir, s1)?;
        }
    } else {
        run.write_config(gpu, dir)?;
    }
    let cfg = &run.cfg;
    let mut images = ImageBatches::new(gpu, &run.data, cfg.batch_size, cfg.seed);
    let sched = cfg.stage1_schedule(run.per_epoch());
    let stage1_done_before = resume && checkpoint_steps(&stage1_ckpt)? == Some(sched.total_steps);
    if !stage1_done_before {
        starting(1);
    }
    let stage1 = train::train(
        gpu,
        &run.stage1.model(),
        &mut images,
        &sched,
        dir,
        run_dir::CHECKPOINT,
        resume,
        stop,
        &mut GridHooks { run, dir, measure },
    )?;
    if stage1.interrupted {
        return Ok(Trained {
            stage1,
            stage2: None,
        });
    }
    if !stage1_done_before || !dir.join(run_dir::SAMPLES).exists() {
        run.write_grids(dir, stage1.steps)?;
    }
    let stage2 = match &run.stage2 {
        Some(_) => Some({
            starting(2);
            two_stage::train_stage2(gpu, run, dir, stage1.steps, s2_ckpt.exists(), stop)?
        }),
        None => None,
    };
    Ok(Trained { stage1, stage2 })
}

/// Opens a run directory with its checkpoints loaded: (run, stage-1 steps, stage-2 steps
/// when a stage-2 checkpoint exists). `split` overrides the run's data split.
pub fn open(
    gpu: &Arc<Gpu>,
    dir: &Path,
    split: Option<data::Split>,
) -> Result<(Run, u64, Option<u64>)> {
    let mut cfg = config_file::read(dir)?.train;
    if let Some(s) = split {
        cfg.split = s;
    }
    // Inference needs the image size, and a batch must fit in what is loaded (the MMD
    // regulariser's batches hold 2 or more).
    cfg.batch_size = match cfg.regularizer {
        models::Regularizer::Mmd => 2,
        _ => 1,
    };
    let run = Run::new(gpu, cfg)?;
    let ckpt = dir.join(run_dir::CHECKPOINT);
    if !ckpt.is_file() {
        return Err(Error::data(
            &ckpt,
            "no checkpoint: this run has not finished a logged step yet",
        ));
    }
    let steps1 = checkpoint::load(&ckpt, &run.stage1.store, None)?.step;
    let s2 = dir.join(run_dir::STAGE2_CHECKPOINT);
    let steps2 = match (&run.stage2, s2.is_file()) {
        (Some(stage), true) => Some(checkpoint::load(&s2, &stage.store, None)?.step),
        _ => None,
    };
    Ok((run, steps1, steps2))
}
