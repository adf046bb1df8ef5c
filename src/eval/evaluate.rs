//! `vae-gpu eval RUN`: every diagnostic on a trained run, written to RUN/eval.json. On the
//! test split where the data has one; stage 1's batch norm in eval mode, debiased.

use super::document::{
    ClassifierUsed, EvalDoc, Frechet, FrechetDistances, GammaFreeNllDoc, InformationDoc,
    InformationPlane, LatentPlane, LogLikelihood, MmdDoc, SequenceDoc, Spectra, StageOneLosses,
    StageOneVariances, StageTwo,
};
use super::frechet::{frechet_distance, Gaussian};
use super::{active, information, likelihood, mmd, plane, sharpness, spectrum};
use crate::data::{self, Dataset, Split};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::random::{self, RandomKey};
use crate::models::classifier::FEATURES;
use crate::models::generate::{self, Draw};
use crate::models::{Likelihood, Vae};
use crate::pipelines::{self, classifier, two_stage, Run, Stage};
use crate::run_dir;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What `eval` computes and on how much.
#[derive(Clone, Debug)]
pub struct Options {
    /// Rows per forward pass.
    pub batch: usize,
    /// Rows of the latent matrices for MMD (the Gram products cost 2n²·κ flops; BENCHMARKS.md,
    /// Zen 3, times them); capped at the split's size.
    pub mmd_samples: usize,
    /// Test images of the log-likelihood estimate, and importance samples per image.
    pub iwae_images: usize,
    pub iwae_samples: usize,
    /// Images per set of the Fréchet distances.
    pub fd_samples: usize,
    /// Test images of the Î(x; z) and marginal-KL estimates (M² pairs).
    pub mi_images: usize,
    /// Training images whose reconstruction MSE sets the γ-independent NLL's σ*.
    pub nll_images: usize,
    /// The classifier's cache folder (default classifiers/DATA), and its training steps when
    /// it has to be trained first.
    pub classifier: Option<PathBuf>,
    pub classifier_steps: u64,
    pub seed: u64,
}

impl Options {
    /// `vae-gpu eval`'s defaults.
    pub const DEFAULT: Options = Options {
        batch: 256,
        mmd_samples: 10_000,
        iwae_images: 500,
        iwae_samples: 16,
        fd_samples: 2000,
        mi_images: 1000,
        nll_images: 10000,
        classifier: None,
        classifier_steps: 600,
        seed: 0,
    };
}

/// Streams of eval's own noise (the z and u sample matrices).
const STREAM_Q_Z: u32 = 41;
const STREAM_Q_U: u32 = 42;
const STREAM_IWAE: u32 = 43;

/// (start, len) of consecutive batches of `batch` covering `count` examples; a last batch of
/// a single example joins the one before (the MMD regulariser compares pairs).
fn batches(count: usize, batch: usize) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = (0..count)
        .step_by(batch)
        .map(|s| (s, batch.min(count - s)))
        .collect();
    if v.len() >= 2 && v[v.len() - 1].1 == 1 {
        v.pop();
        let last = v.len() - 1;
        v[last].1 += 1;
    }
    v
}

