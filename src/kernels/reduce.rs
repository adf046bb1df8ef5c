//! reduce.wgsl: deterministic sums and means over one axis or over everything.

use super::{dense, fits_u32, Params};
use crate::error::{Error, Result};
use crate::gpu::{grid, Dispatch};
use crate::tensor::Tensor;

fn launch(
    entry: &'static str,
    src: &Tensor,
    out: &Tensor,
    params: &Params,
    groups: usize,
) -> Result<()> {
    src.gpu().dispatch(&Dispatch {
        shader: "reduce",
        entry,
        consts: &[],
        params: &params.bytes(),
        buffers: &[src.buffer(), out.buffer()],
        textures: &[],
        groups: grid(groups as u32, 1),
    })
}

/// The longest axis `sum_axis` sums in order, one invocation per output.
const SEQ_AXIS: usize = 64;

/// Sum (or mean) over `axis`; the axis is removed from the shape.
pub fn sum_axis(x: &Tensor, axis: usize, mean: bool) -> Result<Tensor> {
    let op = if mean { "mean_axis" } else { "sum_axis" };
    let rank = x.shape().len();
    if axis >= rank {
        return Err(Error::shape(
            op,
            format!("axis {axis} of a rank-{rank} tensor {:?}", x.shape()),
        ));
    }
    fits_u32(op, x)?;
    let x = dense(x)?;
    let outer: usize = x.shape()[..axis].iter().product();
    let r = x.shape()[axis];
    let inner: usize = x.shape()[axis + 1..].iter().product();
    let mut shape = x.shape().to_vec();
    shape.remove(axis);
    if mean && r == 0 {
        return Err(Error::shape(
            op,
            format!("mean over an empty axis of {:?}", x.shape()),
        ));
    }
    let out = Tensor::empty(x.gpu(), &shape)?;
    if out.numel() == 0 {
        return Ok(out);
    }
    let scale = if mean { 1.0 / r as f32 } else { 1.0 };
    let params = Params::default()
        .u(outer)
        .u(r)
        .u(inner)
        .u(0)
        .f(scale)
        .u(0)
        .u(0)
        .u(0);
    // A short axis is summed in order by one invocation per output: a workgroup's tree
    // would mostly add zeros (and its barriers cost most on CPU rasterisers).
    if r <= SEQ_AXIS {
        launch(
            "reduce_axis_seq",
            &x,
            &out,
            &params,
            (outer * inner).div_ceil(64),
        )?;
    } else {
        launch("reduce_axis", &x, &out, &params, outer * inner)?;
    }
    Ok(out)
}

/// Elements each workgroup sums in the first pass of a whole-tensor sum.
const CHUNK: usize = 4096;

/// Sum (or mean) of every element, as a shape-[] tensor. Two passes of fixed order:
/// chunk partial sums, then a sum of the partials.
pub fn sum_all(x: &Tensor, mean: bool) -> Result<Tensor> {
    let op = if mean { "mean_all" } else { "sum_all" };
    fits_u32(op, x)?;
    let n = x.numel();
    if mean && n == 0 {
        return Err(Error::shape(op, "mean of an empty tensor"));
    }
    let x = dense(x)?;
    let scale = if mean { 1.0 / n as f32 } else { 1.0 };
    let out = Tensor::empty(x.gpu(), &[])?;
    if n <= CHUNK {
        let params = Params::default()
            .u(1)
            .u(n)
            .u(1)
            .u(0)
            .f(scale)
            .u(0)
            .u(0)
            .u(0);
        launch("reduce_axis", &x, &out, &params, 1)?;
        return Ok(out);
    }
    let g = n.div_ceil(CHUNK);
    let partials = Tensor::empty(x.gpu(), &[g])?;
    let p1 = Params::default()
        .u(0)
        .u(0)
        .u(0)
        .u(0)
        .f(1.0)
        .u(n)
        .u(CHUNK)
        .u(0);
    launch("reduce_chunks", &x, &partials, &p1, g)?;
    let p2 = Params::default()
        .u(1)
        .u(g)
        .u(1)
        .u(0)
        .f(scale)
        .u(0)
        .u(0)
        .u(0);
    launch("reduce_axis", &partials, &out, &p2, 1)?;
    Ok(out)
}

pub mod reference {
    /// Sum over `axis` of a dense tensor of `shape`.
    pub fn sum_axis(x: &[f64], shape: &[usize], axis: usize, mean: bool) -> Vec<f64> {
        let outer: usize = shape[..axis].iter().product();
        let r = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out = vec![0.0; outer * inner];
        for o in 0..outer {
            for j in 0..r {
                for i in 0..inner {
                    out[o * inner + i] += x[(o * r + j) * inner + i];
                }
            }
        }
        if mean {
            out.iter_mut().for_each(|v| *v /= r as f64);
        }
        out
    }

    pub fn sum_all(x: &[f64], mean: bool) -> f64 {
        let s: f64 = x.iter().sum();
        if mean {
            s / x.len() as f64
        } else {
            s
        }
    }
}
