//! Kernel benchmarks shared by `vae-gpu bench` and `benches/`: warm up, then time
//! many launches with GPU timestamps (or, without them, wall clock around a
//! synchronised device) and report GFLOP/s. Every figure comes with the same
//! run's reference point (the best variant, or the CPU), never as a lone time.

use std::sync::Arc;
use std::time::Instant;

use crate::check::Rng;
use crate::error::Result;
use crate::gpu::{ConvVariant, Gpu, MatmulVariant, Tuning};
use crate::kernels::conv2d::{self, Conv2dConfig, ConvGeom};
use crate::kernels::matmul::{self, matmul_with};
use crate::kernels::random::RandomKey;
use crate::models::{InfoGan, InfoGanConfig, Objective, Stage2Net, Vae};
use crate::nn::{Adam, ParamsBuilder};

#[derive(Clone, Debug)]
pub struct Measurement {
    pub kernel: String,
    pub shape: String,
    pub flops: f64,
    pub seconds_per_run: f64,
    /// "gpu-timestamps" or "wall-clock".
    pub clock: &'static str,
}

impl Measurement {
    pub fn gflops(&self) -> f64 {
        self.flops / self.seconds_per_run / 1e9
    }
}

/// Times `run` (which records one launch) after `warmup` launches; `reps` timed launches.
pub fn time(
    gpu: &Arc<Gpu>,
    warmup: usize,
    reps: usize,
    mut run: impl FnMut() -> Result<()>,
) -> Result<(f64, &'static str)> {
    for _ in 0..warmup {
        run()?;
    }
    gpu.sync()?;
    if gpu.begin_timing(reps as u32 * 4).is_some() {
        for _ in 0..reps {
            run()?;
        }
        let t = gpu.end_timing()?;
        return Ok((t.seconds / reps as f64, "gpu-timestamps"));
    }
    let start = Instant::now();
    for _ in 0..reps {
        run()?;
    }
    gpu.sync()?;
    Ok((start.elapsed().as_secs_f64() / reps as f64, "wall-clock"))
}

/// Launches enough repetitions for about `budget` seconds, from one probe launch.
fn reps_for(gpu: &Arc<Gpu>, budget: f64, run: &mut impl FnMut() -> Result<()>) -> Result<usize> {
    let start = Instant::now();
    run()?;
    gpu.sync()?;
    let once = start.elapsed().as_secs_f64().max(1e-5);
    Ok(((budget / once) as usize).clamp(3, 200))
}

pub fn matmul(
    gpu: &Arc<Gpu>,
    variant: MatmulVariant,
    m: usize,
    n: usize,
    k: usize,
    budget: f64,
) -> Result<Measurement> {
    matmul_op(gpu, variant, [m, n, k], (false, false), budget)
}

/// C = op(A)·op(B) at [M, N, K] with the given transposes (the products backward needs).
pub fn matmul_op(
    gpu: &Arc<Gpu>,
    variant: MatmulVariant,
    [m, n, k]: [usize; 3],
    (trans_a, trans_b): (bool, bool),
    budget: f64,
) -> Result<Measurement> {
    let mut rng = Rng::new(1);
    let sa = if trans_a { [k, m] } else { [m, k] };
    let sb = if trans_b { [n, k] } else { [k, n] };
    let a = rng.data(&sa, -1.0, 1.0).upload(gpu)?;
    let b = rng.data(&sb, -1.0, 1.0).upload(gpu)?;
    let g = matmul::geometry(a.shape(), b.shape(), trans_a, trans_b)?;
    let mut run = || matmul_with(variant, &a, &b, trans_a, trans_b).map(drop);
    let reps = reps_for(gpu, budget, &mut run)?;
    let (s, clock) = time(gpu, 2, reps, run)?;
    let t = |on: bool| if on { "ᵀ" } else { "" };
    Ok(Measurement {
        kernel: format!("matmul/{variant:?}").to_lowercase(),
        shape: format!("{m}x{n}x{k}{}{}", t(trans_a), t(trans_b)),
        flops: matmul::flops(&g),
        seconds_per_run: s,
        clock,
    })
}

/// One conv2d direction ("forward", "grad_input", "grad_weight") on one shape, with the
/// given implementation (the device's tuning is restored afterwards).
#[allow(clippy::too_many_arguments)]
pub fn conv(
    gpu: &Arc<Gpu>,
    variant: ConvVariant,
    which: &str,
    x: [usize; 4],
    w: [usize; 4],
    cfg: Conv2dConfig,
    budget: f64,
) -> Result<Measurement> {
    let g = ConvGeom::forward("conv2d", &x, &w, cfg)?;
    let mut rng = Rng::new(2);
    let xt = rng.data(&x, -1.0, 1.0).upload(gpu)?;
    let wt = rng.data(&w, -1.0, 1.0).upload(gpu)?;
    let dy = rng.data(&[g.n, g.k, g.oh, g.ow], -1.0, 1.0).upload(gpu)?;
    let mut run = || -> Result<()> {
        match which {
            "forward" => conv2d::conv2d(&xt, &wt, cfg).map(drop),
            "grad_input" => conv2d::conv2d_grad_input(&dy, &wt, (g.h, g.w), cfg).map(drop),
            _ => conv2d::conv2d_grad_weight(&dy, &xt, (g.kh, g.kw), cfg).map(drop),
        }
    };
    let saved = gpu.tuning();
    gpu.set_tuning(Tuning {
        conv: variant,
        ..saved
    });
    let timed = reps_for(gpu, budget, &mut run).and_then(|reps| time(gpu, 2, reps, run));
    gpu.set_tuning(saved);
    let (s, clock) = timed?;
    Ok(Measurement {
        kernel: format!("conv2d/{which}/{variant:?}").to_lowercase(),
        shape: format!(
            "x{}x{}x{}x{} w{}x{}x{}x{} s{}",
            x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], cfg.stride.0
        ),
        flops: g.flops(),
        seconds_per_run: s,
        clock,
    })
}