/// Stage 1's loss terms per image, averaged over the first `count` images of `data`.
fn losses(
    stage: &Stage,
    data: &Dataset,
    count: usize,
    batch: usize,
    seed: u64,
) -> Result<StageOneLosses> {
    let (c, side) = (data.channels, data.side);
    let count = count.min(data.len());
    let gpu = stage.store.gpu();
    let batch = rows_per_pass(&stage.vae, batch);
    let (mut total, mut kl, mut sse) = (0.0f64, 0.0f64, Some(0.0f64));
    // The likelihood term, or GECO's constraint (λ·C is in the loss).
    let mut term = 0.0f64;
    let mut host = Vec::new();
    for (start, len) in batches(count, batch) {
        data.gather(&(start..start + len).collect::<Vec<_>>(), &mut host);
        let x = Tensor::from_slice(gpu, &host, &[len, c, side, side])?;
        let mut t = crate::autograd::Tape::inference(gpu);
        let xv = t.constant(x.clone())?;
        let key = RandomKey {
            seed,
            step: start as u64,
            stream: STREAM_Q_Z,
        };
        let l = stage.vae.losses(&mut t, &stage.store, xv, key, false)?;
        let w = len as f64;
        total += t.value(l.total).to_vec()?[0] as f64 * w;
        if let Some(v) = l.reconstruction.or(l.constraint) {
            term += t.value(v).to_vec()?[0] as f64 * w;
        }
        kl += t.value(l.kl).to_vec()?[0] as f64 * w;
        // The loss kernel's second output is the plain sum Σ(x − μ_x)² over the batch.
        sse = match (sse, l.mu_x) {
            (Some(a), Some(m)) => Some(a + Vae::squared_error(&x, t.value(m))?.to_vec()?[0] as f64),
            _ => None,
        };
    }
    let n = count as f64;
    let mse = sse.map(|e| e / (n * data.image_len() as f64));
    let mut out = StageOneLosses {
        loss: total / n,
        kl: kl / n,
        mse,
        reconstruction: None,
        constraint: None,
        lambda: None,
        c_ma: None,
        rmse_tolerance: None,
        constraint_met: None,
        gamma: stage.vae.gamma(&stage.store)?.map(f64::from),
    };
    match &stage.vae.geco {
        Some(g) => {
            let (lambda, c_ma) = g.read(&stage.store)?;
            out.constraint = Some(term / n);
            out.lambda = Some(lambda as f64);
            out.c_ma = Some(c_ma as f64);
            out.rmse_tolerance = Some(g.settings.rmse);
            out.constraint_met = mse.map(|m| m <= g.settings.rmse.powi(2));
        }
        None => out.reconstruction = Some(term / n),
    }
    Ok(out)
}

/// (step, value) of metric `key` in the rows of `stage` of metrics.jsonl.
fn history(dir: &Path, stage: u32, key: &str) -> Result<Vec<(u64, f64)>> {
    Ok(run_dir::series(&run_dir::read_metrics(dir)?, stage, key))
}

/// The information plane (Rezende & Viola, Figure 3) from stage 1's metrics: KL against the
/// distortion, the squared error per image, which every objective shares (a likelihood term
/// would not: it moves with γ). [step, kl, distortion] rows; GECO's target beside them.
fn information_plane(dir: &Path, run: &Run) -> Result<InformationPlane> {
    let d = run.data.image_len() as f64;
    let kl = history(dir, 1, "kl")?;
    let mse = history(dir, 1, "mse")?;
    let rows: Vec<[f64; 3]> = kl
        .iter()
        .zip(&mse)
        .filter(|(a, b)| a.0 == b.0)
        .map(|(a, b)| [a.0 as f64, a.1, b.1 * d])
        .collect();
    Ok(InformationPlane {
        columns: [
            "step",
            "kl (nats per image)",
            "distortion Σ(x − μ_x)² per image",
        ]
        .map(String::from)
        .to_vec(),
        rows,
        geco_target_distortion: run.cfg.geco.map(|g| g.kappa_squared(run.data.image_len())),
    })
}

/// The γ-independent NLL: σ* from up to `opts.nll_images` training reconstructions (one
/// z ~ q(z | x) each, as in training), applied to the test MSE already in `test`. None for
/// a decoder without a mean image (`test_mse` None).
fn gamma_free_nll(
    stage: &Stage,
    run: &Run,
    test_mse: Option<f64>,
    opts: &Options,
) -> Result<Option<GammaFreeNllDoc>> {
    let Some(test_mse) = test_mse else {
        return Ok(None);
    };
    let mut spec = run.cfg.data_spec();
    spec.split = Split::Train;
    let train = data::load(&spec)?;
    let count = opts.nll_images.min(train.len());
    let train_mse = losses(stage, &train, count, opts.batch, opts.seed)?
        .mse
        .unwrap_or(f64::NAN);
    Ok(Some(GammaFreeNllDoc {
        nll: likelihood::gamma_free_nll(train_mse, test_mse, run.data.image_len()),
        train_images: count,
        train_mse,
    }))
}

/// An autoregressive decoder's logits hold `classes` values per pixel: `batch` rows a pass,
/// fewer where a pass's logits would pass LOGIT_BYTES (the storage-binding limit of many
/// adapters is 128 MiB).
fn rows_per_pass(vae: &Vae, batch: usize) -> usize {
    const LOGIT_BYTES: usize = 64 << 20;
    match vae.net.pixel_classes() {
        Some(k) => batch.min(LOGIT_BYTES / (4 * k * vae.example_len())).max(1),
        None => batch,
    }
}

