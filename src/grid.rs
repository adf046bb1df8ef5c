//! Image grids as PNG: images [N, C, side, side] in [0, 1] tiled row-major on a mid-gray
//! background with a 2-pixel gutter, written atomically.

use crate::error::{Error, Result};
use crate::run_dir::write_atomic;
use std::path::Path;

pub const GUTTER: usize = 2;

/// Tiles `images` (N·C·side² values) into `cols` columns; returns (width, height, pixels)
/// with C = 1 (gray) or 3 (RGB) interleaved 8-bit channels.
pub fn tile(images: &[f32], channels: usize, side: usize, cols: usize) -> (usize, usize, Vec<u8>) {
    let per = channels * side * side;
    let n = images.len() / per;
    let rows = n.div_ceil(cols).max(1);
    let w = cols * side + (cols + 1) * GUTTER;
    let h = rows * side + (rows + 1) * GUTTER;
    let mut px = vec![128u8; w * h * channels];
    for i in 0..n {
        let (r, c) = (i / cols, i % cols);
        let (y0, x0) = (GUTTER + r * (side + GUTTER), GUTTER + c * (side + GUTTER));
        for ch in 0..channels {
            for y in 0..side {
                for x in 0..side {
                    let v = images[i * per + (ch * side + y) * side + x];
                    px[((y0 + y) * w + x0 + x) * channels + ch] =
                        (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
    (w, h, px)
}

/// Originals and reconstructions ([n, per] each) as alternating rows of `cols` images.
pub fn interleave_rows(a: &[f32], b: &[f32], per: usize, cols: usize) -> Vec<f32> {
    let n = a.len() / per;
    let mut out = Vec::with_capacity(2 * a.len());
    for row in 0..n.div_ceil(cols) {
        let span = row * cols * per..((row + 1) * cols).min(n) * per;
        out.extend_from_slice(&a[span.clone()]);
        out.extend_from_slice(&b[span]);
    }
    out
}

/// 8-bit gray (C = 1) or RGB (C = 3) pixels, `w` × `h`, as PNG bytes (`path` names the file
/// in errors).
pub fn encode_png(path: &Path, w: usize, h: usize, channels: usize, px: &[u8]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(if channels == 1 {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgb
        });
        enc.set_depth(png::BitDepth::Eight);
        let err = |e: png::EncodingError| Error::data(path, format!("encoding PNG: {e}"));
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(px).map_err(err)?;
    }
    Ok(bytes)
}

pub fn write_png(
    path: &Path,
    images: &[f32],
    channels: usize,
    side: usize,
    cols: usize,
) -> Result<()> {
    let (w, h, px) = tile(images, channels, side, cols);
    write_atomic(path, &encode_png(path, w, h, channels, &px)?)
}
