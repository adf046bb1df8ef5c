//! Every backward rule against central finite differences of its forward reference,
//! in f64 on the CPU. The GPU backward kernels are in turn compared with these same
//! backward references by the conformance suite, which closes the chain
//! GPU backward = reference backward = d(reference forward).
//!
//! Loss L = Σ r ⊙ f(x) with random r, so dL/dy = r. Step h = 1e-5: truncation error
//! O(h²·f''') ≈ 1e-10 for smooth f and roundoff ≈ 1e-16/h ≈ 1e-11, so a tolerance of
//! 1e-6·max(1, |g|) is far above both and far below any wrong rule (errors of O(|g|)).
//! Inputs stay ≥ 0.05 away from the kinks of relu and leaky relu.

use vae_gpu::check::Rng;
use vae_gpu::kernels::batchnorm::reference as bn;
use vae_gpu::kernels::binary::{reference as binref, Binary};
use vae_gpu::kernels::channel::reference as ch;
use vae_gpu::kernels::channel::ChannelAct;
use vae_gpu::kernels::conv2d::{reference as conv, Conv2dConfig, ConvGeom};
use vae_gpu::kernels::conv_transpose2d::{reference as deconv, ConvTranspose2dConfig};
use vae_gpu::kernels::matmul::reference::matmul;
use vae_gpu::kernels::reduce::reference as red;
use vae_gpu::kernels::unary::{reference as unref, Unary};

const H: f64 = 1e-5;

fn rand(seed: u64, n: usize) -> Vec<f64> {
    Rng::new(seed).data(&[n], -1.0, 1.0).f64
}

/// dL/dx_i by central differences of L(x) = Σ r·f(x).
fn numeric(f: &dyn Fn(&[f64]) -> Vec<f64>, x: &[f64], r: &[f64]) -> Vec<f64> {
    let loss = |x: &[f64]| f(x).iter().zip(r).map(|(a, b)| a * b).sum::<f64>();
    (0..x.len())
        .map(|i| {
            let (mut p, mut m) = (x.to_vec(), x.to_vec());
            p[i] += H;
            m[i] -= H;
            (loss(&p) - loss(&m)) / (2.0 * H)
        })
        .collect()
}

fn assert_grad(name: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len(), "{name}: length");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        assert!(
            (a - n).abs() <= 1e-6 * n.abs().max(1.0),
            "{name}[{i}]: rule {a} vs finite difference {n}"
        );
    }
}

#[test]
fn matmul_rules() {
    let (m, n, k) = (3, 4, 5);
    let (a, b, r) = (rand(1, m * k), rand(2, k * n), rand(3, m * n));
    // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC.
    let da = matmul(&r, &[m, n], &b, &[k, n], false, true);
    let db = matmul(&a, &[m, k], &r, &[m, n], true, false);
    assert_grad(
        "matmul dA",
        &da,
        &numeric(&|a| matmul(a, &[m, k], &b, &[k, n], false, false), &a, &r),
    );
    assert_grad(
        "matmul dB",
        &db,
        &numeric(&|b| matmul(&a, &[m, k], b, &[k, n], false, false), &b, &r),
    );
    // C = Aᵀ·B with A stored [k, m]: dA = B·dCᵀ (stored [k, m]).
    let da_t = matmul(&b, &[k, n], &r, &[m, n], false, true);
    assert_grad(
        "matmul Aᵀ·B dA",
        &da_t,
        &numeric(&|a| matmul(a, &[k, m], &b, &[k, n], true, false), &a, &r),
    );
}

