//! `vae-gpu train`, `vae-gpu sample`, `vae-gpu reconstruct`.

use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use vae_gpu::data::{shapes, Split};
use vae_gpu::models::generate::{self, Draw};
use vae_gpu::pipelines::config::RunConfig;
use vae_gpu::pipelines::overrides::RunOverrides;
use vae_gpu::pipelines::{self, two_stage, Run};
use vae_gpu::run_dir;
use vae_gpu::text::{count, number, value_name};
use vae_gpu::{Error, Gpu, Result, Selection};

/// `vae-gpu train`'s flags: the run's settings as overrides of the defaults, and where the
/// run goes. `--resume` refuses any override that would change the run (all but the lengths).
#[derive(Args, Default, Serialize)]
pub struct TrainArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub run: RunOverrides,
    /// With --resume: 2 adds stage 2 to a finished single-stage run (the --stage2-* flags
    /// then set it up)
    #[arg(long, requires = "resume", value_parser = clap::value_parser!(u32).range(2..=2))]
    pub stage: Option<u32>,
    /// Run directory [default: runs/DATA-NET-DATE-TIME]
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this directory exactly where its checkpoints left off (only the
    /// lengths, --steps/--epochs and --stage2-steps/--stage2-epochs, may be given)
    #[arg(long, conflicts_with_all = ["out", "force"])]
    pub resume: Option<PathBuf>,
    /// Replace the run already in --out
    #[arg(long)]
    pub force: bool,
    /// Settings from a file: TOML named as the flags are (`steps = 1000`), or an earlier
    /// run's config.json (a new run like it); flags given as well override it
    #[arg(short, long, conflicts_with = "resume")]
    pub config: Option<PathBuf>,
}

