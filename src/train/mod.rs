//! `vae-gpu train`: the training loop and everything a run leaves in its directory —
//! `config.json`, `metrics.jsonl`, `checkpoint.safetensors`, `samples.png`,
//! `reconstructions.png` (see `files`).
//!
//! Each step is one command buffer: upload the batch, forward, backward, Adam, and the
//! metric sums (`kernels::metrics`), which are read back only every `log_every` steps. At
//! most one step is in flight. Checkpoints are written only after the metrics since the
//! last one were read and found finite, so a diverged state is never saved.

pub mod checkpoint;
pub mod config;
pub mod files;
pub mod progress;

use crate::data::{self, shapes, Batches, Dataset};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::loss;
use crate::kernels::metrics::Accumulator;
use crate::kernels::random::RandomKey;
use crate::models::{self, generate, Vae};
use crate::nn::{Adam, ParamStore, ParamsBuilder};
use crate::tensor::Tensor;
use config::{Length, TrainConfig};
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Metric slots on the device.
const TOTAL: usize = 0;
const RECON: usize = 1;
const KL: usize = 2;
const SSE: usize = 3;

/// A model with its data, ready to train or to draw from.
pub struct Session {
    pub cfg: TrainConfig,
    pub data: Dataset,
    pub vae: Vae,
    pub store: ParamStore,
}

impl Session {
    /// Loads the data and builds the model (initialised from the seed).
    pub fn new(gpu: &Arc<Gpu>, cfg: TrainConfig) -> Result<Session> {
        cfg.validate()?;
        let data = data::load(&cfg.data_spec())?;
        if data.len() < cfg.batch {
            return Err(Error::flag(
                "--batch-size",
                format!(
                    "{} is more than the {} images of {}",
                    cfg.batch,
                    data.len(),
                    data.source
                ),
            ));
        }
        let mut b = ParamsBuilder::new(cfg.seed);
        let net = models::build(&mut b, cfg.net, data.channels, data.side, cfg.latent)?;
        let vae = Vae::new(&mut b, net, cfg.objective);
        let store = b.build(gpu)?;
        Ok(Session {
            cfg,
            data,
            vae,
            store,
        })
    }

    pub fn total_steps(&self) -> u64 {
        let per_epoch = self.data.len() / self.cfg.batch;
        match self.cfg.length {
            Length::Epochs(e) => (e * per_epoch) as u64,
            Length::Steps(s) => s as u64,
        }
    }

    /// Runs `f` (eval-mode forward passes) with each batch-norm running average debiased for
    /// the `steps` updates it has had, then puts the stored values back. The averages start
    /// at (0, 1) and move by 1 − momentum per step; with the reference's momentum 0.999 they
    /// are still two-thirds initial value after 400 steps, which makes eval-mode encodings
    /// collapse in a short run. Dividing out the start (as Adam debiases its moments),
    /// mean/(1 − mᵗ) and (var − mᵗ)/(1 − mᵗ), is exact for any t and tends to the stored
    /// values once t ≫ 1/(1 − m). Checkpoints always hold the stored values.
    pub fn with_debiased_bn<T>(&self, steps: u64, f: impl FnOnce() -> Result<T>) -> Result<T> {
        if steps == 0 || self.store.states().next().is_none() {
            return f();
        }
        let mt = (models::REFERENCE_BN.momentum as f64).powf(steps as f64);
        let saved: Vec<(String, Vec<f32>)> = self
            .store
            .states()
            .map(|(n, t)| Ok((n.to_string(), t.to_vec()?)))
            .collect::<Result<_>>()?;
        for (name, v) in &saved {
            let debias = |x: &f32, start: f64| ((*x as f64 - start * mt) / (1.0 - mt)) as f32;
            let start = if name.ends_with("running_var") {
                1.0
            } else {
                0.0
            };
            let d: Vec<f32> = v.iter().map(|x| debias(x, start)).collect();
            self.store.set_state(name, &d)?;
        }
        let out = f();
        for (name, v) in &saved {
            self.store.set_state(name, v)?;
        }
        out
    }

