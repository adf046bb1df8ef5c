//! The kernel conformance suite: every GPU kernel against its f64 CPU reference,
//! on tiny, odd and large shapes. `vae-gpu check` runs it from the binary and
//! `kernels-tests/` runs the same cases under cargo, so both test the same thing.

mod cases;
mod data;

use std::sync::Arc;

use crate::error::Result;
use crate::gpu::Gpu;

pub use cases::suite;
pub use data::{Data, Rng};

/// f32 unit roundoff (2⁻²⁴): the error of one correctly rounded operation, relative.
pub const EPS: f64 = f32::EPSILON as f64 / 2.0;

/// An element passes when |gpu − ref| ≤ abs + rel·scale, where scale is the
/// element's own |ref|, or, for sums, the sum of the magnitudes of its terms.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
    pub name: &'static str,
}

impl Tolerance {
    /// Results of one or two correctly rounded operations (copy, add, mul, relu, ...):
    /// the GPU result is the f64 result rounded once or twice, so 2 units of roundoff,
    /// plus 1 more for ops the WGSL spec lets be less exact (division: 2.5 ulp).
    pub fn rounding(ops: f64) -> Self {
        Tolerance {
            abs: 0.0,
            rel: (ops + 1.0) * 2.0 * EPS,
            name: "rounding",
        }
    }

    /// Sums of `terms` products (dot products, convolutions, reductions) compared with
    /// scale = Σ|terms|. Rounding errors of random sign grow like √terms·ε·Σ|terms|
    /// (Higham, Accuracy and Stability, §2.8); 4√terms·ε leaves a wide margin and
    /// still catches a dropped or doubled term, which the worst-case bound terms·ε
    /// would hide for long sums.
    pub fn accumulation(terms: usize) -> Self {
        Tolerance {
            abs: 1e-30,
            rel: 4.0 * (terms.max(1) as f64).sqrt() * EPS + 4.0 * EPS,
            name: "accumulation",
        }
    }

    /// exp, log and what is built from them: WGSL allows exp 3 + 2|x| ulp and log 3 ulp
    /// (2⁻²¹ absolute near 1). Inputs here are in [−6, 6], so 15 ulp ≈ 1.8e-6 relative;
    /// 4e-6 relative plus 2e-6 absolute covers that with margin.
    pub fn transcendental() -> Self {
        Tolerance {
            abs: 2e-6,
            rel: 4e-6,
            name: "transcendental",
        }
    }

    /// Batch norm: the statistics are sums of M values, each carrying √M·ε relative
    /// error, and x̂ = (x − mean)·invstd amplifies that by |x̂| ≤ √M. Outputs are O(1)
    /// for O(1) inputs, so 16·√M·ε absolute and relative.
    pub fn statistics(m: usize) -> Self {
        let t = 16.0 * (m.max(1) as f64).sqrt() * EPS;
        Tolerance {
            abs: t,
            rel: t,
            name: "statistics",
        }
    }
}

/// The comparison of one output of one kernel run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub kernel: String,
    pub shape: String,
    pub elements: usize,
    pub max_abs: f64,
    /// Largest |gpu − ref| / |ref| over elements whose |ref| is at least 1e-3 of the largest.
    pub max_rel: f64,
    pub tolerance: Tolerance,
    /// Largest |gpu − ref| / bound over all elements: ≤ 1 passes; how close a kernel runs to its bound.
    pub worst_ratio: f64,
    /// The first mismatches, for the report.
    pub mismatches: Vec<String>,
    pub passed: bool,
}

/// Compares GPU output with the reference. `scale` (same length) replaces |ref| in the bound.
pub fn compare(
    kernel: &str,
    shape: &str,
    gpu: &[f32],
    reference: &[f64],
    scale: Option<&[f64]>,
    tol: Tolerance,
) -> Outcome {
    let mut out = Outcome {
        kernel: kernel.to_string(),
        shape: shape.to_string(),
        elements: reference.len(),
        max_abs: 0.0,
        max_rel: 0.0,
        tolerance: tol,
        worst_ratio: 0.0,
        mismatches: Vec::new(),
        passed: true,
    };
    if gpu.len() != reference.len() {
        out.passed = false;
        out.mismatches.push(format!(
            "GPU gave {} values, reference {}",
            gpu.len(),
            reference.len()
        ));
        return out;
    }
    let big = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut bad = 0usize;
    for (i, (&g, &r)) in gpu.iter().zip(reference).enumerate() {
        let g = g as f64;
        let err = (g - r).abs();
        let s = scale.map_or(r.abs(), |s| s[i]);
        // NaN (an unwritten, poisoned element, or a bad formula) never passes.
        let bound = tol.abs + tol.rel * s;
        let ok = err <= bound;
        out.worst_ratio = out.worst_ratio.max(if bound > 0.0 {
            err / bound
        } else if err > 0.0 {
            f64::INFINITY
        } else {
            0.0
        });
        if !g.is_nan() {
            out.max_abs = out.max_abs.max(err);
            if r.abs() >= 1e-3 * big && r != 0.0 {
                out.max_rel = out.max_rel.max(err / r.abs());
            }
        }
        if !ok {
            bad += 1;
            if out.mismatches.len() < 4 {
                out.mismatches.push(format!(
                    "[{i}] gpu {g:e} ref {r:e} (bound {:e})",
                    tol.abs + tol.rel * s
                ));
            }
        }
    }
    if bad > 0 {
        out.passed = false;
        out.mismatches.push(format!(
            "{bad} of {} elements out of tolerance",
            reference.len()
        ));
        if gpu.iter().any(|g| g.is_nan()) {
            out.max_abs = f64::NAN;
            out.worst_ratio = f64::NAN;
        }
    }
    out
}

/// How much of the suite to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Tiny and odd shapes only.
    Quick,
    /// Also the large shapes (the reference network's layer sizes and up).
    Full,
}

/// Notes the cases pushed since `first` as covering `route`.
pub(crate) fn covering(v: &mut [Case], first: usize, route: String) {
    for c in &mut v[first..] {
        c.covers.push(route.clone());
    }
}

type RunFn = dyn Fn(&Arc<Gpu>) -> Result<Vec<Outcome>> + Send + Sync;

/// One runnable case: a kernel family, a shape label, and the run itself.
pub struct Case {
    pub family: &'static str,
    pub label: String,
    pub large: bool,
    /// The routes it runs (`Variant::coverage`, e.g. `matmul=tiled128`), so a test can check
    /// that every variant of every routing choice is covered.
    pub covers: Vec<String>,
    run: Box<RunFn>,
}

impl Case {
    pub fn new(
        family: &'static str,
        label: String,
        large: bool,
        run: impl Fn(&Arc<Gpu>) -> Result<Vec<Outcome>> + Send + Sync + 'static,
    ) -> Self {
        Case {
            family,
            label,
            large,
            covers: Vec::new(),
            run: Box::new(run),
        }
    }

    /// Runs with freshly allocated outputs poisoned with NaN, so an element a kernel
    /// forgets to write fails instead of passing on stale memory.
    pub fn run(&self, gpu: &Arc<Gpu>) -> Result<Vec<Outcome>> {
        Gpu::poisoned(|| (self.run)(gpu))
    }
}
