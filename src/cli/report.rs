//! `vae-gpu report RUN...`: the HTML page of one or more runs; runs without eval.json are
//! evaluated first (eval's defaults), unless --no-eval.

use clap::Args;
use std::path::PathBuf;
use vae_gpu::eval::evaluate::{evaluate, Options};
use vae_gpu::report::{self, Extra, RunFiles};
use vae_gpu::run_dir;
use vae_gpu::{Gpu, Result, Selection};

#[derive(Args)]
pub struct ReportArgs {
    /// Run directories written by `vae-gpu train` (one or more)
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// The HTML file [default: RUN/report.html for one run, report.html for several]
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Do not evaluate runs that have no eval.json: the page says their diagnostics are
    /// missing
    #[arg(long)]
    no_eval: bool,
}

pub fn run(sel: &Selection, a: ReportArgs) -> Result<i32> {
    // Every directory is checked before anything is evaluated or written.
    for d in &a.runs {
        RunFiles::read(d)?;
    }
    if let Some(out) = &a.out {
        super::out::prepare("--out", out, "html")?;
    }
    let missing: Vec<&PathBuf> = a
        .runs
        .iter()
        .filter(|d| !d.join(run_dir::EVAL).is_file())
        .collect();
    if !missing.is_empty() && !a.no_eval {
        let gpu = Gpu::new(sel)?;
        for d in missing {
            eprintln!(
                "report: {} has no {}; evaluating it first (as `vae-gpu eval {0}` does)",
                d.display(),
                run_dir::EVAL
            );
            evaluate(&gpu, d, &Options::DEFAULT)?;
        }
    }
    let out = a.out.clone().unwrap_or_else(|| match a.runs.as_slice() {
        [one] => one.join(run_dir::REPORT),
        _ => PathBuf::from(run_dir::REPORT),
    });
    report::write(&a.runs, &Extra::default(), &out)?;
    println!("{}", out.display());
    Ok(0)
}
