//! Adam/AdamW over a `ParamStore`: the moments are flat buffers shaped like the parameter
//! buffer, so a step is one fused dispatch per run of unfrozen parameters (one in total
//! unless some are frozen). The learning rate is an argument of `step`, for schedules.

use crate::error::Result;
use crate::kernels::adam::{adam_update, AdamConfig};
use crate::nn::ParamStore;
use crate::tensor::Tensor;

pub struct Adam {
    pub cfg: AdamConfig,
    m: Tensor,
    v: Tensor,
    t: u64,
}

impl Adam {
    pub fn new(store: &ParamStore, cfg: AdamConfig) -> Result<Adam> {
        let shape = store.flat_values().shape().to_vec();
        Ok(Adam {
            cfg,
            m: Tensor::zeros(store.gpu(), &shape)?,
            v: Tensor::zeros(store.gpu(), &shape)?,
            t: 0,
        })
    }

    /// Applies the gradients now in `store` (recorded, not yet submitted).
    pub fn step(&mut self, store: &ParamStore, lr: f32) -> Result<()> {
        self.t += 1;
        for (start, len) in store.trainable_ranges() {
            adam_update(
                store.flat_values(),
                store.flat_grads()?,
                &self.m,
                &self.v,
                start,
                len,
                &self.cfg,
                lr,
                self.t,
            )?;
        }
        Ok(())
    }

    /// Updates taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// (m, v, t), for checkpoints.
    pub fn state(&self) -> (&Tensor, &Tensor, u64) {
        (&self.m, &self.v, self.t)
    }

    /// Sets the moments (flat, laid out like the parameter buffer) and the step count, to
    /// continue a checkpointed run exactly.
    pub fn restore(&mut self, m: &[f32], v: &[f32], t: u64) -> Result<()> {
        let n = self.m.numel();
        if m.len() != n || v.len() != n {
            return Err(crate::Error::shape(
                "adam restore",
                format!(
                    "moments of {} and {} values for {n} parameters",
                    m.len(),
                    v.len()
                ),
            ));
        }
        let gpu = self.m.gpu().clone();
        gpu.flush()?;
        gpu.queue
            .write_buffer(self.m.buffer(), 0, bytemuck::cast_slice(m));
        gpu.queue
            .write_buffer(self.v.buffer(), 0, bytemuck::cast_slice(v));
        self.t = t;
        Ok(())
    }
}
