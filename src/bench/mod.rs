//! Benchmarks shared by `vae-gpu bench` and `benches/`: warm up, then time many launches with
//! GPU timestamps (or, without them, wall clock around a synchronised device) and report the
//! median over rounds as GFLOP/s or GB/s. Every figure comes with the same run's reference
//! point (the CPU matmul), never as a lone time.

pub mod kernels;
pub mod step;
pub mod tune;

use std::sync::Arc;
use std::time::Instant;

use crate::check::Rng;
use crate::error::Result;
use crate::gpu::Gpu;
pub use kernels::{conv, matmul, matmul_op};
pub use step::{
    pixelcnn_sampling, pixelcnn_step, stage2_step, train_step, SamplingReport, StepReport,
};

#[derive(Clone, Debug)]
pub struct Measurement {
    pub kernel: String,
    pub shape: String,
    /// Useful floating-point operations of one launch (0 for memory-bound kernels).
    pub flops: f64,
    /// Bytes one launch must move at least: each input read once, each output written once.
    pub bytes: f64,
    /// The median over rounds of the mean time per launch.
    pub seconds_per_run: f64,
    /// "gpu-timestamps" or "wall-clock".
    pub clock: &'static str,
}

impl Measurement {
    pub fn gflops(&self) -> f64 {
        self.flops / self.seconds_per_run / 1e9
    }
    pub fn gbps(&self) -> f64 {
        self.bytes / self.seconds_per_run / 1e9
    }
}

/// Rounds whose median is reported: one slow round (another process took the cores) moves it
/// little.
const ROUNDS: usize = 5;

/// Times `run` (which records one launch) after `warmup` launches: `ROUNDS` rounds of
/// `reps.div_ceil(ROUNDS)` launches; returns the median round's time per launch and the
/// clock: GPU timestamps where the adapter has them and `run` records no copy, else the wall
/// clock around a synchronised device.
pub fn time(
    gpu: &Arc<Gpu>,
    warmup: usize,
    reps: usize,
    mut run: impl FnMut() -> Result<()>,
) -> Result<(f64, &'static str)> {
    for _ in 0..warmup {
        run()?;
    }
    // Timestamps bracket dispatches only: an op that copies (operands into textures) is
    // timed by the wall clock, copies included.
    let (copies, _) = gpu.copies();
    run()?;
    let copies = gpu.copies().0 > copies;
    gpu.sync()?;
    let per = reps.div_ceil(ROUNDS).max(1);
    let mut rounds = Vec::with_capacity(ROUNDS);
    let mut clock = "wall-clock";
    for _ in 0..ROUNDS {
        if !copies && gpu.begin_timing(per as u32 * 8).is_some() {
            for _ in 0..per {
                run()?;
            }
            rounds.push(gpu.end_timing()?.seconds / per as f64);
            clock = "gpu-timestamps";
        } else {
            let start = Instant::now();
            for _ in 0..per {
                run()?;
            }
            gpu.sync()?;
            rounds.push(start.elapsed().as_secs_f64() / per as f64);
        }
    }
    rounds.sort_by(f64::total_cmp);
    Ok((rounds[ROUNDS / 2], clock))
}

/// Launches enough repetitions for about `budget` seconds, from one probe launch.
pub(crate) fn reps_for(
    gpu: &Arc<Gpu>,
    budget: f64,
    run: &mut dyn FnMut() -> Result<()>,
) -> Result<usize> {
    let start = Instant::now();
    run()?;
    gpu.sync()?;
    let once = start.elapsed().as_secs_f64().max(1e-5);
    Ok(((budget / once) as usize).clamp(3, 200))
}

/// Host CPU time to record one launch of a tiny kernel (fill of 4 floats), from `n` launches:
/// pipeline lookup, uniform slot, bind group and encoding, with no allocation in the loop.
/// The device work (submit and wait) is not counted.
pub fn dispatch_overhead(gpu: &Arc<Gpu>, n: usize) -> Result<f64> {
    let t = crate::Tensor::empty(gpu, &[4])?;
    crate::kernels::fill::fill_bits(&t, 0)?;
    gpu.sync()?;
    let start = cpu_time::ThreadTime::now();
    for i in 0..n {
        crate::kernels::fill::fill_bits(&t, i as u32)?;
    }
    let host = start.elapsed().as_secs_f64();
    gpu.sync()?;
    Ok(host / n.max(1) as f64)
}

/// The host's copy bandwidth in GB/s (bytes read plus bytes written), the memory-bound
/// kernels' reference on a CPU adapter: `mib` MiB copied with `copy_from_slice`, best of 5.
pub fn cpu_copy_gbps(mib: usize) -> f64 {
    let n = mib << 18;
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
        best = best.min(t.elapsed().as_secs_f64());
    }
    2.0 * 4.0 * n as f64 / best / 1e9
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
        bytes: 4.0 * (m * k + k * n + m * n) as f64,
        seconds_per_run: start.elapsed().as_secs_f64() / reps as f64,
        clock: "wall-clock",
    }
}
