//! Every gradient rule of the tape, in one place. Given an op's record and the gradient g of
//! its output, `backward` returns the gradient of each input that needs one. Each rule's
//! kernels are checked against f64 references by the conformance suite, and the references
//! against finite differences in `kernels-tests/finite_differences.rs`.

use super::{Activation, Node, Op, Var};
use crate::error::{Error, Result};
use crate::kernels::binary::{self, Binary};
use crate::kernels::unary::{self, Unary};
use crate::kernels::{
    batchnorm, channel, conv2d, conv_transpose2d, gated, loss, matmul, mmd, random, scatter,
    softmax_ce,
};
use crate::tensor::Tensor;

pub(super) fn backward(nodes: &[Node], node: &Node, g: &Tensor) -> Result<Vec<(Var, Tensor)>> {
    let val = |v: Var| &nodes[v.0].value;
    let need = |v: Var| nodes[v.0].needs_grad;
    let mut out: Vec<(Var, Tensor)> = Vec::new();
    let mut emit = |v: Var, f: &dyn Fn() -> Result<Tensor>| -> Result<()> {
        if need(v) {
            out.push((v, f()?));
        }
        Ok(())
    };
    match &node.op {
        Op::Constant | Op::Param(_) => {}
        // C = op(A)·op(B) with op = identity or transpose (rank 2).
        &Op::MatMul {
            a,
            b,
            trans_a,
            trans_b,
        } => {
            let (av, bv) = (val(a), val(b));
            emit(a, &|| match (trans_a, trans_b) {
                (false, false) => matmul::matmul(g, bv, false, true), // G·Bᵀ
                (false, true) => matmul::matmul(g, bv, false, false), // G·B
                (true, false) => matmul::matmul(bv, g, false, true),  // B·Gᵀ
                (true, true) => matmul::matmul(bv, g, true, true),    // Bᵀ·Gᵀ
            })?;
            emit(b, &|| match (trans_a, trans_b) {
                (false, false) => matmul::matmul(av, g, true, false), // Aᵀ·G
                (false, true) => matmul::matmul(g, av, true, false),  // Gᵀ·A
                (true, false) => matmul::matmul(av, g, false, false), // A·G
                (true, true) => matmul::matmul(g, av, true, true),    // Gᵀ·Aᵀ
            })?;
        }
        &Op::BiasAct { x, bias, act } => {
            if need(x) || need(bias) {
                let g = channel::bias_act_grad(&node.value, g, act)?;
                emit(x, &|| Ok(g.clone()))?;
                emit(bias, &|| channel::channel_sum(&g))?;
            }
        }
        Op::Conv2d { x, w, cfg, cols } => {
            // Both at once: they share one transpose of g.
            let (x, w) = (*x, *w);
            let (dx, dw) = conv2d::conv2d_backward(
                g,
                val(x),
                val(w),
                cols.as_ref(),
                *cfg,
                (need(x), need(w)),
            )?;
            for (v, d) in [(x, dx), (w, dw)] {
                if let Some(d) = d {
                    emit(v, &|| Ok(d.clone()))?;
                }
            }
        }
        &Op::ConvTranspose2d { x, w, cfg } => {
            // Both at once: they share one im2col of g.
            let (dx, dw) = conv_transpose2d::conv_transpose2d_backward(
                g,
                val(x),
                val(w),
                cfg,
                (need(x), need(w)),
            )?;
            for (v, d) in [(x, dx), (w, dw)] {
                if let Some(d) = d {
                    emit(v, &|| Ok(d.clone()))?;
                }
            }
        }
        Op::BatchNorm {
            x,
            gamma,
            beta,
            fwd,
        } => {
            // One set of kernels yields all three; computed once if any is needed.
            if need(*x) || need(*gamma) || need(*beta) {
                let grads = batchnorm::batch_norm_backward(g, fwd)?;
                emit(*x, &|| Ok(grads.dx.clone()))?;
                emit(*gamma, &|| Ok(grads.dgamma.clone()))?;
                emit(*beta, &|| Ok(grads.dbeta.clone()))?;
            }
        }
        &Op::Activation { x, act } => {
            let xv = val(x);
            emit(x, &|| match act {
                Activation::Relu => binary::binary(Binary::ReluGrad, xv, g),
                Activation::LeakyRelu(a) => binary::binary(Binary::LeakyReluGrad(a), xv, g),
                Activation::Sigmoid => binary::binary(Binary::SigmoidGrad, &node.value, g),
                Activation::Softplus => binary::binary(Binary::SoftplusGrad, xv, g),
                Activation::Affine(a, _) => unary::unary(Unary::Affine(a, 0.0), g),
            })?;
        }
        &Op::Add { a, b } => {
            emit(a, &|| Ok(g.clone()))?;
            emit(b, &|| Ok(g.clone()))?;
        }
        // ∂(a ⊙ b)/∂a = b, ∂/∂b = a.
        &Op::Mul { a, b } => {
            emit(a, &|| binary::mul(g, val(b)))?;
            emit(b, &|| binary::mul(g, val(a)))?;
        }
        Op::Concat { parts } => {
            let last = g.shape().len() - 1;
            let mut col = 0;
            for &p in parts {
                let w = val(p).shape()[last];
                emit(p, &|| g.narrow(last, col, w)?.contiguous())?;
                col += w;
            }
        }
        &Op::SliceLast { x, col } => emit(x, &|| scatter::pad_last(g, val(x).shape(), col))?,
        &Op::Reshape { x } => emit(x, &|| g.reshape(val(x).shape()))?,
        &Op::Sum { x, mean } => {
            let xv = val(x);
            let scale = if mean { 1.0 / xv.numel() as f32 } else { 1.0 };
            emit(x, &|| {
                unary::unary(
                    Unary::Affine(scale, 0.0),
                    &g.reshape(&[])?.broadcast_to(xv.shape())?,
                )
            })?;
        }
        &Op::Reparameterize { mu, sigma, key } => {
            emit(mu, &|| Ok(g.clone()))?;
            emit(sigma, &|| random::reparameterize_grad_sigma(g, key))?;
        }
        Op::GaussianNll {
            x,
            xhat,
            loggamma,
            stats,
        } => {
            let (x, xhat, lg) = (*x, *xhat, *loggamma);
            let (dxhat, dlg) = loss::gaussian_nll_backward(g, val(x), val(xhat), val(lg), stats)?;
            emit(x, &|| unary::unary(Unary::Neg, &dxhat))?;
            emit(xhat, &|| Ok(dxhat.clone()))?;
            emit(lg, &|| dlg.reshape(val(lg).shape()))?;
        }
        &Op::BernoulliCe { x, xhat } => {
            if need(x) {
                return Err(Error::Autograd(
                    "bernoulli_ce: no gradient flows into the target x".into(),
                ));
            }
            emit(xhat, &|| loss::bernoulli_ce_backward(g, val(x), val(xhat)))?;
        }
        &Op::Gated { h, cond } => {
            if need(h) || need(cond) {
                let (dh, dcond) = gated::gated_backward(g, val(h), val(cond))?;
                emit(h, &|| Ok(dh.clone()))?;
                emit(cond, &|| Ok(dcond.clone()))?;
            }
        }
        Op::Mask { x, mask } => emit(*x, &|| binary::mul(g, mask))?,
        Op::SoftmaxCe {
            logits,
            targets,
            how,
            rows,
        } => {
            if need(*targets) {
                return Err(Error::Autograd(
                    "softmax_ce: no gradient flows into the targets".into(),
                ));
            }
            emit(*logits, &|| {
                softmax_ce::softmax_ce_backward(g, val(*logits), val(*targets), rows, *how)
            })?;
        }
        &Op::KlNormal { mu, sigma } => {
            let (dmu, dsigma) = loss::kl_normal_backward(g, val(mu), val(sigma))?;
            emit(mu, &|| Ok(dmu.clone()))?;
            emit(sigma, &|| Ok(dsigma.clone()))?;
        }
        &Op::Mmd { x, y, cfg } => {
            let (dx, dy) = mmd::mmd_backward(g, val(x), val(y), cfg)?;
            emit(x, &|| Ok(dx.clone()))?;
            emit(y, &|| Ok(dy.clone()))?;
        }
        Op::ScaleBy { x, s } => emit(*x, &|| binary::mul(g, s))?,
        &Op::StraightThrough { x } => emit(x, &|| Ok(g.clone()))?,
    }
    Ok(out)
}
