//! `vae-gpu reproduce RECIPE`: a paper's comparison as a plan of runs (recipe × seeds), each
//! in its own directory OUT/RUN/seed-S, trained and evaluated idempotently (a finished run is
//! skipped, an interrupted one resumed), sliceable into shards for a job array, and collected
//! into one table from whatever runs have an eval.json. This module plans and collects; the
//! command (`cli::reproduce`) trains and evaluates.

pub mod recipes;
pub mod table;

use crate::error::{Error, Result};
use crate::eval::document::Quantity;
use crate::pipelines::overrides::RunOverrides;
use crate::run_dir;
use serde::{Deserialize, Serialize};
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

/// One run of a recipe: its directory name and its settings (without the data, seed and
/// directory, which the plan adds).
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub name: String,
    pub overrides: RunOverrides,
    /// Steps of Zhao et al.'s Markov chain from noise to draw after training (`vae-gpu sample
    /// --markov-chain K --every 1`, 4 chains), beside the ancestral samples.
    pub markov_chain: Option<usize>,
}

/// A table cell: a number from a run's eval.json, the paper's figure, or nothing.
#[derive(Clone, Debug)]
pub enum Cell {
    Ours { run: String, quantity: Quantity },
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
    /// Every run's images resized to this side (absent in manifests written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
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
                        "{} holds a reproduction of {} on {} at budget {}{}; give the same recipe, --data, --budget, --limit and --image-size to continue it, or another --out",
                        out.display(),
                        old.recipe,
                        old.data,
                        old.budget.name(),
                        old.limit.map_or(String::new(), |l| format!(" (limit {l})"))
                            + &old.image_size.map_or(String::new(), |s| format!(" (image size {s})"))
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
    /// This run's settings: the recipe's, on the manifest's data, at this seed.
    pub fn overrides(&self, m: &Manifest) -> RunOverrides {
        let mut o = self.spec.overrides.clone();
        o.data = Some(m.data.clone());
        o.limit = m.limit;
        if m.image_size.is_some() {
            o.image_size = m.image_size;
        }
        o.seed = Some(self.seed);
        o
    }

    /// The `vae-gpu train` command that trains this run.
    pub fn command(&self, m: &Manifest) -> String {
        let mut words = vec!["vae-gpu".to_string(), "train".into()];
        words.extend(self.overrides(m).to_flags());
        words.extend(["--out".into(), self.dir.display().to_string()]);
        words.join(" ")
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
        let e = recipes::recipe("dai_wipff", "mnist", Budget::Quick)
            .unwrap_err()
            .to_string();
        assert!(e.contains("(did you mean dai-wipf?)"), "{e}");
        assert_eq!(Budget::parse("250").unwrap(), Budget::Steps(250));
        assert!(Budget::parse("0").is_err() && Budget::parse("fast").is_err());
    }
}
