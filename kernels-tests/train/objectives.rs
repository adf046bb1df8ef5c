//! Runs of the binary with the generalised objectives: GECO (exact resume of its on-device
//! multiplier, λ's overflow stop, GECO as stage 1 of a two-stage run) and the MMD regulariser,
//! and what `eval` and `sample` add for them.

use crate::runs::{
    assert_same_tensors, metrics, ok, safetensors_step, stderr, vae_gpu, without_rate,
    ONE_AT_A_TIME, SMALL,
};
use crate::tempdir;
use serde_json::Value;

/// λ and C_ma are checkpointed state: a GECO run (with the MMD regulariser, whose prior
/// draws come from the step) stopped at 10 steps and resumed to 20 logs the same rows and
/// ends with the same bytes in every tensor as an uninterrupted one — across a resume that
/// falls between two of λ's updates (warm-up 3, every 2). Then `eval` scores it.
#[test]
fn a_geco_run_resumes_bit_for_bit() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-geco-resume");
    let args = |steps: &'static str, out: &'static str| {
        let mut a = vec![
            "train",
            "--objective",
            "geco",
            "--geco-rmse",
            "0.2",
            "--geco-alpha",
            "0.8",
            "--geco-warmup",
            "3",
            "--geco-every",
            "2",
            "--regularizer",
            "mmd",
            "--reg-weight",
            "10",
            "--lr",
            "1e-3",
            "--steps",
            steps,
            "--out",
            out,
        ];
        a.extend(SMALL);
        a
    };
    ok(vae_gpu(t.path(), &args("20", "whole")));
    ok(vae_gpu(t.path(), &args("10", "split")));
    assert_eq!(
        safetensors_step(&t.path().join("split/checkpoint.safetensors")),
        10
    );
    ok(vae_gpu(
        t.path(),
        &["train", "--resume", "split", "--steps", "20"],
    ));
    let (a, b) = (
        without_rate(metrics(&t.path().join("whole"))),
        without_rate(metrics(&t.path().join("split"))),
    );
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
    for key in [
        "lambda",
        "constraint",
        "c_ma",
        "constraint_met",
        "mmd",
        "kl",
        "mse",
        "gamma",
    ] {
        assert!(a[3][key].is_number(), "{key} missing from {}", a[3]);
    }
    assert!(a[3].get("reconstruction").is_none(), "{}", a[3]);
    // C starts far above the tolerance, so λ has grown.
    assert!(a[3]["lambda"].as_f64().unwrap() > 1.0, "{}", a[3]);
    let ck = |d: &str| t.path().join(d).join("checkpoint.safetensors");
    let names = assert_same_tensors(&ck("whole"), &ck("split"));
    for name in ["geco.lambda", "geco.c_ma"] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} is not checkpointed"
        );
    }
    assert!(!names.iter().any(|n| n == "loggamma"), "GECO learns no γ");
    // The run evaluates: 64 images in batches of 21 would leave a batch of one, which the
    // MMD term cannot score; it joins the batch before.
    ok(vae_gpu(
        t.path(),
        &[
            "eval",
            "whole",
            "--rows-per-pass",
            "21",
            "--mmd-samples",
            "16",
            "--iwae-images",
            "4",
            "--iwae-samples",
            "2",
            "--mi-images",
            "16",
            "--nll-images",
            "64",
        ],
    ));
    assert!(t.path().join("whole/eval.json").exists());
}

/// An unreachable tolerance with a huge per-update factor overflows λ (1e30 after the first
/// step, +∞ after the second): the run stops naming λ and step 2 and keeps step 1's checkpoint.
#[test]
fn an_overflowing_multiplier_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-geco-inf");
    let mut args = vec![
        "train",
        "--objective",
        "geco",
        "--geco-rmse",
        "0.001",
        "--geco-lr",
        "100",
        "--geco-clamp",
        "0.9,1e30",
        "--steps",
        "20",
        "--log-every",
        "1",
        "--checkpoint-every",
        "1",
        "--out",
        "run",
    ];
    args.extend(&SMALL[..10]);
    let out = vae_gpu(t.path(), &args);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("lambda") && e.contains("at step 2"), "{e}");
    assert!(e.contains("--geco-rmse"), "{e}");
    let dir = t.path().join("run");
    assert_eq!(safetensors_step(&dir.join("checkpoint.safetensors")), 1);
    assert!(metrics(&dir)
        .iter()
        .all(|r| r["step"].as_u64().unwrap() < 2));
}

