//! `vae-gpu train-classifier`: the feature classifier of a labelled dataset, for `eval`'s
//! Fréchet distances (eval trains it on first need; this trains it ahead, or again).

use clap::Args;
use std::path::PathBuf;
use vae_gpu::pipelines::classifier;
use vae_gpu::{Gpu, Result, Selection};

#[derive(Args)]
pub struct ClassifierArgs {
    /// A labelled dataset: fashion-mnist, mnist, cifar10, or a folder of IDX files
    #[arg(long)]
    data: String,
    /// Image side, for data that is resized (as the runs it will evaluate used)
    #[arg(long)]
    image_size: Option<usize>,
    /// Training steps (batch 64, Adam at 1e-3)
    #[arg(long, default_value_t = 600)]
    steps: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cache folder [default: classifiers/DATA, where eval looks]
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Replace the classifier already there
    #[arg(long)]
    force: bool,
}

pub fn run(sel: &Selection, a: ClassifierArgs) -> Result<i32> {
    let gpu = Gpu::new(sel)?;
    let dir = a.out.unwrap_or_else(|| classifier::default_dir(&a.data));
    let c =
        classifier::train_classifier(&gpu, &a.data, a.image_size, &dir, a.steps, a.seed, a.force)?;
    eprintln!(
        "classifier of {} ({} classes): test accuracy {:.2} % after {} steps; cached in {}",
        c.about.data,
        c.about.classes,
        100.0 * c.about.test_accuracy,
        c.about.steps,
        dir.display()
    );
    if let Some(w) = c.about.weak(&dir, &a.data) {
        eprintln!("{w}");
    }
    println!("{}", dir.display());
    Ok(0)
}
