//! The tape beyond the stage-1 network (concatenation, slicing, sums, MMD, a parameter
//! used twice) against finite differences of an f64 CPU version, and its misuse errors.

use crate::common::gpu;
use vae_gpu::autograd::Tape;
use vae_gpu::check::Rng;
use vae_gpu::kernels::channel::ChannelAct;
use vae_gpu::kernels::matmul::reference::matmul;
use vae_gpu::kernels::mmd::{reference as mmdref, MmdConfig, MmdKernel};
use vae_gpu::nn::{Init, ParamsBuilder};
use vae_gpu::{Error, Tensor};

const CFG: MmdConfig = MmdConfig {
    kernel: MmdKernel::InverseMultiquadric { c: 8.0 },
    unbiased: true,
};

/// loss = mmd(sigmoid(concat(x·Wᵀ, x)[:, 1..5]), y) + ½·mean(concat(..)) + Σ x·Wᵀ
fn cpu_loss(w: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let h = matmul(x, &[5, 4], w, &[3, 4], false, true);
    let c: Vec<f64> = (0..5)
        .flat_map(|r| {
            h[r * 3..r * 3 + 3]
                .iter()
                .chain(&x[r * 4..r * 4 + 4])
                .copied()
                .collect::<Vec<_>>()
        })
        .collect();
    let s: Vec<f64> = (0..5)
        .flat_map(|r| c[r * 7 + 1..r * 7 + 5].to_vec())
        .map(|v| 1.0 / (1.0 + (-v).exp()))
        .collect();
    let m = mmdref::mmd(&s, y, 4, CFG);
    m + 0.5 * c.iter().sum::<f64>() / c.len() as f64 + h.iter().sum::<f64>()
}

#[test]
fn concat_slice_sum_mmd_and_a_shared_parameter_match_finite_differences() {
    let (g, _turn) = gpu();
    let mut b = ParamsBuilder::new(1);
    let wid = b.param("w", &[3, 4], Init::Normal { std: 0.5 });
    let store = b.build(&g).unwrap();
    let mut rng = Rng::new(2);
    let (x, y) = (rng.data(&[5, 4], -1.0, 1.0), rng.data(&[6, 4], 0.0, 1.0));

    store.zero_grad();
    let mut t = Tape::new(&g);
    let xv = t.constant(x.upload(&g).unwrap()).unwrap();
    let yv = t.constant(y.upload(&g).unwrap()).unwrap();
    let w1 = t.param(&store, wid).unwrap();
    let h = t.matmul(xv, w1, false, true).unwrap();
    let c = t.concat(&[h, xv]).unwrap();
    let s = t.slice_last(c, 1, 4).unwrap();
    let sg = t.sigmoid(s).unwrap();
    let m = t.mmd(sg, yv, CFG).unwrap();
    let mean = t.sum(c, true).unwrap();
    let half = t.affine(mean, 0.5, 0.0).unwrap();
    let w2 = t.param(&store, wid).unwrap();
    let h2 = t.matmul(xv, w2, false, true).unwrap();
    let total_h = t.sum(h2, false).unwrap();
    let l1 = t.add(m, half).unwrap();
    let loss = t.add(l1, total_h).unwrap();
    t.backward(loss, &store).unwrap();

    let w: Vec<f64> = store
        .value(wid)
        .to_vec()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let got = t.value(loss).to_vec().unwrap()[0] as f64;
    let want = cpu_loss(&w, &x.f64, &y.f64);
    assert!(
        (got - want).abs() < 1e-5 * want.abs().max(1.0),
        "loss {got} vs {want}"
    );
    let grad = store.grad(wid).unwrap().to_vec().unwrap();
    let h = 1e-6;
    for i in 0..w.len() {
        let (mut p, mut q) = (w.clone(), w.clone());
        p[i] += h;
        q[i] -= h;
        let fd = (cpu_loss(&p, &x.f64, &y.f64) - cpu_loss(&q, &x.f64, &y.f64)) / (2.0 * h);
        // f32 sums of ≤ 30 terms of O(1): 1e-5 relative is 10× the rounding, far below a
        // wrong rule (the shared parameter alone contributes Σx, an O(1) term).
        assert!(
            (grad[i] as f64 - fd).abs() < 1e-5 * fd.abs().max(1.0),
            "w[{i}]: GPU {} vs FD {fd}",
            grad[i]
        );
    }
}

