//! The masked convolution of PixelCNN (van den Oord et al. 2016): a k×k convolution whose
//! weight sees only the pixels before the centre in raster order (type A, the first layer,
//! which must not see the pixel it predicts) or those and the centre (type B, later layers,
//! whose centre holds features of earlier pixels only). The conv2d kernels run it on W ⊙ M,
//! M uploaded once and applied on the device every step (`Tape::mask`), so the masked
//! weights never reach the output and their gradient is zero.

use std::sync::OnceLock;

use super::layers::{with_bias, Conv2d};
use crate::autograd::{Tape, Var};
use crate::error::Result;
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::nn::{Init, ParamStore, ParamsBuilder};
use crate::tensor::Tensor;

/// Which pixels a masked kernel sees: A excludes the centre, B includes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    A,
    B,
}

/// The mask of a [out, in, k, k] weight (single-channel images: every channel pair alike):
/// 1 above the centre row, left of the centre in its row, and at the centre for type B.
pub fn raster_mask(outputs: usize, inputs: usize, k: usize, kind: MaskKind) -> Vec<f32> {
    let c = k / 2;
    let field: Vec<f32> = (0..k * k)
        .map(|i| {
            let (y, x) = (i / k, i % k);
            let before = y < c || (y == c && x < c);
            let centre = y == c && x == c;
            (before || (centre && kind == MaskKind::B)) as u8 as f32
        })
        .collect();
    field.repeat(outputs * inputs)
}

/// A same-padded k×k (k odd) masked convolution with bias.
pub struct MaskedConv2d {
    pub conv: Conv2d,
    shape: [usize; 4],
    kind: MaskKind,
    /// The mask on the device, uploaded at the first forward pass.
    mask: OnceLock<Tensor>,
}

impl MaskedConv2d {
    pub fn new(
        b: &mut ParamsBuilder,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        kind: MaskKind,
    ) -> MaskedConv2d {
        let cfg = Conv2dConfig::new(1, kernel / 2);
        MaskedConv2d {
            conv: Conv2d::new(b, name, inputs, outputs, kernel, cfg, Init::GlorotUniform),
            shape: [outputs, inputs, kernel, kernel],
            kind,
            mask: OnceLock::new(),
        }
    }

    /// conv2d(x, W ⊙ M) + b, the activation fused with the bias.
    pub fn forward_act(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        act: ChannelAct,
    ) -> Result<Var> {
        let mask = match self.mask.get() {
            Some(m) => m.clone(),
            None => {
                let [o, i, k, _] = self.shape;
                let m = Tensor::from_slice(s.gpu(), &raster_mask(o, i, k, self.kind), &self.shape)?;
                self.mask.get_or_init(|| m).clone()
            }
        };
        let c = &self.conv;
        with_bias(t, s, x, (c.weight, c.bias), act, |t, x, w| {
            let w = t.mask(w, &mask)?;
            t.conv2d(x, w, c.cfg)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_a_hides_the_centre_and_type_b_shows_it() {
        let a = raster_mask(1, 1, 3, MaskKind::A);
        let b = raster_mask(1, 1, 3, MaskKind::B);
        assert_eq!(a, [1., 1., 1., 1., 0., 0., 0., 0., 0.]);
        assert_eq!(b, [1., 1., 1., 1., 1., 0., 0., 0., 0.]);
        // 5×5: two full rows, then two pixels left of the centre.
        let a5 = raster_mask(2, 3, 5, MaskKind::A);
        assert_eq!(a5.len(), 2 * 3 * 25);
        assert_eq!(a5[..25].iter().sum::<f32>(), 12.0);
        assert_eq!(a5[25..50], a5[..25]);
    }
}
