//! Zhao, Song & Ermon's PixelCNN-VAE for MNIST (Section 4, Appendix C.2): a conv encoder to a
//! κ-d code and a "simplified conditional PixelCNN" decoder (van den Oord et al. 2016) that
//! models p(x | z) = Π_i p(x_i | x_<i, z) pixel by pixel in raster order.
//!
//! Encoder (their reference code's): conv 64 4×4 s2 → leaky ReLU 0.1 → conv 128 4×4 s2 →
//! leaky ReLU → dense 512 → leaky ReLU → dense 2κ (μ_z, and σ_z through a softplus).
//! Decoder, `layers` gated layers of `width` channels: layer 0 is a 7×7 type-A masked conv of
//! the image, later ones 3×3 type-B masked convs of the previous layer; each gives 2·width
//! channels to the gated activation tanh(h_a + V_a z) ⊙ σ(h_b + V_b z) (z's linear map per
//! layer, broadcast over the pixels), then a 1×1 conv and ReLU, with a residual connection
//! after layer 0. Output: 1×1 conv to 32 channels, ReLU, 1×1 conv to K logits per pixel —
//! K = 256 (a categorical over 8-bit values) or 2 (Bernoulli on binarised data).
//! Single-channel images only: several channels need masks ordered across channels too.

use super::Network;
use crate::autograd::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::nn::layers::{Conv2d, Linear};
use crate::nn::masked::{MaskKind, MaskedConv2d};
use crate::nn::{Init, ParamStore, ParamsBuilder};

/// The decoder's depth (gated layers) and width (channels); the reference's 12 and 32 by
/// default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PixelCnnShape {
    pub layers: usize,
    pub width: usize,
}

impl Default for PixelCnnShape {
    fn default() -> Self {
        PixelCnnShape {
            layers: 12,
            width: 32,
        }
    }
}
const OUTPUT_HIDDEN: usize = 32;
const SLOPE: f32 = 0.1;

struct GatedLayer {
    conv: MaskedConv2d,
    cond: Linear,
    out: Conv2d,
}

pub struct PixelCnn {
    side: usize,
    latent: usize,
    classes: usize,
    width: usize,
    enc1: Conv2d,
    enc2: Conv2d,
    enc_fc: Linear,
    enc_out: Linear,
    layers: Vec<GatedLayer>,
    head: Conv2d,
    logits: Conv2d,
}

impl PixelCnn {
    /// For 1 × side × side images (side divisible by 4) with `classes` values per pixel.
    pub fn new(
        b: &mut ParamsBuilder,
        channels: usize,
        side: usize,
        latent: usize,
        classes: usize,
        PixelCnnShape { layers, width }: PixelCnnShape,
    ) -> Result<PixelCnn> {
        if channels != 1 {
            return Err(Error::flag(
                "--net",
                format!("pixelcnn models single-channel images; this data has {channels} channels"),
            ));
        }
        if side == 0 || !side.is_multiple_of(4) {
            return Err(Error::flag(
                "--image-size",
                format!("pixelcnn's encoder halves the side twice: {side} is not divisible by 4"),
            ));
        }
        if layers == 0 || width == 0 {
            return Err(Error::flag(
                "--pixelcnn-layers",
                "the PixelCNN needs at least one layer of at least one channel",
            ));
        }
        let (down, g) = (Conv2dConfig::new(2, 1), Init::GlorotUniform);
        let one = Conv2dConfig::new(1, 0);
        let q = side / 4;
        let layers = (0..layers)
            .map(|i| {
                let (inputs, kernel, kind) = if i == 0 {
                    (1, 7, MaskKind::A)
                } else {
                    (width, 3, MaskKind::B)
                };
                let name = format!("decoder.layer{i}");
                GatedLayer {
                    conv: MaskedConv2d::new(b, &name, inputs, 2 * width, kernel, kind),
                    cond: Linear::new(b, &format!("{name}.cond"), latent, 2 * width, g),
                    out: Conv2d::new(b, &format!("{name}.out"), width, width, 1, one, g),
                }
            })
            .collect();
        Ok(PixelCnn {
            side,
            latent,
            classes,
            width,
            enc1: Conv2d::new(b, "encoder.conv1", 1, 64, 4, down, g),
            enc2: Conv2d::new(b, "encoder.conv2", 64, 128, 4, down, g),
            enc_fc: Linear::new(b, "encoder.fc1", 128 * q * q, 512, g),
            enc_out: Linear::new(b, "encoder.fc2", 512, 2 * latent, g),
            layers,
            head: Conv2d::new(b, "decoder.head", width, OUTPUT_HIDDEN, 1, one, g),
            logits: Conv2d::new(b, "decoder.logits", OUTPUT_HIDDEN, classes, 1, one, g),
        })
    }
}

