//! `vae-gpu eval RUN`: the papers' diagnostics on a trained run, printed and written to
//! RUN/eval.json.

use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use vae_gpu::eval::report::{evaluate, Options};
use vae_gpu::train::files;
use vae_gpu::{Gpu, Result, Selection};

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Print eval.json instead of the summary
    #[arg(long)]
    json: bool,
    /// Rows per forward pass
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Rows of the latent sample matrices compared with N(0, I) by MMD
    #[arg(long, default_value_t = 2000)]
    mmd_samples: usize,
    /// Test images of the importance-sampled log-likelihood
    #[arg(long, default_value_t = 500)]
    iwae_images: usize,
    /// Importance samples per image (k of the IWAE bound)
    #[arg(long, default_value_t = 16)]
    iwae_samples: usize,
    /// Images per set of the Fréchet distances (samples, reconstructions, test images)
    #[arg(long, default_value_t = 2000)]
    fd_samples: usize,
    /// The feature classifier's folder [default: classifiers/DATA; trained there on first use]
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Training steps of the feature classifier when it has to be trained
    #[arg(long, default_value_t = 600)]
    classifier_steps: u64,
    /// Seeds the latent samples and the N(0, I) references
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn num(v: &Value) -> String {
    v.as_f64().map_or("-".into(), |x| {
        if x != 0.0 && x.abs() < 1e-2 {
            format!("{x:.2e}")
        } else {
            format!("{x:.4}")
        }
    })
}

/// The few lines a person reads first.
pub fn summary(doc: &Value) -> String {
    let ev = &doc["encoder_variances"];
    let mut s = format!(
        "{} ({} split, {} images)\n  stage 1: loss {} | reconstruction {} | KL {} | MSE {} | γ {}\n",
        doc["run"].as_str().unwrap_or(""),
        doc["split"].as_str().unwrap_or(""),
        doc["images"],
        num(&doc["stage1"]["loss"]),
        num(&doc["stage1"]["reconstruction"]),
        num(&doc["stage1"]["kl"]),
        num(&doc["stage1"]["mse"]),
        num(&doc["stage1"]["gamma"]),
    );
    s +=
        &format!(
        "  active latent dimensions: {} of {} (mean σ_z² < {}; {} superfluous, {} undecided){}\n",
        ev["active"],
        ev["mean_variance"].as_array().map_or(0, |a| a.len()),
        ev["threshold"],
        ev["superfluous"],
        ev["undecided"],
        ev.get("true_manifold_dim")
            .map_or(String::new(), |r| format!("; the data's true dimension r = {r}"))
    );
    s += &format!(
        "  MMD² to N(0, I): stage 1 q(z) {}{}, N(0, I) itself {} ({} rows, {})\n",
        num(&doc["mmd"]["stage1"]),
        doc["mmd"]
            .get("stage2")
            .map_or(String::new(), |v| format!(", stage 2 q(u) {}", num(v))),
        num(&doc["mmd"]["null"]),
        doc["mmd"]["samples"],
        doc["mmd"]["kernel"].as_str().unwrap_or("")
    );
    let first = |k: &str| {
        doc["spectra"][k]
            .as_array()
            .and_then(|a| a.first())
            .map(num)
    };
    let last = |k: &str| doc["spectra"][k].as_array().and_then(|a| a.last()).map(num);
    s += &format!(
        "  singular values / √n, largest..smallest: stage 1 {}..{}, N(0, I) {}..{}{}\n",
        first("stage1").unwrap_or_default(),
        last("stage1").unwrap_or_default(),
        first("normal").unwrap_or_default(),
        last("normal").unwrap_or_default(),
        first("stage2").map_or(String::new(), |f| format!(
            ", stage 2 {f}..{}",
            last("stage2").unwrap_or_default()
        )),
    );
    if let Some(g) = doc.get("stage2") {
        s += &format!("  stage 2: γ_z {}\n", num(&g["gamma_z"]));
    }
    let ll = &doc["log_likelihood"];
    s += &format!(
        "  log p(x) (IWAE, k = {}, {} images): NLL {} nats/image, {} bits/dim\n",
        ll["samples_per_image"],
        ll["images"],
        num(&ll["nats_per_image"]),
        num(&ll["bits_per_dim"]),
    );
    let fd = &doc["frechet"];
    match fd["skipped"].as_str() {
        Some(why) => s += &format!("  Fréchet distance: skipped: {why}\n"),
        None => {
            s += &format!(
                "  Fréchet distance to test images, own-classifier features (test accuracy {:.1} %), {} images each:\n    two-stage samples {} | stage-1 samples {} | reconstructions {} | training images (floor) {}\n",
                100.0 * fd["classifier"]["test_accuracy"].as_f64().unwrap_or(f64::NAN),
                fd["images_per_set"],
                num(&fd["two_stage_samples"]),
                num(&fd["stage1_samples"]),
                num(&fd["reconstructions"]),
                num(&fd["train_images_floor"]),
            )
        }
    }
    s
}

pub fn run(sel: &Selection, a: EvalArgs) -> Result<i32> {
    let gpu = Gpu::new(sel)?;
    let opts = Options {
        batch: a.batch,
        mmd_samples: a.mmd_samples,
        iwae_images: a.iwae_images,
        iwae_samples: a.iwae_samples,
        fd_samples: a.fd_samples,
        classifier: a.classifier,
        classifier_steps: a.classifier_steps,
        seed: a.seed,
    };
    let doc = evaluate(&gpu, &a.run, &opts)?;
    if a.json {
        println!("{doc:#}");
    } else {
        print!("{}", summary(&doc));
        let grids: Vec<String> = [
            files::SAMPLES_TWO_STAGE,
            files::SAMPLES,
            files::RECONSTRUCTIONS,
        ]
        .iter()
        .map(|f| a.run.join(f))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
        if !grids.is_empty() {
            println!("  grids: {}", grids.join(", "));
        }
        eprintln!("wrote {}", a.run.join(files::EVAL).display());
    }
    Ok(0)
}
