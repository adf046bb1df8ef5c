//! What a run is where no flag says otherwise: the out-of-the-box run on `shapes`, and the
//! reference implementation's schedules on real data. `vae-gpu train` fills every setting it
//! is not given from here; recipes and tests read the same values.

use super::config::{Length, ModelKind};
use crate::models::NetKind;

/// The out-of-the-box run on `shapes`, a few minutes in all on a 2-core software Vulkan:
/// steps of each stage at 30× the reference's learning rate, so learned γ has time to fall
/// (1 → 0.17 in 600 steps; loggamma moves about lr per step) and the latents to open up,
/// and a stage-2 MLP a quarter of the reference's width (16× fewer FLOPs in its hidden
/// layers; its input is the 64-d latent either way). Measured: at 400 steps and 1e-3 the
/// reconstructions were blurred blobs; at 600 and 3e-3 they are sharp ellipses.
const SHAPES_STEPS: usize = 600;
const SHAPES_STAGE2_STEPS: usize = 400;
const SHAPES_LR: f64 = 3e-3;
const SHAPES_STAGE2_HIDDEN: usize = 256;
/// The reference's schedules: stage 1 400 epochs, the learning rate halved every 150;
/// stage 2 800 epochs, halved every 300; both at 1e-4.
const REFERENCE_EPOCHS: usize = 400;
const REFERENCE_HALVE_EVERY: usize = 150;
const REFERENCE_STAGE2_EPOCHS: usize = 800;
const REFERENCE_STAGE2_HALVE_EVERY: usize = 300;
const REFERENCE_LR: f64 = 1e-4;

/// The data a run trains on without --data.
pub const DATA: &str = "shapes";
pub const MODEL: ModelKind = ModelKind::TwoStage;
pub const LATENT_DIM: usize = 64;
pub const BATCH_SIZE: usize = 64;
pub const SEED: u64 = 1;
pub const LOG_EVERY: usize = 50;
/// A checkpoint every this many logs.
pub const CHECKPOINT_LOGS: usize = 20;

/// The settings whose default depends on the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Defaults {
    pub net: NetKind,
    pub lr: f64,
    pub length: Length,
    pub lr_halve_every: usize,
    pub stage2_hidden: usize,
    pub stage2_length: Length,
    pub stage2_lr_halve_every: usize,
}

impl Defaults {
    /// Stage 2's length when only stage 1's is given: stage 1's scaled by the defaults' ratio
    /// (shapes 400 : 600 steps, the reference 800 : 400 epochs), in stage 1's unit, at least 1.
    pub fn stage2_for(&self, stage1: Length) -> Length {
        let n = |l: Length| match l {
            Length::Epochs(n) | Length::Steps(n) => n,
        };
        let (num, den) = (n(self.stage2_length), n(self.length));
        let scale = |x: usize| (x * num).div_ceil(den).max(1);
        match stage1 {
            Length::Epochs(e) => Length::Epochs(scale(e)),
            Length::Steps(s) => Length::Steps(scale(s)),
        }
    }

    /// `shapes` gets the quick MLP run; every other dataset the reference's network and
    /// schedules.
    pub fn for_data(data: &str) -> Defaults {
        let shapes = data == "shapes";
        Defaults {
            net: if shapes {
                NetKind::Mlp
            } else {
                NetKind::InfoGan
            },
            lr: if shapes { SHAPES_LR } else { REFERENCE_LR },
            length: if shapes {
                Length::Steps(SHAPES_STEPS)
            } else {
                Length::Epochs(REFERENCE_EPOCHS)
            },
            lr_halve_every: REFERENCE_HALVE_EVERY,
            stage2_hidden: if shapes {
                SHAPES_STAGE2_HIDDEN
            } else {
                crate::models::stage2::HIDDEN
            },
            stage2_length: if shapes {
                Length::Steps(SHAPES_STAGE2_STEPS)
            } else {
                Length::Epochs(REFERENCE_STAGE2_EPOCHS)
            },
            stage2_lr_halve_every: REFERENCE_STAGE2_HALVE_EVERY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_two_follows_stage_one_by_the_defaults_ratio() {
        let shapes = Defaults::for_data("shapes");
        assert_eq!(shapes.stage2_for(shapes.length), shapes.stage2_length);
        assert_eq!(shapes.stage2_for(Length::Steps(6000)), Length::Steps(4000));
        assert_eq!(shapes.stage2_for(Length::Steps(1)), Length::Steps(1));
        let real = Defaults::for_data("fashion-mnist");
        assert_eq!(real.stage2_for(real.length), real.stage2_length);
        assert_eq!(real.stage2_for(Length::Steps(5)), Length::Steps(10));
        assert_eq!(real.stage2_for(Length::Epochs(3)), Length::Epochs(6));
    }
}
