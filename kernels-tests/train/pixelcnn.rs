//! Zhao et al.'s PixelCNN-VAE through the binary on tiny data: it trains with its categorical
//! (and Bernoulli) likelihood, resumes exactly, samples pixel by pixel reproducibly, and
//! refuses the settings it cannot take, writing nothing.

use crate::runs::{
    metrics, ok, png_size, refused, resumes_exactly, stderr, vae_gpu, with_flags, ONE_AT_A_TIME,
};
use crate::tempdir;

/// A 3-layer, 8-channel PixelCNN-VAE on 64 8×8 shapes.
fn tiny(steps: &'static str, out: &'static str) -> Vec<&'static str> {
    vec![
        "train",
        "--net",
        "pixelcnn",
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
        "--pixelcnn-layers",
        "3",
        "--pixelcnn-width",
        "8",
        "--log-every",
        "3",
        "--mi-every",
        "3",
        "--mi-images",
        "32",
        "--steps",
        steps,
        "--out",
        out,
    ]
}

#[test]
fn the_pixelcnn_vae_trains_resumes_exactly_and_samples_pixel_by_pixel() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-pixelcnn");
    ok(vae_gpu(t.path(), &tiny("6", "whole")));
    let whole = t.path().join("whole");
    let rows = metrics(&whole);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        // A 256-way categorical: −log p(x | z) starts near 64·ln 256 = 355 nats an image.
        let rec = r["reconstruction"].as_f64().unwrap();
        assert!(rec > 0.0 && rec < 64.0 * 256f64.ln() * 1.5, "{r}");
        assert!(r["kl"].as_f64().unwrap() >= 0.0, "{r}");
        assert!(r.get("mse").is_none(), "no mean image, no MSE: {r}");
        // Î(x; z) of 32 images, logged with its ceiling log 32 (which bounds it exactly: the
        // mixture holds its own term, 1/M of it).
        let (mi, bound) = (r["mi"].as_f64().unwrap(), r["mi_bound"].as_f64().unwrap());
        assert!((bound - 32f64.ln()).abs() < 1e-12, "{r}");
        assert!(mi.is_finite() && mi <= bound + 1e-9, "{r}");
    }
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(whole.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["likelihood"], "categorical");
    assert_eq!(cfg["train"]["pixelcnn"]["layers"], 3);
    // 16 samples and 8 reconstructions at the end (8 tiles a row).
    assert_eq!(png_size(&whole.join("samples.png")), (82, 2 * 8 + 3 * 2));
    assert!(whole.join("reconstructions.png").is_file());

    // Stopped at 3 and resumed to 6: the same weights, Adam state and rows.
    resumes_exactly(t.path(), &tiny("3", "split"));

    // Sampling is pixel by pixel and reproducible; drawn pixels are 8-bit values.
    for _ in 0..2 {
        ok(vae_gpu(
            t.path(),
            &["sample", "whole", "-n", "4", "--ancestral", "-o", "a.png"],
        ));
        let again = std::fs::read(t.path().join("a.png")).unwrap();
        ok(vae_gpu(
            t.path(),
            &["sample", "whole", "-n", "4", "--ancestral", "-o", "b.png"],
        ));
        assert_eq!(again, std::fs::read(t.path().join("b.png")).unwrap());
    }
    // The Markov chain from noise through the PixelCNN decoder: 2 chains × (noise, step 1, 2).
    ok(vae_gpu(
        t.path(),
        &[
            "sample",
            "whole",
            "--markov-chain",
            "2",
            "--every",
            "1",
            "-n",
            "2",
        ],
    ));
    assert_eq!(
        png_size(&whole.join("samples-markov-chain2-deterministic-n2.png")),
        (3 * 8 + 4 * 2, 2 * 8 + 3 * 2)
    );
    let o = vae_gpu(t.path(), &["sample", "whole", "--alpha", "1"]);
    assert!(
        o.status.code() == Some(2) && stderr(&o).contains("--alpha"),
        "{}",
        stderr(&o)
    );

    // The report draws Î(x; z) and the per-pixel NLL along training.
    ok(vae_gpu(t.path(), &["report", "whole", "--no-eval"]));
    let page = std::fs::read_to_string(whole.join("report.html")).unwrap();
    assert!(
        page.contains("Î(x; z) during training")
            && page.contains("per-pixel negative log-likelihood")
    );
    // eval scores the decoder by its exact log p(x | z): with one importance sample the IWAE
    // estimate is the single-sample ELBO, so on the same images it agrees with eval's loss
    // (both estimate E_q[−log p(x | z)] + KL; one z each, so a few % apart at most). There is
    // no decoder mean: no MSE, no γ-free NLL, no Fréchet sets of pixel-by-pixel samples.
    let out = vae_gpu(
        t.path(),
        &[
            "eval",
            "whole",
            "--json",
            "--iwae-images",
            "64",
            "--iwae-samples",
            "1",
            "--mmd-samples",
            "32",
        ],
    );
    ok(out.clone());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let images = doc["images"].as_f64().unwrap();
    assert_eq!(
        doc["log_likelihood"]["images"].as_f64().unwrap(),
        images.min(64.0)
    );
    let (nll, loss) = (
        doc["log_likelihood"]["nats_per_image"].as_f64().unwrap(),
        doc["stage1"]["loss"].as_f64().unwrap(),
    );
    assert!(
        (nll - loss).abs() < 0.05 * loss,
        "IWAE k = 1 {nll} against the loss {loss}"
    );
    let bits = doc["log_likelihood"]["bits_per_dim"].as_f64().unwrap();
    assert!((bits - nll / (64.0 * 2f64.ln())).abs() < 1e-9, "{doc}");
    assert!(doc["stage1"].get("mse").is_none() && doc.get("gamma_free_nll").is_none());
    assert!(doc["frechet"]["skipped"]
        .as_str()
        .unwrap()
        .contains("autoregressive"));
    assert!(doc["information"]["mutual_information"]
        .as_f64()
        .unwrap()
        .is_finite());
    ok(vae_gpu(t.path(), &["report", "whole"]));

    // The Bernoulli decoder on binarised pixels: two classes a pixel.
    let mut bern = tiny("3", "bern");
    bern.extend(["--likelihood", "bernoulli"]);
    ok(vae_gpu(t.path(), &bern));
    let rec = metrics(&t.path().join("bern"))[0]["reconstruction"]
        .as_f64()
        .unwrap();
    assert!(rec > 0.0 && rec < 64.0 * 2f64.ln() * 1.5, "{rec}");
}

