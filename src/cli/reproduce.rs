//! `vae-gpu reproduce RECIPE --data NAME`: trains and evaluates a recipe's runs (each at each
//! seed, or one shard's slice of them), then writes table.md, table.json and report.html.
//! Every run is idempotent: one with an eval.json is skipped, one with a checkpoint resumed
//! (bit for bit), one with neither started afresh; so an interrupted reproduction continues
//! where it stopped when the same command is given again.

use super::train::{train_in, write_markov_chain, Chain, TrainArgs};
use clap::Args;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use vae_gpu::eval::evaluate::{evaluate, Options};
use vae_gpu::models::generate::{self, Draw};
use vae_gpu::pipelines::config::RunConfig;
use vae_gpu::pipelines::{self, checkpoint_steps};
use vae_gpu::reproduce::{self, recipes, Budget, Manifest, Shard};
use vae_gpu::run_dir;
use vae_gpu::text::duration;
use vae_gpu::{report, Error, Gpu, Result, Selection};

#[derive(Args)]
pub struct ReproduceArgs {
    /// dai-wipf, geco, zhao, infovae or thesis
    recipe: String,
    /// The dataset every run trains on (a name `vae-gpu train --data` takes)
    #[arg(long)]
    data: String,
    /// quick (the MLP, 600 + 400 steps: what a 2-core CPU rasteriser finishes), paper (the
    /// reference's networks and epochs), or a number of steps per stage
    #[arg(long, default_value = "quick")]
    budget: String,
    /// Runs of each row, at seeds 1..=N; the table gives mean ± std
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    seeds: u64,
    /// Train only the I-th of N slices of the runs (for a job array: --shard $I/N); then
    /// assemble the table with --collect
    #[arg(long, conflicts_with = "collect")]
    shard: Option<String>,
    /// Train nothing: assemble table.md, table.json and report.html from the runs there
    #[arg(long)]
    collect: bool,
    /// Use only the first N images of each split (quick trials)
    #[arg(long)]
    limit: Option<usize>,
    /// Resize every run's images to this side (quick trials)
    #[arg(long)]
    image_size: Option<usize>,
    /// The reproduction's folder [default: reproductions/RECIPE-DATA]
    #[arg(short, long)]
    out: Option<PathBuf>,
}

/// eval's sizes at a budget: the paper's at the paper budget, smaller (200 IWAE images, a
/// classifier of 300 steps or the budget's steps) otherwise.
fn eval_options(budget: Budget, out: &Path) -> Options {
    let mut o = Options::DEFAULT;
    o.classifier = Some(out.join(reproduce::CLASSIFIER));
    match budget {
        Budget::Paper => {}
        Budget::Quick => {
            o.iwae_images = 200;
            o.classifier_steps = 300;
        }
        Budget::Steps(n) => {
            o.iwae_images = 200;
            o.classifier_steps = (n as u64).clamp(20, 300);
        }
    }
    o
}

/// What is left of a planned run.
#[derive(Debug, PartialEq)]
enum State {
    Fresh,
    /// A directory with settings but no checkpoint yet: started afresh over vae-gpu's files.
    Restart,
    Resume,
    /// Trained; eval.json missing.
    Evaluate,
    Done,
}

/// (stage-1 steps, stage-2 steps) that `cfg` trains. Each dataset is opened once, which
/// also checks that it can be before anything is written.
fn lengths(cfg: &RunConfig, images: &mut HashMap<String, usize>) -> Result<(u64, u64)> {
    let key = format!("{:?}", cfg.data_spec());
    let n = match images.get(&key) {
        Some(n) => *n,
        None => {
            let n = vae_gpu::data::load(&cfg.data_spec())?.len();
            images.insert(key, n);
            n
        }
    };
    let per_epoch = n / cfg.batch_size.max(1);
    Ok((
        cfg.stage1.total_steps(per_epoch),
        cfg.stage2
            .as_ref()
            .map_or(0, |s| s.schedule.total_steps(per_epoch)),
    ))
}

