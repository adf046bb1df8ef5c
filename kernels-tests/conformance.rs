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

#[test]
fn fill() {
    family("fill");
}
#[test]
fn unary() {
    family("unary");
}
#[test]
fn binary() {
    family("binary");
}
#[test]
fn reduce() {
    family("reduce");
}
#[test]
fn bias() {
    family("bias");
}
#[test]
fn matmul() {
    family("matmul");
}
#[test]
fn conv2d() {
    family("conv2d");
}
#[test]
fn conv_transpose2d() {
    family("conv_transpose2d");
}
#[test]
fn batchnorm() {
    family("batchnorm");
}

/// The suite itself must be able to fail: an output the kernel never wrote stays
/// NaN-poisoned, and the comparison rejects it.
#[test]
fn an_unwritten_output_fails_the_comparison() {
    let (gpu, _lock) = gpu();
    gpu.set_poison(true);
    let t = vae_gpu::Tensor::empty(&gpu, &[3, 5]).unwrap();
    gpu.set_poison(false);
    let got = t.to_vec().unwrap();
    assert!(
        got.iter()
            .all(|v| v.to_bits() == vae_gpu::tensor::POISON_BITS),
        "poison fill did not land: {got:?}"
    );
    let o = vae_gpu::check::compare(
        "probe",
        "3×5",
        &got,
        &[0.0; 15],
        None,
        vae_gpu::check::Tolerance::rounding(1.0),
    );
    assert!(!o.passed);
}

/// ... and a wrong value fails too, while a value within the bound passes.
#[test]
fn comparison_bounds_are_applied_per_element() {
    use vae_gpu::check::{compare, Tolerance};
    let tol = Tolerance::accumulation(100);
    let bound = tol.rel * 10.0;
    assert!(compare("p", "", &[1.0], &[1.0 + 0.5 * bound], Some(&[10.0]), tol).passed);
    assert!(!compare("p", "", &[1.0], &[1.0 + 2.0 * bound], Some(&[10.0]), tol).passed);
    assert!(
        !compare("p", "", &[1.0, 2.0], &[1.0], None, tol).passed,
        "length mismatch must fail"
    );
}
