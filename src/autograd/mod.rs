//! Reverse-mode autodiff over device tensors.
//!
//! A `Tape` records one forward pass. Each op computes its value on the device at once and,
//! only if some input needs a gradient, records what its backward needs. `backward` walks
//! the records in reverse order in a plain loop (no recursion), sums gradients on the device,
//! and adds parameter gradients into the `ParamStore`'s flat gradient buffer. Nothing is read
//! back to the host. The gradient rules are all in `rules.rs`.
//!
//! A tape is used once: after `backward` it is consumed, and a second call is an error.

mod rules;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::batchnorm::{self, BatchNormConfig, BatchNormForward};
use crate::kernels::binary::{self, Binary};
use crate::kernels::channel::{self, ChannelAct};
use crate::kernels::conv2d::{self, Conv2dConfig};
use crate::kernels::conv_transpose2d::{self, ConvTranspose2dConfig};
use crate::kernels::gated;
use crate::kernels::mmd::{self, MmdConfig};
use crate::kernels::random::{self, RandomKey};
use crate::kernels::softmax_ce::{self, Categorical, SoftmaxCe};
use crate::kernels::unary::{self, Unary};
use crate::kernels::{loss, matmul, reduce, scatter};
use crate::params::{ParamId, ParamStore};
use crate::tensor::Tensor;

/// A value on the tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Var(usize);

/// Elementwise activations and affine maps, with what their backward reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu(f32),
    Sigmoid,
    Softplus,
    /// a·x + b
    Affine(f32, f32),
}

/// One recorded op: its inputs and whatever its backward needs.
pub(crate) enum Op {
    /// Data, or anything no gradient flows into.
    Constant,
    Param(ParamId),
    MatMul {
        a: Var,
        b: Var,
        trans_a: bool,
        trans_b: bool,
    },
    BiasAct {
        x: Var,
        bias: Var,
        act: ChannelAct,
    },
    Conv2d {
        x: Var,
        w: Var,
        cfg: Conv2dConfig,
        /// The forward's im2col of x, kept for the weight gradient where w needs one.
        cols: Option<Tensor>,
    },
    ConvTranspose2d {
        x: Var,
        w: Var,
        cfg: ConvTranspose2dConfig,
    },
    BatchNorm {
        x: Var,
        gamma: Var,
        beta: Var,
        fwd: Box<BatchNormForward>,
    },
    Activation {
        x: Var,
        act: Activation,
    },
    Add {
        a: Var,
        b: Var,
    },
    Mul {
        a: Var,
        b: Var,
    },
    Concat {
        parts: Vec<Var>,
    },
    SliceLast {
        x: Var,
        col: usize,
    },
    Reshape {
        x: Var,
    },
    Sum {
        x: Var,
        mean: bool,
    },
    Reparameterize {
        mu: Var,
        sigma: Var,
        key: RandomKey,
    },
    GaussianNll {
        x: Var,
        xhat: Var,
        loggamma: Var,
        stats: Tensor,
    },
    BernoulliCe {
        x: Var,
        xhat: Var,
    },
    KlNormal {
        mu: Var,
        sigma: Var,
    },
    /// tanh(h_a + cond_a) ⊙ σ(h_b + cond_b) (`kernels::gated`).
    Gated {
        h: Var,
        cond: Var,
    },
    /// x ⊙ m for a constant m of x's shape (a masked convolution's weight).
    Mask {
        x: Var,
        mask: Tensor,
    },
    SoftmaxCe {
        logits: Var,
        targets: Var,
        how: Categorical,
        rows: Tensor,
    },
    Mmd {
        x: Var,
        y: Var,
        cfg: MmdConfig,
    },
    /// x·s for a one-element device value s held constant (GECO's λ).
    ScaleBy {
        x: Var,
        s: Tensor,
    },
    /// Forward a given value, backward the identity into x.
    StraightThrough {
        x: Var,
    },
}

pub(crate) struct Node {
    pub value: Tensor,
    pub needs_grad: bool,
    pub op: Op,
}

