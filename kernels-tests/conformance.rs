//! Every case of the conformance suite (tiny, odd and large shapes), per kernel family.
//! Tolerances are stated and justified in `src/check/mod.rs` (`Tolerance`), beside the
//! comparison they govern; each case picks the one that fits its arithmetic.

use vae_gpu::check::{suite, Size};

use crate::common::gpu;

fn family(name: &str) {
    let (gpu, _lock) = gpu();
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
        "{} of {outputs} outputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every family the suite has, so a family added to `check` is tested here without a list
/// to keep in step. One test per family would read better in the log, but could miss one.
#[test]
fn every_family_of_the_suite() {
    let mut families: Vec<&str> = suite(Size::Full).iter().map(|c| c.family).collect();
    families.sort();
    families.dedup();
    for must in [
        "matmul", "conv2d", "random", "loss", "adam", "mmd", "scatter", "metrics", "geco",
    ] {
        assert!(families.contains(&must), "the suite lost the {must} family");
    }
    for f in families {
        family(f);
    }
}
