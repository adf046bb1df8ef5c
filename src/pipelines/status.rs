//! Where a run directory stands, from its files alone: the settings, the checkpoints' steps,
//! the last metrics row, whether it is evaluated, and how it ended (`vae-gpu runs`).

use super::checkpoint_steps;
use super::config_file;
use crate::error::{Error, Result};
use crate::run_dir::{self, MetricsRow};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How a run ended, or that it has not.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum State {
    /// Every stage has all of its steps.
    Finished,
    /// The metrics reach every stage's end but the checkpoints are gone: a run kept for its
    /// record (as under docs/runs); `report` reads it, `sample` and `eval` cannot.
    Recorded,
    /// Training stopped on a NaN or infinity: the message it stopped with.
    Diverged(String),
    /// A `train` process marked the directory and its files changed within `RECENT` (a
    /// process killed outright leaves the mark; the quiet files then say it stopped).
    InProgress,
    /// Unfinished and quiet: stopped by Ctrl-C or a crash; `train --resume` continues it.
    Stopped,
    /// No checkpoint yet.
    NotStarted,
}

/// A marked run whose metrics or checkpoint changed this recently counts as in progress: a
/// logged row or a checkpoint comes at least this often at the default settings' pace (a
/// checkpoint every 5 minutes).
const RECENT: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, Debug, Serialize)]
pub struct RunStatus {
    pub dir: PathBuf,
    #[serde(flatten)]
    pub state: State,
    /// (steps done, steps in all) of stage 1, and of stage 2 on a two-stage run.
    pub stage1: (u64, u64),
    pub stage2: Option<(u64, u64)>,
    pub last: Option<MetricsRow>,
    pub evaluated: bool,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

/// The status of the run in `dir`.
pub fn status(dir: &Path) -> Result<RunStatus> {
    let config = config_file::read(dir)?;
    let rows = run_dir::read_metrics(dir)?;
    // Steps done: the checkpoint's, or where a run without one got to by its metrics.
    let logged = |stage: u32| {
        rows.iter()
            .filter(|r| r.stage == stage)
            .map(|r| r.step)
            .max()
    };
    let s1 = checkpoint_steps(&dir.join(run_dir::CHECKPOINT))?;
    let s2 = checkpoint_steps(&dir.join(run_dir::STAGE2_CHECKPOINT))?;
    let stage1 = (s1.or(logged(1)).unwrap_or(0), config.total_steps);
    let stage2 = config
        .stage2_total_steps
        .map(|t| (s2.or(logged(2)).unwrap_or(0), t));
    let finished = stage1.0 >= stage1.1 && stage2.is_none_or(|(d, t)| d >= t);
    let marker = dir.join(run_dir::DIVERGED);
    let recent = [
        run_dir::TRAINING,
        run_dir::METRICS,
        run_dir::CHECKPOINT,
        run_dir::STAGE2_CHECKPOINT,
    ]
    .iter()
    .filter_map(|f| modified(&dir.join(f)))
    .any(|t| t.elapsed().is_ok_and(|e| e < RECENT));
    let state = if marker.is_file() {
        let text = std::fs::read_to_string(&marker).map_err(|e| Error::io(&marker, e))?;
        State::Diverged(text.trim().to_string())
    } else if finished && s1.is_some() {
        State::Finished
    } else if finished {
        State::Recorded
    } else if recent && dir.join(run_dir::TRAINING).is_file() {
        State::InProgress
    } else if stage1.0 == 0 {
        State::NotStarted
    } else {
        State::Stopped
    };
    Ok(RunStatus {
        dir: dir.to_path_buf(),
        state,
        stage1,
        stage2,
        last: rows.last().cloned(),
        evaluated: dir.join(run_dir::EVAL).is_file(),
    })
}

/// Every run directory at or under `root` (a folder holding config.json), sorted; the search
/// does not go into a run directory or deeper than `depth` folders.
pub fn find(root: &Path, depth: usize) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if root.join(run_dir::CONFIG).is_file() {
        out.push(root.to_path_buf());
        return Ok(out);
    }
    if depth == 0 {
        return Ok(out);
    }
    for e in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let path = e.map_err(|e| Error::io(root, e))?.path();
        if path.is_dir() {
            out.extend(find(&path, depth - 1)?);
        }
    }
    out.sort();
    Ok(out)
}