/// The elementwise product, as the Sequential VAE's gate uses it: loss = Σ σ(a) ⊙ b + Σ a ⊙ a
/// (a parameter on both sides of one product), against finite differences on the CPU.
#[test]
fn the_elementwise_product_matches_finite_differences() {
    let (g, _turn) = gpu();
    let mut b = ParamsBuilder::new(3);
    let aid = b.param("a", &[3, 5], Init::Normal { std: 1.0 });
    let bid = b.param("b", &[3, 5], Init::Normal { std: 1.0 });
    let store = b.build(&g).unwrap();
    store.zero_grad();
    let mut t = Tape::new(&g);
    let (a, bv) = (t.param(&store, aid).unwrap(), t.param(&store, bid).unwrap());
    let sa = t.sigmoid(a).unwrap();
    let p = t.mul(sa, bv).unwrap();
    let sq = t.mul(a, a).unwrap();
    let (l1, l2) = (t.sum(p, false).unwrap(), t.sum(sq, false).unwrap());
    let loss = t.add(l1, l2).unwrap();
    t.backward(loss, &store).unwrap();
    let host = |id| -> Vec<f64> {
        store
            .value(id)
            .to_vec()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect()
    };
    let (av, bvv) = (host(aid), host(bid));
    let cpu = |a: &[f64], b: &[f64]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| y / (1.0 + (-x).exp()) + x * x)
            .sum()
    };
    let got = t.value(loss).to_vec().unwrap()[0] as f64;
    assert!((got - cpu(&av, &bvv)).abs() < 1e-5 * got.abs().max(1.0));
    let h = 1e-6;
    for (id, which) in [(aid, 0), (bid, 1)] {
        let grad = store.grad(id).unwrap().to_vec().unwrap();
        for i in 0..15 {
            let (mut p, mut q) = ([av.clone(), bvv.clone()], [av.clone(), bvv.clone()]);
            p[which][i] += h;
            q[which][i] -= h;
            let fd = (cpu(&p[0], &p[1]) - cpu(&q[0], &q[1])) / (2.0 * h);
            // f32 products and sigmoids of O(1) values: 1e-5 relative is well above their
            // rounding and far below a wrong rule (a missing factor changes O(1) terms).
            assert!(
                (grad[i] as f64 - fd).abs() < 1e-5 * fd.abs().max(1.0),
                "param {which}[{i}]: GPU {} vs FD {fd}",
                grad[i]
            );
        }
    }
    let mut t = Tape::new(&g);
    let (a, x) = (
        t.param(&store, aid).unwrap(),
        t.constant(Tensor::zeros(&g, &[5, 3]).unwrap()).unwrap(),
    );
    assert!(matches!(t.mul(a, x), Err(Error::Shape { .. })));
}

/// A store with one 2×3 parameter, and the device's turn held for the whole test.
fn simple() -> (
    std::sync::Arc<vae_gpu::Gpu>,
    std::sync::MutexGuard<'static, ()>,
    vae_gpu::nn::ParamStore,
    vae_gpu::nn::ParamId,
) {
    let (g, turn) = gpu();
    let mut b = ParamsBuilder::new(1);
    let id = b.param("layer.w", &[2, 3], Init::GlorotUniform);
    let s = b.build(&g).unwrap();
    (g, turn, s, id)
}

#[test]
fn misuse_is_an_error_that_names_the_problem() {
    let (g, _turn, store, id) = simple();
    let mut t = Tape::new(&g);
    let w = t.param(&store, id).unwrap();
    // A non-scalar loss.
    let e = t.backward(w, &store).unwrap_err();
    assert!(
        matches!(e, Error::Autograd(_)) && e.to_string().contains("scalar loss"),
        "{e}"
    );
    let l = t.sum(w, false).unwrap();
    t.backward(l, &store).unwrap();
    // Backward twice, and recording on a consumed tape.
    let e = t.backward(l, &store).unwrap_err();
    assert!(e.to_string().contains("backward called twice"), "{e}");
    let e = t.sum(w, true).unwrap_err();
    assert!(e.to_string().contains("consumed"), "{e}");
    // A loss that depends on no trainable parameter.
    let mut t = Tape::new(&g);
    let c = t.constant(Tensor::zeros(&g, &[3]).unwrap()).unwrap();
    let l = t.sum(c, false).unwrap();
    let e = t.backward(l, &store).unwrap_err();
    assert!(e.to_string().contains("no trainable parameter"), "{e}");
    // Shapes: the op and both shapes are named.
    let mut t = Tape::new(&g);
    let w = t.param(&store, id).unwrap();
    let c = t.constant(Tensor::zeros(&g, &[3, 2]).unwrap()).unwrap();
    let e = t.add(w, c).unwrap_err().to_string();
    assert!(
        e.starts_with("add:") && e.contains("[2, 3]") && e.contains("[3, 2]"),
        "{e}"
    );
    let e = t.matmul(w, w, false, false).unwrap_err().to_string();
    assert!(e.starts_with("matmul:"), "{e}");
    let e = t.slice_last(w, 2, 2).unwrap_err().to_string();
    assert!(e.starts_with("slice_last:"), "{e}");
}

