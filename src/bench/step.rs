//! Whole training steps of the stage-1 and stage-2 networks: images/s, dispatches and submits
//! per step, host time per dispatch, peak device memory, and (with timestamps) where the GPU
//! time of one step goes.

use std::sync::Arc;
use std::time::Instant;

use crate::check::Rng;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::random::RandomKey;
use crate::models::{
    InfoGan, InfoGanConfig, Likelihood, Objective, PixelCnn, PixelCnnShape, Stage2Net, Vae,
};
use crate::nn::{Adam, ParamsBuilder};

/// One full training step of the stage-1 network, measured in steady state.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub batch: usize,
    /// The image side (stage 1) or the latent size (stage 2).
    pub side: usize,
    pub steps: usize,
    pub parameters: usize,
    pub seconds_per_step: f64,
    /// Forward plus backward conv/matmul FLOPs per step (3× the forward's).
    pub flops_per_step: f64,
    pub dispatches_per_step: f64,
    pub submits_per_step: f64,
    /// Copies per step (operands into textures, buffer to buffer) and the bytes they move:
    /// device work that GPU timestamps do not bracket.
    pub copies_per_step: f64,
    pub copied_bytes_per_step: f64,
    /// CPU time of the recording thread for one step (the forward, backward and Adam calls,
    /// up to the submit) divided by its dispatches: what the runtime costs per kernel launch.
    /// Thread time, not wall time: on a CPU adapter the device's threads share the cores.
    pub host_seconds_per_dispatch: f64,
    /// The same in wall time.
    pub host_wall_seconds_per_dispatch: f64,
    /// Buffers the pool had to create during the timed steps (0 in steady state).
    pub buffers_created: u64,
    /// Bind groups created during the timed steps (0 once the pool's order has settled).
    pub bind_groups_created: u64,
    /// Largest device memory the pool held, in bytes.
    pub peak_bytes: u64,
    /// GPU time of one more step by kernel entry point (with `profile`, on adapters with timestamps):
    /// (shader/entry, seconds, dispatches), most expensive first.
    pub profile: Vec<(String, f64, u32)>,
}

impl StepReport {
    pub fn images_per_second(&self) -> f64 {
        self.batch as f64 / self.seconds_per_step
    }
    pub fn gflops(&self) -> f64 {
        self.flops_per_step / self.seconds_per_step / 1e9
    }

    /// One line for people: speed, its ratio to the same run's CPU matmul, and the
    /// dispatch and submit counts that show the step is one submit.
    pub fn line(&self, cpu_gflops: f64) -> String {
        format!(
            "batch {}, {} parameters: {:.1} ms/step, {:.1} steps/s, {:.2} GFLOP/s ({:.2}× the CPU matmul); {:.0} dispatches and {:.0} submit(s) per step",
            self.batch,
            self.parameters,
            self.seconds_per_step * 1e3,
            1.0 / self.seconds_per_step,
            self.gflops(),
            self.gflops() / cpu_gflops,
            self.dispatches_per_step,
            self.submits_per_step
        )
    }
}

/// Times `steps` training steps (forward, backward, Adam; one submit each) of the reference
/// stage-1 network on batch × 1 × side × side inputs after two warm-up steps (the first
/// compiles every pipeline). Wall clock around a synchronised device: a step is hundreds of
/// dispatches, and the figure users care about is the step's whole latency.
pub fn train_step(
    gpu: &Arc<Gpu>,
    batch: usize,
    side: usize,
    steps: usize,
    profile: bool,
) -> Result<StepReport> {
    let cfg = InfoGanConfig::reference(side, 1);
    let mut b = ParamsBuilder::new(0);
    let net = InfoGan::new(&mut b, cfg)?;
    let model = Vae::new(&mut b, Box::new(net), Objective::default());
    let store = b.build(gpu)?;
    let x = Rng::new(4)
        .data(&[batch, 1, side, side], 0.0, 1.0)
        .upload(gpu)?;
    time_steps(gpu, &model, &store, &x, side, steps, profile)
}

