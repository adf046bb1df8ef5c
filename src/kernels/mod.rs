//! The Rust side of each shader: shape checks, parameters, dispatch sizes, and a
//! plain f64 CPU reference (`reference` in each file) that the tests compare against.

pub mod adam;
pub mod batchnorm;
pub mod binary;
pub mod channel;
pub mod conv;
pub mod gated;
pub mod geco;
pub mod loss;
pub mod matmul;
pub mod metrics;
pub mod mmd;
pub mod random;
pub mod reduce;
pub mod scatter;
pub mod softmax_ce;
pub mod unary;

pub use conv::conv2d;
pub use conv::transpose as conv_transpose2d;

use crate::error::{Error, Result};
use crate::gpu::route::{per_channel_in_order, PerChannel};
pub(crate) use crate::gpu::{groups_for, Params};
pub use crate::tensor::fill;
pub(crate) use crate::tensor::view::{fits_u32, texture_chunks, view_snapshot};
use crate::tensor::Tensor;

/// One dispatch of `shader`'s `entry` on buffers (no pipeline constants, no textures), on
/// `t`'s device.
pub(crate) fn launch(
    shader: &'static str,
    entry: &'static str,
    params: &[u8],
    buffers: &[&wgpu::Buffer],
    groups: [u32; 3],
    t: &Tensor,
) -> Result<()> {
    t.gpu().dispatch(&crate::gpu::Dispatch {
        shader,
        entry,
        consts: &[],
        params,
        buffers,
        textures: &[],
        groups,
    })
}

/// The tensor as a dense buffer starting at element 0 (copies views).
pub(crate) fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.offset() == 0 {
        Ok(t.clone())
    } else {
        unary::copy(t)
    }
}

pub(crate) fn expect_rank(op: &'static str, what: &str, t: &Tensor, rank: usize) -> Result<()> {
    if t.shape().len() != rank {
        return Err(Error::shape(
            op,
            format!("{what} must have rank {rank}, got shape {:?}", t.shape()),
        ));
    }
    Ok(())
}

/// A per-channel reduction's launch: whether it sums in order (`route::per_channel_in_order`),
/// its entry point (the tree or the in-order one), workgroups, and the in-order entries'
/// workgroup size as the pipeline constant `SEQ_WG`.
pub(crate) struct ChannelLaunch {
    pub in_order: bool,
    pub entry: &'static str,
    pub groups: [u32; 3],
    pub wg: (&'static str, u32),
}

pub(crate) fn per_channel_launch(
    gpu: &crate::Gpu,
    r: PerChannel,
    tree: &'static str,
    in_order: &'static str,
) -> ChannelLaunch {
    let routing = gpu.routing();
    let wg = routing.seq_workgroup;
    let seq = per_channel_in_order(&routing, &gpu.caps, &r);
    ChannelLaunch {
        in_order: seq,
        entry: if seq { in_order } else { tree },
        groups: if seq {
            groups_for(r.c, wg as usize)
        } else {
            crate::gpu::grid(r.c as u32, 1)
        },
        wg: ("SEQ_WG", wg),
    }
}
