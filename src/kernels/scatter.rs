//! scatter.wgsl: writes into part of an existing tensor — concatenation along the last
//! dim, the backward of slicing it, and gradient accumulation into the flat gradient buffer
//! — and its converse, gathering chosen rows of a matrix into a dense batch.

use super::{dense, groups_for, texture_chunks, Params};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Reads};
use crate::tensor::Tensor;

fn launch(
    entry: &'static str,
    params: Vec<u8>,
    src: &Tensor,
    dst: &Tensor,
    n: usize,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    src.gpu().dispatch(&Dispatch {
        shader: "scatter",
        entry,
        consts: &[],
        params: &params,
        buffers: &[src.buffer(), dst.buffer()],
        textures: &[],
        groups: groups_for(n, 256),
    })
}

/// Rows and width of a tensor seen as [rows, last dim].
fn rows_width(t: &Tensor) -> (usize, usize) {
    let w = t.shape().last().copied().unwrap_or(1);
    (t.numel() / w.max(1), w)
}

/// Writes `src` ([rows, w]) into columns [col, col + w) of `dst` ([rows, width]).
fn place(src: &Tensor, dst: &Tensor, width: usize, col: usize) -> Result<()> {
    let (rows, w) = rows_width(src);
    let params = Params::default()
        .u(rows * w)
        .u(0)
        .u(w)
        .u(width)
        .u(col)
        .bytes();
    launch("place", params, &dense(src)?, dst, rows * w)
}

/// Concatenation along the last dim: [.., a] ++ [.., b] ++ ... → [.., a + b + ...].
pub fn concat_last(parts: &[&Tensor]) -> Result<Tensor> {
    const OP: &str = "concat";
    let first = parts
        .first()
        .ok_or_else(|| Error::shape(OP, "nothing to concatenate"))?;
    let lead = &first.shape()[..first.shape().len().saturating_sub(1)];
    if first.shape().is_empty() {
        return Err(Error::shape(OP, "cannot concatenate scalars"));
    }
    for p in parts {
        if p.shape().len() != first.shape().len() || &p.shape()[..lead.len()] != lead {
            return Err(Error::shape(
                OP,
                format!(
                    "{:?} and {:?} differ outside the last dim",
                    first.shape(),
                    p.shape()
                ),
            ));
        }
    }
    let width: usize = parts.iter().map(|p| p.shape()[lead.len()]).sum();
    let mut shape = lead.to_vec();
    shape.push(width);
    let out = Tensor::empty(first.gpu(), &shape)?;
    let mut col = 0;
    for p in parts {
        place(p, &out, width, col)?;
        col += rows_width(p).1;
    }
    Ok(out)
}

/// The backward of taking columns [col, col + w) of the last dim of a tensor of `shape`:
/// zeros everywhere except `g` in that window.
pub fn pad_last(g: &Tensor, shape: &[usize], col: usize) -> Result<Tensor> {
    const OP: &str = "pad_last";
    let (rows, w) = rows_width(g);
    let width = *shape
        .last()
        .ok_or_else(|| Error::shape(OP, "scalar target"))?;
    if crate::tensor::numel(shape) / width.max(1) != rows || col + w > width {
        return Err(Error::shape(
            OP,
            format!("{:?} at column {col} does not fit in {shape:?}", g.shape()),
        ));
    }
    let out = Tensor::zeros(g.gpu(), shape)?;
    place(g, &out, width, col)?;
    Ok(out)
}

