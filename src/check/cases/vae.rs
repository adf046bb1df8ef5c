//! The VAE's fused kernels: the Philox normal generator and the reparameterization, the
//! Gaussian / Bernoulli / KL loss terms and their gradients, Adam, MMD, and the scatter
//! kernels (concatenation, slice backward, gradient accumulation).

use std::sync::Arc;

use super::dims;
use crate::check::{compare, covering, Case, Outcome, Rng, Tolerance, EPS};
use crate::error::Result;
use crate::gpu::{AdamVariant, Gpu, Reads, Routing, Variant};
use crate::kernels::adam::{self, AdamConfig};
use crate::kernels::loss::{self, reference as lref};
use crate::kernels::metrics::{self, Accumulator};
use crate::kernels::mmd::{self, MmdConfig, MmdKernel};
use crate::kernels::random::{self, RandomKey};
use crate::kernels::scatter;
use crate::tensor::Tensor;

/// ε = sqrt(−2 ln u1)·cos(2π(u2 − ½)) in f32 with WGSL's accuracy rules: cos may be off by
/// 2⁻¹¹ absolute on [−π, π] (× r ≤ 5.8 → 2.8e-3), and ln u1 by 2⁻²¹ absolute near 1, which
/// moves r = sqrt(−2 ln u1) by up to ~1e-3 where r is tiny. 4e-3 absolute per unit of the
/// factor multiplying ε covers both; a wrong counter, key or bit slice is off by O(1).
fn normal_tolerance() -> Tolerance {
    Tolerance {
        abs: 1e-6,
        rel: 4e-3,
        name: "wgsl cos/log accuracy",
    }
}

/// A sum of `terms` terms involving exp/log: accumulation plus the transcendental's error.
fn sum_with_transcendentals(terms: usize) -> Tolerance {
    Tolerance {
        abs: 1e-30,
        rel: Tolerance::accumulation(terms).rel + 4e-6,
        name: "accumulation+exp/log",
    }
}

fn key(i: u64) -> RandomKey {
    RandomKey {
        seed: 0x5eed_0000_0000_0001 ^ i,
        step: (i << 33) | 7,
        stream: 3,
    }
}

pub fn cases(v: &mut Vec<Case>) {
    random_cases(v);
    loss_cases(v);
    adam_cases(v);
    mmd_cases(v);
    scatter_cases(v);
    metrics_cases(v);
}

fn random_cases(v: &mut Vec<Case>) {
    for (i, (n, large)) in [(1usize, false), (1000, false), (1_000_003, true)]
        .into_iter()
        .enumerate()
    {
        v.push(Case::new(
            "random",
            format!("normal {n}"),
            large,
            move |gpu| {
                let k = key(i as u64);
                let e = random::normal(gpu, &[n], k)?.to_vec()?;
                let r = random::reference::normals(k, n);
                let ones = vec![1.0; n];
                Ok(vec![compare(
                    "normal",
                    &dims(&[n]),
                    &e,
                    &r,
                    Some(&ones),
                    normal_tolerance(),
                )])
            },
        ));
    }
    for (i, shape) in [vec![1usize, 1], vec![3, 5], vec![64, 64]]
        .into_iter()
        .enumerate()
    {
        v.push(Case::new(
            "random",
            format!("reparameterize {}", dims(&shape)),
            false,
            move |gpu| {
                let mut rng = Rng::new(5000 + i as u64);
                let mu = rng.data(&shape, -2.0, 2.0);
                let sigma = rng.data(&shape, 0.05, 2.0);
                let dz = rng.data(&shape, -1.0, 1.0);
                let k = key(10 + i as u64);
                let z =
                    random::reparameterize(&mu.upload(gpu)?, &sigma.upload(gpu)?, k)?.to_vec()?;
                let ds = random::reparameterize_grad_sigma(&dz.upload(gpu)?, k)?.to_vec()?;
                let label = dims(&shape);
                // |z − ref| ≤ σ·(ε's error) + rounding of μ: scale σ + |μ|·(rounding / 4e-3).
                let zscale: Vec<f64> = sigma
                    .f64
                    .iter()
                    .zip(&mu.f64)
                    .map(|(s, m)| s + m.abs() * 1e-3)
                    .collect();
                Ok(vec![
                    compare(
                        "reparameterize",
                        &label,
                        &z,
                        &random::reference::reparameterize(&mu.f64, &sigma.f64, k),
                        Some(&zscale),
                        normal_tolerance(),
                    ),
                    compare(
                        "reparameterize dsigma",
                        &label,
                        &ds,
                        &random::reference::grad_sigma(&dz.f64, k),
                        Some(&dz.abs()),
                        normal_tolerance(),
                    ),
                ])
            },
        ));
    }
}

