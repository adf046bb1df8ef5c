//! `vae-gpu encode` (every image's posterior, as safetensors) and `vae-gpu interpolate`
//! (the decoded path between two images' codes, as a PNG row).

use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use vae_gpu::data::Split;
use vae_gpu::pipelines::{self, config_file, latents};
use vae_gpu::run_dir;
use vae_gpu::text::value_name;
use vae_gpu::train::checkpoint;
use vae_gpu::{Gpu, Result, Selection};

#[derive(Args)]
pub struct EncodeArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Which split of the run's dataset
    #[arg(long, value_enum, ignore_case = true, default_value_t = Split::Test)]
    split: Split,
    /// Images per forward pass (memory, not results)
    #[arg(long = "rows-per-pass", alias = "batch", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65536))]
    batch: u64,
    /// Output file: tensors mu and sigma [N, κ] (and labels [N] where the data has them)
    /// [default: RUN/latents-SPLIT.safetensors]
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub fn encode(sel: &Selection, a: EncodeArgs) -> Result<i32> {
    config_file::read(&a.run)?;
    if let Some(out) = &a.out {
        super::out::prepare("--out", out, "safetensors")?;
    }
    let gpu = Gpu::new(sel)?;
    let (run, steps1, _) = pipelines::open(&gpu, &a.run, Some(a.split))?;
    let (mu, sigma) = latents::encode(&run, steps1, a.batch as usize)?;
    let (n, k) = (run.data.len(), run.stage1.vae.net.latent());
    let mut tensors = vec![
        ("mu".to_string(), vec![n, k], mu),
        ("sigma".to_string(), vec![n, k], sigma),
    ];
    if let Some(labels) = &run.data.labels {
        tensors.push((
            "labels".to_string(),
            vec![n],
            labels.iter().map(|&l| l as f32).collect(),
        ));
    }
    let metadata = BTreeMap::from([
        ("format".to_string(), "vae-gpu-latents/1".to_string()),
        ("data".to_string(), run.data.source.clone()),
        ("split".to_string(), value_name(&a.split)),
        ("step".to_string(), steps1.to_string()),
    ]);
    let out = a.out.clone().unwrap_or_else(|| {
        a.run.join(run_dir::output_name(
            "latents",
            &[value_name(&a.split)],
            "safetensors",
        ))
    });
    checkpoint::write_safetensors(&out, &tensors, &metadata)?;
    eprintln!("wrote μ_z and σ_z of {n} images ({k}-d)");
    println!("{}", out.display());
    Ok(0)
}

const INTERPOLATION_STEPS: usize = 8;

#[derive(Args)]
pub struct InterpolateArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// The first image (its index in the split)
    #[arg(long, default_value_t = 0)]
    from: usize,
    /// The last image
    #[arg(long, default_value_t = 1)]
    to: usize,
    /// Decoded points along the line between their codes, ends included
    #[arg(long, default_value_t = INTERPOLATION_STEPS)]
    steps: usize,
    /// Which split of the run's dataset
    #[arg(long, value_enum, ignore_case = true, default_value_t = Split::Test)]
    split: Split,
    /// Output PNG [default: RUN/interpolation-SPLIT-FROM-TO[-stepsK].png]
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub fn interpolate(sel: &Selection, a: InterpolateArgs) -> Result<i32> {
    config_file::read(&a.run)?;
    if let Some(out) = &a.out {
        super::out::prepare("--out", out, "png")?;
    }
    let gpu = Gpu::new(sel)?;
    let (run, steps1, _) = pipelines::open(&gpu, &a.run, Some(a.split))?;
    let row = latents::interpolate(&run, steps1, a.from, a.to, a.steps)?;
    let mut qualifiers = vec![value_name(&a.split), a.from.to_string(), a.to.to_string()];
    if a.steps != INTERPOLATION_STEPS {
        qualifiers.push(format!("steps{}", a.steps));
    }
    let out = a.out.clone().unwrap_or_else(|| {
        a.run
            .join(run_dir::output_name("interpolation", &qualifiers, "png"))
    });
    let (c, side) = (run.data.channels, run.data.side);
    vae_gpu::grid::write_png(&out, &row, c, side, a.steps + 2)?;
    eprintln!(
        "wrote image {} → {} of the {} split through {} decoded codes",
        a.from,
        a.to,
        value_name(&a.split),
        a.steps
    );
    println!("{}", out.display());
    Ok(0)
}
