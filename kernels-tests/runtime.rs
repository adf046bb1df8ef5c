//! The tensor runtime: adapter selection, buffer pool, batching, grid folding, views, timing.

use vae_gpu::check::Rng;
use vae_gpu::gpu::{adapter, Selection};
use vae_gpu::gpu::{ConvVariant, MatmulVariant, Reads, Routing};
use vae_gpu::kernels::adam::{adam_update, reference as adam_reference, AdamConfig};
use vae_gpu::kernels::binary::{add, mul};
use vae_gpu::kernels::conv2d::{conv2d, Conv2dConfig};
use vae_gpu::kernels::matmul::{matmul, matmul_with, reference as matmul_reference};
use vae_gpu::kernels::reduce::sum_all;
use vae_gpu::kernels::unary::{unary, Unary};
use vae_gpu::Tensor;

use crate::common::gpu;

#[test]
fn the_adapter_is_the_one_the_environment_asked_for() {
    let (gpu, _turn) = gpu();
    if let Ok(b) = std::env::var("WGPU_BACKEND") {
        let wanted = adapter::parse_backends(&b).unwrap();
        assert!(
            wanted.contains(gpu.info.backend.into()),
            "WGPU_BACKEND={b} but the tests ran on {:?}",
            gpu.info.backend
        );
    }
    // The device is opened at the integrated-graphics baseline that every kernel is written for.
    let l = gpu.device.limits();
    let base = wgpu::Limits::downlevel_defaults();
    assert_eq!(
        l.max_storage_buffers_per_shader_stage,
        base.max_storage_buffers_per_shader_stage
    );
    assert_eq!(
        l.max_compute_workgroup_storage_size,
        base.max_compute_workgroup_storage_size
    );
    assert_eq!(
        l.max_compute_invocations_per_workgroup,
        base.max_compute_invocations_per_workgroup
    );
}

#[test]
fn unknown_backends_and_adapters_are_refused_with_a_useful_message() {
    let e = adapter::parse_backends("vulcan").unwrap_err().to_string();
    assert!(e.contains("--backend") && e.contains("vulcan"), "{e}");
    let sel = Selection {
        backend: None,
        adapter: Some("no such adapter 12345".into()),
    };
    let e = adapter::choose(&sel).unwrap_err().to_string();
    assert!(
        e.contains("no such adapter 12345") && e.contains("adapters present"),
        "{e}"
    );
}

/// A training-like loop with the same shapes every step creates no buffers after the first step.
#[test]
fn a_steady_state_loop_allocates_nothing_new() {
    let (gpu, _turn) = gpu();
    let mut rng = Rng::new(5);
    let x = rng.data(&[8, 3, 12, 12], -1.0, 1.0).upload(&gpu).unwrap();
    let w = rng.data(&[6, 3, 3, 3], -1.0, 1.0).upload(&gpu).unwrap();
    let m = rng.data(&[64, 40], -1.0, 1.0).upload(&gpu).unwrap();
    let step = || {
        let y = conv2d(&x, &w, Conv2dConfig::new(1, 1)).unwrap();
        let z = unary(Unary::Relu, &y).unwrap();
        let p = matmul(&m, &m, false, true).unwrap();
        let s = add(&sum_all(&z, true).unwrap(), &sum_all(&p, false).unwrap()).unwrap();
        drop((y, z, p, s));
        gpu.flush().unwrap();
    };
    // Two steps compile the pipelines and fill the pool; from then on the pool hands out
    // the same buffers in the same order, so the bind groups are the ones already cached.
    for _ in 0..2 {
        step();
    }
    let before = gpu.pool_stats();
    let (d0, s0) = gpu.counters();
    let groups0 = gpu.bind_groups_created();
    for _ in 0..5 {
        step();
    }
    let after = gpu.pool_stats();
    let (d1, s1) = gpu.counters();
    assert_eq!(
        after.created, before.created,
        "steady state created buffers: {before:?} → {after:?}"
    );
    assert_eq!(
        gpu.bind_groups_created(),
        groups0,
        "steady state created bind groups (the cache should serve every dispatch)"
    );
    assert!(after.reused + after.recycled > before.reused + before.recycled);
    // Many dispatches per step, one submit per step.
    assert_eq!(s1 - s0, 5, "one submit per step");
    assert!(
        d1 - d0 >= 5 * 6,
        "dispatches per step were batched into the submit"
    );
}

