//! CIFAR-10's binary batches: records of one label byte and 3072 pixel bytes
//! (1024 red, 1024 green, 1024 blue, row-major 32×32), 10,000 records per file.

use super::{Dataset, Split};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

const SIDE: usize = 32;
const RECORD: usize = 1 + 3 * SIDE * SIDE;

/// The split's files in `dir`: data_batch_1..5.bin or test_batch.bin (also looked for in a
/// `cifar-10-batches-bin` subfolder, as the archive unpacks).
pub fn files(dir: &Path, split: Split) -> impl Iterator<Item = PathBuf> {
    let dir = if dir.join("cifar-10-batches-bin").is_dir() {
        dir.join("cifar-10-batches-bin")
    } else {
        dir.to_path_buf()
    };
    let names: Vec<String> = match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".into()],
    };
    names.into_iter().map(move |n| dir.join(n))
}

pub fn load_dir(dir: &Path, split: Split) -> Result<Dataset> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for f in files(dir, split) {
        let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(Error::data(
                &f,
                format!(
                    "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated?)",
                    bytes.len()
                ),
            ));
        }
        for rec in bytes.chunks_exact(RECORD) {
            if rec[0] > 9 {
                return Err(Error::data(
                    &f,
                    format!("label {} is not a CIFAR-10 class 0..9", rec[0]),
                ));
            }
            labels.push(rec[0]);
            pixels.extend_from_slice(&rec[1..]);
        }
    }
    Ok(Dataset {
        source: dir.display().to_string(),
        channels: 3,
        side: SIDE,
        pixels,
        labels: Some(labels),
    })
}
