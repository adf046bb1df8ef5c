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
}
