//! softmax_ce: the categorical likelihood's forward (loss and per-row log-sum-exp) and its
//! gradient, on classifier shapes (classes last) and per-pixel 256-way shapes (classes on
//! axis 1, targets 8-bit pixel values), with one row of logits far outside exp's range.

use super::dims;
use crate::check::{compare, Case, Data, Rng, Tolerance, EPS};
use crate::kernels::softmax_ce::{self, reference as r, Categorical};
use crate::tensor::Tensor;

pub fn cases(v: &mut Vec<Case>) {
    // (logits shape, class axis, target scale, large)
    let shapes: [(&[usize], usize, f32, bool); 7] = [
        (&[1, 2], 1, 1.0, false),
        (&[3, 7], 1, 1.0, false),
        (&[5, 10], 1, 1.0, false),
        (&[3, 256, 5, 7], 1, 255.0, false),
        (&[2, 3, 256, 3, 5], 2, 255.0, false),
        // eval's classifier pass, and a 256-way decoder on a batch of 64 MNIST images.
        (&[256, 10], 1, 1.0, true),
        (&[64, 256, 28, 28], 1, 255.0, true),
    ];
    for (i, &(shape, axis, scale, large)) in shapes.iter().enumerate() {
        let label = format!("{} classes on axis {axis}", dims(shape));
        v.push(Case::new("softmax_ce", label.clone(), large, move |gpu| {
            let mut rng = Rng::new(6300 + i as u64);
            let classes = shape[axis];
            let inner: usize = shape[axis + 1..].iter().product();
            let mut logits = rng.data(shape, -8.0, 8.0).f32;
            // The first row far outside exp's range: only the running maximum keeps it finite.
            for k in 0..classes {
                logits[k * inner] = 80.0 + k as f32 * 0.5;
            }
            let logits = Data::new(logits, shape);
            let tshape: Vec<usize> = [&shape[..axis], &shape[axis + 1..]].concat();
            let rows: usize = tshape.iter().product();
            let mut t: Vec<f32> = (0..rows)
                .map(|_| rng.data(&[1], 0.0, classes as f32).f32[0].floor() / scale)
                .collect();
            // A target past the last class is clamped to it.
            if rows > 1 {
                t[1] = (classes + 3) as f32 / scale;
            }
            let targets = Data::new(t, &tshape);
            let how = Categorical { axis, scale };
            let (lg, tg) = (logits.upload(gpu)?, targets.upload(gpu)?);
            let fwd = softmax_ce::softmax_ce(&lg, &tg, how)?;
            let g = Tensor::from_slice(gpu, &[-1.5], &[1])?;
            let d = softmax_ce::softmax_ce_backward(&g, &lg, &tg, &fwd.rows, how)?;
            let per_row = fwd.rows.to_vec()?;

            let (l64, t64, s64, b) = (&logits.f64, &targets.f64, scale as f64, shape[0]);
            let lse = r::lse(l64, classes, inner);
            let loss = r::softmax_ce(l64, t64, classes, inner, s64, b);
            let grad: Vec<f64> = r::softmax_ce_grad(l64, t64, classes, inner, s64, b)
                .iter()
                .map(|d| -1.5 * d)
                .collect();
            let row = |j: usize| (j / (classes * inner)) * inner + j % inner;
            let at = |rr: usize, k: usize| l64[((rr / inner) * classes + k) * inner + rr % inner];
            // Per row: lse is m + log Σ exp(l − m). Each exp is within (3 + 2|l − m|) ulp
            // (WGSL), log within 3 ulp, and m itself carries an ulp of |m|, so lse is within
            // (6 + 2·spread + 3·ln K + |lse|)·ε absolute, spread = max − min of the row.
            let spread: Vec<f64> = (0..rows)
                .map(|rr| {
                    let (lo, hi) = (0..classes)
                        .map(|k| at(rr, k))
                        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| {
                            (lo.min(l), hi.max(l))
                        });
                    hi - lo
                })
                .collect();
            let lse_err: Vec<f64> = (0..rows)
                .map(|rr| 6.0 + 2.0 * spread[rr] + 3.0 * (classes as f64).ln() + lse[rr].abs())
                .collect();
            // The loss sums rows' (lse − l_t): each within lse's bound plus an ulp of l_t,
            // then the accumulation's rounding over the rows.
            let loss_scale: f64 = (0..rows)
                .map(|rr| {
                    let tk = r::class(t64[rr], s64, classes);
                    lse_err[rr] + at(rr, tk).abs()
                })
                .sum::<f64>()
                / b as f64;
            // dl = g·(exp(l − lse) − [k = t])/B: the exp's argument carries lse's error and an
            // ulp of |l| + |lse|, the exp (3 + 2|l − lse|) ulp; the one-hot subtraction rounds
            // once on the scale of 1.
            let grad_scale: Vec<f64> = (0..l64.len())
                .map(|j| {
                    let rr = row(j);
                    let y = l64[j] - lse[rr];
                    1.5 / b as f64
                        * (y.exp() * (lse_err[rr] + l64[j].abs() + 3.0 + 2.0 * y.abs()) + 1.0)
                })
                .collect();
            let ulp_scaled = |rel: f64| Tolerance {
                abs: 1e-30,
                rel,
                name: "exp/log error bound",
            };
            let classes_of: Vec<f64> = t64
                .iter()
                .map(|&t| r::class(t, s64, classes) as f64)
                .collect();
            Ok(vec![
                compare(
                    "softmax_ce class",
                    &label,
                    &per_row
                        .iter()
                        .skip(1)
                        .step_by(2)
                        .copied()
                        .collect::<Vec<_>>(),
                    &classes_of,
                    None,
                    Tolerance::rounding(0.0),
                ),
                compare(
                    "softmax_ce",
                    &label,
                    &fwd.stats.to_vec()?[..1],
                    &[loss],
                    Some(&[loss_scale]),
                    ulp_scaled(Tolerance::accumulation(rows).rel + 2.0 * EPS),
                ),
                compare(
                    "softmax_ce lse",
                    &label,
                    &per_row.iter().step_by(2).copied().collect::<Vec<_>>(),
                    &lse,
                    Some(&lse_err),
                    ulp_scaled(2.0 * EPS),
                ),
                compare(
                    "softmax_ce dlogits",
                    &label,
                    &d.to_vec()?,
                    &grad,
                    Some(&grad_scale),
                    ulp_scaled(2.0 * EPS),
                ),
            ])
        }));
    }
}