fn loss_cases(v: &mut Vec<Case>) {
    let shapes: [(&[usize], bool); 5] = [
        (&[1, 1], false),
        (&[3, 7], false),
        (&[5, 1, 9, 9], false),
        (&[64, 1, 28, 28], true),
        // eval's batch of 256 images.
        (&[256, 1, 28, 28], true),
    ];
    for (i, (shape, large)) in shapes.iter().enumerate() {
        let shape = shape.to_vec();
        let label = dims(&shape);
        for (j, lg) in [0.0f32, -1.3, 0.7].into_iter().enumerate() {
            let shape = shape.clone();
            v.push(Case::new(
                "loss",
                format!("gaussian_nll {label} loggamma {lg}"),
                *large,
                move |gpu| {
                    let mut rng = Rng::new(6000 + (i * 10 + j) as u64);
                    let x = rng.data(&shape, 0.0, 1.0);
                    let xh = rng.data(&shape, 0.0, 1.0);
                    let (n, b) = (x.f64.len(), shape[0]);
                    let lgt = Tensor::from_slice(gpu, &[lg], &[1])?;
                    let (xg, xhg) = (x.upload(gpu)?, xh.upload(gpu)?);
                    let fwd = loss::gaussian_nll(&xg, &xhg, &lgt)?;
                    let g = Tensor::from_slice(gpu, &[1.5], &[])?;
                    let (dxh, dlg) = loss::gaussian_nll_backward(&g, &xg, &xhg, &lgt, &fwd)?;
                    let lg64 = lg as f64;
                    let inv_var = (-2.0 * lg64).exp();
                    let sse: f64 = x
                        .f64
                        .iter()
                        .zip(&xh.f64)
                        .map(|(a, h)| (a - h) * (a - h))
                        .sum();
                    let l = lref::gaussian_nll(&x.f64, &xh.f64, lg64, b);
                    let (rdx, rdlg) = lref::gaussian_nll_grad(&x.f64, &xh.f64, lg64, b);
                    let lscale = (0.5 * sse * inv_var
                        + n as f64 * (lg64.abs() + lref::HALF_LOG_2PI))
                        / b as f64;
                    let dscale = 1.5 * (n as f64 + sse * inv_var) / b as f64;
                    let label = dims(&shape);
                    Ok(vec![
                        compare(
                            "gaussian_nll",
                            &label,
                            &fwd.to_vec()?,
                            &[l, sse],
                            Some(&[lscale, sse]),
                            sum_with_transcendentals(n),
                        ),
                        compare(
                            "gaussian_nll dxhat",
                            &label,
                            &dxh.to_vec()?,
                            &rdx.iter().map(|d| 1.5 * d).collect::<Vec<_>>(),
                            None,
                            Tolerance {
                                abs: 0.0,
                                rel: 8e-6,
                                name: "exp+rounding",
                            },
                        ),
                        compare(
                            "gaussian_nll dloggamma",
                            &label,
                            &dlg.to_vec()?,
                            &[1.5 * rdlg],
                            Some(&[dscale]),
                            sum_with_transcendentals(n),
                        ),
                    ])
                },
            ));
        }
        let shape2 = shape.clone();
        v.push(Case::new(
            "loss",
            format!("bernoulli_ce {label}"),
            *large,
            move |gpu| {
                let shape = &shape2;
                let mut rng = Rng::new(6100 + i as u64);
                let x = rng.data(shape, 0.0, 1.0);
                let mut xh = rng.data(shape, 0.0, 1.0);
                // Exercise both clamps where there is room: exact 0 and 1 predictions.
                if xh.f32.len() >= 3 {
                    xh.f32[0] = 0.0;
                    xh.f32[1] = 1.0;
                    xh = crate::check::Data::new(xh.f32.clone(), shape);
                }
                let b = shape[0];
                let (xg, xhg) = (x.upload(gpu)?, xh.upload(gpu)?);
                let fwd = loss::bernoulli_ce(&xg, &xhg)?.to_vec()?;
                let g = Tensor::from_slice(gpu, &[-0.5], &[1])?;
                let dxh = loss::bernoulli_ce_backward(&g, &xg, &xhg)?.to_vec()?;
                let l = lref::bernoulli_ce(&x.f64, &xh.f64, b);
                let terms: f64 = x
                    .f64
                    .iter()
                    .zip(&xh.f64)
                    .map(|(a, h)| {
                        (a * h.max(1e-8).ln()).abs() + ((1.0 - a) * (1.0 - h).max(1e-8).ln()).abs()
                    })
                    .sum();
                let rdx: Vec<f64> = lref::bernoulli_ce_grad(&x.f64, &xh.f64, b)
                    .iter()
                    .map(|d| -0.5 * d)
                    .collect();
                // dx̂ = g·(−x/x̂ + (1−x)/(1−x̂))/B: two divisions whose sum may cancel, so the
                // scale is the sum of the magnitudes of the two quotients.
                let dscale: Vec<f64> = x
                    .f64
                    .iter()
                    .zip(&xh.f64)
                    .map(|(a, h)| {
                        let q1 = if *h > 1e-8 { a / h } else { 0.0 };
                        let q2 = if 1.0 - h > 1e-8 {
                            (1.0 - a) / (1.0 - h)
                        } else {
                            0.0
                        };
                        0.5 * (q1 + q2) / b as f64
                    })
                    .collect();
                let n = x.f64.len();
                // 1 − x̂ is computed in f32: for x̂ near 1 its relative error is ε/(1 − x̂), which
                // the quotient (1 − x)/(1 − x̂) inherits. Inputs are ≥ 2⁻²⁴ away from 1 or exactly 1.
                Ok(vec![
                    compare(
                        "bernoulli_ce",
                        &label_of(shape),
                        &fwd[..1],
                        &[l],
                        Some(&[terms / b as f64]),
                        sum_with_transcendentals(n),
                    ),
                    compare(
                        "bernoulli_ce dxhat",
                        &label_of(shape),
                        &dxh,
                        &rdx,
                        Some(&dscale),
                        Tolerance::rounding(4.0),
                    ),
                ])
            },
        ));
        let shape3 = shape.clone();
        v.push(Case::new(
            "loss",
            format!("kl_normal {label}"),
            *large,
            move |gpu| {
                let shape = &shape3;
                let mut rng = Rng::new(6200 + i as u64);
                let mu = rng.data(shape, -2.0, 2.0);
                let s = rng.data(shape, 0.05, 3.0);
                let b = shape[0];
                let (mg, sg) = (mu.upload(gpu)?, s.upload(gpu)?);
                let fwd = loss::kl_normal(&mg, &sg)?.to_vec()?;
                let g = Tensor::from_slice(gpu, &[2.0], &[1])?;
                let (dmu, ds) = loss::kl_normal_backward(&g, &mg, &sg)?;
                let l = lref::kl_normal(&mu.f64, &s.f64, b);
                let terms: f64 = mu
                    .f64
                    .iter()
                    .zip(&s.f64)
                    .map(|(m, s)| m * m + s * s + 2.0 * s.ln().abs() + 1.0)
                    .sum::<f64>()
                    / 2.0
                    / b as f64;
                let (rdm, rds) = lref::kl_normal_grad(&mu.f64, &s.f64, b);
                let sscale: Vec<f64> = s
                    .f64
                    .iter()
                    .map(|s| 2.0 * (s + 1.0 / s) / b as f64)
                    .collect();
                let n = mu.f64.len();
                Ok(vec![
                    compare(
                        "kl_normal",
                        &label_of(shape),
                        &fwd[..1],
                        &[l],
                        Some(&[terms]),
                        sum_with_transcendentals(n),
                    ),
                    compare(
                        "kl_normal dmu",
                        &label_of(shape),
                        &dmu.to_vec()?,
                        &rdm.iter().map(|d| 2.0 * d).collect::<Vec<_>>(),
                        None,
                        Tolerance::rounding(2.0),
                    ),
                    compare(
                        "kl_normal dsigma",
                        &label_of(shape),
                        &ds.to_vec()?,
                        &rds.iter().map(|d| 2.0 * d).collect::<Vec<_>>(),
                        Some(&sscale),
                        Tolerance::rounding(3.0),
                    ),
                ])
            },
        ));
    }
}

