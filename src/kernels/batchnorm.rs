//! batchnorm.wgsl: batch normalisation over (N) of [N, C] or (N, H, W) of [N, C, H, W], fused
//! with the activation after it (`ChannelAct`). Training mode uses batch statistics and updates
//! running averages in place; eval mode uses the running averages. The forward keeps its input
//! and per-channel coefficients for the backward, not the normalised input.

use super::channel::{channel_dims, channel_map, expect_channels, ChannelAct};
use super::{dense, fits_u32, groups_for, per_channel_launch, view_snapshot, Params};
use crate::error::{Error, Result};
use crate::gpu::route::PerChannel;
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    pub eps: f32,
    /// running = momentum·running + (1 − momentum)·batch (the reference uses 0.999).
    pub momentum: f32,
}

/// What the forward pass leaves for the backward pass: its input and [4, C] coefficients
/// (μ, γ·invstd, β, invstd; batch statistics in training, running ones in eval), from which
/// the backward recomputes the normalised input and the activation's derivative.
pub struct BatchNormForward {
    pub y: Tensor,
    x: Tensor,
    coef: Tensor,
    act: ChannelAct,
    train: bool,
}

pub struct BatchNormGrads {
    pub dx: Tensor,
    pub dgamma: Tensor,
    pub dbeta: Tensor,
}

/// One batch norm's uniform and shape: C and inner are pipeline constants of every entry.
struct Setup {
    c: usize,
    inner: usize,
    params: Vec<u8>,
}

impl Setup {
    fn new(n: usize, c: usize, inner: usize, cfg: BatchNormConfig, mode: Mode) -> Setup {
        let params = Params::default()
            .u(n)
            .u(mode.update as usize)
            .u(mode.train as usize)
            .f(mode.slope)
            .f(cfg.eps)
            .f(cfg.momentum)
            .bytes();
        Setup { c, inner, params }
    }

