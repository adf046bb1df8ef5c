//! mmd: the blocked MMD² and its gradient against the f64 reference.

use std::sync::Arc;

use crate::check::{compare, Case, Outcome, Rng, Tolerance, EPS};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::mmd::{self, MmdConfig, MmdKernel};
use crate::tensor::Tensor;

/// The MMD at every size the product runs it: a batch (the regulariser), 2000 and 10,000 rows
/// (eval's statistic; the test split is 10,000 images), n ≠ m, and the sizes around
/// N·(d + 1) = 65,535 where llvmpipe's loop limiter once cut a per-row loop short (N = n + m
/// pooled rows of d = 64). Data as eval meets it: q(z)-like N(0, s²) against N(0, I).
/// Every case runs both kernels and both estimators on one draw, so the f64 reference takes
/// the distances once. Gradients are checked wherever the regulariser could take them (a
/// batch of up to thousands of rows) and past BLOCK_COLS pooled rows, where a row's slopes
/// span two column blocks; eval, the one user at 10,000 rows, takes no gradient.
pub fn cases(v: &mut Vec<Case>) {
    let shapes: [(usize, usize, usize, f64, bool, bool); 14] = [
        (1, 1, 1, 1.0, false, true),
        (5, 7, 3, 1.2, false, true),
        (64, 64, 64, 1.2, false, true),
        (256, 300, 64, 1.2, true, true),
        (256, 256, 64, 1.2, true, true),
        (400, 400, 64, 1.2, true, true),
        (500, 500, 64, 1.2, true, true),
        (512, 512, 64, 1.2, true, true),
        (600, 600, 64, 1.2, true, true),
        (1000, 1000, 64, 1.2, true, true),
        (2000, 1900, 64, 1.2, true, true),
        (2000, 2000, 64, 0.8, true, true),
        (4100, 4200, 8, 1.2, true, true),
        (10_000, 10_000, 64, 1.2, true, false),
    ];
    for (i, (n, m, d, s, large, grads)) in shapes.into_iter().enumerate() {
        v.push(Case::new(
            "mmd",
            format!("mmd {n}×{d} (σ = {s}) vs {m}×{d} (σ = 1)"),
            large,
            move |gpu| mmd_case(gpu, 8000 + i as u64, (n, m, d), s, grads),
        ));
    }
}

/// At most this many pooled rows get their gradient checked against the f64 reference (each
/// costs N·d there); the GPU computes them all.
const MMD_GRAD_ROWS: usize = 12;