/// z = μ + σ·ε for every row (ε from Philox, `stream`).
fn posterior_samples(mu: &Tensor, sigma: &Tensor, seed: u64, stream: u32) -> Result<Tensor> {
    let key = RandomKey {
        seed,
        step: 0,
        stream,
    };
    random::reparameterize(mu, sigma, key)
}

/// The first `n` rows of a [N, κ] matrix.
fn head(t: &Tensor, n: usize) -> Result<Tensor> {
    t.narrow0(0, n.min(t.shape()[0]))
}

/// log p(x_i | z_r) for the rows r = i·k + j of `z` [len·k, κ] (host), `x` holding the
/// `len` images: the decoder mean's density, or an autoregressive decoder's exact
/// Σ_pixels log p(x_p | x_<p, z) from one pass of the images themselves.
fn log_p_given_z(
    stage: &Stage,
    x: &[f32],
    z: &[f32],
    k: usize,
    opts: &Options,
) -> Result<Vec<f64>> {
    let vae = &stage.vae;
    let gpu = stage.store.gpu();
    let (latent, d) = (vae.net.latent(), vae.example_len());
    let rows = z.len() / latent;
    let zt = Tensor::from_slice(gpu, z, &[rows, latent])?;
    let Some(classes) = vae.net.pixel_classes() else {
        let decoder = match (vae.objective.likelihood, vae.gamma(&stage.store)?) {
            (Likelihood::Bernoulli, _) | (_, None) => likelihood::Decoder::Bernoulli,
            (_, Some(g)) => likelihood::Decoder::Gaussian { gamma: g as f64 },
        };
        let mu_x = generate::decode_batches(vae, &stage.store, &zt, opts.batch)?.to_vec()?;
        return Ok((0..rows)
            .map(|r| {
                let i = r / k;
                likelihood::log_p_x_given_z(
                    decoder,
                    &x[i * d..(i + 1) * d],
                    &mu_x[r * d..(r + 1) * d],
                )
            })
            .collect());
    };
    let mut shape = vec![0];
    shape.extend(vae.net.example_shape());
    let per = rows_per_pass(vae, opts.batch);
    let mut out = Vec::with_capacity(rows);
    for start in (0..rows).step_by(per) {
        let len = per.min(rows - start);
        let repeated: Vec<f32> = (start..start + len)
            .flat_map(|r| x[(r / k) * d..(r / k + 1) * d].iter().copied())
            .collect();
        shape[0] = len;
        let mut t = crate::autograd::Tape::inference(gpu);
        let zv = t.constant(zt.narrow0(start, len)?)?;
        let xv = t.constant(Tensor::from_slice(gpu, &repeated, &shape)?)?;
        let logits = vae.net.decode_pixels(&mut t, &stage.store, zv, xv, false)?;
        let logits = t.value(logits).to_vec()?;
        out.extend((0..len).map(|r| {
            likelihood::log_p_categorical(
                &logits[r * classes * d..(r + 1) * classes * d],
                &repeated[r * d..(r + 1) * d],
                classes,
            )
        }));
    }
    Ok(out)
}