    fn consts(&self, extra: &[(&'static str, u32)]) -> Vec<(&'static str, u32)> {
        let mut v = vec![("CH", self.c as u32), ("INNER", self.inner as u32)];
        v.extend_from_slice(extra);
        v
    }

    fn launch(
        &self,
        entry: &'static str,
        x: &Tensor,
        extra: &[(&'static str, u32)],
        buffers: &[&wgpu::Buffer],
        textures: &[&wgpu::TextureView],
        groups: [u32; 3],
    ) -> Result<()> {
        x.gpu().dispatch(&Dispatch {
            shader: "batchnorm",
            entry,
            consts: &self.consts(extra),
            params: &self.params,
            buffers,
            textures,
            groups,
        })
    }
}

/// What a pass does besides normalising: update the running averages, differentiate through
/// the batch statistics, and the leaky activation's slope.
#[derive(Clone, Copy)]
struct Mode {
    update: bool,
    train: bool,
    slope: f32,
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

/// Fills in γ·invstd and β beside the statistics, then y = act(γ·invstd·(x − μ) + β).
fn finish(
    x: Tensor,
    coef: Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    setup: &Setup,
    act: ChannelAct,
    train: bool,
) -> Result<BatchNormForward> {
    setup.launch(
        "bn_coef",
        &x,
        &[],
        &[gamma.buffer(), beta.buffer(), coef.buffer()],
        &[],
        groups_for(setup.c, 256),
    )?;
    let y = channel_map("batch_norm", &x, &coef, true, act)?;
    Ok(BatchNormForward {
        y,
        x,
        coef,
        act,
        train,
    })
}

fn check(
    op: &'static str,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    act: ChannelAct,
) -> Result<(usize, usize, usize, f32)> {
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
    Ok((n, c, inner, act.code(op)?.1))
}

/// Training mode: batch statistics; `running_mean`/`running_var` ([C], dense) are updated in
/// place. The output is act(batch_norm(x)).
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    cfg: BatchNormConfig,
    act: ChannelAct,
) -> Result<BatchNormForward> {
    const OP: &str = "batch_norm";
    let (n, c, inner, slope) = check(OP, x, gamma, beta, act)?;
    expect_state(OP, "running_mean", running_mean, c)?;
    expect_state(OP, "running_var", running_var, c)?;
    let (x, gamma, beta) = (dense(x)?, dense(gamma)?, dense(beta)?);
    let mode = Mode {
        update: true,
        train: true,
        slope,
    };
    let setup = Setup::new(n, c, inner, cfg, mode);
    let coef = Tensor::empty(x.gpu(), &[4, c])?;
    let sizes = PerChannel {
        c,
        n,
        inner,
        passes: 2,
    };
    let launch = per_channel_launch(x.gpu(), sizes, "bn_stats", "bn_stats_seq");
    // The in-order sums read x from a texture where memory-bound kernels do (see
    // batchnorm.wgsl); x is dense from offset 0, so its texels hold its elements in order.
    let snapshot = launch
        .in_order
        .then(|| view_snapshot(&x, &[x.numel()], &[1]))
        .flatten();
    match snapshot {
        Some((xt, _, true)) => setup.launch(
            "bn_stats_seq_tex",
            &x,
            &[launch.wg],
            &[coef.buffer(), running_mean.buffer(), running_var.buffer()],
            &[xt.view()],
            launch.groups,
        )?,
        _ => setup.launch(
            launch.entry,
            &x,
            &[launch.wg],
            &[
                x.buffer(),
                coef.buffer(),
                running_mean.buffer(),
                running_var.buffer(),
            ],
            &[],
            launch.groups,
        )?,
    }
    finish(x, coef, &gamma, &beta, &setup, act, true)
}

/// Eval mode: the running averages stand in for the batch statistics.
pub fn batch_norm_eval(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    cfg: BatchNormConfig,
    act: ChannelAct,
) -> Result<BatchNormForward> {
    const OP: &str = "batch_norm_eval";
    let (n, c, inner, slope) = check(OP, x, gamma, beta, act)?;
    expect_channels(OP, "running_mean", running_mean, c)?;
    expect_channels(OP, "running_var", running_var, c)?;
    let (x, gamma, beta) = (dense(x)?, dense(gamma)?, dense(beta)?);
    let (rm, rv) = (dense(running_mean)?, dense(running_var)?);
    let mode = Mode {
        update: false,
        train: false,
        slope,
    };
    let setup = Setup::new(n, c, inner, cfg, mode);
    let coef = Tensor::empty(x.gpu(), &[4, c])?;
    setup.launch(
        "bn_eval_stats",
        &x,
        &[],
        &[rm.buffer(), rv.buffer(), coef.buffer()],
        &[],
        groups_for(c, 256),
    )?;
    finish(x, coef, &gamma, &beta, &setup, act, false)
}

/// Gradients of y = act(batch_norm(x)) given dy, in the mode the forward ran in.
pub fn batch_norm_backward(dy: &Tensor, fwd: &BatchNormForward) -> Result<BatchNormGrads> {
    const OP: &str = "batch_norm_backward";
    let x = &fwd.x;
    if dy.shape() != x.shape() {
        return Err(Error::shape(
            OP,
            format!(
                "gradient {:?} does not match the forward input {:?}",
                dy.shape(),
                x.shape()
            ),
        ));
    }
    let (n, c, inner) = channel_dims(OP, dy)?;
    let (code, slope) = fwd.act.code(OP)?;
    let act = [("ACT", code)];
    let dy = dense(dy)?;
    let cfg = BatchNormConfig {
        eps: 0.0,
        momentum: 0.0,
    };
    let mode = Mode {
        update: false,
        train: fwd.train,
        slope,
    };
    let setup = Setup::new(n, c, inner, cfg, mode);
    let dgb = Tensor::empty(dy.gpu(), &[2, c])?;
    let back = Tensor::empty(dy.gpu(), &[5, c])?;
    let dx = Tensor::empty(dy.gpu(), dy.shape())?;
    let launch = per_channel_launch(
        dy.gpu(),
        PerChannel {
            c,
            n,
            inner,
            passes: 1,
        },
        "bn_backward_reduce",
        "bn_backward_reduce_seq",
    );
    // One snapshot of x and of dy for both passes (x and dy are dense from offset 0).
    let snapshots =
        view_snapshot(x, &[x.numel()], &[1]).zip(view_snapshot(&dy, &[dy.numel()], &[1]));
    match &snapshots {
        Some(((xt, _, true), (dyt, _, true))) if launch.in_order => setup.launch(
            "bn_backward_reduce_seq_tex",
            &dy,
            &[act[0], launch.wg],
            &[fwd.coef.buffer(), dgb.buffer()],
            &[xt.view(), dyt.view()],
            launch.groups,
        )?,
        _ => setup.launch(
            launch.entry,
            &dy,
            &[act[0], launch.wg],
            &[x.buffer(), dy.buffer(), fwd.coef.buffer(), dgb.buffer()],
            &[],
            launch.groups,
        )?,
    }
    setup.launch(
        "bn_backward_coef",
        &dy,
        &[],
        &[fwd.coef.buffer(), dgb.buffer(), back.buffer()],
        &[],
        groups_for(c, 256),
    )?;
    match snapshots.zip(view_snapshot(&back, &[back.numel()], &[1])) {
        Some((((xt, _, true), (dyt, _, true)), (bt, _, true))) => setup.launch(
            "bn_backward_dx_tex",
            &dy,
            &[act[0], ("SAME", inner.is_multiple_of(4) as u32)],
            &[dx.buffer()],
            &[bt.view(), xt.view(), dyt.view()],
            groups_for(dx.numel().div_ceil(4), 256),
        )?,
        _ => setup.launch(
            "bn_backward_dx",
            &dy,
            &act,
            &[x.buffer(), dy.buffer(), back.buffer(), dx.buffer()],
            &[],
            groups_for(dy.numel(), 256),
        )?,
    }
    let dgamma = dgb.narrow0(0, 1)?.reshape(&[c])?;
    let dbeta = dgb.narrow0(1, 1)?.reshape(&[c])?;
    Ok(BatchNormGrads { dx, dgamma, dbeta })
}

/// Textbook formulas in f64 over a dense [N, C, inner] array.
pub mod reference {
    use crate::kernels::channel::reference::act_grad;
    use crate::kernels::channel::ChannelAct;
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

    /// `backward` of act(batch_norm(x)): the chain rule through the activation at the
    /// pre-activation γ·xhat + β.
    #[allow(clippy::too_many_arguments)] // the arguments are the formula's symbols
    pub fn backward_act(
        d: &Dims,
        x: &[f64],
        dy: &[f64],
        gamma: &[f64],
        beta: &[f64],
        mean: &[f64],
        var: &[f64],
        eps: f64,
        train: bool,
        a: ChannelAct,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let pre = normalize(d, x, mean, var, gamma, beta, eps);
        let g: Vec<f64> = pre
            .iter()
            .zip(dy)
            .map(|(p, g)| act_grad(a, *p) * g)
            .collect();
        backward(d, x, &g, gamma, mean, var, eps, train)
    }
}
