//! unary.wgsl: elementwise functions of one strided tensor (through the strided map of
//! `tensor::map`), and `copy` (which makes views dense).

use crate::error::Result;
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
            Unary::Copy => crate::tensor::map::COPY,
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
    crate::tensor::map::map(a, op.name(), op.code())
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
