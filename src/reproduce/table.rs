//! A recipe's table from whatever runs have an eval.json: table.json (each of our cells with
//! its values per seed, mean and standard deviation, beside the paper's figures) as one type,
//! and the same table as markdown.

use super::{seed_dirs, Cell, Manifest, Recipe};
use crate::error::Result;
use crate::eval::document::{self, EvalDoc};
use crate::run_dir;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    pub recipe: String,
    pub title: String,
    pub manifest: Manifest,
    pub columns: Vec<String>,
    pub rows: Vec<TableRow>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableRow {
    pub label: String,
    /// One per column; None where the recipe leaves the cell blank.
    pub cells: Vec<Option<TableCell>>,
    /// The cells as the markdown shows them.
    pub text: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TableCell {
    Ours(Measured),
    Paper { paper: String },
}

/// One of our numbers: which run and where in its eval.json, its value at each seed found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measured {
    pub run: String,
    pub pointer: String,
    pub seeds: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// The sample standard deviation over the seeds (0 for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
}

/// Reads a table.json.
pub fn read(path: &Path) -> Result<Table> {
    run_dir::read_json(path)
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
type Evaluated = Vec<(u64, EvalDoc)>;

/// The seeds found for each run of the recipe: every OUT/RUN/seed-S with an eval.json.
fn evaluated(recipe: &Recipe, out: &Path) -> Result<Vec<(String, Evaluated)>> {
    let mut found = Vec::new();
    for r in &recipe.runs {
        let mut seeds = Vec::new();
        for (seed, dir) in seed_dirs(out, &r.name)? {
            if dir.join(run_dir::EVAL).is_file() {
                seeds.push((seed, document::read(&dir)?));
            }
        }
        found.push((r.name.clone(), seeds));
    }
    Ok(found)
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

/// The recipe's table from the runs in `out`, and its markdown.
pub fn collect(recipe: &Recipe, m: &Manifest, out: &Path) -> Result<(Table, String)> {
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
                Cell::Ours { run, quantity } => {
                    let seeds = by_run(run).map(Vec::as_slice).unwrap_or(&[]);
                    let values: Vec<(u64, f64)> = seeds
                        .iter()
                        .filter_map(|(s, doc)| Some((*s, quantity.of(doc)?)))
                        .collect();
                    let xs: Vec<f64> = values.iter().map(|v| v.1).collect();
                    let mut cell = Measured {
                        run: run.clone(),
                        pointer: quantity.pointer(),
                        seeds: values.iter().map(|v| v.0).collect(),
                        values: xs.clone(),
                        mean: None,
                        std: None,
                    };
                    if xs.is_empty() {
                        texts.push("–".into());
                    } else {
                        let (mean, std) = mean_std(&xs);
                        texts.push(if xs.len() > 1 {
                            format!("{} ± {} (n = {})", fmt(mean), fmt(std), xs.len())
                        } else {
                            fmt(mean)
                        });
                        (cell.mean, cell.std) = (Some(mean), Some(std));
                    }
                    cells.push(Some(TableCell::Ours(cell)));
                }
                Cell::Paper(t) => {
                    texts.push(t.clone());
                    cells.push(Some(TableCell::Paper { paper: t.clone() }));
                }
                Cell::Blank => {
                    texts.push(String::new());
                    cells.push(None);
                }
            }
        }
        md += &format!("| {} | {} |\n", row.label, texts.join(" | "));
        rows.push(TableRow {
            label: row.label.clone(),
            cells,
            text: texts,
        });
    }
    md += "\n";
    for n in &recipe.notes {
        md += &format!("{n}\n\n");
    }
    let table = Table {
        recipe: recipe.name.clone(),
        title: recipe.title.clone(),
        manifest: m.clone(),
        columns: recipe.columns.clone(),
        rows,
        notes: recipe.notes.clone(),
    };
    Ok((table, md))
}

#[cfg(test)]
mod tests {
    use super::super::{recipes, Budget};
    use super::*;

    #[test]
    fn mean_and_std_of_known_values() {
        assert_eq!(mean_std(&[2.0]), (2.0, 0.0));
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
    }

    /// A recorded eval.json with its Fréchet distances set to known values.
    fn eval_doc(fd1: f64, fd2: Option<f64>) -> EvalDoc {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runs/fashion-mnist-two-stage");
        let mut doc = document::read(&dir).unwrap();
        match &mut doc.frechet {
            document::Frechet::Measured(f) => {
                f.stage1_samples = fd1;
                f.two_stage_samples = fd2;
            }
            document::Frechet::Skipped { .. } => panic!("the recorded run has its distances"),
        }
        doc
    }

    #[test]
    fn the_table_takes_each_cell_from_its_runs_and_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let r = recipes::recipe("dai-wipf", "fashion-mnist", Budget::Steps(10)).unwrap();
        let m = Manifest {
            recipe: r.name.clone(),
            data: "fashion-mnist".into(),
            budget: Budget::Steps(10),
            limit: None,
            image_size: None,
        };
        // Two seeds of the two-stage run, one of fixed γ, none of cross-entropy.
        for (run, seed, fd1, fd2) in [
            ("two-stage", 1, 0.2, Some(0.1)),
            ("two-stage", 2, 0.4, Some(0.3)),
            ("fixed-gamma", 1, 0.5, None),
        ] {
            let d = dir.path().join(run).join(format!("seed-{seed}"));
            std::fs::create_dir_all(&d).unwrap();
            run_dir::write_json(&d.join(run_dir::EVAL), &eval_doc(fd1, fd2)).unwrap();
        }
        let (table, md) = collect(&r, &m, dir.path()).unwrap();
        let cell = |row: usize, col: usize| match &table.rows[row].cells[col] {
            Some(TableCell::Ours(c)) => c.clone(),
            other => panic!("row {row}: {other:?}"),
        };
        assert!(cell(0, 0).seeds.is_empty(), "no cross-entropy run");
        assert_eq!(cell(1, 0).mean, Some(0.5));
        assert!((cell(2, 0).mean.unwrap() - 0.3).abs() < 1e-12);
        assert!((cell(2, 0).std.unwrap() - 0.02f64.sqrt()).abs() < 1e-12);
        assert!((cell(3, 0).mean.unwrap() - 0.2).abs() < 1e-12);
        assert!(
            matches!(&table.rows[3].cells[1], Some(TableCell::Paper { paper }) if paper == "29.3")
        );
        assert!(
            md.contains("| 2-Stage VAE | 0.200 ± 0.141 (n = 2) | 29.3 |"),
            "{md}"
        );
        // What is written reads back as the same table.
        let path = dir.path().join("table.json");
        run_dir::write_json(&path, &table).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.rows.len(), table.rows.len());
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&table).unwrap()
        );
    }

    /// Every cell a recipe shows points at a value eval.json holds: its pointer, read from a
    /// recorded two-stage run's file, gives what the typed document gives.
    #[test]
    fn each_quantity_reads_what_its_pointer_names() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runs/fashion-mnist-two-stage");
        let doc = document::read(&dir).unwrap();
        let raw = serde_json::to_value(&doc).unwrap();
        for q in document::Quantity::ALL {
            let by_pointer = raw
                .pointer(&q.pointer())
                .and_then(serde_json::Value::as_f64);
            if q == document::Quantity::GecoLambda || q.sequential() {
                assert_eq!(by_pointer, None, "not a GECO or sequential run");
            } else {
                assert!(by_pointer.is_some(), "{q:?}");
            }
            assert_eq!(q.of(&doc), by_pointer, "{q:?}");
        }
    }
}
