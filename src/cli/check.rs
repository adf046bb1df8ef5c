//! `vae-gpu check`: the conformance suite from the binary, so an integrated GPU can be
//! tested without cargo.

use serde_json::json;
use vae_gpu::check::{suite, Size};
use vae_gpu::{Gpu, Result, Selection};

pub fn run(sel: &Selection, json: bool, full: bool, filter: Option<&str>) -> Result<i32> {
    let gpu = Gpu::new(sel)?;
    let size = if full { Size::Full } else { Size::Quick };
    let cases: Vec<_> = suite(size)
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.family.contains(f) || c.label.contains(f)))
        .collect();
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
