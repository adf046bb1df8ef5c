//! `vae-gpu bench tune`: on this adapter, times each matmul variant over the networks'
//! products, each convolution path over the stage-1 layers, each Adam route over the stage-1
//! parameters and each read path over a stage-1 activation's size, and records the fastest in
//! the tuning file (`gpu::tuned`) that later devices on the same adapter read.

use std::sync::Arc;

use super::kernels::{adam, conv, matmul_op, reads, NETWORK_MATMULS};
use crate::error::Result;
use crate::gpu::{AdamVariant, ConvVariant, Gpu, MatmulVariant, Reads, Variant};
use crate::kernels::conv2d::Conv2dConfig;
use crate::models::{InfoGan, InfoGanConfig};
use crate::nn::ParamsBuilder;

/// Seconds each candidate took over the same work (`None`: dropped after the first shape,
/// more than `DROP`× the best there), fastest first.
pub struct Tuned {
    pub matmul: Vec<(MatmulVariant, Option<f64>)>,
    pub conv: Vec<(ConvVariant, f64)>,
    pub adam: Vec<(AdamVariant, f64)>,
    pub reads: Vec<(Reads, f64)>,
}

/// A candidate this much slower than the best on the first product is not timed further.
const DROP: f64 = 3.0;

/// The products timed: the stage-1 convolution as im2col, the stage-1 encoder's weight
/// gradient, the stage-2 hidden layer (indices into `NETWORK_MATMULS`).
const PRODUCTS: [usize; 3] = [4, 2, 7];

pub fn tune(gpu: &Arc<Gpu>, quick: bool) -> Result<Tuned> {
    let budget = 0.05;
    let scale = |x: usize| {
        if quick {
            x.div_ceil(16).next_multiple_of(64)
        } else {
            x
        }
    };
    let mut totals: Vec<(MatmulVariant, Option<f64>)> =
        gpu.matmul_variants().map(|v| (v, Some(0.0))).collect();
    for (i, &p) in PRODUCTS.iter().enumerate() {
        let (_, [m, n, k], t) = NETWORK_MATMULS[p];
        for (v, total) in totals.iter_mut() {
            if let Some(sum) = total {
                let r = matmul_op(gpu, *v, [scale(m), scale(n), scale(k)], t, budget)?;
                *sum += r.seconds_per_run;
            }
        }
        if i == 0 {
            let best = totals
                .iter()
                .filter_map(|t| t.1)
                .fold(f64::INFINITY, f64::min);
            for t in totals.iter_mut() {
                if t.1.is_some_and(|s| s > DROP * best) {
                    t.1 = None;
                }
            }
        }
    }
    totals.sort_by(|a, b| {
        let key = |s: Option<f64>| s.unwrap_or(f64::INFINITY);
        key(a.1).total_cmp(&key(b.1))
    });
    let batch = if quick { 4 } else { 64 };
    let mut convs = Vec::new();
    for &v in ConvVariant::all() {
        let mut sum = 0.0;
        for which in ["forward", "grad_input", "grad_weight"] {
            let x = [batch, 64, 14, 14];
            let r = conv(
                gpu,
                v,
                which,
                x,
                [128, 64, 4, 4],
                Conv2dConfig::new(2, 1),
                budget,
            )?;
            sum += r.seconds_per_run;
        }
        convs.push((v, sum));
    }
    convs.sort_by(|a, b| a.1.total_cmp(&b.1));
    let n = if quick {
        1 << 16
    } else {
        let mut b = ParamsBuilder::new(0);
        InfoGan::new(&mut b, InfoGanConfig::reference(28, 1))?;
        b.count()
    };
    let mut adams = Vec::new();
    for &v in AdamVariant::all() {
        adams.push((v, adam(gpu, v, n, budget)?.seconds_per_run));
    }
    adams.sort_by(|a, b| a.1.total_cmp(&b.1));
    // The stage-1 encoder's 64-channel 14×14 activations at the batch.
    let n = batch * 64 * 14 * 14;
    let mut paths = Vec::new();
    for &v in Reads::all() {
        paths.push((v, reads(gpu, v, n, budget)?.seconds_per_run));
    }
    paths.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(Tuned {
        matmul: totals,
        conv: convs,
        adam: adams,
        reads: paths,
    })
}