impl Network for PixelCnn {
    fn latent(&self) -> usize {
        self.latent
    }

    fn example_shape(&self) -> Vec<usize> {
        vec![1, self.side, self.side]
    }

    fn encode(&self, t: &mut Tape, s: &ParamStore, x: Var, _train: bool) -> Result<(Var, Var)> {
        let n = t.value(x).shape()[0];
        let leaky = ChannelAct::LeakyRelu(SLOPE);
        let h = self.enc1.forward_act(t, s, x, leaky)?;
        let h = self.enc2.forward_act(t, s, h, leaky)?;
        let q = self.side / 4;
        let h = t.reshape(h, &[n, 128 * q * q])?;
        let h = self.enc_fc.forward_act(t, s, h, leaky)?;
        let h = self.enc_out.forward(t, s, h)?;
        super::split_mu_sigma(t, h, self.latent)
    }

    fn decode(&self, _t: &mut Tape, _s: &ParamStore, _z: Var, _train: bool) -> Result<Var> {
        Err(Error::shape(
            "pixelcnn decode",
            "an autoregressive decoder has no mean image of z alone: it gives each pixel's distribution given the pixels before it (decode_pixels), and samples pixel by pixel",
        ))
    }

    fn pixel_classes(&self) -> Option<usize> {
        Some(self.classes)
    }

    /// 3 rows of the 7×7 type-A layer, then one more for each 3×3 layer (the 1×1 convs and
    /// the conditioning add none).
    fn causal_rows(&self) -> Option<usize> {
        Some(3 + self.layers.len() - 1)
    }

    fn decode_pixels(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        z: Var,
        x: Var,
        _train: bool,
    ) -> Result<Var> {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            let pre = layer.conv.forward_act(t, s, h, ChannelAct::Identity)?;
            let cond = layer.cond.forward(t, s, z)?;
            let g = t.gated(pre, cond)?;
            let out = layer.out.forward_act(t, s, g, ChannelAct::Relu)?;
            h = if i == 0 { out } else { t.add(out, h)? };
        }
        let h = self.head.forward_act(t, s, h, ChannelAct::Relu)?;
        self.logits.forward(t, s, h)
    }

    fn forward_flops(&self, batch: usize) -> f64 {
        let q = self.side / 4;
        let px = (self.side * self.side) as f64;
        let w = self.width as f64;
        let enc = 2.0
            * ((64 * 16) as f64 * (4 * q * q) as f64
                + (128 * 64 * 16) as f64 * (q * q) as f64
                + (128 * q * q * 512) as f64
                + (512 * 2 * self.latent) as f64);
        let first = 2.0 * 2.0 * w * 49.0 * px;
        let later = (self.layers.len().saturating_sub(1)) as f64 * 2.0 * (2.0 * w * w * 9.0) * px;
        let per_layer =
            self.layers.len() as f64 * 2.0 * (w * w * px + (self.latent as f64) * 2.0 * w);
        let out =
            2.0 * (w * OUTPUT_HIDDEN as f64 + OUTPUT_HIDDEN as f64 * self.classes as f64) * px;
        batch as f64 * (enc + first + later + per_layer + out)
    }
}