/// GECO as stage 1 of a two-stage run; `eval` then reports the information plane from the
/// metrics, the γ-independent NLL, Î(x; z) under its log M ceiling and the marginal KL, and
/// GECO's λ and constraint; `sample --alpha` shifts every pixel by α·σ_x.
#[test]
fn geco_trains_stage_one_of_a_two_stage_run_and_eval_reports_the_new_diagnostics() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-geco-two");
    let mut args = vec![
        "train",
        "--objective",
        "geco",
        "--geco-rmse",
        "0.2",
        "--steps",
        "10",
        "--stage2-steps",
        "5",
        "--stage2-hidden",
        "16",
        "--out",
        "run",
    ];
    args.extend(&SMALL[2..]);
    ok(vae_gpu(t.path(), &args));
    let dir = t.path().join("run");
    assert!(dir.join("samples-two-stage.png").exists());
    ok(vae_gpu(
        t.path(),
        &[
            "eval",
            "run",
            "--mmd-samples",
            "32",
            "--iwae-images",
            "4",
            "--iwae-samples",
            "2",
            "--mi-images",
            "32",
            "--nll-images",
            "48",
        ],
    ));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("eval.json")).unwrap()).unwrap();
    let info = &doc["information"];
    let mi = info["mutual_information"].as_f64().unwrap();
    assert!((info["upper_bound"].as_f64().unwrap() - 32f64.ln()).abs() < 1e-9);
    assert!((-1e-9..=32f64.ln() + 1e-9).contains(&mi), "{info}");
    let (mean, marginal) = (
        info["mean_kl"].as_f64().unwrap(),
        info["marginal_kl"].as_f64().unwrap(),
    );
    assert!(
        (mean - mi - marginal).abs() < 1e-6 * mean.abs().max(1.0),
        "{info}"
    );
    let plane = &doc["information_plane"];
    let stage1_rows = metrics(&dir)
        .into_iter()
        .filter(|r| r["stage"] == 1)
        .count();
    assert_eq!(plane["rows"].as_array().unwrap().len(), stage1_rows);
    // 8×8 grey images: κ² = 64·0.2².
    assert!((plane["geco_target_distortion"].as_f64().unwrap() - 2.56).abs() < 1e-9);
    let nll = &doc["gamma_free_nll"];
    let (sigma, train_mse) = (
        nll["sigma"].as_f64().unwrap(),
        nll["train_mse"].as_f64().unwrap(),
    );
    assert!((sigma * sigma - train_mse).abs() < 1e-12, "{nll}");
    assert_eq!(nll["train_images"], 48);
    let s1 = &doc["stage1"];
    assert!(
        s1["constraint"].is_number() && s1["lambda"].as_f64().unwrap() > 0.0,
        "{s1}"
    );
    // λ stands for γ: γ = 1/√(2λ).
    let lambda = s1["lambda"].as_f64().unwrap();
    let gamma = s1["gamma"].as_f64().unwrap();
    assert!(
        (gamma - 1.0 / (2.0 * lambda).sqrt()).abs() < 1e-5 * gamma,
        "{s1}"
    );

    ok(vae_gpu(
        t.path(),
        &["sample", "run", "--alpha", "1", "--n", "4"],
    ));
    assert!(dir.join("samples-two-stage-alpha1-n4.png").exists());
    let both = vae_gpu(t.path(), &["sample", "run", "--alpha", "1", "--ancestral"]);
    assert!(!both.status.success() && stderr(&both).contains("--alpha"));
    let inf = vae_gpu(t.path(), &["sample", "run", "--alpha", "inf"]);
    assert!(
        !inf.status.success() && stderr(&inf).contains("--alpha"),
        "{}",
        stderr(&inf)
    );
}
