//! adam: Adam and AdamW through each of Adam's routes.

use std::sync::Arc;

use super::dims;
use crate::check::{compare, covering, Case, Outcome, Rng, Tolerance, EPS};
use crate::error::Result;
use crate::gpu::{AdamVariant, Gpu, Routing, Variant};
use crate::kernels::adam::{self, AdamConfig};
use crate::tensor::Tensor;

/// Adam through the buffers and through textures (each adapter's other path included) on one
/// element (one at a time only), an aligned range (four at a time), an unaligned one (a
/// three-element head and a two-element tail one at a time, the rest four at a time) and a
/// large range spanning two texture chunks and a partial texture row, ending in a
/// three-element tail.
pub fn cases(v: &mut Vec<Case>) {
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
