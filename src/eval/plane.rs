//! The thesis chapter's pictures of a 2-d latent space (Figures 5.3 and 5.16–5.18): where the
//! points of the plane to decode lie. A grid at the centres of equal-probability slices of
//! N(0, 1) gives every cell the same prior mass, so the decoded grid shows what the prior
//! actually draws, not the far tails that an evenly spaced [−3, 3] grid over-represents.

/// Φ⁻¹(p), the standard normal quantile, for 0 < p < 1: Acklam's rational approximation
/// (relative error below 1.15e-9).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(
        p > 0.0 && p < 1.0,
        "normal_quantile needs 0 < p < 1, got {p}"
    );
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let low = 0.02425;
    if p < low {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - low {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The `cells` centres of equal-probability slices of N(0, 1), ascending: Φ⁻¹((i + ½)/cells).
pub fn quantile_axis(cells: usize) -> Vec<f64> {
    (0..cells)
        .map(|i| normal_quantile((i as f64 + 0.5) / cells as f64))
        .collect()
}

/// The lattice axis × axis as rows of z = (z₁, z₂), z₁ changing slowest: row-major cells of a
/// grid with z₁ down the rows and z₂ across the columns.
pub fn lattice(axis: &[f64]) -> Vec<f32> {
    axis.iter()
        .flat_map(|a| axis.iter().flat_map(move |b| [*a as f32, *b as f32]))
        .collect()
}

/// Zhao, Song & Ermon's Section 3 (Figure 2): at each point z of `points` ([G, κ]), the
/// total variance Σ_i Var_{q(x|z)}[x_i] of the images that could have produced it, with
/// q(x | z) ∝ q(z | x)·p_data(x) estimated over the encoded images: weights w_j ∝ N(z; μ_j,
/// diag σ_j²) (softmax of the log densities), Var = Σ_j w_j‖x_j‖² − ‖Σ_j w_j x_j‖². High
/// where decoded samples are blurry: the decoder there averages dissimilar images. f64 on
/// the host, G·N·(κ + D) terms.
pub fn posterior_variance(
    points: &[f32],
    mu: &[f32],
    sigma: &[f32],
    images: &[f32],
    latent: usize,
) -> Vec<f64> {
    let n = mu.len() / latent;
    let width = images.len() / n.max(1);
    points
        .chunks_exact(latent)
        .map(|z| {
            let logs: Vec<f64> = (0..n)
                .map(|j| {
                    (0..latent)
                        .map(|t| {
                            let (m, s) = (mu[j * latent + t] as f64, sigma[j * latent + t] as f64);
                            let e = (z[t] as f64 - m) / s;
                            -0.5 * e * e - s.ln()
                        })
                        .sum::<f64>()
                })
                .collect();
            let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logs.iter().map(|l| (l - top).exp()).collect();
            let total: f64 = w.iter().sum();
            let mut mean = vec![0.0f64; width];
            let mut second = 0.0;
            for (j, wj) in w.iter().enumerate() {
                let wj = wj / total;
                if wj == 0.0 {
                    continue;
                }
                for (m, x) in mean.iter_mut().zip(&images[j * width..(j + 1) * width]) {
                    let x = *x as f64;
                    *m += wj * x;
                    second += wj * x * x;
                }
            }
            (second - mean.iter().map(|m| m * m).sum::<f64>()).max(0.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two images whose posteriors lie far apart: at either one's code q(x | z) is that image
    /// alone (variance 0); halfway between, an even mixture of the two, whose total variance
    /// is ‖x_a − x_b‖²/4.
    #[test]
    fn the_posterior_variance_is_zero_at_a_code_and_a_mixtures_between() {
        let (xa, xb) = ([1.0f32, 0.0, 0.5], [0.0f32, 1.0, 0.5]);
        let images: Vec<f32> = xa.iter().chain(&xb).copied().collect();
        let mu = [-3.0f32, 0.0, 3.0, 0.0];
        let sigma = [0.5f32; 4];
        let points = [-3.0f32, 0.0, 0.0, 0.0, 3.0, 0.0];
        let v = posterior_variance(&points, &mu, &sigma, &images, 2);
        assert!(v[0] < 1e-12 && v[2] < 1e-12, "{v:?}");
        assert!((v[1] - 2.0 / 4.0).abs() < 1e-12, "{v:?}");
    }

    /// Known quantiles (tables of Φ⁻¹, 10 digits): the approximation's relative error is
    /// below 1.15e-9, so 1e-8 absolute is its bound with room to spare at |z| < 4.
    #[test]
    fn normal_quantiles_match_the_tables() {
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959963985),
            (0.025, -1.959963985),
            (0.841344746, 1.0),
            (0.01, -2.326347874),
            (0.999, 3.090232306),
            (1e-5, -4.264890794),
        ] {
            assert!(
                (normal_quantile(p) - z).abs() < 1e-8 * z.abs().max(1.0),
                "Φ⁻¹({p}) = {} not {z}",
                normal_quantile(p)
            );
        }
    }

    #[test]
    fn the_axis_splits_the_prior_into_equal_slices_and_the_lattice_is_row_major() {
        let a = quantile_axis(4);
        // Centres of the quarters: Φ⁻¹(1/8), Φ⁻¹(3/8), and their mirror images.
        assert!((a[0] + 1.150349380).abs() < 1e-8 && (a[1] + 0.318639364).abs() < 1e-8);
        assert!((a[0] + a[3]).abs() < 1e-12 && (a[1] + a[2]).abs() < 1e-12);
        let l = lattice(&[-1.0, 2.0]);
        assert_eq!(l, vec![-1.0, -1.0, -1.0, 2.0, 2.0, -1.0, 2.0, 2.0]);
    }
}
