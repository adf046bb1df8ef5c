//! Zhao, Song & Ermon's Sequential VAE (Section 3.2, Appendix C.1, Figure 7): T steps, each a
//! VAE with its own weights (a non-homogeneous chain). Step t has an encoder q_t(z_t | x) and
//! an autoencoder from (x_{t−1}, z_t) to x_t with shortcut connections; step 0 decodes z_0
//! alone, as a plain VAE. The code of the whole model is the T codes side by side, so the
//! prior, the KL (a sum over steps) and every code diagnostic apply to it unchanged; `decode`
//! runs the chain and returns the last step's image.
//!
//! Each step's nets, after their reference code (`generator_ladder`, without its ladder of
//! codes): L levels, each two convolutions — 4×4 stride 2, then 3×3 — with c_l = 32·2^l
//! channels, halving the side until it is at most 8 (at least once); batch norm after every
//! convolution and dense layer but the outputs, as the reference has (without it the
//! shortcut's features grow until a step's output and its gate saturate).
//! - encoder q_t: the levels (leaky ReLU 0.2), dense to 2κ (μ, and σ through a softplus);
//! - z_t: dense to c_{L−1} × b × b (ReLU), b the bottom side;
//! - shortcut encoder of x_{t−1} (t > 0): the levels again, each level's output e_l added to the
//!   decoder's map of the same size;
//! - decoder: per level a 4×4 stride-2 transposed conv and a 3×3 conv (ReLU), then a
//!   transposed conv to the image through a sigmoid, `new`;
//! - the gated shortcut (t > 0): a ratio r = σ(transposed conv of the same features − 2) per
//!   value, x_t = r ⊙ new + (1 − r) ⊙ x_{t−1}, so a step starts near a copy of the last one's
//!   image and keeps what it drew where it cannot improve on it.
//!
//! Training maximises Σ_t [log p_t(x | z_t, x_{t−1}) − KL_t], each step's input x_{t−1}
//! treated as data (no gradient flows into the step before), as the reference does.

use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::batchnorm::BatchNormConfig;
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::kernels::conv_transpose2d::ConvTranspose2dConfig;
use crate::nn::layers::{BatchNorm, Conv2d, ConvTranspose2d, Linear};
use crate::nn::{Init, ParamStore, ParamsBuilder};

/// The reference's T.
pub const DEFAULT_STEPS: usize = 8;
/// Channels of the first level.
const WIDTH: usize = 32;
/// Levels halve the side until it is at most this.
const BOTTOM: usize = 8;
const SLOPE: f32 = 0.2;
/// Batch norm with running averages over about the last 100 steps (momentum 0.99): a later
/// step's inputs are the earlier steps' outputs, which change as those train, so averages over
/// the last thousand steps (the Two-Stage reference's 0.999) lag far behind at the budgets
/// this runs at (eval-mode reconstructions 10× worse than training's after 600 steps).
const BN: BatchNormConfig = BatchNormConfig {
    eps: 1e-5,
    momentum: 0.99,
};
/// σ(−2) ≈ 0.12: how open the gate of every step past the first starts.
const GATE_OFFSET: f32 = 2.0;

/// A conv and the batch norm after it.
struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    fn new(
        b: &mut ParamsBuilder,
        name: &str,
        (i, o, k): (usize, usize, usize),
        cfg: Conv2dConfig,
    ) -> ConvBn {
        ConvBn {
            conv: Conv2d::new(b, name, i, o, k, cfg, Init::GlorotUniform),
            bn: BatchNorm::new(b, &format!("{name}.bn"), o, BN),
        }
    }

    fn forward(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        train: bool,
        act: ChannelAct,
    ) -> Result<Var> {
        let h = self.conv.forward(t, s, x)?;
        self.bn.forward(t, s, h, train, act)
    }
}

/// Levels of an encoder: (4×4 stride-2 conv, 3×3 conv) each.
struct Levels(Vec<(ConvBn, ConvBn)>);

impl Levels {
    fn new(b: &mut ParamsBuilder, name: &str, channels: usize, levels: usize) -> Levels {
        let (down, same) = (Conv2dConfig::new(2, 1), Conv2dConfig::new(1, 1));
        Levels(
            (0..levels)
                .map(|l| {
                    let inputs = if l == 0 { channels } else { width(l - 1) };
                    let (n, w) = (format!("{name}.level{l}"), width(l));
                    (
                        ConvBn::new(b, &format!("{n}.down"), (inputs, w, 4), down),
                        ConvBn::new(b, &format!("{n}.conv"), (w, w, 3), same),
                    )
                })
                .collect(),
        )
    }

    /// Each level's output, finest first.
    fn forward(&self, t: &mut Tape, s: &ParamStore, x: Var, train: bool) -> Result<Vec<Var>> {
        let act = ChannelAct::LeakyRelu(SLOPE);
        let mut h = x;
        let mut out = Vec::with_capacity(self.0.len());
        for (down, conv) in &self.0 {
            h = down.forward(t, s, h, train, act)?;
            h = conv.forward(t, s, h, train, act)?;
            out.push(h);
        }
        Ok(out)
    }
}

