//! conv2d.wgsl: 2-D convolution (NCHW, weights [K, C, KH, KW], stride, zero padding)
//! and its two gradients, each a gather so results are deterministic.

use super::{expect_rank, fits_u32, groups_for, Params};
use crate::error::{Error, Result};
use crate::gpu::{ConvVariant, Dispatch};
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    pub stride: (usize, usize),
    pub padding: (usize, usize),
}

impl Conv2dConfig {
    pub fn new(stride: usize, padding: usize) -> Self {
        Conv2dConfig {
            stride: (stride, stride),
            padding: (padding, padding),
        }
    }
}

/// Every size of one convolution, in the forward direction's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub cfg: Conv2dConfig,
}

impl ConvGeom {
    /// Output size for input (h, w); None if the kernel does not fit the padded input.
    pub fn out_size(
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
        cfg: Conv2dConfig,
    ) -> Option<(usize, usize)> {
        let (sh, sw) = cfg.stride;
        let (ph, pw) = cfg.padding;
        if sh == 0 || sw == 0 || h + 2 * ph < kh || w + 2 * pw < kw {
            return None;
        }
        Some(((h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1))
    }

    pub fn forward(
        op: &'static str,
        x: &[usize],
        w: &[usize],
        cfg: Conv2dConfig,
    ) -> Result<ConvGeom> {
        let (n, c, h, wd) = (x[0], x[1], x[2], x[3]);
        let (k, c2, kh, kw) = (w[0], w[1], w[2], w[3]);
        if c != c2 {
            return Err(Error::shape(
                op,
                format!("input {x:?} has {c} channels but weight {w:?} expects {c2}"),
            ));
        }
        if kh == 0 || kw == 0 {
            return Err(Error::shape(
                op,
                format!("weight {w:?} has an empty kernel"),
            ));
        }
        let (oh, ow) = Self::out_size(h, wd, kh, kw, cfg).ok_or_else(|| {
            Error::shape(
                op,
                format!("kernel {kh}×{kw} with {cfg:?} does not fit input {x:?}"),
            )
        })?;
        Ok(ConvGeom {
            n,
            c,
            h,
            w: wd,
            k,
            kh,
            kw,
            oh,
            ow,
            cfg,
        })
    }

    /// FLOPs of the forward pass (and of each gradient): 2·N·K·OH·OW·C·KH·KW.
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.k * self.oh * self.ow * self.c * self.kh * self.kw) as f64
    }

    /// The uniform block of conv2d.wgsl and im2col.wgsl.
    pub(super) fn params(&self, off0: usize, off1: usize) -> Vec<u8> {
        Params::default()
            .u(self.n)
            .u(self.c)
            .u(self.h)
            .u(self.w)
            .u(self.k)
            .u(self.oh)
            .u(self.ow)
            .u(self.kh)
            .u(self.kw)
            .u(self.cfg.stride.0)
            .u(self.cfg.stride.1)
            .u(self.cfg.padding.0)
            .u(self.cfg.padding.1)
            .u(off0)
            .u(off1)
            .u(0)
            .bytes()
    }
}

fn launch(
    entry: &'static str,
    g: &ConvGeom,
    in0: &Tensor,
    in1: &Tensor,
    out: &Tensor,
    invocations: usize,
) -> Result<()> {
    if invocations == 0 {
        return Ok(());
    }
    in0.gpu().dispatch(&Dispatch {
        shader: "conv2d",
        entry,
        consts: &[],
        params: &g.params(in0.offset(), in1.offset()),
        buffers: &[in0.buffer(), in1.buffer(), out.buffer()],
        textures: &[],
        groups: groups_for(invocations, 64),
    })
}

fn prepare(op: &'static str, ts: &[(&str, &Tensor)]) -> Result<Vec<Tensor>> {
    ts.iter()
        .map(|(what, t)| {
            expect_rank(op, what, t, 4)?;
            fits_u32(op, t)?;
            // The conv and im2col shaders take offsets: dense views are used in place.
            t.contiguous()
        })
        .collect()
}

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
    if x.gpu().routing().conv != ConvVariant::Direct {
        return super::conv_gemm::forward(&g, &t[0], &t[1]);
    }
    let y = Tensor::empty(x.gpu(), &[g.n, g.k, g.oh, g.ow])?;
    launch(
        "forward",
        &g,
        &t[0],
        &t[1],
        &y,
        g.n * g.k.div_ceil(4) * g.oh * g.ow.div_ceil(4),
    )?;
    Ok((y, None))
}

