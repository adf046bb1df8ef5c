//! The run directory: which files vae-gpu writes there, writing them atomically (`atomic`),
//! reading them back through their types, and refusing to overwrite a run by accident.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
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
pub const SAMPLES_ANCESTRAL: &str = "samples-ancestral.png";
/// `SAMPLES_ANCESTRAL` in runs written before the output names were one scheme (`report`
/// still shows it).
pub const SAMPLES_ANCESTRAL_FORMER: &str = "sample-ancestral.png";
/// `vae-gpu report RUN`'s page, by default.
pub const REPORT: &str = "report.html";
/// How the names of Markov-chain grids begin (`output_name("samples", ["markov-chain{K}", …])`).
pub const MARKOV_CHAIN_STEM: &str = "samples-markov-chain";
/// The Sequential VAE's samples after every step, a column a step (Zhao et al.'s Figure 4).
pub const SAMPLES_STEPS: &str = "samples-steps.png";
/// Written when training stopped on a NaN or infinity: the message (`vae-gpu runs` shows it).
pub const DIVERGED: &str = "diverged.txt";
/// Present while a `train` process works in the directory (its process id inside).
pub const TRAINING: &str = ".training";
/// `vae-gpu export`'s outputs: the trained weights alone, and the metrics as CSV.
pub const WEIGHTS: &str = "weights.safetensors";
pub const METRICS_CSV: &str = "metrics.csv";
/// The folder of the stage-1 sample grids drawn along training, one per `--sample-every`
/// steps (`step_grid`); samples.png is the latest.
pub const GRIDS: &str = "samples";

/// The earlier checkpoints `--keep-checkpoints K` keeps, as `NAME-step-N.safetensors`.
pub const KEPT: &str = "checkpoints";

/// Where a stage 2 goes when stage 1 trains on under it (`set_aside_stage2`), with what was
/// evaluated of the run as it was: `SET_ASIDE`/stage1-step-N, N stage 1's steps then.
pub const SET_ASIDE: &str = "set-aside";

/// A command's default output name: `stem`, then `-` and each qualifier, then `.ext`. Stems
/// are plural nouns as train's own files are (`samples`, `reconstructions`, `latents`); the
/// qualifiers name the draw (stage, mode, split) and every setting given away from its
/// default (`seed3`, `n16`), so two different draws never share a name and the same draw
/// always gets the same one, and no command's default overwrites a file train wrote.
pub fn output_name(stem: &str, qualifiers: &[String], ext: &str) -> String {
    let mut name = stem.to_string();
    for q in qualifiers {
        name.push('-');
        name.push_str(q);
    }
    format!("{name}.{ext}")
}

/// Where the sample grid drawn at `step` is kept.
pub fn step_grid(dir: &Path, step: u64) -> std::path::PathBuf {
    dir.join(GRIDS).join(format!("step-{step}.png"))
}

/// Everything `train` and `eval` write; `--force` removes exactly these (and the step grids),
/// never other files.
pub const ALL: [&str; 15] = [
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
    DIVERGED,
    TRAINING,
    WEIGHTS,
    METRICS_CSV,
    SAMPLES_STEPS,
];

/// Writes `bytes` to `path` atomically (`atomic::write`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Writes `value` to `path` as pretty-printed JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("run files serialise");
    write_atomic(path, format!("{text}\n").as_bytes())
}

/// Reads a JSON run file into its type; a file that is not JSON, or not this file's shape
/// (a key missing, a value of the wrong kind), is an error naming the file and the key.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "not valid JSON"
        } else {
            "not the file vae-gpu writes"
        };
        Error::data(path, format!("{what}: {e}"))
    })
}

/// serde_json writes a non-finite f64 as null; these read it back as NaN (a diverged run's
/// numbers stay readable, and print as NaN rather than failing the whole file).
pub fn null_is_nan<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// `null_is_nan` for each element of a list.
pub fn nulls_are_nan<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

/// `null_is_nan` for an optional value: absent stays None, present null is NaN.
pub fn null_is_nan_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<f64>, D::Error> {
    Ok(Some(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN)))
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
            // Only a run with a checkpoint can be resumed: say so rather than send the user
            // to a --resume that refuses.
            let how = if dir.join(CHECKPOINT).is_file() {
                format!(
                    "pass --resume {} to continue it or --force to replace it",
                    dir.display()
                )
            } else {
                "it has no checkpoint to resume from; pass --force to start it again".to_string()
            };
            return Err(Error::flag(
                "--out",
                format!(
                    "{} already holds a run ({}); {how}",
                    dir.display(),
                    existing.join(", ")
                ),
            ));
        }
        for f in existing {
            std::fs::remove_file(dir.join(f)).map_err(|e| Error::io(dir.join(f), e))?;
        }
        remove_kept(dir)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Moves the stage 2 trained on stage 1 at step `s1` — its checkpoint (the latest and the
/// kept ones), samples and metric rows — and what was evaluated of the run then (eval.json,
/// the latent grid, the report) to `SET_ASIDE`/stage1-step-`s1`, with a copy of config.json.
/// The checkpoint moves last, so a set-aside cut short is completed by the next resume.
/// Returns the folder.
pub fn set_aside_stage2(dir: &Path, s1: u64) -> Result<std::path::PathBuf> {
    let to = dir.join(SET_ASIDE).join(format!("stage1-step-{s1}"));
    std::fs::create_dir_all(&to).map_err(|e| Error::io(&to, e))?;
    let config = dir.join(CONFIG);
    std::fs::copy(&config, to.join(CONFIG)).map_err(|e| Error::io(&config, e))?;
    let lines = metric_lines(dir)?;
    if lines.iter().any(|(_, r)| r.stage != 1) {
        let (mut kept, mut moved) = (String::new(), String::new());
        for (line, row) in lines {
            let into = if row.stage == 1 {
                &mut kept
            } else {
                &mut moved
            };
            into.push_str(&line);
            into.push('\n');
        }
        write_atomic(&to.join(METRICS), moved.as_bytes())?;
        write_atomic(&dir.join(METRICS), kept.as_bytes())?;
    }
    let rename = |from: std::path::PathBuf, into: std::path::PathBuf| -> Result<()> {
        if from.exists() {
            std::fs::rename(&from, &into).map_err(|e| Error::io(&from, e))?;
        }
        Ok(())
    };
    for f in [SAMPLES_TWO_STAGE, EVAL, LATENT_GRID, REPORT] {
        rename(dir.join(f), to.join(f))?;
    }
    let stem = STAGE2_CHECKPOINT.trim_end_matches(".safetensors");
    if let Ok(entries) = std::fs::read_dir(dir.join(KEPT)) {
        std::fs::create_dir_all(to.join(KEPT)).map_err(|e| Error::io(&to, e))?;
        for e in entries.flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{stem}-step-"))
            {
                rename(e.path(), to.join(KEPT).join(e.file_name()))?;
            }
        }
        let _ = std::fs::remove_dir(to.join(KEPT));
    }
    rename(dir.join(STAGE2_CHECKPOINT), to.join(STAGE2_CHECKPOINT))?;
    Ok(to)
}

