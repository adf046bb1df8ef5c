//! `vae-gpu reproduce RECIPE`: a paper's comparison as a plan of runs (recipe × seeds), each
//! in its own directory OUT/RUN/seed-S, trained and evaluated idempotently (a finished run is
//! skipped, an interrupted one resumed), sliceable into shards for a job array, and collected
//! into one table from whatever runs have an eval.json. This module plans and collects; the
//! command (`cli::reproduce`) trains and evaluates.

pub mod recipes;

use crate::error::{Error, Result};
use crate::run_dir;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// How long each run trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Budget {
    /// What a 2-core CPU rasteriser finishes: the MLP, 600 (+ 400) steps.
    Quick,
    /// The reference implementation's networks and epochs.
    Paper,
    /// The MLP for this many steps per stage.
    Steps(usize),
}

impl Budget {
    pub fn parse(s: &str) -> Result<Budget> {
        match s {
            "quick" => Ok(Budget::Quick),
            "paper" => Ok(Budget::Paper),
            _ => match s.parse::<usize>() {
                Ok(n) if n > 0 => Ok(Budget::Steps(n)),
                _ => Err(Error::flag(
                    "--budget",
                    format!("'{s}' is not quick, paper or a positive number of steps"),
                )),
            },
        }
    }

    pub fn name(self) -> String {
        match self {
            Budget::Quick => "quick".into(),
            Budget::Paper => "paper".into(),
            Budget::Steps(n) => format!("{n} steps"),
        }
    }
}

/// One run of a recipe: its directory name and its `vae-gpu train` flags (without --data,
/// --seed and --out, which the plan adds).
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub name: String,
    pub flags: Vec<String>,
}

/// A table cell: a number from a run's eval.json (by JSON pointer), the paper's figure, or
/// nothing.
#[derive(Clone, Debug)]
pub enum Cell {
    Ours { run: String, pointer: String },
    Paper(String),
    Blank,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub label: String,
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug)]
pub struct Recipe {
    pub name: String,
    pub title: String,
    pub runs: Vec<RunSpec>,
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// Also draw each run's ancestral samples x ~ p(x | z) beside the deterministic μ_x(z)
    /// (`run_dir::SAMPLES_ANCESTRAL`).
    pub ancestral: bool,
}

/// What a reproduction directory was made with: a later call into the same directory must
/// ask for the same (seeds may grow).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub recipe: String,
    pub data: String,
    pub budget: Budget,
    pub limit: Option<usize>,
}

pub const MANIFEST: &str = "reproduce.json";
pub const TABLE_MD: &str = "table.md";
pub const TABLE_JSON: &str = "table.json";
/// The feature classifier of the Fréchet distances, shared by the reproduction's runs.
pub const CLASSIFIER: &str = "classifier";

impl Manifest {
    /// Records the manifest in `out`, or checks it against the one already there. Nothing is
    /// written when they differ.
    pub fn claim(&self, out: &Path) -> Result<()> {
        let path = out.join(MANIFEST);
        if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let old: Manifest = serde_json::from_str(&text)
                .map_err(|e| Error::data(&path, format!("not a reproduction manifest: {e}")))?;
            if old != *self {
                return Err(Error::flag(
                    "--out",
                    format!(
                        "{} holds a reproduction of {} on {} at budget {}{}; give the same recipe, --data, --budget and --limit to continue it, or another --out",
                        out.display(),
                        old.recipe,
                        old.data,
                        old.budget.name(),
                        old.limit.map_or(String::new(), |l| format!(" (limit {l})"))
                    ),
                ));
            }
            return Ok(());
        }
        if out.exists() && !out.is_dir() {
            return Err(Error::flag(
                "--out",
                format!("{} exists and is not a folder", out.display()),
            ));
        }
        if out.is_dir()
            && std::fs::read_dir(out)
                .map_err(|e| Error::io(out, e))?
                .next()
                .is_some()
        {
            return Err(Error::flag(
                "--out",
                format!(
                    "{} is a folder with other files and no {MANIFEST}: give an empty or new folder",
                    out.display()
                ),
            ));
        }
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        run_dir::write_atomic(
            &path,
            format!("{:#}\n", serde_json::to_value(self).expect("serialises")).as_bytes(),
        )
    }

    /// Reads the manifest of the reproduction in `out`.
    pub fn read(out: &Path) -> Result<Manifest> {
        let path = out.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|_| {
            Error::flag(
                "--out",
                format!("{} holds no reproduction (no {MANIFEST})", out.display()),
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::data(&path, format!("not a reproduction manifest: {e}")))
    }
}

/// One planned run: a recipe run at one seed.
#[derive(Clone, Debug)]
pub struct Planned {
    pub spec: RunSpec,
    pub seed: u64,
    pub dir: PathBuf,
}

