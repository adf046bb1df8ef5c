//! channel.wgsl: per-channel maps fused with the activation after them: bias + activation
//! here, batch norm's output in `batchnorm`. The bias gradient (a sum over all but the channel
//! dim) runs reduce.wgsl's `reduce_channel`.
//! Tensors are [N, C] or [N, C, H, W]; "inner" is H·W (1 for [N, C]).

use super::binary::{binary, Binary};
use super::{dense, fits_u32, groups_for, per_channel_launch, view_snapshot, Params};
use crate::error::{Error, Result};
use crate::gpu::route::PerChannel;
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

/// (N, C, inner) of a [N, C, ...] tensor.
pub fn channel_dims(op: &'static str, x: &Tensor) -> Result<(usize, usize, usize)> {
    if x.shape().len() < 2 {
        return Err(Error::shape(
            op,
            format!("needs [N, C] or [N, C, H, W], got {:?}", x.shape()),
        ));
    }
    Ok((x.shape()[0], x.shape()[1], x.shape()[2..].iter().product()))
}

pub fn expect_channels(op: &'static str, what: &str, t: &Tensor, c: usize) -> Result<()> {
    if t.shape() != [c] {
        return Err(Error::shape(
            op,
            format!("{what} must have shape [{c}], got {:?}", t.shape()),
        ));
    }
    Ok(())
}

/// The activation that ends a fused per-channel map (`bias_act`, batch norm).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ChannelAct {
    Identity,
    Relu,
    /// x for x > 0, slope·x otherwise; the slope must be positive (so that the output's sign
    /// is the input's, which the backward of `bias_act` reads).
    LeakyRelu(f32),
    Sigmoid,
}

impl ChannelAct {
    /// The kernels' ACT constant and slope (include/act.wgsl): piecewise linear with a slope
    /// (1 the identity, 0 ReLU), or the sigmoid.
    pub(crate) fn code(self, op: &'static str) -> Result<(u32, f32)> {
        match self {
            ChannelAct::Identity => Ok((0, 1.0)),
            ChannelAct::Relu => Ok((0, 0.0)),
            ChannelAct::LeakyRelu(a) if a > 0.0 && a.is_finite() => Ok((0, a)),
            ChannelAct::LeakyRelu(a) => Err(Error::shape(
                op,
                format!("leaky ReLU needs a positive finite slope, not {a}"),
            )),
            ChannelAct::Sigmoid => Ok((1, 0.0)),
        }
    }
}

/// y = act(scale·(x − shift) + offset) per channel of a dense x, coefficients in `coef`:
/// `affine` rows [shift; scale; offset; ...] of C each, or else one row, the offset (a bias).
pub(crate) fn channel_map(
    op: &'static str,
    x: &Tensor,
    coef: &Tensor,
    affine: bool,
    act: ChannelAct,
) -> Result<Tensor> {
    let (n, c, inner) = channel_dims(op, x)?;
    let (code, slope) = act.code(op)?;
    let y = Tensor::empty(x.gpu(), x.shape())?;
    if y.numel() == 0 {
        return Ok(y);
    }
    let params = Params::default().u(n).f(slope).bytes();
    let consts = [
        ("ACT", code),
        ("AFFINE", affine as u32),
        ("CH", c as u32),
        ("INNER", inner as u32),
    ];
    // x and coef are dense from offset 0 (bias_act and batch norm pass them so).
    let snapshots =
        view_snapshot(x, &[x.numel()], &[1]).zip(view_snapshot(coef, &[coef.numel()], &[1]));
    if let Some(((t, _, true), (ct, _, true))) = snapshots {
        let same = ("SAME", inner.is_multiple_of(4) as u32);
        x.gpu().dispatch(&Dispatch {
            shader: "channel",
            entry: "channel_map_tex",
            consts: &[consts[0], consts[1], consts[2], consts[3], same],
            params: &params,
            buffers: &[y.buffer()],
            textures: &[t.view(), ct.view()],
            groups: groups_for(y.numel().div_ceil(4), 256),
        })?;
        return Ok(y);
    }
    x.gpu().dispatch(&Dispatch {
        shader: "channel",
        entry: "channel_map",
        consts: &consts,
        params: &params,
        buffers: &[x.buffer(), coef.buffer(), y.buffer()],
        textures: &[],
        groups: groups_for(y.numel(), 256),
    })?;
    Ok(y)
}

