//! The kernel choices `vae-gpu bench tune` measured on each adapter, kept in one JSON file
//! (`$VAE_GPU_TUNING`, else `$XDG_CACHE_HOME/vae-gpu/tuning.json`, else
//! `~/.cache/vae-gpu/tuning.json`) keyed by adapter name, backend and driver: read when a
//! device opens, so a tuned adapter runs its winners without timing anything. An adapter
//! that was never tuned keeps the rules of `route`; the environment's overrides beat both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::route::{AdamVariant, ConvVariant, MatmulVariant, Reads, Tuned, Variant};
use crate::error::{Error, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub matmul: String,
    pub conv: String,
    /// Absent in files written before Adam was tuned: then the default for the adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adam: Option<String>,
    /// Absent in files written before the memory-bound kernels' reads were tuned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<String>,
    /// What the choice rests on: seconds per candidate, as `bench tune` measured them.
    pub measured: Measured,
}

/// `bench tune`'s timings behind an entry, each list fastest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    pub matmul_seconds: Vec<Timing>,
    pub conv_seconds: Vec<Timing>,
    /// Absent, like `adam` and `reads`, in files written before those were tuned.
    #[serde(default)]
    pub adam_seconds: Vec<Timing>,
    #[serde(default)]
    pub reads_seconds: Vec<Timing>,
    /// Whether `bench tune --quick` measured it (fewer repetitions).
    pub quick: bool,
}

/// One candidate's time (None: dropped after the first product, over 3× the best).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Timing {
    pub variant: String,
    pub seconds: Option<f64>,
}

impl Timing {
    pub fn of<V: Variant>(list: &[(V, impl Into<Option<f64>> + Copy)]) -> Vec<Timing> {
        list.iter()
            .map(|(v, s)| Timing {
                variant: v.name().into(),
                seconds: (*s).into(),
            })
            .collect()
    }
}

fn var(k: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(k).filter(|v| !v.is_empty())
}

/// vae-gpu's cache folder (`$XDG_CACHE_HOME/vae-gpu`, else `~/.cache/vae-gpu`), or `None`
/// where neither variable is set.
pub fn cache_dir() -> Option<PathBuf> {
    let cache = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("vae-gpu"))
}

/// Where the tuning file is, or `None` where no cache folder can be named.
pub fn path() -> Option<PathBuf> {
    match var("VAE_GPU_TUNING") {
        Some(p) => Some(PathBuf::from(p)),
        None => Some(cache_dir()?.join("tuning.json")),
    }
}

/// The adapter's identity in the file: the same GPU under another driver is tuned apart.
pub fn key(info: &wgpu::AdapterInfo) -> String {
    format!(
        "{} | {:?} | {} {}",
        info.name, info.backend, info.driver, info.driver_info
    )
}

fn read(file: &Path) -> Result<BTreeMap<String, Entry>> {
    match std::fs::read_to_string(file) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            Error::flag(
                "VAE_GPU_TUNING",
                format!(
                    "{} is not a tuning file ({e}); delete it or run `vae-gpu bench tune` again",
                    file.display()
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Error::flag(
            "VAE_GPU_TUNING",
            format!("cannot read {}: {e}", file.display()),
        )),
    }
}

/// The tuned choices for this adapter, with the file they came from.
pub fn lookup(info: &wgpu::AdapterInfo) -> Result<Option<Tuned>> {
    let Some(file) = path() else { return Ok(None) };
    let Some(e) = read(&file)?.remove(&key(info)) else {
        return Ok(None);
    };
    let origin = format!("{} (VAE_GPU_TUNING)", file.display());
    let matmul = MatmulVariant::parse_from(origin.clone(), &e.matmul)?;
    let conv = ConvVariant::parse_from(origin.clone(), &e.conv)?;
    let adam = e
        .adam
        .as_deref()
        .map(|a| AdamVariant::parse_from(origin.clone(), a))
        .transpose()?;
    let reads = e
        .reads
        .as_deref()
        .map(|r| Reads::parse_from(origin.clone(), r))
        .transpose()?;
    Ok(Some(Tuned {
        matmul,
        conv,
        adam,
        reads,
        file,
    }))
}

/// Records this adapter's entry, keeping the others; the file is replaced atomically.
pub fn store(info: &wgpu::AdapterInfo, entry: Entry) -> Result<PathBuf> {
    let file = path().ok_or_else(|| {
        Error::flag(
            "VAE_GPU_TUNING",
            "no cache folder: set VAE_GPU_TUNING, XDG_CACHE_HOME or HOME",
        )
    })?;
    let mut all = read(&file)?;
    all.insert(key(info), entry);
    let io = |e: std::io::Error| {
        Error::flag(
            "VAE_GPU_TUNING",
            format!("cannot write {}: {e}", file.display()),
        )
    };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let text = serde_json::to_string_pretty(&all).expect("serialises") + "\n";
    crate::atomic::write(&file, text.as_bytes()).map_err(io)?;
    Ok(file)
}
