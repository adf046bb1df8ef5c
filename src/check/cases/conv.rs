//! conv2d and conv_transpose2d: forward and both gradients on tiny, odd (non-square,
//! unequal strides, padding ≥ 1, kernels 1 to 5) and large (the reference network's) shapes.

use super::dims;
use std::sync::Arc;

use crate::check::{compare, covering, Case, Rng, Tolerance};
use crate::gpu::{ConvVariant, Gpu, Reads, Routing, Variant};
use crate::kernels::conv2d::{self, Conv2dConfig, ConvGeom};
use crate::kernels::conv_transpose2d::{self as ct, ConvTranspose2dConfig};

/// n, c, h, w, k, kh, kw, sh, sw, ph, pw, large
type ConvRow = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    bool,
);
/// n, cin, h, w, cout, kernel, stride, pad, output_padding, large
type DeconvRow = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    bool,
);

/// Every case runs with every conv implementation (the direct kernels, im2col + matmul, and
/// im2col read in place by the matmul), each with every read path it distinguishes: the
/// direct kernels read no textures, and the implicit gather needs them (through the
/// buffers it is gemm's stored columns).
pub fn cases(v: &mut Vec<Case>) {
    for &conv in ConvVariant::all() {
        for &reads in Reads::all() {
            let same = match conv {
                ConvVariant::Direct => reads == Reads::Textures,
                ConvVariant::Implicit => reads == Reads::Buffers,
                ConvVariant::Gemm => false,
            };
            if !same {
                let first = v.len();
                cases_for(v, Path(conv, reads));
                covering(v, first, conv.coverage());
                covering(v, first, reads.coverage());
            }
        }
    }
}

fn with_conv<T>(
    gpu: &Arc<Gpu>,
    Path(conv, reads): Path,
    f: impl FnOnce() -> crate::Result<T>,
) -> crate::Result<T> {
    gpu.scoped(|t| Routing { conv, reads, ..t }, f)
}

/// A convolution path: the variant, and where memory-bound kernels read from.
#[derive(Clone, Copy)]
struct Path(ConvVariant, Reads);

impl std::fmt::Debug for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}", self.0.name(), self.1.name())
    }
}