#[test]
fn a_nan_gradient_is_reported_with_the_parameter_name() {
    let (g, _turn, store, id) = simple();
    store.zero_grad();
    let mut t = Tape::new(&g);
    let w = t.param(&store, id).unwrap();
    let x = t
        .constant(Tensor::full(&g, &[2, 3], f32::NAN).unwrap())
        .unwrap();
    let y = t.add(w, x).unwrap();
    let l = t.sum(y, false).unwrap();
    store.check_grads_finite().unwrap();
    // d(w + NaN)/dw is 1, so a NaN reaches the gradient only through a NaN upstream value.
    let l2 = t.affine(l, f32::NAN, 0.0).unwrap();
    t.backward(l2, &store).unwrap();
    let e = store.check_grads_finite().unwrap_err();
    assert!(
        matches!(e, Error::NonFinite(_)) && e.to_string().contains("layer.w"),
        "{e}"
    );
}

#[test]
fn gradients_accumulate_until_zeroed() {
    let (g, _turn, store, id) = simple();
    store.zero_grad();
    for _ in 0..2 {
        let mut t = Tape::new(&g);
        let w = t.param(&store, id).unwrap();
        let l = t.sum(w, false).unwrap();
        t.backward(l, &store).unwrap();
    }
    assert_eq!(store.grad(id).unwrap().to_vec().unwrap(), vec![2.0; 6]);
    store.zero_grad();
    assert_eq!(store.grad(id).unwrap().to_vec().unwrap(), vec![0.0; 6]);
}

/// zero_grad dispatches nothing: the next backward's gradient replaces the old one, and a
/// parameter no backward reached reads as zero, through its view and the flat buffer.
#[test]
fn zeroed_gradients_are_replaced_and_untouched_ones_read_zero() {
    let (g, _turn) = gpu();
    let mut b = ParamsBuilder::new(1);
    let used = b.param("a.w", &[2, 3], Init::GlorotUniform);
    let unused = b.param("b.w", &[5], Init::GlorotUniform);
    let store = b.build(&g).unwrap();
    let step = |scale: f32| {
        let mut t = Tape::new(&g);
        let w = t.param(&store, used).unwrap();
        let u = t.param(&store, unused).unwrap();
        let l = t.sum(w, false).unwrap();
        let l = t.affine(l, scale, 0.0).unwrap();
        let lu = t.sum(u, false).unwrap();
        (t, l, lu)
    };
    // Both parameters get gradients, then a zero_grad, then only `used` does.
    let (mut t, l, lu) = step(3.0);
    let both = t.add(l, lu).unwrap();
    t.backward(both, &store).unwrap();
    assert_eq!(store.grad(unused).unwrap().to_vec().unwrap(), vec![1.0; 5]);
    store.zero_grad();
    let (mut t, l, _) = step(2.0);
    t.backward(l, &store).unwrap();
    let flat = store.flat_grads().unwrap().to_vec().unwrap();
    let (a, bi) = (store.info(used).offset, store.info(unused).offset);
    assert_eq!(&flat[a..a + 6], &[2.0; 6]);
    assert_eq!(&flat[bi..bi + 5], &[0.0; 5]);
    assert_eq!(store.grad(unused).unwrap().to_vec().unwrap(), vec![0.0; 5]);
}

