//! The classifier whose features give vae-gpu's Fréchet distance (the role Inception-v3 plays
//! in FID, whose weights cannot be fetched here): conv 32 4×4 s2 → leaky ReLU → conv 64 4×4
//! s2 → leaky ReLU → dense 128 → leaky ReLU (the features) → dense, one output per class.
//!
//! Trained by softmax cross-entropy on the labels; the predicted class is the largest output.

use super::trainable::{Batch, Metric, Trainable};
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::kernels::random::RandomKey;
use crate::kernels::softmax_ce::Categorical;
use crate::nn::layers::{Conv2d, Linear};
use crate::nn::{Adam, Init, ParamStore, ParamsBuilder};
use crate::tensor::Tensor;

/// Width of the feature layer.
pub const FEATURES: usize = 128;
const SLOPE: f32 = 0.2;

pub struct Classifier {
    pub channels: usize,
    pub side: usize,
    pub classes: usize,
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
}

impl Classifier {
    /// For `channels` × side × side images (side divisible by 4) and `classes` labels.
    pub fn new(
        b: &mut ParamsBuilder,
        channels: usize,
        side: usize,
        classes: usize,
    ) -> Result<Self> {
        if side == 0 || !side.is_multiple_of(4) || classes < 2 {
            return Err(Error::shape(
                "classifier",
                format!("{side}×{side} images with {classes} classes (side divisible by 4, 2 classes or more)"),
            ));
        }
        let q = side / 4;
        let (down, n, g) = (
            Conv2dConfig::new(2, 1),
            Init::TruncatedNormal { std: 0.02 },
            Init::GlorotUniform,
        );
        Ok(Classifier {
            channels,
            side,
            classes,
            conv1: Conv2d::new(b, "classifier.conv1", channels, 32, 4, down, n),
            conv2: Conv2d::new(b, "classifier.conv2", 32, 64, 4, down, n),
            fc1: Linear::new(b, "classifier.fc1", 64 * q * q, FEATURES, g),
            fc2: Linear::new(b, "classifier.fc2", FEATURES, classes, g),
        })
    }

    /// x [N, C, side, side] → features [N, FEATURES].
    pub fn features(&self, t: &mut Tape, s: &ParamStore, x: Var) -> Result<Var> {
        let n = t.value(x).shape()[0];
        let leaky = ChannelAct::LeakyRelu(SLOPE);
        let h = self.conv1.forward_act(t, s, x, leaky)?;
        let h = self.conv2.forward_act(t, s, h, leaky)?;
        let q = self.side / 4;
        let h = t.reshape(h, &[n, 64 * q * q])?;
        self.fc1.forward_act(t, s, h, leaky)
    }

    /// features → one output per class.
    pub fn outputs(&self, t: &mut Tape, s: &ParamStore, features: Var) -> Result<Var> {
        self.fc2.forward(t, s, features)
    }
}

/// The classifier and its parameters, as the training loop sees them.
pub struct ClassifierModel<'a> {
    pub net: &'a Classifier,
    pub store: &'a ParamStore,
}

impl Trainable for ClassifierModel<'_> {
    fn store(&self) -> &ParamStore {
        self.store
    }

    fn label(&self, _stage: u32) -> String {
        "classifier".into()
    }

    /// The loss alone: softmax cross-entropy in nats per image.
    fn metrics(&self, _batch: usize) -> Vec<Metric> {
        vec![Metric::mean("loss")]
    }

    fn step(
        &self,
        adam: &mut Adam,
        batch: &Batch,
        _key: RandomKey,
        lr: f32,
    ) -> Result<Vec<Tensor>> {
        let targets = batch
            .targets
            .as_ref()
            .ok_or_else(|| Error::shape("classifier step", "a batch without labels"))?;
        let s = self.store;
        s.zero_grad();
        let mut t = Tape::new(s.gpu());
        let x = t.constant(batch.x.clone())?;
        let y = t.constant(targets.clone())?;
        let f = self.net.features(&mut t, s, x)?;
        let out = self.net.outputs(&mut t, s, f)?;
        let labels = Categorical {
            axis: 1,
            scale: 1.0,
        };
        let loss = t.softmax_ce(out, y, labels)?;
        t.backward(loss, s)?;
        adam.step(s, lr)?;
        Ok(vec![t.value(loss).clone()])
    }

    fn readings(&self) -> Result<Vec<(&'static str, f64)>> {
        Ok(Vec::new())
    }
}
