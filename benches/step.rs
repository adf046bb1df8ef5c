//! `cargo bench --bench step`: full training steps (forward, backward, Adam) of the stage-1
//! network at batch 64 on 28×28×1 inputs, and of the stage-2 VAE on 64-d latents, beside the
//! CPU matmul of the same run.

use vae_gpu::bench;
use vae_gpu::{Gpu, Selection};

fn main() {
    let gpu = Gpu::new(&Selection::from_env()).unwrap_or_else(|e| panic!("{e}"));
    let cpu = bench::cpu_matmul(512, 512, 512);
    let r = bench::train_step(&gpu, 64, 28, 3, true).unwrap_or_else(|e| panic!("{e}"));
    println!("{} ({:?})", gpu.info.name, gpu.info.backend);
    println!(
        "stage-1 step, batch 64: {:.1} ms, {:.1} images/s, {:.2} GFLOP/s ({:.2}× the CPU matmul's {:.1}), {:.0} dispatches, {:.0} submit(s), peak {:.1} MiB",
        r.seconds_per_step * 1e3,
        r.images_per_second(),
        r.gflops(),
        r.gflops() / cpu.gflops(),
        cpu.gflops(),
        r.dispatches_per_step,
        r.submits_per_step,
        r.peak_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "  host time per dispatch: {:.1} µs while recording a step, {:.1} µs for a tiny kernel in a loop",
        r.host_seconds_per_dispatch * 1e6,
        bench::dispatch_overhead(&gpu, 2000).unwrap_or_else(|e| panic!("{e}")) * 1e6
    );
    for (k, s, n) in r.profile.iter().take(8) {
        println!("  {k:<30} {:>9.1} ms ({n} dispatches)", s * 1e3);
    }
    let r2 = bench::stage2_step(&gpu, 64, 64, vae_gpu::models::stage2::HIDDEN, 3, true)
        .unwrap_or_else(|e| panic!("{e}"));
    println!("stage-2 step (64-d latents): {}", r2.line(cpu.gflops()));
    println!(
        "  host time per dispatch: {:.1} µs; peak {:.1} MiB",
        r2.host_seconds_per_dispatch * 1e6,
        r2.peak_bytes as f64 / (1 << 20) as f64
    );
}