/// The importance-sampled log p(x) of stage 1 on the first `images` test images.
fn log_likelihood(stage: &Stage, run: &Run, opts: &Options) -> Result<LogLikelihood> {
    let data = &run.data;
    let (c, side, d) = (data.channels, data.side, data.image_len());
    let gpu = stage.store.gpu();
    let m = opts.iwae_images.min(data.len());
    let k = opts.iwae_samples;
    let latent = stage.vae.net.latent();
    let mut host = Vec::new();
    let mut total = 0.0f64;
    // A few images at a time: k decoded copies of each.
    let per = (opts.batch / k).max(1);
    for start in (0..m).step_by(per) {
        let len = per.min(m - start);
        let idx: Vec<usize> = (start..start + len).collect();
        data.gather(&idx, &mut host);
        let (mu, sigma) = generate::encode_batches(&stage.vae, &stage.store, len, len, |_, _| {
            Tensor::from_slice(gpu, &host, &[len, c, side, side])
        })?;
        let (mu, sigma) = (mu.to_vec()?, sigma.to_vec()?);
        // ε on the host from the same Philox generator the kernels use.
        let key = RandomKey {
            seed: opts.seed,
            step: start as u64,
            stream: STREAM_IWAE,
        };
        let eps = random::reference::normals(key, len * k * latent);
        let z: Vec<f32> = eps
            .iter()
            .enumerate()
            .map(|(j, e)| {
                let (i, l) = (j / (k * latent), j % latent);
                mu[i * latent + l] + sigma[i * latent + l] * *e as f32
            })
            .collect();
        let log_p = log_p_given_z(stage, &host, &z, k, opts)?;
        for i in 0..len {
            let w: Vec<f64> = (0..k)
                .map(|j| {
                    let r = i * k + j;
                    let zr: Vec<f64> = z[r * latent..(r + 1) * latent]
                        .iter()
                        .map(|v| *v as f64)
                        .collect();
                    log_p[r]
                        + likelihood::log_prior_over_posterior(
                            &zr,
                            &eps[r * latent..(r + 1) * latent],
                            &sigma[i * latent..(i + 1) * latent],
                        )
                })
                .collect();
            total += likelihood::log_mean_exp(&w);
        }
    }
    let nll = -total / m as f64;
    let discrete = stage.vae.net.pixel_classes();
    Ok(LogLikelihood {
        images: m,
        samples_per_image: k,
        nats_per_image: nll,
        bits_per_dim: match discrete {
            Some(_) => nll / (d as f64 * 2f64.ln()),
            None => likelihood::bits_per_dim(nll, d),
        },
        estimator: format!("IWAE bound log (1/k)·Σ p(x|z_j)p(z_j)/q(z_j|x), k = {k}, z_j ~ q(z|x) of stage 1 (the prior N(0, I), not stage 2's); a lower bound on log p(x), so an upper bound on the NLL"),
        density: match discrete {
            Some(2) => "discrete: the binarised pixels (the data rounded to 0 or 1), in nats per image; bits per dimension NLL/(D·ln 2)".into(),
            Some(_) => "discrete: the 8-bit pixel values, in nats per image; bits per dimension NLL/(D·ln 2)".into(),
            None => "continuous on [0, 1]^D in nats per image; bits per dimension are of the 8-bit pixels: (NLL + D·ln 256)/(D·ln 2)".into(),
        },
    })
}

/// Fréchet distances in the features of the dataset's own classifier between the held-out
/// test images and: two-stage samples, stage-1 samples (z ~ N(0, I)), test reconstructions,
/// and training images (the floor two samples of the true distribution reach).
fn frechet(gpu: &Arc<Gpu>, run: &Run, steps1: u64, two: bool, opts: &Options) -> Result<Frechet> {
    if run.stage1.vae.net.pixel_classes().is_some() {
        return Ok(Frechet::Skipped {
            skipped: "an autoregressive decoder draws each sample and reconstruction with a forward pass per pixel, too slow for a Fréchet set of images; `vae-gpu sample` draws its grids".into(),
        });
    }
    if run.data.labels.is_none() {
        return Ok(Frechet::Skipped {
            skipped: format!(
                "{} has no labels to train the feature classifier on",
                run.data.source
            ),
        });
    }
    let mut train_spec = run.cfg.data_spec();
    train_spec.split = Split::Train;
    let train_data = crate::data::load(&train_spec)?;
    let dir = opts
        .classifier
        .clone()
        .unwrap_or_else(|| classifier::default_dir(&run.cfg.data));
    let cls = if dir.join(classifier::DESCRIPTION).exists() {
        classifier::load(gpu, &dir, &train_data)?
    } else {
        eprintln!(
            "eval: training the feature classifier on {} ({} steps; cached in {} for later runs)",
            train_data.source,
            opts.classifier_steps,
            dir.display()
        );
        classifier::train_classifier(
            gpu,
            &run.cfg.data,
            run.cfg.image_size,
            &dir,
            opts.classifier_steps,
            opts.seed,
            false,
        )?
    };
    if let Some(w) = cls.about.weak(&dir, &run.cfg.data) {
        eprintln!("{w}");
    }
    let n = opts.fd_samples.min(run.data.len()).min(train_data.len());
    let fit = |x: &[f32]| -> Result<Gaussian> { Ok(Gaussian::fit(&cls.features(x)?, FEATURES)) };
    let mut test = Vec::new();
    run.data.gather(&(0..n).collect::<Vec<_>>(), &mut test);
    let reference = fit(&test)?;
    let mut train = Vec::new();
    train_data.gather(&(0..n).collect::<Vec<_>>(), &mut train);
    let s1 = &run.stage1;
    // A sequential decoder's samples after every step come from the same draws z ~ N(0, I)
    // as stage1's, in the same eval-mode batch norm.
    let (stage1, recon, steps) = s1.with_debiased_bn(steps1, || {
        let z = generate::prior(&s1.vae, &s1.store, n, opts.seed)?;
        Ok((
            generate::sample(&s1.vae, &s1.store, n, opts.seed, Draw::Mean)?,
            generate::reconstruct(&s1.vae, &s1.store, &test)?,
            generate::decode_steps(&s1.vae, &s1.store, &z, opts.batch)?,
        ))
    })?;
    let fd = |x: &[f32]| -> Result<f64> { Ok(frechet_distance(&fit(x)?, &reference)) };
    let samples_per_step = match steps {
        Some(steps) => Some(steps.iter().map(|x| fd(x)).collect::<Result<Vec<f64>>>()?),
        None => None,
    };
    let two_stage_samples = if two {
        let x = two_stage::sample(run, steps1, n, opts.seed, Draw::Mean)?;
        Some(fd(&x)?)
    } else {
        None
    };
    Ok(Frechet::Measured(FrechetDistances {
        name: "Fréchet distance in the features of vae-gpu's own classifier (not FID: not Inception-v3's features); lower is better".into(),
        classifier: ClassifierUsed {
            dir: dir.display().to_string(),
            test_accuracy: cls.about.test_accuracy,
            objective: Some(cls.about.objective.clone()),
            steps: cls.about.steps,
            features: FEATURES,
        },
        images_per_set: n,
        reference: "test images".into(),
        train_images_floor: fd(&train)?,
        reconstructions: fd(&recon)?,
        stage1_samples: fd(&stage1)?,
        two_stage_samples,
        samples_per_step,
    }))
}