fn mmd_case(
    gpu: &Arc<Gpu>,
    seed: u64,
    (n, m, d): (usize, usize, usize),
    s: f64,
    grads: bool,
) -> Result<Vec<Outcome>> {
    let mut rng = Rng::new(seed);
    let x = rng.normal(&[n, d], s);
    let y = rng.normal(&[m, d], 1.0);
    let (xg, yg) = (x.upload(gpu)?, y.upload(gpu)?);
    let mut cfgs = Vec::new();
    for kernel in [MmdKernel::rbf_for_dim(d), MmdKernel::imq_for_dim(d)] {
        for unbiased in [false, true] {
            if !(unbiased && (n < 2 || m < 2)) {
                cfgs.push(MmdConfig { kernel, unbiased });
            }
        }
    }
    let refs = mmd::reference::mmd_many(&x.f64, &y.f64, d, &cfgs);
    // The checked rows: all of a small case; else both ends of X and of Y and rows between.
    let pooled = n + m;
    let rows: Vec<usize> = if pooled <= MMD_GRAD_ROWS {
        (0..pooled).collect()
    } else {
        let mut r = vec![0, n - 1, n, pooled - 1];
        r.extend((1..=MMD_GRAD_ROWS - 4).map(|k| k * pooled / (MMD_GRAD_ROWS - 3)));
        r.sort_unstable();
        r.dedup();
        r
    };
    let label = format!("{n}×{d} vs {m}×{d}");
    // The block sums added one after another (a row block's column blocks, then the rows').
    let blocks = pooled.div_ceil(mmd::BLOCK_ROWS) * pooled.div_ceil(mmd::BLOCK_COLS);
    let mut out = Vec::new();
    for (cfg, r) in cfgs.into_iter().zip(refs) {
        let (kname, c, eval_err, slope_ratio) = match cfg.kernel {
            // exp: WGSL allows 3 + 2|x| ulp (4e-6 covers |x| = r²/C up to ~10); k'/k = −1/C,
            // k''/k' = −1/C.
            MmdKernel::Rbf { c } => ("rbf", c as f64, 4e-6, 1.0),
            // a division (2.5 ulp) and an add; k'/k ≥ −1/C, k''/k' ≥ −2/C.
            MmdKernel::InverseMultiquadric { c } => ("imq", c as f64, 8.0 * EPS, 2.0),
        };
        let est = if cfg.unbiased { "unbiased" } else { "biased" };
        // A distance from its Gram entry, s_i + s_j − 2·z_i·z_j, is off by up to
        // 4√(d + 3)·ε·(s_i + s_j + 2|z_i·z_j|) (the accumulation model of `Tolerance`, over the
        // d-long product and three more operations); |dk/dr²| ≤ k/C turns that into a relative
        // error of each kernel value of at most `distance` below.
        let distance = Tolerance::accumulation(d + 3).rel * r.gram / c;
        // The value: each block's terms are summed by reduce::sum_all (a 16-long run per lane,
        // a 256-lane tree, a tree over the chunks), then the blocks one after another.
        let value_tol = Tolerance {
            abs: 1e-30,
            rel: Tolerance::accumulation(64 + blocks).rel + eval_err + distance,
            name: "gram distances+kernel+block sums",
        };
        let val = mmd::mmd(&xg, &yg, cfg)?.to_vec()?;
        out.push(compare(
            &format!("mmd {kname} {est}"),
            &label,
            &val,
            &[r.mmd],
            Some(&[r.magnitude]),
            value_tol,
        ));
        if !grads {
            continue;
        }
        // The gradient: S_ij inherits the distance's error through k''/k'; R_i and (S·Z)_i are
        // N-long sums, compared with Σ_j |S_ij|·(|z_i| + |z_j|).
        let grad_tol = Tolerance {
            abs: 1e-30,
            rel: Tolerance::accumulation(pooled).rel + eval_err + slope_ratio * distance,
            name: "gram distances+slopes+accumulation",
        };
        let g = Tensor::from_slice(gpu, &[0.75], &[1])?;
        let (dx, dy) = mmd::mmd_backward(&g, &xg, &yg, cfg)?;
        let (dx, dy) = (dx.to_vec()?, dy.to_vec()?);
        let (rg, rs) = mmd::reference::mmd_grad_rows(&x.f64, &y.f64, d, cfg, &rows);
        let (mut gpu_rows, mut want, mut scale) = (Vec::new(), Vec::new(), Vec::new());
        for (k, &i) in rows.iter().enumerate() {
            let got = if i < n {
                &dx[i * d..(i + 1) * d]
            } else {
                &dy[(i - n) * d..(i - n + 1) * d]
            };
            gpu_rows.extend_from_slice(got);
            want.extend(rg[k * d..(k + 1) * d].iter().map(|v| 0.75 * v));
            scale.extend(rs[k * d..(k + 1) * d].iter().map(|v| 0.75 * v));
        }
        out.push(compare(
            &format!("mmd {kname} {est} dX,dY"),
            &format!("{label}, {} rows", rows.len()),
            &gpu_rows,
            &want,
            Some(&scale),
            grad_tol,
        ));
        // Every element written and finite (the rows not compared above included).
        let finite = dx.iter().chain(&dy).all(|v| v.is_finite());
        out.push(compare(
            &format!("mmd {kname} {est} dX,dY finite"),
            &label,
            &[finite as u8 as f32],
            &[1.0],
            None,
            Tolerance::rounding(0.0),
        ));
    }
    Ok(out)
}
