//! mmd.wgsl: squared maximum mean discrepancy between two sample sets, with an RBF or an
//! inverse-multiquadric kernel, and its gradient with respect to both sets (the InfoVAE-style
//! regulariser trains through it; the diagnostics compare q(z) with N(0, I) with it).

use super::{dense, expect_rank, fits_u32, groups_for, reduce, Params};
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MmdKernel {
    /// k = exp(−‖a − b‖²/c)
    Rbf { c: f32 },
    /// k = c/(c + ‖a − b‖²), heavier-tailed (Tolstikhin et al.'s WAE choice).
    InverseMultiquadric { c: f32 },
}

impl MmdKernel {
    /// c = 2·d, the scale that matches a unit-variance prior in d dimensions (WAE's default).
    pub fn rbf_for_dim(d: usize) -> Self {
        MmdKernel::Rbf { c: 2.0 * d as f32 }
    }
    pub fn imq_for_dim(d: usize) -> Self {
        MmdKernel::InverseMultiquadric { c: 2.0 * d as f32 }
    }
    fn code(self) -> (usize, f32) {
        match self {
            MmdKernel::Rbf { c } => (0, c),
            MmdKernel::InverseMultiquadric { c } => (1, c),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmdConfig {
    pub kernel: MmdKernel,
    /// The U-statistic (no diagonal terms): unbiased, can be slightly negative.
    pub unbiased: bool,
}

fn check(
    op: &'static str,
    x: &Tensor,
    y: &Tensor,
    cfg: MmdConfig,
) -> Result<(usize, usize, usize)> {
    expect_rank(op, "X", x, 2)?;
    expect_rank(op, "Y", y, 2)?;
    let (n, d, m) = (x.shape()[0], x.shape()[1], y.shape()[0]);
    if y.shape()[1] != d {
        return Err(Error::shape(
            op,
            format!(
                "X {:?} and Y {:?} must have the same feature size",
                x.shape(),
                y.shape()
            ),
        ));
    }
    let min = if cfg.unbiased { 2 } else { 1 };
    if n < min || m < min || d == 0 {
        return Err(Error::shape(
            op,
            format!(
                "needs at least {min} samples of each set, got X {:?} and Y {:?}",
                x.shape(),
                y.shape()
            ),
        ));
    }
    let (_, c) = cfg.kernel.code();
    if !(c > 0.0 && c.is_finite()) {
        return Err(Error::shape(
            op,
            format!("kernel scale must be positive, got {c}"),
        ));
    }
    fits_u32(op, x)?;
    fits_u32(op, y)?;
    Ok((n, m, d))
}

fn params(n: usize, m: usize, d: usize, cfg: MmdConfig, side: usize) -> Vec<u8> {
    let (k, c) = cfg.kernel.code();
    Params::default()
        .u(n)
        .u(m)
        .u(d)
        .u(k)
        .f(c)
        .u(cfg.unbiased as usize)
        .u(side)
        .u(0)
        .bytes()
}

/// MMD²(X, Y) as a shape-[] tensor.
pub fn mmd(x: &Tensor, y: &Tensor, cfg: MmdConfig) -> Result<Tensor> {
    const OP: &str = "mmd";
    let (n, m, d) = check(OP, x, y, cfg)?;
    let (x, y) = (dense(x)?, dense(y)?);
    let rows = Tensor::empty(x.gpu(), &[n + m])?;
    x.gpu().dispatch(&Dispatch {
        shader: "mmd",
        entry: "mmd_rows",
        consts: &[],
        params: &params(n, m, d, cfg, 0),
        buffers: &[x.buffer(), y.buffer(), rows.buffer()],
        textures: &[],
        groups: groups_for(n + m, 64),
    })?;
    reduce::sum_all(&rows, false)
}

/// (dMMD²/dX, dMMD²/dY) scaled by the upstream gradient `g` (one value).
pub fn mmd_backward(
    g: &Tensor,
    x: &Tensor,
    y: &Tensor,
    cfg: MmdConfig,
) -> Result<(Tensor, Tensor)> {
    const OP: &str = "mmd_backward";
    let (n, m, d) = check(OP, x, y, cfg)?;
    if g.numel() != 1 {
        return Err(Error::shape(
            OP,
            format!("gradient must hold one value, got {:?}", g.shape()),
        ));
    }
    let (x, y, g) = (dense(x)?, dense(y)?, dense(g)?);
    // Every pair's 4·g·w·dk/d(r²) once: (n + m)² values (64 KiB at a batch of 64 against 64).
    let pairs = (n + m) * (n + m);
    let slopes = Tensor::empty(x.gpu(), &[pairs])?;
    fits_u32(OP, &slopes)?;
    x.gpu().dispatch(&Dispatch {
        shader: "mmd",
        entry: "mmd_slopes",
        consts: &[],
        params: &params(n, m, d, cfg, 0),
        buffers: &[x.buffer(), y.buffer(), slopes.buffer(), g.buffer()],
        textures: &[],
        groups: groups_for(pairs, 64),
    })?;
    let grad = |side: usize, rows: usize| -> Result<Tensor> {
        let out = Tensor::empty(x.gpu(), &[rows, d])?;
        x.gpu().dispatch(&Dispatch {
            shader: "mmd",
            entry: "mmd_grad",
            consts: &[],
            params: &params(n, m, d, cfg, side),
            buffers: &[x.buffer(), y.buffer(), slopes.buffer(), out.buffer()],
            textures: &[],
            groups: groups_for(rows * d, 64),
        })?;
        Ok(out)
    };
    Ok((grad(0, n)?, grad(1, m)?))
}

/// The double sum written out in f64.
pub mod reference {
    use super::{MmdConfig, MmdKernel};

    fn k(kernel: MmdKernel, r2: f64) -> f64 {
        match kernel {
            MmdKernel::Rbf { c } => (-r2 / c as f64).exp(),
            MmdKernel::InverseMultiquadric { c } => c as f64 / (c as f64 + r2),
        }
    }

    fn mean_k(a: &[f64], b: &[f64], d: usize, cfg: MmdConfig, same: bool) -> f64 {
        let (na, nb) = (a.len() / d, b.len() / d);
        let mut s = 0.0;
        let mut count = 0.0;
        for i in 0..na {
            for j in 0..nb {
                if same && cfg.unbiased && i == j {
                    continue;
                }
                let r2: f64 = (0..d).map(|t| (a[i * d + t] - b[j * d + t]).powi(2)).sum();
                s += k(cfg.kernel, r2);
                count += 1.0;
            }
        }
        s / count
    }

    pub fn mmd(x: &[f64], y: &[f64], d: usize, cfg: MmdConfig) -> f64 {
        mean_k(x, x, d, cfg, true) + mean_k(y, y, d, cfg, true) - 2.0 * mean_k(x, y, d, cfg, false)
    }

    fn slope(kernel: MmdKernel, r2: f64) -> f64 {
        match kernel {
            MmdKernel::Rbf { c } => -(-r2 / c as f64).exp() / c as f64,
            MmdKernel::InverseMultiquadric { c } => -(c as f64) / (c as f64 + r2).powi(2),
        }
    }

    /// The weight of pair (i, j) of the pooled rows [X; Y] (n of X, m of Y).
    pub fn weight(i: usize, j: usize, n: usize, m: usize, unbiased: bool) -> f64 {
        let (xi, xj) = (i < n, j < n);
        let (n, m) = (n as f64, m as f64);
        match (xi, xj) {
            (true, false) | (false, true) => -1.0 / (n * m),
            _ if unbiased && i == j => 0.0,
            (true, true) if unbiased => 1.0 / (n * (n - 1.0)),
            (false, false) if unbiased => 1.0 / (m * (m - 1.0)),
            (true, true) => 1.0 / (n * n),
            (false, false) => 1.0 / (m * m),
        }
    }

    /// dMMD²/dz for every pooled row, and Σ_j |4·w·k'·(z_i − z_j)| per element (the scale of
    /// the sum, for the tolerance): ([X; Y] gradient, scale), both [(n + m)·d].
    pub fn mmd_grad(x: &[f64], y: &[f64], d: usize, cfg: MmdConfig) -> (Vec<f64>, Vec<f64>) {
        let (n, m) = (x.len() / d, y.len() / d);
        let z: Vec<f64> = x.iter().chain(y).copied().collect();
        let mut g = vec![0.0; z.len()];
        let mut s = vec![0.0; z.len()];
        for i in 0..n + m {
            for j in 0..n + m {
                let r2: f64 = (0..d).map(|t| (z[i * d + t] - z[j * d + t]).powi(2)).sum();
                let f = 4.0 * weight(i, j, n, m, cfg.unbiased) * slope(cfg.kernel, r2);
                for t in 0..d {
                    let e = f * (z[i * d + t] - z[j * d + t]);
                    g[i * d + t] += e;
                    s[i * d + t] += e.abs();
                }
            }
        }
        (g, s)
    }
}
