//! `vae-gpu report`: one self-contained HTML page (inline SVG plots and PNG grids, no script,
//! nothing fetched) from the files of one or more run directories — config.json,
//! metrics.jsonl, eval.json and the grids. It reads files only: the GPU work (eval) happens
//! before, in `eval::evaluate`. Plots by `plots` (plotters), grids by `images`, the page by
//! a minijinja template (`report.html`).

pub mod images;
pub mod plots;

use crate::error::{Error, Result};
use crate::eval::document::{self, EvalDoc, FrechetDistances, SequenceDoc};
use crate::pipelines::config_file::{self, ConfigFile};
use crate::run_dir;
use crate::text::value_name;
use base64::Engine;
use plots::{Axes, Scale, Series};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a run directory holds, read.
pub struct RunFiles {
    pub dir: PathBuf,
    /// A short name, unique among the runs of one report.
    pub name: String,
    pub config: ConfigFile,
    pub metrics: Vec<run_dir::MetricsRow>,
    pub eval: Option<EvalDoc>,
}

/// Whether `dir` looks like a run directory (`train --out` writes config.json first).
pub fn is_run(dir: &Path) -> bool {
    dir.join(run_dir::CONFIG).is_file()
}

impl RunFiles {
    /// Reads `dir`; a folder without config.json is refused, naming it.
    pub fn read(dir: &Path) -> Result<RunFiles> {
        let config = config_file::read(dir)?;
        let metrics = run_dir::read_metrics(dir)?;
        let eval = if dir.join(run_dir::EVAL).is_file() {
            Some(document::read(dir)?)
        } else {
            None
        };
        Ok(RunFiles {
            dir: dir.to_path_buf(),
            name: String::new(),
            config,
            metrics,
            eval,
        })
    }

    fn dataset(&self) -> String {
        self.config.train.data.clone()
    }

    /// Values D of one image.
    fn image_len(&self) -> f64 {
        self.config.dataset.image_len() as f64
    }

    /// (step, value) of `key` in the rows of `stage`.
    fn series(&self, stage: u32, key: &str) -> Vec<(f64, f64)> {
        run_dir::series(&self.metrics, stage, key)
            .into_iter()
            .map(|(s, v)| (s as f64, v))
            .collect()
    }

    /// Training seconds of `stage`: as the last row records them, or (rows written before
    /// the time was recorded) from the examples/s of each logged row.
    fn seconds(&self, stage: u32) -> f64 {
        if let Some(s) = self
            .metrics
            .iter()
            .rfind(|r| r.stage == stage)
            .and_then(|r| r.seconds)
        {
            return s;
        }
        let batch = self.config.train.batch_size as f64;
        let mut last = 0.0;
        let mut total = 0.0;
        for r in self.metrics.iter().filter(|r| r.stage == stage) {
            let step = r.step as f64;
            if r.examples_per_second > 0.0 {
                total += (step - last) * batch / r.examples_per_second;
            }
            last = step;
        }
        total
    }
}

/// Gives each run the shortest trailing part of its path that tells it from the others.
fn name_runs(runs: &mut [RunFiles]) {
    let parts: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            r.dir
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .filter(|c| c != ".")
                .collect()
        })
        .collect();
    let longest = parts.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let tail = |p: &Vec<String>, k: usize| p[p.len().saturating_sub(k)..].join("/");
    let k = (1..=longest)
        .find(|k| {
            let names: std::collections::BTreeSet<String> =
                parts.iter().map(|p| tail(p, *k)).collect();
            names.len() == parts.len()
        })
        .unwrap_or(longest);
    for (r, p) in runs.iter_mut().zip(&parts) {
        r.name = tail(p, k);
    }
}

fn data_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// One plot on the page: its SVG (None: nothing to draw, said in words) and a caption.
#[derive(Serialize)]
struct Plot {
    title: String,
    svg: Option<String>,
    caption: String,
}

/// One grid image on the page.
#[derive(Serialize)]
struct Image {
    title: String,
    src: String,
    alt: String,
    width: usize,
    height: usize,
    /// Row labels (reconstruction grids): (text, y of the row's middle).
    labels: Vec<(String, usize)>,
}

