//! The papers' networks and objectives, built from `nn` layers on the `autograd` tape.
//!
//! A `Network` is an encoder x → (μ_z, σ_z) and a decoder z → μ_x around one example shape
//! (images, or the latent vectors stage 2 models); `Vae` adds the objective (`objective`:
//! likelihood, regulariser and weight, GECO's constraint, whose device state is `geco`) and
//! the training step; `Trainable` is what the training loop drives.

pub mod classifier;
pub mod geco;
pub mod generate;
pub mod infogan;
pub mod mlp;
pub mod objective;
pub mod pixelcnn;
pub mod sequential;
pub mod stage2;
pub mod trainable;
pub mod vae;
pub mod wae;

use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::batchnorm::BatchNormConfig;
use crate::nn::{ParamStore, ParamsBuilder};

pub use infogan::{InfoGan, InfoGanConfig};
pub use mlp::Mlp;
pub use objective::{Geco, Likelihood, MmdChoice, Objective, Regularizer};
pub use pixelcnn::{PixelCnn, PixelCnnShape};
pub use sequential::Sequential;
pub use stage2::Stage2Net;
pub use trainable::{Batch, Metric, Trainable};
pub use vae::{Losses, StepOutput, Vae, VaeModel};
pub use wae::Wae;

pub trait Network {
    /// κ, the latent size.
    fn latent(&self) -> usize;
    /// The shape of one example it takes and makes: [C, side, side] for images (decoded
    /// through a sigmoid into (0, 1)), [D] for vectors (decoded unbounded).
    fn example_shape(&self) -> Vec<usize>;
    /// x [N, ..example] → (μ_z, σ_z), each [N, κ], σ_z > 0.
    fn encode(&self, t: &mut Tape, s: &ParamStore, x: Var, train: bool) -> Result<(Var, Var)>;
    /// z [N, κ] → μ_x [N, ..example].
    fn decode(&self, t: &mut Tape, s: &ParamStore, z: Var, train: bool) -> Result<Var>;
    /// An autoregressive decoder's values per pixel (PixelCNN: 256, or 2 on binarised
    /// data); None for decoders that map z alone to μ_x.
    fn pixel_classes(&self) -> Option<usize> {
        None
    }
    /// An autoregressive decoder's reach up the image: the logits of a pixel's row depend on
    /// that row and this many above it (and never on rows below), so the sampler runs the
    /// decoder on those rows only. None where the decoder does not say.
    fn causal_rows(&self) -> Option<usize> {
        None
    }
    /// Logits [N, K, side, side] of p(x_i | x_<i, z) at every pixel given the image x itself
    /// (all pixels at once in training; one at a time when sampling). Autoregressive
    /// decoders only.
    fn decode_pixels(
        &self,
        _t: &mut Tape,
        _s: &ParamStore,
        _z: Var,
        _x: Var,
        _train: bool,
    ) -> Result<Var> {
        Err(Error::shape(
            "decode_pixels",
            "this decoder is not autoregressive: it maps z alone to μ_x",
        ))
    }
    /// The images of a sequential decoder after each of its steps, the last being `decode`'s
    /// μ_x; in training each step takes the one before as data (no gradient flows back
    /// through it). None for one-step decoders.
    fn decode_steps(
        &self,
        _t: &mut Tape,
        _s: &ParamStore,
        _z: Var,
        _train: bool,
    ) -> Result<Option<Vec<Var>>> {
        Ok(None)
    }
    /// The running-average momentum of the network's batch norms (what debiasing them after
    /// `steps` updates divides out).
    fn batch_norm_momentum(&self) -> f32 {
        REFERENCE_BN.momentum
    }
    /// Multiply-add FLOPs (2 per MAC) of the convolutions and dense layers of one forward
    /// pass at `batch` (elementwise ops, batch norm and losses add a few %).
    fn forward_flops(&self, batch: usize) -> f64;
}

