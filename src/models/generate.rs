//! Drawing images from a trained VAE (batch norm in eval mode, nothing recorded for
//! gradients): samples from the prior and reconstructions.

use super::{Likelihood, Vae};
use crate::autograd::Tape;
use crate::error::Result;
use crate::kernels::random::{self, RandomKey};
use crate::nn::ParamStore;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Random streams: training draws ε from stream 0; sampling never touches it.
const STREAM_Z: u32 = 1;
const STREAM_NOISE: u32 = 2;

/// `n` images [n, C, side, side] from z ~ N(0, I) (Philox keyed by `seed`):
/// deterministic x = μ_x(z), or with `ancestral` x ~ p(x | z): μ_x + γ·ε for the Gaussian
/// decoders, a Bernoulli draw per pixel for the Bernoulli one.
pub fn sample(vae: &Vae, s: &ParamStore, n: usize, seed: u64, ancestral: bool) -> Result<Vec<f32>> {
    let gpu = s.gpu();
    let key = |stream| RandomKey {
        seed,
        step: 0,
        stream,
    };
    let z = random::normal(gpu, &[n, vae.net.latent()], key(STREAM_Z))?;
    let mut t = Tape::new(gpu);
    let zv = t.constant(z)?;
    let mu_x = vae.net.decode(&mut t, s, zv, false)?;
    let mu = t.value(mu_x).clone();
    if !ancestral {
        return mu.to_vec();
    }
    match (vae.objective.likelihood, vae.gamma(s)?) {
        (Likelihood::Bernoulli, _) | (_, None) => {
            let mut rng = StdRng::seed_from_u64(seed ^ STREAM_NOISE as u64);
            Ok(mu
                .to_vec()?
                .into_iter()
                .map(|p| (rng.random_range(0.0..1.0) < p) as u8 as f32)
                .collect())
        }
        (_, Some(gamma)) => {
            let eps = random::normal(gpu, mu.shape(), key(STREAM_NOISE))?.to_vec()?;
            Ok(mu
                .to_vec()?
                .iter()
                .zip(eps)
                .map(|(m, e)| m + gamma * e)
                .collect())
        }
    }
}

/// μ_x(μ_z(x)) for images x [n, C, side, side]: the deterministic reconstruction.
pub fn reconstruct(vae: &Vae, s: &ParamStore, x: &[f32]) -> Result<Vec<f32>> {
    let (c, side) = vae.net.image();
    let n = x.len() / (c * side * side);
    let mut t = Tape::new(s.gpu());
    let xv = t.constant(Tensor::from_slice(s.gpu(), x, &[n, c, side, side])?)?;
    let (mu, _) = vae.net.encode(&mut t, s, xv, false)?;
    let out = vae.net.decode(&mut t, s, mu, false)?;
    t.value(out).to_vec()
}
