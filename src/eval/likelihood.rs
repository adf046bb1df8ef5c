//! Importance-sampled log-likelihood (Burda et al.'s IWAE bound): with z_j ~ q(z | x),
//! log p(x) ≥ log (1/k) Σ_j p(x | z_j)·p(z_j) / q(z_j | x), tight as k → ∞. The terms are
//! summed here in f64 from the decoder means the GPU produced.

/// −½·log 2π.
const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;

/// The decoder's log-density of x given its mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decoder {
    /// N(μ_x, γ²I), γ a standard deviation.
    Gaussian { gamma: f64 },
    /// Bernoulli(μ_x) with the training loss's 1e-8 clamps.
    Bernoulli,
}

/// log p(x | z) for one example.
pub fn log_p_x_given_z(decoder: Decoder, x: &[f32], mu_x: &[f32]) -> f64 {
    match decoder {
        Decoder::Gaussian { gamma } => {
            let sse: f64 = x
                .iter()
                .zip(mu_x)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
            -sse / (2.0 * gamma * gamma) - x.len() as f64 * (gamma.ln() + HALF_LOG_2PI)
        }
        Decoder::Bernoulli => x
            .iter()
            .zip(mu_x)
            .map(|(a, p)| {
                let (a, p) = (*a as f64, *p as f64);
                a * p.max(1e-8).ln() + (1.0 - a) * (1.0 - p).max(1e-8).ln()
            })
            .sum(),
    }
}

/// log p(x | z) = Σ_p log softmax(logits)[class of x_p] of an autoregressive decoder given
/// its logits [K, ..pixels] for one example (computed with x itself as the context), the
/// class of a value v in [0, 1] being round(v·(K − 1)) as training reads it.
pub fn log_p_categorical(logits: &[f32], x: &[f32], classes: usize) -> f64 {
    let pixels = x.len();
    x.iter()
        .enumerate()
        .map(|(p, v)| {
            let at = |c: usize| logits[c * pixels + p] as f64;
            let m = (0..classes).map(at).fold(f64::NEG_INFINITY, f64::max);
            let lse = m + (0..classes).map(|c| (at(c) - m).exp()).sum::<f64>().ln();
            let class = ((*v as f64) * (classes - 1) as f64)
                .round()
                .clamp(0.0, (classes - 1) as f64);
            at(class as usize) - lse
        })
        .sum()
}

/// log p(z) − log q(z | x) for z = μ + σ·ε: the standard-normal prior against the diagonal
/// Gaussian posterior, −½Σz² + ½Σε² + Σ log σ (the 2π terms cancel).
pub fn log_prior_over_posterior(z: &[f64], eps: &[f64], sigma: &[f32]) -> f64 {
    let zz: f64 = z.iter().map(|v| v * v).sum();
    let ee: f64 = eps.iter().map(|v| v * v).sum();
    let ls: f64 = sigma.iter().map(|s| (*s as f64).ln()).sum();
    -0.5 * zz + 0.5 * ee + ls
}

/// log (1/k) Σ exp(w_j), computed stably.
pub fn log_mean_exp(w: &[f64]) -> f64 {
    let m = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + (w.iter().map(|v| (v - m).exp()).sum::<f64>() / w.len() as f64).ln()
}

/// Bits per dimension of 8-bit data from a density on [0, 1]^D: the density of the
/// integer pixels is p(x)/256^D, so −log₂ p = (−ln p(x) + D·ln 256)/ln 2, divided by D.
pub fn bits_per_dim(nll_nats: f64, dims: usize) -> f64 {
    (nll_nats + dims as f64 * 256f64.ln()) / (dims as f64 * 2f64.ln())
}

/// The γ-independent reconstruction NLL of Rezende & Viola (Appendix D): a Gaussian decoder
/// with one global σ, the optimal one for the training reconstructions, σ*² = their MSE,
/// then the NLL of held-out reconstructions under N(μ_x, σ*²). Runs whose γ (or λ, or
/// objective) differ are then compared on one scale.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GammaFreeNll {
    /// σ* = √(training MSE).
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub sigma: f64,
    /// −log N(x; μ_x, σ*²) per value, nats: ½·log 2πσ*² + MSE_test/(2σ*²).
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub nats_per_value: f64,
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub nats_per_image: f64,
    /// As bits per dimension of the 8-bit pixels (`bits_per_dim`).
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub bits_per_dim: f64,
}

pub fn gamma_free_nll(train_mse: f64, test_mse: f64, dims: usize) -> GammaFreeNll {
    let var = train_mse;
    let per_value = 0.5 * (2.0 * std::f64::consts::PI * var).ln() + test_mse / (2.0 * var);
    let per_image = per_value * dims as f64;
    GammaFreeNll {
        sigma: var.sqrt(),
        nats_per_value: per_value,
        nats_per_image: per_image,
        bits_per_dim: bits_per_dim(per_image, dims),
    }
}
