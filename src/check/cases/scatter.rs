//! scatter: concatenation, slice backward, gradient accumulation, gathering rows.

use super::dims;
use crate::check::{compare, covering, Case, Rng, Tolerance};
use crate::gpu::{Reads, Routing, Variant};
use crate::kernels::scatter;

pub fn cases(v: &mut Vec<Case>) {
    // Gathered rows are copies: exact. Tiny (one row of one), odd (repeats, an offset view,
    // the last row), large (a 60000×64 latent matrix, a batch of 64).
    for (i, (n, w, rows, large)) in [
        (1usize, 1usize, vec![0usize], false),
        (7, 5, vec![6, 0, 3, 3, 1], false),
        (
            60_000,
            64,
            (0..64).map(|k| (k * 7919) % 60_000).collect(),
            true,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "scatter",
            format!("gather {} rows of {n}×{w}", rows.len()),
            large,
            move |gpu| {
                let mut rng = Rng::new(9200 + i as u64);
                // One row of padding before the matrix: the source is an offset view.
                let m = rng.data(&[n + 1, w], -1.0, 1.0);
                let view = m.upload(gpu)?.narrow0(1, n)?;
                let out = scatter::gather_rows(&view, &rows)?.to_vec()?;
                let r = scatter::reference::gather_rows(&m.f64[w..], w, &rows);
                Ok(vec![compare(
                    "gather_rows",
                    &dims(&[rows.len(), w]),
                    &out,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
    }
    for (i, (rows, widths)) in [
        (1usize, vec![1usize, 1]),
        (3, vec![2, 5, 1]),
        (64, vec![64, 1024]),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "scatter",
            format!("concat {rows}×{widths:?}"),
            false,
            move |gpu| {
                let mut rng = Rng::new(9000 + i as u64);
                let parts: Vec<_> = widths
                    .iter()
                    .map(|w| rng.data(&[rows, *w], -1.0, 1.0))
                    .collect();
                let tensors = parts
                    .iter()
                    .map(|p| p.upload(gpu))
                    .collect::<crate::Result<Vec<_>>>()?;
                let out = scatter::concat_last(&tensors.iter().collect::<Vec<_>>())?.to_vec()?;
                let refs: Vec<(&[f64], usize)> = parts
                    .iter()
                    .zip(&widths)
                    .map(|(p, w)| (&p.f64[..], *w))
                    .collect();
                let r = scatter::reference::concat_last(&refs, rows);
                let total: usize = widths.iter().sum();
                // Slice backward: the last part's gradient padded back to the full width.
                let last = parts.last().expect("two parts or more");
                let w = *widths.last().expect("two parts or more");
                let padded =
                    scatter::pad_last(&tensors[tensors.len() - 1], &[rows, total], total - w)?
                        .to_vec()?;
                let zeros = vec![0.0; rows * (total - w)];
                let zero: Vec<(&[f64], usize)> = vec![(&zeros[..], total - w), (&last.f64[..], w)];
                let rp = scatter::reference::concat_last(&zero, rows);
                Ok(vec![
                    compare(
                        "concat",
                        &dims(&[rows, total]),
                        &out,
                        &r,
                        None,
                        Tolerance::rounding(0.0),
                    ),
                    compare(
                        "pad_last",
                        &dims(&[rows, total]),
                        &padded,
                        &rp,
                        None,
                        Tolerance::rounding(0.0),
                    ),
                ])
            },
        ));
    }
    // A few rows into a small matrix, and stage 2's encoding of the training set: eval's
    // batch of 256 written as the last rows of the 60,000 × 64 latent matrix.
    for (i, (rows, width, total, at, large)) in [
        (3usize, 3usize, 11usize, 5usize, false),
        (256, 64, 60_000, 60_000 - 256, true),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "scatter",
            format!("write rows {at}..{} of {total}×{width}", at + rows),
            large,
            move |gpu| {
                let mut rng = Rng::new(9300 + i as u64);
                let base = rng.data(&[total, width], -1.0, 1.0);
                let part = rng.data(&[rows, width], -1.0, 1.0);
                let dst = base.upload(gpu)?;
                scatter::write_rows(&part.upload(gpu)?, &dst, at)?;
                let mut r = base.f64.clone();
                r[at * width..(at + rows) * width].copy_from_slice(&part.f64);
                Ok(vec![compare(
                    "write_rows",
                    &format!("{rows} of {total} at row {at}"),
                    &dst.to_vec()?,
                    &r,
                    None,
                    Tolerance::rounding(0.0),
                )])
            },
        ));
    }
    // Through the buffers and through textures: an unaligned view (buffers only), an aligned
    // one with a one-element tail, a transposed source, and one spanning two texture chunks.
    for reads in Reads::all().iter().copied() {
        let first = v.len();
        for (base_n, at, shape, transposed) in [
            (1000usize, 301usize, [3usize, 7usize], false),
            (1000, 300, [3, 7], false),
            (1000, 300, [7, 3], true),
            (1_200_000, 4096, [1100, 1001], false),
        ] {
            let path = reads.name();
            let label = format!(
                "{} of {base_n} at {at}{} through {path}",
                shape[0] * shape[1],
                if transposed {
                    ", source transposed"
                } else {
                    ""
                }
            );
            v.push(Case::new(
                "scatter",
                format!("accumulate {label}"),
                false,
                move |gpu| {
                    gpu.scoped(
                        |t| Routing { reads, ..t },
                        || {
                            let mut rng = Rng::new(9100);
                            let base = rng.data(&[base_n], -1.0, 1.0);
                            let add = rng.data(&shape, -1.0, 1.0);
                            let flat = base.upload(gpu)?;
                            let (rows, cols) = if transposed {
                                (shape[1], shape[0])
                            } else {
                                (shape[0], shape[1])
                            };
                            let view = flat.narrow0(at, rows * cols)?.reshape(&[rows, cols])?;
                            let src = add.upload(gpu)?;
                            let src = if transposed {
                                src.transpose(0, 1)?
                            } else {
                                src
                            };
                            scatter::accumulate(&view, &src)?;
                            let mut r = base.f64.clone();
                            for i in 0..rows {
                                for j in 0..cols {
                                    let k = if transposed {
                                        j * shape[1] + i
                                    } else {
                                        i * cols + j
                                    };
                                    r[at + i * cols + j] += add.f64[k];
                                }
                            }
                            // One f32 addition per element, as the reference rounded once.
                            Ok(vec![compare(
                                "accumulate",
                                &label,
                                &flat.to_vec()?,
                                &r,
                                None,
                                Tolerance::rounding(1.0),
                            )])
                        },
                    )
                },
            ));
        }
        covering(v, first, reads.coverage());
    }
}
