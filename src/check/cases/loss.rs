//! loss: the Gaussian / Bernoulli / KL loss terms and their gradients.

use super::dims;
use crate::check::{compare, Case, Rng, Tolerance};
use crate::kernels::loss::{self, reference as lref};
use crate::tensor::Tensor;

/// A sum of `terms` terms involving exp/log: accumulation plus the transcendental's error.
fn sum_with_transcendentals(terms: usize) -> Tolerance {
    Tolerance {
        abs: 1e-30,
        rel: Tolerance::accumulation(terms).rel + 4e-6,
        name: "accumulation+exp/log",
    }
}

pub fn cases(v: &mut Vec<Case>) {
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
