//! GECO's multiplier kernel: the moving average of the constraint and λ's clamped
//! exponential update, along sequences of constraint values read from odd offsets.

use crate::check::{compare, Case, Rng, Tolerance, EPS};
use crate::kernels::geco::{self, reference, MultiplierRule};
use crate::tensor::Tensor;

/// (steps, α, η, clamp): tiny (one step: the first-batch initialisation), odd (7 steps with
/// a large η so the clamp binds on both sides, an update every other step), large (1000
/// steps, α = 0.99 as in the paper, updates every step).
const SEQUENCES: [(usize, f32, f32, [f32; 2], usize); 3] = [
    (1, 0.99, 0.01, [0.9, 1.1], 1),
    (7, 0.5, 2.0, [0.5, 2.0], 2),
    (1000, 0.99, 0.01, [0.9, 1.1], 1),
];

/// C_ma: each update is two products and a sum, rounded (3ε of its terms); the average
/// forgets old errors at rate α, so they stay below 3ε·max|C|/(1 − α); 8ε·max|C|/(1 − α)
/// leaves margin. λ: each update multiplies by exp of a value within 1 in magnitude (WGSL:
/// 3 + 2·1 ulp), rounded once more, and C_ma's error enters the exponent times η: relative
/// errors add over the steps, so steps·(8ε + η·C_ma's bound) + 8ε.
fn tolerances(steps: usize, alpha: f32, eta: f32, max_c: f64) -> (Tolerance, Tolerance) {
    let c_ma_abs = 8.0 * EPS * max_c / (1.0 - alpha as f64) + 1e-30;
    let c_ma = Tolerance {
        abs: c_ma_abs,
        rel: 0.0,
        name: "moving average",
    };
    let lambda = Tolerance {
        abs: 0.0,
        rel: steps as f64 * (8.0 * EPS + eta as f64 * c_ma_abs) + 8.0 * EPS,
        name: "product of exps",
    };
    (c_ma, lambda)
}

pub fn cases(v: &mut Vec<Case>) {
    for (i, (steps, alpha, eta, clamp, every)) in SEQUENCES.into_iter().enumerate() {
        v.push(Case::new(
            "geco",
            format!("{steps} steps, α {alpha}, η {eta}, every {every}"),
            false,
            move |gpu| {
                let mut rng = Rng::new(9400 + i as u64);
                // Constraint values from −5 to 5, at offsets 3.. of one buffer.
                let cs = rng.data(&[steps + 3], -5.0, 5.0).f32;
                let c_all = Tensor::from_slice(gpu, &cs, &[steps + 3])?;
                let c_ma = Tensor::zeros(gpu, &[1])?;
                let lambda = Tensor::full(gpu, &[1], 1.0)?;
                let rule = MultiplierRule {
                    eta,
                    lo: clamp[0],
                    hi: clamp[1],
                };
                let (mut want_c_ma, mut want_lambda) = (0.0f64, 1.0f64);
                for step in 0..steps {
                    let c = c_all.narrow0(3 + step, 1)?;
                    geco::average(&c, &c_ma, &lambda, step == 0, alpha)?;
                    want_c_ma =
                        reference::average(want_c_ma, cs[3 + step] as f64, step == 0, alpha as f64);
                    if step % every == 0 {
                        geco::multiplier(&c, &c_ma, &lambda, rule)?;
                        want_lambda = reference::multiplier(want_lambda, want_c_ma, rule);
                    }
                }
                let (tc, tl) = tolerances(steps, alpha, eta, 5.0);
                let label = format!("{steps} steps");
                Ok(vec![
                    compare("geco C_ma", &label, &c_ma.to_vec()?, &[want_c_ma], None, tc),
                    compare(
                        "geco λ",
                        &label,
                        &lambda.to_vec()?,
                        &[want_lambda],
                        None,
                        tl,
                    ),
                ])
            },
        ));
    }
}