/// A sequential decoder's steps on the first `opts.fd_samples` test images: each step's
/// reconstruction MSE (z ~ q, one draw), and the sharpness of each step's samples from the
/// prior against the test images'. None for one-step decoders.
fn sequence(
    stage: &Stage,
    run: &Run,
    (mu, sigma): (&Tensor, &Tensor),
    opts: &Options,
) -> Result<Option<SequenceDoc>> {
    let (vae, store) = (&stage.vae, &stage.store);
    let n = run.data.len().min(opts.fd_samples);
    let z = posterior_samples(&head(mu, n)?, &head(sigma, n)?, opts.seed, STREAM_Q_Z)?;
    let Some(recon) = generate::decode_steps(vae, store, &z, opts.batch)? else {
        return Ok(None);
    };
    let mut test = Vec::new();
    run.data.gather(&(0..n).collect::<Vec<_>>(), &mut test);
    let reconstruction_mse = recon
        .iter()
        .map(|x| {
            x.iter()
                .zip(&test)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum::<f64>()
                / test.len() as f64
        })
        .collect();
    let prior = generate::prior(vae, store, n, opts.seed)?;
    let samples = generate::decode_steps(vae, store, &prior, opts.batch)?.unwrap_or_default();
    let side = run.data.side;
    Ok(Some(SequenceDoc {
        images: n,
        reconstruction_mse,
        sample_sharpness: samples
            .iter()
            .map(|x| sharpness::laplacian_energy(x, side))
            .collect(),
        data_sharpness: sharpness::laplacian_energy(&test, side),
    }))
}

/// Points of the scatter of a 2-d latent space: at most this many test images.
const PLANE_POINTS: usize = 2000;
/// The decoded grid over the latent plane: this many cells a side.
const PLANE_CELLS: usize = 12;

