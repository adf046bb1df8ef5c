//! binary.wgsl: elementwise functions of two tensors with NumPy broadcasting,
//! including the activation gradients (forward value, upstream gradient) → input gradient.

use super::{fits_u32, groups_for, view_snapshot, Params};
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::shape::{broadcast_shapes, broadcast_strides, coalesce, MAX_DIMS};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
    /// (x, dy) → dy·[x > 0]
    ReluGrad,
    /// (x, dy) → dy·(x > 0 ? 1 : alpha)
    LeakyReluGrad(f32),
    /// (y = sigmoid(x), dy) → dy·y·(1 − y)
    SigmoidGrad,
    /// (x, dy) → dy·sigmoid(x)
    SoftplusGrad,
    /// (y = exp(x), dy) → dy·y
    ExpGrad,
}

impl Binary {
    pub fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Max => "max",
            Binary::Min => "min",
            Binary::ReluGrad => "relu_grad",
            Binary::LeakyReluGrad(_) => "leaky_relu_grad",
            Binary::SigmoidGrad => "sigmoid_grad",
            Binary::SoftplusGrad => "softplus_grad",
            Binary::ExpGrad => "exp_grad",
        }
    }
    fn code(self) -> (usize, f32) {
        match self {
            Binary::Add => (0, 0.0),
            Binary::Sub => (1, 0.0),
            Binary::Mul => (2, 0.0),
            Binary::Div => (3, 0.0),
            Binary::Max => (4, 0.0),
            Binary::Min => (5, 0.0),
            Binary::ReluGrad => (10, 0.0),
            Binary::LeakyReluGrad(a) => (11, a),
            Binary::SigmoidGrad => (12, 0.0),
            Binary::SoftplusGrad => (13, 0.0),
            Binary::ExpGrad => (14, 0.0),
        }
    }
}

pub fn binary(op: Binary, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if !std::sync::Arc::ptr_eq(a.gpu(), b.gpu()) {
        return Err(Error::shape(
            op.name(),
            "operands live on different devices",
        ));
    }
    let shape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
    let sa =
        broadcast_strides(a.shape(), a.strides(), &shape).expect("checked by broadcast_shapes");
    let sb =
        broadcast_strides(b.shape(), b.strides(), &shape).expect("checked by broadcast_shapes");
    let out = Tensor::empty(a.gpu(), &shape)?;
    fits_u32(op.name(), &out)?;
    fits_u32(op.name(), a)?;
    fits_u32(op.name(), b)?;
    if out.numel() == 0 {
        return Ok(out);
    }
    let (cshape, cstrides) = coalesce(&shape, &[&sa, &sb]);
    if cshape.len() > MAX_DIMS {
        return Err(Error::shape(
            op.name(),
            format!(
                "broadcast of {:?} and {:?} needs more than {MAX_DIMS} dims",
                a.shape(),
                b.shape()
            ),
        ));
    }
    let (code, alpha) = op.code();
    let params = |a_base: usize, b_base: usize| {
        Params::default()
            .u(out.numel())
            .u(0)
            .u(a.offset())
            .u(b.offset())
            .u(cshape.len())
            .f(alpha)
            .u(a_base)
            .u(b_base)
            .dims(&cshape)
            .dims(&cstrides[0])
            .dims(&cstrides[1])
            .bytes()
    };
    let gpu = a.gpu();
    if let (Some((ta, a_base, a_dense)), Some((tb, b_base, b_dense))) = (
        view_snapshot(a, &cshape, &cstrides[0]),
        view_snapshot(b, &cshape, &cstrides[1]),
    ) {
        gpu.dispatch(&Dispatch {
            shader: "binary",
            entry: "main_tex",
            consts: &[("DENSE", (a_dense && b_dense) as u32), ("OP", code as u32)],
            params: &params(a_base, b_base),
            buffers: &[out.buffer()],
            textures: &[ta.view(), tb.view()],
            groups: groups_for(out.numel().div_ceil(4), 256),
        })?;
        return Ok(out);
    }
    gpu.dispatch(&Dispatch {
        shader: "binary",
        entry: "main",
        consts: &[("OP", code as u32)],
        params: &params(0, 0),
        buffers: &[a.buffer(), b.buffer(), out.buffer()],
        textures: &[],
        groups: groups_for(out.numel(), 256),
    })?;
    Ok(out)
}

pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Add, a, b)
}
pub fn sub(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Sub, a, b)
}
pub fn mul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Mul, a, b)
}
pub fn div(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    binary(Binary::Div, a, b)
}

pub mod reference {
    use super::Binary;
    use crate::kernels::unary::reference::sigmoid;
    use crate::tensor::shape::{broadcast_shapes, broadcast_strides, contiguous_strides, numel};

    pub fn apply(op: Binary, x: f64, y: f64) -> f64 {
        match op {
            Binary::Add => x + y,
            Binary::Sub => x - y,
            Binary::Mul => x * y,
            Binary::Div => x / y,
            Binary::Max => x.max(y),
            Binary::Min => x.min(y),
            Binary::ReluGrad => {
                if x > 0.0 {
                    y
                } else {
                    0.0
                }
            }
            Binary::LeakyReluGrad(a) => {
                if x > 0.0 {
                    y
                } else {
                    a as f64 * y
                }
            }
            Binary::SigmoidGrad => x * (1.0 - x) * y,
            Binary::SoftplusGrad => sigmoid(x) * y,
            Binary::ExpGrad => x * y,
        }
    }

    /// Dense a (shape `sa`) and b (shape `sb`), broadcast; returns (shape, values).
    pub fn binary(
        op: Binary,
        a: &[f64],
        sa: &[usize],
        b: &[f64],
        sb: &[usize],
    ) -> (Vec<usize>, Vec<f64>) {
        let shape = broadcast_shapes("reference", sa, sb).unwrap();
        let st_a = broadcast_strides(sa, &contiguous_strides(sa), &shape).unwrap();
        let st_b = broadcast_strides(sb, &contiguous_strides(sb), &shape).unwrap();
        let out_st = contiguous_strides(&shape);
        let out = (0..numel(&shape))
            .map(|i| {
                let (mut ia, mut ib) = (0, 0);
                for d in 0..shape.len() {
                    let c = (i / out_st[d]) % shape[d];
                    ia += c * st_a[d];
                    ib += c * st_b[d];
                }
                apply(op, a[ia], b[ib])
            })
            .collect();
        (shape, out)
    }
}
