//! The `vae-gpu` command line.

mod bench;
mod check;
mod classifier;
mod eval;
mod export;
mod info;
mod interrupt;
mod latents;
mod out;
#[cfg(test)]
mod readme;
mod report;
mod reproduce;
mod runs;
mod train;

use clap::{CommandFactory, Parser, Subcommand};
use vae_gpu::{Result, Selection};

#[derive(Parser)]
#[command(
    name = "vae-gpu",
    version,
    about = "Variational autoencoders on any wgpu adapter, with hand-written WGSL kernels"
)]
pub struct Cli {
    /// Backend(s) to use: vulkan, gl, metal, dx12 (comma list).
    #[arg(long, global = true, env = "WGPU_BACKEND")]
    backend: Option<String>,
    /// The adapter: its number in `vae-gpu info`'s list, or the first whose name contains
    /// this (case-insensitive).
    #[arg(long, global = true, env = "WGPU_ADAPTER_NAME")]
    adapter: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a two-stage VAE (with no arguments: the built-in `shapes` data, a few minutes on
    /// a CPU).
    Train(Box<train::TrainArgs>),
    /// Draw images from a trained run's prior into a PNG grid.
    Sample(train::SampleArgs),
    /// Encode and decode a run's images into a PNG grid of originals and reconstructions.
    Reconstruct(train::ReconstructArgs),
    /// Every image's posterior μ_z, σ_z (stage 1's encoder) into a safetensors file.
    Encode(latents::EncodeArgs),
    /// Decode the straight line between two images' codes into a PNG row.
    Interpolate(latents::InterpolateArgs),
    /// The papers' diagnostics on a trained run (test split): loss terms, γ, active latent
    /// dimensions, latent spectra, MMD to N(0, I), log-likelihood; written to RUN/eval.json.
    Eval(eval::EvalArgs),
    /// One self-contained HTML page of one or more runs: training curves, the information
    /// plane, encoder variances, spectra, the MMD and Fréchet table, the grids, the settings.
    Report(report::ReportArgs),
    /// A run's trained weights without the optimiser's state (safetensors), and its metrics
    /// as CSV.
    Export(export::ExportArgs),
    /// Every run under a folder (default: runs) with its status, steps, last metrics and
    /// whether it is evaluated.
    Runs(runs::RunsArgs),
    /// A paper's comparison in one command: trains and evaluates the recipe's runs (resuming
    /// any that were interrupted), then writes table.md, table.json and report.html.
    Reproduce(reproduce::ReproduceArgs),
    /// Train the classifier of a labelled dataset whose features `eval`'s Fréchet distances
    /// use (eval trains it on first need; cached in classifiers/DATA).
    TrainClassifier(classifier::ClassifierArgs),
    /// List every adapter, and the chosen one's limits and features.
    Info {
        #[arg(long)]
        json: bool,
    },
    /// Run the kernel conformance suite on the chosen adapter; non-zero exit on any mismatch.
    Check {
        #[arg(long)]
        json: bool,
        /// Include the large shapes (slower on software adapters).
        #[arg(long)]
        full: bool,
        /// Only cases whose family or label contains this (case-insensitive).
        #[arg(long)]
        filter: Option<String>,
        /// List the families and their cases, and run nothing.
        #[arg(long, conflicts_with_all = ["json", "filter"])]
        list: bool,
    },
    /// Benchmark every kernel (GFLOP/s, GB/s, fraction of peak) or, with `bench train`, whole
    /// training steps of stage 1 and stage 2; each against the CPU matmul of the same run.
    Bench(bench::BenchArgs),
    /// Print the shell's completion script (e.g. `vae-gpu completions bash >
    /// ~/.local/share/bash-completion/completions/vae-gpu`).
    Completions {
        #[arg(value_enum, ignore_case = true)]
        shell: clap_complete::Shell,
    },
}

pub fn run() -> Result<i32> {
    let cli = Cli::parse();
    let sel = Selection {
        backend: cli.backend.filter(|s| !s.trim().is_empty()),
        adapter: cli.adapter.filter(|s| !s.trim().is_empty()),
    };
    match cli.command {
        Command::Train(a) => train::run(&sel, *a),
        Command::Sample(a) => train::sample(&sel, a),
        Command::Reconstruct(a) => train::reconstruct(&sel, a),
        Command::Eval(a) => eval::run(&sel, a),
        Command::Encode(a) => latents::encode(&sel, a),
        Command::Interpolate(a) => latents::interpolate(&sel, a),
        Command::Report(a) => report::run(&sel, a),
        Command::Reproduce(a) => reproduce::run(&sel, a),
        Command::Runs(a) => runs::run(a),
        Command::Export(a) => export::run(a),
        Command::TrainClassifier(a) => classifier::run(&sel, a),
        Command::Info { json } => info::run(&sel, json),
        Command::Check {
            list: true, full, ..
        } => check::list(full),
        Command::Check {
            json, full, filter, ..
        } => check::run(&sel, json, full, filter.as_deref()),
        Command::Bench(a) => bench::run(&sel, a),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "vae-gpu",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}
