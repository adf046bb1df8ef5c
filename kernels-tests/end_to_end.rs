//! The whole stage-1 VAE (conv → BN → fc → reparameterize → fc → deconv → sigmoid, each
//! likelihood, the KL, MMD or no regulariser, and GECO's λ·C) on the GPU tape, against an independent f64 CPU model
//! written here from the forward references alone: the CPU gradient of every parameter is a
//! central finite difference of the CPU loss, so no backward rule or tape code is shared.
//!
//! Tolerance: the GPU runs ~15 layers in f32. Each layer's rounding is ~√K·ε relative to its
//! terms (K ≤ 64 here), and batch norm over 5 samples can amplify a relative error by
//! ~√5; so the gradients agree to ~1e-5 of each tensor's largest gradient (measured on
//! lavapipe: ~3e-7). The bound is 1e-4 of that largest value plus 1e-4 relative, loose enough
//! for every adapter and still far below what a wrong rule, a missed term or a swapped index
//! produce (errors of O(1) relative). The finite differences use h = 1e-6 in f64 (~1e-10).

use crate::common::gpu;
use vae_gpu::autograd::Tape;
use vae_gpu::check::Rng;
use vae_gpu::kernels::batchnorm::{reference as bn, BatchNormConfig};
use vae_gpu::kernels::channel::reference::bias_act;
use vae_gpu::kernels::channel::ChannelAct;
use vae_gpu::kernels::conv2d::{reference as conv, Conv2dConfig, ConvGeom};
use vae_gpu::kernels::conv_transpose2d::{reference as deconv, ConvTranspose2dConfig};
use vae_gpu::kernels::loss::reference as loss;
use vae_gpu::kernels::matmul::reference::matmul;
use vae_gpu::kernels::mmd::{reference as mmd, MmdConfig};
use vae_gpu::kernels::random::{reference as random, RandomKey};
use vae_gpu::models::vae::PRIOR_STREAM_OFFSET;
use vae_gpu::models::{
    Geco, InfoGan, InfoGanConfig, Likelihood, MmdChoice, Objective, Regularizer, Vae,
};
use vae_gpu::nn::{ParamInfo, ParamsBuilder};
use vae_gpu::Tensor;

const N: usize = 5;

fn config() -> InfoGanConfig {
    InfoGanConfig {
        side: 8,
        channels: 1,
        conv: (3, 4),
        hidden: 6,
        latent: 2,
        bn: BatchNormConfig {
            eps: 1e-5,
            momentum: 0.9,
        },
    }
}

/// The model in f64, reading parameters by name from the flat parameter vector.
struct CpuModel<'a> {
    infos: &'a [ParamInfo],
    cfg: InfoGanConfig,
    objective: Objective,
    /// The MMD regulariser's N(0, I) draws (the GPU's Philox stream, regenerated here).
    prior: Vec<f64>,
    /// GECO's λ (the state the GPU step reads).
    lambda: f64,
}

/// The tiny stage-1 network with objective `o` (parameters seeded by `seed`).
fn model(b: &mut ParamsBuilder, o: Objective) -> Vae {
    let net = InfoGan::new(b, config()).unwrap();
    Vae::new(b, Box::new(net), o)
}

fn leaky(v: Vec<f64>) -> Vec<f64> {
    v.into_iter()
        .map(|x| if x > 0.0 { x } else { 0.2 * x })
        .collect()
}
fn relu(v: Vec<f64>) -> Vec<f64> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

