//! geco.wgsl: GECO's constraint moving average and Lagrange multiplier, updated on the device
//! inside a training step (`models::geco` decides when).

use super::Params;
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

/// The multiplier's update rule: λ ← λ·clamp(exp(η·C_ma), lo, hi).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiplierRule {
    pub eta: f32,
    pub lo: f32,
    pub hi: f32,
}

fn check(c: &Tensor, c_ma: &Tensor, lambda: &Tensor) -> Result<()> {
    for (name, t) in [("C", c), ("C_ma", c_ma), ("λ", lambda)] {
        if t.numel() != 1 {
            return Err(Error::shape(
                "geco",
                format!("{name} must hold one value, got {:?}", t.shape()),
            ));
        }
    }
    if c_ma.offset() != 0 || lambda.offset() != 0 {
        return Err(Error::shape("geco", "C_ma and λ must be whole tensors"));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn update(
    c: &Tensor,
    c_ma: &Tensor,
    lambda: &Tensor,
    mode: usize,
    first: bool,
    alpha: f32,
    rule: MultiplierRule,
) -> Result<()> {
    check(c, c_ma, lambda)?;
    let params = Params::default()
        .u(c.offset())
        .u(first as usize)
        .f(alpha)
        .f(rule.eta)
        .f(rule.lo)
        .f(rule.hi)
        .u(mode)
        .u(0)
        .bytes();
    c.gpu().dispatch(&Dispatch {
        shader: "geco",
        entry: "update",
        consts: &[],
        params: &params,
        buffers: &[c.buffer(), c_ma.buffer(), lambda.buffer()],
        textures: &[],
        groups: [1, 1, 1],
    })
}

/// Records C_ma ← C on the first step, α·C_ma + (1 − α)·C after; `c` is the batch's C (a
/// one-element view). λ is bound, not touched.
pub fn average(c: &Tensor, c_ma: &Tensor, lambda: &Tensor, first: bool, alpha: f32) -> Result<()> {
    let none = MultiplierRule {
        eta: 0.0,
        lo: 1.0,
        hi: 1.0,
    };
    update(c, c_ma, lambda, 0, first, alpha, none)
}

/// Records λ ← λ·clamp(exp(η·C_ma), lo, hi). `c` is bound (the shader's layout), not read.
pub fn multiplier(c: &Tensor, c_ma: &Tensor, lambda: &Tensor, rule: MultiplierRule) -> Result<()> {
    update(c, c_ma, lambda, 1, false, 0.0, rule)
}

/// The two updates in f64.
pub mod reference {
    use super::MultiplierRule;

    pub fn average(c_ma: f64, c: f64, first: bool, alpha: f64) -> f64 {
        if first {
            c
        } else {
            alpha * c_ma + (1.0 - alpha) * c
        }
    }

    pub fn multiplier(lambda: f64, c_ma: f64, rule: MultiplierRule) -> f64 {
        lambda
            * (rule.eta as f64 * c_ma)
                .exp()
                .clamp(rule.lo as f64, rule.hi as f64)
    }
}
