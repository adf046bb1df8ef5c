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
use crate::error::Result;
use crate::kernels::random::{self, RandomKey};
use crate::models::generate;
use crate::pipelines::Run;
use crate::tensor::Tensor;
use crate::train::Hooks;
use serde::{Deserialize, Serialize};

/// The z draws of Î(x; z) while training (Philox stream; the step is the training step).
const STREAM_DURING_TRAINING: u32 = 44;

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

/// Î(x; z) of stage 1 while it trains (`--mi-every`), the right panels of Zhao et al.'s
/// Figures 5 and 6: every `mi_every` steps the first `mi_images` training images are encoded
/// by the model as it is (batch norm debiased, as for sampling), one z ~ q(z | x) each
/// (keyed by the run's seed and the step, so a resumed run logs the same values), and the
/// estimate goes into the logged row as `mi`, with its ceiling log M as `mi_bound`.
pub struct DuringTraining<'a> {
    run: &'a Run,
}

impl<'a> DuringTraining<'a> {
    pub fn new(run: &'a Run) -> Self {
        DuringTraining { run }
    }
}

impl Hooks for DuringTraining<'_> {
    fn measure(&mut self, done: u64) -> Result<Vec<(&'static str, f64)>> {
        let run = self.run;
        let Some(every) = run.cfg.mi_every else {
            return Ok(Vec::new());
        };
        if !done.is_multiple_of(every as u64) {
            return Ok(Vec::new());
        }
        let s = &run.stage1;
        let m = run.cfg.mi_images.min(run.data.len());
        let shape = s.vae.net.example_shape();
        let mut host = Vec::new();
        let (mu, sigma) = s.with_debiased_bn(done, || {
            generate::encode_batches(
                &s.vae,
                &s.store,
                m,
                generate::DEFAULT_BATCH,
                |start, len| {
                    run.data
                        .gather(&(start..start + len).collect::<Vec<_>>(), &mut host);
                    let mut dims = vec![len];
                    dims.extend(&shape);
                    Tensor::from_slice(s.store.gpu(), &host, &dims)
                },
            )
        })?;
        let key = RandomKey {
            seed: run.cfg.seed,
            step: done,
            stream: STREAM_DURING_TRAINING,
        };
        let z = random::reparameterize(&mu, &sigma, key)?;
        let info = information(
            &mu.to_vec()?,
            &sigma.to_vec()?,
            &z.to_vec()?,
            s.vae.net.latent(),
        );
        Ok(vec![
            ("mi", info.mutual_information),
            ("mi_bound", info.upper_bound),
        ])
    }
}
