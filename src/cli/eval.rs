//! `vae-gpu eval RUN`: the papers' diagnostics on a trained run, printed and written to
//! RUN/eval.json.

use clap::Args;
use std::path::PathBuf;
use vae_gpu::eval::document::{EvalDoc, Frechet};
use vae_gpu::eval::evaluate::{evaluate, Options};
use vae_gpu::run_dir;
use vae_gpu::{Gpu, Result, Selection};

const D: Options = Options::DEFAULT;

#[derive(Args)]
pub struct EvalArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Print eval.json instead of the summary
    #[arg(long)]
    json: bool,
    /// Images per forward pass (memory, not results: every pass is in eval mode)
    #[arg(long = "rows-per-pass", alias = "batch", default_value_t = D.batch)]
    batch: usize,
    /// Rows of the latent sample matrices compared with N(0, I) by MMD (at most the split's
    /// images; the estimator's noise floor falls as 1/rows)
    #[arg(long, default_value_t = D.mmd_samples)]
    mmd_samples: usize,
    /// Test images of the importance-sampled log-likelihood
    #[arg(long, default_value_t = D.iwae_images)]
    iwae_images: usize,
    /// Importance samples per image (k of the IWAE bound)
    #[arg(long, default_value_t = D.iwae_samples)]
    iwae_samples: usize,
    /// Images per set of the Fréchet distances (samples, reconstructions, test images)
    #[arg(long, default_value_t = D.fd_samples)]
    fd_samples: usize,
    /// Test images of the Î(x; z) and marginal-KL estimates (M; Î is at most log M)
    #[arg(long, default_value_t = D.mi_images)]
    mi_images: usize,
    /// Training images whose reconstruction MSE sets σ* of the γ-independent NLL
    #[arg(long, default_value_t = D.nll_images)]
    nll_images: usize,
    /// The feature classifier's folder [default: classifiers/DATA; trained there on first use]
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Training steps of the feature classifier when it has to be trained
    #[arg(long, default_value_t = D.classifier_steps)]
    classifier_steps: u64,
    /// Seeds the latent samples and the N(0, I) references
    #[arg(long, default_value_t = D.seed)]
    seed: u64,
}

fn num(x: f64) -> String {
    if x != 0.0 && x.abs() < 1e-2 {
        format!("{x:.2e}")
    } else {
        format!("{x:.4}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("-".into(), num)
}

/// The few lines a person reads first.
pub fn summary(doc: &EvalDoc) -> String {
    let ev = &doc.encoder_variances;
    let s1 = &doc.stage1;
    let term = match s1.constraint {
        Some(c) => format!(
            "GECO constraint C {} (RMSE tolerance {}; met: {}) | λ {}",
            num(c),
            opt(s1.rmse_tolerance),
            s1.constraint_met.map_or("-".into(), |m| m.to_string()),
            opt(s1.lambda)
        ),
        None => format!("reconstruction {}", opt(s1.reconstruction)),
    };
    let mut s = format!(
        "{} ({} split, {} images)\n  stage 1: loss {} | {term} | KL {} | MSE {} | γ {}\n",
        doc.run,
        doc.split,
        doc.images,
        num(s1.loss),
        num(s1.kl),
        opt(s1.mse),
        opt(s1.gamma),
    );
    if let Some(nll) = &doc.gamma_free_nll {
        s += &format!(
            "  γ-independent NLL (σ* = {} from {} training images): {} nats/pixel, {} bits/dim\n",
            num(nll.nll.sigma),
            nll.train_images,
            num(nll.nll.nats_per_value),
            num(nll.nll.bits_per_dim),
        );
    }
    let info = &doc.information.information;
    s += &format!(
        "  Î(x; z) {} nats (at most log M = {}, M = {}) | marginal KL {} | mean KL {}\n",
        num(info.mutual_information),
        num(info.upper_bound),
        info.examples,
        num(info.marginal_kl),
        num(info.mean_kl),
    );
    s += &format!(
        "  active latent dimensions: {} of {} (mean σ_z² < {}; {} superfluous, {} undecided){}\n",
        ev.variances.active,
        ev.variances.mean_variance.len(),
        ev.variances.threshold,
        ev.variances.superfluous,
        ev.variances.undecided,
        ev.true_manifold_dim.map_or(String::new(), |r| format!(
            "; the data's true dimension r = {r}"
        ))
    );
    s += &format!(
        "  MMD² to N(0, I): stage 1 q(z) {}{}, N(0, I) itself {} ({} rows, {})\n",
        num(doc.mmd.stage1),
        doc.mmd
            .stage2
            .map_or(String::new(), |v| format!(", stage 2 q(u) {}", num(v))),
        num(doc.mmd.null),
        doc.mmd.samples,
        doc.mmd.kernel
    );
    let ends = |v: &[f64]| format!("{}..{}", opt(v.first().copied()), opt(v.last().copied()));
    let sp = &doc.spectra;
    s += &format!(
        "  singular values / √n, largest..smallest: stage 1 {}, N(0, I) {}{}\n",
        ends(&sp.stage1),
        ends(&sp.normal),
        sp.stage2
            .as_deref()
            .map_or(String::new(), |v| format!(", stage 2 {}", ends(v))),
    );
    if let Some(g) = &doc.stage2 {
        s += &format!("  stage 2: γ_z {}\n", opt(g.gamma_z));
    }
    let ll = &doc.log_likelihood;
    s += &format!(
        "  log p(x) (IWAE, k = {}, {} images): NLL {} nats/image, {} bits/dim\n",
        ll.samples_per_image,
        ll.images,
        num(ll.nats_per_image),
        num(ll.bits_per_dim),
    );
    if let Some(q) = &doc.sequence {
        let list = |v: &[f64]| v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(", ");
        s += &format!(
            "  sequential steps ({} images): reconstruction MSE {} | sample sharpness {} (test images {})\n",
            q.images,
            list(&q.reconstruction_mse),
            list(&q.sample_sharpness),
            num(q.data_sharpness),
        );
        if let Some(v) = doc
            .frechet
            .measured()
            .and_then(|f| f.samples_per_step.as_deref())
        {
            s += &format!("  Fréchet distance of each step's samples: {}\n", list(v));
        }
    }
    match &doc.frechet {
        Frechet::Skipped { skipped } => {
            s += &format!("  Fréchet distance: skipped: {skipped}\n")
        }
        Frechet::Measured(fd) => {
            s += &format!(
                "  Fréchet distance to test images, own-classifier features (test accuracy {:.1} %), {} images each:\n    two-stage samples {} | stage-1 samples {} | reconstructions {} | training images (floor) {}\n",
                100.0 * fd.classifier.test_accuracy,
                fd.images_per_set,
                opt(fd.two_stage_samples),
                num(fd.stage1_samples),
                num(fd.reconstructions),
                num(fd.train_images_floor),
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
        mi_images: a.mi_images,
        nll_images: a.nll_images,
        classifier: a.classifier,
        classifier_steps: a.classifier_steps,
        seed: a.seed,
    };
    let doc = evaluate(&gpu, &a.run, &opts)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("eval.json serialises")
        );
    } else {
        print!("{}", summary(&doc));
        let grids: Vec<String> = [
            run_dir::SAMPLES_TWO_STAGE,
            run_dir::SAMPLES,
            run_dir::RECONSTRUCTIONS,
        ]
        .iter()
        .map(|f| a.run.join(f))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
        if !grids.is_empty() {
            println!("  grids: {}", grids.join(", "));
        }
        eprintln!("wrote {}", a.run.join(run_dir::EVAL).display());
    }
    Ok(0)
}
