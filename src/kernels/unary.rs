//! unary.wgsl: elementwise functions of one strided tensor, and `copy` (which makes views dense).

use super::{fits_u32, groups_for, view_last, view_snapshot, Params};
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::shape::{coalesce, MAX_DIMS};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    Copy,
    Neg,
    Relu,
    LeakyRelu(f32),
    Sigmoid,
    Softplus,
    Exp,
    Log,
    /// alpha·x + beta
    Affine(f32, f32),
    Square,
}

impl Unary {
    pub fn name(self) -> &'static str {
        match self {
            Unary::Copy => "copy",
            Unary::Neg => "neg",
            Unary::Relu => "relu",
            Unary::LeakyRelu(_) => "leaky_relu",
            Unary::Sigmoid => "sigmoid",
            Unary::Softplus => "softplus",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Affine(..) => "affine",
            Unary::Square => "square",
        }
    }
    fn code(self) -> (usize, f32, f32) {
        match self {
            Unary::Copy => (0, 0.0, 0.0),
            Unary::Neg => (1, 0.0, 0.0),
            Unary::Relu => (2, 0.0, 0.0),
            Unary::LeakyRelu(a) => (3, a, 0.0),
            Unary::Sigmoid => (4, 0.0, 0.0),
            Unary::Softplus => (5, 0.0, 0.0),
            Unary::Exp => (6, 0.0, 0.0),
            Unary::Log => (7, 0.0, 0.0),
            Unary::Affine(a, b) => (8, a, b),
            Unary::Square => (9, 0.0, 0.0),
        }
    }
}

pub fn unary(op: Unary, a: &Tensor) -> Result<Tensor> {
    fits_u32(op.name(), a)?;
    let out = Tensor::empty(a.gpu(), a.shape())?;
    if a.numel() == 0 {
        return Ok(out);
    }
    let (shape, strides) = coalesce(a.shape(), &[a.strides()]);
    if shape.len() > MAX_DIMS {
        return Err(Error::shape(
            op.name(),
            format!(
                "view {:?} needs more than {MAX_DIMS} strided dims",
                a.shape()
            ),
        ));
    }
    let (code, alpha, beta) = op.code();
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

/// A dense copy of any view.
pub fn copy(a: &Tensor) -> Result<Tensor> {
    unary(Unary::Copy, a)
}

pub mod reference {
    use super::Unary;

    pub fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    pub fn softplus(x: f64) -> f64 {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }

    pub fn apply(op: Unary, x: f64) -> f64 {
        match op {
            Unary::Copy => x,
            Unary::Neg => -x,
            Unary::Relu => x.max(0.0),
            Unary::LeakyRelu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a as f64 * x
                }
            }
            Unary::Sigmoid => sigmoid(x),
            Unary::Softplus => softplus(x),
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Affine(a, b) => a as f64 * x + b as f64,
            Unary::Square => x * x,
        }
    }

    pub fn unary(op: Unary, x: &[f64]) -> Vec<f64> {
        x.iter().map(|&v| apply(op, v)).collect()
    }
}
