//! fill.wgsl: set every element to one bit pattern.

use super::Tensor;
use crate::error::Result;
use crate::gpu::{groups_for, Dispatch, Params};

/// Writes `bits` into every element of a dense tensor: the whole vec4s four at a time, the
/// elements before the first and after the last one by one.
pub fn fill_bits(t: &Tensor, bits: u32) -> Result<()> {
    let (start, n) = (t.offset(), t.numel());
    let head = ((4 - start % 4) % 4).min(n);
    let body = (n - head) / 4;
    let tail = n - head - 4 * body;
    let run = |entry: &'static str, count: usize, offset: usize| -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        t.gpu().dispatch(&Dispatch {
            shader: "fill",
            entry,
            consts: &[],
            params: &Params::default()
                .u(count)
                .u(offset)
                .u(bits as usize)
                .bytes(),
            buffers: &[t.buffer()],
            textures: &[],
            groups: groups_for(count, 256),
        })
    };
    run("main", head, start)?;
    run("fill4", body, (start + head) / 4)?;
    run("main", tail, start + head + 4 * body)
}

pub mod reference {
    pub fn fill(n: usize, value: f32) -> Vec<f64> {
        vec![value as f64; n]
    }
}