#[derive(Serialize)]
struct RunSection {
    name: String,
    dir: String,
    summary: Vec<(String, String)>,
    plots: Vec<Plot>,
    images: Vec<Image>,
    config: String,
    eval_missing: bool,
}

/// A table: header and rows of cells.
#[derive(Serialize)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// A number for a table cell: 4 significant digits, scientific when small or large.
pub fn cell(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x != 0.0 && (x.abs() < 1e-2 || x.abs() >= 1e5) => format!("{x:.2e}"),
        Some(x) => format!("{x:.4}"),
    }
}

fn plot(title: &str, svg: Option<String>, caption: &str) -> Plot {
    Plot {
        title: title.into(),
        svg,
        caption: caption.into(),
    }
}

/// The curves against step, one line per run: (metric key, title, y scale, stage).
const CURVES: [(&str, &str, Scale, u32); 10] = [
    ("loss", "loss", Scale::Linear, 1),
    (
        "reconstruction",
        "reconstruction term −log p(x | z)",
        Scale::Linear,
        1,
    ),
    ("kl", "KL(q(z | x) ‖ N(0, I)), nats", Scale::Log, 1),
    ("mse", "MSE per pixel", Scale::Log, 1),
    ("gamma", "γ (decoder standard deviation)", Scale::Log, 1),
    ("lambda", "GECO's λ", Scale::Log, 1),
    ("constraint", "GECO's constraint C", Scale::Linear, 1),
    (
        "mi",
        "Î(x; z) during training, nats (Zhao et al., Figures 5 and 6)",
        Scale::Linear,
        1,
    ),
    ("loss", "stage-2 loss", Scale::Linear, 2),
    (
        "gamma",
        "γ_z (stage 2's decoder standard deviation)",
        Scale::Log,
        2,
    ),
];

