//! What kernels need to read a tensor or a view: its element range, a flat-texture snapshot of
//! it where the routing reads textures, and the u32 check of its indexing.

use super::Tensor;
use crate::error::{Error, Result};
use crate::gpu::{PooledTexture, Reads};

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
