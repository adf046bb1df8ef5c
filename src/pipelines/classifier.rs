//! The classifier behind vae-gpu's Fréchet distance: trained once per dataset on its labels
//! (`vae-gpu train-classifier`, or by `eval` on first need), cached in a folder of its own
//! (`classifier.json`, `checkpoint.safetensors`, `metrics.jsonl`) and reused by every run on
//! that data.

use crate::autograd::Tape;
use crate::data::{self, DataSpec, Dataset, Split};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::models::classifier::{Classifier, ClassifierModel, FEATURES};
use crate::nn::{ParamStore, ParamsBuilder};
use crate::run_dir;
use crate::tensor::Tensor;
use crate::train::source::ImageBatches;
use crate::train::{self, checkpoint, Schedule};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub const DESCRIPTION: &str = "classifier.json";

/// What the cache folder says it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// The dataset's source (as `--data` resolved it), and its image shape and classes.
    pub data: String,
    pub channels: usize,
    pub side: usize,
    pub classes: usize,
    pub steps: u64,
    pub seed: u64,
    pub test_accuracy: f64,
    /// What it was trained by; classifiers cached before cross-entropy were least squares onto
    /// one-hot labels, and their features (hence Fréchet distances) differ.
    #[serde(default = "least_squares")]
    pub objective: String,
}

pub const CROSS_ENTROPY: &str = "softmax cross-entropy";

fn least_squares() -> String {
    "least squares onto one-hot labels".into()
}

/// Below this test accuracy `weak` warns: the features may not tell apart what the Fréchet
/// distance should (this network reaches 0.85 on Fashion-MNIST and 0.95 on the MNIST subset
/// in its default 600 steps).
pub const WEAK_ACCURACY: f64 = 0.8;

impl Description {
    /// A warning when the classifier is weak, with the command that trains a better one on
    /// `data` (as `--data` names it).
    pub fn weak(&self, dir: &Path, data: &str) -> Option<String> {
        (self.test_accuracy < WEAK_ACCURACY).then(|| {
            format!(
                "warning: the feature classifier in {} reaches only {:.1} % test accuracy ({} steps); its features may not separate what the Fréchet distance should. Train it longer: vae-gpu train-classifier --data {} --steps {} --out {0} --force",
                dir.display(),
                100.0 * self.test_accuracy,
                self.steps,
                data,
                self.steps * 4
            )
        })
    }
}

pub struct TrainedClassifier {
    pub net: Classifier,
    pub store: ParamStore,
    pub about: Description,
}

/// The default cache folder of a dataset: classifiers/NAME.
pub fn default_dir(data: &str) -> PathBuf {
    let name = Path::new(data)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    PathBuf::from("classifiers").join(name)
}

fn spec(data: &str, split: Split, image_size: Option<usize>) -> DataSpec {
    DataSpec {
        data: data.to_string(),
        split,
        image_size,
        crop: None,
        limit: None,
    }
}

fn classes(data: &Dataset) -> Result<usize> {
    let labels = data.labels.as_ref().ok_or_else(|| {
        Error::data(
            &data.source,
            "has no labels, so no classifier (and no Fréchet distance) can be trained on it",
        )
    })?;
    Ok(labels.iter().copied().max().unwrap_or(0) as usize + 1)
}

fn build(
    gpu: &Arc<Gpu>,
    channels: usize,
    side: usize,
    classes: usize,
    seed: u64,
) -> Result<(Classifier, ParamStore)> {
    let mut b = ParamsBuilder::new(seed);
    let net = Classifier::new(&mut b, channels, side, classes)?;
    Ok((net, b.build(gpu)?))
}

/// The fraction of `data`'s images whose largest output is their label.
pub fn accuracy(net: &Classifier, store: &ParamStore, data: &Dataset) -> Result<f64> {
    let labels = data
        .labels
        .as_ref()
        .ok_or_else(|| Error::data(&data.source, "has no labels"))?;
    let mut right = 0usize;
    let mut host = Vec::new();
    let (c, side) = (data.channels, data.side);
    for start in (0..data.len()).step_by(256) {
        let len = 256.min(data.len() - start);
        data.gather(&(start..start + len).collect::<Vec<_>>(), &mut host);
        let mut t = Tape::inference(store.gpu());
        let x = t.constant(Tensor::from_slice(
            store.gpu(),
            &host,
            &[len, c, side, side],
        )?)?;
        let f = net.features(&mut t, store, x)?;
        let out = net.outputs(&mut t, store, f)?;
        let out = t.value(out).to_vec()?;
        for (r, row) in out.chunks_exact(net.classes).enumerate() {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            right += (best == labels[start + r] as usize) as usize;
        }
    }
    Ok(right as f64 / data.len().max(1) as f64)
}

