//! Datasets, held in host memory as 8-bit images [N, C, side, side] (pixels scale to [0, 1]
//! when a batch is made), and the seeded per-epoch shuffle that turns them into batches.
//!
//! `--data` names one of: `shapes` (built in, see `shapes`), `fashion-mnist`, `mnist`,
//! `cifar10` (found by `resolve`), or a path: a folder of IDX files, of CIFAR-10 binary
//! batches, or of PNG/JPEG images, or one IDX image file.

pub mod batches;
pub mod cifar;
pub mod folder;
pub mod idx;
pub mod shapes;

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub use batches::Batches;

/// Which part of a dataset: the distributed training or test split.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Test,
}

/// Square 8-bit images, channel-major within an image.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Where it came from (a name or a path), for messages and config.json.
    pub source: String,
    pub channels: usize,
    pub side: usize,
    pub pixels: Vec<u8>,
    pub labels: Option<Vec<u8>>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.pixels.len() / self.image_len().max(1)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per image, C·side².
    pub fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The images `indices` as f32 in [0, 1], appended to `out` ([len, C, side, side]).
    /// Every pixel to 0 or 255 at the threshold 128 (a pixel value ≥ 0.5): MNIST binarised
    /// as the PixelCNN-VAE's Bernoulli decoder models it.
    pub fn binarize(&mut self) {
        for p in &mut self.pixels {
            *p = if *p >= 128 { 255 } else { 0 };
        }
    }

    pub fn gather(&self, indices: &[usize], out: &mut Vec<f32>) {
        out.clear();
        for &i in indices {
            out.extend(self.image(i).iter().map(|&p| p as f32 / 255.0));
        }
    }
}

/// How a folder of photographs is cut to squares: the reference's CelebA crop is
/// `--crop 45,25,128` (rows 45..173, cols 25..153); by default the largest centred square.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Crop {
    pub top: usize,
    pub left: usize,
    pub size: usize,
}

impl Crop {
    pub fn parse(s: &str) -> Result<Crop> {
        let v: Vec<usize> = s
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::flag("--crop", format!("'{s}' is not TOP,LEFT,SIZE")))?;
        match v[..] {
            [top, left, size] if size > 0 => Ok(Crop { top, left, size }),
            _ => Err(Error::flag(
                "--crop",
                format!("'{s}' is not TOP,LEFT,SIZE with SIZE > 0"),
            )),
        }
    }
}

/// Written as "TOP,LEFT,SIZE", as `--crop` takes it.
impl From<Crop> for String {
    fn from(c: Crop) -> String {
        format!("{},{},{}", c.top, c.left, c.size)
    }
}

impl TryFrom<String> for Crop {
    type Error = Error;
    fn try_from(s: String) -> Result<Crop> {
        Crop::parse(&s)
    }
}

/// What to load and how.
#[derive(Clone, Debug)]
pub struct DataSpec {
    pub data: String,
    pub split: Split,
    /// Side for `shapes` and image folders (ignored, with a check, for fixed-size formats).
    pub image_size: Option<usize>,
    pub crop: Option<Crop>,
    /// Keep only the first N images (quick runs and tests).
    pub limit: Option<usize>,
}

/// The folders searched for a named dataset, in order.
pub fn search_path(name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(root) = std::env::var_os("VAE_GPU_DATA").filter(|r| !r.is_empty()) {
        dirs.push(PathBuf::from(root).join(name));
    }
    dirs.push(PathBuf::from("data").join(name));
    if name == "fashion-mnist" {
        // Debian's dataset-fashion-mnist package.
        dirs.push(PathBuf::from("/usr/share/datasets/fashion-mnist"));
    }
    dirs
}

pub const NAMED: [&str; 3] = ["fashion-mnist", "mnist", "cifar10"];

/// Loads the dataset `spec` describes.
pub fn load(spec: &DataSpec) -> Result<Dataset> {
    let mut ds = if spec.data == "shapes" {
        no_crop(spec, "generated")?;
        shapes::generate(spec.image_size.unwrap_or(shapes::DEFAULT_SIDE), spec.split)?
    } else {
        let path = if NAMED.contains(&spec.data.as_str()) {
            let dirs = search_path(&spec.data);
            dirs.iter().find(|d| d.is_dir()).cloned().ok_or_else(|| {
                let tried: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                // tools/fetch-data.sh fetches the two MNISTs; CIFAR-10 is a manual download.
                let how = if spec.data == "cifar10" {
                    "download the binary version, cifar-10-binary.tar.gz, from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it into data/cifar10"
                } else {
                    "run `bash tools/fetch-data.sh`"
                };
                Error::data(
                    &spec.data,
                    format!(
                        "dataset not found; looked in {} ({how}, or set VAE_GPU_DATA to the folder holding {})",
                        tried.join(", "),
                        spec.data
                    ),
                )
            })?
        } else {
            PathBuf::from(&spec.data)
        };
        load_path(&path, spec)?
    };
    if let Some(n) = spec.limit {
        ds.pixels.truncate(n.min(ds.len()) * ds.image_len());
        if let Some(l) = ds.labels.as_mut() {
            l.truncate(n);
        }
    }
    if let Some(want) = spec.image_size {
        if want != ds.side {
            return Err(Error::flag(
                "--image-size",
                format!(
                    "{} has {side}×{side} images; --image-size {want} applies only to shapes and image folders",
                    ds.source,
                    side = ds.side
                ),
            ));
        }
    }
    if ds.is_empty() {
        return Err(Error::data(&ds.source, "the dataset has no images"));
    }
    Ok(ds)
}

fn load_path(path: &Path, spec: &DataSpec) -> Result<Dataset> {
    if !path.exists() {
        let mut names = NAMED.to_vec();
        names.push("shapes");
        return Err(Error::data(
            path,
            format!(
                "no such file or folder, and not a dataset name{}; the names are {} (or give a folder of IDX, CIFAR or image files)",
                crate::text::did_you_mean(&path.to_string_lossy(), &names),
                names.join(", ")
            ),
        ));
    }
    let kind = if path.is_file() {
        "an IDX file"
    } else if idx::images_file(path, spec.split).is_some() {
        "IDX files"
    } else if cifar::files(path, spec.split)
        .next()
        .is_some_and(|f| f.exists())
    {
        "CIFAR-10 batches"
    } else {
        return folder::load(path, spec.image_size, spec.crop, spec.limit);
    };
    no_crop(spec, kind)?;
    match kind {
        "an IDX file" => idx::load_file(path, None),
        "IDX files" => idx::load_dir(path, spec.split),
        _ => cifar::load_dir(path, spec.split),
    }
}

/// `--crop` cuts photographs of any size to squares; data of a fixed size has none to cut.
fn no_crop(spec: &DataSpec, kind: &str) -> Result<()> {
    match spec.crop {
        Some(_) => Err(Error::flag(
            "--crop",
            format!(
                "applies only to folders of images; {} is {kind}, whose images are all one size",
                spec.data
            ),
        )),
        None => Ok(()),
    }
}
