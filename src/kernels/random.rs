//! random.wgsl: standard normals from Philox4x32-10 keyed by (seed, step, stream, element),
//! the sampling of z ~ N(0, I) and the reparameterization trick z = μ + σ ⊙ ε.
//! ε is never stored: the backward regenerates it from the same key.

use super::{dense, fits_u32, groups_for, Params};
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

/// Names one draw. Two draws share no element unless all three fields match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomKey {
    /// The run's seed (Philox key).
    pub seed: u64,
    /// The training step (a fresh ε every step).
    pub step: u64,
    /// Which draw within a step (several reparameterizations, sampling).
    pub stream: u32,
}

impl RandomKey {
    /// The first six words of random.wgsl's Params: the count and the key.
    fn params(&self, n: usize) -> Params {
        Params::default()
            .u(n)
            .u((self.seed & 0xffff_ffff) as usize)
            .u((self.seed >> 32) as usize)
            .u((self.step & 0xffff_ffff) as usize)
            .u((self.step >> 32) as usize)
            .u(self.stream as usize)
    }
}

fn launch(
    entry: &'static str,
    key: RandomKey,
    n: usize,
    buffers: &[&wgpu::Buffer],
    t: &Tensor,
) -> Result<()> {
    t.gpu().dispatch(&Dispatch {
        shader: "random",
        entry,
        consts: &[],
        params: &key.params(n).u(0).u(0).bytes(),
        buffers,
        textures: &[],
        groups: groups_for(n, 256),
    })
}

/// ε ~ N(0, I) of the given shape, element i from counter i of `key`.
pub fn normal(gpu: &std::sync::Arc<crate::Gpu>, shape: &[usize], key: RandomKey) -> Result<Tensor> {
    let out = Tensor::empty(gpu, shape)?;
    fits_u32("normal", &out)?;
    if out.numel() > 0 {
        launch("normal_fill", key, out.numel(), &[out.buffer()], &out)?;
    }
    Ok(out)
}

fn same_shape(op: &'static str, a: (&str, &Tensor), b: (&str, &Tensor)) -> Result<()> {
    if a.1.shape() != b.1.shape() {
        return Err(Error::shape(
            op,
            format!(
                "{} {:?} and {} {:?} must have the same shape",
                a.0,
                a.1.shape(),
                b.0,
                b.1.shape()
            ),
        ));
    }
    Ok(())
}

/// z = μ + σ ⊙ ε with ε = `normal(shape, key)`.
pub fn reparameterize(mu: &Tensor, sigma: &Tensor, key: RandomKey) -> Result<Tensor> {
    const OP: &str = "reparameterize";
    same_shape(OP, ("mu", mu), ("sigma", sigma))?;
    fits_u32(OP, mu)?;
    let (mu, sigma) = (dense(mu)?, dense(sigma)?);
    let z = Tensor::empty(mu.gpu(), mu.shape())?;
    if z.numel() > 0 {
        launch(
            "reparam_forward",
            key,
            z.numel(),
            &[mu.buffer(), sigma.buffer(), z.buffer()],
            &z,
        )?;
    }
    Ok(z)
}

/// dσ = dz ⊙ ε, regenerating ε from `key` (dμ = dz).
pub fn reparameterize_grad_sigma(dz: &Tensor, key: RandomKey) -> Result<Tensor> {
    fits_u32("reparameterize_backward", dz)?;
    let dz = dense(dz)?;
    let ds = Tensor::empty(dz.gpu(), dz.shape())?;
    if ds.numel() > 0 {
        launch(
            "reparam_backward",
            key,
            ds.numel(),
            &[dz.buffer(), ds.buffer()],
            &ds,
        )?;
    }
    Ok(ds)
}

/// The same generator with u64 arithmetic and f64 Box–Muller.
pub mod reference {
    use super::RandomKey;

    pub fn philox(key: RandomKey, counter: [u32; 4]) -> [u32; 4] {
        let mut c = counter;
        let mut k = [key.seed as u32, (key.seed >> 32) as u32];
        for _ in 0..10 {
            let p0 = 0xD251_1F53u64 * c[0] as u64;
            let p1 = 0xCD9E_8D57u64 * c[2] as u64;
            c = [
                (p1 >> 32) as u32 ^ c[1] ^ k[0],
                p1 as u32,
                (p0 >> 32) as u32 ^ c[3] ^ k[1],
                p0 as u32,
            ];
            k = [
                k[0].wrapping_add(0x9E37_79B9),
                k[1].wrapping_add(0xBB67_AE85),
            ];
        }
        c
    }

