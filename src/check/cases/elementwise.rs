//! fill, unary, binary (with broadcasting), reductions, bias + activation.

use super::dims;
use crate::check::{compare, covering, Case, Rng, Tolerance};
use crate::gpu::{Reads, Routing, Variant};
use crate::kernels::binary::{self, Binary};
use crate::kernels::channel::{self, ChannelAct};
use crate::kernels::reduce;
use crate::kernels::unary::{self, Unary};
use crate::tensor::Tensor;

pub fn cases(v: &mut Vec<Case>) {
    for n in [1usize, 1000, 70_001] {
        v.push(Case::new("fill", format!("fill {n}"), false, move |gpu| {
            let t = Tensor::full(gpu, &[n], -2.5)?.to_vec()?;
            let r = crate::kernels::fill::reference::fill(n, -2.5);
            Ok(vec![compare(
                "fill",
                &dims(&[n]),
                &t,
                &r,
                None,
                Tolerance::rounding(0.0),
            )])
        }));
    }
    // Views at offsets: elements before the first whole vec4, whole vec4s, elements after;
    // the rest of the buffer must keep its values.
    for (at, n) in [(3usize, 1001usize), (1, 2), (4, 8)] {
        v.push(Case::new(
            "fill",
            format!("fill {n} at offset {at} of 1013"),
            false,
            move |gpu| {
                let base = Rng::new(10).data(&[1013], -1.0, 1.0);
                let flat = base.upload(gpu)?;
                crate::kernels::fill::fill_bits(&flat.narrow0(at, n)?, 2.5f32.to_bits())?;
                let mut r = base.f64.clone();
                r[at..at + n].fill(2.5);
                Ok(vec![compare(
                    "fill",
                    &format!("{n} at {at} of 1013"),
                    &flat.to_vec()?,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
    }

    let unary_ops = [
        Unary::Copy,
        Unary::Neg,
        Unary::Relu,
        Unary::LeakyRelu(0.2),
        Unary::Sigmoid,
        Unary::Softplus,
        Unary::Exp,
        Unary::Log,
        Unary::Affine(1.5, -0.25),
        Unary::Square,
    ];
    let shapes: [(&[usize], bool); 4] = [
        (&[1], false),
        (&[7, 13], false),
        (&[3, 5, 33], false),
        (&[1024, 1025], true),
    ];
    // Every case through the buffers and through textures (each adapter's other path too).
    for reads in Reads::all().iter().copied() {
        let first = v.len();
        let path = reads.name();
        let tuned = move |t: Routing| Routing { reads, ..t };
        for (i, op) in unary_ops.into_iter().enumerate() {
            for (j, (shape, large)) in shapes.iter().enumerate() {
                let shape = shape.to_vec();
                v.push(Case::new(
                    "unary",
                    format!("{} {} through {path}", op.name(), dims(&shape)),
                    *large,
                    move |gpu| {
                        let (lo, hi) = if op == Unary::Log {
                            (0.01, 6.0)
                        } else {
                            (-6.0, 6.0)
                        };
                        let x = Rng::new(100 + (i * 10 + j) as u64).data(&shape, lo, hi);
                        let y = gpu
                            .scoped(tuned, || unary::unary(op, &x.upload(gpu)?))?
                            .to_vec()?;
                        let r = unary::reference::unary(op, &x.f64);
                        let tol = match op {
                            Unary::Sigmoid | Unary::Softplus | Unary::Exp | Unary::Log => {
                                Tolerance::transcendental()
                            }
                            Unary::Affine(..) => Tolerance::rounding(2.0),
                            _ => Tolerance::rounding(1.0),
                        };
                        let label = format!("{} {path}", dims(&shape));
                        Ok(vec![compare(op.name(), &label, &y, &r, None, tol)])
                    },
                ));
            }
        }

        // Strided inputs: a transposed view, a broadcast (stride-0) view, and dense views at
        // an offset inside a texel and at a texel boundary.
        v.push(Case::new(
            "unary",
            format!("copy of a transposed 33×5 view through {path}"),
            false,
            move |gpu| {
                let x = Rng::new(7).data(&[5, 33], -1.0, 1.0);
                let xt = x.upload(gpu)?.transpose(0, 1)?;
                let y = gpu.scoped(tuned, || unary::copy(&xt))?.to_vec()?;
                let r: Vec<f64> = (0..33 * 5).map(|i| x.f64[(i % 5) * 33 + i / 5]).collect();
                Ok(vec![compare(
                    "copy",
                    &format!("33×5 (transposed view) {path}"),
                    &y,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
        // A conv's [K, N, P] → [N, K, P] with whole-texel rows (P = 196) and without (49, 5):
        // the texture path's two ROWS modes.
        for (k, n, px) in [(6usize, 5usize, 196usize), (128, 64, 49), (3, 7, 5)] {
            v.push(Case::new(
                "unary",
                format!("copy of a {k}×{n}×{px} view with its outer dims swapped through {path}"),
                false,
                move |gpu| {
                    let x = Rng::new(10).data(&[k, n, px], -1.0, 1.0);
                    let xt = x.upload(gpu)?.transpose(0, 1)?;
                    let y = gpu.scoped(tuned, || unary::copy(&xt))?.to_vec()?;
                    let r: Vec<f64> = (0..k * n * px)
                        .map(|i| {
                            let (j, p) = (i / px, i % px);
                            x.f64[((j % k) * n + j / k) * px + p]
                        })
                        .collect();
                    Ok(vec![compare(
                        "copy",
                        &format!("{n}×{k}×{px} (swapped view) {path}"),
                        &y,
                        &r,
                        None,
                        Tolerance::rounding(0.0),
                    )])
                },
            ));
        }
        v.push(Case::new(
            "unary",
            format!("relu of a broadcast 4×1×6 → 4×3×6 view through {path}"),
            false,
            move |gpu| {
                let x = Rng::new(8).data(&[4, 1, 6], -1.0, 1.0);
                let xb = x.upload(gpu)?.broadcast_to(&[4, 3, 6])?;
                let y = gpu
                    .scoped(tuned, || unary::unary(Unary::Relu, &xb))?
                    .to_vec()?;
                let r: Vec<f64> = (0..72)
                    .map(|i| x.f64[(i / 18) * 6 + i % 6].max(0.0))
                    .collect();
                Ok(vec![compare(
                    "relu",
                    &format!("4×3×6 (broadcast view) {path}"),
                    &y,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
        for at in [3usize, 8] {
            v.push(Case::new(
                "unary",
                format!("neg of 1001 elements at offset {at} through {path}"),
                false,
                move |gpu| {
                    let x = Rng::new(9).data(&[1013], -1.0, 1.0);
                    let xv = x.upload(gpu)?.narrow0(at, 1001)?;
                    let y = gpu
                        .scoped(tuned, || unary::unary(Unary::Neg, &xv))?
                        .to_vec()?;
                    let r: Vec<f64> = x.f64[at..at + 1001].iter().map(|v| -v).collect();
                    Ok(vec![compare(
                        "neg",
                        &format!("1001 at offset {at} {path}"),
                        &y,
                        &r,
                        None,
                        Tolerance::rounding(0.0),
                    )])
                },
            ));
        }
        covering(v, first, reads.coverage());
    }

    let binary_ops = [
        Binary::Add,
        Binary::Sub,
        Binary::Mul,
        Binary::Div,
        Binary::Max,
        Binary::Min,
        Binary::ReluGrad,
        Binary::LeakyReluGrad(0.2),
        Binary::SigmoidGrad,
        Binary::SoftplusGrad,
        Binary::ExpGrad,
    ];
    let pairs: [(&[usize], &[usize], bool); 7] = [
        (&[1], &[1], false),
        (&[5, 7], &[7], false),
        (&[3, 1, 5], &[4, 1], false),
        (&[2, 3, 4, 5], &[2, 1, 4, 1], false),
        (&[257, 129], &[257, 129], false),
        (&[512, 1024], &[1024], true),
        // The 64-channel 14×14 activations at the training batch of 64 (802,816 elements).
        (&[64, 64, 14, 14], &[64, 64, 14, 14], true),
    ];
    for (reads, (i, op)) in Reads::all()
        .iter()
        .copied()
        .flat_map(|t| binary_ops.into_iter().enumerate().map(move |o| (t, o)))
    {
        let path = reads.name();
        let first = v.len();
        for (j, (sa, sb, large)) in pairs.iter().enumerate() {
            let (sa, sb) = (sa.to_vec(), sb.to_vec());
            let label = format!("{} {} · {} {path}", op.name(), dims(&sa), dims(&sb));
            v.push(Case::new("binary", label.clone(), *large, move |gpu| {
                let mut rng = Rng::new(200 + (i * 10 + j) as u64);
                let a = match op {
                    Binary::SigmoidGrad => rng.data(&sa, 0.01, 0.99),
                    _ => rng.data(&sa, -3.0, 3.0),
                };
                let b = match op {
                    Binary::Div => rng.data(&sb, 0.5, 2.0),
                    _ => rng.data(&sb, -3.0, 3.0),
                };
                let (ag, bg) = (a.upload(gpu)?, b.upload(gpu)?);
                let tuned = |t| Routing { reads, ..t };
                let y = gpu
                    .scoped(tuned, || binary::binary(op, &ag, &bg))?
                    .to_vec()?;
                let (_, r) = binary::reference::binary(op, &a.f64, &sa, &b.f64, &sb);
                let tol = match op {
                    Binary::Div => Tolerance::rounding(2.0),
                    Binary::SigmoidGrad => Tolerance::rounding(3.0),
                    Binary::SoftplusGrad => Tolerance::transcendental(),
                    _ => Tolerance::rounding(1.0),
                };
                Ok(vec![compare(op.name(), &label, &y, &r, None, tol)])
            }));
        }
        covering(v, first, reads.coverage());
    }

    let axes: [(&[usize], usize, bool); 6] = [
        (&[1], 0, false),
        (&[3, 5, 7], 0, false),
        (&[3, 5, 7], 1, false),
        (&[3, 5, 7], 2, false),
        (&[1000, 300], 0, true),
        (&[300, 1000], 1, true),
    ];
    for (j, (shape, axis, large)) in axes.iter().enumerate() {
        for mean in [false, true] {
            let (shape, axis) = (shape.to_vec(), *axis);
            let name = if mean { "mean_axis" } else { "sum_axis" };
            let label = format!("{name} {} axis {axis}", dims(&shape));
            v.push(Case::new("reduce", label.clone(), *large, move |gpu| {
                let x = Rng::new(300 + j as u64).data(&shape, -1.0, 1.0);
                let y = reduce::sum_axis(&x.upload(gpu)?, axis, mean)?.to_vec()?;
                let r = reduce::reference::sum_axis(&x.f64, &shape, axis, mean);
                let mag = reduce::reference::sum_axis(&x.abs(), &shape, axis, mean);
                Ok(vec![compare(
                    name,
                    &label,
                    &y,
                    &r,
                    Some(&mag),
                    Tolerance::accumulation(shape[axis]),
                )])
            }));
        }
    }
    for (j, (n, mean, large)) in [
        (1usize, false, false),
        (4097, false, false),
        (777, true, false),
        (1_000_003, false, true),
        // The InfoGAN stage 1's 13,331,586 parameters, flat (the gradient norm's size).
        (13_331_587, false, true),
    ]
    .into_iter()
    .enumerate()
    {
        let name = if mean { "mean_all" } else { "sum_all" };
        v.push(Case::new(
            "reduce",
            format!("{name} {n}"),
            large,
            move |gpu| {
                let x = Rng::new(350 + j as u64).data(&[n], -1.0, 1.0);
                let y = reduce::sum_all(&x.upload(gpu)?, mean)?.to_vec()?;
                let r = reduce::reference::sum_all(&x.f64, mean);
                let mag = reduce::reference::sum_all(&x.abs(), mean);
                Ok(vec![compare(
                    name,
                    &dims(&[n]),
                    &y,
                    &[r],
                    Some(&[mag]),
                    Tolerance::accumulation(n),
                )])
            },
        ));
    }

    // [8, 16, 6, 6] takes the tree-sum gradient on every adapter, [4, 37, 9, 9] and
    // [64, 128, 14, 14] the in-order one on CPU adapters (see kernels::per_channel_launch).
    // Inner sizes 1, 36, 30, 81 and 196 step the texture path's four outputs within a channel
    // (inner divisible by 4) and across channels ([5, 7]: four channels of one row;
    // [3, 4, 5, 6]: 30 values per channel). The in-order bias gradient reads a texel at a time
    // where a channel's runs are whole texels ([2, 40, 6, 6], [64, 128, 14, 14]); bias_act reads
    // four channels' coefficients as one texel where inner is 1 and C divisible by 4 ([3, 8]).
    // [400, 32, 14, 14] is past the in-order sum's loop budget (79,201 iterations), so a CPU
    // adapter takes the tree sum there (in order, llvmpipe would stop the loop short).
    let bias_shapes: [(&[usize], bool); 9] = [
        (&[1, 1], false),
        (&[4, 37, 9, 9], false),
        (&[8, 16, 6, 6], false),
        (&[5, 7], false),
        (&[3, 4, 5, 6], false),
        (&[64, 128, 14, 14], true),
        (&[2, 40, 6, 6], false),
        (&[3, 8], false),
        (&[400, 32, 14, 14], true),
    ];
    let acts = [
        ChannelAct::Identity,
        ChannelAct::Relu,
        ChannelAct::LeakyRelu(0.2),
        ChannelAct::Sigmoid,
    ];
    for reads in Reads::all().iter().copied() {
        let first = v.len();
        let path = reads.name();
        let tuned = move |t: Routing| Routing { reads, ..t };
        for (j, (shape, large)) in bias_shapes.iter().enumerate() {
            let act = acts[j % acts.len()];
            let shape = shape.to_vec();
            v.push(Case::new(
                "bias",
                format!(
                    "bias_act {act:?} and the bias gradient {} through {path}",
                    dims(&shape)
                ),
                *large,
                move |gpu| {
                    let mut rng = Rng::new(400 + j as u64);
                    let (c, inner) = (shape[1], shape[2..].iter().product::<usize>());
                    let x = rng.data(&shape, -1.0, 1.0);
                    let b = rng.data(&[c], -1.0, 1.0);
                    let dy = rng.data(&shape, -1.0, 1.0);
                    let xt = x.upload(gpu)?;
                    let yt = gpu.scoped(tuned, || channel::bias_act(&xt, &b.upload(gpu)?, act))?;
                    let y = yt.to_vec()?;
                    let dpre = channel::bias_act_grad(&yt, &dy.upload(gpu)?, act)?.to_vec()?;
                    let rdpre: Vec<f64> = (0..x.f64.len())
                        .map(|i| {
                            let pre = x.f64[i] + b.f64[(i / inner) % c];
                            channel::reference::act_grad(act, pre) * dy.f64[i]
                        })
                        .collect();
                    let g = gpu.scoped(tuned, || channel::channel_sum(&xt))?.to_vec()?;
                    let terms = shape[0] * inner;
                    // The add rounds once; the sigmoid adds its exp's error.
                    let tol = if act == ChannelAct::Sigmoid {
                        Tolerance::transcendental()
                    } else {
                        Tolerance::rounding(1.0)
                    };
                    let label = format!("{} {path}", dims(&shape));
                    Ok(vec![
                        compare(
                            "bias_act",
                            &label,
                            &y,
                            &channel::reference::bias_act(&x.f64, c, inner, &b.f64, act),
                            None,
                            tol,
                        ),
                        // From y: y(1 − y) for the sigmoid (a few roundings), masks otherwise.
                        compare(
                            "bias_act_grad",
                            &label,
                            &dpre,
                            &rdpre,
                            None,
                            Tolerance::transcendental(),
                        ),
                        compare(
                            "channel_sum",
                            &label,
                            &g,
                            &channel::reference::channel_sum(&x.f64, c, inner),
                            Some(&channel::reference::channel_sum(&x.abs(), c, inner)),
                            Tolerance::accumulation(terms),
                        ),
                    ])
                },
            ));
        }
        covering(v, first, reads.coverage());
    }
}
