//! The Fréchet distance between two Gaussians fitted to feature sets (the formula of FID,
//! Heusel et al. 2017): ‖μ_a − μ_b‖² + tr(Σ_a + Σ_b − 2(Σ_a^½ Σ_b Σ_a^½)^½). vae-gpu applies it
//! to the features of a classifier it trains itself, so the figures are named for that, not
//! called FID (which fixes Inception-v3's features).

use nalgebra::{DMatrix, DVector};

/// Mean and covariance (the unbiased n − 1 normalisation) of `n` feature rows of size d.
#[derive(Clone, Debug)]
pub struct Gaussian {
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
}

impl Gaussian {
    pub fn fit(features: &[f32], d: usize) -> Gaussian {
        let n = features.len() / d.max(1);
        let mut mean = DVector::<f64>::zeros(d);
        for row in features.chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += *v as f64;
            }
        }
        mean /= n.max(1) as f64;
        let mut cov = DMatrix::<f64>::zeros(d, d);
        let mut centred = vec![0.0f64; d];
        for row in features.chunks_exact(d) {
            for ((c, v), m) in centred.iter_mut().zip(row).zip(mean.iter()) {
                *c = *v as f64 - m;
            }
            for i in 0..d {
                for j in i..d {
                    cov[(i, j)] += centred[i] * centred[j];
                }
            }
        }
        let denom = (n.max(2) - 1) as f64;
        for i in 0..d {
            for j in i..d {
                cov[(i, j)] /= denom;
                cov[(j, i)] = cov[(i, j)];
            }
        }
        Gaussian { mean, cov }
    }
}

/// The symmetric square root of a symmetric positive semi-definite matrix (negative
/// eigenvalues from rounding are clamped to 0).
fn sqrtm_psd(m: &DMatrix<f64>) -> DMatrix<f64> {
    let e = m.clone().symmetric_eigen();
    let root = e.eigenvalues.map(|v| v.max(0.0).sqrt());
    &e.eigenvectors * DMatrix::from_diagonal(&root) * e.eigenvectors.transpose()
}

/// The Fréchet distance between `a` and `b`. tr((Σ_a Σ_b)^½) is computed as
/// tr((Σ_a^½ Σ_b Σ_a^½)^½), whose argument is symmetric PSD, so only symmetric
/// eigen-decompositions are needed (no complex square roots from rounding).
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> f64 {
    let diff = &a.mean - &b.mean;
    let sa = sqrtm_psd(&a.cov);
    let inner = &sa * &b.cov * &sa;
    let inner = (&inner + inner.transpose()) * 0.5;
    let cross: f64 = inner
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .map(|v| v.max(0.0).sqrt())
        .sum();
    (diff.dot(&diff) + a.cov.trace() + b.cov.trace() - 2.0 * cross).max(0.0)
}