    /// samples.png (64 draws of μ_x(z), z ~ N(0, I)) and reconstructions.png (the first 32
    /// training images, each row of originals followed by its row of reconstructions), after
    /// `steps` training steps.
    pub fn write_grids(&self, dir: &Path, steps: u64) -> Result<()> {
        self.with_debiased_bn(steps, || self.draw_grids(dir))
    }

    fn draw_grids(&self, dir: &Path) -> Result<()> {
        let (c, side) = (self.data.channels, self.data.side);
        let s = generate::sample(&self.vae, &self.store, 64, self.cfg.seed, false)?;
        crate::grid::write_png(&dir.join(files::SAMPLES), &s, c, side, 8)?;
        let n = self.data.len().min(32);
        let mut x = Vec::new();
        self.data.gather(&(0..n).collect::<Vec<_>>(), &mut x);
        let r = generate::reconstruct(&self.vae, &self.store, &x)?;
        let tiles = crate::grid::interleave_rows(&x, &r, c * side * side, 8);
        crate::grid::write_png(&dir.join(files::RECONSTRUCTIONS), &tiles, c, side, 8.min(n))
    }
}

/// How a `train` call ended.
pub struct Finished {
    pub steps: u64,
    pub interrupted: bool,
    /// The last metrics row written.
    pub last: Option<serde_json::Value>,
}

fn config_json(gpu: &Gpu, s: &Session) -> serde_json::Value {
    json!({
        "vae_gpu_version": env!("CARGO_PKG_VERSION"),
        "created_unix": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        "adapter": {
            "name": gpu.info.name,
            "backend": format!("{:?}", gpu.info.backend),
            "device_type": format!("{:?}", gpu.info.device_type),
            "driver": gpu.info.driver,
            "driver_info": gpu.info.driver_info,
        },
        "dataset": {
            "source": s.data.source,
            "images": s.data.len(),
            "channels": s.data.channels,
            "side": s.data.side,
            "manifold_dim": (s.data.source == "shapes").then_some(shapes::MANIFOLD_DIM),
        },
        "parameters": s.store.count(),
        "steps_per_epoch": s.data.len() / s.cfg.batch,
        "total_steps": s.total_steps(),
        "train": s.cfg.to_json(),
    })
}

/// Reads a run's config.json: (settings, whole document).
pub fn read_config(dir: &Path) -> Result<(TrainConfig, serde_json::Value)> {
    let path = dir.join(files::CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::data(&path, format!("not valid JSON: {e}")))?;
    let cfg = TrainConfig::from_json(&doc["train"], &path.display().to_string())?;
    Ok((cfg, doc))
}