fn label_of(shape: &[usize]) -> String {
    dims(shape)
}

/// Adam through the buffers and through textures (each adapter's other path included) on one
/// element (one at a time only), an aligned range (four at a time), an unaligned one (a
/// three-element head and a two-element tail one at a time, the rest four at a time) and a
/// large range spanning two texture chunks and a partial texture row, ending in a
/// three-element tail.
fn adam_cases(v: &mut Vec<Case>) {
    for (i, (n, start, len)) in [
        (1usize, 0usize, 1usize),
        (1000, 0, 1000),
        (100_003, 17, 99_001),
        (1_100_003, 64, 1_099_939),
        // All of the InfoGAN stage 1's 13,331,586 parameters.
        (13_331_587, 1, 13_331_586),
    ]
    .into_iter()
    .enumerate()
    {
        for (&variant, decoupled) in AdamVariant::all()
            .iter()
            .flat_map(|v| [(v, false), (v, true)])
        {
            let name = if decoupled { "adamw" } else { "adam" };
            let path = variant.name();
            let first = v.len();
            v.push(Case::new(
                "adam",
                format!("{name} {n} [{start}, {}) through {path}", start + len),
                n > 2_000_000,
                move |gpu| {
                    gpu.scoped(
                        |t| Routing { adam: variant, ..t },
                        || adam_case(gpu, i, n, start..start + len, decoupled, path),
                    )
                },
            ));
            covering(v, first, variant.coverage());
        }
    }
}

