//! The training loop every model shares: schedule, logging, the NaN stop, Ctrl-C,
//! checkpoints (by step and by time) and exact resume. It knows steps, named metrics and
//! named state — no model: what a step does is the `Trainable`'s, where batches come from
//! is the `BatchSource`'s.
//!
//! Each step is one command buffer: the batch, forward, backward, Adam and the metric sums
//! (`kernels::metrics`), read back only every `log_every` steps. At most one step is in
//! flight. A checkpoint is written only after the metrics since the last one were read and
//! found finite, and the parameters themselves checked, so a diverged state is never saved.

pub mod checkpoint;
pub mod progress;
pub mod source;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::metrics::Accumulator;
use crate::kernels::random::RandomKey;
use crate::models::Trainable;
use crate::nn::Adam;
use crate::run_dir::MetricsRow;
use source::BatchSource;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Steps timed (after one warm-up step) for the start banner's duration estimate.
const PROBE_STEPS: u64 = 3;

/// How one stage of a run trains.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Which stage of the run this is: tags each metrics row (1, or 2 for two-stage's second).
    pub stage: u32,
    pub lr: f32,
    /// Halve the learning rate every this many epochs (None: constant).
    pub lr_halve_every: Option<usize>,
    pub total_steps: u64,
    pub seed: u64,
    /// The Philox stream of the model's own noise (ε of its reparameterization).
    pub stream: u32,
    pub log_every: usize,
    pub checkpoint_every: usize,
    /// Also checkpoint at the first log after this much time since the last checkpoint.
    pub checkpoint_interval: Duration,
    /// Checkpoints kept: the latest at its name, the K − 1 before it in `run_dir::KEPT`.
    pub keep_checkpoints: usize,
}

impl Schedule {
    /// Learning rate for (0-based) epoch `e`: lr·0.5^⌊e / halve_every⌋.
    pub fn lr_at(&self, epoch: usize) -> f32 {
        match self.lr_halve_every {
            Some(h) => self.lr * 0.5f32.powi((epoch / h).min(126) as i32),
            None => self.lr,
        }
    }
}

/// What the loop calls back into while it runs (drawing grids, say).
pub trait Hooks {
    /// Before a row is logged at `done` steps: further named values for it (a diagnostic
    /// measured on the model as it is). Its time is not counted in the row's throughput.
    fn measure(&mut self, _done: u64) -> Result<Vec<(&'static str, f64)>> {
        Ok(Vec::new())
    }
    /// After a row is logged and any checkpoint written, `done` steps in.
    fn logged(&mut self, _done: u64) -> Result<()> {
        Ok(())
    }
}

/// No hooks.
impl Hooks for () {}

/// How a stage's `train` call ended.
pub struct Finished {
    pub steps: u64,
    pub interrupted: bool,
    /// The last metrics row written.
    pub last: Option<MetricsRow>,
}

