//! The Two-Stage VAE's first-stage network, the "InfoGAN" conv net of the reference implementation
//! (`../shared/reference-notes.md`), for side × side × C images (side divisible by 4):
//!
//! encoder: conv 4×4/2 → leaky ReLU 0.2 → conv 4×4/2 → BN → leaky ReLU 0.2
//!          → fc → BN → leaky ReLU 0.2 → fc 2κ → μ = first κ, σ = 1e-6 + softplus(rest)
//! decoder: fc → BN → ReLU → fc 128·(side/4)² → BN → ReLU → reshape
//!          → deconv 4×4/2 → BN → ReLU → deconv 4×4/2 → sigmoid = μ_x
//!
//! "same" padding for a 4×4 stride-2 conv on an even side is 1 on each side; the transposed
//! conv with padding 1 doubles the side exactly. Initialisation N(0, 0.02), truncated for
//! the encoder convolutions; batch norm ε 1e-5, momentum 0.999.

use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::batchnorm::BatchNormConfig;
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::kernels::conv_transpose2d::ConvTranspose2dConfig;
use crate::models::Network;
use crate::nn::layers::{BatchNorm, Conv2d, ConvTranspose2d, Linear};
use crate::nn::{Init, ParamStore, ParamsBuilder};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InfoGanConfig {
    pub side: usize,
    pub channels: usize,
    /// Filters of the two convolutions (64, 128 in the reference).
    pub conv: (usize, usize),
    /// Width of the fully connected layers (1024).
    pub hidden: usize,
    /// κ (64).
    pub latent: usize,
    pub bn: BatchNormConfig,
}

impl InfoGanConfig {
    /// The reference network for side × side × `channels` images.
    pub fn reference(side: usize, channels: usize) -> Self {
        InfoGanConfig {
            side,
            channels,
            conv: (64, 128),
            hidden: 1024,
            latent: 64,
            bn: super::REFERENCE_BN,
        }
    }
}

pub struct InfoGan {
    pub cfg: InfoGanConfig,
    enc_conv1: Conv2d,
    enc_conv2: Conv2d,
    enc_bn2: BatchNorm,
    enc_fc1: Linear,
    enc_bn3: BatchNorm,
    enc_fc2: Linear,
    dec_fc1: Linear,
    dec_bn1: BatchNorm,
    dec_fc2: Linear,
    dec_bn2: BatchNorm,
    dec_deconv1: ConvTranspose2d,
    dec_bn3: BatchNorm,
    dec_deconv2: ConvTranspose2d,
}

const LEAK: f32 = 0.2;

impl InfoGan {
    pub fn new(b: &mut ParamsBuilder, cfg: InfoGanConfig) -> Result<InfoGan> {
        if cfg.side == 0 || !cfg.side.is_multiple_of(4) {
            return Err(Error::flag(
                "--image-size",
                format!(
                    "the infogan network needs a side divisible by 4, not {}",
                    cfg.side
                ),
            ));
        }
        let (c1, c2) = cfg.conv;
        let q = cfg.side / 4;
        let n = Init::Normal { std: 0.02 };
        let tn = Init::TruncatedNormal { std: 0.02 };
        let down = Conv2dConfig::new(2, 1);
        let up = ConvTranspose2dConfig::new(2, 1, 0);
        Ok(InfoGan {
            cfg,
            enc_conv1: Conv2d::new(b, "encoder.conv1", cfg.channels, c1, 4, down, tn),
            enc_conv2: Conv2d::new(b, "encoder.conv2", c1, c2, 4, down, tn),
            enc_bn2: BatchNorm::new(b, "encoder.bn2", c2, cfg.bn),
            enc_fc1: Linear::new(b, "encoder.fc1", c2 * q * q, cfg.hidden, n),
            enc_bn3: BatchNorm::new(b, "encoder.bn3", cfg.hidden, cfg.bn),
            enc_fc2: Linear::new(b, "encoder.fc2", cfg.hidden, 2 * cfg.latent, n),
            dec_fc1: Linear::new(b, "decoder.fc1", cfg.latent, cfg.hidden, n),
            dec_bn1: BatchNorm::new(b, "decoder.bn1", cfg.hidden, cfg.bn),
            dec_fc2: Linear::new(b, "decoder.fc2", cfg.hidden, c2 * q * q, n),
            dec_bn2: BatchNorm::new(b, "decoder.bn2", c2 * q * q, cfg.bn),
            dec_deconv1: ConvTranspose2d::new(b, "decoder.deconv1", c2, c1, 4, up, n),
            dec_bn3: BatchNorm::new(b, "decoder.bn3", c1, cfg.bn),
            dec_deconv2: ConvTranspose2d::new(b, "decoder.deconv2", c1, cfg.channels, 4, up, n),
        })
    }
}

