//! Dai & Wipf's Two-Stage VAE (Sections 4 and 6): after stage 1, encode the whole training
//! set once (batch norm in eval mode) and keep μ_z, σ_z on the device; train a second VAE
//! on fresh z = μ_z + σ_z·ε every step, stage 1 untouched; sample u ~ N(0, I) →
//! z = ẑ(u) + γ_z·ε → x = μ_x(z).

use super::config::{RunConfig, Stage2Config, LATENT_STREAM};
use super::{Run, Stage};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::random::{self, RandomKey};
use crate::models::generate::{self, Draw};
use crate::models::{Likelihood, Objective, Stage2Net, Vae};
use crate::nn::ParamsBuilder;
use crate::run_dir;
use crate::tensor::Tensor;
use crate::train::source::LatentBatches;
use crate::train::{self, Finished};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Rows per forward pass when encoding the training set (a memory bound, not a tuning knob:
/// any size gives the same encodings).
pub const ENCODE_BATCH: usize = 256;

/// Stage 2's seed differs from stage 1's so its initial weights are not stage 1's draws.
const STAGE2_SEED_SALT: u64 = 0x5743_4147_4532; // "STAGE2"

/// Registers the stage-2 VAE for `cfg`'s latent size: the reference MLP with its own learned
/// γ_z, always the Gaussian likelihood (latents are real vectors), KL weight 1.
pub fn build(gpu: &Arc<Gpu>, cfg: &RunConfig, s2: &Stage2Config) -> Result<Stage> {
    let mut b = ParamsBuilder::new(cfg.seed ^ STAGE2_SEED_SALT);
    let net = Stage2Net::new(&mut b, cfg.latent_dim, cfg.latent_dim, s2.hidden, s2.layers)?;
    let objective = Objective::elbo(Likelihood::GaussianLearned, 1.0);
    let vae = Vae::new(&mut b, Box::new(net), objective);
    Ok(Stage {
        vae,
        store: b.build(gpu)?,
    })
}

/// (μ_z, σ_z) [N, κ] of every image of the run's data under stage 1 (eval mode, batch norm
/// debiased for `steps1` steps), on the device.
pub fn encode_data(run: &Run, steps1: u64) -> Result<(Tensor, Tensor)> {
    let s = &run.stage1;
    let data = &run.data;
    let (c, side) = (data.channels, data.side);
    let gpu = s.store.gpu();
    let mut host = Vec::new();
    let latents = s.with_debiased_bn(steps1, || {
        generate::encode_batches(&s.vae, &s.store, data.len(), ENCODE_BATCH, |start, len| {
            data.gather(&(start..start + len).collect::<Vec<_>>(), &mut host);
            Tensor::from_slice(gpu, &host, &[len, c, side, side])
        })
    })?;
    // Stage 2 allocates other shapes: the encoder's batch activations go back to the device.
    gpu.trim()?;
    Ok(latents)
}

/// Trains stage 2 of `run` in `dir` on the latents of stage 1 after `steps1` steps,
/// resuming from stage2.safetensors with `resume`.
pub fn train_stage2(
    gpu: &Arc<Gpu>,
    run: &Run,
    dir: &Path,
    steps1: u64,
    resume: bool,
    stop: &AtomicBool,
) -> Result<Finished> {
    let stage2 = run
        .stage2
        .as_ref()
        .ok_or_else(|| Error::flag("--model", "this run has no stage 2"))?;
    let sched = run
        .cfg
        .stage2_schedule(run.per_epoch())
        .expect("a run with a stage 2 has its schedule");
    let started = Instant::now();
    let (mu, sigma) = encode_data(run, steps1)?;
    gpu.sync()?;
    eprintln!(
        "stage 2: encoded {} images in {:.1} s; training a {}-parameter VAE on their latents",
        run.data.len(),
        started.elapsed().as_secs_f64(),
        stage2.store.count()
    );
    let mut latents =
        LatentBatches::new(mu, sigma, run.cfg.batch_size, run.cfg.seed, LATENT_STREAM);
    let done = train::train(
        gpu,
        &stage2.model(),
        &mut latents,
        &sched,
        dir,
        run_dir::STAGE2_CHECKPOINT,
        resume,
        stop,
        &mut (),
    )?;
    if !done.interrupted {
        let x = sample(run, steps1, 64, run.cfg.seed, Draw::Mean)?;
        let (c, side) = (run.data.channels, run.data.side);
        crate::grid::write_png(&dir.join(run_dir::SAMPLES_TWO_STAGE), &x, c, side, 8)?;
    }
    Ok(done)
}

/// γ_z·ε added to stage 2's decoder mean: its own Philox stream, apart from u's.
const STREAM_Z_NOISE: u32 = 3;

/// Latents z [n, κ] of the two-stage generator: u ~ N(0, I) → z = ẑ(u) + γ_z·ε.
pub fn sample_latents(stage2: &Stage, n: usize, seed: u64) -> Result<Tensor> {
    let (vae, store) = (&stage2.vae, &stage2.store);
    let u = generate::prior(vae, store, n, seed)?;
    let zhat = generate::decode_batches(vae, store, &u, generate::DEFAULT_BATCH)?;
    let gamma_z = vae.gamma(store)?.expect("stage 2 learns γ_z");
    let key = RandomKey {
        seed,
        step: 0,
        stream: STREAM_Z_NOISE,
    };
    let spread = Tensor::full(store.gpu(), zhat.shape(), gamma_z)?;
    random::reparameterize(&zhat, &spread, key)
}

/// `n` two-stage samples made from μ_x(z) as `how` says (`generate::draw`), stage 1's batch
/// norm debiased for `steps1` steps.
pub fn sample(run: &Run, steps1: u64, n: usize, seed: u64, how: Draw) -> Result<Vec<f32>> {
    let stage2 = run
        .stage2
        .as_ref()
        .ok_or_else(|| Error::flag("--stage", "this run has no stage 2"))?;
    let z = sample_latents(stage2, n, seed)?;
    let s1 = &run.stage1;
    s1.with_debiased_bn(steps1, || {
        let mu = generate::decode_batches(&s1.vae, &s1.store, &z, generate::DEFAULT_BATCH)?;
        generate::draw(&s1.vae, &s1.store, &mu, seed, how)
    })
}