/// Trains `model` on `source` for `sched.total_steps`, logging to `dir`/metrics.jsonl and
/// checkpointing to `dir`/`ckpt_name`. With `resume`, the checkpoint there is loaded first
/// (its seed must match) and the rows of this stage logged after it are dropped. `stop` is
/// set by Ctrl-C: the loop then finishes the step, checkpoints and returns.
#[allow(clippy::too_many_arguments)]
pub fn train(
    gpu: &Arc<Gpu>,
    model: &dyn Trainable,
    source: &mut dyn BatchSource,
    sched: &Schedule,
    dir: &Path,
    ckpt_name: &str,
    resume: bool,
    stop: &AtomicBool,
    hooks: &mut dyn Hooks,
) -> Result<Finished> {
    let store = model.store();
    let mut adam = Adam::new(store, Default::default())?;
    let ckpt = dir.join(ckpt_name);
    let total = sched.total_steps;
    let first = if resume {
        let meta = checkpoint::load(&ckpt, store, Some(&mut adam))?;
        if meta.seed != sched.seed {
            return Err(Error::data(
                &ckpt,
                format!(
                    "checkpoint seed {} differs from config.json's {}",
                    meta.seed, sched.seed
                ),
            ));
        }
        if meta.step > total {
            return Err(Error::flag(
                "--steps",
                format!(
                    "{} already has {} steps of stage {}, more than the {total} asked for",
                    dir.display(),
                    meta.step,
                    sched.stage
                ),
            ));
        }
        crate::run_dir::truncate_metrics(dir, sched.stage, meta.step)?;
        meta.step
    } else {
        0
    };
    if first == total {
        return Ok(Finished {
            steps: total,
            interrupted: false,
            last: None,
        });
    }

    let batch_size = source.batch_size();
    let metrics = model.metrics(batch_size);
    let acc = Accumulator::new(gpu, metrics.len())?;
    let mut progress = progress::Progress::new(first, total);
    let (mut since, mut logged_at) = (Instant::now(), first);
    // The stage's training time so far: what the rows kept from before a resume say, plus
    // this process's.
    let earlier = crate::run_dir::read_metrics(dir)?
        .iter()
        .rfind(|r| r.stage == sched.stage)
        .and_then(|r| r.seconds)
        .unwrap_or(0.0);
    let started = Instant::now();
    let mut checkpointed = Instant::now();
    let mut probe: Option<Instant> = None;
    let mut last = None;

    if first > 0 {
        progress.note(&format!(
            "{}: resuming from step {first} of {total}",
            model.label(sched.stage)
        ));
    }
    for step in first..total {
        let (epoch, batch) = source.batch(step)?;
        let key = RandomKey {
            seed: sched.seed,
            step,
            stream: sched.stream,
        };
        let lr = sched.lr_at(epoch);
        let values = model.step(&mut adam, &batch, key, lr)?;
        if values.len() != metrics.len() {
            return Err(Error::shape(
                "training step",
                format!("{} values for {} metrics", values.len(), metrics.len()),
            ));
        }
        for (slot, (v, m)) in values.iter().zip(&metrics).enumerate() {
            acc.add(slot, v, step, slot == 0 || m.checked.is_some())?;
        }
        gpu.flush_pipelined()?;

        let done = step + 1;
        // The duration estimate: time a few steps after the first (which compiles pipelines).
        if done == first + 1 && total - done >= PROBE_STEPS {
            gpu.sync()?;
            probe = Some(Instant::now());
        } else if done == first + 1 + PROBE_STEPS {
            if let Some(t0) = probe.take() {
                gpu.sync()?;
                let per_step = t0.elapsed().as_secs_f64() / PROBE_STEPS as f64;
                progress.note(&length_note(
                    &model.label(sched.stage),
                    sched.stage,
                    per_step,
                    &gpu.info.name,
                    done,
                    total,
                ));
            }
        }
        progress.step(done);
        let interrupted = stop.load(Ordering::SeqCst);
        if done % sched.log_every as u64 != 0 && done != total && !interrupted {
            continue;
        }
        // Log: read the sums (this waits for the device).
        let totals = acc.take()?;
        if let Some(bad) = totals.first_nonfinite_step {
            progress.finish();
            let kept = if ckpt.exists() {
                format!("the last good checkpoint, {}, is kept", ckpt.display())
            } else {
                "no checkpoint had been written yet".into()
            };
            let checked: Vec<&str> = metrics
                .iter()
                .enumerate()
                .filter(|(i, m)| *i == 0 || m.checked.is_some())
                .map(|(_, m)| m.name)
                .collect();
            let hints: String = metrics
                .iter()
                .filter_map(|m| m.checked)
                .map(|h| format!("; {h}"))
                .collect();
            return Err(Error::Diverged(format!(
                "the {} of stage {} became NaN or infinite at step {} (epoch {}); {kept}; try a lower --lr{hints}",
                checked.join(" or "),
                sched.stage,
                bad + 1,
                bad as usize / source.per_epoch() + 1
            )));
        }
        let k = (done - logged_at) as f64;
        let seconds = since.elapsed().as_secs_f64();
        let training = earlier + started.elapsed().as_secs_f64();
        let mut readings = model.readings()?;
        readings.extend(hooks.measure(done)?);
        let row = MetricsRow {
            stage: sched.stage,
            step: done,
            epoch: epoch as u64 + 1,
            values: metrics
                .iter()
                .zip(&totals.sums)
                .map(|(m, sum)| (m.name.to_string(), *sum as f64 / k / m.per))
                .chain(readings.iter().map(|(n, v)| (n.to_string(), *v)))
                .collect(),
            lr,
            examples_per_second: k * batch_size as f64 / seconds.max(1e-9),
            seconds: Some(training),
        };
        crate::run_dir::append_metrics(dir, &row)?;
        progress.logged(
            done,
            summary(&model.label(sched.stage), epoch, &row, &metrics, &readings),
        );
        last = Some(row);
        (since, logged_at) = (Instant::now(), done);
        if done % sched.checkpoint_every as u64 == 0
            || checkpointed.elapsed() >= sched.checkpoint_interval
            || done == total
            || interrupted
        {
            store.check_values_finite().map_err(|e| {
                Error::Diverged(format!(
                    "{e} after step {done} of stage {}; the last good checkpoint is kept; try a lower --lr",
                    sched.stage
                ))
            })?;
            if sched.keep_checkpoints > 1 {
                checkpoint::keep_previous(&ckpt, sched.keep_checkpoints - 1)?;
            }
            checkpoint::save(&ckpt, store, Some(&adam), done, sched.seed)?;
            checkpointed = Instant::now();
        }
        hooks.logged(done)?;
        if interrupted {
            progress.finish();
            return Ok(Finished {
                steps: done,
                interrupted: true,
                last,
            });
        }
    }
    progress.finish();
    Ok(Finished {
        steps: total,
        interrupted: false,
        last,
    })
}