/// For a 2-d latent space (the thesis chapter's pictures, Figures 5.3 and 5.16–5.18): the
/// posterior means of up to PLANE_POINTS test images with their labels, for a scatter, and
/// μ_x over a grid of the plane written to `dir`/latent-grid.png (z₁ along the rows from
/// top to bottom, z₂ along the columns from left to right). Runs with batch norm debiased.
fn latent_plane(
    stage: &Stage,
    run: &Run,
    (mu, sigma): (&[f32], &[f32]),
    dir: &Path,
) -> Result<LatentPlane> {
    let n = (mu.len() / 2).min(PLANE_POINTS);
    let points: Vec<[f32; 2]> = (0..n).map(|i| [mu[2 * i], mu[2 * i + 1]]).collect();
    let labels = run.data.labels.as_ref().map(|l| l[..n].to_vec());
    let axis = plane::quantile_axis(PLANE_CELLS);
    let z = plane::lattice(&axis);
    // An autoregressive decoder would take a pass per pixel of all the cells.
    let grid_file = if stage.vae.net.pixel_classes().is_none() {
        let gpu = stage.store.gpu();
        let zt = Tensor::from_slice(gpu, &z, &[PLANE_CELLS * PLANE_CELLS, 2])?;
        let x = generate::decode_batches(&stage.vae, &stage.store, &zt, 256)?.to_vec()?;
        let (c, side) = (run.data.channels, run.data.side);
        crate::grid::write_png(&dir.join(run_dir::LATENT_GRID), &x, c, side, PLANE_CELLS)?;
        Some(run_dir::LATENT_GRID.into())
    } else {
        None
    };
    // q(x | z) over the evaluated split's images.
    let mut images = Vec::new();
    run.data
        .gather(&(0..run.data.len()).collect::<Vec<_>>(), &mut images);
    let posterior_variance = plane::posterior_variance(&z, mu, sigma, &images, 2);
    Ok(LatentPlane {
        posterior_variance: Some(posterior_variance),
        points,
        labels,
        grid_file,
        grid_axis: axis,
        grid_is: "μ_x(z) for z on the grid_axis × grid_axis lattice (centres of equal-probability slices of N(0, 1)): z₁ down the rows, z₂ across the columns".into(),
    })
}