impl Planned {
    /// The complete `vae-gpu train` arguments of this run.
    pub fn train_args(&self, m: &Manifest) -> Vec<String> {
        let mut a = vec!["--data".to_string(), m.data.clone()];
        if let Some(l) = m.limit {
            a.extend(["--limit".into(), l.to_string()]);
        }
        a.extend(self.spec.flags.iter().cloned());
        a.extend(["--seed".into(), self.seed.to_string()]);
        a.extend(["--out".into(), self.dir.display().to_string()]);
        a
    }
}

/// A slice of a plan: the i-th (1-based) of n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::flag(
                "--shard",
                format!("'{s}' is not I/N with 1 ≤ I ≤ N (the I-th of N slices of the runs)"),
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Every run of `recipe` at seeds 1..=seeds, in a fixed order (seed-major, so the first
/// seed's table fills first), or the shard's slice of it: the runs whose position p has
/// p mod n = i − 1.
pub fn plan(recipe: &Recipe, seeds: u64, out: &Path, shard: Option<Shard>) -> Vec<Planned> {
    let all = (1..=seeds).flat_map(|seed| {
        recipe.runs.iter().map(move |r| Planned {
            spec: r.clone(),
            seed,
            dir: out.join(&r.name).join(format!("seed-{seed}")),
        })
    });
    all.enumerate()
        .filter(|(p, _)| shard.is_none_or(|s| p % s.count == s.index - 1))
        .map(|(_, r)| r)
        .collect()
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// A run's eval.json documents, by seed.
type Evaluated = Vec<(u64, Value)>;

/// The seeds found for each run of the recipe: every OUT/RUN/seed-S with an eval.json.
fn evaluated(recipe: &Recipe, out: &Path) -> Result<Vec<(String, Evaluated)>> {
    let mut found = Vec::new();
    for r in &recipe.runs {
        let mut seeds = Vec::new();
        for (seed, dir) in seed_dirs(out, &r.name)? {
            let path = dir.join(run_dir::EVAL);
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let doc: Value = serde_json::from_str(&text)
                    .map_err(|e| Error::data(&path, format!("not valid JSON: {e}")))?;
                seeds.push((seed, doc));
            }
        }
        found.push((r.name.clone(), seeds));
    }
    Ok(found)
}

/// The folders OUT/RUN/seed-S that exist for the run named `run`, seeds ascending.
pub fn seed_dirs(out: &Path, run: &str) -> Result<Vec<(u64, PathBuf)>> {
    let parent = out.join(run);
    let mut seeds = Vec::new();
    if !parent.is_dir() {
        return Ok(seeds);
    }
    for e in std::fs::read_dir(&parent).map_err(|e| Error::io(&parent, e))? {
        let path = e.map_err(|e| Error::io(&parent, e))?.path();
        let seed = path
            .file_name()
            .and_then(|n| n.to_str()?.strip_prefix("seed-")?.parse::<u64>().ok());
        if let (Some(seed), true) = (seed, path.is_dir()) {
            seeds.push((seed, path));
        }
    }
    seeds.sort();
    Ok(seeds)
}

/// A number for the table: 3 significant digits, scientific when small.
fn fmt(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e5 {
        format!("{x:.0}")
    } else if x != 0.0 && (x.abs() < 1e-2 || x.abs() >= 1e5) {
        format!("{x:.2e}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// The recipe's table from the runs in `out`: table.json's document (each of our cells with
/// its values per seed, mean and std) and the markdown.
pub fn collect(recipe: &Recipe, m: &Manifest, out: &Path) -> Result<(Value, String)> {
    let found = evaluated(recipe, out)?;
    let by_run = |name: &str| found.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let mut rows = Vec::new();
    let mut md = format!(
        "# {}\n\nvae-gpu {} · recipe `{}` · data `{}` · budget {}{} · runs with an eval.json: {}\n\n| | {} |\n|{}\n",
        recipe.title,
        env!("CARGO_PKG_VERSION"),
        recipe.name,
        m.data,
        m.budget.name(),
        m.limit.map_or(String::new(), |l| format!(" · first {l} images")),
        found
            .iter()
            .map(|(n, s)| format!("{n} ×{}", s.len()))
            .collect::<Vec<_>>()
            .join(", "),
        recipe.columns.join(" | "),
        " --- |".repeat(recipe.columns.len() + 1),
    );
    for row in &recipe.rows {
        let mut cells = Vec::new();
        let mut texts = Vec::new();
        for c in &row.cells {
            match c {
                Cell::Ours { run, pointer } => {
                    let seeds = by_run(run).map(Vec::as_slice).unwrap_or(&[]);
                    let values: Vec<(u64, f64)> = seeds
                        .iter()
                        .filter_map(|(s, doc)| Some((*s, doc.pointer(pointer)?.as_f64()?)))
                        .collect();
                    let xs: Vec<f64> = values.iter().map(|v| v.1).collect();
                    if xs.is_empty() {
                        texts.push("–".into());
                        cells.push(json!({ "run": run, "pointer": pointer, "seeds": [] }));
                    } else {
                        let (mean, std) = mean_std(&xs);
                        texts.push(if xs.len() > 1 {
                            format!("{} ± {} (n = {})", fmt(mean), fmt(std), xs.len())
                        } else {
                            fmt(mean)
                        });
                        cells.push(json!({
                            "run": run,
                            "pointer": pointer,
                            "seeds": values.iter().map(|v| v.0).collect::<Vec<_>>(),
                            "values": xs,
                            "mean": mean,
                            "std": std,
                        }));
                    }
                }
                Cell::Paper(t) => {
                    texts.push(t.clone());
                    cells.push(json!({ "paper": t }));
                }
                Cell::Blank => {
                    texts.push(String::new());
                    cells.push(Value::Null);
                }
            }
        }
        md += &format!("| {} | {} |\n", row.label, texts.join(" | "));
        rows.push(json!({ "label": row.label, "cells": cells, "text": texts }));
    }
    md += "\n";
    for n in &recipe.notes {
        md += &format!("{n}\n\n");
    }
    let doc = json!({
        "recipe": recipe.name,
        "title": recipe.title,
        "manifest": m,
        "columns": recipe.columns,
        "rows": rows,
        "notes": recipe.notes,
    });
    Ok((doc, md))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe() -> Recipe {
        recipes::recipe("dai-wipf", "fashion-mnist", Budget::Steps(10)).unwrap()
    }

    #[test]
    fn shards_partition_the_plan() {
        let r = recipe();
        let all = plan(&r, 3, Path::new("o"), None);
        assert_eq!(all.len(), 3 * r.runs.len());
        let mut seen: Vec<PathBuf> = (1..=4)
            .flat_map(|i| plan(&r, 3, Path::new("o"), Some(Shard { index: i, count: 4 })))
            .map(|p| p.dir)
            .collect();
        seen.sort();
        let mut want: Vec<PathBuf> = all.into_iter().map(|p| p.dir).collect();
        want.sort();
        assert_eq!(seen, want, "every run in exactly one shard");
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mean_and_std_of_known_values() {
        assert_eq!(mean_std(&[2.0]), (2.0, 0.0));
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn the_table_takes_each_cell_from_its_runs_and_seeds() {
        let dir = std::env::temp_dir().join(format!("vae-gpu-collect-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let r = recipe();
        let m = Manifest {
            recipe: r.name.clone(),
            data: "fashion-mnist".into(),
            budget: Budget::Steps(10),
            limit: None,
        };
        // Two seeds of the two-stage run, one of fixed γ, none of cross-entropy.
        for (run, seed, fd1, fd2) in [
            ("two-stage", 1, 0.2, 0.1),
            ("two-stage", 2, 0.4, 0.3),
            ("fixed-gamma", 1, 0.5, 0.0),
        ] {
            let d = dir.join(run).join(format!("seed-{seed}"));
            std::fs::create_dir_all(&d).unwrap();
            let doc = json!({ "frechet": { "stage1_samples": fd1, "two_stage_samples": fd2 } });
            std::fs::write(d.join(run_dir::EVAL), doc.to_string()).unwrap();
        }
        let (doc, md) = collect(&r, &m, &dir).unwrap();
        let rows = doc["rows"].as_array().unwrap();
        let cell = |row: usize| &rows[row]["cells"][0];
        assert_eq!(cell(0)["seeds"], json!([]), "no cross-entropy run");
        assert_eq!(cell(1)["mean"], json!(0.5));
        assert!((cell(2)["mean"].as_f64().unwrap() - 0.3).abs() < 1e-12);
        assert!((cell(2)["std"].as_f64().unwrap() - 0.02f64.sqrt()).abs() < 1e-12);
        assert!((cell(3)["mean"].as_f64().unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(rows[3]["cells"][1]["paper"], json!("29.3"));
        assert!(
            md.contains("| 2-Stage VAE | 0.200 ± 0.141 (n = 2) | 29.3 |"),
            "{md}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn recipes_refuse_unknown_names_and_data_they_cannot_use() {
        let e = recipes::recipe("kingma", "mnist", Budget::Quick)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'kingma' is not a recipe") && e.contains("dai-wipf"),
            "{e}"
        );
        let e = recipes::recipe("dai-wipf", "shapes", Budget::Quick)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--data") && e.contains("labelled"), "{e}");
        assert!(recipes::recipe("zhao", "shapes", Budget::Quick).is_ok());
        assert_eq!(Budget::parse("250").unwrap(), Budget::Steps(250));
        assert!(Budget::parse("0").is_err() && Budget::parse("fast").is_err());
    }
}
