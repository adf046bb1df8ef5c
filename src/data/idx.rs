//! IDX files as MNIST and Fashion-MNIST are distributed: a 4-byte magic (0, 0, type 0x08 =
//! unsigned byte, number of dimensions), big-endian u32 dimensions, then the data; raw or
//! gzip-compressed (detected by content, not name).

use super::{Dataset, Split};
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Reads a whole file, gunzipping it if it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::data(path, format!("corrupt gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX byte array: (dimensions, data), checking the magic and the length.
pub fn parse(path: &Path, bytes: &[u8], want_dims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.len() < 4 {
        return Err(Error::data(
            path,
            format!("{} bytes is too short for an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(Error::data(
            path,
            format!(
                "bad IDX magic {:02x} {:02x} {:02x} {:02x}: expected 00 00 08 (unsigned bytes) then the dimension count",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    let nd = bytes[3] as usize;
    if nd != want_dims {
        return Err(Error::data(
            path,
            format!("IDX file has {nd} dimensions; expected {want_dims}"),
        ));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(Error::data(path, "truncated IDX header"));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let want = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let have = bytes.len() - header;
    match want {
        Some(w) if w == have => Ok((dims, bytes[header..].to_vec())),
        Some(w) if w > have => Err(Error::data(
            path,
            format!("truncated: dimensions {dims:?} need {w} data bytes, the file has {have}"),
        )),
        _ => Err(Error::data(
            path,
            format!("dimensions {dims:?} do not match the {have} data bytes in the file"),
        )),
    }
}

fn with_gz(dir: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

fn prefix(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Test => "t10k",
    }
}

/// The split's image file in `dir`, raw or gzipped, if present.
pub fn images_file(dir: &Path, split: Split) -> Option<PathBuf> {
    with_gz(dir, &format!("{}-images-idx3-ubyte", prefix(split)))
}

/// Images and, when present, labels of one split in a folder laid out as distributed.
pub fn load_dir(dir: &Path, split: Split) -> Result<Dataset> {
    let images = images_file(dir, split)
        .ok_or_else(|| Error::data(dir, format!("no {}-images-idx3-ubyte[.gz]", prefix(split))))?;
    let labels = with_gz(dir, &format!("{}-labels-idx1-ubyte", prefix(split)));
    load_file(&images, labels.as_deref())
}

/// One IDX image file [N, rows, cols] (rows = cols), and optionally its label file [N].
pub fn load_file(images: &Path, labels: Option<&Path>) -> Result<Dataset> {
    let (dims, pixels) = parse(images, &read_maybe_gz(images)?, 3)?;
    if dims[1] != dims[2] || dims[1] == 0 {
        return Err(Error::data(
            images,
            format!(
                "images are {}×{}; vae-gpu takes square images",
                dims[1], dims[2]
            ),
        ));
    }
    let labels = match labels {
        None => None,
        Some(lp) => {
            let (ld, l) = parse(lp, &read_maybe_gz(lp)?, 1)?;
            if ld[0] != dims[0] {
                return Err(Error::data(
                    lp,
                    format!(
                        "{} labels for {} images in {}",
                        ld[0],
                        dims[0],
                        images.display()
                    ),
                ));
            }
            Some(l)
        }
    };
    Ok(Dataset {
        source: images.display().to_string(),
        channels: 1,
        side: dims[1],
        pixels,
        labels,
    })
}

/// Encodes images [N, side, side] (or labels, with `dims` = [N]) as an IDX file's bytes.
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend((d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
