//! `vae-gpu bench`: matmul variants and conv2d directions in GFLOP/s, or (`--step`) full
//! training steps, with the multi-threaded CPU matmul of the same run as the reference point.

use serde_json::json;
use vae_gpu::bench::{self, Measurement};
use vae_gpu::gpu::{ConvVariant, MatmulVariant};
use vae_gpu::kernels::conv2d::Conv2dConfig;
use vae_gpu::{Gpu, Result, Selection};

pub fn run(sel: &Selection, json: bool, quick: bool) -> Result<i32> {
    let gpu = Gpu::new(sel)?;
    let budget = if quick { 0.3 } else { 1.5 };
    let sizes: &[usize] = if quick {
        &[256, 512]
    } else {
        &[256, 512, 1024]
    };
    let mut rows: Vec<(Measurement, f64)> = Vec::new();
    if !json {
        println!(
            "{} ({:?}, {:?}); timestamps: {}",
            gpu.info.name,
            gpu.info.backend,
            gpu.info.device_type,
            gpu.has_timestamps()
        );
        println!(
            "{:<26} {:<28} {:>10} {:>9}  {:>10}  clock",
            "kernel", "shape", "GFLOP/s", "ms", "vs CPU"
        );
    }
    for &s in sizes {
        let cpu = bench::cpu_matmul(s, s, s);
        let cpu_gf = cpu.gflops();
        let mut ms = vec![cpu];
        for v in [
            MatmulVariant::Texture,
            MatmulVariant::Vec4,
            MatmulVariant::Blocked,
            MatmulVariant::Tiled,
        ] {
            ms.push(bench::matmul(&gpu, v, s, s, s, budget)?);
        }
        for m in ms {
            print_row(json, &m, cpu_gf);
            rows.push((m, cpu_gf));
        }
    }
    // The stage-1 network's convolutions at batch 64 (28×28 input).
    let s2 = Conv2dConfig::new(2, 1);
    let convs: &[([usize; 4], [usize; 4])] = &[
        ([64, 1, 28, 28], [64, 1, 4, 4]),
        ([64, 64, 14, 14], [128, 64, 4, 4]),
    ];
    let cpu_gf = rows.last().map_or(f64::NAN, |r| r.1);
    for (x, w) in convs {
        for which in ["forward", "grad_input", "grad_weight"] {
            for variant in [ConvVariant::Direct, ConvVariant::Gemm] {
                let m = bench::conv(&gpu, variant, which, *x, *w, s2, budget)?;
                print_row(json, &m, cpu_gf);
                rows.push((m, cpu_gf));
            }
        }
    }
    if json {
        let out: Vec<_> = rows
            .iter()
            .map(|(m, cpu)| json!({"kernel": m.kernel, "shape": m.shape, "gflops": m.gflops(), "seconds_per_run": m.seconds_per_run, "clock": m.clock, "ratio_vs_cpu_matmul": m.gflops() / cpu}))
            .collect();
        let report = json!({"adapter": gpu.info.name, "backend": format!("{:?}", gpu.info.backend), "results": out});
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    }
    Ok(0)
}

fn print_row(json: bool, m: &Measurement, cpu_gflops: f64) {
    if !json {
        println!(
            "{:<26} {:<28} {:>10.2} {:>9.3}  {:>9.2}×  {}",
            m.kernel,
            m.shape,
            m.gflops(),
            m.seconds_per_run * 1e3,
            m.gflops() / cpu_gflops,
            m.clock
        );
    }
}

pub fn run_step(sel: &Selection, json: bool, batch: usize, steps: usize) -> Result<i32> {
    let gpu = Gpu::new(sel)?;
    let cpu = bench::cpu_matmul(512, 512, 512);
    let r = bench::train_step(&gpu, batch, 28, steps)?;
    let r2 = bench::stage2_step(&gpu, batch, 64, vae_gpu::models::stage2::HIDDEN, steps)?;
    let ratio = r.gflops() / cpu.gflops();
    let stage2 = json!({
        "network": "stage-2 MLP VAE, 64-d latents, 3 x 1024 with input skips",
        "parameters": r2.parameters, "ms_per_step": r2.seconds_per_step * 1e3,
        "steps_per_second": 1.0 / r2.seconds_per_step, "gflops": r2.gflops(),
        "dispatches_per_step": r2.dispatches_per_step, "submits_per_step": r2.submits_per_step,
        "buffers_created_in_steady_state": r2.buffers_created,
        "ratio_vs_cpu_matmul": r2.gflops() / cpu.gflops(),
    });
    if json {
        let report = json!({
            "adapter": gpu.info.name, "backend": format!("{:?}", gpu.info.backend),
            "network": "stage-1 InfoGAN, 28x28x1", "batch": r.batch, "steps": r.steps,
            "parameters": r.parameters, "ms_per_step": r.seconds_per_step * 1e3,
            "images_per_second": r.images_per_second(), "gflops": r.gflops(),
            "dispatches_per_step": r.dispatches_per_step, "submits_per_step": r.submits_per_step,
            "buffers_created_in_steady_state": r.buffers_created, "peak_device_bytes": r.peak_bytes,
            "cpu_matmul_gflops": cpu.gflops(), "ratio_vs_cpu_matmul": ratio,
            "gpu_seconds_by_kernel": r.profile.iter().map(|(k, s, n)| json!({"entry": k, "seconds": s, "dispatches": n})).collect::<Vec<_>>(),
            "stage2": stage2,
        });
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        println!(
            "{} ({:?}, {:?})",
            gpu.info.name, gpu.info.backend, gpu.info.device_type
        );
        println!(
            "stage-1 training step, batch {} of 28×28×1, {} parameters, {} timed steps:",
            r.batch, r.parameters, r.steps
        );
        println!(
            "  {:.1} ms/step, {:.1} images/s",
            r.seconds_per_step * 1e3,
            r.images_per_second()
        );
        println!("  {:.2} GFLOP/s of conv/matmul work ({:.2} GFLOP/step); {:.2}× the CPU matmul's {:.1} GFLOP/s in this run", r.gflops(), r.flops_per_step / 1e9, ratio, cpu.gflops());
        println!("  {:.0} dispatches and {:.0} submit(s) per step; {} buffers created while timed; peak device memory {:.1} MiB", r.dispatches_per_step, r.submits_per_step, r.buffers_created, r.peak_bytes as f64 / (1 << 20) as f64);
        let total: f64 = r.profile.iter().map(|k| k.1).sum();
        if total > 0.0 {
            println!(
                "  GPU time of one step by kernel ({:.1} ms in all):",
                total * 1e3
            );
            for (k, s, n) in r.profile.iter().take(12) {
                println!(
                    "    {k:<22} {:>9.1} ms {:>5.1}%  ({n} dispatches)",
                    s * 1e3,
                    100.0 * s / total
                );
            }
        }
        println!(
            "stage-2 training step (64-d latents): {}",
            r2.line(cpu.gflops())
        );
    }
    Ok(0)
}
