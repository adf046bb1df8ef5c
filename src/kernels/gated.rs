//! gated.wgsl: the gated activation of conditional PixelCNN layers,
//! y = tanh(h_a + cond_a) ⊙ σ(h_b + cond_b), the two halves of h's channels, with a
//! per-image, per-channel conditioning offset broadcast over the pixels.

use super::{dense, fits_u32, groups_for, reduce, Params};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// (N, C, P) for h [N, 2C, ...] and cond [N, 2C]: C output channels of P pixels.
fn dims(op: &'static str, h: &Tensor, cond: &Tensor) -> Result<(usize, usize, usize)> {
    let s = h.shape();
    if s.len() < 2 || !s[1].is_multiple_of(2) || s[1] == 0 || h.numel() == 0 {
        return Err(Error::shape(
            op,
            format!("h must be [N, 2C, ...] with C ≥ 1 (tanh's half, then the gate's), got {s:?}"),
        ));
    }
    if cond.shape() != [s[0], s[1]] {
        return Err(Error::shape(
            op,
            format!(
                "cond must be [N, 2C] = [{}, {}] (one offset per image and channel), got {:?}",
                s[0],
                s[1],
                cond.shape()
            ),
        ));
    }
    fits_u32(op, h)?;
    Ok((s[0], s[1] / 2, s[2..].iter().product()))
}

fn launch(
    entry: &'static str,
    n: usize,
    c: usize,
    pixels: usize,
    buffers: &[&wgpu::Buffer],
    t: &Tensor,
) -> Result<()> {
    let p = Params::default().u(n).u(c).u(pixels).u(0).bytes();
    super::launch("gated", entry, &p, buffers, groups_for(n, 256), t)
}

/// y [N, C, ...] from h [N, 2C, ...] and cond [N, 2C].
pub fn gated(h: &Tensor, cond: &Tensor) -> Result<Tensor> {
    let (n, c, pixels) = dims("gated", h, cond)?;
    let (h, cond) = (dense(h)?, dense(cond)?);
    let mut shape = h.shape().to_vec();
    shape[1] = c;
    let y = Tensor::empty(h.gpu(), &shape)?;
    let count = n * c * pixels;
    launch(
        "gated_fwd",
        count,
        c,
        pixels,
        &[h.buffer(), cond.buffer(), y.buffer()],
        &h,
    )?;
    Ok(y)
}

/// (dL/dh, dL/dcond) given g = dL/dy.
pub fn gated_backward(g: &Tensor, h: &Tensor, cond: &Tensor) -> Result<(Tensor, Tensor)> {
    const OP: &str = "gated_backward";
    let (n, c, pixels) = dims(OP, h, cond)?;
    let mut ys = h.shape().to_vec();
    ys[1] = c;
    if g.shape() != ys.as_slice() {
        return Err(Error::shape(
            OP,
            format!(
                "the gradient must have the output's shape {ys:?}, got {:?}",
                g.shape()
            ),
        ));
    }
    let (h, cond, g) = (dense(h)?, dense(cond)?, dense(g)?);
    let dh = Tensor::empty(h.gpu(), h.shape())?;
    launch(
        "gated_bwd",
        n * c * pixels,
        c,
        pixels,
        &[h.buffer(), cond.buffer(), g.buffer(), dh.buffer()],
        &h,
    )?;
    let dcond = reduce::sum_axis(&dh.reshape(&[n, 2 * c, pixels])?, 2, false)?;
    Ok((dh, dcond))
}

/// The formulas in f64 on dense [N, 2C, P] h and [N, 2C] cond.
pub mod reference {
    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// (a, b) pre-activations of output (n, c, p).
    fn pre(h: &[f64], cond: &[f64], c: usize, pixels: usize, j: usize) -> (f64, f64, usize, usize) {
        let per = c * pixels;
        let (n, rem) = (j / per, j % per);
        let ch = rem / pixels;
        let ha = n * 2 * per + rem;
        let (ca, cb) = (n * 2 * c + ch, n * 2 * c + c + ch);
        (h[ha] + cond[ca], h[ha + per] + cond[cb], ha, ca)
    }

    pub fn gated(h: &[f64], cond: &[f64], c: usize, pixels: usize) -> Vec<f64> {
        (0..h.len() / 2)
            .map(|j| {
                let (a, b, _, _) = pre(h, cond, c, pixels, j);
                a.tanh() * sigmoid(b)
            })
            .collect()
    }

    /// (dh, dcond) given g = dL/dy.
    pub fn gated_grad(
        g: &[f64],
        h: &[f64],
        cond: &[f64],
        c: usize,
        pixels: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let (mut dh, mut dcond) = (vec![0.0; h.len()], vec![0.0; cond.len()]);
        let per = c * pixels;
        for (j, gj) in g.iter().enumerate() {
            let (a, b, ha, ca) = pre(h, cond, c, pixels, j);
            let (t, s) = (a.tanh(), sigmoid(b));
            let (da, db) = (gj * s * (1.0 - t * t), gj * t * s * (1.0 - s));
            dh[ha] = da;
            dh[ha + per] = db;
            dcond[ca] += da;
            dcond[ca + c] += db;
        }
        (dh, dcond)
    }
}
