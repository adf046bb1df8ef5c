//! conv2d.wgsl: the direct kernels, one gather per direction (no scratch memory, and each a
//! gather so results are deterministic).

use super::geometry::ConvGeom;
use crate::error::Result;
use crate::gpu::Dispatch;
use crate::kernels::groups_for;
use crate::tensor::Tensor;

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

/// y [N, K, OH, OW] from dense x and w.
pub(super) fn forward(g: &ConvGeom, x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let y = Tensor::empty(x.gpu(), &[g.n, g.k, g.oh, g.ow])?;
    launch(
        "forward",
        g,
        x,
        w,
        &y,
        g.n * g.k.div_ceil(4) * g.oh * g.ow.div_ceil(4),
    )?;
    Ok(y)
}

/// dx [N, C, H, W] from dense dy and w.
pub(super) fn grad_input(g: &ConvGeom, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dx = Tensor::empty(dy.gpu(), &[g.n, g.c, g.h, g.w])?;
    launch(
        "grad_input",
        g,
        dy,
        w,
        &dx,
        g.n * g.c.div_ceil(4) * g.h * g.w.div_ceil(4),
    )?;
    Ok(dx)
}

/// dw [K, C, KH, KW] from dense dy and x.
pub(super) fn grad_weight(g: &ConvGeom, dy: &Tensor, x: &Tensor) -> Result<Tensor> {
    let dw = Tensor::empty(dy.gpu(), &[g.k, g.c, g.kh, g.kw])?;
    launch(
        "grad_weight",
        g,
        dy,
        x,
        &dw,
        g.k.div_ceil(4) * g.c * g.kh * g.kw,
    )?;
    Ok(dw)
}
