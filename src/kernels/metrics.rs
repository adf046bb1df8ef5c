//! metrics.wgsl: running sums of scalar training metrics kept on the device, plus the first
//! step whose checked value was NaN or infinite, so a training loop reads back a few bytes
//! every N steps instead of stalling on every step.

use crate::error::{Error, Result};
use crate::gpu::{Dispatch, Gpu};
use crate::kernels::Params;
use crate::tensor::Tensor;
use std::sync::Arc;

pub struct Accumulator {
    sums: Tensor,
    /// One u32 (bits in an f32 tensor): 0, or 1 + the first step with a non-finite value.
    flag: Tensor,
}

/// What `Accumulator::take` reads back.
#[derive(Clone, Debug, PartialEq)]
pub struct Totals {
    pub sums: Vec<f32>,
    pub first_nonfinite_step: Option<u64>,
}

impl Accumulator {
    pub fn new(gpu: &Arc<Gpu>, slots: usize) -> Result<Accumulator> {
        Ok(Accumulator {
            sums: Tensor::zeros(gpu, &[slots.max(1)])?,
            flag: Tensor::zeros(gpu, &[1])?,
        })
    }

    /// sums[slot] += value (a one-element view), recorded; with `check`, a non-finite value
    /// flags `step` unless an earlier step was flagged.
    pub fn add(&self, slot: usize, value: &Tensor, step: u64, check: bool) -> Result<()> {
        const OP: &str = "metrics add";
        if value.numel() != 1 || slot >= self.sums.numel() {
            return Err(Error::shape(
                OP,
                format!(
                    "value {:?} into slot {slot} of {}",
                    value.shape(),
                    self.sums.numel()
                ),
            ));
        }
        let step_plus_one = u32::try_from(step + 1)
            .map_err(|_| Error::shape(OP, format!("step {step} does not fit 32 bits")))?;
        let params = Params::default()
            .u(value.offset())
            .u(slot)
            .u(step_plus_one as usize)
            .u(check as usize)
            .bytes();
        value.gpu().dispatch(&Dispatch {
            shader: "metrics",
            entry: "add_scalar",
            consts: &[],
            params: &params,
            buffers: &[value.buffer(), self.sums.buffer(), self.flag.buffer()],
            textures: &[],
            groups: [1, 1, 1],
        })
    }

    /// Reads the sums and the flag back and zeroes the sums (the flag stays: a run stops at
    /// its first non-finite step).
    pub fn take(&self) -> Result<Totals> {
        let sums = self.sums.to_vec()?;
        let bits = self.flag.to_vec()?[0].to_bits();
        crate::kernels::fill::fill_bits(&self.sums, 0)?;
        Ok(Totals {
            sums,
            first_nonfinite_step: (bits != 0).then(|| bits as u64 - 1),
        })
    }
}

pub mod reference {
    /// The kernel's effect on (sums, flag) of one add.
    pub fn add(sums: &mut [f64], flag: &mut u32, slot: usize, value: f32, step: u64, check: bool) {
        sums[slot] += value as f64;
        if check && !value.is_finite() && *flag == 0 {
            *flag = step as u32 + 1;
        }
    }
}