impl CpuModel<'_> {
    fn p<'f>(&self, flat: &'f [f64], name: &str) -> &'f [f64] {
        let i = self
            .infos
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no parameter {name}"));
        &flat[i.offset..i.offset + i.shape.iter().product::<usize>()]
    }

    fn bn(&self, flat: &[f64], name: &str, x: &[f64], c: usize, inner: usize) -> Vec<f64> {
        let d = bn::Dims { n: N, c, inner };
        let (g, b) = (
            self.p(flat, &format!("{name}.gamma")),
            self.p(flat, &format!("{name}.beta")),
        );
        bn::forward_train(&d, x, g, b, self.cfg.bn.eps as f64)
    }

    fn linear(
        &self,
        flat: &[f64],
        name: &str,
        x: &[f64],
        inputs: usize,
        outputs: usize,
    ) -> Vec<f64> {
        let w = self.p(flat, &format!("{name}.weight"));
        let y = matmul(x, &[N, inputs], w, &[outputs, inputs], false, true);
        let id = ChannelAct::Identity;
        bias_act(&y, outputs, 1, self.p(flat, &format!("{name}.bias")), id)
    }

    fn conv(
        &self,
        flat: &[f64],
        name: &str,
        x: &[f64],
        xs: [usize; 4],
        outputs: usize,
    ) -> (Vec<f64>, [usize; 4]) {
        let ws = [outputs, xs[1], 4, 4];
        let g = ConvGeom::forward("conv", &xs, &ws, Conv2dConfig::new(2, 1)).unwrap();
        let y = conv::forward(&g, x, self.p(flat, &format!("{name}.weight")));
        (
            bias_act(
                &y,
                outputs,
                g.oh * g.ow,
                self.p(flat, &format!("{name}.bias")),
                ChannelAct::Identity,
            ),
            [N, outputs, g.oh, g.ow],
        )
    }

    fn deconv(
        &self,
        flat: &[f64],
        name: &str,
        x: &[f64],
        xs: [usize; 4],
        outputs: usize,
    ) -> (Vec<f64>, [usize; 4]) {
        let g = deconv::Geom {
            n: N,
            ci: xs[1],
            h: xs[2],
            w: xs[3],
            co: outputs,
            kh: 4,
            kw: 4,
            oh: 2 * xs[2],
            ow: 2 * xs[3],
            cfg: ConvTranspose2dConfig::new(2, 1, 0),
        };
        let y = deconv::forward(&g, x, self.p(flat, &format!("{name}.weight")));
        (
            bias_act(
                &y,
                outputs,
                g.oh * g.ow,
                self.p(flat, &format!("{name}.bias")),
                ChannelAct::Identity,
            ),
            [N, outputs, g.oh, g.ow],
        )
    }

    /// The objective whose gradient the step follows. Under GECO that is λ·C + β·R with C
    /// this batch's constraint — the straight-through gradient — whatever C_ma's value.
    fn loss(&self, flat: &[f64], x: &[f64], eps: &[f64]) -> f64 {
        let (data, reg) = self.terms(flat, x, eps);
        match self.objective.geco {
            Some(_) => self.lambda * data + reg,
            None => data + reg,
        }
    }

    /// (the likelihood term, or GECO's C; β·R).
    fn terms(&self, flat: &[f64], x: &[f64], eps: &[f64]) -> (f64, f64) {
        let c = self.cfg;
        let (k, hid) = (c.latent, c.hidden);
        let (h, s) = self.conv(flat, "encoder.conv1", x, [N, 1, 8, 8], c.conv.0);
        let h = leaky(h);
        let (h, s) = self.conv(flat, "encoder.conv2", &h, s, c.conv.1);
        let h = leaky(self.bn(flat, "encoder.bn2", &h, s[1], s[2] * s[3]));
        let flat_in = s[1] * s[2] * s[3];
        let h = self.linear(flat, "encoder.fc1", &h, flat_in, hid);
        let h = leaky(self.bn(flat, "encoder.bn3", &h, hid, 1));
        let h = self.linear(flat, "encoder.fc2", &h, hid, 2 * k);
        let mu: Vec<f64> = (0..N * k).map(|i| h[(i / k) * 2 * k + i % k]).collect();
        let sigma: Vec<f64> = (0..N * k)
            .map(|i| {
                let r = h[(i / k) * 2 * k + k + i % k];
                1e-6 + r.max(0.0) + (-r.abs()).exp().ln_1p()
            })
            .collect();
        let z: Vec<f64> = (0..N * k).map(|i| mu[i] + sigma[i] * eps[i]).collect();
        let h = relu(self.bn(
            flat,
            "decoder.bn1",
            &self.linear(flat, "decoder.fc1", &z, k, hid),
            hid,
            1,
        ));
        let h = relu(self.bn(
            flat,
            "decoder.bn2",
            &self.linear(flat, "decoder.fc2", &h, hid, flat_in),
            flat_in,
            1,
        ));
        let (h, s) = self.deconv(flat, "decoder.deconv1", &h, s, c.conv.0);
        let h = relu(self.bn(flat, "decoder.bn3", &h, s[1], s[2] * s[3]));
        let (h, _) = self.deconv(flat, "decoder.deconv2", &h, s, 1);
        let mu_x: Vec<f64> = h.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
        let o = self.objective;
        let data = match (o.geco, o.likelihood) {
            (Some(g), _) => {
                let sse: f64 = x.iter().zip(&mu_x).map(|(a, b)| (a - b).powi(2)).sum();
                sse / N as f64 - g.kappa_squared(x.len() / N)
            }
            (None, Likelihood::GaussianLearned) => {
                loss::gaussian_nll(x, &mu_x, self.p(flat, "loggamma")[0], N)
            }
            (None, Likelihood::GaussianFixed { gamma }) => {
                loss::gaussian_nll(x, &mu_x, (gamma as f64).ln(), N)
            }
            (None, Likelihood::Bernoulli) => loss::bernoulli_ce(x, &mu_x, N),
            (None, Likelihood::Categorical) => {
                panic!("the InfoGAN decoder takes no categorical likelihood")
            }
        };
        let reg = match o.regularizer {
            Regularizer::Kl => loss::kl_normal(&mu, &sigma, N),
            Regularizer::Mmd => {
                let cfg = MmdConfig {
                    kernel: o.mmd_kernel.kernel(k),
                    unbiased: true,
                };
                mmd::mmd(&z, &self.prior, k, cfg)
            }
            Regularizer::None => 0.0,
        };
        (data, o.beta as f64 * reg)
    }
}