/// Host time to record one launch of a tiny kernel (fill of 4 floats), from `n` launches:
/// pipeline lookup, uniform, bind group and encoding, with no allocation in the loop.
/// The device work (submit and wait) is timed apart and not counted.
pub fn dispatch_overhead(gpu: &Arc<Gpu>, n: usize) -> Result<f64> {
    let t = crate::Tensor::empty(gpu, &[4])?;
    crate::kernels::fill::fill_bits(&t, 0)?;
    gpu.sync()?;
    let start = Instant::now();
    for i in 0..n {
        crate::kernels::fill::fill_bits(&t, i as u32)?;
    }
    let host = start.elapsed().as_secs_f64();
    gpu.sync()?;
    Ok(host / n.max(1) as f64)
}

/// The CPU reference point for the same run: a cache-blocked f32 matmul on all cores
/// (std threads, no BLAS), so GPU figures are read against this machine's CPU.
pub fn cpu_matmul(m: usize, n: usize, k: usize) -> Measurement {
    let mut rng = Rng::new(3);
    let a = rng.data(&[m, k], -1.0, 1.0).f32;
    let b = rng.data(&[k, n], -1.0, 1.0).f32;
    let mut c = vec![0.0f32; m * n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows = m.div_ceil(threads);
    let run = |c: &mut [f32]| {
        std::thread::scope(|s| {
            for (t, chunk) in c.chunks_mut(rows * n).enumerate() {
                let (a, b) = (&a, &b);
                s.spawn(move || {
                    chunk.fill(0.0);
                    for (ri, crow) in chunk.chunks_mut(n).enumerate() {
                        let arow = &a[(t * rows + ri) * k..][..k];
                        for (kk, &av) in arow.iter().enumerate() {
                            for (cv, bv) in crow.iter_mut().zip(&b[kk * n..][..n]) {
                                *cv += av * bv;
                            }
                        }
                    }
                });
            }
        })
    };
    run(&mut c);
    let reps = 3;
    let start = Instant::now();
    for _ in 0..reps {
        run(&mut c);
    }
    Measurement {
        kernel: "matmul/cpu-threads".into(),
        shape: format!("{m}x{n}x{k}"),
        flops: 2.0 * (m * n * k) as f64,
        seconds_per_run: start.elapsed().as_secs_f64() / reps as f64,
        clock: "wall-clock",
    }
}

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
    /// Host wall time spent recording one step (the forward, backward and Adam calls, up to
    /// the submit), divided by its dispatches: what the runtime costs per kernel launch.
    pub host_seconds_per_dispatch: f64,
    /// Buffers the pool had to create during the timed steps (0 in steady state).
    pub buffers_created: u64,
    /// Largest device memory the pool held, in bytes.
    pub peak_bytes: u64,
    /// GPU time of one more step by kernel entry point (when the adapter has timestamps):
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
pub fn train_step(gpu: &Arc<Gpu>, batch: usize, side: usize, steps: usize) -> Result<StepReport> {
    let cfg = InfoGanConfig::reference(side, 1);
    let mut b = ParamsBuilder::new(0);
    let net = InfoGan::new(&mut b, cfg)?;
    let model = Vae::new(&mut b, Box::new(net), Objective::default());
    let store = b.build(gpu)?;
    let x = Rng::new(4)
        .data(&[batch, 1, side, side], 0.0, 1.0)
        .upload(gpu)?;
    time_steps(gpu, &model, &store, &x, side, steps)
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
    time_steps(gpu, &model, &store, &x, latent, steps)
}

fn time_steps(
    gpu: &Arc<Gpu>,
    model: &Vae,
    store: &crate::nn::ParamStore,
    x: &crate::Tensor,
    side: usize,
    steps: usize,
) -> Result<StepReport> {
    let batch = x.shape()[0];
    let mut adam = Adam::new(store, Default::default())?;
    let key = |step: usize| RandomKey {
        seed: 1,
        step: step as u64,
        stream: 0,
    };
    for s in 0..2 {
        model.train_step(store, &mut adam, x, key(s), 1e-4)?;
        gpu.flush()?;
    }
    gpu.sync()?;
    let (d0, s0) = gpu.counters();
    let created0 = gpu.pool_stats().created;
    let start = Instant::now();
    let mut recording = 0.0;
    for s in 0..steps {
        let t = Instant::now();
        model.train_step(store, &mut adam, x, key(2 + s), 1e-4)?;
        recording += t.elapsed().as_secs_f64();
        gpu.flush_pipelined()?;
    }
    gpu.sync()?;
    let elapsed = start.elapsed().as_secs_f64();
    let (d1, s1) = gpu.counters();
    let stats = gpu.pool_stats();
    let mut profile = Vec::new();
    if gpu.begin_timing(2048).is_some() {
        model.train_step(store, &mut adam, x, key(2 + steps), 1e-4)?;
        gpu.flush()?;
        profile = gpu
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
        host_seconds_per_dispatch: recording / (d1 - d0).max(1) as f64,
        buffers_created: stats.created - created0,
        peak_bytes: stats.peak_bytes,
        profile,
    })
}
