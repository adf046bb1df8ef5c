//! Every case of the conformance suite (tiny, odd and large shapes), one test per kernel
//! family, so a failure names its family and the others still run. Tolerances are stated and
//! justified in `src/check/mod.rs` (`Tolerance`), beside the comparison they govern; each case
//! picks the one that fits its arithmetic.

use vae_gpu::check::{suite, Case, Size};
use vae_gpu::gpu::{AdamVariant, ChannelSums, ConvVariant, MatmulVariant, Reads, Variant};

use crate::common::gpu;

fn family(name: &str) {
    let (gpu, _turn) = gpu();
    let cases: Vec<_> = suite(Size::Full)
        .into_iter()
        .filter(|c| c.family == name)
        .collect();
    assert!(!cases.is_empty(), "no cases for {name}");
    let mut failures = Vec::new();
    let mut outputs = 0;
    for case in &cases {
        match case.run(&gpu) {
            Ok(outcomes) => {
                for o in outcomes {
                    outputs += 1;
                    if !o.passed {
                        failures.push(format!(
                            "{} {}: {}",
                            o.kernel,
                            o.shape,
                            o.mismatches.join("; ")
                        ));
                    }
                }
            }
            Err(e) => failures.push(format!("{}: error {e}", case.label)),
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {outputs} outputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! families {
    ($($f:ident),+ $(,)?) => {
        $(#[test] fn $f() { family(stringify!($f)); })+
        const FAMILIES: &[&str] = &[$(stringify!($f)),+];
    };
}

families!(
    adam,
    batchnorm,
    bias,
    binary,
    conv2d,
    conv_transpose2d,
    fill,
    gated,
    geco,
    loss,
    matmul,
    metrics,
    mmd,
    random,
    reduce,
    scatter,
    softmax_ce,
    unary,
);

/// The tests above are the suite's families, no more and no fewer: a family added to `check`
/// fails here until it has its test.
#[test]
fn every_family_has_its_test() {
    let mut families: Vec<&str> = suite(Size::Full).iter().map(|c| c.family).collect();
    families.sort();
    families.dedup();
    assert_eq!(families, FAMILIES);
}

fn covered<V: Variant>(cases: &[Case]) {
    for v in V::all() {
        let want = v.coverage();
        assert!(
            cases.iter().any(|c| c.covers.contains(&want)),
            "no conformance case runs {want}"
        );
    }
}

/// Every variant of every enumerated routing choice is run by some case of the suite (a new
/// variant is covered by adding it to its enum: the cases iterate `Variant::all`).
#[test]
fn every_route_is_covered() {
    let cases = suite(Size::Full);
    covered::<MatmulVariant>(&cases);
    covered::<ConvVariant>(&cases);
    covered::<AdamVariant>(&cases);
    covered::<Reads>(&cases);
    covered::<ChannelSums>(&cases);
}
