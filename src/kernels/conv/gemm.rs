//! conv2d as matrix multiplication (im2col.wgsl + the matmul kernels). The batch is folded
//! into the columns, so each direction is one large matmul whose dims are multiples of 4 for
//! the reference network (the vec4 kernel's condition):
//!   forward      Y [K, N·P] = W [K, R] · cols [R, N·P]            then Y → [N, K, OH, OW]
//!   grad_weight  dW [K, R] = dY [K, N·P] · colsᵀ
//!   grad_input   dcols [R, N·P] = Wᵀ · dY, then dx = col2im(dcols)
//! with R = C·KH·KW and P = OH·OW. It trades R·N·P floats of scratch for the matmul's
//! speed, several times the direct kernels' on lavapipe (BENCHMARKS.md).
//! `ConvVariant::Implicit` skips the scratch where the product runs a texture matmul: the
//! products that read cols (forward, grad_weight, both of a transposed convolution's
//! backward) gather it from x inside the matmul (`matmul::matmul_im2col`). On the stage-1
//! step that drops four im2col passes, their copies and the kept columns (BENCHMARKS.md,
//! Xeon SPR: implicit convolution). grad_input still stores dcols for col2im.

use super::geometry::ConvGeom;
use crate::error::Result;
use crate::gpu::{ConvVariant, Dispatch};
use crate::kernels::{groups_for, matmul, view_snapshot};
use crate::tensor::Tensor;

