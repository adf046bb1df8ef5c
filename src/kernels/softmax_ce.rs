//! softmax_ce.wgsl: the categorical likelihood — softmax cross-entropy of targets under
//! logits with the classes on one axis — for the feature classifier (K labels) and a
//! per-sub-pixel 256-way decoder. As the other loss terms, a sum over rows divided by the
//! batch size B = dim 0, returned as `[L, Σ terms]`, with each row's log-sum-exp and class,
//! which the backward reuses.

use super::{dense, fits_u32, groups_for, loss, Params};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Rows per workgroup of `ce_partials` (one an invocation).
const CHUNK: usize = 256;

/// Which axis of the logits holds the classes, and how targets name a class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Categorical {
    /// The class axis of the logits (1 for [B, K] and for [B, K, H, W]).
    pub axis: usize,
    /// A target t names class round(t·scale), clamped to [0, K − 1]: 1 for class indices,
    /// 255 for 8-bit pixel values stored in [0, 1].
    pub scale: f32,
}

/// The forward's outputs: `[L, Σ terms]`, and [rows, 2] holding each row's log-sum-exp and
/// target class (as a float, exact below 2²⁴).
pub struct SoftmaxCe {
    pub stats: Tensor,
    pub rows: Tensor,
}

struct Geometry {
    outer: usize,
    classes: usize,
    inner: usize,
    batch: usize,
}

impl Geometry {
    fn rows(&self) -> usize {
        self.outer * self.inner
    }

    fn params(&self, how: Categorical) -> Vec<u8> {
        Params::default()
            .u(self.rows())
            .u(self.classes)
            .u(self.inner)
            .u(self.rows() * self.classes)
            .f(how.scale)
            .f(1.0 / self.batch as f32)
            .bytes()
    }
}

/// Checks logits against targets (the logits' shape without the class axis).
fn geometry(
    op: &'static str,
    logits: &Tensor,
    targets: &Tensor,
    how: Categorical,
) -> Result<Geometry> {
    let s = logits.shape();
    if how.axis == 0 || how.axis >= s.len() {
        return Err(Error::shape(
            op,
            format!(
                "the class axis {} must be past the batch axis of logits {s:?}",
                how.axis
            ),
        ));
    }
    let mut without = s.to_vec();
    let classes = without.remove(how.axis);
    if classes < 2 || s[0] == 0 || logits.numel() == 0 {
        return Err(Error::shape(
            op,
            format!("needs a non-empty batch and 2 classes or more, got logits {s:?}"),
        ));
    }
    if targets.shape() != without.as_slice() {
        return Err(Error::shape(
            op,
            format!(
                "targets {:?} must be the logits' shape {s:?} without its class axis {}",
                targets.shape(),
                how.axis
            ),
        ));
    }
    if !(how.scale.is_finite() && how.scale > 0.0) {
        return Err(Error::shape(
            op,
            format!("target scale {} must be positive", how.scale),
        ));
    }
    fits_u32(op, logits)?;
    Ok(Geometry {
        outer: s[..how.axis].iter().product(),
        classes,
        inner: s[how.axis + 1..].iter().product(),
        batch: s[0],
    })
}

fn launch(
    entry: &'static str,
    p: &[u8],
    buffers: &[&wgpu::Buffer],
    groups: [u32; 3],
    t: &Tensor,
) -> Result<()> {
    super::launch("softmax_ce", entry, p, buffers, groups, t)
}

/// Σ over rows of −log softmax(logits)[target], / B.
pub fn softmax_ce(logits: &Tensor, targets: &Tensor, how: Categorical) -> Result<SoftmaxCe> {
    const OP: &str = "softmax_ce";
    let geo = geometry(OP, logits, targets, how)?;
    let (logits, targets) = (dense(logits)?, dense(targets)?);
    let rows = geo.rows();
    let per_row = Tensor::empty(logits.gpu(), &[rows, 2])?;
    let groups = rows.div_ceil(CHUNK);
    let partials = Tensor::empty(logits.gpu(), &[groups])?;
    launch(
        "ce_partials",
        &geo.params(how),
        &[
            logits.buffer(),
            targets.buffer(),
            per_row.buffer(),
            partials.buffer(),
        ],
        groups_for(rows, CHUNK),
        &logits,
    )?;
    let stats = loss::finish_sum(&partials, rows, 1.0 / geo.batch as f32)?;
    Ok(SoftmaxCe {
        stats,
        rows: per_row,
    })
}

/// dL/dlogits given the upstream gradient `g` (one value) and the forward's `rows`.
pub fn softmax_ce_backward(
    g: &Tensor,
    logits: &Tensor,
    targets: &Tensor,
    rows: &Tensor,
    how: Categorical,
) -> Result<Tensor> {
    const OP: &str = "softmax_ce_backward";
    let geo = geometry(OP, logits, targets, how)?;
    if g.numel() != 1 || rows.shape() != [geo.rows(), 2] {
        return Err(Error::shape(
            OP,
            format!(
                "gradient {:?} must hold one value and the forward's rows {:?} be [{}, 2]",
                g.shape(),
                rows.shape(),
                geo.rows()
            ),
        ));
    }
    let (logits, rows, g) = (dense(logits)?, dense(rows)?, dense(g)?);
    let n = logits.numel();
    let d = Tensor::empty(logits.gpu(), logits.shape())?;
    launch(
        "ce_grad",
        &geo.params(how),
        &[logits.buffer(), rows.buffer(), g.buffer(), d.buffer()],
        groups_for(n, 256),
        &logits,
    )?;
    Ok(d)
}

/// The formulas in f64 on logits [outer, K, inner] (row-major) and targets [outer, inner].
pub mod reference {
    /// The class a target names (round half to even, as WGSL's `round`).
    pub fn class(t: f64, scale: f64, classes: usize) -> usize {
        (t * scale)
            .round_ties_even()
            .clamp(0.0, (classes - 1) as f64) as usize
    }

    /// log Σ_k exp(l_k) of every row.
    pub fn lse(logits: &[f64], classes: usize, inner: usize) -> Vec<f64> {
        let outer = logits.len() / (classes * inner);
        let mut out = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| logits[(o * classes + k) * inner + i];
                let m = (0..classes).map(at).fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = (0..classes).map(|k| (at(k) - m).exp()).sum();
                out.push(m + s.ln());
            }
        }
        out
    }

    /// Σ_rows (lse − l_t) / B.
    pub fn softmax_ce(
        logits: &[f64],
        targets: &[f64],
        classes: usize,
        inner: usize,
        scale: f64,
        batch: usize,
    ) -> f64 {
        let lse = lse(logits, classes, inner);
        targets
            .iter()
            .enumerate()
            .map(|(r, &t)| {
                let (o, i) = (r / inner, r % inner);
                lse[r] - logits[(o * classes + class(t, scale, classes)) * inner + i]
            })
            .sum::<f64>()
            / batch as f64
    }

    /// dL/dlogits: (softmax − one-hot)/B.
    pub fn softmax_ce_grad(
        logits: &[f64],
        targets: &[f64],
        classes: usize,
        inner: usize,
        scale: f64,
        batch: usize,
    ) -> Vec<f64> {
        let lse = lse(logits, classes, inner);
        logits
            .iter()
            .enumerate()
            .map(|(j, &l)| {
                let (o, k, i) = (j / (classes * inner), j / inner % classes, j % inner);
                let r = o * inner + i;
                let hot = (class(targets[r], scale, classes) == k) as u8 as f64;
                ((l - lse[r]).exp() - hot) / batch as f64
            })
            .collect()
    }
}
