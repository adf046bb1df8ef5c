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
use crate::gpu::PooledTexture;
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
/// (`Tuning::texture_reads`): 2¹⁸ texels, 4 MiB per snapshot, so the copies add a few MiB
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
    if !gpu.tuning().texture_reads {
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

/// llvmpipe (Mesa's gallivm: the CPU rasteriser behind lavapipe and its GL) silently ends every
/// loop of an invocation once that invocation's loops have run 65,535 iterations in all
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`: one counter shared by every loop, decremented at the end of
/// each iteration and at each exit test). A kernel whose loops grow with the data keeps each
/// invocation below this on CPU adapters, or takes an entry whose loops do not grow.
pub(crate) const LOOP_BUDGET: usize = 65_535;

/// Whether a per-channel reduction over `c` channels of `n` images × `inner` values runs as one
/// invocation per channel summing in order (the `_seq` entries: no barrier) rather than one
/// workgroup per channel with a tree sum. On CPU rasterisers a barrier suspends every 8-lane
/// chunk of the workgroup, so in-order sums win once 32 channels give each core a few
/// workgroups of 8 (the 64-channel layers of the stage-1 step: ~12 ms a tree sum); on any
/// adapter they win when a channel has too few values to fill a workgroup. An in-order
/// invocation makes `passes` sweeps of n + 1 + n·(inner + 1) loop iterations each (an exit test
/// per loop); past LOOP_BUDGET (a batch of 166 images of 14×14 maps for the two-pass
/// statistics) a CPU adapter takes the tree sum, whose lanes stride by 256.
fn per_channel_in_order(gpu: &crate::Gpu, c: usize, n: usize, inner: usize, passes: usize) -> bool {
    let cpu = gpu.info.device_type == wgpu::DeviceType::Cpu;
    let trips = passes * (n + 1 + n * (inner + 1));
    ((cpu && c >= 32) || n * inner <= 256) && !(cpu && trips >= LOOP_BUDGET)
}

/// The per-channel reduction's sizes: `c` channels of `n` images × `inner` values, summed in
/// `passes` sweeps by the in-order entry.
pub(crate) struct PerChannel {
    pub c: usize,
    pub n: usize,
    pub inner: usize,
    pub passes: usize,
}

/// Workgroups, entry point and the in-order entries' workgroup size `SEQ_WG` (a pipeline
/// constant: 8 lanes, one SIMD chunk, on CPU adapters so that 32 channels make 4 workgroups;
/// 64 elsewhere) of a per-channel reduction (see `per_channel_in_order`).
pub(crate) fn per_channel_launch(
    gpu: &crate::Gpu,
    r: PerChannel,
    tree: &'static str,
    in_order: &'static str,
) -> (&'static str, [u32; 3], (&'static str, u32)) {
    let wg = if gpu.info.device_type == wgpu::DeviceType::Cpu {
        8
    } else {
        64
    };
    if per_channel_in_order(gpu, r.c, r.n, r.inner, r.passes) {
        (in_order, groups_for(r.c, wg), ("SEQ_WG", wg as u32))
    } else {
        (tree, crate::gpu::grid(r.c as u32, 1), ("SEQ_WG", wg as u32))
    }
}

/// Workgroups for `n` items at `per_group` items per workgroup, folded into 2-D.
pub(crate) fn groups_for(n: usize, per_group: usize) -> [u32; 3] {
    crate::gpu::grid(n.div_ceil(per_group) as u32, 1)
}