#[test]
fn stage1_loss_and_every_gradient_match_an_independent_cpu_model() {
    for (likelihood, beta) in [
        (Likelihood::GaussianLearned, 1.0),
        (Likelihood::GaussianFixed { gamma: 0.3 }, 1.0),
        (Likelihood::Bernoulli, 1.0),
        (Likelihood::GaussianLearned, 4.0),
    ] {
        check_against_cpu(Objective::elbo(likelihood, beta));
    }
}

/// Zhao et al.'s regularisers: MMD² to N(0, I) with either kernel (its gradient flows through
/// z = μ + σ·ε into the encoder), and none; each with a likelihood it may be paired with.
#[test]
fn mmd_and_no_regulariser_match_the_cpu_model() {
    for (likelihood, regularizer, mmd_kernel, beta) in [
        (
            Likelihood::GaussianLearned,
            Regularizer::Mmd,
            MmdChoice::Imq,
            50.0,
        ),
        (
            Likelihood::Bernoulli,
            Regularizer::Mmd,
            MmdChoice::Rbf,
            20.0,
        ),
        (
            Likelihood::GaussianFixed { gamma: 0.3 },
            Regularizer::None,
            MmdChoice::Imq,
            1.0,
        ),
    ] {
        check_against_cpu(Objective {
            likelihood,
            regularizer,
            mmd_kernel,
            beta,
            geco: None,
        });
    }
}

/// GECO: the loss's value is β·KL + λ·C_ma with C_ma = α·C_ma,prev + (1 − α)·C, but every
/// gradient is that of β·KL + λ·C (straight through the moving average), checked against
/// finite differences of the CPU model's λ·C + β·KL. Were the gradient taken through C_ma,
/// the data term's part would be (1 − α) = 0.1 of it and fail the bound.
#[test]
fn geco_step_value_is_the_moving_average_and_its_gradient_goes_straight_through() {
    for (beta, regularizer) in [(1.0, Regularizer::Kl), (30.0, Regularizer::Mmd)] {
        let mut geco = Geco::with_rmse(0.2);
        geco.alpha = 0.9;
        check_against_cpu(Objective {
            likelihood: Likelihood::GaussianLearned,
            regularizer,
            mmd_kernel: MmdChoice::Imq,
            beta,
            geco: Some(geco),
        });
    }
}

/// GECO's state before the checked step: λ, and C_ma from earlier steps.
const LAMBDA: f32 = 2.5;
const C_MA_BEFORE: f32 = 3.0;