fn curves(runs: &[RunFiles]) -> Result<Vec<Plot>> {
    let mut out = Vec::new();
    for (key, title, scale, stage) in CURVES {
        let series: Vec<Series> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| Series {
                name: r.name.clone(),
                colour: i,
                points: r.series(stage, key),
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        if series.is_empty() {
            continue;
        }
        let axes = Axes {
            title,
            x: if stage == 2 { "stage-2 step" } else { "step" },
            y: key,
            x_scale: Scale::Linear,
            y_scale: scale,
        };
        let note = if scale == Scale::Log {
            "log scale; training batches, as logged in metrics.jsonl"
        } else {
            "training batches, as logged in metrics.jsonl"
        };
        out.push(plot(
            title,
            plots::lines(&axes, &series, false, None, None)?,
            note,
        ));
    }
    // Beside Î, the per-pixel NLL Zhao et al. plot it against: the reconstruction term / D.
    let nll: Vec<Series> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.series(1, "mi").is_empty())
        .map(|(i, r)| Series {
            name: r.name.clone(),
            colour: i,
            points: r
                .series(1, "reconstruction")
                .into_iter()
                .map(|(s, v)| (s, v / r.image_len()))
                .collect(),
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    if !nll.is_empty() {
        let axes = Axes {
            title: "−log p(x | z) per pixel, nats",
            x: "step",
            y: "nats per pixel",
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
        };
        out.push(plot(
            "per-pixel negative log-likelihood (Zhao et al., Figures 5 and 6)",
            plots::lines(&axes, &nll, false, None, None)?,
            "the reconstruction term over the pixels, on training batches: beside Î(x; z), whether a lower likelihood loss came with or without using the code",
        ));
    }
    Ok(out)
}

/// Rezende & Viola's Figure 3: KL against the distortion Σ(x − μ_x)² per image along
/// training, one line per run, with the GECO targets as vertical lines.
fn information_plane(runs: &[RunFiles]) -> Result<Plot> {
    let series: Vec<Series> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let d = r.image_len();
            let kl = r.series(1, "kl");
            let mse = r.series(1, "mse");
            Series {
                name: r.name.clone(),
                colour: i,
                points: kl
                    .iter()
                    .zip(&mse)
                    .filter(|(a, b)| a.0 == b.0)
                    .map(|(a, b)| (b.1 * d, a.1))
                    .collect(),
            }
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    let target = runs.iter().find_map(|r| {
        let rmse = r.config.train.geco?.rmse;
        Some(r.image_len() * rmse * rmse)
    });
    let axes = Axes {
        title: "information plane",
        x: "distortion Σ(x − μ_x)² per image",
        y: "KL, nats",
        x_scale: Scale::Log,
        y_scale: Scale::Log,
    };
    let svg = plots::lines(
        &axes,
        &series,
        false,
        None,
        target.map(|t| (t, "GECO's target κ² = D·R²")),
    )?;
    Ok(plot(
        "information plane (Rezende & Viola, Figure 3)",
        svg,
        "KL against distortion along training (both log scales); a run moves from the right to the left as it learns to reconstruct. The distortion, not the likelihood term, so runs of different γ and objectives share the plane.",
    ))
}

/// The diagnostics' plots of one evaluated run.
fn run_plots(r: &RunFiles, eval: &EvalDoc) -> Result<Vec<Plot>> {
    let mut out = Vec::new();
    let ev = &eval.encoder_variances.variances;
    let t = ev.threshold;
    out.push(plot(
        "encoder variances, stage 1",
        plots::variance_bars(
            "mean σ_z² per latent dimension, stage 1",
            &ev.mean_variance,
            t,
        )?,
        &format!(
            "Dai & Wipf, Section 3: {} dimensions active (mean σ_z² < {t}), {} superfluous, {} undecided{}",
            ev.active,
            ev.superfluous,
            ev.undecided,
            eval.encoder_variances
                .true_manifold_dim
                .map_or(String::new(), |d| format!("; the data's true dimension r = {d}"))
        ),
    ));
    if let Some(ev2) = &eval.stage2_encoder_variances {
        out.push(plot(
            "encoder variances, stage 2",
            plots::variance_bars(
                "mean σ_u² per latent dimension, stage 2",
                &ev2.mean_variance,
                ev2.threshold,
            )?,
            "stage 2 should use every dimension of u (Dai & Wipf, Section 4)",
        ));
    }
    let sp = &eval.spectra;
    let series: Vec<Series> = [
        (Some(&sp.stage1), "z ~ q(z), stage 1"),
        (sp.stage2.as_ref(), "u ~ q(u), stage 2"),
        (Some(&sp.normal), "N(0, I)"),
    ]
    .iter()
    .enumerate()
    .filter_map(|(i, (v, name))| {
        let v = (*v)?;
        Some(Series {
            name: name.to_string(),
            colour: i,
            points: v
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64 + 1.0, *s))
                .collect(),
        })
    })
    .collect();
    out.push(plot(
        "singular values of the latent samples",
        plots::lines(
            &Axes {
                title: "singular values / √rows",
                x: "index",
                y: "singular value",
                x_scale: Scale::Linear,
                y_scale: Scale::Log,
            },
            &series,
            false,
            None,
            None,
        )?,
        &format!(
            "{} rows each (log scale); N(0, I) stays near 1, a stage-1 code that uses few dimensions falls off after them",
            sp.rows
        ),
    ));
    if let Some(p) = &eval.latent_plane {
        let points: Vec<[f64; 2]> = p
            .points
            .iter()
            .map(|q| [q[0] as f64, q[1] as f64])
            .collect();
        let labels = p.labels.as_deref();
        out.push(plot(
            "the encoded test set in the latent plane",
            plots::scatter(
                &format!("μ_z of {} test images", points.len()),
                &points,
                labels,
            )?,
            &format!(
                "the thesis chapter's Figure 5.3: posterior means of {}, coloured by label",
                r.name
            ),
        ));
        if let Some(v) = &p.posterior_variance {
            out.push(plot(
                "the posterior variance over the latent plane",
                plots::heatmap(
                    "Σᵢ Var_q(x|z)[xᵢ] on the decoded lattice",
                    v,
                    p.grid_axis.len(),
                )?,
                "Zhao et al.'s Figure 2: the total variance of the images q(x | z) ∝ q(z | x)·p_data(x) gives each point of the decoded lattice's cells (importance weights over the encoded test images); decoded images are blurry where it is high, as the decoder averages dissimilar images there",
            ));
        }
    }
    if let Some(q) = &eval.sequence {
        out.push(sequence_plot(q, eval.frechet.measured())?);
    }
    Ok(out)
}