fn width(level: usize) -> usize {
    WIDTH << level
}

struct Step {
    encoder: Levels,
    encoder_out: Linear,
    code: Linear,
    code_bn: BatchNorm,
    /// Absent at step 0, which has no previous image.
    shortcut: Option<(Levels, ConvTranspose2d)>,
    /// Per level from the coarsest: (transposed conv up a level and its batch norm, 3×3 conv).
    up: Vec<(ConvTranspose2d, BatchNorm, ConvBn)>,
    image: ConvTranspose2d,
}

pub struct Sequential {
    channels: usize,
    side: usize,
    latent: usize,
    bottom: usize,
    steps: Vec<Step>,
}

/// Levels for a side: exact halvings until the side is at most BOTTOM (or odd), at least one.
fn levels(side: usize) -> Result<usize> {
    let mut l = 0;
    while side >> l > BOTTOM && (side >> l).is_multiple_of(2) {
        l += 1;
    }
    if l == 0 && side.is_multiple_of(2) {
        l = 1;
    }
    if l == 0 {
        return Err(Error::flag(
            "--image-size",
            format!("the sequential net halves the side at least once: {side} is odd"),
        ));
    }
    Ok(l)
}

/// Refuses a T whose weights do not fit the adapter's largest storage buffer (`limit` bytes;
/// every parameter lives in one), naming the largest T that does.
pub fn check_fits(
    limit: u64,
    (channels, side, latent): (usize, usize, usize),
    steps: usize,
) -> Result<()> {
    let count = |t: usize| -> Result<u64> {
        let mut b = ParamsBuilder::new(0);
        Sequential::new(&mut b, channels, side, latent, t)?;
        Ok(b.count() as u64)
    };
    let first = count(1)?;
    let later = count(2)? - first;
    let needed = first + (steps as u64).saturating_sub(1) * later;
    let fit = (limit / 4).saturating_sub(first) / later + 1;
    if needed * 4 > limit {
        return Err(Error::flag(
            "--sequence-steps",
            format!(
                "{steps} steps of these images need {needed} parameters ({} MiB), more than this adapter's largest storage buffer ({} MiB), which holds {fit} step(s) at most; give fewer steps, or a smaller --latent-dim or --image-size",
                (needed * 4) >> 20,
                limit >> 20
            ),
        ));
    }
    Ok(())
}

impl Sequential {
    /// T = `steps` steps of κ = `latent` each for channels × side × side images.
    pub fn new(
        b: &mut ParamsBuilder,
        channels: usize,
        side: usize,
        latent: usize,
        steps: usize,
    ) -> Result<Sequential> {
        if steps == 0 {
            return Err(Error::flag(
                "--sequence-steps",
                "the Sequential VAE needs at least one step",
            ));
        }
        let l = levels(side)?;
        let bottom = side >> l;
        let top = width(l - 1) * bottom * bottom;
        let (up_cfg, same) = (ConvTranspose2dConfig::new(2, 1, 0), Conv2dConfig::new(1, 1));
        let g = Init::GlorotUniform;
        let steps = (0..steps)
            .map(|t| {
                let n = format!("step{t}");
                Step {
                    encoder: Levels::new(b, &format!("{n}.encoder"), channels, l),
                    encoder_out: Linear::new(b, &format!("{n}.encoder.out"), top, 2 * latent, g),
                    code: Linear::new(b, &format!("{n}.decoder.code"), latent, top, g),
                    code_bn: BatchNorm::new(b, &format!("{n}.decoder.code.bn"), top, BN),
                    shortcut: (t > 0).then(|| {
                        (
                            Levels::new(b, &format!("{n}.shortcut"), channels, l),
                            ConvTranspose2d::new(
                                b,
                                &format!("{n}.decoder.gate"),
                                width(0),
                                channels,
                                4,
                                up_cfg,
                                g,
                            ),
                        )
                    }),
                    up: (1..l)
                        .rev()
                        .map(|lv| {
                            let m = format!("{n}.decoder.level{lv}");
                            let (i, o) = (width(lv), width(lv - 1));
                            (
                                ConvTranspose2d::new(b, &format!("{m}.up"), i, o, 4, up_cfg, g),
                                BatchNorm::new(b, &format!("{m}.up.bn"), o, BN),
                                ConvBn::new(b, &format!("{m}.conv"), (o, o, 3), same),
                            )
                        })
                        .collect(),
                    image: ConvTranspose2d::new(
                        b,
                        &format!("{n}.decoder.image"),
                        width(0),
                        channels,
                        4,
                        up_cfg,
                        g,
                    ),
                }
            })
            .collect();
        Ok(Sequential {
            channels,
            side,
            latent,
            bottom,
            steps,
        })
    }

