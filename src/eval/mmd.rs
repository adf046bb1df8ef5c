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

/// MMD² between the rows of `samples` [n, κ] and n fresh N(0, I) draws (Philox, `seed`).
pub fn mmd_to_standard_normal(samples: &Tensor, seed: u64) -> Result<f64> {
    let shape = samples.shape().to_vec();
    let key = RandomKey {
        seed,
        step: 0,
        stream: STREAM_REFERENCE,
    };
    let reference = normal(samples.gpu(), &shape, key)?;
    Ok(mmd(samples, &reference, config(shape[1]))?.to_vec()?[0] as f64)
}
