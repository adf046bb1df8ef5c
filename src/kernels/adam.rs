//! adam.wgsl: Adam and AdamW as one fused in-place kernel over a range of the flat
//! parameter buffer (see `nn::ParamStore`: a model's parameters, gradients and moments are
//! each one buffer, so one dispatch updates every parameter).

use super::{groups_for, texture_chunks, Params};
use crate::error::{Error, Result};
use crate::gpu::{AdamVariant, Dispatch};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    /// Added to √v (TensorFlow's form, which the reference uses: ε̂ of Kingma & Ba §2).
    pub eps: f32,
    pub weight_decay: f32,
    /// AdamW: decay θ directly instead of adding wd·θ to the gradient.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    /// TensorFlow's defaults, as the reference trains with.
    fn default() -> Self {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

/// The bias-corrected step size lr·√(1 − β2^t)/(1 − β1^t) for step t ≥ 1, in f64.
pub fn step_size(cfg: &AdamConfig, lr: f32, t: u64) -> f32 {
    let t = t as i32;
    let bc1 = 1.0 - (cfg.beta1 as f64).powi(t);
    let bc2 = 1.0 - (cfg.beta2 as f64).powi(t);
    (lr as f64 * bc2.sqrt() / bc1) as f32
}

/// Updates θ, m, v in place over elements [start, start + len) of the four flat buffers.
/// `t` counts updates from 1.
#[allow(clippy::too_many_arguments)]
pub fn adam_update(
    theta: &Tensor,
    grad: &Tensor,
    m: &Tensor,
    v: &Tensor,
    start: usize,
    len: usize,
    cfg: &AdamConfig,
    lr: f32,
    t: u64,
) -> Result<()> {
    const OP: &str = "adam";
    let n = theta.numel();
    for (what, x) in [
        ("gradient", grad),
        ("first moment", m),
        ("second moment", v),
    ] {
        if x.numel() != n {
            return Err(Error::shape(
                OP,
                format!("{what} has {} elements, parameters {n}", x.numel()),
            ));
        }
    }
    if start + len > n {
        return Err(Error::shape(
            OP,
            format!("range {start}..{} outside {n} parameters", start + len),
        ));
    }
    if t == 0 {
        return Err(Error::shape(OP, "steps count from 1"));
    }
    if len == 0 {
        return Ok(());
    }
    let params = |n: usize, offset: usize| {
        Params::default()
            .u(n)
            .u(offset)
            .u(cfg.decoupled as usize)
            .u(0)
            .f(step_size(cfg, lr, t))
            .f(cfg.beta1)
            .f(cfg.beta2)
            .f(cfg.eps)
            .f(lr)
            .f(cfg.weight_decay)
            .f(0.0)
            .f(0.0)
            .bytes()
    };
    let gpu = theta.gpu();
    let buffers = [theta.buffer(), grad.buffer(), m.buffer(), v.buffer()];
    let run = |entry: &'static str, n: usize, offset: usize| {
        gpu.dispatch(&Dispatch {
            shader: "adam",
            entry,
            consts: &[],
            params: &params(n, offset),
            buffers: &buffers,
            textures: &[],
            groups: groups_for(n, 256),
        })
    };
    // Four elements at a time from the first multiple of 4 to the last; the few before and
    // after one at a time.
    let (body0, body1) = (start.next_multiple_of(4), (start + len) / 4 * 4);
    if body0 >= body1 {
        return run("adam", len, start);
    }
    if body0 > start {
        run("adam", body0 - start, start)?;
    }
    let (q0, nq) = (body0 / 4, (body1 - body0) / 4);
    // With the Textures variant (the default where textures are read: CPU rasterisers), the
    // body goes through snapshots a chunk at a time (four snapshots of a chunk, not of the
    // model); what is left, or all of it, reads the buffers.
    let mut done = 0;
    if gpu.routing().adam == AdamVariant::Textures {
        for (c0, nc) in texture_chunks(nq) {
            let byte = ((q0 + c0) * 16) as u64;
            let snapshots: Option<Vec<_>> = buffers
                .iter()
                .map(|b| gpu.flat_texture(b, byte, nc as u32))
                .collect();
            let Some(snapshots) = snapshots else { break };
            let views: Vec<_> = snapshots.iter().map(|s| s.view()).collect();
            gpu.dispatch(&Dispatch {
                shader: "adam",
                entry: "adam_tex",
                consts: &[],
                params: &params(nc, q0 + c0),
                buffers: &[theta.buffer(), m.buffer(), v.buffer()],
                textures: &views,
                groups: groups_for(nc, 256),
            })?;
            done = c0 + nc;
        }
    }
    if done < nq {
        run("adam4", nq - done, q0 + done)?;
    }
    if start + len > body1 {
        run("adam", start + len - body1, body1)?;
    }
    Ok(())
}

/// One step on f64 state, in place.
pub mod reference {
    use super::{step_size, AdamConfig};

    pub fn adam(
        theta: &mut [f64],
        grad: &[f64],
        m: &mut [f64],
        v: &mut [f64],
        cfg: &AdamConfig,
        lr: f32,
        t: u64,
    ) {
        let (b1, b2, eps, wd) = (
            cfg.beta1 as f64,
            cfg.beta2 as f64,
            cfg.eps as f64,
            cfg.weight_decay as f64,
        );
        let step = step_size(cfg, lr, t) as f64;
        for i in 0..theta.len() {
            let mut g = grad[i];
            if cfg.decoupled {
                theta[i] -= lr as f64 * wd * theta[i];
            } else {
                g += wd * theta[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g;
            v[i] = b2 * v[i] + (1.0 - b2) * g * g;
            theta[i] -= step * m[i] / (v[i].sqrt() + eps);
        }
    }
}