/// runs/DATA-NET-YYYYMMDD-HHMMSS (UTC).
fn default_out(cfg: &RunConfig) -> PathBuf {
    let t = time::OffsetDateTime::now_utc();
    let name = Path::new(&cfg.data)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    PathBuf::from("runs").join(format!(
        "{name}-{}-{:04}{:02}{:02}-{:02}{:02}{:02}",
        value_name(&cfg.net),
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// `vae-gpu train`: progress on stderr; on stdout, the run directory once the run is done
/// (what a script needs next).
pub fn run(sel: &Selection, args: TrainArgs) -> Result<i32> {
    let (code, dir) = train_in(
        &mut || Gpu::new(sel),
        args,
        super::interrupt::flag(),
        &mut |_| {},
    )?;
    if code == 0 {
        println!("{}", dir.display());
    }
    Ok(code)
}

/// `vae-gpu train` with these flags: the adapter from `gpu` (asked for only once the flags
/// are checked), stopping cleanly at the next step once `stop` is set, calling
/// `starting(stage)` as each stage begins. Returns the exit code (130 when interrupted) and
/// the run directory.
pub fn train_in(
    gpu: &mut dyn FnMut() -> Result<Arc<Gpu>>,
    args: TrainArgs,
    stop: &AtomicBool,
    starting: &mut dyn FnMut(u32),
) -> Result<(i32, PathBuf)> {
    let (cfg, dir, resume) = match &args.resume {
        Some(dir) => {
            if !dir.join(run_dir::CHECKPOINT).is_file() {
                pipelines::config_file::read(dir)?;
                return Err(Error::flag(
                    "--resume",
                    format!(
                        "{} has no {}: it stopped before its first checkpoint; start it again with --config {} --out {0} --force",
                        dir.display(),
                        run_dir::CHECKPOINT,
                        dir.join(run_dir::CONFIG).display()
                    ),
                ));
            }
            (
                args.run.resumed(dir, args.stage == Some(2))?,
                dir.clone(),
                true,
            )
        }
        None => {
            let cfg = match &args.config {
                Some(file) => RunOverrides::from_file(file)?.under(&args.run).resolve()?,
                None => args.run.resolve()?,
            };
            cfg.validate()?;
            let dir = args.out.clone().unwrap_or_else(|| default_out(&cfg));
            (cfg, dir, false)
        }
    };
    let gpu = gpu()?;
    // Everything that can be checked is checked before the run directory is touched.
    let run = Run::new(&gpu, cfg)?;
    if !resume {
        run_dir::prepare_new(&dir, args.force)?;
    } else if args.stage == Some(2) {
        let s1 = pipelines::checkpoint_steps(&dir.join(run_dir::CHECKPOINT))?.unwrap_or(0);
        if s1 < run.stage1_steps() {
            return Err(Error::flag(
                "--stage",
                format!(
                    "stage 1 of {} is unfinished ({s1} of {} steps): finish it with --resume {0} first",
                    dir.display(),
                    run.stage1_steps()
                ),
            ));
        }
    }
    if resume {
        if let Some(s1) = pipelines::check_resumable(&run, &dir)? {
            let to = run_dir::set_aside_stage2(&dir, s1)?;
            eprintln!(
                "stage 1 trains on from step {s1} to {}; the stage 2 trained on it no longer fits its latents and is set aside in {} (a new one is trained after)",
                run.stage1_steps(),
                to.display()
            );
        }
        // The lengths asked for (and a stage 2 added) become the run's settings.
        run.write_config(&gpu, &dir)?;
    }
    let stages = match run.stage2_steps() {
        Some(s2) => format!("{} + {s2} steps (stages 1 + 2)", run.stage1_steps()),
        None => count(run.stage1_steps(), "step"),
    };
    // A stage 2 whose length came from stage 1's says so.
    let derived = !resume
        && run.stage2.is_some()
        && args.run.length().is_some()
        && args.run.stage2_length().is_none();
    eprintln!(
        "vae-gpu train: {} ({} images {}×{}×{}), {} net, {} parameters{}, {stages}, on {} ({:?}); run directory {}",
        run.data.source,
        run.data.len(),
        run.data.channels,
        run.data.side,
        run.data.side,
        value_name(&run.cfg.net),
        run.stage1.store.count(),
        run.stage2
            .as_ref()
            .map_or(String::new(), |s| format!(" + {} in stage 2", s.store.count())),
        gpu.info.name,
        gpu.info.backend,
        dir.display()
    );
    if derived {
        eprintln!(
            "stage 2's length follows stage 1's by the defaults' ratio; --stage2-steps or --stage2-epochs sets it"
        );
    }
    let mut information = vae_gpu::eval::information::DuringTraining::new(&run);
    let done = pipelines::train(&gpu, &run, &dir, resume, stop, starting, &mut information)?;
    let last = done.stage2.as_ref().unwrap_or(&done.stage1);
    if let Some(row) = &last.last {
        let values: Vec<String> = row
            .values
            .iter()
            .map(|(k, v)| format!("{k} {}", number(*v)))
            .collect();
        eprintln!(
            "last metrics (stage {}, step {}): {}",
            row.stage,
            row.step,
            values.join(" | ")
        );
    }
    if done.interrupted() {
        eprintln!(
            "stopped at step {} of stage {}; continue with: vae-gpu train --resume {}",
            last.steps,
            if done.stage2.is_some() { 2 } else { 1 },
            dir.display()
        );
        return Ok((130, dir));
    }
    let written: Vec<String> = run_dir::ALL
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    eprintln!("done; wrote {}", written.join(", "));
    if run.data.source == "shapes" {
        eprintln!(
            "(shapes lie on a {}-dimensional manifold; `vae-gpu eval {}` counts the active latent dimensions)",
            shapes::MANIFOLD_DIM,
            dir.display()
        );
    }
    Ok((0, dir))
}

/// `sample`'s and `reconstruct`'s default numbers of images, train's own grids'; `sample
/// --markov-chain`'s chains.
const SAMPLES_N: usize = 64;
const CHAINS_N: usize = 8;
const RECONSTRUCTIONS_N: usize = 32;

#[derive(Args)]
pub struct SampleArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Number of images [default: 64; with --markov-chain, 8 chains]
    #[arg(short, long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    n: Option<u64>,
    /// x ~ p(x | z) (μ_x + γ·ε, or Bernoulli draws) instead of x = μ_x(z)
    #[arg(long)]
    ancestral: bool,
    /// x = μ_x(z) + α·σ_x: every pixel at the same quantile of its distribution (σ_x = γ for
    /// Gaussian decoders, GECO's 1/√(2λ), √(μ(1 − μ)) for Bernoulli), clamped to [0, 1]
    #[arg(long, conflicts_with = "ancestral", allow_hyphen_values = true)]
    alpha: Option<f32>,
    /// Seeds z (and the pixel noise) [default: the run's seed, so 64 deterministic samples
    /// are the run's own grid]
    #[arg(long)]
    seed: Option<u64>,
    /// 2: two-stage samples u ~ N(0, I) → z = ẑ(u) + γ_z·ε → x; 1: z ~ N(0, I) straight into
    /// stage 1's decoder [default: 2 on a two-stage run, else 1]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    stage: Option<u32>,
    /// Zhao et al.'s Markov chain instead of the prior (Proposition 2): K alternations
    /// z ~ q(z | x), x ~ p(x | z) of stage 1 from uniform noise, which samples the data where
    /// ancestral sampling fails (no regulariser); a grid of the chains (rows) at step 0 and
    /// every --every steps (columns)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    markov_chain: Option<u64>,
    /// With --markov-chain: a column every E steps [default: K/8, at least 1]
    #[arg(long, requires = "markov_chain", value_parser = clap::value_parser!(u64).range(1..))]
    every: Option<u64>,
    /// Output PNG [default: RUN/samples[-two-stage|-markov-chainK]-MODE[-seedS][-nN].png, MODE
    /// deterministic, ancestral or alphaA; seed and n named when they are not the defaults]
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub fn sample(sel: &Selection, a: SampleArgs) -> Result<i32> {
    pipelines::config_file::read(&a.run)?;
    if let Some(out) = &a.out {
        super::out::prepare("--out", out, "png")?;
    }
    let gpu = Gpu::new(sel)?;
    let (run, steps1, steps2) = pipelines::open(&gpu, &a.run, None)?;
    if let Some(k) = a.markov_chain {
        return markov_chain(&a, &run, steps1, k as usize);
    }
    let stage = match (a.stage, steps2) {
        (Some(2), None) => {
            return Err(Error::flag(
                "--stage",
                format!(
                    "{} has no trained stage 2 (train one with vae-gpu train --resume {0}{})",
                    a.run.display(),
                    if run.stage2.is_none() {
                        " --stage 2"
                    } else {
                        ""
                    }
                ),
            ))
        }
        (Some(s), _) => s,
        (None, Some(_)) => 2,
        (None, None) => 1,
    };
    let n = a.n.map_or(SAMPLES_N, |n| n as usize);
    let how = draw_of(&a)?;
    let seed = a.seed.unwrap_or(run.cfg.seed);
    let x = if stage == 2 {
        two_stage::sample(&run, steps1, n, seed, how)?
    } else {
        let s = &run.stage1;
        s.with_debiased_bn(steps1, || generate::sample(&s.vae, &s.store, n, seed, how))?
    };
    let mode = how.name();
    let mut qualifiers = Vec::new();
    if stage == 2 {
        qualifiers.push("two-stage".to_string());
    }
    qualifiers.push(mode.clone());
    if seed != run.cfg.seed {
        qualifiers.push(format!("seed{seed}"));
    }
    if n != SAMPLES_N {
        qualifiers.push(format!("n{n}"));
    }
    let out = a.out.unwrap_or_else(|| {
        a.run
            .join(run_dir::output_name("samples", &qualifiers, "png"))
    });
    vae_gpu::grid::write_png(&out, &x, run.data.channels, run.data.side, 8)?;
    eprintln!(
        "wrote {n} {mode} {} samples",
        if stage == 2 { "two-stage" } else { "stage-1" }
    );
    println!("{}", out.display());
    Ok(0)
}

/// How `sample` turns decoder outputs into images.
fn draw_of(a: &SampleArgs) -> Result<Draw> {
    Ok(match (a.ancestral, a.alpha) {
        (_, Some(alpha)) if !alpha.is_finite() => {
            return Err(Error::flag(
                "--alpha",
                format!("must be a finite number, not {alpha}"),
            ))
        }
        (_, Some(alpha)) => Draw::Shifted(alpha),
        (true, None) => Draw::Ancestral,
        (false, None) => Draw::Mean,
    })
}

/// `sample --markov-chain K`: stage 1's chain from noise, the chains as rows of snapshots.
fn markov_chain(a: &SampleArgs, run: &Run, steps1: u64, k: usize) -> Result<i32> {
    if a.stage == Some(2) {
        return Err(Error::flag(
            "--stage",
            "the Markov chain alternates stage 1's encoder and decoder; it has no stage-2 form",
        ));
    }
    let how = draw_of(a)?;
    let n = a.n.map_or(CHAINS_N, |n| n as usize);
    let every = a.every.map_or((k / 8).max(1), |e| e as usize);
    let seed = a.seed.unwrap_or(run.cfg.seed);
    let chain = Chain {
        n,
        steps: k,
        every,
        seed,
        how,
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| a.run.join(chain.file_name(run.cfg.seed)));
    write_markov_chain(run, steps1, &chain, &out)?;
    eprintln!(
        "wrote {n} Markov chains of {k} steps from noise (columns: step 0 and every {every})"
    );
    println!("{}", out.display());
    Ok(0)
}

/// `n` Markov chains of `steps` alternations from noise, a snapshot every `every`.
pub(super) struct Chain {
    pub n: usize,
    pub steps: usize,
    pub every: usize,
    pub seed: u64,
    pub how: Draw,
}

impl Chain {
    /// The default name: every setting away from its default, for a run seeded `run_seed`.
    pub fn file_name(&self, run_seed: u64) -> String {
        let mut qualifiers = vec![format!("markov-chain{}", self.steps), self.how.name()];
        if self.seed != run_seed {
            qualifiers.push(format!("seed{}", self.seed));
        }
        if self.n != CHAINS_N {
            qualifiers.push(format!("n{}", self.n));
        }
        run_dir::output_name("samples", &qualifiers, "png")
    }
}

/// Stage 1's chains as rows of snapshots in `out`.
pub(super) fn write_markov_chain(run: &Run, steps1: u64, c: &Chain, out: &Path) -> Result<()> {
    let s = &run.stage1;
    let snaps = s.with_debiased_bn(steps1, || {
        generate::markov_chain(&s.vae, &s.store, c.n, c.steps, c.every, c.seed, c.how)
    })?;
    // Tile (chain i, snapshot j) at row i, column j.
    let width = run.data.image_len();
    let cols = snaps.len();
    let mut tiles = Vec::with_capacity(c.n * cols * width);
    for i in 0..c.n {
        for snap in &snaps {
            tiles.extend_from_slice(&snap[i * width..(i + 1) * width]);
        }
    }
    vae_gpu::grid::write_png(out, &tiles, run.data.channels, run.data.side, cols)
}

#[derive(Args)]
pub struct ReconstructArgs {
    /// A run directory written by `vae-gpu train`
    run: PathBuf,
    /// Number of images (originals and reconstructions in alternating rows of 8)
    #[arg(short, long, default_value_t = RECONSTRUCTIONS_N as u64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    n: u64,
    /// Which split of the run's dataset
    #[arg(long, value_enum, ignore_case = true, default_value_t = Split::Test)]
    split: Split,
    /// Output PNG [default: RUN/reconstructions-SPLIT[-nN].png]
    #[arg(short, long)]
    out: Option<PathBuf>,
}

pub fn reconstruct(sel: &Selection, a: ReconstructArgs) -> Result<i32> {
    let split = a.split;
    pipelines::config_file::read(&a.run)?;
    if let Some(out) = &a.out {
        super::out::prepare("--out", out, "png")?;
    }
    let gpu = Gpu::new(sel)?;
    let (run, steps, _) = pipelines::open(&gpu, &a.run, Some(split))?;
    let s = &run.stage1;
    let n = (a.n as usize).min(run.data.len());
    let mut x = Vec::new();
    run.data.gather(&(0..n).collect::<Vec<_>>(), &mut x);
    let r = s.with_debiased_bn(steps, || generate::reconstruct(&s.vae, &s.store, &x))?;
    let tiles = vae_gpu::grid::interleave_rows(&x, &r, run.data.image_len(), 8);
    let mut qualifiers = vec![value_name(&split)];
    if a.n as usize != RECONSTRUCTIONS_N {
        qualifiers.push(format!("n{n}"));
    }
    let out = a.out.unwrap_or_else(|| {
        a.run
            .join(run_dir::output_name("reconstructions", &qualifiers, "png"))
    });
    vae_gpu::grid::write_png(&out, &tiles, run.data.channels, run.data.side, 8.min(n))?;
    eprintln!(
        "wrote {n} {} images and their reconstructions",
        value_name(&split)
    );
    println!("{}", out.display());
    Ok(0)
}