/// σ_z = 1e-6 + softplus(s): positive, and linear for large s (no exp overflow).
pub(crate) fn positive_sigma(t: &mut Tape, s: Var) -> Result<Var> {
    let sp = t.softplus(s)?;
    t.affine(sp, 1.0, 1e-6)
}

/// (μ_z, σ_z) from one dense output [N, 2κ]: μ the first κ, σ from the rest.
pub(crate) fn split_mu_sigma(t: &mut Tape, h: Var, latent: usize) -> Result<(Var, Var)> {
    let mu = t.slice_last(h, 0, latent)?;
    let raw = t.slice_last(h, latent, latent)?;
    Ok((mu, positive_sigma(t, raw)?))
}

/// The networks `vae-gpu train --net` offers.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum NetKind {
    /// The reference's InfoGAN-style conv net (side divisible by 4).
    #[value(name = "infogan")]
    InfoGan,
    /// The reference's WAE-style conv net for CelebA 64×64 (side divisible by 8).
    Wae,
    /// A small fully connected net for quick runs.
    Mlp,
    /// Zhao et al.'s PixelCNN-VAE: a conv encoder and an autoregressive PixelCNN decoder
    /// (single-channel images; --likelihood categorical or bernoulli).
    #[value(name = "pixelcnn")]
    #[serde(rename = "pixelcnn")]
    PixelCnn,
    /// Zhao et al.'s Sequential VAE: T steps with their own weights, each refining the last
    /// one's image through a gated shortcut (--sequence-steps; side even).
    Sequential,
}

/// What shapes the nets beyond the data and κ: the PixelCNN decoder's depth and width, the
/// Sequential VAE's steps (each present exactly for its net).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NetOptions {
    pub pixelcnn: Option<PixelCnnShape>,
    pub sequence_steps: Option<usize>,
}

/// The reference's batch norm: ε 1e-5, running-average momentum 0.999.
pub const REFERENCE_BN: BatchNormConfig = BatchNormConfig {
    eps: 1e-5,
    momentum: 0.999,
};

/// Registers the parameters of network `kind` for channels × side × side images, decoding
/// with `likelihood` (which an autoregressive decoder's output depends on).
pub fn build(
    b: &mut ParamsBuilder,
    kind: NetKind,
    channels: usize,
    side: usize,
    latent: usize,
    likelihood: Likelihood,
    options: NetOptions,
) -> Result<Box<dyn Network>> {
    if latent == 0 {
        return Err(Error::flag("--latent-dim", "must be at least 1"));
    }
    if channels == 0 || side == 0 {
        return Err(Error::flag("--image-size", "images must be at least 1×1×1"));
    }
    Ok(match kind {
        NetKind::InfoGan => {
            let mut cfg = InfoGanConfig::reference(side, channels);
            cfg.latent = latent;
            Box::new(InfoGan::new(b, cfg)?)
        }
        NetKind::Wae => Box::new(Wae::new(b, channels, side, latent)?),
        NetKind::Mlp => Box::new(Mlp::new(b, channels, side, latent, mlp::HIDDEN)),
        NetKind::PixelCnn => {
            let classes = match likelihood {
                Likelihood::Categorical => 256,
                Likelihood::Bernoulli => 2,
                other => {
                    return Err(Error::flag(
                        "--likelihood",
                        format!(
                            "the PixelCNN decoder gives each pixel a categorical distribution, not {}: give --likelihood categorical (256 values of 8-bit data) or bernoulli (binarised data)",
                            other.name()
                        ),
                    ))
                }
            };
            let shape = options.pixelcnn.unwrap_or_default();
            Box::new(PixelCnn::new(b, channels, side, latent, classes, shape)?)
        }
        NetKind::Sequential => Box::new(Sequential::new(
            b,
            channels,
            side,
            latent,
            options.sequence_steps.unwrap_or(sequential::DEFAULT_STEPS),
        )?),
    })
}
