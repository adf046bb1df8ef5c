//! Same inputs, same adapter → bit-identical outputs (no atomics, fixed reduction order),
//! which is what lets a seeded training run be reproduced and resumed exactly.

use vae_gpu::check::Rng;
use vae_gpu::gpu::{AdamVariant, ChannelSums, ConvVariant, MatmulVariant, Reads, Routing, Variant};
use vae_gpu::kernels::adam::{adam_update, AdamConfig};
use vae_gpu::kernels::batchnorm::{batch_norm_backward, batch_norm_train, BatchNormConfig};
use vae_gpu::kernels::channel::ChannelAct;
use vae_gpu::kernels::conv2d::{conv2d, conv2d_grad_input, conv2d_grad_weight, Conv2dConfig};
use vae_gpu::kernels::{matmul::matmul_with, reduce};
use vae_gpu::{Result, Tensor};

use crate::common::gpu;

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

fn twice(name: &str, f: impl Fn() -> Result<Vec<Tensor>>) {
    let a: Vec<Vec<u32>> = f().unwrap().iter().map(bits).collect();
    let b: Vec<Vec<u32>> = f().unwrap().iter().map(bits).collect();
    assert_eq!(a, b, "{name} is not bit-reproducible");
}

#[test]
fn kernels_are_bit_reproducible() {
    let (gpu, _turn) = gpu();
    let mut rng = Rng::new(9);
    // 96×128 · 128×192: every stored operand has whole 64-column rows, so the texture
    // variant runs its own kernel rather than a fallback (and subgroup too, where the adapter
    // has a fixed subgroup size: M is over 64).
    let a = rng.data(&[96, 128], -1.0, 1.0).upload(&gpu).unwrap();
    let b = rng.data(&[128, 192], -1.0, 1.0).upload(&gpu).unwrap();
    for &v in MatmulVariant::all() {
        twice(&format!("matmul {v:?}"), || {
            Ok(vec![matmul_with(v, &a, &b, false, false)?])
        });
    }
    let x = rng.data(&[8, 16, 14, 14], -1.0, 1.0).upload(&gpu).unwrap();
    let w = rng.data(&[32, 16, 4, 4], -1.0, 1.0).upload(&gpu).unwrap();
    let cfg = Conv2dConfig::new(2, 1);
    let dy = rng.data(&[8, 32, 7, 7], -1.0, 1.0).upload(&gpu).unwrap();
    // Every route of every choice these kernels take (each variant once, with the adapter's
    // other choices).
    for &(conv, reads) in &ConvVariant::all()
        .iter()
        .flat_map(|&c| Reads::all().iter().map(move |&r| (c, r)))
        .collect::<Vec<_>>()
    {
        let route = |t| Routing { conv, reads, ..t };
        twice(
            &format!("conv2d and gradients, {conv:?}, {reads:?}"),
            || {
                gpu.scoped(route, || {
                    Ok(vec![
                        conv2d(&x, &w, cfg)?,
                        conv2d_grad_input(&dy, &w, (14, 14), cfg)?,
                        conv2d_grad_weight(&dy, &x, (4, 4), cfg)?,
                    ])
                })
            },
        );
    }
    let big = rng.data(&[1_000_003], -1.0, 1.0).upload(&gpu).unwrap();
    twice("sum_all", || Ok(vec![reduce::sum_all(&big, false)?]));
    let g = Tensor::full(&gpu, &[16], 1.0).unwrap();
    let bt = Tensor::zeros(&gpu, &[16]).unwrap();
    let bn = BatchNormConfig {
        eps: 1e-5,
        momentum: 0.999,
    };
    for &sums in ChannelSums::all() {
        let route = |t| Routing {
            channel_sums: sums,
            ..t
        };
        twice(&format!("batch_norm, {sums:?}"), || {
            gpu.scoped(route, || {
                let (rm, rv) = (Tensor::zeros(&gpu, &[16])?, Tensor::full(&gpu, &[16], 1.0)?);
                let f = batch_norm_train(&x, &g, &bt, &rm, &rv, bn, ChannelAct::Relu)?;
                let gr = batch_norm_backward(&x, &f)?;
                Ok(vec![f.y, rm, rv, gr.dx, gr.dgamma, gr.dbeta])
            })
        });
    }
    let n = 100_003;
    let grad = rng.data(&[n], -1.0, 1.0).upload(&gpu).unwrap();
    for &adam in AdamVariant::all() {
        twice(&format!("adam, {adam:?}"), || {
            gpu.scoped(
                |t| Routing { adam, ..t },
                || {
                    let theta = Tensor::full(&gpu, &[n], 0.5)?;
                    let (m, v) = (Tensor::zeros(&gpu, &[n])?, Tensor::zeros(&gpu, &[n])?);
                    let cfg = AdamConfig::default();
                    adam_update(&theta, &grad, &m, &v, 0, n, &cfg, 1e-3, 1)?;
                    Ok(vec![theta, m, v])
                },
            )
        });
    }
}
