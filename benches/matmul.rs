//! `cargo bench --bench matmul`: every matmul variant at several sizes, in GFLOP/s,
//! beside a multi-threaded CPU matmul measured in the same run.

use vae_gpu::bench;
use vae_gpu::gpu::MatmulVariant;
use vae_gpu::{Gpu, Selection};

fn main() {
    let gpu = Gpu::new(&Selection::from_env()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} ({:?}); timestamps: {}",
        gpu.info.name,
        gpu.info.backend,
        gpu.has_timestamps()
    );
    for s in [128usize, 256, 512, 1024] {
        let cpu = bench::cpu_matmul(s, s, s);
        println!("{:<24} {s:>5}³ {:>8.2} GFLOP/s", cpu.kernel, cpu.gflops());
        for v in [
            MatmulVariant::Vec4,
            MatmulVariant::Blocked,
            MatmulVariant::Tiled,
        ] {
            let m = bench::matmul(&gpu, v, s, s, s, 1.0).unwrap();
            println!(
                "{:<24} {s:>5}³ {:>8.2} GFLOP/s  {:>5.2}× CPU  ({})",
                m.kernel,
                m.gflops(),
                m.gflops() / cpu.gflops(),
                m.clock
            );
        }
    }
}