fn cases_for(v: &mut Vec<Case>, variant: Path) {
    // Input and weight as views at offsets into larger buffers (weights live in the flat
    // parameter buffer).
    v.push(Case::new(
        "conv2d",
        format!("x 2×3×9×8 w 4×3×4×4 stride 2 pad 1, views at offsets 7/4 [{variant:?}]"),
        false,
        move |gpu| {
            with_conv(gpu, variant, || {
                let cfg = Conv2dConfig::new(2, 1);
                let mut rng = Rng::new(2900);
                let x = rng.data(&[2, 3, 9, 8], -1.0, 1.0);
                let wt = rng.data(&[4, 3, 4, 4], -1.0, 1.0);
                let g = ConvGeom::forward("conv2d", &x.shape, &wt.shape, cfg)?;
                let dy = rng.data(&[2, 4, g.oh, g.ow], -1.0, 1.0);
                let (xg, wg, dyg) = (
                    x.upload_at(gpu, 7)?,
                    wt.upload_at(gpu, 4)?,
                    dy.upload_at(gpu, 5)?,
                );
                use conv2d::reference as r;
                let label = "offset views";
                Ok(vec![
                    compare(
                        "conv2d",
                        label,
                        &conv2d::conv2d(&xg, &wg, cfg)?.to_vec()?,
                        &r::forward(&g, &x.f64, &wt.f64),
                        Some(&r::forward(&g, &x.abs(), &wt.abs())),
                        Tolerance::accumulation(48),
                    ),
                    compare(
                        "conv2d_grad_input",
                        label,
                        &conv2d::conv2d_grad_input(&dyg, &wg, (9, 8), cfg)?.to_vec()?,
                        &r::grad_input(&g, &dy.f64, &wt.f64),
                        Some(&r::grad_input(&g, &dy.abs(), &wt.abs())),
                        Tolerance::accumulation(64),
                    ),
                    compare(
                        "conv2d_grad_weight",
                        label,
                        &conv2d::conv2d_grad_weight(&dyg, &xg, (4, 4), cfg)?.to_vec()?,
                        &r::grad_weight(&g, &dy.f64, &x.f64),
                        Some(&r::grad_weight(&g, &dy.abs(), &x.abs())),
                        Tolerance::accumulation(2 * g.oh * g.ow),
                    ),
                ])
            })
        },
    ));
    // n, c, h, w, k, kh, kw, sh, sw, ph, pw, large
    let convs: [ConvRow; 11] = [
        (1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, false),
        (2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, false),
        (3, 2, 11, 10, 6, 4, 4, 2, 2, 1, 1, false),
        (2, 4, 9, 9, 3, 5, 5, 2, 2, 2, 2, false),
        (1, 2, 8, 13, 4, 3, 2, 2, 3, 1, 0, false),
        (2, 5, 6, 6, 7, 1, 1, 1, 1, 0, 0, false),
        // 64 and 68 filters of 4-wide kernels over N·P a multiple of 4: the shapes the
        // implicit path's products take (unequal strides and padding, a partial row block).
        (3, 3, 9, 7, 64, 3, 4, 2, 1, 1, 2, false),
        (4, 5, 6, 10, 68, 2, 4, 1, 2, 0, 1, false),
        (16, 1, 28, 28, 64, 4, 4, 2, 2, 1, 1, true),
        (16, 64, 14, 14, 128, 4, 4, 2, 2, 1, 1, true),
        // The InfoGAN encoder's first layer at the training batch: the weight gradient's
        // product sums K = 64·14·14 = 12,544 terms, the longest any convolution runs.
        (64, 1, 28, 28, 64, 4, 4, 2, 2, 1, 1, true),
    ];
    for (i, &(n, c, h, w, k, kh, kw, sh, sw, ph, pw, large)) in convs.iter().enumerate() {
        let cfg = Conv2dConfig {
            stride: (sh, sw),
            padding: (ph, pw),
        };
        let label = format!(
            "x {} w {} stride {sh},{sw} pad {ph},{pw}",
            dims(&[n, c, h, w]),
            dims(&[k, c, kh, kw])
        );
        let label = format!("{label} [{variant:?}]");
        v.push(Case::new("conv2d", label.clone(), large, move |gpu| {
            with_conv(gpu, variant, || {
                let mut rng = Rng::new(2000 + i as u64);
                let x = rng.data(&[n, c, h, w], -1.0, 1.0);
                let wt = rng.data(&[k, c, kh, kw], -1.0, 1.0);
                let g = ConvGeom::forward("conv2d", &x.shape, &wt.shape, cfg)?;
                let dy = rng.data(&[n, k, g.oh, g.ow], -1.0, 1.0);
                let (xg, wg, dyg) = (x.upload(gpu)?, wt.upload(gpu)?, dy.upload(gpu)?);
                // The tape's forward: on the GEMM path it also returns the im2col of x,
                // which the weight gradient then takes instead of building its own.
                let (y, cols) = conv2d::conv2d_with_cols(&xg, &wg, cfg)?;
                let y = y.to_vec()?;
                let dx = conv2d::conv2d_grad_input(&dyg, &wg, (h, w), cfg)?.to_vec()?;
                let dw = conv2d::conv2d_grad_weight(&dyg, &xg, (kh, kw), cfg)?.to_vec()?;
                let dw_kept = cols
                    .as_ref()
                    .map(|c| conv2d::conv2d_grad_weight_with(&dyg, &xg, Some(c), (kh, kw), cfg))
                    .transpose()?;
                // Both at once, as the tape asks (one transpose of dy on the GEMM paths).
                let (bx, bw) =
                    conv2d::conv2d_backward(&dyg, &xg, &wg, cols.as_ref(), cfg, (true, true))?;
                let (Some(bx), Some(bw)) = (bx, bw) else {
                    return Err(crate::Error::Autograd(
                        "conv2d_backward left out a gradient asked for".into(),
                    ));
                };
                let (bx, bw) = (bx.to_vec()?, bw.to_vec()?);
                use conv2d::reference as r;
                let dw_ref = r::grad_weight(&g, &dy.f64, &x.f64);
                let dw_scale = r::grad_weight(&g, &dy.abs(), &x.abs());
                let mut out = vec![
                    compare(
                        "conv2d",
                        &label,
                        &y,
                        &r::forward(&g, &x.f64, &wt.f64),
                        Some(&r::forward(&g, &x.abs(), &wt.abs())),
                        Tolerance::accumulation(c * kh * kw),
                    ),
                    compare(
                        "conv2d_grad_input",
                        &label,
                        &dx,
                        &r::grad_input(&g, &dy.f64, &wt.f64),
                        Some(&r::grad_input(&g, &dy.abs(), &wt.abs())),
                        Tolerance::accumulation(k * kh * kw),
                    ),
                    compare(
                        "conv2d_grad_weight",
                        &label,
                        &dw,
                        &dw_ref,
                        Some(&dw_scale),
                        Tolerance::accumulation(n * g.oh * g.ow),
                    ),
                    compare(
                        "conv2d_backward dx",
                        &label,
                        &bx,
                        &r::grad_input(&g, &dy.f64, &wt.f64),
                        Some(&r::grad_input(&g, &dy.abs(), &wt.abs())),
                        Tolerance::accumulation(k * kh * kw),
                    ),
                    compare(
                        "conv2d_backward dw",
                        &label,
                        &bw,
                        &dw_ref,
                        Some(&dw_scale),
                        Tolerance::accumulation(n * g.oh * g.ow),
                    ),
                ];
                if let Some(dw_kept) = dw_kept {
                    out.push(compare(
                        "conv2d_grad_weight from kept cols",
                        &label,
                        &dw_kept.to_vec()?,
                        &dw_ref,
                        Some(&dw_scale),
                        Tolerance::accumulation(n * g.oh * g.ow),
                    ));
                }
                Ok(out)
            })
        }));
    }

    // n, cin, h, w, cout, k, stride, pad, output_padding, large
    let deconvs: [DeconvRow; 8] = [
        (1, 1, 1, 1, 1, 1, 1, 0, 0, false),
        (2, 3, 5, 4, 2, 3, 2, 1, 1, false),
        (3, 2, 7, 7, 5, 4, 2, 1, 0, false),
        (2, 4, 3, 5, 3, 5, 3, 2, 2, false),
        // 64 input channels: both backward products of the implicit path.
        (4, 64, 5, 3, 3, 4, 2, 1, 0, false),
        (16, 128, 7, 7, 64, 4, 2, 1, 0, true),
        (16, 64, 14, 14, 1, 4, 2, 1, 0, true),
        // The InfoGAN decoder's last layer at the training batch (weight gradient K = 12,544).
        (64, 64, 14, 14, 1, 4, 2, 1, 0, true),
    ];
    for (i, &(n, ci, h, w, co, kk, s, p, op, large)) in deconvs.iter().enumerate() {
        let cfg = ConvTranspose2dConfig::new(s, p, op);
        let label = format!(
            "x {} w {} stride {s} pad {p} outpad {op}",
            dims(&[n, ci, h, w]),
            dims(&[ci, co, kk, kk])
        );
        let label = format!("{label} [{variant:?}]");
        v.push(Case::new(
            "conv_transpose2d",
            label.clone(),
            large,
            move |gpu| {
                with_conv(gpu, variant, || {
                    let mut rng = Rng::new(3000 + i as u64);
                    let x = rng.data(&[n, ci, h, w], -1.0, 1.0);
                    let wt = rng.data(&[ci, co, kk, kk], -1.0, 1.0);
                    let (oh, ow) = cfg.out_size("conv_transpose2d", h, w, kk, kk)?;
                    let dy = rng.data(&[n, co, oh, ow], -1.0, 1.0);
                    let (xg, wg, dyg) = (x.upload(gpu)?, wt.upload(gpu)?, dy.upload(gpu)?);
                    let y = ct::conv_transpose2d(&xg, &wg, cfg)?.to_vec()?;
                    let dx = ct::conv_transpose2d_grad_input(&dyg, &wg, cfg)?.to_vec()?;
                    let dw =
                        ct::conv_transpose2d_grad_weight(&dyg, &xg, (kk, kk), cfg)?.to_vec()?;
                    // Both at once, as the tape asks (one im2col of dy shared on the GEMM path).
                    let (bx, bw) =
                        ct::conv_transpose2d_backward(&dyg, &xg, &wg, cfg, (true, true))?;
                    let (Some(bx), Some(bw)) = (bx, bw) else {
                        return Err(crate::Error::Autograd(
                            "conv_transpose2d_backward left out a gradient asked for".into(),
                        ));
                    };
                    let (bx, bw) = (bx.to_vec()?, bw.to_vec()?);
                    let g = ct::reference::Geom {
                        n,
                        ci,
                        h,
                        w,
                        co,
                        kh: kk,
                        kw: kk,
                        oh,
                        ow,
                        cfg,
                    };
                    use ct::reference as r;
                    Ok(vec![
                        compare(
                            "conv_transpose2d",
                            &label,
                            &y,
                            &r::forward(&g, &x.f64, &wt.f64),
                            Some(&r::forward(&g, &x.abs(), &wt.abs())),
                            Tolerance::accumulation(ci * kk * kk),
                        ),
                        compare(
                            "conv_transpose2d_grad_input",
                            &label,
                            &dx,
                            &r::grad_input(&g, &dy.f64, &wt.f64),
                            Some(&r::grad_input(&g, &dy.abs(), &wt.abs())),
                            Tolerance::accumulation(co * kk * kk),
                        ),
                        compare(
                            "conv_transpose2d_grad_weight",
                            &label,
                            &dw,
                            &r::grad_weight(&g, &dy.f64, &x.f64),
                            Some(&r::grad_weight(&g, &dy.abs(), &x.abs())),
                            Tolerance::accumulation(n * h * w),
                        ),
                        compare(
                            "conv_transpose2d_backward dx",
                            &label,
                            &bx,
                            &r::grad_input(&g, &dy.f64, &wt.f64),
                            Some(&r::grad_input(&g, &dy.abs(), &wt.abs())),
                            Tolerance::accumulation(co * kk * kk),
                        ),
                        compare(
                            "conv_transpose2d_backward dw",
                            &label,
                            &bw,
                            &r::grad_weight(&g, &dy.f64, &x.f64),
                            Some(&r::grad_weight(&g, &dy.abs(), &x.abs())),
                            Tolerance::accumulation(n * h * w),
                        ),
                    ])
                })
            },
        ));
    }
}