/// A kept buffer's matrix snapshot serves every texture matmul of the submit that reads the
/// same matrix, until a recorded command writes the buffer: y = x·Wᵀ and dx = dy·W copy W
/// once between them; after a recorded copy and then an in-place Adam update overwrite W,
/// the next products read the new values (each checked against the CPU product of the
/// weights it should have read; 1e-4 is ~50× the f32 rounding of 128-term sums of terms
/// below 1). Rows of 512 and 256 bytes make each snapshot one copy.
#[test]
fn kept_weight_snapshots_are_reused_until_the_weights_are_written() {
    let (gpu, _turn) = gpu();
    let mut rng = Rng::new(11);
    let (w, w2) = (
        rng.data(&[64, 128], -1.0, 1.0),
        rng.data(&[64, 128], -1.0, 1.0),
    );
    let (x, dy) = (
        rng.data(&[64, 128], -1.0, 1.0),
        rng.data(&[64, 64], -1.0, 1.0),
    );
    let g = rng.data(&[64 * 128], -1.0, 1.0);
    let wt = w.upload(&gpu).unwrap();
    let (w2t, xt, dyt, gt) = (
        w2.upload(&gpu).unwrap(),
        x.upload(&gpu).unwrap(),
        dy.upload(&gpu).unwrap(),
        g.upload(&gpu).unwrap(),
    );
    let (m, v) = (
        Tensor::zeros(&gpu, &[64 * 128]).unwrap(),
        Tensor::zeros(&gpu, &[64 * 128]).unwrap(),
    );
    gpu.keep_snapshots(wt.buffer());
    gpu.flush().unwrap();
    let tex = |a: &Tensor, b: &Tensor, tb: bool| {
        let copies = gpu.copies().0;
        let y = matmul_with(MatmulVariant::Texture, a, b, false, tb).unwrap();
        (y, gpu.copies().0 - copies)
    };
    let (y1, c1) = tex(&xt, &wt, true);
    let (y2, c2) = tex(&dyt, &wt, false);
    assert_eq!((c1, c2), (2, 1), "W is copied for the first product only");
    gpu.copy(w2t.buffer(), 0, wt.buffer(), 0, 64 * 128 * 4);
    let (y3, c3) = tex(&xt, &wt, true);
    assert_eq!(c3, 2, "a copy into W makes its snapshot stale");
    let cfg = AdamConfig::default();
    adam_update(&wt, &gt, &m, &v, 0, 64 * 128, &cfg, 0.1, 1).unwrap();
    let (y4, c4) = tex(&dyt, &wt, false);
    assert_eq!(c4, 2, "a dispatch writing W makes its snapshot stale");
    let mut stepped = w2.f64.clone();
    let (mut m0, mut v0) = (vec![0.0; 64 * 128], vec![0.0; 64 * 128]);
    adam_reference::adam(&mut stepped, &g.f64, &mut m0, &mut v0, &cfg, 0.1, 1);
    let cases = [
        (&y1, &x.f64, [64, 128], &w.f64, true),
        (&y2, &dy.f64, [64, 64], &w.f64, false),
        (&y3, &x.f64, [64, 128], &w2.f64, true),
        (&y4, &dy.f64, [64, 64], &stepped, false),
    ];
    for (i, (y, a, sa, b, tb)) in cases.into_iter().enumerate() {
        let want = matmul_reference::matmul(a, &sa, b, &[64, 128], false, tb);
        for (got, want) in y.to_vec().unwrap().iter().zip(&want) {
            assert!(
                (*got as f64 - want).abs() <= 1e-4,
                "product {}: {got} vs {want}",
                i + 1
            );
        }
    }
    gpu.release_snapshots(wt.buffer());
}