#[test]
fn settings_the_pixelcnn_cannot_take_are_refused_naming_the_flag() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-pixelcnn-bad");
    let refuse = |extra: &[&'static str], net: &'static str, flag: &str| {
        let mut args = tiny("3", "bad");
        args[2] = net;
        // Each extra flag replaces the tiny run's own; another net has no PixelCNN to shape.
        let drop: &[&str] = if net == "pixelcnn" {
            &[]
        } else {
            &["--pixelcnn-layers", "--pixelcnn-width"]
        };
        refused(t.path(), &with_flags(args, extra, drop), flag, "bad");
    };
    refuse(&["--likelihood", "gaussian"], "pixelcnn", "--likelihood");
    refuse(&["--gamma", "0.5"], "pixelcnn", "--gamma");
    refuse(&["--likelihood", "categorical"], "mlp", "--likelihood");
    refuse(&["--model", "two-stage"], "pixelcnn", "--model");
    refuse(
        &["--objective", "geco", "--geco-rmse", "0.1"],
        "pixelcnn",
        "--likelihood",
    );
    refuse(&["--pixelcnn-layers", "0"], "pixelcnn", "--pixelcnn-layers");
    refuse(&["--pixelcnn-width", "4"], "mlp", "--pixelcnn-width");
    refuse(&["--image-size", "10"], "pixelcnn", "--image-size");
}