#[test]
fn conv2d_rules() {
    for (i, (x, w, cfg)) in [
        ([2, 3, 7, 6], [4, 3, 3, 3], Conv2dConfig::new(1, 1)),
        ([1, 2, 9, 8], [3, 2, 4, 4], Conv2dConfig::new(2, 1)),
        (
            [2, 1, 8, 7],
            [2, 1, 3, 2],
            Conv2dConfig {
                stride: (2, 3),
                padding: (1, 0),
            },
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let g = ConvGeom::forward("conv2d", &x, &w, cfg).unwrap();
        let s = 10 * i as u64;
        let (xv, wv) = (rand(s, x.iter().product()), rand(s + 1, w.iter().product()));
        let r = rand(s + 2, g.n * g.k * g.oh * g.ow);
        assert_grad(
            "conv2d dx",
            &conv::grad_input(&g, &r, &wv),
            &numeric(&|x| conv::forward(&g, x, &wv), &xv, &r),
        );
        assert_grad(
            "conv2d dw",
            &conv::grad_weight(&g, &r, &xv),
            &numeric(&|w| conv::forward(&g, &xv, w), &wv, &r),
        );
    }
}

#[test]
fn conv_transpose2d_rules() {
    for (i, (n, ci, h, w, co, k, cfg)) in [
        (2, 3, 4, 3, 2, 3, ConvTranspose2dConfig::new(2, 1, 1)),
        (1, 2, 3, 3, 3, 4, ConvTranspose2dConfig::new(2, 1, 0)),
    ]
    .into_iter()
    .enumerate()
    {
        let (oh, ow) = cfg.out_size("t", h, w, k, k).unwrap();
        let g = deconv::Geom {
            n,
            ci,
            h,
            w,
            co,
            kh: k,
            kw: k,
            oh,
            ow,
            cfg,
        };
        let s = 100 + 10 * i as u64;
        let (xv, wv, r) = (
            rand(s, n * ci * h * w),
            rand(s + 1, ci * co * k * k),
            rand(s + 2, n * co * oh * ow),
        );
        assert_grad(
            "conv_transpose2d dx",
            &deconv::grad_input(&g, &r, &wv),
            &numeric(&|x| deconv::forward(&g, x, &wv), &xv, &r),
        );
        assert_grad(
            "conv_transpose2d dw",
            &deconv::grad_weight(&g, &r, &xv),
            &numeric(&|w| deconv::forward(&g, &xv, w), &wv, &r),
        );
    }
}

#[test]
fn batchnorm_rules() {
    for (i, d) in [
        bn::Dims {
            n: 4,
            c: 3,
            inner: 1,
        },
        bn::Dims {
            n: 2,
            c: 2,
            inner: 6,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let len = d.n * d.c * d.inner;
        let s = 200 + 10 * i as u64;
        let (x, r) = (rand(s, len), rand(s + 1, len));
        let gamma: Vec<f64> = rand(s + 2, d.c).iter().map(|v| 1.0 + 0.5 * v).collect();
        let beta = rand(s + 3, d.c);
        let eps = 1e-5;
        let (mean, var) = bn::moments(&d, &x);
        let (dx, dgamma, dbeta) = bn::backward(&d, &x, &r, &gamma, &mean, &var, eps, true);
        assert_grad(
            "bn train dx",
            &dx,
            &numeric(&|x| bn::forward_train(&d, x, &gamma, &beta, eps), &x, &r),
        );
        assert_grad(
            "bn dgamma",
            &dgamma,
            &numeric(&|g| bn::forward_train(&d, &x, g, &beta, eps), &gamma, &r),
        );
        assert_grad(
            "bn dbeta",
            &dbeta,
            &numeric(&|b| bn::forward_train(&d, &x, &gamma, b, eps), &beta, &r),
        );
        // Eval mode: statistics are constants.
        let rm = rand(s + 4, d.c);
        let rv: Vec<f64> = rand(s + 5, d.c).iter().map(|v| 1.2 + 0.5 * v).collect();
        let (dx, dgamma, _) = bn::backward(&d, &x, &r, &gamma, &rm, &rv, eps, false);
        assert_grad(
            "bn eval dx",
            &dx,
            &numeric(
                &|x| bn::normalize(&d, x, &rm, &rv, &gamma, &beta, eps),
                &x,
                &r,
            ),
        );
        assert_grad(
            "bn eval dgamma",
            &dgamma,
            &numeric(
                &|g| bn::normalize(&d, &x, &rm, &rv, g, &beta, eps),
                &gamma,
                &r,
            ),
        );
        // With an activation fused after it: the sigmoid, smooth where a kink could sit
        // within the step of an output that lands near 0 (act_grad's kinks: channel_act_rules).
        let act = ChannelAct::Sigmoid;
        let fused = |x: &[f64], g: &[f64], b: &[f64]| -> Vec<f64> {
            bn::forward_train(&d, x, g, b, eps)
                .iter()
                .map(|v| ch::act(act, *v))
                .collect()
        };
        let (dx, dgamma, dbeta) =
            bn::backward_act(&d, &x, &r, &gamma, &beta, &mean, &var, eps, true, act);
        assert_grad(
            "bn + sigmoid dx",
            &dx,
            &numeric(&|x| fused(x, &gamma, &beta), &x, &r),
        );
        assert_grad(
            "bn + sigmoid dgamma",
            &dgamma,
            &numeric(&|g| fused(&x, g, &beta), &gamma, &r),
        );
        assert_grad(
            "bn + sigmoid dbeta",
            &dbeta,
            &numeric(&|b| fused(&x, &gamma, b), &beta, &r),
        );
    }
}

#[test]
fn channel_act_rules() {
    // Keep inputs away from the kinks at 0.
    let x: Vec<f64> = rand(310, 64)
        .iter()
        .map(|v| v.signum() * (v.abs() + 0.05) * 4.0)
        .collect();
    let r = rand(311, 64);
    for act in [
        ChannelAct::Identity,
        ChannelAct::Relu,
        ChannelAct::LeakyRelu(0.2),
        ChannelAct::Sigmoid,
    ] {
        let g: Vec<f64> = x
            .iter()
            .zip(&r)
            .map(|(x, r)| ch::act_grad(act, *x) * r)
            .collect();
        let f = |x: &[f64]| -> Vec<f64> { x.iter().map(|v| ch::act(act, *v)).collect() };
        assert_grad(&format!("{act:?}"), &g, &numeric(&f, &x, &r));
    }
}

#[test]
fn activation_rules() {
    // Keep inputs away from the kinks at 0.
    let x: Vec<f64> = rand(300, 64).iter().map(|v| if v.abs() < 0.05 { v.signum() * 0.05 + v } else { *v } * 4.0).collect();
    let r = rand(301, 64);
    let cases: [(Unary, Binary, bool); 5] = [
        (Unary::Relu, Binary::ReluGrad, false),
        (Unary::LeakyRelu(0.2), Binary::LeakyReluGrad(0.2), false),
        (Unary::Softplus, Binary::SoftplusGrad, false),
        // These two rules take the forward output y, not x.
        (Unary::Sigmoid, Binary::SigmoidGrad, true),
        (Unary::Exp, Binary::ExpGrad, true),
    ];
    for (fwd, rule, uses_output) in cases {
        let a = if uses_output {
            unref::unary(fwd, &x)
        } else {
            x.clone()
        };
        let (_, g) = binref::binary(rule, &a, &[64], &r, &[64]);
        assert_grad(rule.name(), &g, &numeric(&|x| unref::unary(fwd, x), &x, &r));
    }
}

#[test]
fn bias_and_reduction_rules() {
    let (n, c, inner) = (3, 4, 5);
    let (x, r, b) = (
        rand(400, n * c * inner),
        rand(401, n * c * inner),
        rand(402, c),
    );
    let id = ChannelAct::Identity;
    assert_grad(
        "bias_act dbias",
        &ch::channel_sum(&r, c, inner),
        &numeric(&|b| ch::bias_act(&x, c, inner, b, id), &b, &r),
    );
    // sum over axis 1 of [3, 4, 5]: dx = broadcast of dy; mean divides by 4.
    let shape = [n, c, inner];
    let ry = rand(403, n * inner);
    for mean in [false, true] {
        let dx: Vec<f64> = (0..n * c * inner)
            .map(|i| ry[(i / (c * inner)) * inner + i % inner] / if mean { c as f64 } else { 1.0 })
            .collect();
        assert_grad(
            "sum_axis dx",
            &dx,
            &numeric(&|x| red::sum_axis(x, &shape, 1, mean), &x, &ry),
        );
    }
}

/// d/dθ of a scalar reference function by central differences.
fn numeric_scalar(f: &dyn Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    numeric(&|x| vec![f(x)], x, &[1.0])
}

fn uniform(seed: u64, n: usize, lo: f32, hi: f32) -> Vec<f64> {
    Rng::new(seed).data(&[n], lo, hi).f64
}

#[test]
fn gaussian_nll_rules() {
    use vae_gpu::kernels::loss::reference as l;
    let (x, xh) = (uniform(300, 12, 0.0, 1.0), uniform(301, 12, 0.0, 1.0));
    for lg in [0.0, -1.3, 0.7] {
        let (dx, dlg) = l::gaussian_nll_grad(&x, &xh, lg, 3);
        assert_grad(
            "gaussian_nll dxhat",
            &dx,
            &numeric_scalar(&|h| l::gaussian_nll(&x, h, lg, 3), &xh),
        );
        assert_grad(
            "gaussian_nll dloggamma",
            &[dlg],
            &numeric_scalar(&|g| l::gaussian_nll(&x, &xh, g[0], 3), &[lg]),
        );
    }
}

#[test]
fn bernoulli_ce_rule() {
    use vae_gpu::kernels::loss::reference as l;
    // Away from the clamps (x̂ ∈ [0.05, 0.95]); at a clamp the rule's gradient is 0 by
    // definition of max, which the conformance suite checks on the GPU.
    let (x, xh) = (uniform(310, 10, 0.0, 1.0), uniform(311, 10, 0.05, 0.95));
    assert_grad(
        "bernoulli_ce dxhat",
        &l::bernoulli_ce_grad(&x, &xh, 2),
        &numeric_scalar(&|h| l::bernoulli_ce(&x, h, 2), &xh),
    );
}

#[test]
fn softmax_ce_rule() {
    use vae_gpu::kernels::softmax_ce::reference as sce;
    // Logits [2, 5, 3] with the classes on axis 1 (inner 3), targets as class indices; and
    // [4, 6] with targets as pixel values k/255 over 6 classes (scale 255 names class k).
    for (classes, inner, outer, scale) in [(5, 3, 2, 1.0), (6, 1, 4, 255.0)] {
        let logits = uniform(320, outer * classes * inner, -3.0, 3.0);
        let targets: Vec<f64> = (0..outer * inner)
            .map(|r| ((r * 7 + 2) % classes) as f64 / scale)
            .collect();
        assert_grad(
            "softmax_ce dlogits",
            &sce::softmax_ce_grad(&logits, &targets, classes, inner, scale, outer),
            &numeric_scalar(
                &|l| sce::softmax_ce(l, &targets, classes, inner, scale, outer),
                &logits,
            ),
        );
    }
}

#[test]
fn gated_rules() {
    use vae_gpu::kernels::gated::reference as gr;
    // h [2, 2C, P] with C = 3, P = 4; cond [2, 2C].
    let (n, c, pixels) = (2, 3, 4);
    let h = uniform(330, n * 2 * c * pixels, -2.0, 2.0);
    let cond = uniform(331, n * 2 * c, -1.0, 1.0);
    let r = rand(332, n * c * pixels);
    let (dh, dcond) = gr::gated_grad(&r, &h, &cond, c, pixels);
    assert_grad(
        "gated dh",
        &dh,
        &numeric(&|h| gr::gated(h, &cond, c, pixels), &h, &r),
    );
    assert_grad(
        "gated dcond",
        &dcond,
        &numeric(&|k| gr::gated(&h, k, c, pixels), &cond, &r),
    );
}

#[test]
fn kl_normal_rules() {
    use vae_gpu::kernels::loss::reference as l;
    let (mu, s) = (uniform(320, 8, -2.0, 2.0), uniform(321, 8, 0.1, 3.0));
    let (dmu, ds) = l::kl_normal_grad(&mu, &s, 4);
    assert_grad(
        "kl dmu",
        &dmu,
        &numeric_scalar(&|m| l::kl_normal(m, &s, 4), &mu),
    );
    assert_grad(
        "kl dsigma",
        &ds,
        &numeric_scalar(&|v| l::kl_normal(&mu, v, 4), &s),
    );
}

#[test]
fn reparameterize_rules() {
    use vae_gpu::kernels::random::{reference as rr, RandomKey};
    let key = RandomKey {
        seed: 42,
        step: 3,
        stream: 1,
    };
    let (mu, s, r) = (rand(330, 9), uniform(331, 9, 0.1, 2.0), rand(332, 9));
    // dμ = dz (identity) and dσ = dz ⊙ ε with ε regenerated from the key.
    assert_grad(
        "reparameterize dmu",
        &r,
        &numeric(&|m| rr::reparameterize(m, &s, key), &mu, &r),
    );
    assert_grad(
        "reparameterize dsigma",
        &rr::grad_sigma(&r, key),
        &numeric(&|v| rr::reparameterize(&mu, v, key), &s, &r),
    );
}

#[test]
fn philox_known_answers() {
    use vae_gpu::kernels::random::{reference as rr, RandomKey};
    // Random123's published known-answer vectors for philox4x32-10 (kat_vectors).
    let zero = RandomKey {
        seed: 0,
        step: 0,
        stream: 0,
    };
    assert_eq!(
        rr::philox(zero, [0; 4]),
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
    );
    let ones = RandomKey {
        seed: u64::MAX,
        step: 0,
        stream: 0,
    };
    assert_eq!(
        rr::philox(ones, [u32::MAX; 4]),
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
    );
}

#[test]
fn mmd_rules() {
    use vae_gpu::kernels::mmd::{reference as mr, MmdConfig, MmdKernel};
    let (n, m, d) = (4, 5, 3);
    let (x, y) = (rand(340, n * d), uniform(341, m * d, -1.5, 0.5));
    for kernel in [MmdKernel::rbf_for_dim(d), MmdKernel::imq_for_dim(d)] {
        for unbiased in [false, true] {
            let cfg = MmdConfig { kernel, unbiased };
            let rows: Vec<usize> = (0..n + m).collect();
            let (g, _) = mr::mmd_grad_rows(&x, &y, d, cfg, &rows);
            assert_grad(
                "mmd dX",
                &g[..n * d],
                &numeric_scalar(&|x| mr::mmd(x, &y, d, cfg), &x),
            );
            assert_grad(
                "mmd dY",
                &g[n * d..],
                &numeric_scalar(&|y| mr::mmd(&x, y, d, cfg), &y),
            );
        }
    }
}