/// Removes what a run keeps by step — the grids (`GRIDS`/step-N.png) and the earlier
/// checkpoints (`KEPT`/NAME-step-N.safetensors) — and each folder if that leaves it empty
/// (other files there are the user's and stay), and the set-aside stages (`SET_ASIDE`).
fn remove_kept(dir: &Path) -> Result<()> {
    for (folder, ext) in [(GRIDS, ".png"), (KEPT, ".safetensors")] {
        let folder = dir.join(folder);
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for e in entries {
            let path = e.map_err(|e| Error::io(&folder, e))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.contains("step-") && n.ends_with(ext)) {
                std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        let _ = std::fs::remove_dir(&folder);
    }
    // Set-aside stages hold only files vae-gpu wrote.
    let aside = dir.join(SET_ASIDE);
    if aside.is_dir() {
        std::fs::remove_dir_all(&aside).map_err(|e| Error::io(&aside, e))?;
    }
    Ok(())
}

/// One line of metrics.jsonl: where in training it was logged, the model's metrics averaged
/// over the steps since the last row (named by the model: `Trainable::metrics` and its
/// readings, e.g. `loss`, `kl`, `mse`, `gamma`, GECO's `lambda`), the learning rate and the
/// throughput. Values are finite: a NaN stops the run before its row is written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    /// Rows written before two-stage runs existed have none: they are stage 1's.
    #[serde(default = "stage_one")]
    pub stage: u32,
    pub step: u64,
    pub epoch: u64,
    #[serde(flatten)]
    pub values: BTreeMap<String, f64>,
    pub lr: f32,
    /// Training examples per second over the steps since the last row (`images_per_second`
    /// in the oldest runs).
    #[serde(alias = "images_per_second")]
    pub examples_per_second: f64,
    /// Wall seconds this stage has trained up to the row, summed over resumes (rows written
    /// before it was recorded have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

fn stage_one() -> u32 {
    1
}

impl MetricsRow {
    /// The model's metric `name`, if the row has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }
}

/// (step, value) of metric `name` in the rows of `stage`.
pub fn series(rows: &[MetricsRow], stage: u32, name: &str) -> Vec<(u64, f64)> {
    rows.iter()
        .filter(|r| r.stage == stage)
        .filter_map(|r| Some((r.step, r.get(name)?)))
        .collect()
}

/// The lines of `dir`/metrics.jsonl, each with its row (none where the file is absent).
fn metric_lines(dir: &Path) -> Result<Vec<(String, MetricsRow)>> {
    let path = dir.join(METRICS);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let row = serde_json::from_str(line)
                .map_err(|e| Error::data(&path, format!("line {}: unreadable row: {e}", i + 1)))?;
            Ok((line.to_string(), row))
        })
        .collect()
}

/// Every row of `dir`/metrics.jsonl, in order (none where the file is absent).
pub fn read_metrics(dir: &Path) -> Result<Vec<MetricsRow>> {
    Ok(metric_lines(dir)?.into_iter().map(|(_, r)| r).collect())
}

/// Keeps the metric rows of `stage` up to and including `step`, and every row of the other
/// stages (rows logged after the checkpoint a run resumes from would otherwise appear twice).
/// The kept lines stay as they were written.
pub fn truncate_metrics(dir: &Path, stage: u32, step: u64) -> Result<()> {
    let lines = metric_lines(dir)?;
    if lines.is_empty() {
        return Ok(());
    }
    let mut kept = String::new();
    for (line, row) in lines {
        if row.stage != stage || row.step <= step {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    write_atomic(&dir.join(METRICS), kept.as_bytes())
}

/// Appends one row to metrics.jsonl.
pub fn append_metrics(dir: &Path, row: &MetricsRow) -> Result<()> {
    let path = dir.join(METRICS);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let line = serde_json::to_string(row).expect("a row serialises");
    writeln!(f, "{line}").map_err(|e| Error::io(&path, e))
}
