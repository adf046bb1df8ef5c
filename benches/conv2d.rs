//! `cargo bench --bench conv2d`: conv2d forward and both gradients on the stage-1
//! network's layers (batch 64, 28×28 input), in GFLOP/s, beside the CPU matmul of the same run.

use vae_gpu::bench;
use vae_gpu::gpu::ConvVariant;
use vae_gpu::kernels::conv2d::Conv2dConfig;
use vae_gpu::{Gpu, Selection};

fn main() {
    let gpu = Gpu::new(&Selection::from_env()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} ({:?}); timestamps: {}",
        gpu.info.name,
        gpu.info.backend,
        gpu.has_timestamps()
    );
    let cpu = bench::cpu_matmul(512, 512, 512);
    println!(
        "{:<24} 512³ {:>8.2} GFLOP/s (reference)",
        cpu.kernel,
        cpu.gflops()
    );
    let cfg = Conv2dConfig::new(2, 1);
    for (x, w) in [
        ([64, 1, 28, 28], [64, 1, 4, 4]),
        ([64, 64, 14, 14], [128, 64, 4, 4]),
    ] {
        for (which, variant) in ["forward", "grad_input", "grad_weight"]
            .into_iter()
            .flat_map(|w| [(w, ConvVariant::Direct), (w, ConvVariant::Gemm)])
        {
            let m = bench::conv(&gpu, variant, which, x, w, cfg, 1.0).unwrap();
            println!(
                "{:<24} {:<30} {:>8.2} GFLOP/s  {:>5.2}× CPU matmul  ({})",
                m.kernel,
                m.shape,
                m.gflops(),
                m.gflops() / cpu.gflops(),
                m.clock
            );
        }
    }
}