/// dst += src, where dst may be a dense view at an offset into a larger buffer.
pub fn accumulate(dst: &Tensor, src: &Tensor) -> Result<()> {
    const OP: &str = "accumulate";
    if dst.shape() != src.shape() {
        return Err(Error::shape(
            OP,
            format!("cannot add {:?} into {:?}", src.shape(), dst.shape()),
        ));
    }
    if !dst.is_contiguous() {
        return Err(Error::shape(
            OP,
            "the destination must be a dense (possibly offset) view",
        ));
    }
    let n = src.numel();
    let gpu = dst.gpu();
    let mut done = 0;
    let aligned = [src.offset(), dst.offset()].iter().all(|o| o % 4 == 0);
    if gpu.routing().reads == Reads::Textures && src.is_contiguous() && aligned {
        for (q0, nq) in texture_chunks(n / 4) {
            let snapshot = |t: &Tensor| {
                gpu.flat_texture(t.buffer(), ((t.offset() / 4 + q0) * 16) as u64, nq as u32)
            };
            let (Some(s), Some(d)) = (snapshot(src), snapshot(dst)) else {
                break;
            };
            gpu.dispatch(&Dispatch {
                shader: "scatter",
                entry: "accumulate_tex",
                consts: &[],
                params: &Params::default().u(nq).u(dst.offset() / 4 + q0).bytes(),
                buffers: &[dst.buffer()],
                textures: &[s.view(), d.view()],
                groups: groups_for(nq, 256),
            })?;
            done = 4 * (q0 + nq);
        }
    }
    if done == n {
        return Ok(());
    }
    let rest = src.reshape(&[n])?.narrow0(done, n - done)?;
    launch(
        "accumulate",
        Params::default().u(n - done).u(dst.offset() + done).bytes(),
        &dense(&rest)?,
        dst,
        n - done,
    )
}

/// dst[row0 + r] = src[r]: a batch's rows written into a larger dense matrix (assembling
/// a whole dataset's encodings on the device, batch by batch).
pub fn write_rows(src: &Tensor, dst: &Tensor, row0: usize) -> Result<()> {
    const OP: &str = "write_rows";
    let (rows, w) = rows_width(src);
    let (dst_rows, dst_w) = rows_width(dst);
    if w != dst_w || row0 + rows > dst_rows || !dst.is_contiguous() || dst.offset() != 0 {
        return Err(Error::shape(
            OP,
            format!(
                "{:?} at row {row0} of {:?} (a dense matrix of the same width)",
                src.shape(),
                dst.shape()
            ),
        ));
    }
    let params = Params::default()
        .u(rows * w)
        .u(row0 * w)
        .u(w)
        .u(w)
        .u(0)
        .bytes();
    launch("place", params, &dense(src)?, dst, rows * w)
}

/// out[r] = src[rows[r]] for a matrix `src` [n, w]: the rows of a batch, chosen on the host
/// (a shuffled index list, 4 bytes a row uploaded) from data that stays on the device.
pub fn gather_rows(src: &Tensor, rows: &[usize]) -> Result<Tensor> {
    const OP: &str = "gather_rows";
    crate::kernels::expect_rank(OP, "source", src, 2)?;
    let (n, w) = (src.shape()[0], src.shape()[1]);
    if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
        return Err(Error::shape(
            OP,
            format!("row {bad} of a [{n}, {w}] matrix"),
        ));
    }
    // A dense view at an offset is read in place (the stored latents are never copied).
    let src = if src.is_contiguous() {
        src.clone()
    } else {
        dense(src)?
    };
    let out = Tensor::empty(src.gpu(), &[rows.len(), w])?;
    let total = rows.len() * w;
    if total == 0 {
        return Ok(out);
    }
    // The indices travel as u32 bit patterns in an f32 tensor (a storage buffer is bytes).
    let bits: Vec<f32> = rows.iter().map(|&r| f32::from_bits(r as u32)).collect();
    let idx = Tensor::from_slice(src.gpu(), &bits, &[rows.len()])?;
    let params = Params::default().u(total).u(src.offset()).u(0).u(w).bytes();
    src.gpu().dispatch(&Dispatch {
        shader: "scatter",
        entry: "gather_rows",
        consts: &[],
        params: &params,
        buffers: &[src.buffer(), out.buffer(), idx.buffer()],
        textures: &[],
        groups: groups_for(total, 256),
    })?;
    Ok(out)
}

pub mod reference {
    /// Rows `rows` of a row-major [n, w] matrix.
    pub fn gather_rows(src: &[f64], w: usize, rows: &[usize]) -> Vec<f64> {
        rows.iter()
            .flat_map(|&r| src[r * w..(r + 1) * w].iter().copied())
            .collect()
    }

    /// Row-major concatenation of [rows, w_i] blocks along columns.
    pub fn concat_last(parts: &[(&[f64], usize)], rows: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for r in 0..rows {
            for (data, w) in parts {
                out.extend_from_slice(&data[r * w..(r + 1) * w]);
            }
        }
        out
    }
}
