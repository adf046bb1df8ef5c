//! A convolution's sizes and the checks every path shares.

use crate::error::{Error, Result};
use crate::kernels::{expect_rank, fits_u32, Params};
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
    pub(crate) fn params(&self, off0: usize, off1: usize) -> Vec<u8> {
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

pub(super) fn prepare(op: &'static str, ts: &[(&str, &Tensor)]) -> Result<Vec<Tensor>> {
    ts.iter()
        .map(|(what, t)| {
            expect_rank(op, what, t, 4)?;
            fits_u32(op, t)?;
            // The conv and im2col shaders take offsets: dense views are used in place.
            t.contiguous()
        })
        .collect()
}

/// conv2d_grad_input's checks: the geometry, and dy and w contiguous.
pub(super) fn grad_input_geometry(
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

/// conv2d_grad_weight's checks: the geometry, `cols` of its im2col, and dy and x contiguous.
pub(super) fn grad_weight_geometry(
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
