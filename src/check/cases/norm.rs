//! Batch norm, 1-D ([N, C]) and 2-D ([N, C, H, W]), with the activation fused after it:
//! training forward with running-average update, eval forward, and the backward of both modes.

use super::dims;
use crate::check::{compare, covering, Case, Outcome, Rng, Tolerance};
use crate::gpu::{ChannelSums, Reads, Routing, Variant};
use crate::kernels::batchnorm::{self as bn, reference as r, BatchNormConfig};
use crate::kernels::channel::reference::{self as ch, channel_sum};
use crate::kernels::channel::ChannelAct;

pub fn cases(v: &mut Vec<Case>) {
    // Reductions run in order per channel for ≤ 256 values per channel (every adapter) or
    // ≥ 32 channels (CPU adapters, workgroups of 8: [4, 37, 9, 9] ends in a partial one), and as
    // per-channel tree sums otherwise ([8, 16, 6, 6]: 288 values in 16 channels, and
    // [64, 128, 7, 7] on GPUs): see kernels::per_channel_launch. Through textures, the in-order
    // sums take a texel at a time where a channel's runs are whole texels ([2, 40, 6, 6]) and
    // an element at a time otherwise; the normalisation reads four channels' coefficients as
    // one texel where inner is 1 and C divisible by 4 ([3, 8], [64, 1024]).
    let shapes: [(&[usize], bool); 12] = [
        (&[2, 3], false),
        (&[4, 37, 9, 9], false),
        (&[8, 16, 6, 6], false),
        (&[5, 7], false),
        (&[2, 1, 1, 1], false),
        (&[3, 4, 5, 6], false),
        (&[64, 1024], true),
        (&[64, 128, 7, 7], true),
        (&[2, 40, 6, 6], false),
        (&[3, 8], false),
        // The InfoGAN encoder's 64-channel layer at the training batch: 12,544 values per
        // channel, the most an in-order statistic sums (two sweeps, 25,346 loop iterations).
        (&[64, 64, 14, 14], true),
        // Past the in-order sums' loop budget (statistics 158,402 iterations in two sweeps,
        // backward 79,201 in one): a CPU adapter takes the tree sums.
        (&[400, 32, 14, 14], true),
    ];
    let cfg = BatchNormConfig {
        eps: 1e-5,
        momentum: 0.9,
    };
    // Each shape with one of the activations fused after it; through the buffers and through
    // textures (the dx kernel's two paths), with each per-channel sum choice, on every adapter.
    let acts = [
        ChannelAct::Identity,
        ChannelAct::Relu,
        ChannelAct::LeakyRelu(0.2),
        ChannelAct::Sigmoid,
    ];
    let routes = Reads::all()
        .iter()
        .flat_map(|&r| ChannelSums::all().iter().map(move |&s| (r, s)));
    for ((reads, sums), (i, (shape, large))) in
        routes.flat_map(|route| shapes.iter().enumerate().map(move |s| (route, s)))
    {
        let act = acts[i % acts.len()];
        let path = format!("{}, {} sums", reads.name(), sums.name());
        let first = v.len();
        let tuned = move |t: Routing| Routing {
            reads,
            channel_sums: sums,
            ..t
        };
        let shape = shape.to_vec();
        v.push(Case::new(
            "batchnorm",
            format!("batch_norm + {act:?} {} through {path}", dims(&shape)),
            *large,
            move |gpu| {
                let mut rng = Rng::new(4000 + i as u64);
                let d = r::Dims {
                    n: shape[0],
                    c: shape[1],
                    inner: shape[2..].iter().product(),
                };
                let m = d.n * d.inner;
                let x = rng.data(&shape, -1.0, 1.0);
                let dy = rng.data(&shape, -1.0, 1.0);
                let gamma = rng.data(&[d.c], 0.5, 1.5);
                let beta = rng.data(&[d.c], -1.0, 1.0);
                let rm = rng.data(&[d.c], -1.0, 1.0);
                let rv = rng.data(&[d.c], 0.5, 2.0);
                let eps = cfg.eps as f64;
                let label = format!("{} {path}", dims(&shape));
                let tol = Tolerance::statistics(m);
                let activate =
                    |y: Vec<f64>| -> Vec<f64> { y.iter().map(|v| ch::act(act, *v)).collect() };
                let (xg, dyg, gg, bg) = (
                    x.upload(gpu)?,
                    dy.upload(gpu)?,
                    gamma.upload(gpu)?,
                    beta.upload(gpu)?,
                );
                let mut out: Vec<Outcome> = Vec::new();

                // Gradient sums over M terms scale with Σ|terms|, like any accumulation.
                let grad_checks = |out: &mut Vec<Outcome>,
                                   mode: &str,
                                   g: bn::BatchNormGrads,
                                   mean: &[f64],
                                   var: &[f64],
                                   train: bool|
                 -> crate::Result<()> {
                    let (dx, dgamma, dbeta) = r::backward_act(
                        &d, &x.f64, &dy.f64, &gamma.f64, &beta.f64, mean, var, eps, train, act,
                    );
                    let xhat_abs: Vec<f64> = (0..x.f64.len())
                        .map(|i| {
                            let c = (i / d.inner) % d.c;
                            ((x.f64[i] - mean[c]) / (var[c] + eps).sqrt()).abs() * dy.f64[i].abs()
                        })
                        .collect();
                    out.push(compare(
                        &format!("batch_norm_{mode}_dx"),
                        &label,
                        &g.dx.to_vec()?,
                        &dx,
                        None,
                        tol,
                    ));
                    out.push(compare(
                        &format!("batch_norm_{mode}_dgamma"),
                        &label,
                        &g.dgamma.to_vec()?,
                        &dgamma,
                        Some(&channel_sum(&xhat_abs, d.c, d.inner)),
                        Tolerance::accumulation(m),
                    ));
                    out.push(compare(
                        &format!("batch_norm_{mode}_dbeta"),
                        &label,
                        &g.dbeta.to_vec()?,
                        &dbeta,
                        Some(&channel_sum(&dy.abs(), d.c, d.inner)),
                        Tolerance::accumulation(m),
                    ));
                    Ok(())
                };

                // Training mode.
                let (rmg, rvg) = (rm.upload(gpu)?, rv.upload(gpu)?);
                let fwd = gpu.scoped(tuned, || {
                    bn::batch_norm_train(&xg, &gg, &bg, &rmg, &rvg, cfg, act)
                })?;
                let (mean, var) = r::moments(&d, &x.f64);
                out.push(compare(
                    "batch_norm_train",
                    &label,
                    &fwd.y.to_vec()?,
                    &activate(r::forward_train(&d, &x.f64, &gamma.f64, &beta.f64, eps)),
                    None,
                    tol,
                ));
                let (erm, erv) =
                    r::running_update(&d, &x.f64, &rm.f64, &rv.f64, cfg.momentum as f64);
                out.push(compare(
                    "batch_norm_running_mean",
                    &label,
                    &rmg.to_vec()?,
                    &erm,
                    None,
                    tol,
                ));
                out.push(compare(
                    "batch_norm_running_var",
                    &label,
                    &rvg.to_vec()?,
                    &erv,
                    None,
                    tol,
                ));
                grad_checks(
                    &mut out,
                    "train",
                    gpu.scoped(tuned, || bn::batch_norm_backward(&dyg, &fwd))?,
                    &mean,
                    &var,
                    true,
                )?;

                // Eval mode, with the original running averages.
                let (rmg, rvg) = (rm.upload(gpu)?, rv.upload(gpu)?);
                let fwd = gpu.scoped(tuned, || {
                    bn::batch_norm_eval(&xg, &gg, &bg, &rmg, &rvg, cfg, act)
                })?;
                let y = activate(r::normalize(
                    &d, &x.f64, &rm.f64, &rv.f64, &gamma.f64, &beta.f64, eps,
                ));
                out.push(compare(
                    "batch_norm_eval",
                    &label,
                    &fwd.y.to_vec()?,
                    &y,
                    None,
                    tol,
                ));
                grad_checks(
                    &mut out,
                    "eval",
                    gpu.scoped(tuned, || bn::batch_norm_backward(&dyg, &fwd))?,
                    &rm.f64,
                    &rv.f64,
                    false,
                )?;
                Ok(out)
            },
        ));
        covering(v, first, reads.coverage());
        covering(v, first, sums.coverage());
    }
}
