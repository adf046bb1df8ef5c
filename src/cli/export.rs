//! `vae-gpu export RUN`: the trained weights without the optimiser's state, and the metrics
//! as CSV, for other tools.

use clap::Args;
use std::path::PathBuf;
use vae_gpu::pipelines::{config_file, export};
use vae_gpu::run_dir;
use vae_gpu::Result;

#[derive(Args)]
pub struct ExportArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Write the weights (every stage's parameters and batch-norm averages, no Adam moments)
    /// as safetensors [default file: RUN/weights.safetensors] (also `--weights-only`)
    #[arg(long, visible_alias = "weights-only", num_args = 0..=1, default_missing_value = "")]
    weights: Option<PathBuf>,
    /// Write metrics.jsonl as CSV [default file: RUN/metrics.csv]
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    csv: Option<PathBuf>,
}

pub fn run(a: ExportArgs) -> Result<i32> {
    config_file::read(&a.run)?;
    // Neither flag: both files, at their default names.
    let both = a.weights.is_none() && a.csv.is_none();
    let target = |flag: &'static str,
                  given: &Option<PathBuf>,
                  default: &str,
                  ext: &str|
     -> Result<Option<PathBuf>> {
        match given {
            Some(p) if !p.as_os_str().is_empty() => {
                super::out::prepare(flag, p, ext)?;
                Ok(Some(p.clone()))
            }
            Some(_) => Ok(Some(a.run.join(default))),
            None if both => Ok(Some(a.run.join(default))),
            None => Ok(None),
        }
    };
    let weights = target("--weights", &a.weights, run_dir::WEIGHTS, "safetensors")?;
    let csv = target("--csv", &a.csv, run_dir::METRICS_CSV, "csv")?;
    if let Some(out) = weights {
        let n = export::weights(&a.run, &out)?;
        eprintln!("wrote {n} trained values");
        println!("{}", out.display());
    }
    if let Some(out) = csv {
        let n = export::metrics_csv(&a.run, &out)?;
        eprintln!("wrote {n} metrics rows");
        println!("{}", out.display());
    }
    Ok(0)
}
