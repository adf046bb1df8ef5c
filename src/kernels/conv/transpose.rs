//! Transposed 2-D convolution ("deconvolution"), PyTorch's layout: x [N, Cin, H, W],
//! w [Cin, Cout, KH, KW] → y [N, Cout, OH, OW] with OH = (H−1)·SH − 2·PH + KH + OPH.
//!
//! It is the adjoint of conv2d, so the conv2d kernels do all the work:
//!   forward      = conv2d_grad_input  (its "dy" is x, its input size is (OH, OW))
//!   grad_input   = conv2d forward     (dy convolved with the same weight)
//!   grad_weight  = conv2d_grad_weight with x and dy swapped.

use super::conv2d::{conv2d, conv2d_grad_input, conv2d_grad_weight};
use super::gemm;
use super::geometry::{Conv2dConfig, ConvGeom};
use crate::error::{Error, Result};
use crate::gpu::ConvVariant;
use crate::kernels::{expect_rank, fits_u32};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dConfig {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
    /// Extra rows/cols at the bottom/right, to pick among the sizes that stride
    /// rounding maps to the same input size. Must be smaller than the stride.
    pub output_padding: (usize, usize),
}

impl ConvTranspose2dConfig {
    pub fn new(stride: usize, padding: usize, output_padding: usize) -> Self {
        ConvTranspose2dConfig {
            stride: (stride, stride),
            padding: (padding, padding),
            output_padding: (output_padding, output_padding),
        }
    }
    fn conv(&self) -> Conv2dConfig {
        Conv2dConfig {
            stride: self.stride,
            padding: self.padding,
        }
    }

    /// Output spatial size for input (h, w) and kernel (kh, kw).
    pub fn out_size(
        &self,
        op: &'static str,
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
    ) -> Result<(usize, usize)> {
        let (sh, sw) = self.stride;
        let (ph, pw) = self.padding;
        let (oph, opw) = self.output_padding;
        if sh == 0 || sw == 0 || oph >= sh || opw >= sw {
            return Err(Error::shape(
                op,
                format!("{self:?}: stride must be ≥ 1 and output_padding < stride"),
            ));
        }
        let oh = ((h.max(1) - 1) * sh + kh + oph).checked_sub(2 * ph);
        let ow = ((w.max(1) - 1) * sw + kw + opw).checked_sub(2 * pw);
        match (oh, ow) {
            (Some(oh), Some(ow)) if oh > 0 && ow > 0 && h > 0 && w > 0 => Ok((oh, ow)),
            _ => Err(Error::shape(
                op,
                format!("input {h}×{w} with kernel {kh}×{kw} and {self:?} gives an empty output"),
            )),
        }
    }
}

pub fn conv_transpose2d(x: &Tensor, w: &Tensor, cfg: ConvTranspose2dConfig) -> Result<Tensor> {
    const OP: &str = "conv_transpose2d";
    expect_rank(OP, "input", x, 4)?;
    expect_rank(OP, "weight", w, 4)?;
    if x.shape()[1] != w.shape()[0] {
        return Err(Error::shape(
            OP,
            format!(
                "input {:?} has {} channels but weight {:?} expects {}",
                x.shape(),
                x.shape()[1],
                w.shape(),
                w.shape()[0]
            ),
        ));
    }
    let out = cfg.out_size(OP, x.shape()[2], x.shape()[3], w.shape()[2], w.shape()[3])?;
    conv2d_grad_input(x, w, out, cfg.conv())
}

/// dx for y = conv_transpose2d(x, w): dy [N, Cout, OH, OW] → [N, Cin, H, W].
pub fn conv_transpose2d_grad_input(
    dy: &Tensor,
    w: &Tensor,
    cfg: ConvTranspose2dConfig,
) -> Result<Tensor> {
    conv2d(dy, w, cfg.conv())
}

/// dw for y = conv_transpose2d(x, w): dy [N, Cout, OH, OW], x [N, Cin, H, W] → [Cin, Cout, KH, KW].
pub fn conv_transpose2d_grad_weight(
    dy: &Tensor,
    x: &Tensor,
    kernel: (usize, usize),
    cfg: ConvTranspose2dConfig,
) -> Result<Tensor> {
    conv2d_grad_weight(x, dy, kernel, cfg.conv())
}

