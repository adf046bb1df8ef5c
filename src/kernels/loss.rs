//! loss.wgsl: the VAE objective's terms as fused reductions — Gaussian negative
//! log-likelihood with a learned scalar γ, Bernoulli cross-entropy, and the KL of a diagonal
//! Gaussian from N(0, I). Sums run over all elements and divide by the batch size B = dim 0.
//!
//! γ = exp(loggamma) is a **standard deviation**, as in the reference code (the paper writes
//! Σx = γI with γ a variance; with γ_paper = γ² the two losses are the same function).
//!
//! Each forward returns `[L, Σ terms]`: the loss and the raw sum the backward reuses.

use super::{dense, fits_u32, groups_for, Params};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Elements per workgroup in the first pass.
const CHUNK: usize = 4096;

fn params(n: usize, chunk: usize, inv_batch: f32) -> Vec<u8> {
    Params::default()
        .u(n)
        .u(chunk)
        .f(inv_batch)
        .f(n as f32)
        .bytes()
}

fn launch(
    entry: &'static str,
    p: &[u8],
    buffers: &[&wgpu::Buffer],
    groups: [u32; 3],
    t: &Tensor,
) -> Result<()> {
    super::launch("loss", entry, p, buffers, groups, t)
}

/// Checks the pair and returns (dense a, dense b, n, B).
fn pair(
    op: &'static str,
    names: [&str; 2],
    a: &Tensor,
    b: &Tensor,
) -> Result<(Tensor, Tensor, usize, usize)> {
    if a.shape() != b.shape() {
        return Err(Error::shape(
            op,
            format!(
                "{} {:?} and {} {:?} must have the same shape",
                names[0],
                a.shape(),
                names[1],
                b.shape()
            ),
        ));
    }
    let batch = match a.shape().first() {
        Some(&b) if b > 0 && a.numel() > 0 => b,
        _ => {
            return Err(Error::shape(
                op,
                format!("needs a non-empty batch, got {:?}", a.shape()),
            ))
        }
    };
    fits_u32(op, a)?;
    Ok((dense(a)?, dense(b)?, a.numel(), batch))
}

fn scalar(op: &'static str, what: &str, t: &Tensor) -> Result<Tensor> {
    if t.numel() != 1 {
        return Err(Error::shape(
            op,
            format!("{what} must hold one value, got shape {:?}", t.shape()),
        ));
    }
    dense(&t.reshape(&[1])?)
}

/// Σ over chunks of a term of (a, b), then the finishing entry. Returns the [2] output.
fn reduce(
    partial_entry: &'static str,
    a: &Tensor,
    b: &Tensor,
    n: usize,
    finish: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let g = n.div_ceil(CHUNK);
    let partials = Tensor::empty(a.gpu(), &[g])?;
    launch(
        partial_entry,
        &params(n, CHUNK, 0.0),
        &[a.buffer(), b.buffer(), partials.buffer()],
        crate::gpu::grid(g as u32, 1),
        a,
    )?;
    finish(&partials)
}

/// [scale·Σ, Σ] of the partial sums (shared with `softmax_ce`).
pub(crate) fn finish_sum(partials: &Tensor, n: usize, scale: f32) -> Result<Tensor> {
    let g = partials.numel();
    let out = Tensor::empty(partials.gpu(), &[2])?;
    launch(
        "finish_sum",
        &params(n, g, scale),
        &[partials.buffer(), out.buffer()],
        [1, 1, 1],
        partials,
    )?;
    Ok(out)
}

/// Gaussian NLL of x under N(x̂, γ²I), γ = exp(loggamma): [L, Σ(x − x̂)²].
pub fn gaussian_nll(x: &Tensor, xhat: &Tensor, loggamma: &Tensor) -> Result<Tensor> {
    const OP: &str = "gaussian_nll";
    let (x, xhat, n, batch) = pair(OP, ["target", "prediction"], x, xhat)?;
    let lg = scalar(OP, "loggamma", loggamma)?;
    reduce("gauss_partials", &x, &xhat, n, |partials| {
        let out = Tensor::empty(x.gpu(), &[2])?;
        let p = params(n, partials.numel(), 1.0 / batch as f32);
        launch(
            "finish_gauss",
            &p,
            &[partials.buffer(), lg.buffer(), out.buffer()],
            [1, 1, 1],
            &x,
        )?;
        Ok(out)
    })
}

/// (dL/dx̂, dL/dloggamma [1]) given the upstream gradient `g` (one value) and the forward output.
pub fn gaussian_nll_backward(
    g: &Tensor,
    x: &Tensor,
    xhat: &Tensor,
    loggamma: &Tensor,
    forward: &Tensor,
) -> Result<(Tensor, Tensor)> {
    const OP: &str = "gaussian_nll_backward";
    let (x, xhat, n, batch) = pair(OP, ["target", "prediction"], x, xhat)?;
    let (g, lg, fwd) = (
        scalar(OP, "gradient", g)?,
        scalar(OP, "loggamma", loggamma)?,
        dense(forward)?,
    );
    let p = params(n, CHUNK, 1.0 / batch as f32);
    let coef = Tensor::empty(x.gpu(), &[2])?;
    launch(
        "gauss_coef",
        &p,
        &[g.buffer(), lg.buffer(), fwd.buffer(), coef.buffer()],
        [1, 1, 1],
        &x,
    )?;
    let dxhat = Tensor::empty(x.gpu(), x.shape())?;
    launch(
        "gauss_grad",
        &p,
        &[x.buffer(), xhat.buffer(), coef.buffer(), dxhat.buffer()],
        groups_for(n, 256),
        &x,
    )?;
    Ok((dxhat, coef.narrow0(1, 1)?))
}