/// The progress line's text for one logged row.
fn summary(
    label: &str,
    epoch: usize,
    row: &MetricsRow,
    metrics: &[crate::models::Metric],
    readings: &[(&'static str, f64)],
) -> String {
    let mut s = format!("{label} | epoch {}", epoch + 1);
    for m in metrics
        .iter()
        .take(1)
        .chain(metrics.iter().filter(|m| m.name == "mse"))
    {
        s += &format!(
            " | {} {}",
            m.name,
            crate::text::number(row.get(m.name).unwrap_or(f64::NAN))
        );
    }
    for (name, v) in readings {
        s += &format!(" | {name} {}", crate::text::number(*v));
    }
    s + &format!(" | {:.0}/s", row.examples_per_second)
}

/// What the rest of a stage will cost, from the timed steps: a hint past an hour, a warning
/// with the flag and the length that would take about an hour past a day.
fn length_note(
    label: &str,
    stage: u32,
    per_step: f64,
    adapter: &str,
    done: u64,
    total: u64,
) -> String {
    let left = per_step * (total - done) as f64;
    let head = format!(
        "{label}: {per_step:.2} s/step on {adapter}: the remaining {} take about {}",
        crate::text::count(total - done, "step"),
        crate::text::duration(left)
    );
    let flag = if stage == 2 {
        "--stage2-steps"
    } else {
        "--steps"
    };
    if left > 86_400.0 {
        let hour = ((3600.0 / per_step) as u64).max(1);
        format!(
            "warning: {head}; for about an hour, train with {flag} {hour} (Ctrl-C checkpoints, and --resume RUN --steps … continues)"
        )
    } else if left > 3600.0 {
        format!("{head} (shorten with {flag}; Ctrl-C checkpoints and --resume continues)")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::length_note;

    #[test]
    fn a_stage_over_a_day_is_a_warning_with_an_hours_length() {
        // 2 s/step: 10 steps are 20 s, 5000 steps 2h46m, 100 000 steps 2d07h.
        let short = length_note("stage 1", 1, 2.0, "gpu", 0, 10);
        assert!(
            !short.contains("shorten") && !short.contains("warning"),
            "{short}"
        );
        let hours = length_note("stage 1", 1, 2.0, "gpu", 0, 5000);
        assert!(
            hours.contains("shorten with --steps") && !hours.contains("warning"),
            "{hours}"
        );
        let days = length_note("stage 2", 2, 2.0, "gpu", 0, 100_000);
        assert!(
            days.starts_with("warning:") && days.contains("--stage2-steps 1800"),
            "{days}"
        );
    }
}
