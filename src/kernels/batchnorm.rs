//! batchnorm.wgsl: batch normalisation over (N) of [N, C] or (N, H, W) of [N, C, H, W].
//! Training mode uses batch statistics and updates running averages in place;
//! eval mode uses the running averages. The forward keeps `xhat` and `stats` for backward.

use super::channel::{channel_dims, expect_channels};
use super::{dense, fits_u32, groups_for, per_channel_launch, Params};
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    pub eps: f32,
    /// running = momentum·running + (1 − momentum)·batch (the reference uses 0.999).
    pub momentum: f32,
}

/// What the forward pass leaves for the backward pass.
pub struct BatchNormForward {
    pub y: Tensor,
    /// (x − mean)·invstd
    pub xhat: Tensor,
    /// [2, C]: mean, then 1/sqrt(var + eps) — batch statistics in training, running ones in eval.
    pub stats: Tensor,
    pub train: bool,
}

pub struct BatchNormGrads {
    pub dx: Tensor,
    pub dgamma: Tensor,
    pub dbeta: Tensor,
}

fn params(
    n: usize,
    c: usize,
    inner: usize,
    update: bool,
    cfg: BatchNormConfig,
    train: bool,
) -> Vec<u8> {
    Params::default()
        .u(n)
        .u(c)
        .u(inner)
        .u(update as usize)
        .f(cfg.eps)
        .f(cfg.momentum)
        .u(train as usize)
        .u(0)
        .bytes()
}

fn launch(
    entry: &'static str,
    x: &Tensor,
    params: &[u8],
    buffers: &[&wgpu::Buffer],
    groups: [u32; 3],
) -> Result<()> {
    x.gpu().dispatch(&Dispatch {
        shader: "batchnorm",
        entry,
        consts: &[],
        params,
        buffers,
        textures: &[],
        groups,
    })
}

fn expect_state(op: &'static str, what: &str, t: &Tensor, c: usize) -> Result<()> {
    expect_channels(op, what, t, c)?;
    if !t.is_contiguous() || t.offset() != 0 {
        return Err(Error::shape(
            op,
            format!("{what} is updated in place and must be a dense tensor, not a view"),
        ));
    }
    Ok(())
}

/// Normalises x with `stats`, then scales and shifts.
fn normalize_affine(
    x: &Tensor,
    stats: Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    p: &[u8],
    train: bool,
) -> Result<BatchNormForward> {
    let xhat = Tensor::empty(x.gpu(), x.shape())?;
    let y = Tensor::empty(x.gpu(), x.shape())?;
    let groups = groups_for(x.numel(), 256);
    launch(
        "bn_normalize",
        x,
        p,
        &[x.buffer(), stats.buffer(), xhat.buffer()],
        groups,
    )?;
    launch(
        "bn_affine",
        x,
        p,
        &[xhat.buffer(), gamma.buffer(), beta.buffer(), y.buffer()],
        groups,
    )?;
    Ok(BatchNormForward {
        y,
        xhat,
        stats,
        train,
    })
}

fn check(
    op: &'static str,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
) -> Result<(usize, usize, usize)> {
    let (n, c, inner) = channel_dims(op, x)?;
    expect_channels(op, "gamma", gamma, c)?;
    expect_channels(op, "beta", beta, c)?;
    fits_u32(op, x)?;
    if n * inner == 0 || c == 0 {
        return Err(Error::shape(
            op,
            format!("cannot normalise an empty batch {:?}", x.shape()),
        ));
    }
    Ok((n, c, inner))
}

/// Training mode: batch statistics; `running_mean`/`running_var` ([C], dense) are updated in place.
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    cfg: BatchNormConfig,
) -> Result<BatchNormForward> {
    const OP: &str = "batch_norm";
    let (n, c, inner) = check(OP, x, gamma, beta)?;
    expect_state(OP, "running_mean", running_mean, c)?;
    expect_state(OP, "running_var", running_var, c)?;
    let (x, gamma, beta) = (dense(x)?, dense(gamma)?, dense(beta)?);
    let p = params(n, c, inner, true, cfg, true);
    let stats = Tensor::empty(x.gpu(), &[2, c])?;
    let (entry, groups) = per_channel_launch(x.gpu(), c, n * inner, "bn_stats", "bn_stats_seq");
    launch(
        entry,
        &x,
        &p,
        &[
            x.buffer(),
            stats.buffer(),
            running_mean.buffer(),
            running_var.buffer(),
        ],
        groups,
    )?;
    normalize_affine(&x, stats, &gamma, &beta, &p, true)
}

/// Eval mode: the running averages stand in for the batch statistics.
pub fn batch_norm_eval(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    cfg: BatchNormConfig,
) -> Result<BatchNormForward> {
    const OP: &str = "batch_norm_eval";
    let (n, c, inner) = check(OP, x, gamma, beta)?;
    expect_channels(OP, "running_mean", running_mean, c)?;
    expect_channels(OP, "running_var", running_var, c)?;
    let (x, gamma, beta) = (dense(x)?, dense(gamma)?, dense(beta)?);
    let (rm, rv) = (dense(running_mean)?, dense(running_var)?);
    let p = params(n, c, inner, false, cfg, false);
    let stats = Tensor::empty(x.gpu(), &[2, c])?;
    launch(
        "bn_eval_stats",
        &x,
        &p,
        &[rm.buffer(), rv.buffer(), stats.buffer()],
        groups_for(c, 256),
    )?;
    normalize_affine(&x, stats, &gamma, &beta, &p, false)
}