/// Batch norm through the tape in both modes: training updates the running averages, eval
/// normalises with them; the gradients of x, γ and β in eval mode (where the statistics are
/// constants) against finite differences of the f64 reference.
#[test]
fn batch_norm_layer_eval_mode_uses_running_averages_and_differentiates() {
    use vae_gpu::kernels::batchnorm::{reference as bnref, BatchNormConfig};
    use vae_gpu::nn::layers::BatchNorm;
    let (g, _turn) = gpu();
    let cfg = BatchNormConfig {
        eps: 1e-5,
        momentum: 0.5,
    };
    let mut b = ParamsBuilder::new(4);
    let xid = b.param("x", &[4, 3], Init::Normal { std: 1.0 });
    let bn = BatchNorm::new(&mut b, "bn", 3, cfg);
    let store = b.build(&g).unwrap();
    store.set_value(bn.gamma, &[0.5, 1.5, -1.0]).unwrap();
    store.set_value(bn.beta, &[0.1, -0.2, 0.3]).unwrap();
    let x: Vec<f64> = store
        .value(xid)
        .to_vec()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let d = bnref::Dims {
        n: 4,
        c: 3,
        inner: 1,
    };

    // One training-mode pass moves the running averages halfway to the batch statistics.
    let mut t = Tape::new(&g);
    let xv = t.param(&store, xid).unwrap();
    bn.forward(&mut t, &store, xv, true, ChannelAct::Identity)
        .unwrap();
    let (rm, rv) = bnref::running_update(&d, &x, &[0.0; 3], &[1.0; 3], 0.5);
    let got_rm = store.state(bn.running_mean).to_vec().unwrap();
    let got_rv = store.state(bn.running_var).to_vec().unwrap();
    for c in 0..3 {
        assert!((got_rm[c] as f64 - rm[c]).abs() < 1e-6 && (got_rv[c] as f64 - rv[c]).abs() < 1e-6);
    }

    // Eval mode: L = Σ r ⊙ bn_eval(x).
    let r = Rng::new(5).data(&[4, 3], -1.0, 1.0);
    store.zero_grad();
    let mut t = Tape::new(&g);
    let xv = t.param(&store, xid).unwrap();
    let y = bn
        .forward(&mut t, &store, xv, false, ChannelAct::Identity)
        .unwrap();
    let rv_ = t.constant(r.upload(&g).unwrap()).unwrap();
    let weighted = t.matmul(y, rv_, true, false).unwrap(); // [3, 3]: diag holds Σ_n y·r per channel
    let l = t.sum(weighted, false).unwrap();
    t.backward(l, &store).unwrap();
    // Σ over the whole 3×3 of yᵀ·r = Σ_n Σ_c Σ_c' y[n,c]·r[n,c'].
    let loss = |x: &[f64], gamma: &[f64], beta: &[f64]| {
        let y = bnref::normalize(&d, x, &rm, &rv, gamma, beta, 1e-5);
        (0..4)
            .map(|n| {
                (0..3).map(|c| y[n * 3 + c]).sum::<f64>()
                    * (0..3).map(|c| r.f64[n * 3 + c]).sum::<f64>()
            })
            .sum::<f64>()
    };
    let (gamma, beta) = ([0.5, 1.5, -1.0], [0.1, -0.2, 0.3]);
    let fd = |f: &dyn Fn(&[f64]) -> f64, v: &[f64]| -> Vec<f64> {
        (0..v.len())
            .map(|i| {
                let (mut p, mut m) = (v.to_vec(), v.to_vec());
                p[i] += 1e-6;
                m[i] -= 1e-6;
                (f(&p) - f(&m)) / 2e-6
            })
            .collect()
    };
    let checks: [(&str, Vec<f32>, Vec<f64>); 3] = [
        (
            "x",
            store.grad(xid).unwrap().to_vec().unwrap(),
            fd(&|v| loss(v, &gamma, &beta), &x),
        ),
        (
            "gamma",
            store.grad(bn.gamma).unwrap().to_vec().unwrap(),
            fd(&|v| loss(&x, v, &beta), &gamma),
        ),
        (
            "beta",
            store.grad(bn.beta).unwrap().to_vec().unwrap(),
            fd(&|v| loss(&x, &gamma, v), &beta),
        ),
    ];
    for (name, got, want) in checks {
        for (a, b) in got.iter().zip(&want) {
            // A few f32 roundings of O(1) values: 1e-5 relative is 100× the rounding.
            assert!(
                (*a as f64 - b).abs() < 1e-5 * b.abs().max(1.0),
                "{name}: GPU {a} vs FD {b}"
            );
        }
    }
}