/// The state of `dir` and the steps of each stage it has already trained.
fn state(dir: &Path, total: (u64, u64)) -> Result<(State, (u64, u64))> {
    if !dir.join(run_dir::CONFIG).is_file() {
        return Ok((State::Fresh, (0, 0)));
    }
    let Some(s1) = checkpoint_steps(&dir.join(run_dir::CHECKPOINT))? else {
        return Ok((State::Restart, (0, 0)));
    };
    let s2 = checkpoint_steps(&dir.join(run_dir::STAGE2_CHECKPOINT))?.unwrap_or(0);
    let done = (s1, s2);
    if s1 < total.0 || s2 < total.1 {
        return Ok((State::Resume, done));
    }
    if dir.join(run_dir::EVAL).is_file() {
        Ok((State::Done, done))
    } else {
        Ok((State::Evaluate, done))
    }
}

/// 64 ancestral samples x ~ p(x | z) of stage 1, beside the deterministic samples.png.
fn ancestral_samples(gpu: &Arc<Gpu>, dir: &Path) -> Result<()> {
    let (run, steps, _) = pipelines::open(gpu, dir, None)?;
    let s = &run.stage1;
    let x = s.with_debiased_bn(steps, || {
        generate::sample(&s.vae, &s.store, 64, run.cfg.seed, Draw::Ancestral)
    })?;
    let path = dir.join(run_dir::SAMPLES_ANCESTRAL);
    vae_gpu::grid::write_png(&path, &x, run.data.channels, run.data.side, 8)
}

/// Zhao et al.'s Markov chain from noise, `steps` alternations, 4 chains, every step shown.
fn markov_chain(gpu: &Arc<Gpu>, dir: &Path, steps: usize) -> Result<()> {
    let (run, steps1, _) = pipelines::open(gpu, dir, None)?;
    let chain = Chain {
        n: 4,
        steps,
        every: 1,
        seed: run.cfg.seed,
        how: Draw::Mean,
    };
    write_markov_chain(
        &run,
        steps1,
        &chain,
        &dir.join(chain.file_name(run.cfg.seed)),
    )
}

/// Every run directory of the recipe in `out`, run by run, seeds ascending (for the report).
fn existing_runs(recipe: &reproduce::Recipe, out: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for r in &recipe.runs {
        let seeds = reproduce::seed_dirs(out, &r.name)?;
        dirs.extend(seeds.into_iter().map(|s| s.1).filter(|d| report::is_run(d)));
    }
    Ok(dirs)
}

/// table.md, table.json and report.html from the runs in `out`.
fn write_outputs(recipe: &reproduce::Recipe, m: &Manifest, out: &Path) -> Result<()> {
    let (table, md) = reproduce::table::collect(recipe, m, out)?;
    run_dir::write_json(&out.join(reproduce::TABLE_JSON), &table)?;
    run_dir::write_atomic(&out.join(reproduce::TABLE_MD), md.as_bytes())?;
    let dirs = existing_runs(recipe, out)?;
    let report_path = out.join(run_dir::REPORT);
    if dirs.is_empty() {
        eprintln!(
            "reproduce: no run has been trained in {} yet",
            out.display()
        );
    } else {
        let mut header = vec![String::new()];
        header.extend(recipe.columns.iter().cloned());
        let rows = table
            .rows
            .iter()
            .map(|r| {
                std::iter::once(r.label.clone())
                    .chain(r.text.iter().cloned())
                    .collect()
            })
            .collect();
        let extra = report::Extra {
            title: Some(format!("vae-gpu reproduce: {}", recipe.title)),
            notes: std::iter::once(format!(
                "Recipe {} on {}, budget {}{}; each row's runs are in {}/RUN/seed-S.",
                recipe.name,
                m.data,
                m.budget.name(),
                m.limit
                    .map_or(String::new(), |l| format!(", first {l} images")),
                out.display()
            ))
            .chain(recipe.notes.iter().cloned())
            .collect(),
            tables: vec![(recipe.title.clone(), header, rows)],
        };
        report::write(&dirs, &extra, &report_path)?;
    }
    eprintln!(
        "wrote {}, {}{}",
        out.join(reproduce::TABLE_MD).display(),
        out.join(reproduce::TABLE_JSON).display(),
        if dirs.is_empty() {
            String::new()
        } else {
            format!(", {}", report_path.display())
        }
    );
    print!("{md}");
    Ok(())
}

