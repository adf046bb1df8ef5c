//! GECO's multiplier schedule on the device, driven through `GecoState` as a training step
//! drives it (C_ma before the loss, λ after the backward pass), against a sequence worked
//! out by hand.

use crate::common::gpu;
use vae_gpu::autograd::Tape;
use vae_gpu::models::geco::GecoState;
use vae_gpu::models::Geco;
use vae_gpu::nn::{Init, ParamsBuilder};
use vae_gpu::Tensor;

/// α = ½, η = ½, factor clamped to [½, 2], warm-up 2, every 2; C = 4, 2, −2, 0, 6, −2, −8:
///
/// | step | C  | C_ma                        | λ update?          | λ after          |
/// | 0    | 4  | 4 (the first batch)          | no (warm-up)       | 1                |
/// | 1    | 2  | ½·4 + ½·2 = 3                | no (warm-up)       | 1                |
/// | 2    | −2 | ½·3 − 1 = 0.5                | yes: e^0.25        | 1.2840254166877414 |
/// | 3    | 0  | 0.25                         | no (every 2)       | 1.2840254166877414 |
/// | 4    | 6  | 0.125 + 3 = 3.125            | yes: e^1.5625 → 2  | 2.568050833375483  |
/// | 5    | −2 | 1.5625 − 1 = 0.5625          | no                 | 2.568050833375483  |
/// | 6    | −8 | 0.28125 − 4 = −3.71875       | yes: e^−1.859… → ½ | 1.2840254166877414 |
///
/// f32 on the device: λ to 1e-6 relative (exp's few ulp), C_ma exactly (halves and sums of
/// small binary fractions are exact in f32).
#[test]
fn the_multiplier_follows_a_hand_computed_sequence() {
    let (g, _turn) = gpu();
    let mut b = ParamsBuilder::new(1);
    let w = b.param("w", &[1], Init::Zeros);
    let settings = Geco {
        rmse: 0.1,
        alpha: 0.5,
        lr: 0.5,
        every: 2,
        warmup: 2,
        clamp: [0.5, 2.0],
    };
    let geco = GecoState::new(&mut b, settings);
    let store = b.build(&g).unwrap();
    let cs = [4.0f32, 2.0, -2.0, 0.0, 6.0, -2.0, -8.0];
    let want_c_ma = [4.0, 3.0, 0.5, 0.25, 3.125, 0.5625, -3.71875];
    let e = 1.2840254166877414;
    let want_lambda = [1.0, 1.0, e, e, 2.0 * e, 2.0 * e, e];
    for (step, &c) in cs.iter().enumerate() {
        // C enters the tape as a term of a parameter, as a model's constraint does.
        let mut t = Tape::new(&g);
        let wv = t.param(&store, w).unwrap();
        let cv = t.affine(wv, 0.0, c).unwrap();
        let cv = t.reshape(cv, &[]).unwrap();
        let term = geco.term(&mut t, &store, cv, step as u64, true).unwrap();
        let value = t.value(term).clone();
        geco.after_step(&store, &Tensor::full(&g, &[1], c).unwrap(), step as u64)
            .unwrap();
        let (lambda, c_ma) = geco.read(&store).unwrap();
        assert_eq!(c_ma as f64, want_c_ma[step], "C_ma after step {step}");
        let want = want_lambda[step];
        assert!(
            (lambda as f64 - want).abs() <= 1e-6 * want,
            "λ after step {step}: {lambda} vs {want}"
        );
        // The term's value is λ before this step's update times the new C_ma.
        let before = if step == 0 {
            1.0
        } else {
            want_lambda[step - 1]
        };
        let v = value.to_vec().unwrap()[0] as f64;
        assert!(
            (v - before * want_c_ma[step]).abs()
                <= 1e-6 * (before * want_c_ma[step]).abs().max(1.0),
            "λ·C_ma at step {step}: {v}"
        );
    }
}

/// An evaluation pass (train = false) reads λ and leaves λ and C_ma alone: the term is λ·C.
#[test]
fn evaluation_does_not_move_the_multiplier_state() {
    let (g, _turn) = gpu();
    let mut b = ParamsBuilder::new(1);
    let w = b.param("w", &[1], Init::Zeros);
    let geco = GecoState::new(&mut b, Geco::with_rmse(0.1));
    let store = b.build(&g).unwrap();
    store.set_state("geco.lambda", &[3.0]).unwrap();
    store.set_state("geco.c_ma", &[-1.0]).unwrap();
    let mut t = Tape::inference(&g);
    let wv = t.param(&store, w).unwrap();
    let cv = t.affine(wv, 0.0, 5.0).unwrap();
    let term = geco.term(&mut t, &store, cv, 7, false).unwrap();
    assert_eq!(t.value(term).to_vec().unwrap(), vec![15.0]);
    assert_eq!(geco.read(&store).unwrap(), (3.0, -1.0));
}