impl Network for InfoGan {
    fn latent(&self) -> usize {
        self.cfg.latent
    }

    fn example_shape(&self) -> Vec<usize> {
        vec![self.cfg.channels, self.cfg.side, self.cfg.side]
    }

    /// x [N, C, side, side] → (μ_z, σ_z), each [N, κ].
    fn encode(&self, t: &mut Tape, s: &ParamStore, x: Var, train: bool) -> Result<(Var, Var)> {
        let c = &self.cfg;
        let n = t.value(x).shape()[0];
        let leaky = ChannelAct::LeakyRelu(LEAK);
        let h = self.enc_conv1.forward_act(t, s, x, leaky)?;
        let h = self.enc_conv2.forward(t, s, h)?;
        let h = self.enc_bn2.forward(t, s, h, train, leaky)?;
        let flat = t.value(h).numel() / n;
        let h = t.reshape(h, &[n, flat])?;
        let h = self.enc_fc1.forward(t, s, h)?;
        let h = self.enc_bn3.forward(t, s, h, train, leaky)?;
        let h = self.enc_fc2.forward(t, s, h)?;
        super::split_mu_sigma(t, h, c.latent)
    }

    /// z [N, κ] → μ_x [N, C, side, side] in (0, 1).
    fn decode(&self, t: &mut Tape, s: &ParamStore, z: Var, train: bool) -> Result<Var> {
        let c = &self.cfg;
        let n = t.value(z).shape()[0];
        let q = c.side / 4;
        let h = self.dec_fc1.forward(t, s, z)?;
        let h = self.dec_bn1.forward(t, s, h, train, ChannelAct::Relu)?;
        let h = self.dec_fc2.forward(t, s, h)?;
        let h = self.dec_bn2.forward(t, s, h, train, ChannelAct::Relu)?;
        let h = t.reshape(h, &[n, c.conv.1, q, q])?;
        let h = self.dec_deconv1.forward(t, s, h)?;
        let h = self.dec_bn3.forward(t, s, h, train, ChannelAct::Relu)?;
        self.dec_deconv2.forward_act(t, s, h, ChannelAct::Sigmoid)
    }

    /// Multiply-add FLOPs (2 per MAC) of the convolutions and fully connected layers of one
    /// forward pass at `batch` (the elementwise ops, batch norm and losses add a few %).
    fn forward_flops(&self, batch: usize) -> f64 {
        let c = &self.cfg;
        let (c1, c2, h, k) = (c.conv.0, c.conv.1, c.hidden, c.latent);
        let (half, q) = ((c.side / 2).pow(2), (c.side / 4).pow(2));
        let macs = c1 * half * c.channels * 16 // conv1
            + c2 * q * c1 * 16                   // conv2
            + c2 * q * h + h * 2 * k             // fc1, fc2
            + k * h + h * c2 * q                 // decoder fc1, fc2
            + c2 * q * c1 * 16                   // deconv1 (each input scatters to c1·16)
            + c1 * half * c.channels * 16; // deconv2
        2.0 * (batch * macs) as f64
    }
}