/// A Sequential VAE's steps: each a ratio, so one axis holds them all.
fn sequence_plot(q: &SequenceDoc, fd: Option<&FrechetDistances>) -> Result<Plot> {
    let per_step = |name: &str, colour: usize, v: &[f64], by: f64| Series {
        name: name.into(),
        colour,
        points: v
            .iter()
            .enumerate()
            .map(|(t, x)| ((t + 1) as f64, x / by))
            .collect(),
    };
    let mut series = vec![
        per_step(
            "sample sharpness ÷ the test images'",
            0,
            &q.sample_sharpness,
            q.data_sharpness,
        ),
        per_step(
            "reconstruction MSE ÷ step 1's",
            1,
            &q.reconstruction_mse,
            q.reconstruction_mse[0],
        ),
    ];
    if let Some(v) = fd.and_then(|f| f.samples_per_step.as_deref()) {
        series.push(per_step(
            "Fréchet distance of samples ÷ step 1's",
            2,
            v,
            v[0],
        ));
    }
    let axes = Axes {
        title: "the Sequential VAE step by step",
        x: "step t",
        y: "ratio",
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
    };
    Ok(plot(
        "the Sequential VAE step by step",
        plots::lines(&axes, &series, true, Some((1.0, "1")), None)?,
        &format!(
            "Zhao et al.'s Proposition 5 on {} test images and as many samples: the reconstruction error (what a 2-norm decoder leaves of the posterior's variance) should not grow with the steps, and later steps' samples should be sharper, their Laplacian energy nearer the data's",
            q.images
        ),
    ))
}

