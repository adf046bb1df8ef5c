//! The Rust side of each shader: shape checks, parameters, dispatch sizes, and a
//! plain f64 CPU reference (`reference` in each file) that the tests compare against.

pub mod adam;
pub mod batchnorm;
pub mod binary;
pub mod channel;
pub mod conv2d;
mod conv_gemm;
pub mod conv_transpose2d;
pub mod fill;
pub mod geco;
pub mod loss;
pub mod matmul;
pub mod metrics;
pub mod mmd;
pub mod random;
pub mod reduce;
pub mod scatter;
pub mod unary;

use crate::error::{Error, Result};
use crate::gpu::route::{per_channel_in_order, PerChannel};
use crate::gpu::{PooledTexture, Reads};
use crate::tensor::shape::MAX_DIMS;
use crate::tensor::Tensor;

/// Uniform parameters, packed as the WGSL structs declare them: 4-byte scalars in
/// order; `dims` starts on a 16-byte boundary as `array<vec4<u32>, 2>` does.
#[derive(Default)]
pub(crate) struct Params(Vec<u32>);

impl Params {
    pub fn u(mut self, v: usize) -> Self {
        self.0
            .push(u32::try_from(v).expect("sizes are checked to fit u32 before dispatch"));
        self
    }
    pub fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }
    pub fn dims(mut self, d: &[usize]) -> Self {
        assert!(
            self.0.len().is_multiple_of(4) && d.len() <= MAX_DIMS,
            "misaligned dims block"
        );
        for i in 0..8 {
            self.0.push(d.get(i).copied().unwrap_or(1) as u32);
        }
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut v = self.0.clone();
        v.resize(v.len().div_ceil(4).max(1) * 4, 0);
        bytemuck::cast_slice(&v).to_vec()
    }
}

/// The tensor as a dense buffer starting at element 0 (copies views).
pub(crate) fn dense(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() && t.offset() == 0 {
        Ok(t.clone())
    } else {
        unary::copy(t)
    }
}

/// (first texel, texels) of each dispatch of a kernel that reads flat textures
/// (`Routing::reads`): 2¹⁸ texels, 4 MiB per snapshot, so the copies add a few MiB
/// to the peak, not a second copy of every input.
pub(crate) fn texture_chunks(texels: usize) -> impl Iterator<Item = (usize, usize)> {
    const CHUNK: usize = 1 << 18;
    (0..texels)
        .step_by(CHUNK)
        .map(move |q0| (q0, CHUNK.min(texels - q0)))
}

/// The largest input a kernel snapshots into a texture whole (64 MiB); a larger one goes
/// through the buffer.
const MAX_SNAPSHOT_TEXELS: usize = 1 << 22;

/// The last element a strided view at `offset` reaches.
pub(crate) fn view_last(offset: usize, shape: &[usize], strides: &[usize]) -> usize {
    offset
        + shape
            .iter()
            .zip(strides)
            .map(|(n, s)| (n.max(&1) - 1) * s)
            .sum::<usize>()
}

/// A flat texture of the texels a strided view (coalesced `shape`, `strides`, at
/// `t.offset()`) reaches, and the element the texture starts at; whether the view is dense
/// from a texel boundary (one texel then holds four consecutive elements). None when
/// textures are not the adapter's path or the span is too large.
pub(crate) fn view_snapshot(
    t: &Tensor,
    shape: &[usize],
    strides: &[usize],
) -> Option<(PooledTexture, usize, bool)> {
    let gpu = t.gpu();
    if gpu.routing().reads != Reads::Textures {
        return None;
    }
    let first = t.offset() / 4;
    let last = view_last(t.offset(), shape, strides);
    let texels = last / 4 + 1 - first;
    if texels > MAX_SNAPSHOT_TEXELS {
        return None;
    }
    let dense = shape.len() == 1 && strides[0] == 1 && t.offset().is_multiple_of(4);
    let tex = gpu.flat_texture(t.buffer(), (first * 16) as u64, texels as u32)?;
    Some((tex, 4 * first, dense))
}

/// Every size a kernel indexes with must fit its u32 arithmetic.
pub(crate) fn fits_u32(op: &'static str, t: &Tensor) -> Result<()> {
    if t.numel() + t.offset() > u32::MAX as usize {
        return Err(Error::shape(
            op,
            format!(
                "{:?} has more elements than 32-bit indexing allows",
                t.shape()
            ),
        ));
    }
    Ok(())
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

/// Workgroups for `n` items at `per_group` items per workgroup, folded into 2-D.
pub(crate) fn groups_for(n: usize, per_group: usize) -> [u32; 3] {
    crate::gpu::grid(n.div_ceil(per_group) as u32, 1)
}