/// Three Adam steps over `range` of `n` parameters, against the f64 reference.
fn adam_case(
    gpu: &Arc<Gpu>,
    i: usize,
    n: usize,
    range: std::ops::Range<usize>,
    decoupled: bool,
    path: &str,
) -> Result<Vec<Outcome>> {
    let name = if decoupled { "adamw" } else { "adam" };
    let (start, len) = (range.start, range.len());
    let mut rng = Rng::new(7000 + i as u64);
    let theta = rng.data(&[n], -1.0, 1.0);
    let cfg = AdamConfig {
        weight_decay: 0.01,
        decoupled,
        ..AdamConfig::default()
    };
    let (tg, mg, vg) = (
        theta.upload(gpu)?,
        Tensor::zeros(gpu, &[n])?,
        Tensor::zeros(gpu, &[n])?,
    );
    let (mut t64, mut m64, mut v64) = (theta.f64.clone(), vec![0.0; n], vec![0.0; n]);
    // The same steps with each gradient moved by one rounding of g' = g + wd·θ, up and down:
    // where g and wd·θ nearly cancel, g' is ill-conditioned in f32, and where g' is then tiny
    // m/(√v + ε) turns that rounding into a step-sized change of θ (6 of 13.3 M random
    // elements would exceed the rounding bound, by up to 2.7×, without this term).
    let signs = [1.0, -1.0];
    let mut shifted: Vec<[Vec<f64>; 3]> = signs
        .iter()
        .map(|_| [theta.f64.clone(), vec![0.0; n], vec![0.0; n]])
        .collect();
    let lrs = [1e-2f32, 5e-3, 2e-3];
    for (step, lr) in lrs.iter().enumerate() {
        let g = rng.data(&[n], -1.0, 1.0);
        adam::adam_update(
            &tg,
            &g.upload(gpu)?,
            &mg,
            &vg,
            start,
            len,
            &cfg,
            *lr,
            step as u64 + 1,
        )?;
        let r = start..start + len;
        adam::reference::adam(
            &mut t64[r.clone()],
            &g.f64[r.clone()],
            &mut m64[r.clone()],
            &mut v64[r.clone()],
            &cfg,
            *lr,
            step as u64 + 1,
        );
        let coupled = if decoupled {
            0.0
        } else {
            cfg.weight_decay as f64
        };
        for ([t, m, v], sign) in shifted.iter_mut().zip(signs) {
            let g: Vec<f64> = r
                .clone()
                .map(|e| g.f64[e] + sign * EPS * (g.f64[e].abs() + coupled * t[e].abs()))
                .collect();
            adam::reference::adam(
                &mut t[r.clone()],
                &g,
                &mut m[r.clone()],
                &mut v[r.clone()],
                &cfg,
                *lr,
                step as u64 + 1,
            );
        }
    }
    // Three steps of a few correctly rounded ops each; θ's error is relative to
    // |θ| + the total step (≤ 3·lr·… ≤ 0.1), m and v carry |m| + |g| ≤ 2; plus, for θ, how far
    // one rounding of g' moves it (above), in units of the bound's relative error.
    // Elements outside the range must come back untouched (the reference
    // leaves them as they were).
    let theta_tol = Tolerance::rounding(12.0);
    let tscale: Vec<f64> = (0..n)
        .map(|e| {
            let conditioning = shifted
                .iter()
                .fold(0.0f64, |a, s| a.max((s[0][e] - t64[e]).abs()));
            t64[e].abs() + 0.1 + conditioning / theta_tol.rel
        })
        .collect();
    let label = format!("{} {path}", dims(&[n]));
    let two = vec![2.0; n];
    Ok(vec![
        compare(
            &format!("{name} theta"),
            &label,
            &tg.to_vec()?,
            &t64,
            Some(&tscale),
            theta_tol,
        ),
        compare(
            &format!("{name} m"),
            &label,
            &mg.to_vec()?,
            &m64,
            Some(&two),
            Tolerance::rounding(8.0),
        ),
        compare(
            &format!("{name} v"),
            &label,
            &vg.to_vec()?,
            &v64,
            None,
            Tolerance::rounding(8.0),
        ),
    ])
}

