//! `vae-gpu runs [DIR]`: every run under DIR with how it stands (finished, in progress,
//! stopped, diverged, not started), its steps, its last metrics and whether it is evaluated.

use clap::Args;
use std::path::PathBuf;
use vae_gpu::pipelines::status::{self, State};
use vae_gpu::text::number;
use vae_gpu::{Error, Result};

#[derive(Args)]
pub struct RunsArgs {
    /// A folder of runs (searched 3 folders deep), or one run directory
    #[arg(default_value = "runs")]
    dir: PathBuf,
    /// One JSON object per run instead of the table
    #[arg(long)]
    json: bool,
}

fn state_name(s: &State) -> &'static str {
    match s {
        State::Finished => "finished",
        State::Recorded => "recorded",
        State::Diverged(_) => "diverged",
        State::InProgress => "in progress",
        State::Stopped => "stopped",
        State::NotStarted => "not started",
    }
}

pub fn run(a: RunsArgs) -> Result<i32> {
    if !a.dir.is_dir() {
        return Err(Error::data(
            &a.dir,
            "no such folder (give the folder your runs are in, e.g. `vae-gpu runs runs`)",
        ));
    }
    let dirs = status::find(&a.dir, 3)?;
    let all = dirs
        .iter()
        .map(|d| status::status(d))
        .collect::<Result<Vec<_>>>()?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&all).expect("statuses serialise")
        );
        return Ok(0);
    }
    if all.is_empty() {
        eprintln!("no run directories under {}", a.dir.display());
        return Ok(0);
    }
    if all.iter().any(|s| s.state == State::Recorded) {
        eprintln!("recorded: finished, with the checkpoints removed (report reads it; sample and eval need a checkpoint)");
    }
    println!(
        "{:<12} {:<24} {:>10} {:>10} {:<5} run",
        "status", "steps (stage 1 + 2)", "loss", "mse", "eval"
    );
    for s in &all {
        let steps = format!(
            "{}/{}{}",
            s.stage1.0,
            s.stage1.1,
            s.stage2
                .map_or(String::new(), |(d, t)| format!(" + {d}/{t}"))
        );
        let metric = |k: &str| {
            s.last
                .as_ref()
                .and_then(|r| r.get(k))
                .map_or("–".into(), number)
        };
        println!(
            "{:<12} {:<24} {:>10} {:>10} {:<5} {}",
            state_name(&s.state),
            steps,
            metric("loss"),
            metric("mse"),
            if s.evaluated { "yes" } else { "no" },
            s.dir.display()
        );
        if let State::Diverged(why) = &s.state {
            println!("{:<12} {why}", "");
        }
    }
    Ok(0)
}