pub struct Tape {
    gpu: Arc<Gpu>,
    nodes: Vec<Node>,
    consumed: bool,
    /// Inference: parameters enter as constants, so no op records what a backward pass
    /// would read (activations for the rules, batch-norm intermediates).
    no_grad: bool,
}

impl Tape {
    pub fn new(gpu: &Arc<Gpu>) -> Tape {
        Tape {
            gpu: Arc::clone(gpu),
            nodes: Vec::new(),
            consumed: false,
            no_grad: false,
        }
    }

    /// A tape for forward passes only (evaluation, encoding a dataset, sampling): no op
    /// records what a backward would need, and `backward` is an error.
    pub fn inference(gpu: &Arc<Gpu>) -> Tape {
        Tape {
            no_grad: true,
            ..Tape::new(gpu)
        }
    }

    pub fn value(&self, v: Var) -> &Tensor {
        &self.nodes[v.0].value
    }

    pub fn needs_grad(&self, v: Var) -> bool {
        self.nodes[v.0].needs_grad
    }

    /// Ops recorded so far (constants and parameters included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push(&mut self, value: Tensor, inputs: &[Var], op: Op) -> Result<Var> {
        if self.consumed {
            return Err(Error::Autograd(
                "this tape was consumed by backward; record a new one".into(),
            ));
        }
        let needs_grad = inputs.iter().any(|v| self.nodes[v.0].needs_grad);
        let op = if needs_grad { op } else { Op::Constant };
        self.nodes.push(Node {
            value,
            needs_grad,
            op,
        });
        Ok(Var(self.nodes.len() - 1))
    }

    /// Data: no gradient flows into it.
    pub fn constant(&mut self, t: Tensor) -> Result<Var> {
        self.push(t, &[], Op::Constant)
    }

    /// A parameter; frozen ones (and all of them on an inference tape) are constants.
    pub fn param(&mut self, store: &ParamStore, id: ParamId) -> Result<Var> {
        if !store.owns(id) {
            return Err(Error::Autograd(format!(
                "a parameter of another model's store was read with this one (index {id:?})"
            )));
        }
        let v = self.push(store.value(id), &[], Op::Constant)?;
        if !self.no_grad && !store.is_frozen(id) {
            self.nodes[v.0].needs_grad = true;
            self.nodes[v.0].op = Op::Param(id);
        }
        Ok(v)
    }

    /// Rank-2 matmul (the tape's rule sums no broadcast batch dims).
    pub fn matmul(&mut self, a: Var, b: Var, trans_a: bool, trans_b: bool) -> Result<Var> {
        for (what, v) in [("left operand", a), ("right operand", b)] {
            crate::kernels::expect_rank("matmul", what, self.value(v), 2)?;
        }
        let y = matmul::matmul(self.value(a), self.value(b), trans_a, trans_b)?;
        self.push(
            y,
            &[a, b],
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            },
        )
    }

    /// y[n, c, ...] = act(x[n, c, ...] + bias[c]), in one pass.
    pub fn bias_act(&mut self, x: Var, bias: Var, act: ChannelAct) -> Result<Var> {
        let y = channel::bias_act(self.value(x), self.value(bias), act)?;
        self.push(y, &[x, bias], Op::BiasAct { x, bias, act })
    }

    pub fn conv2d(&mut self, x: Var, w: Var, cfg: Conv2dConfig) -> Result<Var> {
        let (y, cols) = conv2d::conv2d_with_cols(self.value(x), self.value(w), cfg)?;
        let cols = cols.filter(|_| self.nodes[w.0].needs_grad);
        self.push(y, &[x, w], Op::Conv2d { x, w, cfg, cols })
    }

    pub fn conv_transpose2d(&mut self, x: Var, w: Var, cfg: ConvTranspose2dConfig) -> Result<Var> {
        let y = conv_transpose2d::conv_transpose2d(self.value(x), self.value(w), cfg)?;
        self.push(y, &[x, w], Op::ConvTranspose2d { x, w, cfg })
    }

    /// act(batch_norm(x)) in one pass; in training mode the running averages are updated in
    /// place.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &mut self,
        x: Var,
        gamma: Var,
        beta: Var,
        running_mean: &Tensor,
        running_var: &Tensor,
        cfg: BatchNormConfig,
        train: bool,
        act: ChannelAct,
    ) -> Result<Var> {
        let (xv, gv, bv) = (self.value(x), self.value(gamma), self.value(beta));
        let fwd = if train {
            batchnorm::batch_norm_train(xv, gv, bv, running_mean, running_var, cfg, act)?
        } else {
            batchnorm::batch_norm_eval(xv, gv, bv, running_mean, running_var, cfg, act)?
        };
        let y = fwd.y.clone();
        self.push(
            y,
            &[x, gamma, beta],
            Op::BatchNorm {
                x,
                gamma,
                beta,
                fwd: Box::new(fwd),
            },
        )
    }

    pub fn activation(&mut self, x: Var, act: Activation) -> Result<Var> {
        let op = match act {
            Activation::Relu => Unary::Relu,
            Activation::LeakyRelu(a) => Unary::LeakyRelu(a),
            Activation::Sigmoid => Unary::Sigmoid,
            Activation::Softplus => Unary::Softplus,
            Activation::Affine(a, b) => Unary::Affine(a, b),
        };
        let y = unary::unary(op, self.value(x))?;
        self.push(y, &[x], Op::Activation { x, act })
    }

    pub fn relu(&mut self, x: Var) -> Result<Var> {
        self.activation(x, Activation::Relu)
    }
    pub fn leaky_relu(&mut self, x: Var, alpha: f32) -> Result<Var> {
        self.activation(x, Activation::LeakyRelu(alpha))
    }
    pub fn sigmoid(&mut self, x: Var) -> Result<Var> {
        self.activation(x, Activation::Sigmoid)
    }
    pub fn softplus(&mut self, x: Var) -> Result<Var> {
        self.activation(x, Activation::Softplus)
    }
    /// a·x + b (loss weights, the 1e-6 floor under σ).
    pub fn affine(&mut self, x: Var, a: f32, b: f32) -> Result<Var> {
        self.activation(x, Activation::Affine(a, b))
    }

    /// a + b, same shapes (loss terms).
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        let (av, bv) = (self.value(a), self.value(b));
        if av.shape() != bv.shape() {
            return Err(Error::shape(
                "add",
                format!(
                    "{:?} + {:?}: the tape adds equal shapes only",
                    av.shape(),
                    bv.shape()
                ),
            ));
        }
        let y = binary::binary(Binary::Add, av, bv)?;
        self.push(y, &[a, b], Op::Add { a, b })
    }

    /// a ⊙ b, same shapes (the Sequential VAE's gated shortcut).
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        let (av, bv) = (self.value(a), self.value(b));
        if av.shape() != bv.shape() {
            return Err(Error::shape(
                "mul",
                format!(
                    "{:?} ⊙ {:?}: the tape multiplies equal shapes only",
                    av.shape(),
                    bv.shape()
                ),
            ));
        }
        let y = binary::binary(Binary::Mul, av, bv)?;
        self.push(y, &[a, b], Op::Mul { a, b })
    }

    /// x·s, with s a one-element device tensor that no gradient flows into (a multiplier kept
    /// as state, read when the kernel runs, so nothing is read back).
    pub fn scale_by(&mut self, x: Var, s: &Tensor) -> Result<Var> {
        if s.numel() != 1 {
            return Err(Error::shape(
                "scale_by",
                format!("the scale must hold one value, got {:?}", s.shape()),
            ));
        }
        let s = s.reshape(&[])?;
        let y = binary::binary(Binary::Mul, self.value(x), &s)?;
        self.push(y, &[x], Op::ScaleBy { x, s })
    }

    /// x + stopgrad(v − x): the value `v` (x's shape) forward, the identity backward. GECO's
    /// constraint takes its moving average's value while its gradient is the batch's.
    pub fn straight_through(&mut self, x: Var, v: &Tensor) -> Result<Var> {
        if v.shape() != self.value(x).shape() {
            return Err(Error::shape(
                "straight_through",
                format!(
                    "value {:?} for a variable of shape {:?}",
                    v.shape(),
                    self.value(x).shape()
                ),
            ));
        }
        self.push(unary::copy(v)?, &[x], Op::StraightThrough { x })
    }

    /// Concatenation along the last dim (the stage-2 skip connections).
    pub fn concat(&mut self, parts: &[Var]) -> Result<Var> {
        let values: Vec<&Tensor> = parts.iter().map(|p| self.value(*p)).collect();
        let y = scatter::concat_last(&values)?;
        self.push(
            y,
            parts,
            Op::Concat {
                parts: parts.to_vec(),
            },
        )
    }

    /// Columns [col, col + width) of the last dim (e.g. μ and s from one 2κ-wide layer).
    pub fn slice_last(&mut self, x: Var, col: usize, width: usize) -> Result<Var> {
        let xv = self.value(x);
        let r = xv.shape().len();
        let w = *xv
            .shape()
            .last()
            .ok_or_else(|| Error::shape("slice_last", "cannot slice a scalar"))?;
        if col + width > w {
            return Err(Error::shape(
                "slice_last",
                format!("columns {col}..{} of {:?}", col + width, xv.shape()),
            ));
        }
        let y = slice_view(xv, r - 1, col, width).contiguous()?;
        self.push(y, &[x], Op::SliceLast { x, col })
    }

    pub fn reshape(&mut self, x: Var, shape: &[usize]) -> Result<Var> {
        let y = self.value(x).reshape(shape)?;
        self.push(y, &[x], Op::Reshape { x })
    }

    /// Sum (or mean) of every element, shape [].
    pub fn sum(&mut self, x: Var, mean: bool) -> Result<Var> {
        let y = reduce::sum_all(self.value(x), mean)?;
        self.push(y, &[x], Op::Sum { x, mean })
    }

    /// z = μ + σ ⊙ ε, ε ~ N(0, I) drawn on the device from `key` and regenerated in backward.
    pub fn reparameterize(&mut self, mu: Var, sigma: Var, key: RandomKey) -> Result<Var> {
        let z = random::reparameterize(self.value(mu), self.value(sigma), key)?;
        self.push(z, &[mu, sigma], Op::Reparameterize { mu, sigma, key })
    }

    /// Σ((x − x̂)/γ)²/2 + log γ + ½ log 2π over all elements, / B; γ = exp(loggamma) is a
    /// standard deviation (see `kernels::loss`). A constant `loggamma` gives the fixed-γ loss.
    pub fn gaussian_nll(&mut self, x: Var, xhat: Var, loggamma: Var) -> Result<Var> {
        let stats = loss::gaussian_nll(self.value(x), self.value(xhat), self.value(loggamma))?;
        let l = first(&stats)?;
        self.push(
            l,
            &[x, xhat, loggamma],
            Op::GaussianNll {
                x,
                xhat,
                loggamma,
                stats,
            },
        )
    }

    pub fn bernoulli_ce(&mut self, x: Var, xhat: Var) -> Result<Var> {
        let l = first(&loss::bernoulli_ce(self.value(x), self.value(xhat))?)?;
        self.push(l, &[x, xhat], Op::BernoulliCe { x, xhat })
    }

    /// PixelCNN's gated activation of h [N, 2C, ...] conditioned by cond [N, 2C].
    pub fn gated(&mut self, h: Var, cond: Var) -> Result<Var> {
        let y = gated::gated(self.value(h), self.value(cond))?;
        self.push(y, &[h, cond], Op::Gated { h, cond })
    }

    /// x ⊙ mask, the mask a constant device tensor of x's shape: a masked convolution's
    /// weight, masked on the device every step, so the optimiser's updates to masked entries
    /// never reach the output (their gradient is zero too).
    pub fn mask(&mut self, x: Var, mask: &Tensor) -> Result<Var> {
        if mask.shape() != self.value(x).shape() {
            return Err(Error::shape(
                "mask",
                format!(
                    "mask {:?} for a variable of shape {:?}",
                    mask.shape(),
                    self.value(x).shape()
                ),
            ));
        }
        let y = binary::mul(self.value(x), mask)?;
        self.push(
            y,
            &[x],
            Op::Mask {
                x,
                mask: mask.clone(),
            },
        )
    }

    /// Σ over rows of −log softmax(logits)[class of target] / B, the classes on `how.axis`
    /// (see `kernels::softmax_ce`); no gradient flows into the targets.
    pub fn softmax_ce(&mut self, logits: Var, targets: Var, how: Categorical) -> Result<Var> {
        let SoftmaxCe { stats, rows } =
            softmax_ce::softmax_ce(self.value(logits), self.value(targets), how)?;
        let l = first(&stats)?;
        self.push(
            l,
            &[logits, targets],
            Op::SoftmaxCe {
                logits,
                targets,
                how,
                rows,
            },
        )
    }

    pub fn kl_normal(&mut self, mu: Var, sigma: Var) -> Result<Var> {
        let l = first(&loss::kl_normal(self.value(mu), self.value(sigma))?)?;
        self.push(l, &[mu, sigma], Op::KlNormal { mu, sigma })
    }

    pub fn mmd(&mut self, x: Var, y: Var, cfg: MmdConfig) -> Result<Var> {
        let l = mmd::mmd(self.value(x), self.value(y), cfg)?;
        self.push(l, &[x, y], Op::Mmd { x, y, cfg })
    }

    /// Adds d`loss`/dθ into `store`'s gradients for every unfrozen parameter on the tape.
    /// Gradients accumulate: call `store.zero_grad()` between steps. Consumes the tape.
    pub fn backward(&mut self, loss: Var, store: &ParamStore) -> Result<()> {
        if self.consumed {
            return Err(Error::Autograd(
                "backward called twice on the same tape; record a new forward pass".into(),
            ));
        }
        let lv = self.value(loss).clone();
        if lv.numel() != 1 {
            return Err(Error::Autograd(format!(
                "backward needs a scalar loss, got shape {:?}",
                lv.shape()
            )));
        }
        if self.no_grad {
            return Err(Error::Autograd(
                "backward on an inference tape (Tape::inference records nothing for it)".into(),
            ));
        }
        if !self.needs_grad(loss) {
            return Err(Error::Autograd(
                "the loss depends on no trainable parameter".into(),
            ));
        }
        // Checked before any gradient is written, so a mix-up leaves every store untouched.
        for n in &self.nodes {
            if let Op::Param(id) = n.op {
                if !store.owns(id) {
                    return Err(Error::Autograd(format!(
                        "the tape holds a parameter of another store ({id:?}); its gradient cannot land in the store given to backward"
                    )));
                }
            }
        }
        self.consumed = true;
        let mut grads: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        grads[loss.0] = Some(Tensor::full(&self.gpu, lv.shape(), 1.0)?);
        for i in (0..=loss.0).rev() {
            let Some(g) = grads[i].take() else { continue };
            let node = &self.nodes[i];
            if let Op::Param(id) = node.op {
                store.add_grad(id, &g)?;
                continue;
            }
            for (input, gi) in rules::backward(&self.nodes, node, &g)? {
                if !self.nodes[input.0].needs_grad {
                    continue;
                }
                let gi = match grads[input.0].take() {
                    None => gi,
                    Some(prev) => binary::add(&prev, &gi)?,
                };
                grads[input.0] = Some(gi);
            }
        }
        // Drop what the backward kept alive (activations, batch-norm intermediates).
        for n in &mut self.nodes {
            n.op = Op::Constant;
        }
        Ok(())
    }
}

/// The loss value L out of a loss kernel's [L, Σ] output, as a shape-[] view.
fn first(stats: &Tensor) -> Result<Tensor> {
    stats.narrow0(0, 1)?.reshape(&[])
}

/// Elements [col, col + width) of dim `dim` (a view).
fn slice_view(t: &Tensor, dim: usize, col: usize, width: usize) -> Tensor {
    t.narrow(dim, col, width)
        .expect("bounds checked by the caller")
}
