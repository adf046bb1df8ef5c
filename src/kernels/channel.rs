//! channel.wgsl: per-channel bias add; its gradient (a sum over all but the channel dim)
//! runs reduce.wgsl's `reduce_channel`.
//! Tensors are [N, C] or [N, C, H, W]; "inner" is H·W (1 for [N, C]).

use super::{dense, fits_u32, groups_for, per_channel_launch, Params};
use crate::error::{Error, Result};
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

/// y[n, c, ...] = x[n, c, ...] + bias[c]
pub fn bias_add(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    const OP: &str = "bias_add";
    let (n, c, inner) = channel_dims(OP, x)?;
    expect_channels(OP, "bias", bias, c)?;
    fits_u32(OP, x)?;
    let (x, bias) = (dense(x)?, dense(bias)?);
    let y = Tensor::empty(x.gpu(), x.shape())?;
    if y.numel() > 0 {
        x.gpu().dispatch(&Dispatch {
            shader: "channel",
            entry: "bias_add",
            consts: &[],
            params: &Params::default().u(n).u(c).u(inner).bytes(),
            buffers: &[x.buffer(), bias.buffer(), y.buffer()],
            textures: &[],
            groups: groups_for(y.numel(), 256),
        })?;
    }
    Ok(y)
}

/// out[c] = Σ over n and spatial positions of x[n, c, ...] (the bias gradient).
pub fn channel_sum(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "channel_sum";
    let (n, c, inner) = channel_dims(OP, x)?;
    fits_u32(OP, x)?;
    let x = dense(x)?;
    let out = Tensor::empty(x.gpu(), &[c])?;
    if c > 0 {
        let (entry, groups) = per_channel_launch(
            x.gpu(),
            c,
            n * inner,
            "reduce_channel",
            "reduce_channel_seq",
        );
        x.gpu().dispatch(&Dispatch {
            shader: "reduce",
            entry,
            consts: &[],
            params: &Params::default().u(n).u(c).u(inner).u(0).f(1.0).bytes(),
            buffers: &[x.buffer(), out.buffer()],
            textures: &[],
            groups,
        })?;
    }
    Ok(out)
}

pub mod reference {
    pub fn bias_add(x: &[f64], c: usize, inner: usize, bias: &[f64]) -> Vec<f64> {
        x.iter()
            .enumerate()
            .map(|(i, v)| v + bias[(i / inner) % c])
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
