//! conv2d and its two gradients (NCHW, weights [K, C, KH, KW], stride, zero padding): each
//! call takes the path the routing chooses (`ConvVariant`): the direct kernels, or im2col and
//! the matmul.

use super::geometry::{grad_input_geometry, grad_weight_geometry, prepare};
use super::{direct, gemm};
use crate::error::{Error, Result};
use crate::gpu::ConvVariant;
use crate::kernels::expect_rank;
use crate::tensor::Tensor;

pub use super::geometry::{Conv2dConfig, ConvGeom};

/// y = conv2d(x, w): x [N, C, H, W], w [K, C, KH, KW] → y [N, K, OH, OW].
pub fn conv2d(x: &Tensor, w: &Tensor, cfg: Conv2dConfig) -> Result<Tensor> {
    Ok(conv2d_with_cols(x, w, cfg)?.0)
}

/// conv2d and, on the GEMM path, the im2col of x it multiplied (cols [C·KH·KW, N·OH·OW]):
/// `conv2d_grad_weight_with` takes it back, so training builds it once, not twice.
pub fn conv2d_with_cols(
    x: &Tensor,
    w: &Tensor,
    cfg: Conv2dConfig,
) -> Result<(Tensor, Option<Tensor>)> {
    const OP: &str = "conv2d";
    let t = prepare(OP, &[("input", x), ("weight", w)])?;
    let g = ConvGeom::forward(OP, x.shape(), w.shape(), cfg)?;
    match x.gpu().routing().conv {
        ConvVariant::Direct => Ok((direct::forward(&g, &t[0], &t[1])?, None)),
        ConvVariant::Gemm | ConvVariant::Implicit => gemm::forward(&g, &t[0], &t[1]),
    }
}

/// dx for y = conv2d(x, w): dy [N, K, OH, OW], w [K, C, KH, KW], x's spatial size (H, W).
pub fn conv2d_grad_input(
    dy: &Tensor,
    w: &Tensor,
    input_hw: (usize, usize),
    cfg: Conv2dConfig,
) -> Result<Tensor> {
    let (g, t) = grad_input_geometry(dy, w, input_hw, cfg)?;
    match dy.gpu().routing().conv {
        ConvVariant::Direct => direct::grad_input(&g, &t[0], &t[1]),
        ConvVariant::Gemm | ConvVariant::Implicit => gemm::grad_input(&g, &t[0], &t[1]),
    }
}

/// dw for y = conv2d(x, w): dy [N, K, OH, OW], x [N, C, H, W], kernel size (KH, KW).
pub fn conv2d_grad_weight(
    dy: &Tensor,
    x: &Tensor,
    kernel: (usize, usize),
    cfg: Conv2dConfig,
) -> Result<Tensor> {
    conv2d_grad_weight_with(dy, x, None, kernel, cfg)
}

/// Both gradients of y = conv2d(x, w) given dy, each only where asked for (`cols` as in
/// conv2d_grad_weight_with). On the GEMM paths the two share one transpose of dy (3.2 M floats
/// for the stage-1 encoder's second layer), which separate calls would make twice.
pub fn conv2d_backward(
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    cols: Option<&Tensor>,
    cfg: Conv2dConfig,
    (need_x, need_w): (bool, bool),
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    expect_rank("conv2d_backward", "weight", w, 4)?;
    expect_rank("conv2d_backward", "input", x, 4)?;
    let kernel = (w.shape()[2], w.shape()[3]);
    let hw = (x.shape()[2], x.shape()[3]);
    if !(need_x && need_w && dy.gpu().routing().conv != ConvVariant::Direct) {
        let dx = need_x
            .then(|| conv2d_grad_input(dy, w, hw, cfg))
            .transpose()?;
        let dw = need_w
            .then(|| conv2d_grad_weight_with(dy, x, cols, kernel, cfg))
            .transpose()?;
        return Ok((dx, dw));
    }
    let (g, t) = grad_input_geometry(dy, w, hw, cfg)?;
    if g.c != x.shape()[1] {
        return Err(Error::shape(
            "conv2d_backward",
            format!(
                "input {:?} does not match weight {:?}",
                x.shape(),
                w.shape()
            ),
        ));
    }
    let (_, u) = grad_weight_geometry(dy, x, cols, kernel, cfg)?;
    let (dx, dw) = gemm::backward(&g, &t[0], &u[1], &t[1], cols)?;
    Ok((Some(dx), Some(dw)))
}

/// conv2d_grad_weight, on the GEMM path from `cols` where the forward kept them
/// (`conv2d_with_cols`) instead of a new im2col of x.
pub fn conv2d_grad_weight_with(
    dy: &Tensor,
    x: &Tensor,
    cols: Option<&Tensor>,
    kernel: (usize, usize),
    cfg: Conv2dConfig,
) -> Result<Tensor> {
    let (g, t) = grad_weight_geometry(dy, x, cols, kernel, cfg)?;
    match dy.gpu().routing().conv {
        ConvVariant::Direct => direct::grad_weight(&g, &t[0], &t[1]),
        ConvVariant::Gemm | ConvVariant::Implicit => gemm::grad_weight(&g, &t[0], &t[1], cols),
    }
}

/// Plain loops in f64. Both gradients are written as scatters from each output
/// position, the opposite of the GPU's gathers, so the two cannot share a mistake.
pub mod reference {
    use super::ConvGeom;

    fn tap(g: &ConvGeom, oh: usize, ow: usize, kh: usize, kw: usize) -> Option<(usize, usize)> {
        let ih = (oh * g.cfg.stride.0 + kh).checked_sub(g.cfg.padding.0)?;
        let iw = (ow * g.cfg.stride.1 + kw).checked_sub(g.cfg.padding.1)?;
        (ih < g.h && iw < g.w).then_some((ih, iw))
    }

    /// Calls f(x index, w index, y index) for every multiply of the convolution.
    fn each(g: &ConvGeom, mut f: impl FnMut(usize, usize, usize)) {
        for n in 0..g.n {
            for k in 0..g.k {
                for oh in 0..g.oh {
                    for ow in 0..g.ow {
                        let yi = ((n * g.k + k) * g.oh + oh) * g.ow + ow;
                        for c in 0..g.c {
                            for kh in 0..g.kh {
                                for kw in 0..g.kw {
                                    if let Some((ih, iw)) = tap(g, oh, ow, kh, kw) {
                                        let xi = ((n * g.c + c) * g.h + ih) * g.w + iw;
                                        let wi = ((k * g.c + c) * g.kh + kh) * g.kw + kw;
                                        f(xi, wi, yi);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn forward(g: &ConvGeom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; g.n * g.k * g.oh * g.ow];
        each(g, |xi, wi, yi| y[yi] += x[xi] * w[wi]);
        y
    }

    pub fn grad_input(g: &ConvGeom, dy: &[f64], w: &[f64]) -> Vec<f64> {
        let mut dx = vec![0.0; g.n * g.c * g.h * g.w];
        each(g, |xi, wi, yi| dx[xi] += dy[yi] * w[wi]);
        dx
    }

    pub fn grad_weight(g: &ConvGeom, dy: &[f64], x: &[f64]) -> Vec<f64> {
        let mut dw = vec![0.0; g.k * g.c * g.kh * g.kw];
        each(g, |xi, wi, yi| dw[wi] += dy[yi] * x[xi]);
        dw
    }
}
