//! random: the Philox normal generator and the reparameterization.

use super::dims;
use crate::check::{compare, Case, Rng, Tolerance};
use crate::kernels::random::{self, RandomKey};

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

fn key(i: u64) -> RandomKey {
    RandomKey {
        seed: 0x5eed_0000_0000_0001 ^ i,
        step: (i << 33) | 7,
        stream: 3,
    }
}

pub fn cases(v: &mut Vec<Case>) {
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
    // An autoregressive decoder's draw of one pixel: the class the GPU picks must hold the
    // uniform within its cumulative interval (the f32 sums may move a boundary by ~K ulp,
    // so 1e-5 either side), and the expected value must match. Logits of the whole image, or
    // of a window of its rows (`rows` of x, the window starting `skip` rows down).
    for (i, (shape, rows, skip, pixel, large)) in [
        (vec![1usize, 2, 1, 1], 1usize, 0usize, 0usize, false),
        (vec![5, 256, 3, 3], 3, 0, 4, false),
        (vec![5, 256, 3, 3], 7, 4, 7, false),
        (vec![64, 256, 28, 28], 28, 0, 407, true),
        (vec![64, 256, 15, 28], 28, 13, 14 * 28 + 9, true),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "random",
            format!(
                "categorical_pixel {} pixel {pixel} of {rows} rows",
                dims(&shape)
            ),
            large,
            move |gpu| {
                let (n, classes, width) = (shape[0], shape[1], shape[3]);
                let window: usize = shape[2..].iter().product();
                let pixels = rows * width;
                let target = skip * width + pixel;
                let logits = Rng::new(6500 + i as u64).data(&shape, -4.0, 4.0);
                let k = key(10 + i as u64);
                let xs = [n, 1, rows, width];
                let x = crate::tensor::Tensor::zeros(gpu, &xs)?;
                let mean = crate::tensor::Tensor::zeros(gpu, &xs)?;
                random::categorical_pixel(&logits.upload(gpu)?, &x, &mean, (pixel, target), k)?;
                let (x, mean) = (x.to_vec()?, mean.to_vec()?);
                let top = (classes - 1) as f64;
                let (mut inside, mut want_mean, mut other_pixels) = (Vec::new(), Vec::new(), 0.0);
                for img in 0..n {
                    let row: Vec<f64> = (0..classes)
                        .map(|c| logits.f64[(img * classes + c) * window + pixel])
                        .collect();
                    let u = random::reference::uniform(k, img as u32);
                    let (cdf, m) = random::reference::categorical(&row);
                    let picked = (x[img * pixels + target] as f64 * top).round() as usize;
                    let ok = u >= cdf[picked] - 1e-5 && u < cdf[picked + 1] + 1e-5;
                    inside.push(ok as u8 as f32);
                    want_mean.push(m / top);
                    // Every other pixel of x and mean is untouched (0).
                    other_pixels += (0..pixels)
                        .filter(|&q| q != target)
                        .map(|q| (x[img * pixels + q].abs() + mean[img * pixels + q].abs()) as f64)
                        .sum::<f64>();
                }
                let got_mean: Vec<f32> = (0..n).map(|img| mean[img * pixels + target]).collect();
                let label = format!("{} pixel {pixel} of {rows} rows", dims(&shape));
                Ok(vec![
                    compare(
                        "categorical_pixel draw in its interval",
                        &label,
                        &inside,
                        &vec![1.0; n],
                        None,
                        Tolerance::rounding(0.0),
                    ),
                    compare(
                        "categorical_pixel mean",
                        &label,
                        &got_mean,
                        &want_mean,
                        Some(&vec![1.0; n]),
                        Tolerance::transcendental(),
                    ),
                    compare(
                        "categorical_pixel leaves other pixels",
                        &label,
                        &[other_pixels as f32],
                        &[0.0],
                        None,
                        Tolerance::rounding(0.0),
                    ),
                ])
            },
        ));
    }
}
