//! `cargo bench --bench matmul`: every matmul variant at several sizes, in GFLOP/s,
//! beside a multi-threaded CPU matmul measured in the same run. The vec4 and texture kernels
//! are swept over their register-block sizes, which is how their defaults were chosen.

use vae_gpu::bench;
use vae_gpu::gpu::{MatmulVariant, Tuning};
use vae_gpu::{Gpu, Selection};

fn main() {
    let gpu = Gpu::new(&Selection::from_env()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} ({:?}); timestamps: {}",
        gpu.info.name,
        gpu.info.backend,
        gpu.has_timestamps()
    );
    let default = gpu.tuning();
    for s in [256usize, 512, 1024] {
        let cpu = bench::cpu_matmul(s, s, s);
        println!("{:<24} {s:>5}³ {:>8.2} GFLOP/s", cpu.kernel, cpu.gflops());
        for block in [(1, 1), (1, 2), (2, 1), (2, 2), (2, 4), (4, 2)] {
            gpu.set_tuning(Tuning {
                vec4_block: block,
                ..default
            });
            let m = bench::matmul(&gpu, MatmulVariant::Vec4, s, s, s, 1.0).unwrap();
            let name = format!("{} {}x{}", m.kernel, 4 * block.0, 4 * block.1);
            println!(
                "{name:<24} {s:>5}³ {:>8.2} GFLOP/s  {:>5.2}× CPU  ({})",
                m.gflops(),
                m.gflops() / cpu.gflops(),
                m.clock
            );
        }
        // matmul_tex's blocks (4·TM4)×(4·TN4): how its 32×32 default was chosen.
        for block in [(2, 2), (4, 4), (4, 8), (8, 4), (8, 8)] {
            gpu.set_tuning(Tuning {
                tex_block: Some(block),
                ..default
            });
            let m = bench::matmul(&gpu, MatmulVariant::Texture, s, s, s, 1.0).unwrap();
            let name = format!("{} {}x{}", m.kernel, 4 * block.0, 4 * block.1);
            println!(
                "{name:<24} {s:>5}³ {:>8.2} GFLOP/s  {:>5.2}× CPU  ({})",
                m.gflops(),
                m.gflops() / cpu.gflops(),
                m.clock
            );
        }
        gpu.set_tuning(default);
        for v in [MatmulVariant::Blocked, MatmulVariant::Tiled] {
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
