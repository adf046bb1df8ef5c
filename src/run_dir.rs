//! The run directory: which files vae-gpu writes there, writing them atomically (a sibling
//! temporary file, flushed, then renamed over the target, so a crash leaves the old file or
//! the new one, never half of one), and refusing to overwrite a run by accident.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

pub const CONFIG: &str = "config.json";
pub const METRICS: &str = "metrics.jsonl";
pub const CHECKPOINT: &str = "checkpoint.safetensors";
pub const SAMPLES: &str = "samples.png";
pub const RECONSTRUCTIONS: &str = "reconstructions.png";
/// Stage 2 of a two-stage run: its checkpoint and the two-stage samples.
pub const STAGE2_CHECKPOINT: &str = "stage2.safetensors";
pub const SAMPLES_TWO_STAGE: &str = "samples-two-stage.png";
pub const EVAL: &str = "eval.json";
/// μ_x over a grid of a 2-d latent plane (`eval` on runs with --latent-dim 2).
pub const LATENT_GRID: &str = "latent-grid.png";
/// Ancestral samples x ~ p(x | z) of stage 1 (`vae-gpu sample --ancestral`'s default name).
pub const SAMPLES_ANCESTRAL: &str = "sample-ancestral.png";
/// `vae-gpu report RUN`'s page, by default.
pub const REPORT: &str = "report.html";

/// Everything `train` and `eval` write; `--force` removes exactly these, never other files.
pub const ALL: [&str; 10] = [
    CONFIG,
    METRICS,
    CHECKPOINT,
    SAMPLES,
    RECONSTRUCTIONS,
    STAGE2_CHECKPOINT,
    SAMPLES_TWO_STAGE,
    EVAL,
    LATENT_GRID,
    REPORT,
];

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Makes `dir` ready for a new run: created if missing; if it already holds a run, refused
/// unless `force`, which removes that run's files (and only those).
pub fn prepare_new(dir: &Path, force: bool) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::flag(
            "--out",
            format!("{} exists and is not a folder", dir.display()),
        ));
    }
    let existing: Vec<&str> = ALL
        .iter()
        .copied()
        .filter(|f| dir.join(f).exists())
        .collect();
    if !existing.is_empty() {
        if !force {
            return Err(Error::flag(
                "--out",
                format!(
                    "{} already holds a run ({}); pass --resume {0} to continue it or --force to replace it",
                    dir.display(),
                    existing.join(", ")
                ),
            ));
        }
        for f in existing {
            std::fs::remove_file(dir.join(f)).map_err(|e| Error::io(dir.join(f), e))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Keeps the metric rows of `stage` up to and including `step`, and every row of the other
/// stages (rows logged after the checkpoint a run resumes from would otherwise appear twice).
/// Rows without a stage are stage 1's.
pub fn truncate_metrics(dir: &Path, stage: u32, step: u64) -> Result<()> {
    let path = dir.join(METRICS);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut kept = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| Error::data(&path, format!("unreadable row: {e}")))?;
        let row_stage = row["stage"].as_u64().unwrap_or(1);
        if row_stage != stage as u64 || row["step"].as_u64().is_some_and(|s| s <= step) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    write_atomic(&path, kept.as_bytes())
}

/// Appends one line to metrics.jsonl.
pub fn append_metrics(dir: &Path, row: &serde_json::Value) -> Result<()> {
    let path = dir.join(METRICS);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    writeln!(f, "{row}").map_err(|e| Error::io(&path, e))
}