fn grid_image(
    r: &RunFiles,
    file: &str,
    title: &str,
    alt: &str,
    labelled: bool,
) -> Result<Option<Image>> {
    let path = r.dir.join(file);
    if !path.is_file() {
        return Ok(None);
    }
    let side = r.config.dataset.side;
    let g = images::legible(&path, side)?;
    let labels = if labelled {
        (0..g.rows)
            .map(|row| {
                let text = if row % 2 == 0 {
                    "original"
                } else {
                    "reconstruction"
                };
                (text.to_string(), row * g.pitch + g.pitch / 2)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Image {
        title: title.into(),
        src: data_uri(&g.png),
        alt: alt.into(),
        width: g.width,
        height: g.height,
        labels,
    }))
}

/// The run's grids; without the two sample grids when the page's top shows them already.
fn run_images(r: &RunFiles, samples_on_top: bool) -> Result<Vec<Image>> {
    let mut out = Vec::new();
    let ancestral = if r.dir.join(run_dir::SAMPLES_ANCESTRAL).is_file() {
        run_dir::SAMPLES_ANCESTRAL
    } else {
        run_dir::SAMPLES_ANCESTRAL_FORMER
    };
    for (file, title, alt, labelled) in [
        (
            run_dir::SAMPLES,
            "stage-1 samples: z ~ N(0, I) → μ_x(z)",
            "a grid of images decoded from z drawn from N(0, I) by stage 1",
            false,
        ),
        (
            run_dir::SAMPLES_TWO_STAGE,
            "two-stage samples: u ~ N(0, I) → z → μ_x(z)",
            "a grid of images sampled through both stages",
            false,
        ),
        (
            ancestral,
            "ancestral stage-1 samples: z ~ N(0, I), x ~ p(x | z)",
            "a grid of images sampled from the decoder's distribution, every pixel drawn independently given z",
            false,
        ),
        (
            run_dir::RECONSTRUCTIONS,
            "training images and their reconstructions",
            "rows of training images, each followed by a row of their reconstructions",
            true,
        ),
        (
            run_dir::SAMPLES_STEPS,
            "the Sequential VAE step by step: x_t after each step t",
            "a row per draw z ~ N(0, I), a column per step from the first (a plain VAE of this architecture) to the last; Zhao et al.'s Figure 4",
            false,
        ),
        (
            run_dir::LATENT_GRID,
            "the decoded latent plane: μ_x(z) over a grid of z",
            "images decoded from a grid over the 2-d latent plane, z₁ down the rows and z₂ across",
            false,
        ),
    ] {
        if samples_on_top && (file == run_dir::SAMPLES || file == run_dir::SAMPLES_TWO_STAGE) {
            continue;
        }
        if let Some(i) = grid_image(r, file, title, alt, labelled)? {
            out.push(i);
        }
    }
    // Markov chains `vae-gpu sample --markov-chain` (or a reproduction) drew.
    let mut chains: Vec<String> = std::fs::read_dir(&r.dir)
        .map_err(|e| Error::io(&r.dir, e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(run_dir::MARKOV_CHAIN_STEM) && n.ends_with(".png"))
        .collect();
    chains.sort();
    for name in chains {
        let title = format!("Markov chain from noise (Proposition 2): {name}");
        let alt = "a row per chain: uniform noise, then x after each alternation z ~ q(z | x), x ~ p(x | z)";
        out.extend(grid_image(r, &name, &title, alt, false)?);
    }
    Ok(out)
}

/// Stage 1's samples beside the two-stage samples of a run that has both: Dai & Wipf's
/// claim at a glance, for the top of the page.
#[derive(Serialize)]
struct SamplePair {
    name: String,
    stage1: Image,
    two_stage: Image,
}

fn sample_pair(r: &RunFiles) -> Result<Option<SamplePair>> {
    let one = grid_image(
        r,
        run_dir::SAMPLES,
        "stage 1: z ~ N(0, I) → μ_x(z)",
        "a grid of images decoded from z drawn from N(0, I) by stage 1",
        false,
    )?;
    let two = grid_image(
        r,
        run_dir::SAMPLES_TWO_STAGE,
        "two stages: u ~ N(0, I) → z → μ_x(z)",
        "a grid of images sampled through both stages",
        false,
    )?;
    Ok(match (one, two) {
        (Some(stage1), Some(two_stage)) => Some(SamplePair {
            name: r.name.clone(),
            stage1,
            two_stage,
        }),
        _ => None,
    })
}

fn summary(r: &RunFiles) -> Vec<(String, String)> {
    let c = &r.config;
    let t = &c.train;
    let mut out = vec![
        (
            "data".into(),
            format!("{} ({} images)", t.data, c.dataset.images),
        ),
        (
            "model".into(),
            format!(
                "{}, {} net, latent {}",
                value_name(&t.model),
                value_name(&t.net),
                t.latent_dim
            ),
        ),
        (
            "objective".into(),
            format!(
                "{}, regulariser {} (weight {}){}",
                t.likelihood.name(),
                value_name(&t.regularizer),
                t.beta,
                t.geco
                    .map_or(String::new(), |g| format!(", GECO R = {}", g.rmse))
            ),
        ),
        (
            "steps".into(),
            format!(
                "{} (stage 1){}",
                c.total_steps,
                c.stage2_total_steps
                    .map_or(String::new(), |n| format!(" + {n} (stage 2)"))
            ),
        ),
        (
            "adapter".into(),
            format!(
                "{} ({}, {})",
                c.adapter.name, c.adapter.backend, c.adapter.driver_info
            ),
        ),
        ("vae-gpu".into(), c.vae_gpu_version.clone()),
    ];
    let (t1, t2) = (r.seconds(1), r.seconds(2));
    if t1 > 0.0 {
        out.push((
            "training time".into(),
            format!(
                "{}{}",
                crate::text::duration(t1),
                if t2 > 0.0 {
                    format!(" + {} (stage 2)", crate::text::duration(t2))
                } else {
                    String::new()
                }
            ),
        ));
    }
    if let Some(e) = &r.eval {
        out.push((
            "evaluated on".into(),
            format!("{} split, {} images, {}", e.split, e.images, e.adapter),
        ));
    }
    out
}

/// The MMD and Fréchet table, and the other headline numbers, a row per evaluated run.
fn diagnostics_table(runs: &[RunFiles]) -> Table {
    let header = [
        "run",
        "test MSE",
        "KL",
        "γ",
        "active dims",
        "MMD² q(z)",
        "MMD² q(u)",
        "MMD² floor",
        "FD two-stage",
        "FD stage 1",
        "FD recon.",
        "FD floor",
        "Î(x; z)",
        "NLL γ-free, bits/dim",
    ]
    .map(String::from)
    .to_vec();
    let rows = runs
        .iter()
        .filter_map(|r| {
            let e = r.eval.as_ref()?;
            let fd = e.frechet.measured();
            Some(vec![
                r.name.clone(),
                cell(e.stage1.mse),
                cell(Some(e.stage1.kl)),
                cell(e.stage1.gamma),
                e.encoder_variances.variances.active.to_string(),
                cell(Some(e.mmd.stage1)),
                cell(e.mmd.stage2),
                cell(Some(e.mmd.null)),
                cell(fd.and_then(|d| d.two_stage_samples)),
                cell(fd.map(|d| d.stage1_samples)),
                cell(fd.map(|d| d.reconstructions)),
                cell(fd.map(|d| d.train_images_floor)),
                cell(Some(e.information.information.mutual_information)),
                cell(e.gamma_free_nll.as_ref().map(|n| n.nll.bits_per_dim)),
            ])
        })
        .collect();
    Table { header, rows }
}

/// What the page is about beyond the runs (e.g. `reproduce`'s table), given by the caller.
#[derive(Default, Serialize)]
pub struct Extra {
    pub title: Option<String>,
    /// Markdown-free paragraphs.
    pub notes: Vec<String>,
    pub tables: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
}

const TEMPLATE: &str = include_str!("report.html");

/// The page for `runs` (read with `RunFiles::read`), as HTML.
pub fn render(mut runs: Vec<RunFiles>, extra: &Extra) -> Result<String> {
    if runs.is_empty() {
        return Err(Error::flag("RUN", "give at least one run directory"));
    }
    name_runs(&mut runs);
    let datasets: std::collections::BTreeSet<String> = runs.iter().map(RunFiles::dataset).collect();
    let mixed = (datasets.len() > 1).then(|| {
        format!(
            "These runs are of different datasets ({}): their curves and numbers are not comparable across datasets.",
            datasets.iter().cloned().collect::<Vec<_>>().join(", ")
        )
    });
    let mut sections = Vec::new();
    let mut pairs = Vec::new();
    for r in &runs {
        let pair = sample_pair(r)?;
        let on_top = pair.is_some();
        pairs.extend(pair);
        let plots = match &r.eval {
            Some(e) => run_plots(r, e)?,
            None => Vec::new(),
        };
        sections.push(RunSection {
            name: r.name.clone(),
            dir: r.dir.display().to_string(),
            summary: summary(r),
            plots,
            images: run_images(r, on_top)?,
            config: serde_json::to_string_pretty(&r.config).expect("JSON serialises"),
            eval_missing: r.eval.is_none(),
        });
    }
    let table = diagnostics_table(&runs);
    let extra_tables: Vec<Table> = extra
        .tables
        .iter()
        .map(|(_, h, rows)| Table {
            header: h.clone(),
            rows: rows.clone(),
        })
        .collect();
    let extra_titles: Vec<&String> = extra.tables.iter().map(|t| &t.0).collect();
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| Error::data("report.html", format!("template: {e}")))?;
    let tmpl = env.get_template("report.html").expect("added above");
    let title = extra.title.clone().unwrap_or_else(|| {
        if runs.len() == 1 {
            format!("vae-gpu report: {}", runs[0].name)
        } else {
            format!("vae-gpu report: {} runs", runs.len())
        }
    });
    fn v<T: Serialize>(x: T) -> minijinja::Value {
        minijinja::Value::from(minijinja::value::Serde(x))
    }
    let ctx = minijinja::context! {
        title => title,
        version => env!("CARGO_PKG_VERSION"),
        mixed => mixed,
        notes => v(&extra.notes),
        extra_tables => v(&extra_tables),
        extra_titles => v(&extra_titles),
        curves => v(curves(&runs)?),
        plane => v(information_plane(&runs)?),
        table => v(&table),
        pairs => v(&pairs),
        runs => v(&sections),
    };
    tmpl.render(ctx)
        .map_err(|e| Error::data("report.html", format!("rendering the page: {e}")))
}

/// Renders the page for the runs in `dirs` into `out`, atomically.
pub fn write(dirs: &[PathBuf], extra: &Extra, out: &Path) -> Result<()> {
    let runs = dirs
        .iter()
        .map(|d| RunFiles::read(d))
        .collect::<Result<Vec<_>>>()?;
    let html = render(runs, extra)?;
    run_dir::write_atomic(out, html.as_bytes())
}