    pub fn normal(key: RandomKey, i: u32) -> f64 {
        let r = philox(
            key,
            [i, key.step as u32, (key.step >> 32) as u32, key.stream],
        );
        let u1 = ((r[0] >> 8) + 1) as f64 / 16_777_216.0;
        let u2 = (r[1] >> 8) as f64 / 16_777_216.0;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * (u2 - 0.5)).cos()
    }

    /// The uniform in [0, 1) behind image n's categorical draw (24 bits of counter n).
    pub fn uniform(key: RandomKey, n: u32) -> f64 {
        let r = philox(
            key,
            [n, key.step as u32, (key.step >> 32) as u32, key.stream],
        );
        (r[0] >> 8) as f64 / 16_777_216.0
    }

    /// softmax of one pixel's logits: the cumulative probabilities cdf[k] = P(class < k)
    /// (K + 1 values; a draw u lands in class k when cdf[k] ≤ u < cdf[k + 1]) and the
    /// expected class.
    pub fn categorical(logits: &[f64]) -> (Vec<f64>, f64) {
        let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
        let s: f64 = e.iter().sum();
        let mut cdf = vec![0.0];
        for v in &e {
            cdf.push(cdf.last().unwrap() + v / s);
        }
        let mean = e.iter().enumerate().map(|(k, v)| k as f64 * v).sum::<f64>() / s;
        (cdf, mean)
    }

    pub fn normals(key: RandomKey, n: usize) -> Vec<f64> {
        (0..n as u32).map(|i| normal(key, i)).collect()
    }

    pub fn reparameterize(mu: &[f64], sigma: &[f64], key: RandomKey) -> Vec<f64> {
        let e = normals(key, mu.len());
        (0..mu.len()).map(|i| mu[i] + sigma[i] * e[i]).collect()
    }

    pub fn grad_sigma(dz: &[f64], key: RandomKey) -> Vec<f64> {
        let e = normals(key, dz.len());
        dz.iter().zip(e).map(|(d, e)| d * e).collect()
    }
}

/// Draws a pixel of every image from an autoregressive decoder's categorical
/// softmax(logits[n, :, `at.0`]) (logits [N, K, ...], their pixels those of a window of the
/// images): writes the drawn value k/(K − 1) into pixel `at.1` of `x` [N, 1, ...] in place,
/// and the pixel's expected value into `mean` (same shape). The uniform of image n is counter
/// (n, key.step, key.stream).
pub fn categorical_pixel(
    logits: &Tensor,
    x: &Tensor,
    mean: &Tensor,
    at: (usize, usize),
    key: RandomKey,
) -> Result<()> {
    const OP: &str = "categorical_pixel";
    let s = logits.shape();
    if s.len() < 2 || s[1] < 2 {
        return Err(Error::shape(
            OP,
            format!("logits must be [N, K ≥ 2, ...], got {s:?}"),
        ));
    }
    let (n, classes, pixels) = (s[0], s[1], s[2..].iter().product::<usize>());
    let image: usize = x.shape().iter().skip(2).product();
    for (what, t) in [("x", x), ("mean", mean)] {
        let sh = t.shape();
        let fits = sh.len() == s.len() && sh[..2] == [n, 1] && sh[sh.len() - 1] == s[s.len() - 1];
        if !fits || t.shape() != x.shape() || !t.is_contiguous() || t.offset() != 0 {
            return Err(Error::shape(
                OP,
                format!(
                    "{what} must be a dense [N, 1, ...] with the rows of logits {s:?} and x's shape, got {sh:?}"
                ),
            ));
        }
    }
    let (pixel, target) = at;
    if pixel >= pixels || target >= image {
        return Err(Error::shape(
            OP,
            format!("pixel {pixel} of {pixels} logits, into pixel {target} of {image}"),
        ));
    }
    fits_u32(OP, logits)?;
    let logits = dense(logits)?;
    let p = key
        .params(n)
        .u(classes)
        .u(pixels)
        .u(pixel)
        .u(image)
        .u(target)
        .u(0)
        .bytes();
    logits.gpu().dispatch(&Dispatch {
        shader: "random",
        entry: "categorical_pixel",
        consts: &[],
        params: &p,
        buffers: &[logits.buffer(), x.buffer(), mean.buffer()],
        textures: &[],
        groups: groups_for(n, 256),
    })
}
