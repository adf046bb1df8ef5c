//! The PixelCNN decoder is autoregressive: the logits at pixel i depend on the pixels before
//! it in raster order and on z, never on pixel i or any after it. Checked on the device by
//! changing every pixel from i on and comparing the logits up to i (bit for bit), and by
//! changing a neighbour before i, which must move them.

use crate::common::gpu;
use vae_gpu::autograd::Tape;
use vae_gpu::check::Rng;
use vae_gpu::models::{Network, PixelCnn, PixelCnnShape};
use vae_gpu::nn::ParamsBuilder;
use vae_gpu::Tensor;

#[test]
fn pixelcnn_logits_at_a_pixel_see_only_the_pixels_before_it() {
    let (gpu, _turn) = gpu();
    let (side, classes) = (8, 4);
    let mut b = ParamsBuilder::new(3);
    let shape = PixelCnnShape {
        layers: 3,
        width: 6,
    };
    let net = PixelCnn::new(&mut b, 1, side, 2, classes, shape).unwrap();
    let store = b.build(&gpu).unwrap();
    let z = Tensor::from_slice(&gpu, &[0.3, -1.2], &[1, 2]).unwrap();
    let logits = |x: &[f32]| -> Vec<f32> {
        let mut t = Tape::inference(&gpu);
        let zv = t.constant(z.clone()).unwrap();
        let xv = t
            .constant(Tensor::from_slice(&gpu, x, &[1, 1, side, side]).unwrap())
            .unwrap();
        let l = net.decode_pixels(&mut t, &store, zv, xv, false).unwrap();
        t.value(l).to_vec().unwrap()
    };
    let pixels = side * side;
    // Logits [1, K, side, side]: class k of pixel p at k·P + p.
    let upto = |l: &[f32], i: usize| -> Vec<f32> {
        (0..classes)
            .flat_map(|k| l[k * pixels..k * pixels + i + 1].to_vec())
            .collect()
    };
    let x = Rng::new(11).data(&[pixels], 0.0, 1.0).f32;
    let base = logits(&x);
    for i in [0, 1, 7, 8, 27, 63] {
        let mut later = x.clone();
        for v in &mut later[i..] {
            *v = 1.0 - *v;
        }
        assert_eq!(
            upto(&logits(&later), i),
            upto(&base, i),
            "pixel {i}'s logits saw a pixel at or after it"
        );
        // The left neighbour, or at a row's start the pixel above (the receptive field
        // reaches a few columns right in the rows above, not the end of the previous row).
        if i > 0 {
            let j = if i % side != 0 { i - 1 } else { i - side };
            let mut earlier = x.clone();
            earlier[j] = 1.0 - earlier[j];
            let moved = logits(&earlier);
            assert!(
                (0..classes).any(|k| moved[k * pixels + i] != base[k * pixels + i]),
                "pixel {i}'s logits ignore pixel {j}"
            );
        }
    }
}

/// The sampler runs the decoder on a window of rows only: the pixel's row and the
/// `causal_rows` above it. The window's last row must give the whole image's logits of that
/// row (the same sums of the same values: 1e-5 relative covers a different kernel route for
/// the shorter image), and `causal_rows` must be the reach exactly: in the whole image, row r
/// moves with row r − reach and not at all (bit for bit) with the row above it.
#[test]
fn a_window_of_the_causal_rows_gives_the_whole_images_logits() {
    let (gpu, _turn) = gpu();
    let (side, classes) = (12, 3);
    let mut b = ParamsBuilder::new(5);
    let shape = PixelCnnShape {
        layers: 4,
        width: 6,
    };
    let net = PixelCnn::new(&mut b, 1, side, 2, classes, shape).unwrap();
    let store = b.build(&gpu).unwrap();
    let reach = net.causal_rows().unwrap();
    assert_eq!(reach, 3 + 3, "7×7 type A, then one row a 3×3 layer");
    let z = Tensor::from_slice(&gpu, &[0.7, -0.4], &[1, 2]).unwrap();
    let x = Rng::new(12).data(&[side * side], 0.0, 1.0).f32;
    let logits = |x: &[f32], first: usize, rows: usize| -> Vec<f32> {
        let mut t = Tape::inference(&gpu);
        let zv = t.constant(z.clone()).unwrap();
        let window = &x[first * side..(first + rows) * side];
        let xv = t
            .constant(Tensor::from_slice(&gpu, window, &[1, 1, rows, side]).unwrap())
            .unwrap();
        let l = net.decode_pixels(&mut t, &store, zv, xv, false).unwrap();
        t.value(l).to_vec().unwrap()
    };
    // Class k of row r's pixels in logits of `rows` rows.
    let row = |l: &[f32], rows: usize, r: usize| -> Vec<f32> {
        (0..classes)
            .flat_map(|k| l[(k * rows + r) * side..(k * rows + r + 1) * side].to_vec())
            .collect()
    };
    let whole = logits(&x, 0, side);
    let flipped = |r: usize| -> Vec<f32> {
        let mut y = x.clone();
        for v in &mut y[r * side..(r + 1) * side] {
            *v = 1.0 - *v;
        }
        y
    };
    for r in [0, 2, reach, reach + 1, side - 1] {
        let first = r.saturating_sub(reach);
        let rows = r + 1 - first;
        let got = row(&logits(&x, first, rows), rows, r - first);
        let want = row(&whole, side, r);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "row {r}: {g} vs {w}"
            );
        }
        if first > 0 {
            let top = row(&logits(&flipped(first), 0, side), side, r);
            assert_ne!(top, want, "row {r} ignores row {first}");
            let above = row(&logits(&flipped(first - 1), 0, side), side, r);
            assert_eq!(above, want, "row {r} sees row {}", first - 1);
        }
    }
}
