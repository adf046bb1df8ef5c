//! Encoder variances (Dai & Wipf, Section 3 and Figure 1b): at a good optimum each latent
//! dimension is either active — its posterior variance σ_z² near 0, carrying the manifold's
//! coordinates — or superfluous, with σ_z² near 1 (the prior), ignored by the decoder. The
//! count of active dimensions estimates the data manifold's dimension r.

use serde::{Deserialize, Serialize};

/// A dimension is active when its mean σ_z² over the data is below this, superfluous when
/// above. The paper's values cluster at ~0.01 and ~1.0, so the midpoint separates them; a
/// dimension near the threshold is counted but flagged as undecided (between 0.1 and 0.9).
pub const ACTIVE_BELOW: f64 = 0.5;
const DECIDED_BELOW: f64 = 0.1;
const DECIDED_ABOVE: f64 = 0.9;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderVariances {
    /// Mean over the examples of σ_z² per latent dimension.
    #[serde(deserialize_with = "crate::run_dir::nulls_are_nan")]
    pub mean_variance: Vec<f64>,
    #[serde(deserialize_with = "crate::run_dir::null_is_nan")]
    pub threshold: f64,
    /// Dimensions with mean σ_z² < threshold.
    pub active: usize,
    pub superfluous: usize,
    /// Dimensions with mean σ_z² in [0.1, 0.9]: neither clearly used nor clearly ignored.
    pub undecided: usize,
}

/// From σ_z of `n` examples, row-major [n, k].
pub fn encoder_variances(sigma: &[f32], k: usize) -> EncoderVariances {
    let n = sigma.len() / k.max(1);
    let mut mean = vec![0.0f64; k];
    for row in sigma.chunks_exact(k) {
        for (m, s) in mean.iter_mut().zip(row) {
            *m += (*s as f64) * (*s as f64);
        }
    }
    for m in &mut mean {
        *m /= n.max(1) as f64;
    }
    let active = mean.iter().filter(|&&v| v < ACTIVE_BELOW).count();
    let undecided = mean
        .iter()
        .filter(|&&v| (DECIDED_BELOW..=DECIDED_ABOVE).contains(&v))
        .count();
    EncoderVariances {
        threshold: ACTIVE_BELOW,
        active,
        superfluous: k - active,
        undecided,
        mean_variance: mean,
    }
}
