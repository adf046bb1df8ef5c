//! fill.wgsl: set every element to one bit pattern.

use super::{groups_for, Params};
use crate::error::Result;
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

/// Writes `bits` into every element of a dense tensor.
pub fn fill_bits(t: &Tensor, bits: u32) -> Result<()> {
    if t.numel() == 0 {
        return Ok(());
    }
    let params = Params::default()
        .u(t.numel())
        .u(t.offset())
        .u(bits as usize)
        .bytes();
    t.gpu().dispatch(&Dispatch {
        shader: "fill",
        entry: "main",
        consts: &[],
        params: &params,
        buffers: &[t.buffer()],
        textures: &[],
        groups: groups_for(t.numel(), 256),
    })
}

pub mod reference {
    pub fn fill(n: usize, value: f32) -> Vec<f64> {
        vec![value as f64; n]
    }
}