pub fn run(sel: &Selection, a: ReproduceArgs) -> Result<i32> {
    let budget = Budget::parse(&a.budget)?;
    let recipe = recipes::recipe(&a.recipe, &a.data, budget)?;
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    if a.limit == Some(0) {
        return Err(Error::flag("--limit", "must be at least 1"));
    }
    if a.image_size == Some(0) {
        return Err(Error::flag("--image-size", "must be at least 1"));
    }
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("reproductions").join(format!("{}-{}", recipe.name, a.data))
    });
    let m = Manifest {
        recipe: recipe.name.clone(),
        data: a.data.clone(),
        budget,
        limit: a.limit,
        image_size: a.image_size,
    };
    if a.collect {
        let found = Manifest::read(&out)?;
        if found != m {
            m.claim(&out)?; // names the difference
        }
        write_outputs(&recipe, &m, &out)?;
        return Ok(0);
    }
    // Every run's flags are checked before anything is written.
    let planned = reproduce::plan(&recipe, a.seeds, &out, shard);
    let mut images = HashMap::new();
    let mut work = Vec::new();
    for p in &planned {
        let cfg = p.overrides(&m).resolve()?;
        cfg.validate()?;
        let total = lengths(&cfg, &mut images)?;
        let (st, done) = state(&p.dir, total)?;
        work.push((p, total, st, done));
    }
    m.claim(&out)?;
    let stop = super::interrupt::flag();
    let mut cached: Option<Arc<Gpu>> = None;
    let mut gpu = || -> Result<Arc<Gpu>> {
        if let Some(g) = &cached {
            return Ok(g.clone());
        }
        let g = Gpu::new(sel)?;
        cached = Some(g.clone());
        Ok(g)
    };
    let all: u64 = work.iter().map(|w| w.1 .0 + w.1 .1).sum();
    let before: u64 = work.iter().map(|w| w.3 .0 + w.3 .1).sum();
    let start = Instant::now();
    let mut trained = 0u64;
    let n = work.len();
    eprintln!(
        "reproduce {}: {} runs{} in {} ({} of {} steps trained before)",
        recipe.name,
        n,
        shard.map_or(String::new(), |s| format!(
            " (shard {}/{})",
            s.index, s.count
        )),
        out.display(),
        before,
        all
    );
    for (k, (p, total, st, done)) in work.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            eprintln!(
                "reproduce: interrupted; give the same command again to continue where it stopped"
            );
            return Ok(130);
        }
        let what = format!("[{}/{n}] {} seed {}", k + 1, p.spec.name, p.seed);
        match st {
            State::Done => {
                eprintln!("reproduce {what}: trained and evaluated already");
                continue;
            }
            State::Evaluate => {}
            State::Fresh | State::Restart | State::Resume => {
                if *st != State::Resume {
                    eprintln!("reproduce {what}: {}", p.command(&m));
                }
                let args = match st {
                    State::Resume => TrainArgs {
                        resume: Some(p.dir.clone()),
                        ..TrainArgs::default()
                    },
                    _ => TrainArgs {
                        run: p.overrides(&m),
                        out: Some(p.dir.clone()),
                        force: *st == State::Restart,
                        ..TrainArgs::default()
                    },
                };
                let stages = if total.1 > 0 { 2 } else { 1 };
                // A line as each stage starts: the recipe's share done and its ETA, from the
                // steps trained so far in this call.
                let mut starting = |stage: u32| {
                    let so_far = trained + if stage == 2 { total.0 - done.0 } else { 0 };
                    let eta = if so_far > 0 {
                        let rate = start.elapsed().as_secs_f64() / so_far as f64;
                        format!("ETA {}", duration(rate * (all - before - so_far) as f64))
                    } else {
                        "ETA after the first stage".into()
                    };
                    let (len, at) = if stage == 1 {
                        (total.0, done.0)
                    } else {
                        (total.1, done.1)
                    };
                    eprintln!(
                        "reproduce {what}: stage {stage} of {stages}, {len} steps{} | recipe {:.0} % | {eta}",
                        if at > 0 { format!(" from step {at}") } else { String::new() },
                        100.0 * (before + so_far) as f64 / all.max(1) as f64,
                    );
                };
                let (code, _) = train_in(&mut gpu, args, stop, &mut starting)?;
                if code != 0 || stop.load(Ordering::SeqCst) {
                    eprintln!(
                        "reproduce: interrupted in {}; give the same command again to continue where it stopped",
                        p.dir.display()
                    );
                    return Ok(130);
                }
                trained += total.0 + total.1 - done.0 - done.1;
            }
        }
        // The grid first: a run is done once its eval.json exists.
        if recipe.ancestral {
            ancestral_samples(&gpu()?, &p.dir)?;
        }
        if let Some(k) = p.spec.markov_chain {
            eprintln!("reproduce {what}: {k} steps of the Markov chain from noise");
            markov_chain(&gpu()?, &p.dir, k)?;
        }
        eprintln!("reproduce {what}: evaluating");
        evaluate(&gpu()?, &p.dir, &eval_options(budget, &out))?;
    }
    match shard {
        Some(s) => eprintln!(
            "reproduce: shard {}/{} done in {}; when every shard is, assemble the table with: vae-gpu reproduce {} --data {} --budget {} --out {} --collect",
            s.index,
            s.count,
            duration(start.elapsed().as_secs_f64()),
            recipe.name,
            a.data,
            a.budget,
            out.display()
        ),
        None => {
            eprintln!(
                "reproduce: {n} runs done in {}",
                duration(start.elapsed().as_secs_f64())
            );
            write_outputs(&recipe, &m, &out)?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vae_gpu::pipelines::overrides::RunOverrides;

    /// Every run of every recipe, at every budget, is valid settings, and its printed
    /// `vae-gpu train` command parses back to the same settings.
    #[test]
    fn every_recipe_run_is_a_valid_train_command() {
        for (name, _) in recipes::NAMES {
            for budget in [Budget::Quick, Budget::Paper, Budget::Steps(7)] {
                let data = "fashion-mnist";
                let r = recipes::recipe(name, data, budget).unwrap();
                let m = Manifest {
                    recipe: name.into(),
                    data: data.into(),
                    budget,
                    limit: Some(100),
                    image_size: None,
                };
                for p in reproduce::plan(&r, 2, Path::new("out"), None) {
                    let cfg = p
                        .overrides(&m)
                        .resolve()
                        .unwrap_or_else(|e| panic!("{name} {}: {e}", p.spec.name));
                    let words: Vec<String> = p
                        .command(&m)
                        .split(' ')
                        .skip(2)
                        .map(String::from)
                        .take_while(|w| w != "--out")
                        .collect();
                    let back = RunOverrides::parse_flags(&words)
                        .and_then(|o| o.resolve())
                        .unwrap_or_else(|e| panic!("{name} {}: {e}", p.spec.name));
                    assert_eq!(back, cfg, "{name} {}: {}", p.spec.name, p.command(&m));
                    cfg.validate().unwrap();
                    assert_eq!((cfg.seed, cfg.limit), (p.seed, Some(100)));
                    if budget == Budget::Steps(7) {
                        assert_eq!(
                            cfg.stage1.length,
                            vae_gpu::pipelines::config::Length::Steps(7)
                        );
                    }
                }
                // Every cell of ours names a run of the recipe.
                for row in &r.rows {
                    for c in &row.cells {
                        if let reproduce::Cell::Ours { run, .. } = c {
                            assert!(r.runs.iter().any(|x| &x.name == run), "{name}: {run}");
                        }
                    }
                    assert_eq!(row.cells.len(), r.columns.len(), "{name}: {}", row.label);
                }
            }
        }
    }
}
