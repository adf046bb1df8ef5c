//! `vae-gpu export`: a run's trained weights without the optimiser's state (an InfoGAN
//! checkpoint is two thirds Adam moments), and its metrics as CSV.

use crate::error::{Error, Result};
use crate::run_dir::{self, MetricsRow};
use crate::train::checkpoint;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The format a weights file names in its metadata.
pub const WEIGHTS_FORMAT: &str = "vae-gpu-weights/1";

/// Writes `out`: every tensor of the run's checkpoints but Adam's moments — stage 1's under
/// their names, stage 2's (on a two-stage run) under `stage2.NAME` — with the steps and seed
/// in the metadata. Returns the number of values written.
pub fn weights(dir: &Path, out: &Path) -> Result<usize> {
    let stage1 = dir.join(run_dir::CHECKPOINT);
    if !stage1.is_file() {
        return Err(Error::data(
            dir,
            format!(
                "has no {}: nothing trained to export (a recorded copy keeps only its metrics)",
                run_dir::CHECKPOINT
            ),
        ));
    }
    let mut tensors = Vec::new();
    let mut metadata = BTreeMap::from([("format".to_string(), WEIGHTS_FORMAT.to_string())]);
    for (file, prefix, step_key) in [
        (run_dir::CHECKPOINT, "", "step"),
        (run_dir::STAGE2_CHECKPOINT, "stage2.", "stage2_step"),
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            continue;
        }
        let st = checkpoint::read_safetensors(&path)?;
        for key in ["step", "seed"] {
            if let Some(v) = st.metadata.get(key) {
                let k = if key == "step" { step_key } else { key };
                metadata.insert(k.to_string(), v.clone());
            }
        }
        for (name, (shape, values)) in st.tensors {
            if !name.starts_with("optimizer.") {
                tensors.push((format!("{prefix}{name}"), shape, values));
            }
        }
    }
    let values = tensors.iter().map(|t| t.2.len()).sum();
    checkpoint::write_safetensors(out, &tensors, &metadata)?;
    Ok(values)
}

/// Writes the rows of metrics.jsonl to `out` as CSV: stage, step, epoch, every metric any
/// row has (sorted by name; empty where a row lacks it), lr, examples per second, and the
/// stage's training seconds.
pub fn metrics_csv(dir: &Path, out: &Path) -> Result<usize> {
    let rows: Vec<MetricsRow> = run_dir::read_metrics(dir)?;
    let names: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.values.keys().map(String::as_str))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::data(out, format!("writing CSV: {e}"));
    let mut header = vec!["stage", "step", "epoch"];
    header.extend(&names);
    header.extend(["lr", "examples_per_second", "seconds"]);
    w.write_record(&header).map_err(csv_err)?;
    for r in &rows {
        let mut record = vec![r.stage.to_string(), r.step.to_string(), r.epoch.to_string()];
        record.extend(
            names
                .iter()
                .map(|n| r.get(n).map_or(String::new(), |v| v.to_string())),
        );
        record.extend([
            r.lr.to_string(),
            r.examples_per_second.to_string(),
            r.seconds.map_or(String::new(), |s| s.to_string()),
        ]);
        w.write_record(&record).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::data(out, format!("writing CSV: {e}")))?;
    run_dir::write_atomic(out, &bytes)?;
    Ok(rows.len())
}
