//! unary.wgsl's strided map: reads any view (through a flat-texture snapshot where the
//! routing reads textures) and writes a dense result. `Tensor::contiguous` is its copy; the
//! elementwise functions (`kernels::unary`) are its other ops.

use super::shape::{coalesce, MAX_DIMS};
use super::view::{fits_u32, view_last, view_snapshot};
use super::Tensor;
use crate::error::{Error, Result};
use crate::gpu::{groups_for, Dispatch, Params};

/// unary.wgsl's op code for a plain copy.
pub(crate) const COPY: (usize, f32, f32) = (0, 0.0, 0.0);

/// out = f(a) elementwise, dense, for any view `a`: unary.wgsl with its op `(code, alpha,
/// beta)` as the shader declares them; `name` is the op's, for errors.
pub(crate) fn map(
    a: &Tensor,
    name: &'static str,
    (code, alpha, beta): (usize, f32, f32),
) -> Result<Tensor> {
    fits_u32(name, a)?;
    let out = Tensor::empty(a.gpu(), a.shape())?;
    if a.numel() == 0 {
        return Ok(out);
    }
    let (shape, strides) = coalesce(a.shape(), &[a.strides()]);
    if shape.len() > MAX_DIMS {
        return Err(Error::shape(
            name,
            format!(
                "view {:?} needs more than {MAX_DIMS} strided dims",
                a.shape()
            ),
        ));
    }
    let params = |base: usize, last: usize, shape: &[usize], strides: &[usize]| {
        Params::default()
            .u(a.numel())
            .u(last)
            .u(a.offset())
            .u(shape.len())
            .f(alpha)
            .f(beta)
            .u(base)
            .u(0)
            .dims(shape)
            .dims(strides)
            .bytes()
    };
    let gpu = a.gpu();
    if let Some((t, base, dense)) = view_snapshot(a, &shape, &strides[0]) {
        let (rows, shape3, strides3) = match dense {
            true => (0, vec![], vec![]),
            false => rows_view(a.offset() - base, &shape, &strides[0]),
        };
        let last = view_last(a.offset(), &shape, &strides[0]) / 4 - base / 4;
        // The row dims are constants only where the rows mode reads them (one pipeline per
        // op otherwise, not one per shape).
        let (params, d1, d2) = match rows {
            0 => (params(base, last, &shape, &strides[0]), 1, 1),
            _ => (params(base, last, &shape3, &strides3), shape3[1], shape3[2]),
        };
        gpu.dispatch(&Dispatch {
            shader: "unary",
            entry: "main_tex",
            consts: &[
                ("DENSE", dense as u32),
                ("ROWS", rows),
                ("D1", d1 as u32),
                ("D2", d2 as u32),
                ("OP", code as u32),
            ],
            params: &params,
            buffers: &[out.buffer()],
            textures: &[t.view()],
            groups: groups_for(a.numel().div_ceil(4), 256),
        })?;
        return Ok(out);
    }
    gpu.dispatch(&Dispatch {
        shader: "unary",
        entry: "main",
        consts: &[("OP", code as u32)],
        params: &params(0, 0, &shape, &strides[0]),
        buffers: &[a.buffer(), out.buffer()],
        textures: &[],
        groups: groups_for(a.numel(), 256),
    })?;
    Ok(out)
}

/// unary.wgsl's ROWS mode for a coalesced view whose elements `start` past the snapshot's
/// first: 2 (rows of whole texels), 1 (rows) or 0 (the general path); and the view as three
/// dims with unit innermost stride.
fn rows_view(start: usize, shape: &[usize], strides: &[usize]) -> (u32, Vec<usize>, Vec<usize>) {
    if shape.len() > 3 || strides.last() != Some(&1) {
        return (0, vec![], vec![]);
    }
    let pad = 3 - shape.len();
    let shape3: Vec<usize> = std::iter::repeat_n(1, pad)
        .chain(shape.iter().copied())
        .collect();
    let strides3: Vec<usize> = std::iter::repeat_n(0, pad)
        .chain(strides.iter().copied())
        .collect();
    let whole = [shape3[2], strides3[0], strides3[1], start]
        .iter()
        .all(|v| v % 4 == 0);
    (if whole { 2 } else { 1 }, shape3, strides3)
}