/// Evaluates the run in `dir` and writes `dir`/eval.json. Returns the document.
pub fn evaluate(gpu: &Arc<Gpu>, dir: &Path, opts: &Options) -> Result<EvalDoc> {
    for (flag, v) in [
        ("--rows-per-pass", opts.batch),
        ("--mmd-samples", opts.mmd_samples),
        ("--iwae-images", opts.iwae_images),
        ("--iwae-samples", opts.iwae_samples),
        ("--fd-samples", opts.fd_samples),
    ] {
        if v == 0 {
            return Err(Error::flag(flag, "must be at least 1"));
        }
    }
    if opts.mmd_samples < 2 {
        return Err(Error::flag(
            "--mmd-samples",
            "the unbiased MMD needs 2 rows or more",
        ));
    }
    // The test split where the data has one.
    let (opened, split) = match pipelines::open(gpu, dir, Some(Split::Test)) {
        Ok(o) => (o, "test"),
        Err(Error::Data { .. }) => (
            pipelines::open(gpu, dir, Some(Split::Train))?,
            "train (the data has no test split)",
        ),
        Err(e) => return Err(e),
    };
    let (run, steps1, steps2) = opened;
    let s1 = &run.stage1;
    let latent = s1.vae.net.latent();
    let information_plane = information_plane(dir, &run)?;
    // Before the debiased block: the samplers debias batch norm themselves.
    let frechet = frechet(gpu, &run, steps1, steps2.is_some(), opts)?;
    let doc = s1.with_debiased_bn(steps1, || {
        let stage1 = losses(s1, &run.data, run.data.len(), opts.batch, opts.seed)?;
        let gamma_free_nll = gamma_free_nll(s1, &run, stage1.mse, opts)?;
        let (c, side) = (run.data.channels, run.data.side);
        let mut host = Vec::new();
        let (mu, sigma) = generate::encode_batches(
            &s1.vae,
            &s1.store,
            run.data.len(),
            opts.batch,
            |start, len| {
                run.data
                    .gather(&(start..start + len).collect::<Vec<_>>(), &mut host);
                Tensor::from_slice(s1.store.gpu(), &host, &[len, c, side, side])
            },
        )?;
        let latent_plane = if latent == 2 {
            Some(latent_plane(
                s1,
                &run,
                (&mu.to_vec()?, &sigma.to_vec()?),
                dir,
            )?)
        } else {
            None
        };
        let encoder_variances = StageOneVariances {
            variances: active::encoder_variances(&sigma.to_vec()?, latent),
            true_manifold_dim: (run.data.source == "shapes")
                .then_some(crate::data::shapes::MANIFOLD_DIM),
        };
        let sequence = sequence(s1, &run, (&mu, &sigma), opts)?;
        let z = posterior_samples(&mu, &sigma, opts.seed, STREAM_Q_Z)?;
        let n = run.data.len();
        let mi = opts.mi_images.min(n);
        let information = InformationDoc {
            information: information::information(
                &head(&mu, mi)?.to_vec()?,
                &head(&sigma, mi)?.to_vec()?,
                &head(&z, mi)?.to_vec()?,
                latent,
            ),
            notes: [
                ("mutual_information", "Î(x; z) of Zhao et al. (Appendix A.3) over M test images, one z per image; it cannot exceed log M (upper_bound), so a value near it means 'at least this much'"),
                ("marginal_kl", "KL(q(z) ‖ N(0, I)) with q(z) estimated by the mixture of the M posteriors; mean_kl = mutual_information + marginal_kl exactly; the MMD below is the kernel stand-in for the same comparison"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let reference = random::normal(
            gpu,
            &[n, latent],
            RandomKey {
                seed: opts.seed,
                step: 1,
                stream: STREAM_Q_Z,
            },
        )?;
        let root_n = (n as f64).sqrt();
        let scaled = |m: &Tensor| -> Result<Vec<f64>> {
            Ok(spectrum::singular_values(&m.to_vec()?, latent)
                .into_iter()
                .map(|s| s / root_n)
                .collect())
        };
        let mut spectra = Spectra {
            rows: n,
            scale: "singular values / √rows (an i.i.d. N(0, I) matrix gives values near 1)".into(),
            stage1: scaled(&z)?,
            normal: scaled(&reference)?,
            stage2: None,
        };
        let mmd_rows = opts.mmd_samples.min(n);
        let mut mmd = MmdDoc {
            kernel: format!("inverse multiquadric C/(C + ‖a − b‖²), C = 2κ = {}", 2 * latent),
            estimator: "unbiased U-statistic, MMD²".into(),
            samples: mmd_rows,
            stage1: mmd::mmd_to_standard_normal(&head(&z, mmd_rows)?, opts.seed)?,
            stage2: None,
            null: mmd::null_level(&head(&z, mmd_rows)?, opts.seed)?,
            null_is: "the same estimator between two independent N(0, I) samples of this size: its noise floor".into(),
        };
        let (mut stage2, mut gamma_z_history, mut stage2_encoder_variances) = (None, None, None);
        if let (Some(s2), Some(_)) = (&run.stage2, steps2) {
            stage2 = Some(StageTwo {
                gamma_z: s2.vae.gamma(&s2.store)?.map(f64::from),
            });
            gamma_z_history = Some(history(dir, 2, "gamma")?);
            let (mu_u, sigma_u) =
                generate::encode_batches(&s2.vae, &s2.store, n, opts.batch, |start, len| {
                    z.narrow0(start, len)
                })?;
            let u = posterior_samples(&mu_u, &sigma_u, opts.seed, STREAM_Q_U)?;
            spectra.stage2 = Some(scaled(&u)?);
            mmd.stage2 = Some(mmd::mmd_to_standard_normal(
                &head(&u, mmd_rows)?,
                opts.seed,
            )?);
            stage2_encoder_variances =
                Some(active::encoder_variances(&sigma_u.to_vec()?, latent));
        }
        Ok(EvalDoc {
            run: dir.display().to_string(),
            split: split.into(),
            images: run.data.len(),
            stage1_steps: steps1,
            stage2_steps: steps2,
            adapter: gpu.info.name.clone(),
            information_plane,
            stage1,
            gamma_history: history(dir, 1, "gamma")?,
            gamma_free_nll,
            latent_plane,
            encoder_variances,
            information,
            spectra,
            mmd,
            stage2,
            gamma_z_history,
            stage2_encoder_variances,
            log_likelihood: log_likelihood(s1, &run, opts)?,
            frechet,
            sequence,
        })
    })?;
    run_dir::write_json(&dir.join(run_dir::EVAL), &doc)?;
    drop(run);
    // The evaluation's batches and matrices are not needed by what follows (the next run of a
    // reproduction, a report): give their memory back.
    gpu.trim()?;
    Ok(doc)
}