/// y[n, c, ...] = act(x[n, c, ...] + bias[c]), in one pass.
pub fn bias_act(x: &Tensor, bias: &Tensor, act: ChannelAct) -> Result<Tensor> {
    const OP: &str = "bias_act";
    let (_, c, _) = channel_dims(OP, x)?;
    expect_channels(OP, "bias", bias, c)?;
    fits_u32(OP, x)?;
    channel_map(OP, &dense(x)?, &dense(bias)?, false, act)
}

/// The gradient at the input of `bias_act` from its output y and the output's gradient g
/// (the sign of y is the input's, and the sigmoid's derivative is y·(1 − y)).
pub fn bias_act_grad(y: &Tensor, g: &Tensor, act: ChannelAct) -> Result<Tensor> {
    act.code("bias_act_grad")?;
    match act {
        ChannelAct::Identity => Ok(g.clone()),
        ChannelAct::Relu => binary(Binary::ReluGrad, y, g),
        ChannelAct::LeakyRelu(a) => binary(Binary::LeakyReluGrad(a), y, g),
        ChannelAct::Sigmoid => binary(Binary::SigmoidGrad, y, g),
    }
}

/// out[c] = Σ over n and spatial positions of x[n, c, ...] (the bias gradient).
pub fn channel_sum(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "channel_sum";
    let (n, c, inner) = channel_dims(OP, x)?;
    fits_u32(OP, x)?;
    let x = dense(x)?;
    let out = Tensor::empty(x.gpu(), &[c])?;
    if c > 0 {
        let launch = per_channel_launch(
            x.gpu(),
            PerChannel {
                c,
                n,
                inner,
                passes: 1,
            },
            "reduce_channel",
            "reduce_channel_seq",
        );
        let params = Params::default().u(n).u(c).u(inner).u(0).f(1.0).bytes();
        // The in-order sums read x from a texture where memory-bound kernels do (see
        // reduce.wgsl); x is dense from offset 0.
        let snapshot = launch
            .in_order
            .then(|| view_snapshot(&x, &[x.numel()], &[1]))
            .flatten();
        let (entry, buffers, textures) = match &snapshot {
            Some((xt, _, true)) => (
                "reduce_channel_seq_tex",
                vec![out.buffer()],
                vec![xt.view()],
            ),
            _ => (launch.entry, vec![x.buffer(), out.buffer()], vec![]),
        };
        x.gpu().dispatch(&Dispatch {
            shader: "reduce",
            entry,
            consts: &[launch.wg],
            params: &params,
            buffers: &buffers,
            textures: &textures,
            groups: launch.groups,
        })?;
    }
    Ok(out)
}

pub mod reference {
    use super::ChannelAct;
    use crate::kernels::unary::reference::sigmoid;

    pub fn act(a: ChannelAct, x: f64) -> f64 {
        match a {
            ChannelAct::Identity => x,
            ChannelAct::Relu => x.max(0.0),
            ChannelAct::LeakyRelu(s) if x <= 0.0 => s as f64 * x,
            ChannelAct::LeakyRelu(_) => x,
            ChannelAct::Sigmoid => sigmoid(x),
        }
    }

    /// d act / dx at x (ReLU's at 0 taken as 0, like the kernels).
    pub fn act_grad(a: ChannelAct, x: f64) -> f64 {
        match a {
            ChannelAct::Identity => 1.0,
            ChannelAct::Relu if x > 0.0 => 1.0,
            ChannelAct::Relu => 0.0,
            ChannelAct::LeakyRelu(_) if x > 0.0 => 1.0,
            ChannelAct::LeakyRelu(s) => s as f64,
            ChannelAct::Sigmoid => sigmoid(x) * (1.0 - sigmoid(x)),
        }
    }

    pub fn bias_act(x: &[f64], c: usize, inner: usize, bias: &[f64], a: ChannelAct) -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, v)| act(a, v + bias[(i / inner) % c]))
            .collect()
    }

    pub fn channel_sum(x: &[f64], c: usize, inner: usize) -> Vec<f64> {
        let mut out = vec![0.0; c];
        for (i, v) in x.iter().enumerate() {
            out[(i / inner) % c] += v;
        }
        out
    }
}
