//! `vae-gpu bench`: the kernel table (every kernel family at three sizes and the networks'
//! shapes, median of rounds, GFLOP/s or GB/s, the fraction of a given peak), or `bench train`:
//! whole training steps of stage 1 and stage 2. Both print the multi-threaded CPU matmul of
//! the same run as the reference point, and `--json` for comparing adapters.

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use vae_gpu::bench::{self, Measurement, StepReport};
use vae_gpu::gpu::{tuned, Variant};
use vae_gpu::models::PixelCnnShape;
use vae_gpu::{Gpu, Result, Selection};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: Option<What>,
    /// One JSON document on stdout instead of the table.
    #[arg(long, global = true)]
    json: bool,
    /// Small shapes and short timing windows (CI's smoke run; the figures are not comparable).
    #[arg(long, global = true)]
    quick: bool,
    /// The adapter's FP32 peak in GFLOP/s (wgpu cannot report it): adds a fraction-of-peak
    /// column for compute-bound kernels.
    #[arg(long, global = true, value_parser = positive)]
    peak_gflops: Option<f64>,
    /// The adapter's memory bandwidth in GB/s: adds a fraction-of-peak column for
    /// memory-bound kernels.
    #[arg(long, global = true, value_parser = positive)]
    peak_gbps: Option<f64>,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Every kernel (the default).
    Kernels,
    /// Whole training steps (forward, backward, Adam) of the stage-1 network on 28×28×1, the
    /// stage-2 VAE on 64-d latents and the PixelCNN-VAE on 28×28×1: images/s, dispatches and
    /// submits per step, host time per dispatch, peak device memory; and the PixelCNN's
    /// sampling, pixel by pixel (one row timed).
    Train {
        /// Examples per step, as train's --batch-size.
        #[arg(long = "batch-size", alias = "batch", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
        batch: u64,
        /// Timed steps (after two warm-up steps).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=10000))]
        steps: u64,
        /// Also break one step down by kernel (GPU timestamps; needs an adapter with them).
        #[arg(long)]
        profile: bool,
    },
    /// Time every matmul variant on the networks' products, every convolution path on the
    /// stage-1 layer, every Adam route and every read path, and record the fastest of each for
    /// this adapter and driver in the tuning file ($VAE_GPU_TUNING, else
    /// $XDG_CACHE_HOME/vae-gpu/tuning.json or ~/.cache/vae-gpu/tuning.json), which every later
    /// command on this adapter reads.
    Tune,
}