/// The same for Zhao et al.'s PixelCNN-VAE (`shape` layers × width, 256-way categorical
/// decoder, 20-d code) on batch × 1 × side × side 8-bit images.
pub fn pixelcnn_step(
    gpu: &Arc<Gpu>,
    batch: usize,
    side: usize,
    shape: PixelCnnShape,
    steps: usize,
    profile: bool,
) -> Result<StepReport> {
    let (model, store) = pixelcnn_vae(gpu, side, shape)?;
    let x = pixel_values(gpu, batch, side)?;
    time_steps(gpu, &model, &store, &x, side, steps, profile)
}

fn pixelcnn_vae(
    gpu: &Arc<Gpu>,
    side: usize,
    shape: PixelCnnShape,
) -> Result<(Vae, crate::nn::ParamStore)> {
    let mut b = ParamsBuilder::new(0);
    let net = PixelCnn::new(&mut b, 1, side, 20, 256, shape)?;
    let objective = Objective {
        likelihood: Likelihood::Categorical,
        ..Objective::default()
    };
    let model = Vae::new(&mut b, Box::new(net), objective);
    Ok((model, b.build(gpu)?))
}

/// Random 8-bit images, k/255.
fn pixel_values(gpu: &Arc<Gpu>, batch: usize, side: usize) -> Result<crate::Tensor> {
    let mut d = Rng::new(6).data(&[batch, 1, side, side], 0.0, 1.0);
    d.f32
        .iter_mut()
        .for_each(|v| *v = (*v * 255.0).round() / 255.0);
    d.upload(gpu)
}

/// Autoregressive sampling of `n` images by the PixelCNN-VAE: each pixel is one decoder
/// pass over the whole image and one draw, one submit. Times `pixels` of them (a row, say)
/// after one warm-up pixel; the whole image costs side² times the per-pixel figure.
#[derive(Clone, Debug)]
pub struct SamplingReport {
    pub images: usize,
    pub side: usize,
    pub pixels_timed: usize,
    pub seconds_per_pixel: f64,
    pub dispatches_per_pixel: f64,
    pub submits_per_pixel: f64,
}

impl SamplingReport {
    /// Seconds for whole images: side² pixels.
    pub fn seconds_per_image_set(&self) -> f64 {
        self.seconds_per_pixel * (self.side * self.side) as f64
    }
}

/// Autoregressive sampling of `images` images: `pixels` draws at pixels spread evenly over
/// the image (a pixel's cost grows with its row up to the decoder's reach), timed after one
/// warm-up draw.
pub fn pixelcnn_sampling(
    gpu: &Arc<Gpu>,
    images: usize,
    side: usize,
    shape: PixelCnnShape,
    pixels: usize,
) -> Result<SamplingReport> {
    let (model, store) = pixelcnn_vae(gpu, side, shape)?;
    let z = crate::models::generate::prior(&model, &store, images, 1)?;
    let x = crate::Tensor::zeros(gpu, &[images, 1, side, side])?;
    let mean = crate::Tensor::zeros(gpu, &[images, 1, side, side])?;
    let pixels = pixels.clamp(1, side * side - 1);
    crate::models::generate::draw_pixel(&model, &store, &z, [&x, &mean], 0, 1)?;
    gpu.sync()?;
    let (d0, s0) = gpu.counters();
    let start = Instant::now();
    let all = side * side;
    for j in 0..pixels {
        let p = 1 + j * (all - 1) / pixels;
        crate::models::generate::draw_pixel(&model, &store, &z, [&x, &mean], p, 1)?;
    }
    gpu.sync()?;
    let elapsed = start.elapsed().as_secs_f64();
    let (d1, s1) = gpu.counters();
    Ok(SamplingReport {
        images,
        side,
        pixels_timed: pixels,
        seconds_per_pixel: elapsed / pixels as f64,
        dispatches_per_pixel: (d1 - d0) as f64 / pixels as f64,
        submits_per_pixel: (s1 - s0) as f64 / pixels as f64,
    })
}

