//! Maximum mean discrepancy between N(0, I) and a latent sample (Dai & Wipf, Table 3), on
//! the GPU's MMD kernel. The paper does not state its kernel; vae-gpu uses the inverse
//! multiquadric k(a, b) = C/(C + ‖a − b‖²) with C = 2κ, the choice of Tolstikhin et al. (WAE)
//! for a unit-variance prior in κ dimensions, and the unbiased U-statistic estimator.

use crate::error::Result;
use crate::kernels::mmd::{mmd, MmdConfig, MmdKernel};
use crate::kernels::random::{normal, RandomKey};
use crate::tensor::Tensor;

/// The stream of the N(0, I) reference sample, apart from training's and sampling's.
const STREAM_REFERENCE: u32 = 40;

pub fn config(k: usize) -> MmdConfig {
    MmdConfig {
        kernel: MmdKernel::InverseMultiquadric { c: 2.0 * k as f32 },
        unbiased: true,
    }
}

/// n × κ draws of N(0, I) (Philox keyed by `seed` and `step`).
fn reference(samples: &Tensor, seed: u64, step: u64) -> Result<Tensor> {
    let key = RandomKey {
        seed,
        step,
        stream: STREAM_REFERENCE,
    };
    normal(samples.gpu(), samples.shape(), key)
}

/// MMD² between the rows of `samples` [n, κ] and n fresh N(0, I) draws (Philox, `seed`).
pub fn mmd_to_standard_normal(samples: &Tensor, seed: u64) -> Result<f64> {
    let k = samples.shape()[1];
    let r = reference(samples, seed, 0)?;
    Ok(mmd(samples, &r, config(k))?.to_vec()?[0] as f64)
}

/// The same statistic between two independent N(0, I) samples of `samples`' size: what the
/// estimator reads when the distributions are equal, i.e. its noise floor at this n and κ.
pub fn null_level(samples: &Tensor, seed: u64) -> Result<f64> {
    let a = reference(samples, seed, 1)?;
    mmd_to_standard_normal(&a, seed)
}