fn check_against_cpu(objective: Objective) {
    let (g, _turn) = gpu();
    let cfg = config();
    let mut b = ParamsBuilder::new(7);
    let model = model(&mut b, objective);
    let store = b.build(&g).unwrap();
    // Weights of N(0, 0.02) keep every unit near its linear regime; larger random values
    // exercise the nonlinearities and the clamps of leaky ReLU and ReLU on both sides.
    let mut rng = Rng::new(99);
    for id in store.ids() {
        let info = store.info(id).clone();
        let n: usize = info.shape.iter().product();
        let (lo, hi) = if info.name.ends_with("gamma") {
            (0.5, 1.5)
        } else {
            (-0.6, 0.6)
        };
        store.set_value(id, &rng.data(&[n], lo, hi).f32).unwrap();
    }
    let x = rng.data(&[N, 1, 8, 8], 0.0, 1.0);
    let key = RandomKey {
        seed: 11,
        step: 5,
        stream: 0,
    };

    if objective.geco.is_some() {
        store.set_state("geco.lambda", &[LAMBDA]).unwrap();
        store.set_state("geco.c_ma", &[C_MA_BEFORE]).unwrap();
    }

    store.zero_grad();
    let mut tape = Tape::new(&g);
    let xv = tape.constant(x.upload(&g).unwrap()).unwrap();
    let l = model.losses(&mut tape, &store, xv, key, true).unwrap();
    tape.backward(l.total, &store).unwrap();
    let gpu_loss = tape.value(l.total).to_vec().unwrap()[0] as f64;
    let gpu_grads: Vec<f64> = store
        .flat_grads()
        .unwrap()
        .to_vec()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let flat: Vec<f64> = store
        .flat_values()
        .to_vec()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();

    let prior_key = RandomKey {
        stream: key.stream + PRIOR_STREAM_OFFSET,
        ..key
    };
    let cpu = CpuModel {
        infos: store.params(),
        cfg,
        objective,
        prior: random::normals(prior_key, N * cfg.latent),
        lambda: LAMBDA as f64,
    };
    let eps = random::normals(key, N * cfg.latent);
    // The value: under GECO, λ times the moving average this step leaves (key.step > 0).
    let cpu_loss = match objective.geco {
        Some(geco) => {
            let (c, reg) = cpu.terms(&flat, &x.f64, &eps);
            let c_ma = geco.alpha * C_MA_BEFORE as f64 + (1.0 - geco.alpha) * c;
            let got = store.states().find(|(n, _)| *n == "geco.c_ma").unwrap().1;
            let got = got.to_vec().unwrap()[0] as f64;
            assert!(
                (got - c_ma).abs() <= 1e-5 * c_ma.abs().max(1.0),
                "C_ma after the step: GPU {got} vs CPU {c_ma}"
            );
            cpu.lambda * c_ma + reg
        }
        None => cpu.loss(&flat, &x.f64, &eps),
    };
    assert!(
        (gpu_loss - cpu_loss).abs() <= 1e-5 * cpu_loss.abs().max(1.0),
        "loss: GPU {gpu_loss} vs CPU {cpu_loss}"
    );

    const H: f64 = 1e-6;
    let mut numeric = vec![0.0; flat.len()];
    for info in store.params() {
        for i in info.offset..info.offset + info.shape.iter().product::<usize>() {
            let (mut p, mut m) = (flat.clone(), flat.clone());
            p[i] += H;
            m[i] -= H;
            numeric[i] = (cpu.loss(&p, &x.f64, &eps) - cpu.loss(&m, &x.f64, &eps)) / (2.0 * H);
        }
    }
    let global = numeric.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let mut worst = 0.0f64;
    for info in store.params() {
        let r = info.offset..info.offset + info.shape.iter().product::<usize>();
        let scale = numeric[r.clone()]
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()));
        // A bias followed by batch norm has an exactly zero gradient (the batch mean absorbs
        // it); there the GPU value must be rounding noise: ≤ 1e-5 of the largest gradient.
        let zero = scale < 1e-8 * global;
        for (j, (a, r)) in gpu_grads[r.clone()].iter().zip(&numeric[r]).enumerate() {
            let bound = if zero {
                1e-5 * global
            } else {
                1e-4 * scale + 1e-4 * r.abs()
            };
            worst = worst.max((a - r).abs() / bound);
            assert!(
                (a - r).abs() <= bound,
                "{}[{j}]: GPU {a} vs CPU finite difference {r} (tensor max {scale})",
                info.name
            );
        }
    }
    eprintln!("end-to-end {objective:?}: {} parameters, loss {gpu_loss:.6}, worst gradient error {worst:.3} of its bound", store.count());
}

#[test]
fn frozen_parameters_get_no_gradient_and_do_not_move() {
    let (g, _turn) = gpu();
    let mut b = ParamsBuilder::new(3);
    let model = model(&mut b, Objective::default());
    let mut store = b.build(&g).unwrap();
    assert!(store.set_frozen("encoder.", true) > 0);
    let mut adam = vae_gpu::nn::Adam::new(&store, Default::default()).unwrap();
    let before = store.flat_values().to_vec().unwrap();
    let x = Tensor::from_slice(
        &g,
        &Rng::new(1).data(&[N, 1, 8, 8], 0.0, 1.0).f32,
        &[N, 1, 8, 8],
    )
    .unwrap();
    let key = RandomKey {
        seed: 1,
        step: 1,
        stream: 0,
    };
    model.train_step(&store, &mut adam, &x, key, 1e-2).unwrap();
    g.flush().unwrap();
    let after = store.flat_values().to_vec().unwrap();
    let grads = store.flat_grads().unwrap().to_vec().unwrap();
    for info in store.params() {
        let r = info.offset..info.offset + info.shape.iter().product::<usize>();
        let moved = before[r.clone()] != after[r.clone()];
        let has_grad = grads[r].iter().any(|v| *v != 0.0);
        let frozen = info.name.starts_with("encoder.");
        assert_eq!(frozen, !moved, "{} moved: {moved}", info.name);
        assert_eq!(
            frozen, !has_grad,
            "{} has a gradient: {has_grad}",
            info.name
        );
    }
}

#[test]
fn a_seed_reproduces_the_model_exactly() {
    let (g, _turn) = gpu();
    let build = |seed| {
        let mut b = ParamsBuilder::new(seed);
        model(&mut b, Objective::default());
        b.build(&g).unwrap().flat_values().to_vec().unwrap()
    };
    assert_eq!(build(5), build(5));
    assert_ne!(build(5), build(6));
}