/// conv2d_grad_input's checks: the geometry, and dy and w contiguous.
fn grad_input_geometry(
    dy: &Tensor,
    w: &Tensor,
    input_hw: (usize, usize),
    cfg: Conv2dConfig,
) -> Result<(ConvGeom, Vec<Tensor>)> {
    const OP: &str = "conv2d_grad_input";
    let t = prepare(OP, &[("gradient", dy), ("weight", w)])?;
    let (n, k) = (dy.shape()[0], dy.shape()[1]);
    let x_shape = [n, w.shape()[1], input_hw.0, input_hw.1];
    let g = ConvGeom::forward(OP, &x_shape, w.shape(), cfg)?;
    if (g.k, g.oh, g.ow) != (k, dy.shape()[2], dy.shape()[3]) {
        return Err(Error::shape(OP, format!("gradient {:?} does not match conv of input {x_shape:?} with weight {:?}: expected [{n}, {}, {}, {}]", dy.shape(), w.shape(), g.k, g.oh, g.ow)));
    }
    Ok((g, t))
}

/// dx for y = conv2d(x, w): dy [N, K, OH, OW], w [K, C, KH, KW], x's spatial size (H, W).
pub fn conv2d_grad_input(
    dy: &Tensor,
    w: &Tensor,
    input_hw: (usize, usize),
    cfg: Conv2dConfig,
) -> Result<Tensor> {
    let (g, t) = grad_input_geometry(dy, w, input_hw, cfg)?;
    let x_shape = [g.n, g.c, g.h, g.w];
    if dy.gpu().routing().conv != ConvVariant::Direct {
        return super::conv_gemm::grad_input(&g, &t[0], &t[1]);
    }
    let dx = Tensor::empty(dy.gpu(), &x_shape)?;
    launch(
        "grad_input",
        &g,
        &t[0],
        &t[1],
        &dx,
        g.n * g.c.div_ceil(4) * g.h * g.w.div_ceil(4),
    )?;
    Ok(dx)
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

/// conv2d_grad_weight's checks: the geometry, `cols` of its im2col, and dy and x contiguous.
fn grad_weight_geometry(
    dy: &Tensor,
    x: &Tensor,
    cols: Option<&Tensor>,
    kernel: (usize, usize),
    cfg: Conv2dConfig,
) -> Result<(ConvGeom, Vec<Tensor>)> {
    const OP: &str = "conv2d_grad_weight";
    let t = prepare(OP, &[("gradient", dy), ("input", x)])?;
    let w_shape = [dy.shape()[1], x.shape()[1], kernel.0, kernel.1];
    let g = ConvGeom::forward(OP, x.shape(), &w_shape, cfg)?;
    if [g.n, g.k, g.oh, g.ow] != dy.shape() {
        return Err(Error::shape(OP, format!("gradient {:?} does not match conv of input {:?} with kernel {kernel:?}: expected [{}, {}, {}, {}]", dy.shape(), x.shape(), g.n, g.k, g.oh, g.ow)));
    }
    let want = [g.c * g.kh * g.kw, g.n * g.oh * g.ow];
    if let Some(cols) = cols.filter(|c| c.shape() != want) {
        return Err(Error::shape(OP, format!("kept columns {:?} do not match input {:?} with kernel {kernel:?}: expected {want:?}", cols.shape(), x.shape())));
    }
    Ok((g, t))
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
    let (dx, dw) = super::conv_gemm::backward(&g, &t[0], &u[1], &t[1], cols)?;
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
    if dy.gpu().routing().conv != ConvVariant::Direct {
        return super::conv_gemm::grad_weight(&g, &t[0], &t[1], cols);
    }
    let dw = Tensor::empty(dy.gpu(), &[g.k, g.c, g.kh, g.kw])?;
    launch(
        "grad_weight",
        &g,
        &t[0],
        &t[1],
        &dw,
        g.k.div_ceil(4) * g.c * g.kh * g.kw,
    )?;
    Ok(dw)
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
