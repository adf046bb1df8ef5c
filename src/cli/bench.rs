//! `vae-gpu bench`: matmul variants and conv2d directions in GFLOP/s, with the
//! multi-threaded CPU matmul of the same run as the reference point.

use serde_json::json;
use vae_gpu::bench::{self, Measurement};
use vae_gpu::gpu::MatmulVariant;
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
            let m = bench::conv(&gpu, which, *x, *w, s2, budget)?;
            print_row(json, &m, cpu_gf);
            rows.push((m, cpu_gf));
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