fn positive(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

pub fn run(sel: &Selection, mut a: BenchArgs) -> Result<i32> {
    let gpu = Gpu::new(sel)?;
    // The reference point of this run; its size does not shrink with --quick, so ratios stay
    // comparable between quick and full runs.
    let cpu = bench::cpu_matmul(512, 512, 512).gflops();
    let copy = bench::cpu_copy_gbps(256);
    let header = json!({
        "adapter": gpu.info.name, "backend": format!("{:?}", gpu.info.backend),
        "device_type": format!("{:?}", gpu.info.device_type), "driver": gpu.info.driver_info,
        "timestamps": gpu.has_timestamps(), "cpu_matmul_gflops": cpu, "cpu_copy_gbps": copy,
        "peak_gflops": a.peak_gflops, "peak_gbps": a.peak_gbps, "quick": a.quick,
    });
    if !a.json {
        println!(
            "{} ({:?}, {:?}, {}); timestamps: {}; in this run the CPU's matmul 512³ ran {cpu:.1} GFLOP/s and its memcpy {copy:.1} GB/s",
            gpu.info.name,
            gpu.info.backend,
            gpu.info.device_type,
            gpu.info.driver_info,
            gpu.has_timestamps()
        );
    }
    let doc = match a.what.take().unwrap_or(What::Kernels) {
        What::Kernels => kernels(&gpu, &a, cpu, header)?,
        What::Train {
            batch,
            steps,
            profile,
        } => {
            let (batch, steps) = (batch as usize, steps as usize);
            let s1 = bench::train_step(&gpu, batch, 28, steps, profile)?;
            let s2 = bench::stage2_step(&gpu, batch, 64, HIDDEN, steps, profile)?;
            let shape = PixelCnnShape::default();
            let px = bench::pixelcnn_step(&gpu, batch, 28, shape, steps, profile)?;
            // 28 pixels timed, spread over the image; a 28×28 image is 784 such passes.
            let sampling = bench::pixelcnn_sampling(&gpu, batch, 28, shape, 28)?;
            let pixel_name = format!(
                "PixelCNN-VAE, 28×28×1, {} gated layers × {} channels, 256-way",
                shape.layers, shape.width
            );
            if !a.json {
                print_step("stage-1 InfoGAN, 28×28×1", &s1, cpu);
                print_step("stage-2 MLP VAE, 64-d latents", &s2, cpu);
                print_step(&pixel_name, &px, cpu);
                println!(
                    "  sampling {} images pixel by pixel: {:.1} ms, {:.0} dispatches and {:.0} submit a pixel ({} timed); the 784 pixels take {}",
                    sampling.images,
                    sampling.seconds_per_pixel * 1e3,
                    sampling.dispatches_per_pixel,
                    sampling.submits_per_pixel,
                    sampling.pixels_timed,
                    vae_gpu::text::duration(sampling.seconds_per_image_set())
                );
            }
            let mut doc = step_json(&s1, cpu);
            doc["network"] = json!("stage-1 InfoGAN, 28x28x1");
            doc["stage2"] = step_json(&s2, cpu);
            doc["stage2"]["network"] =
                json!("stage-2 MLP VAE, 64-d latents, 3 x 1024 with input skips");
            doc["pixelcnn"] = step_json(&px, cpu);
            doc["pixelcnn"]["network"] = json!(pixel_name);
            doc["pixelcnn"]["sampling"] = json!({
                "images": sampling.images,
                "pixels_timed": sampling.pixels_timed,
                "seconds_per_pixel": sampling.seconds_per_pixel,
                "dispatches_per_pixel": sampling.dispatches_per_pixel,
                "submits_per_pixel": sampling.submits_per_pixel,
                "seconds_per_image_set": sampling.seconds_per_image_set(),
            });
            merge(header, doc)
        }
        What::Tune => merge(header, tune(&gpu, a.quick, a.json)?),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    }
    Ok(0)
}

const HIDDEN: usize = vae_gpu::models::stage2::HIDDEN;

fn tune(gpu: &std::sync::Arc<Gpu>, quick: bool, json: bool) -> Result<Value> {
    let t = bench::tune::tune(gpu, quick)?;
    let measured = tuned::Measured {
        matmul_seconds: tuned::Timing::of(&t.matmul),
        conv_seconds: tuned::Timing::of(&t.conv),
        adam_seconds: tuned::Timing::of(&t.adam),
        reads_seconds: tuned::Timing::of(&t.reads),
        quick,
    };
    let (matmul, conv, adam, reads) = (t.matmul[0].0, t.conv[0].0, t.adam[0].0, t.reads[0].0);
    let file = tuned::store(
        &gpu.info,
        tuned::Entry {
            matmul: matmul.name().into(),
            conv: conv.name().into(),
            adam: Some(adam.name().into()),
            reads: Some(reads.name().into()),
            measured: measured.clone(),
        },
    )?;
    if !json {
        println!("matmul over the networks' products (seconds, fastest first; – : over 3× the best on the first):");
        for (v, s) in &t.matmul {
            println!(
                "  {:<8} {}",
                v.name(),
                s.map_or("–".into(), |s| format!("{s:.4}"))
            );
        }
        println!("conv2d, the stage-1 64 → 128 layer, all three directions (seconds):");
        for (v, s) in &t.conv {
            println!("  {:<8} {s:.4}", v.name());
        }
        println!("Adam, one step over the stage-1 parameters (seconds):");
        for (v, s) in &t.adam {
            println!("  {:<8} {s:.4}", v.name());
        }
        println!("memory-bound kernels' reads, a ReLU and an addition over one stage-1 activation (seconds):");
        for (v, s) in &t.reads {
            println!("  {:<8} {s:.4}", v.name());
        }
        println!(
            "recorded matmul={} conv={} adam={} reads={} for '{}' in {}",
            matmul.name(),
            conv.name(),
            adam.name(),
            reads.name(),
            tuned::key(&gpu.info),
            file.display()
        );
    }
    Ok(json!({
        "file": file.display().to_string(), "key": tuned::key(&gpu.info),
        "matmul": matmul.name(), "conv": conv.name(), "adam": adam.name(), "reads": reads.name(),
        "measured": measured,
    }))
}

fn merge(mut header: Value, doc: Value) -> Value {
    if let (Some(h), Value::Object(d)) = (header.as_object_mut(), doc) {
        h.extend(d);
    }
    header
}

fn kernels(gpu: &std::sync::Arc<Gpu>, a: &BenchArgs, cpu: f64, header: Value) -> Result<Value> {
    let host = bench::dispatch_overhead(gpu, if a.quick { 200 } else { 5000 })?;
    let rows = bench::kernels::suite(gpu, a.quick)?;
    let frac = |v: f64, peak: Option<f64>| peak.map(|p| v / p);
    if !a.json {
        println!("host CPU time to record one dispatch: {:.2} µs", host * 1e6);
        println!(
            "{:<46} {:<26} {:>9} {:>9} {:>8} {:>7} {:>8}  clock",
            "kernel", "shape", "ms", "GFLOP/s", "GB/s", "% peak", "vs CPU"
        );
        for m in &rows {
            let (g, b) = (m.gflops(), m.gbps());
            let peak = if m.flops > 0.0 {
                frac(g, a.peak_gflops)
            } else {
                frac(b, a.peak_gbps)
            };
            println!(
                "{:<46} {:<26} {:>9.3} {:>9} {:>8.2} {:>7} {:>8}  {}",
                m.kernel,
                m.shape,
                m.seconds_per_run * 1e3,
                if m.flops > 0.0 {
                    format!("{g:.2}")
                } else {
                    "–".into()
                },
                b,
                peak.map_or("–".into(), |p| format!("{:.1}", 100.0 * p)),
                if m.flops > 0.0 {
                    format!("{:.2}×", g / cpu)
                } else {
                    "–".into()
                },
                m.clock
            );
        }
    }
    let results: Vec<Value> = rows.iter().map(|m| row_json(m, a, cpu)).collect();
    Ok(merge(
        header,
        json!({"host_us_per_dispatch": host * 1e6, "results": results}),
    ))
}

fn row_json(m: &Measurement, a: &BenchArgs, cpu: f64) -> Value {
    let compute = m.flops > 0.0;
    let gflops = compute.then(|| m.gflops());
    json!({
        "kernel": m.kernel, "shape": m.shape, "ms": m.seconds_per_run * 1e3,
        "flops": m.flops, "bytes": m.bytes,
        "gflops": gflops, "gbps": m.gbps(),
        "fraction_of_peak_gflops": gflops.zip(a.peak_gflops).map(|(g, p)| g / p),
        "fraction_of_peak_gbps": a.peak_gbps.map(|p| m.gbps() / p),
        "ratio_vs_cpu_matmul": gflops.map(|g| g / cpu), "clock": m.clock,
    })
}

fn step_json(r: &StepReport, cpu: f64) -> Value {
    json!({
        "batch": r.batch, "steps": r.steps, "parameters": r.parameters,
        "ms_per_step": r.seconds_per_step * 1e3, "steps_per_second": 1.0 / r.seconds_per_step,
        "images_per_second": r.images_per_second(), "gflops": r.gflops(),
        "flops_per_step": r.flops_per_step,
        "dispatches_per_step": r.dispatches_per_step, "submits_per_step": r.submits_per_step,
        "copies_per_step": r.copies_per_step, "copied_bytes_per_step": r.copied_bytes_per_step,
        "host_us_per_dispatch": r.host_seconds_per_dispatch * 1e6,
        "host_wall_us_per_dispatch": r.host_wall_seconds_per_dispatch * 1e6,
        "buffers_created_in_steady_state": r.buffers_created,
        "bind_groups_created_in_steady_state": r.bind_groups_created,
        "peak_device_bytes": r.peak_bytes,
        "cpu_matmul_gflops": cpu, "ratio_vs_cpu_matmul": r.gflops() / cpu,
        "gpu_seconds_by_kernel": r.profile.iter().map(|(k, s, n)| json!({"entry": k, "seconds": s, "dispatches": n})).collect::<Vec<_>>(),
    })
}

fn print_step(name: &str, r: &StepReport, cpu: f64) {
    println!(
        "{name}: batch {}, {} parameters, {} timed steps",
        r.batch, r.parameters, r.steps
    );
    println!(
        "  {:.1} ms/step, {:.1} images/s; {:.2} GFLOP/s of matmul/conv work ({:.2} GFLOP/step), {:.2}× the CPU matmul",
        r.seconds_per_step * 1e3,
        r.images_per_second(),
        r.gflops(),
        r.flops_per_step / 1e9,
        r.gflops() / cpu
    );
    println!(
        "  {:.0} dispatches, {:.0} copies ({:.1} MiB) and {:.0} submit(s) per step; host {:.1} µs CPU ({:.1} µs wall) per dispatch; {} buffers and {} bind groups created while timed; peak device memory {:.1} MiB",
        r.dispatches_per_step,
        r.copies_per_step,
        r.copied_bytes_per_step / (1 << 20) as f64,
        r.submits_per_step,
        r.host_seconds_per_dispatch * 1e6,
        r.host_wall_seconds_per_dispatch * 1e6,
        r.buffers_created,
        r.bind_groups_created,
        r.peak_bytes as f64 / (1 << 20) as f64
    );
    let total: f64 = r.profile.iter().map(|k| k.1).sum();
    if total > 0.0 {
        println!(
            "  GPU time of one step by kernel ({:.1} ms in all):",
            total * 1e3
        );
        for (k, s, n) in &r.profile {
            println!(
                "    {k:<28} {:>9.2} ms {:>5.1}%  ({n} dispatches)",
                s * 1e3,
                100.0 * s / total
            );
        }
        println!(
            "  the step's time beyond these: {:.1} ms (copies into textures, which timestamps do not bracket; submits; host time the device waited for)",
            (r.seconds_per_step - total).max(0.0) * 1e3
        );
    }
}
