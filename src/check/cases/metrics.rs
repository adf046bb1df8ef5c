//! metrics: the training loop's on-device metric accumulators.

use crate::check::{compare, Case, Rng, Tolerance};
use crate::kernels::metrics::{self, Accumulator};
use crate::tensor::Tensor;

/// The metric accumulator: running sums of scalars read at odd offsets (tiny: one add; odd:
/// views at offsets 1..; large: 1000 steps), and the first non-finite step flagged, with a
/// later NaN not overwriting an earlier Inf. The sums are f32 additions in order, as the
/// reference's f64 sum rounded per add: 1000 terms of ~1 need the accumulation bound.
pub fn cases(v: &mut Vec<Case>) {
    for (i, (steps, bad)) in [
        (1u64, None),
        (7, Some((3u64, f32::INFINITY))),
        (1000, Some((611, f32::NAN))),
    ]
    .into_iter()
    .enumerate()
    {
        v.push(Case::new(
            "metrics",
            format!("{steps} steps, non-finite at {:?}", bad.map(|b| b.0)),
            false,
            move |gpu| {
                let mut rng = Rng::new(9200 + i as u64);
                let acc = Accumulator::new(gpu, 3)?;
                let (mut sums, mut flag) = (vec![0.0f64; 3], 0u32);
                for step in 0..steps {
                    let mut vals = rng.data(&[5], -1.0, 1.0).f32;
                    if let Some((at, value)) = bad {
                        if step == at {
                            vals[2] = value;
                        }
                        if step == at + 1 {
                            vals[2] = f32::NAN;
                        }
                    }
                    let t = Tensor::from_slice(gpu, &vals, &[5])?;
                    for (slot, k) in [(0usize, 1usize), (1, 4), (2, 2)] {
                        let view = t.narrow0(k, 1)?;
                        acc.add(slot, &view, step, slot == 2)?;
                        metrics::reference::add(
                            &mut sums,
                            &mut flag,
                            slot,
                            vals[k],
                            step,
                            slot == 2,
                        );
                    }
                }
                let got = acc.take()?;
                let want_flag = (flag != 0).then(|| flag as u64 - 1);
                let mut out = vec![compare(
                    "metrics sums",
                    &format!("{steps} steps"),
                    &got.sums[..2],
                    &sums[..2],
                    None,
                    Tolerance::accumulation(steps as usize),
                )];
                // The flag as a number (-1: none) so it is compared and printed like the sums.
                let as_num = |f: Option<u64>| f.map_or(-1.0, |s| s as f64);
                let exact = Tolerance::rounding(0.0);
                out.push(compare(
                    "metrics first bad step",
                    "1",
                    &[as_num(got.first_nonfinite_step) as f32],
                    &[as_num(want_flag)],
                    None,
                    exact,
                ));
                // The sums are zeroed by take; the flag stays.
                let again = acc.take()?;
                out.push(compare(
                    "metrics zeroed",
                    "3",
                    &again.sums,
                    &[0.0; 3],
                    None,
                    exact,
                ));
                out.push(compare(
                    "metrics flag kept",
                    "1",
                    &[as_num(again.first_nonfinite_step) as f32],
                    &[as_num(want_flag)],
                    None,
                    exact,
                ));
                Ok(out)
            },
        ));
    }
}
