//! `cargo bench --bench matmul`: every matmul variant at several sizes, in GFLOP/s,
//! beside a multi-threaded CPU matmul measured in the same run. The vec4 and texture kernels
//! are swept over their register-block sizes, which is how their defaults were chosen.

use vae_gpu::bench;
use vae_gpu::gpu::{MatmulVariant, Routing};
use vae_gpu::{Gpu, Selection};

fn main() {
    let gpu = Gpu::new(&Selection::from_env()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} ({:?}); timestamps: {}",
        gpu.info.name,
        gpu.info.backend,
        gpu.has_timestamps()
    );
    for s in [256usize, 512, 1024] {
        let cpu = bench::cpu_matmul(s, s, s);
        println!("{:<24} {s:>5}³ {:>8.2} GFLOP/s", cpu.kernel, cpu.gflops());
        // The register blocks (4·TM4)×(4·TN4) each kernel's default was chosen from.
        let vec4 = [(1, 1), (1, 2), (2, 1), (2, 2), (2, 4), (4, 2)];
        let texture = [(2, 2), (4, 4), (4, 8), (8, 4), (8, 8)];
        let sweeps = vec4
            .iter()
            .map(|&b| (MatmulVariant::Vec4, b))
            .chain(texture.iter().map(|&b| (MatmulVariant::Texture, b)));
        for (variant, block) in sweeps {
            let blocked = |r: Routing| match variant {
                MatmulVariant::Vec4 => Routing {
                    vec4_block: block,
                    ..r
                },
                _ => Routing {
                    tex_block: Some(block),
                    ..r
                },
            };
            let m = gpu
                .scoped(blocked, || bench::matmul(&gpu, variant, s, s, s, 1.0))
                .unwrap();
            let name = format!("{} {}x{}", m.kernel, 4 * block.0, 4 * block.1);
            println!(
                "{name:<24} {s:>5}³ {:>8.2} GFLOP/s  {:>5.2}× CPU  ({})",
                m.gflops(),
                m.gflops() / cpu.gflops(),
                m.clock
            );
        }
        let swept = [MatmulVariant::Vec4, MatmulVariant::Texture];
        for v in gpu.matmul_variants().filter(|v| !swept.contains(v)) {
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
