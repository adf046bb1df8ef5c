//! The second-stage VAE of Dai & Wipf (Section 4; the reference's MLP), over the stage-1
//! latents z ∈ R^κ: it learns q(z) so that sampling u ~ N(0, I) → z lands where stage 1's
//! decoder was trained.
//!
//! Encoder: `layers` dense layers of `hidden` with ReLU, then the input skip [z, h] into two
//! dense heads, μ_u and the raw scale of σ_u. Decoder: the same on u, then [u, h] into a dense
//! ẑ, unbounded (the latents are not in (0, 1)). Glorot-uniform weights, zero biases.
//! The learned γ_z is the `Vae` objective's loggamma.
//!
//! One deviation: the reference's log σ_u head is exponentiated; here σ_u = 1e-6 +
//! softplus(s), as for stage 1, so a large s cannot overflow. The two agree where σ_u
//! matters (softplus(s) ≈ exp(s) for s ≪ 0, which is where collapsed dimensions' σ_u go).

use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::channel::ChannelAct;
use crate::nn::layers::Linear;
use crate::nn::{Init, ParamStore, ParamsBuilder};

/// The reference's width and depth.
pub const HIDDEN: usize = 1024;
pub const LAYERS: usize = 3;

pub struct Stage2Net {
    dim: usize,
    latent: usize,
    hidden: usize,
    enc: Vec<Linear>,
    enc_mu: Linear,
    enc_sigma: Linear,
    dec: Vec<Linear>,
    dec_out: Linear,
}

impl Stage2Net {
    /// A stage-2 VAE on `dim`-vectors with a `latent`-dimensional u.
    pub fn new(
        b: &mut ParamsBuilder,
        dim: usize,
        latent: usize,
        hidden: usize,
        layers: usize,
    ) -> Result<Stage2Net> {
        for (flag, v) in [
            ("--latent-dim", dim),
            ("--stage2-hidden", hidden),
            ("--stage2-layers", layers),
        ] {
            if v == 0 {
                return Err(Error::flag(flag, "stage 2 needs it to be at least 1"));
            }
        }
        let g = Init::GlorotUniform;
        let stack = |b: &mut ParamsBuilder, part: &str, input: usize| -> Vec<Linear> {
            (0..layers)
                .map(|i| {
                    let inputs = if i == 0 { input } else { hidden };
                    Linear::new(b, &format!("stage2.{part}.fc{}", i + 1), inputs, hidden, g)
                })
                .collect()
        };
        let enc = stack(b, "encoder", dim);
        let enc_mu = Linear::new(b, "stage2.encoder.mu", dim + hidden, latent, g);
        let enc_sigma = Linear::new(b, "stage2.encoder.sigma", dim + hidden, latent, g);
        let dec = stack(b, "decoder", latent);
        let dec_out = Linear::new(b, "stage2.decoder.out", latent + hidden, dim, g);
        Ok(Stage2Net {
            dim,
            latent,
            hidden,
            enc,
            enc_mu,
            enc_sigma,
            dec,
            dec_out,
        })
    }

    /// `layers` dense ReLU layers on x, then [x, h].
    fn trunk(t: &mut Tape, s: &ParamStore, stack: &[Linear], x: Var) -> Result<Var> {
        let mut h = x;
        for layer in stack {
            h = layer.forward_act(t, s, h, ChannelAct::Relu)?;
        }
        t.concat(&[x, h])
    }
}

impl Network for Stage2Net {
    fn latent(&self) -> usize {
        self.latent
    }

    fn example_shape(&self) -> Vec<usize> {
        vec![self.dim]
    }

    fn encode(&self, t: &mut Tape, s: &ParamStore, z: Var, _train: bool) -> Result<(Var, Var)> {
        let h = Self::trunk(t, s, &self.enc, z)?;
        let mu = self.enc_mu.forward(t, s, h)?;
        let raw = self.enc_sigma.forward(t, s, h)?;
        Ok((mu, super::positive_sigma(t, raw)?))
    }

    fn decode(&self, t: &mut Tape, s: &ParamStore, u: Var, _train: bool) -> Result<Var> {
        let h = Self::trunk(t, s, &self.dec, u)?;
        self.dec_out.forward(t, s, h)
    }

    fn forward_flops(&self, batch: usize) -> f64 {
        let (d, k, h, l) = (self.dim, self.latent, self.hidden, self.enc.len());
        let trunk = |input: usize| input * h + (l - 1) * h * h;
        let macs = trunk(d) + 2 * (d + h) * k + trunk(k) + (k + h) * d;
        2.0 * (batch * macs) as f64
    }
}