/// Gradients of y = batch_norm(x) given dy, in the mode the forward ran in.
pub fn batch_norm_backward(
    dy: &Tensor,
    fwd: &BatchNormForward,
    gamma: &Tensor,
) -> Result<BatchNormGrads> {
    const OP: &str = "batch_norm_backward";
    if dy.shape() != fwd.xhat.shape() {
        return Err(Error::shape(
            OP,
            format!(
                "gradient {:?} does not match the forward input {:?}",
                dy.shape(),
                fwd.xhat.shape()
            ),
        ));
    }
    let (n, c, inner) = channel_dims(OP, dy)?;
    expect_channels(OP, "gamma", gamma, c)?;
    let (dy, gamma) = (dense(dy)?, dense(gamma)?);
    let cfg = BatchNormConfig {
        eps: 0.0,
        momentum: 0.0,
    };
    let p = params(n, c, inner, false, cfg, fwd.train);
    let dgb = Tensor::empty(dy.gpu(), &[2, c])?;
    let coef = Tensor::empty(dy.gpu(), &[3, c])?;
    let dx = Tensor::empty(dy.gpu(), dy.shape())?;
    let (entry, groups) = per_channel_launch(
        dy.gpu(),
        c,
        n * inner,
        "bn_backward_reduce",
        "bn_backward_reduce_seq",
    );
    launch(
        entry,
        &dy,
        &p,
        &[fwd.xhat.buffer(), dy.buffer(), dgb.buffer()],
        groups,
    )?;
    launch(
        "bn_backward_coef",
        &dy,
        &p,
        &[
            fwd.stats.buffer(),
            gamma.buffer(),
            dgb.buffer(),
            coef.buffer(),
        ],
        groups_for(c, 256),
    )?;
    launch(
        "bn_backward_dx",
        &dy,
        &p,
        &[fwd.xhat.buffer(), dy.buffer(), coef.buffer(), dx.buffer()],
        groups_for(dy.numel(), 256),
    )?;
    let dgamma = dgb.narrow0(0, 1)?.reshape(&[c])?;
    let dbeta = dgb.narrow0(1, 1)?.reshape(&[c])?;
    Ok(BatchNormGrads { dx, dgamma, dbeta })
}

/// Textbook formulas in f64 over a dense [N, C, inner] array.
pub mod reference {
    pub struct Dims {
        pub n: usize,
        pub c: usize,
        pub inner: usize,
    }

    fn idx(d: &Dims, c: usize, j: usize) -> usize {
        ((j / d.inner) * d.c + c) * d.inner + j % d.inner
    }

    /// Per-channel batch mean and biased variance.
    pub fn moments(d: &Dims, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let m = (d.n * d.inner) as f64;
        let mut mean = vec![0.0; d.c];
        let mut var = vec![0.0; d.c];
        for c in 0..d.c {
            mean[c] = (0..d.n * d.inner).map(|j| x[idx(d, c, j)]).sum::<f64>() / m;
            var[c] = (0..d.n * d.inner)
                .map(|j| (x[idx(d, c, j)] - mean[c]).powi(2))
                .sum::<f64>()
                / m;
        }
        (mean, var)
    }

    /// y = gamma·(x − mean)/sqrt(var + eps) + beta with the given per-channel mean and var.
    pub fn normalize(
        d: &Dims,
        x: &[f64],
        mean: &[f64],
        var: &[f64],
        gamma: &[f64],
        beta: &[f64],
        eps: f64,
    ) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for c in 0..d.c {
            for j in 0..d.n * d.inner {
                let i = idx(d, c, j);
                y[i] = gamma[c] * (x[i] - mean[c]) / (var[c] + eps).sqrt() + beta[c];
            }
        }
        y
    }

    pub fn forward_train(d: &Dims, x: &[f64], gamma: &[f64], beta: &[f64], eps: f64) -> Vec<f64> {
        let (mean, var) = moments(d, x);
        normalize(d, x, &mean, &var, gamma, beta, eps)
    }

    /// Running averages after one training step (unbiased variance).
    pub fn running_update(
        d: &Dims,
        x: &[f64],
        rm: &[f64],
        rv: &[f64],
        momentum: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let (mean, var) = moments(d, x);
        let m = (d.n * d.inner) as f64;
        let unbiased = |v: f64| v * m / (m - 1.0).max(1.0);
        (
            (0..d.c)
                .map(|c| momentum * rm[c] + (1.0 - momentum) * mean[c])
                .collect(),
            (0..d.c)
                .map(|c| momentum * rv[c] + (1.0 - momentum) * unbiased(var[c]))
                .collect(),
        )
    }

    /// (dx, dgamma, dbeta). Training: through the batch statistics; eval: statistics fixed.
    #[allow(clippy::too_many_arguments)] // the arguments are the formula's symbols
    pub fn backward(
        d: &Dims,
        x: &[f64],
        dy: &[f64],
        gamma: &[f64],
        mean: &[f64],
        var: &[f64],
        eps: f64,
        train: bool,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let m = (d.n * d.inner) as f64;
        let mut dx = vec![0.0; x.len()];
        let mut dgamma = vec![0.0; d.c];
        let mut dbeta = vec![0.0; d.c];
        for c in 0..d.c {
            let inv = 1.0 / (var[c] + eps).sqrt();
            let xh = |j: usize| (x[idx(d, c, j)] - mean[c]) * inv;
            for j in 0..d.n * d.inner {
                dgamma[c] += dy[idx(d, c, j)] * xh(j);
                dbeta[c] += dy[idx(d, c, j)];
            }
            for j in 0..d.n * d.inner {
                let i = idx(d, c, j);
                dx[i] = if train {
                    gamma[c] * inv * (dy[i] - dbeta[c] / m - xh(j) * dgamma[c] / m)
                } else {
                    gamma[c] * inv * dy[i]
                };
            }
        }
        (dx, dgamma, dbeta)
    }
}
