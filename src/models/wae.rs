//! The reference's "WAE" network for 64×64 colour images (any side divisible by 8):
//!
//! encoder: conv 5×5/1 → 128, then conv 5×5/2 → 256, 512, 1024, each → BN → ReLU,
//!          → dense μ_z and dense s, σ_z = 1e-6 + softplus(s)
//! decoder: dense 1024·(side/8)² → ReLU → reshape → deconv 5×5/2 → 512, 256, 128, each
//!          → BN → ReLU, → deconv 5×5/1 → C → sigmoid = μ_x
//!
//! Choices where the reference differs or is vague (documented, as the notes ask): the
//! reference's dense log σ is replaced by the softplus parameterisation the InfoGAN network
//! uses (no exp overflow early in training); padding is 2 on each side (TF's "same" pads 1
//! before and 2 after for stride 2 — the same output size, shifted half a pixel); the
//! stride-2 transposed convs use output padding 1 to double the side exactly.

use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::kernels::conv_transpose2d::ConvTranspose2dConfig;
use crate::nn::layers::{BatchNorm, Conv2d, ConvTranspose2d, Linear};
use crate::nn::{Init, ParamStore, ParamsBuilder};

/// The reference's first width; the others double it.
pub const BASE: usize = 128;

pub struct Wae {
    channels: usize,
    side: usize,
    latent: usize,
    /// Encoder widths b, 2b, 4b, 8b (the decoder mirrors them).
    widths: [usize; 4],
    convs: Vec<(Conv2d, BatchNorm)>,
    fc_mu: Linear,
    fc_sigma: Linear,
    dec_fc: Linear,
    deconvs: Vec<(ConvTranspose2d, BatchNorm)>,
    out: ConvTranspose2d,
}

impl Wae {
    /// The reference network (base width 128): about 34 M parameters plus 3·1024·(side/8)²·κ
    /// in the dense layers, so it needs an adapter that binds more than 128 MiB.
    pub fn new(b: &mut ParamsBuilder, channels: usize, side: usize, latent: usize) -> Result<Wae> {
        Self::with_base(b, channels, side, latent, BASE)
    }

    /// The same architecture with widths base, 2·base, 4·base, 8·base.
    pub fn with_base(
        b: &mut ParamsBuilder,
        channels: usize,
        side: usize,
        latent: usize,
        base: usize,
    ) -> Result<Wae> {
        if side == 0 || !side.is_multiple_of(8) {
            return Err(Error::flag(
                "--image-size",
                format!("the wae network needs a side divisible by 8, not {side}"),
            ));
        }
        let n = Init::Normal { std: 0.02 };
        let bn = super::REFERENCE_BN;
        let widths = [base, 2 * base, 4 * base, 8 * base];
        let flat = widths[3] * (side / 8).pow(2);
        let mut convs = Vec::new();
        let mut c_in = channels;
        for (i, &w) in widths.iter().enumerate() {
            let stride = if i == 0 { 1 } else { 2 };
            let name = format!("encoder.conv{}", i + 1);
            let conv = Conv2d::new(b, &name, c_in, w, 5, Conv2dConfig::new(stride, 2), n);
            convs.push((
                conv,
                BatchNorm::new(b, &format!("encoder.bn{}", i + 1), w, bn),
            ));
            c_in = w;
        }
        let fc_mu = Linear::new(b, "encoder.fc_mu", flat, latent, n);
        let fc_sigma = Linear::new(b, "encoder.fc_sigma", flat, latent, n);
        let dec_fc = Linear::new(b, "decoder.fc", latent, flat, n);
        let mut deconvs = Vec::new();
        for (i, w) in [widths[2], widths[1], widths[0]].into_iter().enumerate() {
            let name = format!("decoder.deconv{}", i + 1);
            let up = ConvTranspose2dConfig::new(2, 2, 1);
            let d = ConvTranspose2d::new(b, &name, c_in, w, 5, up, n);
            deconvs.push((d, BatchNorm::new(b, &format!("decoder.bn{}", i + 1), w, bn)));
            c_in = w;
        }
        let same = ConvTranspose2dConfig::new(1, 2, 0);
        let out = ConvTranspose2d::new(b, "decoder.deconv4", c_in, channels, 5, same, n);
        Ok(Wae {
            widths,
            channels,
            side,
            latent,
            convs,
            fc_mu,
            fc_sigma,
            dec_fc,
            deconvs,
            out,
        })
    }
}

impl Network for Wae {
    fn latent(&self) -> usize {
        self.latent
    }

    fn example_shape(&self) -> Vec<usize> {
        vec![self.channels, self.side, self.side]
    }

    fn encode(&self, t: &mut Tape, s: &ParamStore, x: Var, train: bool) -> Result<(Var, Var)> {
        let n = t.value(x).shape()[0];
        let mut h = x;
        for (conv, bn) in &self.convs {
            h = conv.forward(t, s, h)?;
            h = bn.forward(t, s, h, train, ChannelAct::Relu)?;
        }
        let flat = t.value(h).numel() / n;
        let h = t.reshape(h, &[n, flat])?;
        let mu = self.fc_mu.forward(t, s, h)?;
        let raw = self.fc_sigma.forward(t, s, h)?;
        Ok((mu, super::positive_sigma(t, raw)?))
    }

    fn decode(&self, t: &mut Tape, s: &ParamStore, z: Var, train: bool) -> Result<Var> {
        let n = t.value(z).shape()[0];
        let q = self.side / 8;
        let h = self.dec_fc.forward_act(t, s, z, ChannelAct::Relu)?;
        let mut h = t.reshape(h, &[n, self.widths[3], q, q])?;
        for (deconv, bn) in &self.deconvs {
            h = deconv.forward(t, s, h)?;
            h = bn.forward(t, s, h, train, ChannelAct::Relu)?;
        }
        self.out.forward_act(t, s, h, ChannelAct::Sigmoid)
    }

    fn forward_flops(&self, batch: usize) -> f64 {
        let (s, c, w) = (self.side, self.channels, self.widths);
        let px = |side: usize| side * side;
        // Encoder convs at sides s, s/2, s/4, s/8; the decoder mirrors them.
        let convs = px(s) * c * w[0]
            + px(s / 2) * w[0] * w[1]
            + px(s / 4) * w[1] * w[2]
            + px(s / 8) * w[2] * w[3];
        let flat = w[3] * px(s / 8);
        let macs = 2 * convs * 25 + 3 * flat * self.latent;
        2.0 * (batch * macs) as f64
    }
}