    /// T.
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// x_t from z_t and (past step 0) x_{t−1}.
    fn step(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        (step, train): (&Step, bool),
        z: Var,
        previous: Option<Var>,
    ) -> Result<Var> {
        let n = t.value(z).shape()[0];
        let levels = step.up.len() + 1;
        let relu = ChannelAct::Relu;
        let h = step.code.forward(t, s, z)?;
        let h = step.code_bn.forward(t, s, h, train, relu)?;
        let mut h = t.reshape(h, &[n, width(levels - 1), self.bottom, self.bottom])?;
        let skips = match (&step.shortcut, previous) {
            (Some((enc, _)), Some(p)) => Some(enc.forward(t, s, p, train)?),
            _ => None,
        };
        if let Some(e) = &skips {
            h = t.add(h, e[levels - 1])?;
        }
        for (i, (up, bn, conv)) in step.up.iter().enumerate() {
            h = up.forward(t, s, h)?;
            h = bn.forward(t, s, h, train, relu)?;
            h = conv.forward(t, s, h, train, relu)?;
            if let Some(e) = &skips {
                h = t.add(h, e[levels - 2 - i])?;
            }
        }
        let new = step.image.forward_act(t, s, h, ChannelAct::Sigmoid)?;
        let (Some((_, gate)), Some(p)) = (&step.shortcut, previous) else {
            return Ok(new);
        };
        // x_t = x_{t−1} + r ⊙ (new − x_{t−1}), r = σ(a − GATE_OFFSET): a step starts as a near
        // copy of the last, r ≈ 0.12 (the reference's gated addition starts its gate at 0.1),
        // and refines it; a gate open from the start lets a step's fresh output collapse to
        // the mostly black mean image and its sigmoid saturate there.
        let a = gate.forward(t, s, h)?;
        let a = t.affine(a, 1.0, -GATE_OFFSET)?;
        let r = t.sigmoid(a)?;
        let minus = t.affine(p, -1.0, 0.0)?;
        let d = t.add(new, minus)?;
        let rd = t.mul(r, d)?;
        t.add(p, rd)
    }
}

impl Network for Sequential {
    fn batch_norm_momentum(&self) -> f32 {
        BN.momentum
    }

    /// T·κ: the steps' codes side by side.
    fn latent(&self) -> usize {
        self.steps.len() * self.latent
    }

    fn example_shape(&self) -> Vec<usize> {
        vec![self.channels, self.side, self.side]
    }

    fn encode(&self, t: &mut Tape, s: &ParamStore, x: Var, train: bool) -> Result<(Var, Var)> {
        let n = t.value(x).shape()[0];
        let (mut mus, mut sigmas) = (Vec::new(), Vec::new());
        for step in &self.steps {
            let h = *step
                .encoder
                .forward(t, s, x, train)?
                .last()
                .expect("at least one level");
            let flat = t.value(h).numel() / n;
            let h = t.reshape(h, &[n, flat])?;
            let h = step.encoder_out.forward(t, s, h)?;
            let (mu, sigma) = super::split_mu_sigma(t, h, self.latent)?;
            mus.push(mu);
            sigmas.push(sigma);
        }
        if mus.len() == 1 {
            return Ok((mus[0], sigmas[0]));
        }
        Ok((t.concat(&mus)?, t.concat(&sigmas)?))
    }

    fn decode(&self, t: &mut Tape, s: &ParamStore, z: Var, train: bool) -> Result<Var> {
        let steps = self
            .decode_steps(t, s, z, train)?
            .expect("a sequential decoder has steps");
        Ok(*steps.last().expect("at least one step"))
    }

    fn decode_steps(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        z: Var,
        train: bool,
    ) -> Result<Option<Vec<Var>>> {
        let mut out: Vec<Var> = Vec::with_capacity(self.steps.len());
        for (i, step) in self.steps.iter().enumerate() {
            let zt = if self.steps.len() == 1 {
                z
            } else {
                t.slice_last(z, i * self.latent, self.latent)?
            };
            // The previous image as data: no gradient into the step before.
            let previous = match out.last() {
                Some(&p) if train => Some(t.constant(t.value(p).clone())?),
                p => p.copied(),
            };
            out.push(self.step(t, s, (step, train), zt, previous)?);
        }
        Ok(Some(out))
    }

    fn forward_flops(&self, batch: usize) -> f64 {
        let levels = self.steps[0].up.len() + 1;
        let c = self.channels as f64;
        let (mut enc, mut dec) = (0.0, 0.0);
        for l in 0..levels {
            let out_px = ((self.side >> (l + 1)) as f64).powi(2);
            let inputs = if l == 0 { c } else { width(l - 1) as f64 };
            let w = width(l) as f64;
            enc += out_px * (inputs * w * 16.0 + w * w * 9.0);
            if l > 0 {
                // Up to level l − 1's side, then its 3×3 conv.
                let up_px = ((self.side >> l) as f64).powi(2);
                let o = width(l - 1) as f64;
                dec += up_px * (w * o * 16.0 + o * o * 9.0);
            }
        }
        let top = (width(levels - 1) * self.bottom * self.bottom) as f64;
        let image = (self.side * self.side) as f64 * width(0) as f64 * c * 16.0;
        let dense = top * 2.0 * self.latent as f64 + self.latent as f64 * top;
        let t = self.steps.len() as f64;
        // Every step: encoder, code, decoder, image; past step 0 also the shortcut encoder
        // and the gate.
        let macs = t * (enc + dense + dec + image) + (t - 1.0) * (enc + image);
        2.0 * batch as f64 * macs
    }
}