/// Both gradients of y = conv_transpose2d(x, w) given dy, each only where asked for; with the
/// GEMM convolution the two share one im2col of dy (3.2 M floats for the stage-1 decoder's
/// first layer), which separate calls would build twice.
pub fn conv_transpose2d_backward(
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    cfg: ConvTranspose2dConfig,
    (need_x, need_w): (bool, bool),
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    const OP: &str = "conv_transpose2d_backward";
    expect_rank(OP, "weight", w, 4)?;
    if !(need_x && need_w && dy.gpu().routing().conv != ConvVariant::Direct) {
        let dx = match need_x {
            true => Some(conv_transpose2d_grad_input(dy, w, cfg)?),
            false => None,
        };
        let kernel = (w.shape()[2], w.shape()[3]);
        let dw = match need_w {
            true => Some(conv_transpose2d_grad_weight(dy, x, kernel, cfg)?),
            false => None,
        };
        return Ok((dx, dw));
    }
    for (what, t) in [("gradient", dy), ("input", x), ("weight", w)] {
        expect_rank(OP, what, t, 4)?;
        fits_u32(OP, t)?;
    }
    let g = ConvGeom::forward(OP, dy.shape(), w.shape(), cfg.conv())?;
    if [g.n, g.k, g.oh, g.ow] != x.shape() {
        return Err(Error::shape(
            OP,
            format!(
                "input {:?} does not match gradient {:?} with weight {:?}: expected [{}, {}, {}, {}]",
                x.shape(),
                dy.shape(),
                w.shape(),
                g.n,
                g.k,
                g.oh,
                g.ow
            ),
        ));
    }
    let (dx, dw) =
        gemm::transposed_backward(&g, &dy.contiguous()?, &x.contiguous()?, &w.contiguous()?)?;
    Ok((Some(dx), Some(dw)))
}

/// The geometry of the equivalent conv2d (x ↔ y swapped), for FLOP counts.
pub fn equivalent_conv(x: &[usize], w: &[usize], cfg: ConvTranspose2dConfig) -> Result<ConvGeom> {
    let (oh, ow) = cfg.out_size("conv_transpose2d", x[2], x[3], w[2], w[3])?;
    ConvGeom::forward("conv_transpose2d", &[x[0], w[1], oh, ow], w, cfg.conv())
}

/// Direct scatter loops in f64 from the definition, independent of conv2d.
pub mod reference {
    use super::ConvTranspose2dConfig;

    pub struct Geom {
        pub n: usize,
        pub ci: usize,
        pub h: usize,
        pub w: usize,
        pub co: usize,
        pub kh: usize,
        pub kw: usize,
        pub oh: usize,
        pub ow: usize,
        pub cfg: ConvTranspose2dConfig,
    }

    /// Calls f(x index, w index, y index) for every multiply.
    fn each(g: &Geom, mut f: impl FnMut(usize, usize, usize)) {
        for n in 0..g.n {
            for ci in 0..g.ci {
                for ih in 0..g.h {
                    for iw in 0..g.w {
                        let xi = ((n * g.ci + ci) * g.h + ih) * g.w + iw;
                        for co in 0..g.co {
                            for kh in 0..g.kh {
                                for kw in 0..g.kw {
                                    let oh =
                                        (ih * g.cfg.stride.0 + kh).checked_sub(g.cfg.padding.0);
                                    let ow =
                                        (iw * g.cfg.stride.1 + kw).checked_sub(g.cfg.padding.1);
                                    if let (Some(oh), Some(ow)) = (oh, ow) {
                                        if oh < g.oh && ow < g.ow {
                                            let wi = ((ci * g.co + co) * g.kh + kh) * g.kw + kw;
                                            let yi = ((n * g.co + co) * g.oh + oh) * g.ow + ow;
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
    }

    pub fn forward(g: &Geom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; g.n * g.co * g.oh * g.ow];
        each(g, |xi, wi, yi| y[yi] += x[xi] * w[wi]);
        y
    }

    pub fn grad_input(g: &Geom, dy: &[f64], w: &[f64]) -> Vec<f64> {
        let mut dx = vec![0.0; g.n * g.ci * g.h * g.w];
        each(g, |xi, wi, yi| dx[xi] += dy[yi] * w[wi]);
        dx
    }

    pub fn grad_weight(g: &Geom, dy: &[f64], x: &[f64]) -> Vec<f64> {
        let mut dw = vec![0.0; g.ci * g.co * g.kh * g.kw];
        each(g, |xi, wi, yi| dw[wi] += dy[yi] * x[xi]);
        dw
    }
}
