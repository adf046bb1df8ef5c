//! The `vae-gpu` binary: `info`, `check` and bad flags, as a user runs them.

use std::process::Command;
use vae_gpu::gpu::{AdamVariant, ChannelSums, ConvVariant, MatmulVariant, Reads, Variant};

#[path = "tempdir.rs"]
mod tempdir;

fn vae_gpu(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vae-gpu"))
        .args(args)
        .output()
        .expect("run vae-gpu")
}

#[test]
fn info_lists_adapters_and_the_chosen_one_as_json() {
    let out = vae_gpu(&["info", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json is JSON");
    assert!(!v["adapters"].as_array().unwrap().is_empty());
    assert!(v["chosen"]["name"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        v["device_limits"]["max_storage_buffers_per_shader_stage"],
        4
    );
}

/// Mesa's drivers print "error: XDG_RUNTIME_DIR is invalid or not set" while adapters are
/// enumerated when the variable names no directory (as on a server or in CI); vae-gpu keeps
/// that from the user, on every backend.
#[test]
fn no_driver_noise_without_a_runtime_directory() {
    let out = Command::new(env!("CARGO_BIN_EXE_vae-gpu"))
        .arg("info")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("run vae-gpu");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
}

#[test]
fn check_passes_and_reports_each_kernel() {
    let out = vae_gpu(&["check", "--filter", "matmul", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --json is JSON");
    assert!(out.status.success(), "{v}");
    assert_eq!(v["failed"], 0);
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 80, "{} matmul results", results.len());
    assert!(results
        .iter()
        .all(|r| r["max_abs"].is_number() && r["tolerance"]["rel"].is_number()));
    let text = vae_gpu(&["check", "--filter", "conv"]);
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.status.success() && s.contains("conv2d_grad_weight") && s.contains("passed, 0 failed"),
        "{s}"
    );
}

/// A filter that selects nothing is an error naming the families (and the closest one), not
/// "0 passed, 0 failed"; filters ignore case; `--list` names every family without an adapter.
#[test]
fn check_filters_are_checked_and_the_families_listed() {
    let out = vae_gpu(&["check", "--filter", "nonesuch"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad value exits as clap's do: {err}"
    );
    assert!(
        err.contains("--filter")
            && err.contains("'nonesuch' matches no case")
            && err.contains("scatter, metrics"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing ran");
    let out = vae_gpu(&["check", "--filter", "Scater"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean scatter?"));
    let out = vae_gpu(&["check", "--filter", "FILL"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && s.contains("passed, 0 failed") && !s.contains(" 0 passed"),
        "{s}"
    );
    let out = vae_gpu(&["check", "--list"]);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{s}");
    let listed: Vec<&str> = s
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let mut suite: Vec<&str> = Vec::new();
    for c in vae_gpu::check::suite(vae_gpu::check::Size::Quick) {
        if !suite.contains(&c.family) {
            suite.push(c.family);
        }
    }
    assert_eq!(listed, suite);
}

#[test]
fn a_bad_backend_fails_with_a_message_naming_the_flag() {
    let out = vae_gpu(&["--backend", "vulcan", "check"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--backend") && err.contains("vulcan"), "{err}");
    let out = vae_gpu(&["--adapter", "no-such-gpu-xyz", "info"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-gpu-xyz"));
    // A number is an index into `info`'s list, never part of a name.
    let out = vae_gpu(&["--adapter", "99", "info"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("--adapter: there is no adapter [99]")
            && err.contains("[0] "),
        "{err}"
    );
    // The default choice (on the backend WGPU_BACKEND selects), asked for by its number.
    let info = |args: &[&str]| -> serde_json::Value {
        serde_json::from_slice(&vae_gpu(args).stdout).expect("info --json is JSON")
    };
    let v = info(&["info", "--json"]);
    let i = v["adapters"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| *a == v["chosen"])
        .unwrap()
        .to_string();
    assert_eq!(
        info(&["--adapter", &i, "info", "--json"])["chosen"],
        v["chosen"]
    );
}

#[test]
fn a_training_step_is_one_submit_with_no_new_buffers() {
    let out = vae_gpu(&[
        "bench",
        "train",
        "--batch-size",
        "2",
        "--steps",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("bench train --json is JSON");
    // A readback inside the step would add a submit; a leak would create buffers; a bind
    // group per dispatch would mean the cache missed.
    assert_eq!(v["submits_per_step"], 1.0, "{v}");
    assert_eq!(v["buffers_created_in_steady_state"], 0, "{v}");
    assert_eq!(v["bind_groups_created_in_steady_state"], 0, "{v}");
    let host = v["host_us_per_dispatch"].as_f64().unwrap();
    assert!(host > 0.0 && host.is_finite(), "{v}");
    assert!(
        v["peak_device_bytes"].as_u64().unwrap() > 13_331_586 * 4,
        "{v}"
    );
    assert!(v["cpu_matmul_gflops"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["dispatches_per_step"].as_f64().unwrap() > 100.0, "{v}");
    assert!(v["images_per_second"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(
        v["parameters"], 13_331_586,
        "the reference stage-1 network at 28×28×1"
    );
    // Stage 2 too: one submit, nothing created, the reference MLP's size
    // (3 × 1024 layers each side, input skips into the heads: 4,540,609 with γ_z).
    let s2 = &v["stage2"];
    assert_eq!(s2["submits_per_step"], 1.0, "{v}");
    assert_eq!(s2["buffers_created_in_steady_state"], 0, "{v}");
    assert!(s2["steps_per_second"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(s2["parameters"], 4_540_609, "{v}");
    // The PixelCNN-VAE's step, and its sampling: one decoder pass and one draw a pixel, one
    // submit each, no readback.
    let px = &v["pixelcnn"];
    assert_eq!(px["submits_per_step"], 1.0, "{v}");
    assert_eq!(px["buffers_created_in_steady_state"], 0, "{v}");
    let sampling = &px["sampling"];
    assert_eq!(sampling["submits_per_pixel"], 1.0, "{v}");
    assert!(
        sampling["dispatches_per_pixel"].as_f64().unwrap() > 12.0,
        "{v}"
    );
    assert!(
        sampling["seconds_per_image_set"].as_f64().unwrap() > 0.0,
        "{v}"
    );
}

/// The copies a step records, counted with the bytes they move: with Adam on its snapshot
/// route every parameter, gradient and moment is copied into a texture once per step, so a
/// step moves at least 4 arrays × 4 bytes × the parameters (the few elements before the first
/// and after the last multiple of 4 go through the scalar kernel, not a copy).
#[test]
fn a_step_counts_its_copies_and_their_bytes() {
    let out = Command::new(env!("CARGO_BIN_EXE_vae-gpu"))
        .args([
            "bench",
            "train",
            "--batch-size",
            "2",
            "--steps",
            "1",
            "--json",
        ])
        .env("VAE_GPU_ADAM", "textures")
        .output()
        .expect("run vae-gpu");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (step, params) in [(&v, 13_331_586u64), (&v["stage2"], 4_540_609)] {
        let copies = step["copies_per_step"].as_f64().unwrap();
        let bytes = step["copied_bytes_per_step"].as_f64().unwrap();
        let adam = (16 * (params / 4 * 4)) as f64;
        assert!(
            bytes >= adam,
            "{bytes} bytes copied, Adam alone copies {adam}: {v}"
        );
        // Adam's chunks are at most 4096 × 64 texels: four copies for each.
        assert!(
            copies >= 4.0 * (params as f64 / 4.0 / 262_144.0).ceil(),
            "{v}"
        );
    }
}

/// The kernel table at the smoke budget: every family has rows, every row a positive time and
/// the rate its kind calls for, and the fraction of a given peak is that rate over the peak.
/// (Shape of the output only: speed is for benchmarks, not tests.)
#[test]
fn the_kernel_benchmark_covers_every_family_with_rates_and_peak_fractions() {
    let out = vae_gpu(&[
        "bench",
        "--quick",
        "--json",
        "--peak-gflops",
        "1000",
        "--peak-gbps",
        "100",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench --json is JSON");
    let rows = v["results"].as_array().unwrap();
    for family in [
        "matmul/texture",
        "matmul/vec4",
        "matmul/blocked",
        "matmul/tiled",
        "stage-1 encoder fc forward",
        "stage-2 hidden grad weight",
        "conv2d/forward/gemm",
        "conv2d/grad_input/direct",
        "conv2d/grad_weight/gemm",
        "unary/relu",
        "binary/add",
        "reduce/sum_all",
        "batchnorm/train forward",
        "random/reparameterize",
        "loss/gaussian_nll",
        "adam/textures",
        "adam/buffers",
    ] {
        let n = rows
            .iter()
            .filter(|r| r["kernel"].as_str().unwrap().contains(family))
            .count();
        assert!(n >= 1, "no row for {family}: {v}");
    }
    for r in rows {
        let ms = r["ms"].as_f64().unwrap();
        assert!(ms > 0.0 && ms.is_finite(), "{r}");
        let gbps = r["gbps"].as_f64().unwrap();
        let peak_b = r["fraction_of_peak_gbps"].as_f64().unwrap();
        assert!((peak_b - gbps / 100.0).abs() <= 1e-9 * gbps.max(1.0), "{r}");
        match r["gflops"].as_f64() {
            Some(g) => {
                assert!(
                    r["kernel"].as_str().unwrap().starts_with("matmul")
                        || r["kernel"].as_str().unwrap().starts_with("conv2d"),
                    "{r}"
                );
                let p = r["fraction_of_peak_gflops"].as_f64().unwrap();
                assert!((p - g / 1000.0).abs() <= 1e-9 * g.max(1.0), "{r}");
                assert!(r["ratio_vs_cpu_matmul"].as_f64().unwrap() > 0.0, "{r}");
            }
            None => assert!(r["fraction_of_peak_gflops"].is_null(), "{r}"),
        }
    }
    assert!(v["host_us_per_dispatch"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["cpu_copy_gbps"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(v["peak_gflops"], 1000.0);
    assert!(
        v["timestamps"].is_boolean() && v["adapter"].is_string(),
        "{v}"
    );
}

#[test]
fn bench_rejects_a_zero_batch_naming_the_flag() {
    let out = vae_gpu(&["bench", "train", "--batch-size", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--batch-size"));
    let out = vae_gpu(&["bench", "--peak-gflops", "0"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("--peak-gflops") && e.contains("positive"), "{e}");
}

fn vae_gpu_tuned(file: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vae-gpu"));
    c.args(args).env("VAE_GPU_TUNING", file);
    for var in vae_gpu::gpu::route::override_vars() {
        c.env_remove(var);
    }
    c.output().expect("run vae-gpu")
}

/// A routing choice as `info --json` shows it: (choice, source).
fn route(info: &serde_json::Value, field: &str) -> (String, String) {
    let r = &info["routing"][field];
    let s = |k: &str| {
        r[k].as_str()
            .unwrap_or_else(|| panic!("{field}.{k}: {info}"))
            .to_string()
    };
    (s("choice"), s("source"))
}

/// `info --json` with a routing choice's variable set to each of its variants (in upper case:
/// names match in any case): the choice reads back what was asked, its source names the
/// variable; a value that is no variant is refused naming the variable, the value and the
/// choices.
fn choice_follows_the_environment<V: Variant>() {
    let info = |value: &str| {
        Command::new(env!("CARGO_BIN_EXE_vae-gpu"))
            .args(["info", "--json"])
            .env(V::ENV, value)
            .output()
            .expect("run vae-gpu")
    };
    for v in V::all() {
        let out = info(&v.name().to_uppercase());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let i: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            route(&i, V::FIELD),
            (v.name().into(), "override".into()),
            "{i}"
        );
        assert_eq!(i["routing"][V::FIELD]["detail"], V::ENV, "{i}");
    }
    let out = info("fastest");
    let e = String::from_utf8_lossy(&out.stderr);
    let names: Vec<_> = V::all().iter().map(|v| v.name()).collect();
    assert!(
        !out.status.success()
            && e.contains(V::ENV)
            && e.contains("'fastest'")
            && e.contains(&names.join(", ")),
        "{e}"
    );
}

/// Every routing choice follows its environment variable.
#[test]
fn routing_choices_follow_the_environment() {
    choice_follows_the_environment::<MatmulVariant>();
    choice_follows_the_environment::<ConvVariant>();
    choice_follows_the_environment::<AdamVariant>();
    choice_follows_the_environment::<Reads>();
    choice_follows_the_environment::<ChannelSums>();
}

/// `bench tune` records this adapter's fastest kernels, later commands use them, an entry
/// the device did not measure (vec4 written by hand) is honoured too, and a broken file is
/// refused with its name.
#[test]
fn tuning_is_recorded_per_adapter_and_read_back() {
    let dir = tempdir::tempdir("tuning");
    let file = dir.path().join("cache/tuning.json");
    let out = vae_gpu_tuned(&file, &["bench", "tune", "--quick", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v["key"].as_str().unwrap().to_string();
    assert!(key.contains(v["adapter"].as_str().unwrap()), "{v}");
    let winner = v["matmul"].as_str().unwrap().to_string();
    let times = v["measured"]["matmul_seconds"].as_array().unwrap();
    // Every variant that runs its own kernel here: subgroup only with a fixed subgroup size.
    let info = vae_gpu_tuned(&dir.path().join("none.json"), &["info", "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let mut names: Vec<&str> = times
        .iter()
        .map(|t| t["variant"].as_str().unwrap())
        .collect();
    names.sort();
    let mut want = vec!["blocked", "texture", "tiled", "tiled128", "vec4"];
    if !info["caps"]["subgroup_size"].is_null() {
        want.push("subgroup");
        want.sort();
    }
    assert_eq!(names, want, "{v}");
    // The winner is the fastest candidate timed throughout.
    let best = times
        .iter()
        .filter_map(|t| {
            t["seconds"]
                .as_f64()
                .map(|s| (s, t["variant"].as_str().unwrap()))
        })
        .fold((f64::INFINITY, ""), |a, b| if b.0 < a.0 { b } else { a });
    assert_eq!(best.1, winner, "{v}");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored[&key]["matmul"], winner.as_str());
    // Both Adam routes are timed, and the faster is recorded.
    let adams = v["measured"]["adam_seconds"].as_array().unwrap();
    let mut routes: Vec<(f64, &str)> = adams
        .iter()
        .map(|t| {
            (
                t["seconds"].as_f64().unwrap(),
                t["variant"].as_str().unwrap(),
            )
        })
        .collect();
    routes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut names: Vec<&str> = routes.iter().map(|r| r.1).collect();
    names.sort();
    assert_eq!(names, ["buffers", "textures"], "{v}");
    assert_eq!(v["adam"], routes[0].1, "{v}");
    // Every read path is timed, and the faster recorded.
    let paths = v["measured"]["reads_seconds"].as_array().unwrap();
    let mut names: Vec<&str> = paths
        .iter()
        .map(|t| t["variant"].as_str().unwrap())
        .collect();
    assert_eq!(v["reads"], names[0], "{v}");
    names.sort();
    assert_eq!(names, ["buffers", "textures"], "{v}");
    assert_eq!(stored[&key]["adam"], routes[0].1);

    let info = |file: &std::path::Path| {
        let out = vae_gpu_tuned(file, &["info", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let i = info(&file);
    assert_eq!(route(&i, "matmul"), (winner.clone(), "tuned".into()), "{i}");
    assert_eq!(
        route(&i, "adam"),
        (routes[0].1.into(), "tuned".into()),
        "{i}"
    );
    assert_eq!(route(&i, "reads").0, v["reads"], "{i}");
    assert_eq!(
        i["routing"]["matmul"]["detail"],
        file.display().to_string(),
        "{i}"
    );
    assert_eq!(i["tuning_file"], file.display().to_string(), "{i}");

    let mut edited = stored.clone();
    edited[&key]["matmul"] = "vec4".into();
    edited[&key]["conv"] = "direct".into();
    let other = if routes[0].1 == "buffers" {
        "textures"
    } else {
        "buffers"
    };
    edited[&key]["adam"] = other.into();
    std::fs::write(&file, edited.to_string()).unwrap();
    let i = info(&file);
    assert_eq!(
        (
            route(&i, "matmul").0,
            route(&i, "conv").0,
            route(&i, "adam").0
        ),
        ("vec4".into(), "direct".into(), other.into()),
        "{i}"
    );
    // A file written before Adam and the reads were tuned: the rules for those two (Adam
    // through textures where textures are read, except on a CPU with AVX-512), the rest as
    // recorded.
    let mut older = edited.clone();
    older[&key].as_object_mut().unwrap().remove("adam");
    older[&key].as_object_mut().unwrap().remove("reads");
    std::fs::write(&file, older.to_string()).unwrap();
    let i = info(&file);
    let cpu = i["caps"]["cpu_rasteriser"] == true;
    let (reads, source) = route(&i, "reads");
    assert_eq!(
        (reads.as_str(), source.as_str()),
        (if cpu { "textures" } else { "buffers" }, "rule"),
        "{i}"
    );
    let default = if cpu && !vae_gpu::gpu::adapter::host_cpu_has_avx512() {
        "textures"
    } else {
        "buffers"
    };
    assert_eq!(route(&i, "adam"), (default.into(), "rule".into()), "{i}");
    assert_eq!(route(&i, "matmul"), ("vec4".into(), "tuned".into()), "{i}");
    std::fs::write(&file, edited.to_string()).unwrap();
    // Without a file, the built-in defaults.
    let i = info(&dir.path().join("none.json"));
    assert!(i["tuning_file"].is_null(), "{i}");

    for (text, says) in [
        ("{\"x\":", "is not a tuning file"),
        ("", "is not a tuning file"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = vae_gpu_tuned(&file, &["info"]);
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && e.contains(&file.display().to_string()) && e.contains(says),
            "{e}"
        );
    }
    edited[&key]["adam"] = "fastest".into();
    std::fs::write(&file, edited.to_string()).unwrap();
    let out = vae_gpu_tuned(&file, &["info"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("adam 'fastest' is not one of"),
        "{e}"
    );
    edited[&key]["adam"] = "buffers".into();
    edited[&key]["matmul"] = "fastest".into();
    std::fs::write(&file, edited.to_string()).unwrap();
    let out = vae_gpu_tuned(&file, &["info"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("matmul 'fastest' is not one of"),
        "{e}"
    );
}

/// Mesa's llvmpipe cache ignores `LP_NATIVE_VECTOR_WIDTH`, so the binary gives each width a
/// shader cache of its own under vae-gpu's cache folder, and leaves the width to Mesa (256
/// bits with AVX2) and a cache the user names alone. Each folder is one Mesa then fills:
/// a `check` that compiles kernels at 512 bits writes into the 512-bit one and not the other.
#[test]
fn each_llvmpipe_vector_width_compiles_into_a_shader_cache_of_its_own() {
    let dir = tempdir::tempdir("shader-cache");
    let run = |width: Option<&str>, user_dir: Option<&str>, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vae-gpu"));
        c.args(args).env("XDG_CACHE_HOME", dir.path());
        match width {
            Some(w) => c.env("LP_NATIVE_VECTOR_WIDTH", w),
            None => c.env_remove("LP_NATIVE_VECTOR_WIDTH"),
        };
        match user_dir {
            Some(d) => c.env("MESA_SHADER_CACHE_DIR", d),
            None => c.env_remove("MESA_SHADER_CACHE_DIR"),
        };
        let out = c.output().expect("run vae-gpu");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let info = |width, user_dir| {
        serde_json::from_slice::<serde_json::Value>(&run(width, user_dir, &["info", "--json"]))
            .unwrap()
    };
    let ours = |w: &str| dir.path().join("vae-gpu").join(format!("mesa-lp-{w}"));

    let i = info(None, None);
    assert!(i["lp_native_vector_width"].is_null(), "{i}");
    let default_dir = ours("default");
    assert_eq!(
        i["mesa_shader_cache_dir"],
        default_dir.display().to_string()
    );
    let name = i["chosen"]["name"].as_str().unwrap().to_string();
    let llvmpipe = name.contains("llvmpipe");
    if llvmpipe {
        assert!(!name.contains("512 bits"), "{name}");
    }
    let i = info(Some("512"), None);
    assert_eq!(
        i["mesa_shader_cache_dir"],
        ours("512").display().to_string()
    );
    let i = info(Some("256"), Some("/nonexistent/cache"));
    assert_eq!(i["mesa_shader_cache_dir"], "/nonexistent/cache");

    #[cfg(target_arch = "x86_64")]
    let wide = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let wide = false;
    if llvmpipe && wide {
        let files = |d: &std::path::Path| {
            let mut n = 0;
            let mut stack = vec![d.to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    match e.file_type().unwrap().is_dir() {
                        true => stack.push(e.path()),
                        false => n += 1,
                    }
                }
            }
            n
        };
        let before = files(&default_dir);
        run(Some("512"), None, &["check", "--filter", "fill"]);
        assert!(files(&ours("512")) > 0, "nothing cached at 512 bits");
        assert_eq!(
            files(&default_dir),
            before,
            "512-bit code in the default cache"
        );
    }
}

/// The AVX-512 check behind Adam's default agrees with the kernel's reading of the CPU.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn the_host_cpu_avx512_check_agrees_with_proc_cpuinfo() {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags"))
        .and_then(|l| l.split(':').nth(1))
        .expect("flags in /proc/cpuinfo");
    let listed = flags.split_whitespace().any(|f| f == "avx512f");
    assert_eq!(
        vae_gpu::gpu::adapter::host_cpu_has_avx512(),
        listed,
        "{flags}"
    );
}

/// `completions` prints a script the shell accepts, covering the subcommands and their flags.
#[test]
fn shell_completions_parse_and_know_the_flags() {
    let out = vae_gpu(&["completions", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    for word in ["train", "reproduce", "--stage2-steps", "--filter", "--list"] {
        assert!(script.contains(word), "{word}");
    }
    let dir = tempdir::tempdir("completions");
    let file = dir.path().join("vae-gpu.bash");
    std::fs::write(&file, script.as_bytes()).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let out = vae_gpu(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is clap's usage error"
    );
}
