//! What the codes carry, from M encoded examples (μ_j, σ_j) and one draw z_i ~ q(z | x_i) each:
//! - Î(x; z) of Zhao, Song & Ermon (Appendix A.3),
//!   (1/M)·Σ_i log[ q(z_i | x_i) / ((1/M)·Σ_j q(z_i | x_j)) ], at most log M: the estimate
//!   cannot tell more than M examples apart, so a value near log M is a floor, not a value;
//! - the marginal KL of Rezende & Viola, KL(q(z) ‖ N(0, I)) with the aggregate posterior q(z)
//!   estimated by the same M-component mixture: (1/M)·Σ_i [log q̂(z_i) − log N(z_i; 0, I)];
//! - the same draws' average KL(q(z | x) ‖ N(0, I)), which splits exactly into the two
//!   (Hoffman & Johnson's ELBO surgery): mean KL = Î + marginal KL.
//!
//! All in nats, in f64 on the host (M²·κ terms: 64 M for M = 1000, κ = 64).

use super::likelihood::log_mean_exp;
use serde::{Deserialize, Serialize};

/// −½·log 2π.
const LOG_NORM: f64 = -0.918_938_533_204_672_7;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Information {
    pub examples: usize,
    /// Î(x; z), nats.
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub mutual_information: f64,
    /// log M, the estimate's ceiling.
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub upper_bound: f64,
    /// KL(q̂(z) ‖ N(0, I)) with q̂ the mixture of the M posteriors, nats.
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub marginal_kl: f64,
    /// (1/M)·Σ_i [log q(z_i | x_i) − log N(z_i; 0, I)]: a one-draw estimate of the mean KL.
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub mean_kl: f64,
}

/// log N(z; μ, diag σ²) with the σ's logarithms and inverse variances precomputed.
fn log_density(z: &[f64], mu: &[f64], log_sigma: &[f64], inv_var: &[f64]) -> f64 {
    let mut s = 0.0;
    for t in 0..z.len() {
        let e = z[t] - mu[t];
        s += LOG_NORM - log_sigma[t] - 0.5 * e * e * inv_var[t];
    }
    s
}

/// The three estimates from M rows of μ, σ and z ([M, κ] each, row-major).
pub fn information(mu: &[f32], sigma: &[f32], z: &[f32], latent: usize) -> Information {
    let m = z.len() / latent.max(1);
    assert!(
        m > 0 && mu.len() == m * latent && sigma.len() == m * latent,
        "μ, σ and z must all be [M, κ] with M ≥ 1"
    );
    let f = |v: &[f32]| v.iter().map(|x| *x as f64).collect::<Vec<f64>>();
    let (mu, z) = (f(mu), f(z));
    let log_sigma: Vec<f64> = sigma.iter().map(|s| (*s as f64).ln()).collect();
    let inv_var: Vec<f64> = sigma.iter().map(|s| 1.0 / (*s as f64).powi(2)).collect();
    let row = |j: usize| j * latent..(j + 1) * latent;
    let (mut mi, mut marginal, mut mean_kl) = (0.0, 0.0, 0.0);
    let mut logs = vec![0.0; m];
    for i in 0..m {
        let zi = &z[row(i)];
        for (j, l) in logs.iter_mut().enumerate() {
            let r = row(j);
            *l = log_density(zi, &mu[r.clone()], &log_sigma[r.clone()], &inv_var[r]);
        }
        let log_mixture = log_mean_exp(&logs);
        let log_prior: f64 = zi.iter().map(|v| LOG_NORM - 0.5 * v * v).sum();
        mi += logs[i] - log_mixture;
        marginal += log_mixture - log_prior;
        mean_kl += logs[i] - log_prior;
    }
    let n = m as f64;
    Information {
        examples: m,
        mutual_information: mi / n,
        upper_bound: n.ln(),
        marginal_kl: marginal / n,
        mean_kl: mean_kl / n,
    }
}