/// Bernoulli cross-entropy of targets x ∈ [0, 1] under means x̂, clamped at 1e-8: [L, −B·L].
pub fn bernoulli_ce(x: &Tensor, xhat: &Tensor) -> Result<Tensor> {
    let (x, xhat, n, batch) = pair("bernoulli_ce", ["target", "prediction"], x, xhat)?;
    reduce("bce_partials", &x, &xhat, n, |partials| {
        finish_sum(partials, n, -1.0 / batch as f32)
    })
}

pub fn bernoulli_ce_backward(g: &Tensor, x: &Tensor, xhat: &Tensor) -> Result<Tensor> {
    const OP: &str = "bernoulli_ce_backward";
    let (x, xhat, n, batch) = pair(OP, ["target", "prediction"], x, xhat)?;
    let g = scalar(OP, "gradient", g)?;
    let dxhat = Tensor::empty(x.gpu(), x.shape())?;
    let p = params(n, CHUNK, 1.0 / batch as f32);
    launch(
        "bce_grad",
        &p,
        &[x.buffer(), xhat.buffer(), g.buffer(), dxhat.buffer()],
        groups_for(n, 256),
        &x,
    )?;
    Ok(dxhat)
}

/// KL(N(μ, σ²) ‖ N(0, I)) summed over elements, divided by B: [L, 2B·L].
pub fn kl_normal(mu: &Tensor, sigma: &Tensor) -> Result<Tensor> {
    let (mu, sigma, n, batch) = pair("kl_normal", ["mu", "sigma"], mu, sigma)?;
    reduce("kl_partials", &mu, &sigma, n, |partials| {
        finish_sum(partials, n, 0.5 / batch as f32)
    })
}

/// (dL/dμ, dL/dσ) given the upstream gradient `g`.
pub fn kl_normal_backward(g: &Tensor, mu: &Tensor, sigma: &Tensor) -> Result<(Tensor, Tensor)> {
    const OP: &str = "kl_normal_backward";
    let (mu, sigma, n, batch) = pair(OP, ["mu", "sigma"], mu, sigma)?;
    let g = scalar(OP, "gradient", g)?;
    let p = params(n, CHUNK, 1.0 / batch as f32);
    let dmu = Tensor::empty(mu.gpu(), mu.shape())?;
    let dsigma = Tensor::empty(mu.gpu(), mu.shape())?;
    launch(
        "kl_grad_mu",
        &p,
        &[mu.buffer(), g.buffer(), dmu.buffer()],
        groups_for(n, 256),
        &mu,
    )?;
    launch(
        "kl_grad_sigma",
        &p,
        &[sigma.buffer(), g.buffer(), dsigma.buffer()],
        groups_for(n, 256),
        &mu,
    )?;
    Ok((dmu, dsigma))
}

/// The formulas in f64; `batch` is B.
pub mod reference {
    pub const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_8;
    const CLAMP: f64 = 1e-8;

    pub fn gaussian_nll(x: &[f64], xhat: &[f64], loggamma: f64, batch: usize) -> f64 {
        let inv_var = (-2.0 * loggamma).exp();
        x.iter()
            .zip(xhat)
            .map(|(a, b)| 0.5 * (a - b) * (a - b) * inv_var + loggamma + HALF_LOG_2PI)
            .sum::<f64>()
            / batch as f64
    }

    /// (dL/dx̂, dL/dloggamma).
    pub fn gaussian_nll_grad(
        x: &[f64],
        xhat: &[f64],
        loggamma: f64,
        batch: usize,
    ) -> (Vec<f64>, f64) {
        let inv_var = (-2.0 * loggamma).exp();
        let b = batch as f64;
        let dx = x
            .iter()
            .zip(xhat)
            .map(|(a, h)| (h - a) * inv_var / b)
            .collect();
        let dlg = x
            .iter()
            .zip(xhat)
            .map(|(a, h)| 1.0 - (a - h) * (a - h) * inv_var)
            .sum::<f64>()
            / b;
        (dx, dlg)
    }

    pub fn bernoulli_ce(x: &[f64], xhat: &[f64], batch: usize) -> f64 {
        -x.iter()
            .zip(xhat)
            .map(|(a, h)| a * h.max(CLAMP).ln() + (1.0 - a) * (1.0 - h).max(CLAMP).ln())
            .sum::<f64>()
            / batch as f64
    }

    pub fn bernoulli_ce_grad(x: &[f64], xhat: &[f64], batch: usize) -> Vec<f64> {
        x.iter()
            .zip(xhat)
            .map(|(a, h)| {
                let mut d = 0.0;
                if *h > CLAMP {
                    d -= a / h;
                }
                if 1.0 - h > CLAMP {
                    d += (1.0 - a) / (1.0 - h);
                }
                d / batch as f64
            })
            .collect()
    }

    pub fn kl_normal(mu: &[f64], sigma: &[f64], batch: usize) -> f64 {
        mu.iter()
            .zip(sigma)
            .map(|(m, s)| m * m + s * s - 2.0 * s.ln() - 1.0)
            .sum::<f64>()
            / 2.0
            / batch as f64
    }

    pub fn kl_normal_grad(mu: &[f64], sigma: &[f64], batch: usize) -> (Vec<f64>, Vec<f64>) {
        let b = batch as f64;
        (
            mu.iter().map(|m| m / b).collect(),
            sigma.iter().map(|s| (s - 1.0 / s) / b).collect(),
        )
    }
}
