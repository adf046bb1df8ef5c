//! What the training loop (`crate::train`) needs of a model, and nothing more: one step,
//! the metrics that step leaves on the device, and the scalars worth reading at log time.
//! Extra state a model keeps beside its parameters (batch-norm averages, a multiplier, a
//! moving average) lives in its `ParamStore` as named state, so checkpoints carry it.

use crate::error::Result;
use crate::kernels::random::RandomKey;
use crate::nn::{Adam, ParamStore};
use crate::tensor::Tensor;

/// One step's data: the examples and, for supervised models, their targets (class indices).
pub struct Batch {
    pub x: Tensor,
    pub targets: Option<Tensor>,
}

/// One named metric: the row in metrics.jsonl shows (sum over the logged steps) / steps / `per`.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub per: f64,
    /// Some(hint): a NaN or infinity here stops the run, as one in the loss does, and the
    /// message gives the hint (GECO's λ).
    pub checked: Option<&'static str>,
}

impl Metric {
    pub fn mean(name: &'static str) -> Metric {
        Metric {
            name,
            per: 1.0,
            checked: None,
        }
    }
}

pub trait Trainable {
    fn store(&self) -> &ParamStore;
    /// What the progress line and messages call it: "stage 1" and "stage 2" of a run.
    fn label(&self, stage: u32) -> String {
        format!("stage {stage}")
    }
    /// The metrics `step` returns, in order, for batches of `batch` examples. The first is
    /// the loss: a NaN or infinity there (or in a `checked` one) stops the run.
    fn metrics(&self, batch: usize) -> Vec<Metric>;
    /// Records (does not submit) one step on `batch`: zero the gradients, forward, backward,
    /// the optimiser. Returns one one-element device tensor per metric; nothing is read back.
    fn step(&self, adam: &mut Adam, batch: &Batch, key: RandomKey, lr: f32) -> Result<Vec<Tensor>>;
    /// Named scalars read from the device when a row is logged (γ, a multiplier).
    fn readings(&self) -> Result<Vec<(&'static str, f64)>>;
}
