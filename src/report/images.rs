//! The run's PNG grids made legible for the page: each cell cut out of the grid that `train`
//! or `eval` wrote (`crate::grid`'s layout: cells of `side` pixels behind a gutter), drawn
//! `scale` times larger by pixel replication (no smoothing: a pixel stays a pixel), and
//! tiled again with thin white separators. Returned as PNG bytes.

use crate::data::folder::decode;
use crate::error::{Error, Result};
use crate::grid::{encode_png, GUTTER};
use std::path::Path;

/// Separators between the scaled cells, in pixels of the new image.
const SEPARATOR: usize = 2;
/// A cell is drawn at least this many pixels wide (28-pixel images 3×).
const MIN_CELL: usize = 84;

/// An image grid ready for the page.
pub struct Grid {
    pub png: Vec<u8>,
    pub width: usize,
    pub height: usize,
    pub rows: usize,
    pub cols: usize,
    /// Pixels of one scaled cell plus its separator: the row pitch for labels.
    pub pitch: usize,
}

/// The integer factor that draws a `side`-pixel cell at least MIN_CELL pixels wide.
pub fn scale_for(side: usize) -> usize {
    MIN_CELL.div_ceil(side.max(1)).max(1)
}

/// Re-tiles the grid in `path`, whose cells are `side` pixels, at `scale_for(side)`.
pub fn legible(path: &Path, side: usize) -> Result<Grid> {
    let img = decode(path)?;
    let (w, h, ch, px) = (img.width, img.height, img.channels, img.data);
    let cell = side + GUTTER;
    if side == 0 || w < cell + GUTTER || h < cell + GUTTER {
        return Err(Error::data(
            path,
            format!("{w}×{h} pixels hold no grid of {side}-pixel images"),
        ));
    }
    let (cols, rows) = ((w - GUTTER) / cell, (h - GUTTER) / cell);
    let k = scale_for(side);
    let pitch = side * k + SEPARATOR;
    let (nw, nh) = (cols * pitch - SEPARATOR, rows * pitch - SEPARATOR);
    let mut out = vec![255u8; nw * nh * ch];
    for r in 0..rows {
        for c in 0..cols {
            let (y0, x0) = (GUTTER + r * cell, GUTTER + c * cell);
            for y in 0..side * k {
                let src_row = (y0 + y / k) * w;
                let dst_row = (r * pitch + y) * nw;
                for x in 0..side * k {
                    let s = (src_row + x0 + x / k) * ch;
                    let d = (dst_row + c * pitch + x) * ch;
                    out[d..d + ch].copy_from_slice(&px[s..s + ch]);
                }
            }
        }
    }
    Ok(Grid {
        png: encode_png(path, nw, nh, ch, &out)?,
        width: nw,
        height: nh,
        rows,
        cols,
        pitch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_scaled_by_replication_and_separated() {
        // Two 2×2 gray images in one row: values 0..3 and 4..7 (in 1/8 steps).
        let images: Vec<f32> = (0..8).map(|v| v as f32 / 8.0).collect();
        let dir = std::env::temp_dir().join(format!("vae-gpu-grid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g.png");
        crate::grid::write_png(&path, &images, 1, 2, 2).unwrap();
        let g = legible(&path, 2).unwrap();
        let k = scale_for(2);
        assert_eq!(k, 42);
        assert_eq!((g.rows, g.cols), (1, 2));
        assert_eq!(g.width, 2 * 2 * k + SEPARATOR);
        assert_eq!(g.height, 2 * k);
        std::fs::write(&path, &g.png).unwrap();
        let img = decode(&path).unwrap();
        let (w, h, ch, px) = (img.width, img.height, img.channels, img.data);
        assert_eq!((w, h, ch), (g.width, g.height, 1));
        let at = |x: usize, y: usize| px[y * w + x];
        let level = |v: f32| (v * 255.0).round() as u8;
        // Every pixel of a scaled source pixel carries its value; the separator is white.
        assert_eq!(at(0, 0), level(0.0));
        assert_eq!(at(k - 1, k - 1), level(0.0));
        assert_eq!(at(k, 0), level(1.0 / 8.0));
        assert_eq!(at(0, k), level(2.0 / 8.0));
        assert_eq!(at(2 * k, 0), 255);
        assert_eq!(at(2 * k + SEPARATOR, 0), level(4.0 / 8.0));
        assert_eq!(at(w - 1, h - 1), level(7.0 / 8.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_too_small_for_the_cells_is_named() {
        let dir = std::env::temp_dir().join(format!("vae-gpu-grid-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tiny.png");
        crate::grid::write_png(&path, &[0.5; 4], 1, 2, 1).unwrap();
        let e = legible(&path, 28)
            .err()
            .expect("28-pixel cells do not fit")
            .to_string();
        assert!(e.contains("tiny.png") && e.contains("28-pixel"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
