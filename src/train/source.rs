//! Where a step's batch comes from: images held on the host (uploaded per step, a few
//! hundred KiB), or a latent matrix kept on the device and resampled every step.

use crate::data::{Batches, Dataset};
use crate::error::Result;
use crate::gpu::Gpu;
use crate::kernels::random::{self, RandomKey};
use crate::kernels::scatter;
use crate::models::Batch;
use crate::tensor::Tensor;
use std::sync::Arc;

pub trait BatchSource {
    /// Examples in one pass over the data.
    fn examples(&self) -> usize;
    fn batch_size(&self) -> usize;
    /// Steps per epoch (the remainder of the last batch is dropped, as in the reference).
    fn per_epoch(&self) -> usize {
        self.examples() / self.batch_size()
    }
    /// The batch of 0-based global step `step`, and its epoch. A pure function of the
    /// seed and the step, so a resumed run draws exactly what the uninterrupted one did.
    fn batch(&mut self, step: u64) -> Result<(usize, Batch)>;
}

/// Images in a seeded per-epoch shuffle, scaled to [0, 1] and uploaded one batch at a time
/// (with their labels as class indices when asked for).
pub struct ImageBatches<'a> {
    gpu: Arc<Gpu>,
    data: &'a Dataset,
    order: Batches,
    host: Vec<f32>,
    /// Whether the batches carry the labels.
    labelled: bool,
}

impl<'a> ImageBatches<'a> {
    /// Needs data.len() ≥ batch > 0 (checked, with the flag named, by whoever built the run).
    pub fn new(gpu: &Arc<Gpu>, data: &'a Dataset, batch: usize, seed: u64) -> Self {
        ImageBatches {
            gpu: Arc::clone(gpu),
            data,
            order: Batches::new(data.len(), batch, seed),
            host: Vec::with_capacity(batch * data.image_len()),
            labelled: false,
        }
    }

    /// Batches that carry each image's label as a class index [B] (the data must have
    /// labels; checked by whoever built the model).
    pub fn with_labels(mut self) -> Self {
        self.labelled = true;
        self
    }
}

impl BatchSource for ImageBatches<'_> {
    fn examples(&self) -> usize {
        self.data.len()
    }
    fn batch_size(&self) -> usize {
        self.order.batch()
    }
    fn batch(&mut self, step: u64) -> Result<(usize, Batch)> {
        let (epoch, idx) = self.order.at(step as usize);
        self.data.gather(idx, &mut self.host);
        let (c, side) = (self.data.channels, self.data.side);
        let x = Tensor::from_slice(&self.gpu, &self.host, &[idx.len(), c, side, side])?;
        let targets = match (self.labelled, &self.data.labels) {
            (true, Some(labels)) => {
                let y: Vec<f32> = idx.iter().map(|&i| labels[i] as f32).collect();
                Some(Tensor::from_slice(&self.gpu, &y, &[idx.len()])?)
            }
            _ => None,
        };
        Ok((epoch, Batch { x, targets }))
    }
}

/// Stage 2's data: the encoder's (μ_z, σ_z) of every training image, kept on the device.
/// Each step gathers a shuffled batch of rows and draws a fresh z = μ_z + σ_z·ε, with ε
/// from Philox keyed by (seed, step, `stream`): the data is resampled, never stored as z.
pub struct LatentBatches {
    mu: Tensor,
    sigma: Tensor,
    order: Batches,
    seed: u64,
    stream: u32,
}

impl LatentBatches {
    /// `mu` and `sigma` are [N, κ] with N ≥ batch > 0.
    pub fn new(mu: Tensor, sigma: Tensor, batch: usize, seed: u64, stream: u32) -> Self {
        let n = mu.shape()[0];
        LatentBatches {
            mu,
            sigma,
            order: Batches::new(n, batch, seed),
            seed,
            stream,
        }
    }
}

impl BatchSource for LatentBatches {
    fn examples(&self) -> usize {
        self.mu.shape()[0]
    }
    fn batch_size(&self) -> usize {
        self.order.batch()
    }
    fn batch(&mut self, step: u64) -> Result<(usize, Batch)> {
        let (epoch, idx) = self.order.at(step as usize);
        let mu = scatter::gather_rows(&self.mu, idx)?;
        let sigma = scatter::gather_rows(&self.sigma, idx)?;
        let key = RandomKey {
            seed: self.seed,
            step,
            stream: self.stream,
        };
        let x = random::reparameterize(&mu, &sigma, key)?;
        Ok((epoch, Batch { x, targets: None }))
    }
}
