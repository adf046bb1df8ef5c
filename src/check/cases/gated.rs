//! gated: PixelCNN's gated activation and its gradients (h's and the conditioning's), on
//! dense layers, odd images, and a 64-image batch of a 28×28 layer 64 channels wide.

use super::dims;
use crate::check::{compare, Case, Rng, Tolerance};
use crate::kernels::gated::{self, reference as r};

/// tanh = 2σ(2a) − 1 and σ each carry exp's (3 + 2|x|)-ulp error; with |h + cond| ≤ 4 the
/// arguments stay within ±8, so each factor is within 19 ulp ≈ 1.2e-6 of its value (≤ 1),
/// and their product, and each gradient's product of three such factors with g, within
/// 4e-6 of |g| (or 1 for y). 8e-6 doubles that.
const EXP_FACTORS: Tolerance = Tolerance {
    abs: 0.0,
    rel: 8e-6,
    name: "exp factors",
};

pub fn cases(v: &mut Vec<Case>) {
    let shapes: [(&[usize], bool); 5] = [
        (&[1, 2, 1, 1], false),
        (&[2, 10], false),
        (&[3, 6, 5, 7], false),
        (&[5, 34, 9, 9], false),
        (&[64, 128, 28, 28], true),
    ];
    for (i, &(shape, large)) in shapes.iter().enumerate() {
        let label = dims(shape);
        v.push(Case::new("gated", label.clone(), large, move |gpu| {
            let mut rng = Rng::new(6400 + i as u64);
            let (n, c2) = (shape[0], shape[1]);
            let (c, pixels) = (c2 / 2, shape[2..].iter().product::<usize>());
            let h = rng.data(shape, -3.0, 3.0);
            let cond = rng.data(&[n, c2], -1.0, 1.0);
            let mut ys = shape.to_vec();
            ys[1] = c;
            let g = rng.data(&ys, -1.0, 1.0);
            let (hg, cg) = (h.upload(gpu)?, cond.upload(gpu)?);
            let y = gated::gated(&hg, &cg)?;
            let (dh, dc) = gated::gated_backward(&g.upload(gpu)?, &hg, &cg)?;
            let (rdh, rdc) = r::gated_grad(&g.f64, &h.f64, &cond.f64, c, pixels);
            // Each element of dh is one output's gradient; dcond sums P of them.
            let per = c * pixels;
            let gscale: Vec<f64> = (0..h.f64.len())
                .map(|k| {
                    let (nn, rem) = (k / (2 * per), k % (2 * per));
                    g.f64[nn * per + rem % per].abs()
                })
                .collect();
            let cscale: Vec<f64> = (0..n * c2)
                .map(|k| {
                    let (nn, ch) = (k / c2, k % c2 % c);
                    (0..pixels)
                        .map(|p| g.f64[nn * per + ch * pixels + p].abs())
                        .sum::<f64>()
                })
                .collect();
            let ones = vec![1.0; n * per];
            Ok(vec![
                compare(
                    "gated",
                    &label,
                    &y.to_vec()?,
                    &r::gated(&h.f64, &cond.f64, c, pixels),
                    Some(&ones),
                    EXP_FACTORS,
                ),
                compare(
                    "gated dh",
                    &label,
                    &dh.to_vec()?,
                    &rdh,
                    Some(&gscale),
                    EXP_FACTORS,
                ),
                compare(
                    "gated dcond",
                    &label,
                    &dc.to_vec()?,
                    &rdc,
                    Some(&cscale),
                    Tolerance {
                        abs: 0.0,
                        rel: EXP_FACTORS.rel + Tolerance::accumulation(pixels).rel,
                        name: "exp factors + accumulation",
                    },
                ),
            ])
        }));
    }
}