/// Trains `session` in `dir` (already prepared: new, or holding the checkpoint to resume
/// from when `resume`). `stop` is set by Ctrl-C: the loop then checkpoints and returns.
pub fn train(
    gpu: &Arc<Gpu>,
    s: &Session,
    dir: &Path,
    resume: bool,
    stop: &AtomicBool,
) -> Result<Finished> {
    let cfg = &s.cfg;
    let mut adam = Adam::new(&s.store, Default::default())?;
    let ckpt = dir.join(files::CHECKPOINT);
    let total = s.total_steps();
    let first = if resume {
        let meta = checkpoint::load(&ckpt, &s.store, Some(&mut adam))?;
        if meta.seed != cfg.seed {
            return Err(Error::data(
                &ckpt,
                format!(
                    "checkpoint seed {} differs from config.json's {}",
                    meta.seed, cfg.seed
                ),
            ));
        }
        if meta.step >= total {
            return Err(Error::flag(
                "--steps",
                format!(
                    "{} already has {} of its {total} steps; ask for more with --steps or --epochs",
                    dir.display(),
                    meta.step
                ),
            ));
        }
        files::truncate_metrics(dir, meta.step)?;
        meta.step
    } else {
        let doc = config_json(gpu, s);
        files::write_atomic(&dir.join(files::CONFIG), format!("{doc:#}\n").as_bytes())?;
        0
    };
    let config_text = cfg.to_json().to_string();

    let per_image = s.data.image_len();
    let mut batches = Batches::new(s.data.len(), cfg.batch, cfg.seed);
    let acc = Accumulator::new(gpu, 4)?;
    let zero_lg = Tensor::zeros(gpu, &[1])?;
    let mut host = Vec::with_capacity(cfg.batch * per_image);
    let mut progress = progress::Progress::new(first, total);
    let (mut since, mut logged_at) = (Instant::now(), first);
    let mut last = None;

    for step in first..total {
        let (epoch, idx) = batches.at(step as usize);
        s.data.gather(idx, &mut host);
        let (c, side) = (s.data.channels, s.data.side);
        let x = Tensor::from_slice(gpu, &host, &[cfg.batch, c, side, side])?;
        let key = RandomKey {
            seed: cfg.seed,
            step,
            stream: 0,
        };
        let lr = cfg.lr_at(epoch);
        let out = s.vae.train_step(&s.store, &mut adam, &x, key, lr)?;
        acc.add(TOTAL, &out.total, step, true)?;
        acc.add(RECON, &out.reconstruction, step, false)?;
        acc.add(KL, &out.kl, step, false)?;
        // Σ(x − μ_x)² for the MSE column, the same way for every likelihood (Bernoulli has
        // no such term): two small passes over the batch, well under 1 % of a step.
        let stats = loss::gaussian_nll(&x, &out.mu_x, &zero_lg)?;
        acc.add(SSE, &stats.narrow0(1, 1)?, step, false)?;
        gpu.flush_pipelined()?;

        let done = step + 1;
        progress.step(done);
        let interrupted = stop.load(Ordering::SeqCst);
        if done % cfg.log_every as u64 != 0 && done != total && !interrupted {
            continue;
        }
        // Log: read the sums (this waits for the device).
        let totals = acc.take()?;
        if let Some(bad) = totals.first_nonfinite_step {
            progress.finish();
            let kept = if ckpt.exists() {
                format!("the last good checkpoint, {}, is kept", ckpt.display())
            } else {
                "no checkpoint had been written yet".into()
            };
            return Err(Error::Diverged(format!(
                "the loss became NaN or infinite at step {} (epoch {}); {kept}; try a lower --lr",
                bad + 1,
                bad as usize / batches.per_epoch() + 1
            )));
        }
        let k = (done - logged_at) as f32;
        let seconds = since.elapsed().as_secs_f64();
        let gamma = s.vae.gamma(&s.store)?;
        let row = json!({
            "step": done,
            "epoch": epoch + 1,
            "loss": totals.sums[TOTAL] / k,
            "reconstruction": totals.sums[RECON] / k,
            "kl": totals.sums[KL] / k,
            "mse": totals.sums[SSE] / (k * (cfg.batch * per_image) as f32),
            "gamma": gamma,
            "lr": lr,
            "images_per_second": (k as f64 * cfg.batch as f64) / seconds.max(1e-9),
        });
        files::append_metrics(dir, &row)?;
        progress.logged(
            done,
            format!(
                "epoch {} | loss {:.2} | mse {:.5} | γ {} | {:.0} img/s",
                epoch + 1,
                row["loss"].as_f64().unwrap_or(f64::NAN),
                row["mse"].as_f64().unwrap_or(f64::NAN),
                gamma.map_or("-".into(), |g| format!("{g:.4}")),
                row["images_per_second"].as_f64().unwrap_or(0.0)
            ),
        );
        last = Some(row);
        (since, logged_at) = (Instant::now(), done);
        if done % cfg.checkpoint_every as u64 == 0 || done == total || interrupted {
            checkpoint::save(&ckpt, &s.store, Some(&adam), done, cfg.seed, &config_text)?;
        }
        if cfg.sample_every.is_some_and(|n| done % n as u64 == 0) {
            s.write_grids(dir, done)?;
        }
        if interrupted {
            progress.finish();
            return Ok(Finished {
                steps: done,
                interrupted: true,
                last,
            });
        }
    }
    progress.finish();
    s.write_grids(dir, total)?;
    Ok(Finished {
        steps: total,
        interrupted: false,
        last,
    })
}
