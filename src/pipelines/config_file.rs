//! config.json as one type: the run's settings (`RunConfig`, under "train") and what the run
//! found when it started — the adapter, the dataset, the parameter and step counts. Written
//! by `train`, read back by `--resume`, `eval`, `sample`, `report` and the tests.

use super::config::RunConfig;
use crate::error::{Error, Result};
use crate::run_dir;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigFile {
    pub vae_gpu_version: String,
    /// Seconds since the Unix epoch when the run (or its stage 2) was set up.
    #[serde(default)]
    pub created_unix: u64,
    pub adapter: AdapterRecord,
    pub dataset: DatasetRecord,
    /// Trainable values of stage 1, and of stage 2 where there is one.
    pub parameters: usize,
    #[serde(default)]
    pub stage2_parameters: Option<usize>,
    pub steps_per_epoch: usize,
    pub total_steps: u64,
    #[serde(default)]
    pub stage2_total_steps: Option<u64>,
    pub train: RunConfig,
}

/// The adapter the run was set up on, as wgpu describes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdapterRecord {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
}

/// The training data as loaded.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub source: String,
    pub images: usize,
    pub channels: usize,
    pub side: usize,
    /// Runs written before labels were recorded have none: read as unlabelled.
    #[serde(default)]
    pub labels: bool,
    /// The true manifold dimension where the data is synthetic (`shapes`).
    pub manifold_dim: Option<usize>,
}

impl DatasetRecord {
    /// Values D of one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }
}

/// Reads `dir`/config.json: the whole document, its settings validated as `train` validates
/// its flags. A missing folder, a file, or a folder without config.json is refused saying
/// which.
pub fn read(dir: &Path) -> Result<ConfigFile> {
    let path = dir.join(run_dir::CONFIG);
    if !dir.exists() {
        return Err(Error::data(dir, "no such run directory"));
    }
    if dir.is_file() {
        return Err(Error::data(
            dir,
            "a file, not a run directory: give the folder `vae-gpu train --out DIR` wrote",
        ));
    }
    if !path.is_file() {
        return Err(Error::data(
            dir,
            format!(
                "not a vae-gpu run directory: it has no {} (the folder `vae-gpu train --out DIR` writes)",
                run_dir::CONFIG
            ),
        ));
    }
    let file: ConfigFile = run_dir::read_json(&path)?;
    file.train.validate()?;
    Ok(file)
}