/// The MMD at every size the product runs it: a batch (the regulariser), 2000 and 10,000 rows
/// (eval's statistic; the test split is 10,000 images), n ≠ m, and the sizes around
/// N·(d + 1) = 65,535 where llvmpipe's loop limiter once cut a per-row loop short (N = n + m
/// pooled rows of d = 64). Data as eval meets it: q(z)-like N(0, s²) against N(0, I).
/// Every case runs both kernels and both estimators on one draw, so the f64 reference takes
/// the distances once. Gradients are checked wherever the regulariser could take them (a
/// batch of up to thousands of rows) and past BLOCK_COLS pooled rows, where a row's slopes
/// span two column blocks; eval, the one user at 10,000 rows, takes no gradient.
fn mmd_cases(v: &mut Vec<Case>) {
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

fn scatter_cases(v: &mut Vec<Case>) {
    // Gathered rows are copies: exact. Tiny (one row of one), odd (repeats, an offset view,
    // the last row), large (a 60000×64 latent matrix, a batch of 64).
    for (i, (n, w, rows, large)) in [
        (1usize, 1usize, vec![0usize], false),
        (7, 5, vec![6, 0, 3, 3, 1], false),
        (
            60_000,
            64,
            (0..64).map(|k| (k * 7919) % 60_000).collect(),
            true,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "scatter",
            format!("gather {} rows of {n}×{w}", rows.len()),
            large,
            move |gpu| {
                let mut rng = Rng::new(9200 + i as u64);
                // One row of padding before the matrix: the source is an offset view.
                let m = rng.data(&[n + 1, w], -1.0, 1.0);
                let view = m.upload(gpu)?.narrow0(1, n)?;
                let out = scatter::gather_rows(&view, &rows)?.to_vec()?;
                let r = scatter::reference::gather_rows(&m.f64[w..], w, &rows);
                Ok(vec![compare(
                    "gather_rows",
                    &dims(&[rows.len(), w]),
                    &out,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
    }
    for (i, (rows, widths)) in [
        (1usize, vec![1usize, 1]),
        (3, vec![2, 5, 1]),
        (64, vec![64, 1024]),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "scatter",
            format!("concat {rows}×{widths:?}"),
            false,
            move |gpu| {
                let mut rng = Rng::new(9000 + i as u64);
                let parts: Vec<_> = widths
                    .iter()
                    .map(|w| rng.data(&[rows, *w], -1.0, 1.0))
                    .collect();
                let tensors = parts
                    .iter()
                    .map(|p| p.upload(gpu))
                    .collect::<crate::Result<Vec<_>>>()?;
                let out = scatter::concat_last(&tensors.iter().collect::<Vec<_>>())?.to_vec()?;
                let refs: Vec<(&[f64], usize)> = parts
                    .iter()
                    .zip(&widths)
                    .map(|(p, w)| (&p.f64[..], *w))
                    .collect();
                let r = scatter::reference::concat_last(&refs, rows);
                let total: usize = widths.iter().sum();
                // Slice backward: the last part's gradient padded back to the full width.
                let last = parts.last().expect("two parts or more");
                let w = *widths.last().expect("two parts or more");
                let padded =
                    scatter::pad_last(&tensors[tensors.len() - 1], &[rows, total], total - w)?
                        .to_vec()?;
                let zeros = vec![0.0; rows * (total - w)];
                let zero: Vec<(&[f64], usize)> = vec![(&zeros[..], total - w), (&last.f64[..], w)];
                let rp = scatter::reference::concat_last(&zero, rows);
                Ok(vec![
                    compare(
                        "concat",
                        &dims(&[rows, total]),
                        &out,
                        &r,
                        None,
                        Tolerance::rounding(0.0),
                    ),
                    compare(
                        "pad_last",
                        &dims(&[rows, total]),
                        &padded,
                        &rp,
                        None,
                        Tolerance::rounding(0.0),
                    ),
                ])
            },
        ));
    }
    // A few rows into a small matrix, and stage 2's encoding of the training set: eval's
    // batch of 256 written as the last rows of the 60,000 × 64 latent matrix.
    for (i, (rows, width, total, at, large)) in [
        (3usize, 3usize, 11usize, 5usize, false),
        (256, 64, 60_000, 60_000 - 256, true),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "scatter",
            format!("write rows {at}..{} of {total}×{width}", at + rows),
            large,
            move |gpu| {
                let mut rng = Rng::new(9300 + i as u64);
                let base = rng.data(&[total, width], -1.0, 1.0);
                let part = rng.data(&[rows, width], -1.0, 1.0);
                let dst = base.upload(gpu)?;
                scatter::write_rows(&part.upload(gpu)?, &dst, at)?;
                let mut r = base.f64.clone();
                r[at * width..(at + rows) * width].copy_from_slice(&part.f64);
                Ok(vec![compare(
                    "write_rows",
                    &format!("{rows} of {total} at row {at}"),
                    &dst.to_vec()?,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
    }
    // Through the buffers and through textures: an unaligned view (buffers only), an aligned
    // one with a one-element tail, a transposed source, and one spanning two texture chunks.
    for reads in Reads::all().iter().copied() {
        let first = v.len();
        for (base_n, at, shape, transposed) in [
            (1000usize, 301usize, [3usize, 7usize], false),
            (1000, 300, [3, 7], false),
            (1000, 300, [7, 3], true),
            (1_200_000, 4096, [1100, 1001], false),
        ] {
            let path = reads.name();
            let label = format!(
                "{} of {base_n} at {at}{} through {path}",
                shape[0] * shape[1],
                if transposed {
                    ", source transposed"
                } else {
                    ""
                }
            );
            v.push(Case::new(
                "scatter",
                format!("accumulate {label}"),
                false,
                move |gpu| {
                    gpu.scoped(
                        |t| Routing { reads, ..t },
                        || {
                            let mut rng = Rng::new(9100);
                            let base = rng.data(&[base_n], -1.0, 1.0);
                            let add = rng.data(&shape, -1.0, 1.0);
                            let flat = base.upload(gpu)?;
                            let (rows, cols) = if transposed {
                                (shape[1], shape[0])
                            } else {
                                (shape[0], shape[1])
                            };
                            let view = flat.narrow0(at, rows * cols)?.reshape(&[rows, cols])?;
                            let src = add.upload(gpu)?;
                            let src = if transposed {
                                src.transpose(0, 1)?
                            } else {
                                src
                            };
                            scatter::accumulate(&view, &src)?;
                            let mut r = base.f64.clone();
                            for i in 0..rows {
                                for j in 0..cols {
                                    let k = if transposed {
                                        j * shape[1] + i
                                    } else {
                                        i * cols + j
                                    };
                                    r[at + i * cols + j] += add.f64[k];
                                }
                            }
                            // One f32 addition per element, as the reference rounded once.
                            Ok(vec![compare(
                                "accumulate",
                                &label,
                                &flat.to_vec()?,
                                &r,
                                None,
                                Tolerance::rounding(1.0),
                            )])
                        },
                    )
                },
            ));
        }
        covering(v, first, reads.coverage());
    }
}

/// The metric accumulator: running sums of scalars read at odd offsets (tiny: one add; odd:
/// views at offsets 1..; large: 1000 steps), and the first non-finite step flagged, with a
/// later NaN not overwriting an earlier Inf. The sums are f32 additions in order, as the
/// reference's f64 sum rounded per add: 1000 terms of ~1 need the accumulation bound.
fn metrics_cases(v: &mut Vec<Case>) {
    for (i, (steps, bad)) in [
        (1u64, None),
        (7, Some((3u64, f32::INFINITY))),
        (1000, Some((611, f32::NAN))),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "metrics",
            format!("{steps} steps, non-finite at {:?}", bad.map(|b| b.0)),
            false,
            move |gpu| {
                let mut rng = Rng::new(9200 + i as u64);
                let acc = Accumulator::new(gpu, 3)?;
                let (mut sums, mut flag) = (vec![0.0f64; 3], 0u32);
                for step in 0..steps {
                    let mut vals = rng.data(&[5], -1.0, 1.0).f32;
                    if let Some((at, value)) = bad {
                        if step == at {
                            vals[2] = value;
                        }
                        if step == at + 1 {
                            vals[2] = f32::NAN;
                        }
                    }
                    let t = Tensor::from_slice(gpu, &vals, &[5])?;
                    for (slot, k) in [(0usize, 1usize), (1, 4), (2, 2)] {
                        let view = t.narrow0(k, 1)?;
                        acc.add(slot, &view, step, slot == 2)?;
                        metrics::reference::add(
                            &mut sums,
                            &mut flag,
                            slot,
                            vals[k],
                            step,
                            slot == 2,
                        );
                    }
                }
                let got = acc.take()?;
                let want_flag = (flag != 0).then(|| flag as u64 - 1);
                let mut out = vec![compare(
                    "metrics sums",
                    &format!("{steps} steps"),
                    &got.sums[..2],
                    &sums[..2],
                    None,
                    Tolerance::accumulation(steps as usize),
                )];
                // The flag as a number (-1: none) so it is compared and printed like the sums.
                let as_num = |f: Option<u64>| f.map_or(-1.0, |s| s as f64);
                let exact = Tolerance::rounding(0.0);
                out.push(compare(
                    "metrics first bad step",
                    "1",
                    &[as_num(got.first_nonfinite_step) as f32],
                    &[as_num(want_flag)],
                    None,
                    exact,
                ));
                // The sums are zeroed by take; the flag stays.
                let again = acc.take()?;
                out.push(compare(
                    "metrics zeroed",
                    "3",
                    &again.sums,
                    &[0.0; 3],
                    None,
                    exact,
                ));
                out.push(compare(
                    "metrics flag kept",
                    "1",
                    &[as_num(again.first_nonfinite_step) as f32],
                    &[as_num(want_flag)],
                    None,
                    exact,
                ));
                Ok(out)
            },
        ));
    }
}
