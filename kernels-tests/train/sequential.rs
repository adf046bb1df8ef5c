//! Zhao et al.'s Sequential VAE through the binary on tiny data: it trains its T steps jointly,
//! resumes exactly, draws the per-step grid, is evaluated step by step, and refuses the
//! settings it cannot take, writing nothing.

use crate::runs::{
    metrics, ok, png_size, refused, resumes_exactly, vae_gpu, with_flags, ONE_AT_A_TIME,
};
use crate::tempdir;

/// 3 steps of a 4-d code each on 64 8×8 shapes.
fn tiny(steps: &'static str, out: &'static str) -> Vec<&'static str> {
    vec![
        "train",
        "--data",
        "shapes",
        "--net",
        "sequential",
        "--model",
        "vae",
        "--image-size",
        "8",
        "--limit",
        "64",
        "--batch-size",
        "16",
        "--latent-dim",
        "4",
        "--sequence-steps",
        "3",
        "--log-every",
        "3",
        "--steps",
        steps,
        "--out",
        out,
    ]
}

#[test]
fn the_sequential_vae_trains_resumes_exactly_and_is_evaluated_step_by_step() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-sequential");
    ok(vae_gpu(t.path(), &tiny("6", "whole")));
    let whole = t.path().join("whole");
    let rows = metrics(&whole);
    assert_eq!(rows.len(), 2);
    // Every step reconstructs the data: the likelihood term sums 3 of them, so it is well
    // above one step's (the learned-γ Gaussian of 64 values: D·(½·ln 2π + ln γ) + SSE/2γ²).
    for r in &rows {
        let (rec, mse, gamma) = (
            r["reconstruction"].as_f64().unwrap(),
            r["mse"].as_f64().unwrap(),
            r["gamma"].as_f64().unwrap(),
        );
        let one_step = 64.0 * (0.5 * (2.0 * std::f64::consts::PI).ln() + gamma.ln())
            + 64.0 * mse / (2.0 * gamma * gamma);
        assert!(rec > 2.0 * one_step, "{r}: one step's term is {one_step}");
    }
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["sequence_steps"], 3);
    // The code is the 3 steps' side by side.
    assert_eq!(cfg["train"]["latent_dim"], 4);
    // Figure 4's grid: 8 draws a row, a column a step (8-pixel tiles, 2-pixel gaps).
    assert_eq!(
        png_size(&whole.join("samples-steps.png")),
        (3 * 8 + 4 * 2, 8 * 8 + 9 * 2)
    );

    // Stopped at 3 and resumed to 6: the same weights, Adam state and rows.
    resumes_exactly(t.path(), &tiny("3", "split"));

    // eval: a 12-d code, and each step's reconstruction error and sample sharpness.
    let out = vae_gpu(
        t.path(),
        &[
            "eval",
            "whole",
            "--json",
            "--iwae-images",
            "8",
            "--mmd-samples",
            "32",
        ],
    );
    ok(out.clone());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let variances = doc["encoder_variances"]["mean_variance"]
        .as_array()
        .unwrap();
    assert_eq!(variances.len(), 12);
    let q = &doc["sequence"];
    for key in ["reconstruction_mse", "sample_sharpness"] {
        let v = q[key].as_array().unwrap();
        assert_eq!(v.len(), 3, "{key}: {q}");
        assert!(v.iter().all(|x| x.as_f64().unwrap() >= 0.0), "{key}: {q}");
    }
    // The last step's reconstruction is the run's μ_x: eval's MSE of it, on the same images
    // with the same draws of z (the test split of shapes has 64 images, eval's default sets
    // hold them all).
    let last = q["reconstruction_mse"][2].as_f64().unwrap();
    let mse = doc["stage1"]["mse"].as_f64().unwrap();
    assert!((last - mse).abs() < 1e-3 * mse, "{last} against {mse}");
    assert!(q["data_sharpness"].as_f64().unwrap() > 0.0);
    ok(vae_gpu(t.path(), &["report", "whole"]));
    let page = std::fs::read_to_string(whole.join("report.html")).unwrap();
    assert!(page.contains("the Sequential VAE step by step"));
}

#[test]
fn settings_the_sequential_vae_cannot_take_are_refused_naming_the_flag() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-sequential-bad");
    let refuse = |extra: &[&'static str], net: &'static str, flag: &str| {
        let mut args = tiny("3", "bad");
        args[4] = net;
        let drop: &[&str] = if net == "sequential" {
            &[]
        } else {
            &["--sequence-steps"]
        };
        refused(t.path(), &with_flags(args, extra, drop), flag, "bad");
    };
    refuse(&["--sequence-steps", "0"], "sequential", "--sequence-steps");
    // A T whose weights pass the adapter's largest buffer: the message names the T that fits.
    refuse(&["--sequence-steps", "100000000"], "sequential", "holds");
    refuse(&["--sequence-steps", "2"], "mlp", "--sequence-steps");
    refuse(&["--model", "two-stage"], "sequential", "--model");
    refuse(
        &["--objective", "geco", "--geco-rmse", "0.1"],
        "sequential",
        "--geco-rmse",
    );
    refuse(&["--image-size", "7"], "sequential", "--image-size");
}