/// Trains the classifier of dataset `data` (at `image_size` for resizable data) for `steps`
/// steps into `dir` (replacing a classifier there only with `force`), and measures its test
/// accuracy.
pub fn train_classifier(
    gpu: &Arc<Gpu>,
    data: &str,
    image_size: Option<usize>,
    dir: &Path,
    steps: u64,
    seed: u64,
    force: bool,
) -> Result<TrainedClassifier> {
    if steps == 0 {
        return Err(Error::flag("--steps", "must be at least 1"));
    }
    let train_data = data::load(&spec(data, Split::Train, image_size))?;
    let k = classes(&train_data)?;
    let test_data = data::load(&spec(data, Split::Test, image_size))?;
    if dir.join(DESCRIPTION).exists() && !force {
        return Err(Error::flag(
            "--out",
            format!(
                "{} already holds a classifier; pass --force to replace it",
                dir.display()
            ),
        ));
    }
    let (net, store) = build(gpu, train_data.channels, train_data.side, k, seed)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for f in [DESCRIPTION, run_dir::CHECKPOINT, run_dir::METRICS] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let batch = 64.min(train_data.len());
    let mut source = ImageBatches::new(gpu, &train_data, batch, seed).with_labels();
    let sched = Schedule {
        stage: 1,
        lr: 1e-3,
        lr_halve_every: None,
        total_steps: steps,
        seed,
        stream: 0,
        log_every: 50.min(steps as usize),
        checkpoint_every: 50.min(steps as usize),
        checkpoint_interval: Duration::from_secs(300),
        keep_checkpoints: 1,
    };
    let model = ClassifierModel {
        net: &net,
        store: &store,
    };
    // Not interruptible: a classifier is cached whole or not at all.
    train::train(
        gpu,
        &model,
        &mut source,
        &sched,
        dir,
        run_dir::CHECKPOINT,
        false,
        &AtomicBool::new(false),
        &mut (),
    )?;
    let about = Description {
        data: train_data.source.clone(),
        channels: train_data.channels,
        side: train_data.side,
        classes: k,
        steps,
        seed,
        test_accuracy: accuracy(&net, &store, &test_data)?,
        objective: CROSS_ENTROPY.into(),
    };
    let text = serde_json::to_string_pretty(&about).expect("serialises");
    run_dir::write_atomic(&dir.join(DESCRIPTION), text.as_bytes())?;
    Ok(TrainedClassifier { net, store, about })
}

/// Loads the classifier cached in `dir`, checking that it was trained on `data`'s source
/// and image shape.
pub fn load(gpu: &Arc<Gpu>, dir: &Path, data: &Dataset) -> Result<TrainedClassifier> {
    let path = dir.join(DESCRIPTION);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let about: Description = serde_json::from_str(&text)
        .map_err(|e| Error::data(&path, format!("not a classifier description: {e}")))?;
    if about.data != data.source || (about.channels, about.side) != (data.channels, data.side) {
        return Err(Error::data(
            &path,
            format!(
                "is a classifier of {} ({}×{}×{}), not of {} ({}×{}×{}); point --classifier at one for this data or train it with vae-gpu train-classifier",
                about.data, about.channels, about.side, about.side,
                data.source, data.channels, data.side, data.side
            ),
        ));
    }
    let (net, store) = build(gpu, about.channels, about.side, about.classes, about.seed)?;
    checkpoint::load(&dir.join(run_dir::CHECKPOINT), &store, None)?;
    Ok(TrainedClassifier { net, store, about })
}

impl TrainedClassifier {
    /// Features [n, FEATURES] of images x (host, [n, C, side, side] in [0, 1]), read back.
    pub fn features(&self, x: &[f32]) -> Result<Vec<f32>> {
        let (c, side) = (self.about.channels, self.about.side);
        let per = c * side * side;
        let n = x.len() / per;
        let mut out = Vec::with_capacity(n * FEATURES);
        for start in (0..n).step_by(256) {
            let len = 256.min(n - start);
            let mut t = Tape::inference(self.store.gpu());
            let xt = Tensor::from_slice(
                self.store.gpu(),
                &x[start * per..(start + len) * per],
                &[len, c, side, side],
            )?;
            let xv = t.constant(xt)?;
            let f = self.net.features(&mut t, &self.store, xv)?;
            out.extend(t.value(f).to_vec()?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weak_classifier_gets_a_warning_with_the_command_that_trains_a_better_one() {
        let mut about = Description {
            data: "data/mnist/train-images-idx3-ubyte".into(),
            channels: 1,
            side: 28,
            classes: 10,
            steps: 100,
            seed: 1,
            test_accuracy: 0.67,
            objective: CROSS_ENTROPY.into(),
        };
        let w = about.weak(Path::new("classifiers/mnist"), "mnist").unwrap();
        assert!(w.starts_with("warning:") && w.contains("67.0 %"), "{w}");
        assert!(
            w.contains(
                "vae-gpu train-classifier --data mnist --steps 400 --out classifiers/mnist --force"
            ),
            "{w}"
        );
        about.test_accuracy = 0.85;
        assert_eq!(about.weak(Path::new("c"), "mnist"), None);
    }

    #[test]
    fn a_classifier_cached_before_cross_entropy_reads_as_least_squares() {
        let old = r#"{"data": "d", "channels": 1, "side": 28, "classes": 10, "steps": 300,
                      "seed": 0, "test_accuracy": 0.8454}"#;
        let about: Description = serde_json::from_str(old).unwrap();
        assert!(about.objective.starts_with("least squares"));
    }
}