/// One recording of more dispatches than a uniform slab holds (1024): every dispatch reads
/// its own parameters, across slabs, and the bind groups cached for one slab are not reused
/// for another.
#[test]
fn parameters_of_thousands_of_dispatches_in_one_submit_stay_apart() {
    let (gpu, _turn) = gpu();
    let n = 2500;
    let mut ts = Vec::new();
    for i in 0..n {
        ts.push(Tensor::full(&gpu, &[3], i as f32).unwrap());
    }
    // Nothing was submitted in between: the values come from 2500 slots of one recording.
    let got: Vec<f32> = ts.iter().map(|t| t.to_vec().unwrap()[2]).collect();
    let want: Vec<f32> = (0..n).map(|i| i as f32).collect();
    assert_eq!(got, want);
    // And a second recording reuses the slabs with new values.
    for (i, t) in ts.iter().enumerate() {
        vae_gpu::kernels::fill::fill_bits(t, (2.0 * i as f32).to_bits()).unwrap();
    }
    let got: Vec<f32> = ts.iter().map(|t| t.to_vec().unwrap()[0]).collect();
    assert_eq!(got, want.iter().map(|v| 2.0 * v).collect::<Vec<_>>());
}

/// More than 65 535 workgroups: the grid folds into two dimensions and every element is written.
#[test]
fn launches_past_the_per_dimension_workgroup_limit_cover_every_element() {
    let (gpu, _turn) = gpu();
    let n = 65_535 * 256 + 4097;
    let x = Tensor::full(&gpu, &[n], 2.0).unwrap();
    let y = unary(Unary::Affine(3.0, 1.0), &x)
        .unwrap()
        .to_vec()
        .unwrap();
    let bad = y.iter().position(|&v| v != 7.0);
    assert_eq!(bad, None, "element {bad:?} of {n} not written");
}