/// im2col.wgsl's geometry constants: a pipeline per layer shape, every division by a constant.
fn consts(g: &ConvGeom) -> [(&'static str, u32); 11] {
    let u = |v: usize| v as u32;
    [
        ("C", u(g.c)),
        ("H", u(g.h)),
        ("W", u(g.w)),
        ("OH", u(g.oh)),
        ("OW", u(g.ow)),
        ("KH", u(g.kh)),
        ("KW", u(g.kw)),
        ("SH", u(g.cfg.stride.0)),
        ("SW", u(g.cfg.stride.1)),
        ("PH", u(g.cfg.padding.0)),
        ("PW", u(g.cfg.padding.1)),
    ]
}

/// The texture matmuls' CONV-mode constants (their own names: C is their output there).
fn cols_consts(g: &ConvGeom) -> [(&'static str, u32); 10] {
    let u = |v: usize| v as u32;
    [
        ("XC", u(g.c)),
        ("XH", u(g.h)),
        ("XW", u(g.w)),
        ("OH", u(g.oh)),
        ("OW", u(g.ow)),
        ("KH", u(g.kh)),
        ("SH", u(g.cfg.stride.0)),
        ("SW", u(g.cfg.stride.1)),
        ("PH", u(g.cfg.padding.0)),
        ("PW", u(g.cfg.padding.1)),
    ]
}

/// op(a)·op(im2col(x)) with the columns gathered by the matmul itself (`ConvVariant::Implicit`),
/// or None where that variant is not chosen or the product cannot run so.
fn in_place(
    g: &ConvGeom,
    a: &Tensor,
    x: &Tensor,
    trans_a: bool,
    trans_b: bool,
) -> Result<Option<Tensor>> {
    if x.gpu().routing().conv != ConvVariant::Implicit {
        return Ok(None);
    }
    let cols = [taps(g), g.n * g.oh * g.ow];
    matmul::matmul_im2col(a, x, cols, (g.kw, &cols_consts(g)), trans_a, trans_b)
}

fn launch(entry: &'static str, g: &ConvGeom, src: &Tensor, dst: &Tensor) -> Result<()> {
    let total = dst.numel();
    if total == 0 {
        return Ok(());
    }
    src.gpu().dispatch(&Dispatch {
        shader: "im2col",
        entry,
        consts: &consts(g),
        params: &g.params(src.offset(), 0),
        buffers: &[src.buffer(), dst.buffer()],
        textures: &[],
        groups: groups_for(total, 256),
    })
}

fn taps(g: &ConvGeom) -> usize {
    g.c * g.kh * g.kw
}

/// cols [R, N·P] of a contiguous x.
fn im2col(g: &ConvGeom, x: &Tensor) -> Result<Tensor> {
    let cols = Tensor::empty(x.gpu(), &[taps(g), g.n * g.oh * g.ow])?;
    if (g.n * g.oh * g.ow).is_multiple_of(4) {
        if let Some((t, base, _)) = view_snapshot(x, &[x.numel()], &[1]) {
            x.gpu().dispatch(&Dispatch {
                shader: "im2col",
                entry: "im2col_tex",
                consts: &consts(g),
                params: &g.params(x.offset() - base, 0),
                buffers: &[cols.buffer()],
                textures: &[t.view()],
                groups: groups_for(cols.numel() / 4, 256),
            })?;
            return Ok(cols);
        }
    }
    launch("im2col", g, x, &cols)?;
    Ok(cols)
}

/// dY as [K, N·P] from dy [N, K, OH, OW].
fn outputs_by_channel(g: &ConvGeom, dy: &Tensor) -> Result<Tensor> {
    dy.reshape(&[g.n, g.k, g.oh * g.ow])?
        .transpose(0, 1)?
        .contiguous()?
        .reshape(&[g.k, g.n * g.oh * g.ow])
}

/// y and the cols it was multiplied from, where they were stored.
pub(super) fn forward(g: &ConvGeom, x: &Tensor, w: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
    if let Some(y) = in_place(g, &w.reshape(&[g.k, taps(g)])?, x, false, false)? {
        return Ok((by_image(g, y)?, None));
    }
    let cols = im2col(g, x)?;
    Ok((forward_from_cols(g, &cols, w)?, Some(cols)))
}

fn forward_from_cols(g: &ConvGeom, cols: &Tensor, w: &Tensor) -> Result<Tensor> {
    by_image(
        g,
        matmul::matmul(&w.reshape(&[g.k, taps(g)])?, cols, false, false)?,
    )
}

/// Y [K, N·P] as [N, K, OH, OW].
fn by_image(g: &ConvGeom, y: Tensor) -> Result<Tensor> {
    y.reshape(&[g.k, g.n, g.oh * g.ow])?
        .transpose(0, 1)?
        .contiguous()?
        .reshape(&[g.n, g.k, g.oh, g.ow])
}

pub(super) fn grad_input(g: &ConvGeom, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
    grad_input_by_channel(g, &outputs_by_channel(g, dy)?, w)
}

/// Both gradients from one dY [K, N·P] (a transpose of dy, which separate calls make twice);
/// the weight gradient from the forward's `cols` where it kept them.
pub(super) fn backward(
    g: &ConvGeom,
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    cols: Option<&Tensor>,
) -> Result<(Tensor, Tensor)> {
    let dys = outputs_by_channel(g, dy)?;
    Ok((
        grad_input_by_channel(g, &dys, w)?,
        grad_weight_by_channel(g, &dys, x, cols)?,
    ))
}

fn grad_input_by_channel(g: &ConvGeom, dys: &Tensor, w: &Tensor) -> Result<Tensor> {
    let dcols = matmul::matmul(&w.reshape(&[g.k, taps(g)])?, dys, true, false)?;
    let dx = Tensor::empty(dys.gpu(), &[g.n, g.c, g.h, g.w])?;
    // Where textures are read, dcols through a snapshot: each tap is one storage load
    // otherwise, a loop over the lanes on llvmpipe.
    if let Some((t, base, _)) = view_snapshot(&dcols, &[dcols.numel()], &[1]) {
        dx.gpu().dispatch(&Dispatch {
            shader: "im2col",
            entry: "col2im_tex",
            consts: &consts(g),
            params: &g.params(dcols.offset() - base, 0),
            buffers: &[dx.buffer()],
            textures: &[t.view()],
            groups: groups_for(dx.numel(), 256),
        })?;
        return Ok(dx);
    }
    launch("col2im", g, &dcols, &dx)?;
    Ok(dx)
}

/// dW, from the forward's `cols` where it kept them.
pub(super) fn grad_weight(
    g: &ConvGeom,
    dy: &Tensor,
    x: &Tensor,
    cols: Option<&Tensor>,
) -> Result<Tensor> {
    grad_weight_by_channel(g, &outputs_by_channel(g, dy)?, x, cols)
}

fn grad_weight_by_channel(
    g: &ConvGeom,
    dys: &Tensor,
    x: &Tensor,
    cols: Option<&Tensor>,
) -> Result<Tensor> {
    let dw = match cols {
        Some(cols) => matmul::matmul(dys, cols, false, true)?,
        None => match in_place(g, dys, x, false, true)? {
            Some(dw) => dw,
            None => matmul::matmul(dys, &im2col(g, x)?, false, true)?,
        },
    };
    dw.reshape(&[g.k, g.c, g.kh, g.kw])
}

/// Both gradients of a transposed convolution, whose conv2d geometry `g` has the gradient
/// gy as its input and the transposed convolution's input x as its output: dx = conv2d(gy, w)
/// and dw = conv2d_grad_weight(x, gy) read the same im2col of gy, built once and, where the
/// products read textures, copied into one once.
pub(super) fn transposed_backward(
    g: &ConvGeom,
    gy: &Tensor,
    x: &Tensor,
    w: &Tensor,
) -> Result<(Tensor, Tensor)> {
    if let Some(dx) = in_place(g, &w.reshape(&[g.k, taps(g)])?, gy, false, false)? {
        return Ok((by_image(g, dx)?, grad_weight(g, x, gy, None)?));
    }
    let cols = im2col(g, gy)?;
    // Both products read cols as the same stored matrix: one snapshot serves them.
    let gpu = cols.gpu();
    gpu.keep_snapshots(cols.buffer());
    let grads =
        forward_from_cols(g, &cols, w).and_then(|dx| Ok((dx, grad_weight(g, x, gy, Some(&cols))?)));
    gpu.release_snapshots(cols.buffer());
    grads
}
