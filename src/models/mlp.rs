//! A small fully connected VAE for quick runs (the default on `shapes`): D → h → h → 2κ and
//! κ → h → h → D with ReLU, σ_z = 1e-6 + softplus, μ_x = sigmoid; Glorot-uniform weights as
//! in the reference's stage-2 MLP. No batch norm, so train and eval modes agree.

use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::Result;
use crate::kernels::channel::ChannelAct;
use crate::nn::layers::Linear;
use crate::nn::{Init, ParamStore, ParamsBuilder};

/// Hidden width used by `--net mlp`.
pub const HIDDEN: usize = 512;

pub struct Mlp {
    channels: usize,
    side: usize,
    latent: usize,
    hidden: usize,
    enc: [Linear; 3],
    dec: [Linear; 3],
}

impl Mlp {
    pub fn new(
        b: &mut ParamsBuilder,
        channels: usize,
        side: usize,
        latent: usize,
        hidden: usize,
    ) -> Mlp {
        let d = channels * side * side;
        let g = Init::GlorotUniform;
        Mlp {
            channels,
            side,
            latent,
            hidden,
            enc: [
                Linear::new(b, "encoder.fc1", d, hidden, g),
                Linear::new(b, "encoder.fc2", hidden, hidden, g),
                Linear::new(b, "encoder.fc3", hidden, 2 * latent, g),
            ],
            dec: [
                Linear::new(b, "decoder.fc1", latent, hidden, g),
                Linear::new(b, "decoder.fc2", hidden, hidden, g),
                Linear::new(b, "decoder.fc3", hidden, d, g),
            ],
        }
    }
}

impl Network for Mlp {
    fn latent(&self) -> usize {
        self.latent
    }

    fn example_shape(&self) -> Vec<usize> {
        vec![self.channels, self.side, self.side]
    }

    fn encode(&self, t: &mut Tape, s: &ParamStore, x: Var, _train: bool) -> Result<(Var, Var)> {
        let n = t.value(x).shape()[0];
        let mut h = t.reshape(x, &[n, self.channels * self.side * self.side])?;
        for (i, layer) in self.enc.iter().enumerate() {
            let act = if i < 2 {
                ChannelAct::Relu
            } else {
                ChannelAct::Identity
            };
            h = layer.forward_act(t, s, h, act)?;
        }
        super::split_mu_sigma(t, h, self.latent)
    }

    fn decode(&self, t: &mut Tape, s: &ParamStore, z: Var, _train: bool) -> Result<Var> {
        let n = t.value(z).shape()[0];
        let mut h = z;
        for (i, layer) in self.dec.iter().enumerate() {
            let act = if i < 2 {
                ChannelAct::Relu
            } else {
                ChannelAct::Sigmoid
            };
            h = layer.forward_act(t, s, h, act)?;
        }
        t.reshape(h, &[n, self.channels, self.side, self.side])
    }

    fn forward_flops(&self, batch: usize) -> f64 {
        let (d, h, k) = (
            self.channels * self.side * self.side,
            self.hidden,
            self.latent,
        );
        let macs = d * h + h * h + h * 2 * k + k * h + h * h + h * d;
        2.0 * (batch * macs) as f64
    }
}