#[test]
fn views_transpose_broadcast_and_narrow_without_copies() {
    let (gpu, _turn) = gpu();
    let t = Tensor::from_slice(&gpu, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    assert_eq!(
        t.transpose(0, 1).unwrap().to_vec().unwrap(),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    assert_eq!(
        t.narrow0(1, 1).unwrap().to_vec().unwrap(),
        vec![4.0, 5.0, 6.0]
    );
    let col = Tensor::from_slice(&gpu, &[10.0, 20.0], &[2, 1]).unwrap();
    assert_eq!(
        mul(&t, &col).unwrap().to_vec().unwrap(),
        vec![10.0, 20.0, 30.0, 80.0, 100.0, 120.0]
    );
    // A matmul of a transposed view equals the transposed-operand kernel.
    let a = Rng::new(6).data(&[5, 3], -1.0, 1.0).upload(&gpu).unwrap();
    let v1 = matmul(&a.transpose(0, 1).unwrap(), &a, false, false)
        .unwrap()
        .to_vec()
        .unwrap();
    let v2 = matmul(&a, &a, true, false).unwrap().to_vec().unwrap();
    for (p, q) in v1.iter().zip(&v2) {
        assert!((p - q).abs() <= 1e-6, "{p} vs {q}");
    }
}

/// Benchmarks time kernels with GPU timestamps where the adapter has them (Vulkan here)
/// and with the wall clock around a synchronised device where it does not (always GL): both
/// paths are exercised, each on the adapter that takes it. The lower bound is physical: a
/// 256³ matmul (33.6 MFLOP) cannot run faster than at 1 PFLOP/s, far above any GPU's f32
/// peak, so a clock that did not wait for the device would read below it.
#[test]
fn kernel_time_is_measured_by_timestamps_or_by_the_wall_clock() {
    let (gpu, _turn) = gpu();
    let a = Rng::new(7)
        .data(&[256, 256], -1.0, 1.0)
        .upload(&gpu)
        .unwrap();
    // An op that copies its operands into textures first is timed by the wall clock.
    let (_, clock) = vae_gpu::bench::time(&gpu, 1, 3, || {
        matmul_with(MatmulVariant::Texture, &a, &a, false, false).map(|_| ())
    })
    .unwrap();
    assert_eq!(clock, "wall-clock");
    let (seconds, clock) = vae_gpu::bench::time(&gpu, 1, 3, || {
        matmul_with(MatmulVariant::Vec4, &a, &a, false, false).map(|_| ())
    })
    .unwrap();
    let want = if gpu.has_timestamps() {
        "gpu-timestamps"
    } else {
        "wall-clock"
    };
    assert_eq!(clock, want);
    let floor = 2.0 * 256f64.powi(3) / 1e15;
    assert!(
        seconds > floor && seconds < 10.0,
        "implausible {clock} time {seconds} s for a 256³ matmul"
    );
    if !gpu.has_timestamps() {
        assert!(gpu.begin_timing(8).is_none());
        return;
    }
    gpu.begin_timing(8).unwrap();
    for _ in 0..3 {
        matmul(&a, &a, false, false).unwrap();
    }
    let t = gpu.end_timing().unwrap();
    assert_eq!(t.dispatches, 3);
    assert!(
        t.seconds > 3.0 * floor && t.seconds < 10.0,
        "implausible kernel time {}",
        t.seconds
    );
}

/// The implicit convolution gathers its columns inside the matmul where the adapter's matmul
/// reads textures (matmul_tex_sg on lavapipe, matmul_tex on GL): a 64 → 128-filter 4×4 conv
/// then records no im2col pass and copies no columns into a texture (R·N·P = 1024·128 floats;
/// x's snapshot is made either way), and gives Gemm's y (1e-4: f32 rounding of 1024-term sums
/// of products below 1 is ~1e-5, and both sum in the same order). Where it cannot (a GPU's
/// buffer matmuls), it takes Gemm's path exactly: the same dispatches, copies and y.
#[test]
fn the_implicit_convolution_reads_x_in_place_of_its_columns() {
    let (gpu, _turn) = gpu();
    let mut rng = Rng::new(12);
    let x = rng.data(&[2, 64, 16, 16], -1.0, 1.0).upload(&gpu).unwrap();
    let w = rng.data(&[128, 64, 4, 4], -1.0, 1.0).upload(&gpu).unwrap();
    let cfg = Conv2dConfig::new(2, 1);
    let run = |conv| {
        let (d0, b0) = (gpu.counters().0, gpu.copies().1);
        let y = gpu.scoped(|t| Routing { conv, ..t }, || conv2d(&x, &w, cfg).unwrap());
        let counts = (gpu.counters().0 - d0, gpu.copies().1 - b0);
        (y.to_vec().unwrap(), counts)
    };
    let (yg, gemm) = run(ConvVariant::Gemm);
    let (yi, implicit) = run(ConvVariant::Implicit);
    let t = gpu.routing();
    let textures = matches!(t.matmul, MatmulVariant::Subgroup | MatmulVariant::Texture);
    if textures && t.reads == Reads::Textures {
        assert_eq!(implicit.0 + 1, gemm.0, "one dispatch fewer: no im2col");
        assert_eq!(
            gemm.1 - implicit.1,
            1024 * 128 * 4,
            "no copy of the columns"
        );
    } else {
        assert_eq!(implicit, gemm, "the same path as Gemm");
    }
    for (a, b) in yi.iter().zip(&yg) {
        assert!((a - b).abs() <= 1e-4, "{a} vs {b}");
    }
}
