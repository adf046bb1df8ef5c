//! `vae-gpu check`: the conformance suite from the binary, so an integrated GPU can be
//! tested without cargo.

use serde_json::json;
use vae_gpu::check::{suite, Case, Size};
use vae_gpu::text::did_you_mean;
use vae_gpu::{Error, Gpu, Result, Selection};

/// The suite's families in order, each with its cases at `size`.
fn families(cases: &[Case]) -> Vec<(&'static str, usize)> {
    let mut out: Vec<(&'static str, usize)> = Vec::new();
    for c in cases {
        match out.iter_mut().find(|(f, _)| *f == c.family) {
            Some(f) => f.1 += 1,
            None => out.push((c.family, 1)),
        }
    }
    out
}

/// `check --list`: every family and its cases, without opening an adapter.
pub fn list(full: bool) -> Result<i32> {
    let size = if full { Size::Full } else { Size::Quick };
    for (family, n) in families(&suite(size)) {
        println!("{family:<34} {n} cases");
    }
    Ok(0)
}

pub fn run(sel: &Selection, json: bool, full: bool, filter: Option<&str>) -> Result<i32> {
    let size = if full { Size::Full } else { Size::Quick };
    let all = suite(size);
    // Case-insensitive, on the family or the case's label; a filter that selects nothing is a
    // typo, not a pass.
    let wanted = |c: &Case| {
        filter.is_none_or(|f| {
            let f = f.to_lowercase();
            c.family.to_lowercase().contains(&f) || c.label.to_lowercase().contains(&f)
        })
    };
    let names: Vec<&str> = families(&all).into_iter().map(|f| f.0).collect();
    let cases: Vec<Case> = all.into_iter().filter(wanted).collect();
    if let (Some(f), true) = (filter, cases.is_empty()) {
        return Err(Error::flag(
            "--filter",
            format!(
                "'{f}' matches no case{}; the families are: {} (`vae-gpu check --list` shows them with their cases)",
                did_you_mean(f, &names),
                names.join(", ")
            ),
        ));
    }
    let gpu = Gpu::new(sel)?;
    if !json {
        println!(
            "{} ({:?}, {:?}): {} cases",
            gpu.info.name,
            gpu.info.backend,
            gpu.info.device_type,
            cases.len()
        );
        println!(
            "{:<34} {:<44} {:>10} {:>10} {:>10}  result",
            "kernel", "shape", "max abs", "max rel", "err/bound"
        );
    }
    let (mut passed, mut failed) = (0, 0);
    let mut rows = Vec::new();
    for case in &cases {
        let outcomes = match case.run(&gpu) {
            Ok(o) => o,
            Err(e) => {
                failed += 1;
                if !json {
                    println!("{:<34} {:<44} error: {e}", case.family, case.label);
                }
                rows.push(json!({"kernel": case.family, "shape": case.label, "passed": false, "error": e.to_string()}));
                continue;
            }
        };
        for o in outcomes {
            if o.passed {
                passed += 1;
            } else {
                failed += 1;
            }
            if !json {
                let status = if o.passed {
                    "ok".to_string()
                } else {
                    format!("MISMATCH {}", o.mismatches.join("; "))
                };
                println!(
                    "{:<34} {:<44} {:>10.2e} {:>10.2e} {:>10.2e}  {status}",
                    o.kernel, o.shape, o.max_abs, o.max_rel, o.worst_ratio
                );
            }
            rows.push(json!({
                "kernel": o.kernel, "shape": o.shape, "elements": o.elements,
                "max_abs": o.max_abs, "max_rel": o.max_rel, "worst_error_over_bound": o.worst_ratio,
                "tolerance": {"name": o.tolerance.name, "abs": o.tolerance.abs, "rel": o.tolerance.rel},
                "passed": o.passed, "mismatches": o.mismatches,
            }));
        }
    }
    if json {
        let report = json!({
            "adapter": gpu.info.name, "backend": format!("{:?}", gpu.info.backend),
            "passed": passed, "failed": failed, "results": rows,
        });
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        println!("check: {passed} passed, {failed} failed");
    }
    Ok(if failed == 0 { 0 } else { 1 })
}
