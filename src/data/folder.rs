//! A folder of PNG or JPEG images (sorted by name; other files ignored), all of one size,
//! each cut to a square (`Crop`, or the largest centred one) and resized to the target side
//! by area averaging (each output pixel the mean of the source area it covers: exact 2×2
//! means for CelebA's 128 → 64, and no aliasing when shrinking by other factors).

use super::{Crop, Dataset};
use crate::error::{Error, Result};
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The side used when `--image-size` is not given (CelebA in the reference).
pub const DEFAULT_SIDE: usize = 64;

/// A decoded image, interleaved 8-bit channels.
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<u8>,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

pub fn decode(path: &Path) -> Result<Image> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ext == "png" {
        let mut dec = png::Decoder::new(BufReader::new(file));
        dec.set_transformations(png::Transformations::normalize_to_color8());
        let bad = |e: png::DecodingError| Error::data(path, format!("unreadable PNG: {e}"));
        let mut reader = dec.read_info().map_err(bad)?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| Error::data(path, "PNG too large"))?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(bad)?;
        buf.truncate(info.buffer_size());
        let (channels, data) = match info.color_type {
            png::ColorType::Grayscale => (1, buf),
            png::ColorType::GrayscaleAlpha => (1, buf.chunks_exact(2).map(|p| p[0]).collect()),
            png::ColorType::Rgb => (3, buf),
            png::ColorType::Rgba => (
                3,
                buf.chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect(),
            ),
            png::ColorType::Indexed => return Err(Error::data(path, "indexed PNG not expanded")),
        };
        Ok(Image {
            width: info.width as usize,
            height: info.height as usize,
            channels,
            data,
        })
    } else {
        let mut dec = jpeg_decoder::Decoder::new(BufReader::new(file));
        let data = dec
            .decode()
            .map_err(|e| Error::data(path, format!("unreadable JPEG: {e}")))?;
        let info = dec
            .info()
            .ok_or_else(|| Error::data(path, "JPEG without a frame"))?;
        let channels = match info.pixel_format {
            jpeg_decoder::PixelFormat::L8 => 1,
            jpeg_decoder::PixelFormat::RGB24 => 3,
            other => {
                return Err(Error::data(
                    path,
                    format!("unsupported JPEG pixel format {other:?}"),
                ))
            }
        };
        Ok(Image {
            width: info.width as usize,
            height: info.height as usize,
            channels,
            data,
        })
    }
}

/// The image files of `dir`, sorted by name.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    files.sort();
    Ok(files)
}

pub fn load(
    dir: &Path,
    side: Option<usize>,
    crop: Option<Crop>,
    limit: Option<usize>,
) -> Result<Dataset> {
    let side = side.unwrap_or(DEFAULT_SIDE);
    let mut files = list(dir)?;
    if files.is_empty() {
        return Err(Error::data(
            dir,
            "no PNG or JPEG images in the folder (and no IDX or CIFAR-10 files)",
        ));
    }
    if let Some(n) = limit {
        files.truncate(n);
    }
    let first = decode(&files[0])?;
    let (w, h, c) = (first.width, first.height, first.channels);
    let crop = crop.unwrap_or(Crop {
        top: (h - h.min(w)) / 2,
        left: (w - h.min(w)) / 2,
        size: h.min(w),
    });
    if crop.top + crop.size > h || crop.left + crop.size > w {
        return Err(Error::flag(
            "--crop",
            format!(
                "{},{},{} reaches outside the {w}×{h} images of {}",
                crop.top,
                crop.left,
                crop.size,
                dir.display()
            ),
        ));
    }
    let mut pixels = Vec::with_capacity(files.len() * c * side * side);
    for (i, f) in files.iter().enumerate() {
        let img = if i == 0 { None } else { Some(decode(f)?) };
        let img = img.as_ref().unwrap_or(&first);
        if (img.width, img.height) != (w, h) {
            return Err(Error::data(
                f,
                format!(
                    "image is {}×{} but {} is {w}×{h}; a folder must hold one size",
                    img.width,
                    img.height,
                    files[0].display()
                ),
            ));
        }
        pixels.extend(square(img, crop, side, c));
    }
    Ok(Dataset {
        source: dir.display().to_string(),
        channels: c,
        side,
        pixels,
        labels: None,
    })
}

/// Crops and area-resizes one image to [channels, side, side] (gray is repeated to colour,
/// colour is averaged to gray, to match the folder's first image).
pub fn square(img: &Image, crop: Crop, side: usize, channels: usize) -> Vec<u8> {
    let scale = crop.size as f64 / side as f64;
    let mut out = vec![0u8; channels * side * side];
    let at = |y: usize, x: usize, ch: usize| -> f64 {
        let p = &img.data[(y * img.width + x) * img.channels..][..img.channels];
        match (img.channels, channels) {
            (1, _) => p[0] as f64,
            (_, 1) => (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0,
            _ => p[ch] as f64,
        }
    };
    for oy in 0..side {
        let (y0, y1) = (oy as f64 * scale, (oy + 1) as f64 * scale);
        for ox in 0..side {
            let (x0, x1) = (ox as f64 * scale, (ox + 1) as f64 * scale);
            for ch in 0..channels {
                let (mut sum, mut area) = (0.0, 0.0);
                for sy in y0.floor() as usize..(y1.ceil() as usize).min(crop.size) {
                    let wy = (y1.min(sy as f64 + 1.0) - y0.max(sy as f64)).max(0.0);
                    for sx in x0.floor() as usize..(x1.ceil() as usize).min(crop.size) {
                        let wx = (x1.min(sx as f64 + 1.0) - x0.max(sx as f64)).max(0.0);
                        sum += wy * wx * at(crop.top + sy, crop.left + sx, ch);
                        area += wy * wx;
                    }
                }
                out[(ch * side + oy) * side + ox] = (sum / area).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}