/// The same for the reference stage-2 VAE (`hidden` wide, 3 layers, input skips) on
/// `latent`-dimensional vectors. (In a run each step also gathers its batch of stored
/// (μ_z, σ_z) rows and draws z: three more small dispatches.)
pub fn stage2_step(
    gpu: &Arc<Gpu>,
    batch: usize,
    latent: usize,
    hidden: usize,
    steps: usize,
    profile: bool,
) -> Result<StepReport> {
    let mut b = ParamsBuilder::new(0);
    let net = Stage2Net::new(
        &mut b,
        latent,
        latent,
        hidden,
        crate::models::stage2::LAYERS,
    )?;
    let model = Vae::new(&mut b, Box::new(net), Objective::default());
    let store = b.build(gpu)?;
    let x = Rng::new(5).data(&[batch, latent], -2.0, 2.0).upload(gpu)?;
    time_steps(gpu, &model, &store, &x, latent, steps, profile)
}

fn time_steps(
    gpu: &Arc<Gpu>,
    model: &Vae,
    store: &crate::nn::ParamStore,
    x: &crate::Tensor,
    side: usize,
    steps: usize,
    profile: bool,
) -> Result<StepReport> {
    let batch = x.shape()[0];
    let mut adam = Adam::new(store, Default::default())?;
    let key = |step: usize| RandomKey {
        seed: 1,
        step: step as u64,
        stream: 0,
    };
    // Warm-up: the first step compiles every pipeline and fills the pool, the second reaches
    // the steady state (same buffers, same bind groups every step).
    for s in 0..2 {
        model.train_step(store, &mut adam, x, key(s), 1e-4)?;
        gpu.flush()?;
    }
    gpu.sync()?;
    let (d0, s0) = gpu.counters();
    let (c0, b0) = gpu.copies();
    let created0 = gpu.pool_stats().created;
    let groups0 = gpu.bind_groups_created();
    let start = Instant::now();
    let (mut recording, mut recording_wall) = (0.0, 0.0);
    for s in 0..steps {
        let (t, cpu) = (Instant::now(), cpu_time::ThreadTime::now());
        model.train_step(store, &mut adam, x, key(2 + s), 1e-4)?;
        recording += cpu.elapsed().as_secs_f64();
        recording_wall += t.elapsed().as_secs_f64();
        gpu.flush_pipelined()?;
    }
    gpu.sync()?;
    let elapsed = start.elapsed().as_secs_f64();
    let (d1, s1) = gpu.counters();
    let (c1, b1) = gpu.copies();
    let stats = gpu.pool_stats();
    let bind_groups_created = gpu.bind_groups_created() - groups0;
    let mut by_kernel = Vec::new();
    if profile && gpu.begin_timing(2048).is_some() {
        model.train_step(store, &mut adam, x, key(2 + steps), 1e-4)?;
        gpu.flush()?;
        by_kernel = gpu
            .end_timing()?
            .by_kernel
            .into_iter()
            .map(|((shader, entry), s, n)| (format!("{shader}/{entry}"), s, n))
            .collect();
    }
    Ok(StepReport {
        batch,
        side,
        steps,
        parameters: store.count(),
        seconds_per_step: elapsed / steps as f64,
        flops_per_step: 3.0 * model.net.forward_flops(batch),
        dispatches_per_step: (d1 - d0) as f64 / steps as f64,
        submits_per_step: (s1 - s0) as f64 / steps as f64,
        copies_per_step: (c1 - c0) as f64 / steps as f64,
        copied_bytes_per_step: (b1 - b0) as f64 / steps as f64,
        host_seconds_per_dispatch: recording / (d1 - d0).max(1) as f64,
        host_wall_seconds_per_dispatch: recording_wall / (d1 - d0).max(1) as f64,
        buffers_created: stats.created - created0,
        bind_groups_created,
        peak_bytes: stats.peak_bytes,
        profile: by_kernel,
    })
}
