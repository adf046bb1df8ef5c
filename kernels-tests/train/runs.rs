//! Whole runs of `vae-gpu train`, `sample` and `reconstruct` on small data, as a user runs
//! them. Runs take the whole (software) GPU, so they go one at a time.

use crate::tempdir;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Mutex;

pub(crate) static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub(crate) fn vae_gpu(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vae-gpu"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run vae-gpu")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// `first` (a run's flags to train 3 steps into `split`) stopped there and resumed to 6 steps
/// ends exactly as `dir`/whole, the same run trained 6 steps at once: the same checkpoint
/// bytes (weights, Adam state, step) and metrics rows.
pub(crate) fn resumes_exactly(dir: &Path, first: &[&str]) {
    ok(vae_gpu(dir, first));
    ok(vae_gpu(
        dir,
        &["train", "--resume", "split", "--steps", "6"],
    ));
    let (whole, split) = (dir.join("whole"), dir.join("split"));
    assert_eq!(
        std::fs::read(whole.join("checkpoint.safetensors")).unwrap(),
        std::fs::read(split.join("checkpoint.safetensors")).unwrap()
    );
    assert_eq!(without_rate(metrics(&whole)), without_rate(metrics(&split)));
}

/// `base` with each flag of `extra` and of `drop` taken out with its value, then `extra`
/// appended: a run's own settings with some replaced or removed.
pub(crate) fn with_flags<'a>(
    mut base: Vec<&'a str>,
    extra: &[&'a str],
    drop: &[&str],
) -> Vec<&'a str> {
    for f in extra.iter().filter(|f| f.starts_with("--")).chain(drop) {
        if let Some(i) = base.iter().position(|a| a == f) {
            base.drain(i..i + 2);
        }
    }
    base.extend(extra);
    base
}

/// `train` with `args` in `dir` is refused as bad input: exit code 2, `flag` named on
/// stderr, and no run directory `out` written.
pub(crate) fn refused(dir: &Path, args: &[&str], flag: &str, out: &str) {
    let o = vae_gpu(dir, args);
    assert!(
        o.status.code() == Some(2) && stderr(&o).contains(flag),
        "{args:?}: {}",
        stderr(&o)
    );
    assert!(!dir.join(out).exists(), "{args:?} wrote the run");
}

/// A small, quick configuration: 8×8 shapes, 64 images (4 steps per epoch at batch 16),
/// stage 1 only.
pub(crate) const SMALL: [&str; 12] = [
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
    "--log-every",
    "5",
];

pub(crate) fn metrics(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn png_size(path: &Path) -> (u32, u32) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let r = dec.read_info().unwrap();
    (r.info().width, r.info().height)
}

/// Metrics rows without the timings (the columns that differ between equal runs).
pub(crate) fn without_rate(rows: Vec<Value>) -> Vec<Value> {
    rows.into_iter()
        .map(|mut r| {
            let r_ = r.as_object_mut().unwrap();
            r_.remove("examples_per_second");
            r_.remove("seconds");
            r
        })
        .collect()
}

/// Asserts that two safetensors files hold the same tensors, byte for byte; returns the names.
pub(crate) fn assert_same_tensors(a: &Path, b: &Path) -> Vec<String> {
    let (wa, wb) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let (sa, sb) = (
        safetensors::SafeTensors::deserialize(&wa).unwrap(),
        safetensors::SafeTensors::deserialize(&wb).unwrap(),
    );
    assert_eq!(sa.len(), sb.len(), "{} and {}", a.display(), b.display());
    for (name, view) in sa.tensors() {
        assert_eq!(view.data(), sb.tensor(&name).unwrap().data(), "{name}");
    }
    sa.names().into_iter().map(String::from).collect()
}

pub(crate) fn safetensors_step(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().as_ref().unwrap()["step"].parse().unwrap()
}

#[test]
fn a_run_leaves_a_complete_directory() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-complete");
    let mut args = vec!["train", "--steps", "20", "--out", "run", "--seed", "3"];
    args.extend(SMALL);
    ok(vae_gpu(t.path(), &args));
    let dir = t.path().join("run");
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["seed"], 3);
    assert_eq!(cfg["train"]["net"], "mlp");
    assert_eq!(cfg["train"]["batch_size"], 16);
    assert_eq!(cfg["train"]["likelihood"], "gaussian-learned-gamma");
    assert_eq!(cfg["dataset"]["manifold_dim"], 4);
    assert_eq!(cfg["vae_gpu_version"], env!("CARGO_PKG_VERSION"));
    assert!(cfg["adapter"]["name"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    let rows = metrics(&dir);
    assert_eq!(
        rows.iter()
            .map(|r| r["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [5, 10, 15, 20]
    );
    for r in &rows {
        for k in [
            "loss",
            "reconstruction",
            "kl",
            "mse",
            "gamma",
            "lr",
            "examples_per_second",
            "seconds",
            "epoch",
        ] {
            assert!(r[k].as_f64().is_some_and(f64::is_finite), "{k} in {r}");
        }
        let (loss, rec, kl) = (
            r["loss"].as_f64().unwrap(),
            r["reconstruction"].as_f64().unwrap(),
            r["kl"].as_f64().unwrap(),
        );
        assert!((loss - rec - kl).abs() <= 1e-4 * loss.abs().max(1.0), "{r}");
    }
    assert_eq!(
        rows[3]["epoch"], 5,
        "20 steps of 4 per epoch end in epoch 5"
    );
    // The checkpoint opens with the safetensors library, under the registry's names.
    let bytes = std::fs::read(dir.join("checkpoint.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w = st.tensor("encoder.fc1.weight").unwrap();
    assert_eq!(w.shape(), &[512, 64]);
    assert!(st.tensor("optimizer.m.decoder.fc3.bias").is_ok());
    assert!(st.tensor("loggamma").is_ok());
    assert_eq!(safetensors_step(&dir.join("checkpoint.safetensors")), 20);
    // Grids: 64 samples in 8 columns; 64 training images' first 32 with reconstructions.
    assert_eq!(
        png_size(&dir.join("samples.png")),
        (8 * 8 + 9 * 2, 8 * 8 + 9 * 2)
    );
    assert_eq!(
        png_size(&dir.join("reconstructions.png")),
        (8 * 8 + 9 * 2, 8 * 8 + 9 * 2)
    );

    // sample and reconstruct from the run directory.
    // Default names follow one scheme: what was drawn, and each setting away from its default.
    ok(vae_gpu(t.path(), &["sample", "run", "-n", "16"]));
    assert_eq!(
        png_size(&dir.join("samples-deterministic-n16.png")),
        (82, 2 * 8 + 3 * 2)
    );
    ok(vae_gpu(
        t.path(),
        &["sample", "run", "--ancestral", "--out", "anc.png"],
    ));
    assert_eq!(png_size(&t.path().join("anc.png")), (82, 82));
    // Zhao et al.'s Markov chain: 8 chains (rows) at step 0 and after steps 1..4 (columns).
    let o = ok(vae_gpu(t.path(), &["sample", "run", "--markov-chain", "4"]));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "run/samples-markov-chain4-deterministic.png\n"
    );
    assert_eq!(
        png_size(&dir.join("samples-markov-chain4-deterministic.png")),
        (5 * 8 + 6 * 2, 8 * 8 + 9 * 2)
    );
    for (args, flag) in [
        (
            &["sample", "run", "--markov-chain", "0"][..],
            "--markov-chain",
        ),
        (&["sample", "run", "--every", "2"][..], "--markov-chain"),
        (
            &["sample", "run", "--markov-chain", "2", "--stage", "2"][..],
            "--stage",
        ),
    ] {
        let o = vae_gpu(t.path(), args);
        assert!(
            !o.status.success() && stderr(&o).contains(flag),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    ok(vae_gpu(t.path(), &["reconstruct", "run", "--n", "8"]));
    assert_eq!(
        png_size(&dir.join("reconstructions-test-n8.png")),
        (82, 2 * 8 + 3 * 2)
    );
    let bad = vae_gpu(t.path(), &["sample", "nowhere"]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("nowhere"),
        "{}",
        stderr(&bad)
    );
}

/// An interrupted-and-resumed run follows the uninterrupted one exactly: same logged
/// metrics bit for bit, same final parameters and optimizer state. The InfoGAN network
/// (batch norm running averages), 5 epochs (reshuffles) and a halving learning rate.
#[test]
fn resume_continues_exactly() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-resume");
    let common = |steps: &'static str, out: &'static str| {
        let mut a = vec![
            "train",
            "--net",
            "infogan",
            "--lr-halve-every",
            "2",
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
    ok(vae_gpu(t.path(), &common("20", "whole")));
    ok(vae_gpu(t.path(), &common("10", "split")));
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
    assert!(a[0]["lr"] != a[3]["lr"], "the schedule halved the rate");
    let ck = |d: &str| t.path().join(d).join("checkpoint.safetensors");
    let names = assert_same_tensors(&ck("whole"), &ck("split"));
    assert!(names.iter().any(|n| n == "encoder.bn2.running_var"));
    // Asking for no more steps than done is an error naming the flag.
    let again = vae_gpu(t.path(), &["train", "--resume", "split", "--steps", "20"]);
    assert!(
        !again.status.success() && stderr(&again).contains("--steps"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn ctrl_c_checkpoints_and_the_run_resumes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-ctrlc");
    let mut args = vec!["train", "--steps", "100000", "--out", "run"];
    args.extend(SMALL);
    let child = Command::new(env!("CARGO_BIN_EXE_vae-gpu"))
        .current_dir(t.path())
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dir = t.path().join("run");
    let start = std::time::Instant::now();
    while !dir.join("metrics.jsonl").exists() {
        assert!(
            start.elapsed().as_secs() < 300,
            "no metrics within 5 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("--resume"), "{}", stderr(&out));
    let rows = metrics(&dir);
    let step = rows.last().unwrap()["step"].as_u64().unwrap();
    assert_eq!(safetensors_step(&dir.join("checkpoint.safetensors")), step);
    let target = (step + 3).to_string();
    let out = ok(vae_gpu(
        t.path(),
        &["train", "--resume", "run", "--steps", &target],
    ));
    assert!(
        stderr(&out).contains(&format!("stage 1: resuming from step {step} of {target}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        safetensors_step(&dir.join("checkpoint.safetensors")),
        step + 3
    );
    assert!(dir.join("samples.png").exists());
    // The training time carries over the resume: it never goes back.
    let seconds: Vec<f64> = metrics(&dir)
        .iter()
        .map(|r| r["seconds"].as_f64().unwrap())
        .collect();
    assert!(seconds.windows(2).all(|w| w[0] <= w[1]), "{seconds:?}");
}

#[test]
fn a_diverging_run_stops_naming_the_step_and_keeps_the_last_good_checkpoint() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-nan");
    let mut args = vec![
        "train",
        "--steps",
        "50",
        "--out",
        "run",
        "--lr",
        "1e30",
        "--log-every",
        "1",
        "--checkpoint-every",
        "1",
    ];
    args.extend(&SMALL[..10]);
    let out = vae_gpu(t.path(), &args);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("NaN or infinite at step"), "{e}");
    let bad: u64 = e
        .split("at step ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let dir = t.path().join("run");
    // Step 1 moves every weight by ~1e30 (still finite); step 2 overflows.
    assert!(bad >= 2, "{e}");
    assert!(e.contains("last good checkpoint"), "{e}");
    assert_eq!(
        safetensors_step(&dir.join("checkpoint.safetensors")),
        bad - 1
    );
    // What was kept loads and decodes.
    ok(vae_gpu(t.path(), &["sample", "run", "--n", "4"]));
    assert!(metrics(&dir)
        .iter()
        .all(|r| r["step"].as_u64().unwrap() < bad));
    // `runs` says it diverged, and why.
    let out = ok(vae_gpu(t.path(), &["runs", "."]));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("diverged     {}/50", bad - 1))
            && table.contains(&format!("at step {bad}")),
        "{table}"
    );
    assert!(
        !dir.join(".training").exists(),
        "the training mark is removed"
    );
}

/// `export` writes the weights without Adam's moments (every other tensor of the checkpoint,
/// value for value) and the metrics as CSV, one row per metrics.jsonl line.
#[test]
fn export_writes_the_weights_alone_and_the_metrics_as_csv() {
    use vae_gpu::train::checkpoint::read_safetensors;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-export");
    let mut args = vec!["train", "--steps", "10", "--out", "run"];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    let out = ok(vae_gpu(t.path(), &["export", "run"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "run/weights.safetensors\nrun/metrics.csv\n"
    );
    let dir = t.path().join("run");
    let ckpt = read_safetensors(&dir.join("checkpoint.safetensors")).unwrap();
    let weights = read_safetensors(&dir.join("weights.safetensors")).unwrap();
    let kept: Vec<&String> = ckpt
        .tensors
        .keys()
        .filter(|n| !n.starts_with("optimizer."))
        .collect();
    assert!(
        kept.len() < ckpt.tensors.len(),
        "the checkpoint has Adam's moments"
    );
    assert_eq!(weights.tensors.keys().collect::<Vec<_>>(), kept);
    for n in kept {
        assert_eq!(weights.tensors[n], ckpt.tensors[n], "{n}");
    }
    assert_eq!(weights.metadata["format"], "vae-gpu-weights/1");
    assert_eq!(weights.metadata["step"], "10");
    let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + metrics(&dir).len());
    assert!(
        lines[0].starts_with("stage,step,epoch,") && lines[0].contains(",mse,"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("1,5,"), "{}", lines[1]);
    // Only the CSV, to a file of the caller's choosing; a wrong extension is refused.
    let out = ok(vae_gpu(t.path(), &["export", "run", "--csv", "out/m.csv"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out/m.csv\n");
    let out = vae_gpu(t.path(), &["export", "run", "--weights", "w.pt"]);
    assert!(
        !out.status.success()
            && stderr(&out).contains("--weights: w.pt does not end in .safetensors")
    );
    // `--weights-only` names the same flag: the weights alone.
    let out = ok(vae_gpu(
        t.path(),
        &["export", "run", "--weights-only", "w.safetensors"],
    ));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "w.safetensors\n");
}

/// `train --config`: a TOML file of settings named as the flags are, or an earlier run's
/// config.json (a new run with the same settings); flags given beside it win; a key that is
/// no setting is refused with the closest name.
#[test]
fn a_run_takes_its_settings_from_a_file_under_the_flags() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-config");
    let toml = "model = \"vae\"\nimage_size = 8\nlimit = 64\nbatch_size = 16\nlatent_dim = 4\nlog_every = 5\nsteps = 10\nregularizer = \"mmd\"\nreg_weight = 100.0\n";
    std::fs::write(t.path().join("run.toml"), toml).unwrap();
    ok(vae_gpu(
        t.path(),
        &[
            "train", "--config", "run.toml", "--steps", "5", "--out", "a",
        ],
    ));
    let read = |d: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(t.path().join(d).join("config.json")).unwrap(),
        )
        .unwrap()
    };
    let a = read("a");
    assert_eq!(a["train"]["steps"], 5, "the flag beats the file");
    assert_eq!(a["train"]["regularizer"], "mmd");
    assert_eq!(a["train"]["beta"], 100.0);
    assert_eq!(a["train"]["batch_size"], 16);
    // A new run from a's config.json has a's settings, but for what the flags change.
    ok(vae_gpu(
        t.path(),
        &[
            "train",
            "--config",
            "a/config.json",
            "--seed",
            "9",
            "--out",
            "b",
        ],
    ));
    let mut b = read("b")["train"].clone();
    assert_eq!(b["seed"], 9);
    b["seed"] = a["train"]["seed"].clone();
    assert_eq!(b, a["train"]);
    std::fs::write(t.path().join("typo.toml"), "stepz = 5\n").unwrap();
    let out = vae_gpu(
        t.path(),
        &["train", "--config", "typo.toml", "--out", "never"],
    );
    let e = stderr(&out);
    assert!(
        !out.status.success()
            && e.contains("--config: typo.toml: 'stepz' is not a setting (did you mean steps?)"),
        "{e}"
    );
    assert!(!t.path().join("never").exists());
}

/// A run that stopped before its first checkpoint (config.json alone) is not sent to a
/// `--resume` that cannot work: each refusal names the command that does, and it does.
#[test]
fn a_run_without_a_checkpoint_is_started_again_not_resumed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-no-checkpoint");
    let mut args = vec!["train", "--steps", "5", "--out", "done"];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    std::fs::create_dir(t.path().join("early")).unwrap();
    std::fs::copy(
        t.path().join("done/config.json"),
        t.path().join("early/config.json"),
    )
    .unwrap();
    let mut again = vec!["train", "--steps", "5", "--out", "early"];
    again.extend(&SMALL[..]);
    let e = stderr(&vae_gpu(t.path(), &again));
    assert!(
        e.contains("it has no checkpoint to resume from; pass --force") && !e.contains("--resume"),
        "{e}"
    );
    let e = stderr(&vae_gpu(t.path(), &["train", "--resume", "early"]));
    let hint = "--config early/config.json --out early --force";
    assert!(
        e.contains("stopped before its first checkpoint") && e.contains(hint),
        "{e}"
    );
    let words: Vec<&str> = std::iter::once("train").chain(hint.split(' ')).collect();
    ok(vae_gpu(t.path(), &words));
    assert!(t.path().join("early/checkpoint.safetensors").is_file());
}

/// `encode` writes every test image's posterior (μ_z, σ_z) as safetensors; `interpolate`
/// draws one image, the decoded line of codes and the other image as one PNG row.
#[test]
fn encode_and_interpolate_read_the_latent_space() {
    use vae_gpu::train::checkpoint::read_safetensors;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-latents");
    let mut args = vec!["train", "--steps", "5", "--out", "run"];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    let out = ok(vae_gpu(t.path(), &["encode", "run"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "run/latents-test.safetensors\n"
    );
    let st = read_safetensors(&t.path().join("run/latents-test.safetensors")).unwrap();
    // --limit 64 images, --latent-dim 4.
    assert_eq!(st.tensors["mu"].0, [64, 4]);
    let sigma = &st.tensors["sigma"];
    assert_eq!(sigma.0, [64, 4]);
    assert!(sigma.1.iter().all(|s| *s > 0.0 && s.is_finite()));
    assert_eq!(st.metadata["step"], "5");
    let out = ok(vae_gpu(
        t.path(),
        &[
            "interpolate",
            "run",
            "--from",
            "2",
            "--to",
            "9",
            "--steps",
            "5",
        ],
    ));
    let png = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(png, "run/interpolation-test-2-9-steps5.png");
    let (w, h) = png_size(&t.path().join(&png));
    assert_eq!(w, 7 * (h - 2) + 2, "one row of 7 tiles: {w}×{h}");
    let out = vae_gpu(t.path(), &["interpolate", "run", "--from", "99"]);
    assert!(
        !out.status.success() && stderr(&out).contains("--from: image 99 is past the 64 images"),
        "{}",
        stderr(&out)
    );
}

/// `--keep-checkpoints 3` keeps the latest checkpoint at its name and the two before it in
/// checkpoints/, each a loadable checkpoint of its step.
#[test]
fn the_last_k_checkpoints_are_kept() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-keep");
    let mut args = vec![
        "train",
        "--steps",
        "25",
        "--out",
        "run",
        "--checkpoint-every",
        "5",
        "--keep-checkpoints",
        "3",
    ];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    let dir = t.path().join("run");
    assert_eq!(safetensors_step(&dir.join("checkpoint.safetensors")), 25);
    let mut kept: Vec<String> = std::fs::read_dir(dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "checkpoint-step-15.safetensors",
            "checkpoint-step-20.safetensors"
        ]
    );
    assert_eq!(
        safetensors_step(&dir.join("checkpoints/checkpoint-step-15.safetensors")),
        15
    );
    let bad = vae_gpu(
        t.path(),
        &["train", "--out", "never", "--keep-checkpoints", "0"],
    );
    assert!(
        stderr(&bad).contains("--keep-checkpoints: must be at least 1"),
        "{}",
        stderr(&bad)
    );
}

/// `runs` lists every run under a folder with its status, steps and last metrics: a
/// finished run, one with steps left (stopped: no training process marks it), a recorded
/// copy without checkpoints, and nothing for folders that are not runs.
#[test]
fn runs_lists_each_run_with_its_status() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-list");
    let mut args = vec!["train", "--steps", "5", "--out", "all/done"];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    // A run asked for 10 steps and stopped at 5: its config says 10, its checkpoint 5.
    let mut args = vec!["train", "--steps", "5", "--out", "all/short"];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    let cfg_path = t.path().join("all/short/config.json");
    let mut cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["total_steps"] = 10.into();
    cfg["train"]["steps"] = 10.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let recorded = t.path().join("all/deeper/recorded");
    std::fs::create_dir_all(&recorded).unwrap();
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runs/shapes-two-stage");
    for f in ["config.json", "metrics.jsonl"] {
        std::fs::copy(docs.join(f), recorded.join(f)).unwrap();
    }
    std::fs::create_dir_all(t.path().join("all/not-a-run")).unwrap();
    let out = ok(vae_gpu(t.path(), &["runs", "all"]));
    let table = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("recorded     600/600 + 400/400")
            && lines[0].ends_with("all/deeper/recorded"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("finished     5/5") && lines[1].ends_with("all/done"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("stopped      5/10") && lines[2].ends_with("all/short"),
        "{table}"
    );
    let out = ok(vae_gpu(t.path(), &["runs", "all", "--json"]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[1]["state"], "finished");
    assert_eq!(v[1]["stage1"], serde_json::json!([5, 5]));
    assert_eq!(v[1]["last"]["step"], 5);
    let out = vae_gpu(t.path(), &["runs", "nowhere"]);
    assert!(!out.status.success() && stderr(&out).contains("nowhere: no such folder"));
}

#[test]
fn an_existing_run_is_not_overwritten_unless_forced() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-exists");
    let mut args = vec!["train", "--steps", "5", "--out", "run"];
    args.extend(SMALL);
    ok(vae_gpu(t.path(), &args));
    let before = std::fs::read(t.path().join("run/checkpoint.safetensors")).unwrap();
    std::fs::write(t.path().join("run/mine.txt"), "user file").unwrap();
    let again = vae_gpu(t.path(), &args);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("--out") && stderr(&again).contains("--force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read(t.path().join("run/checkpoint.safetensors")).unwrap(),
        before
    );
    args.extend(["--force", "--seed", "9"]);
    ok(vae_gpu(t.path(), &args));
    assert_ne!(
        std::fs::read(t.path().join("run/checkpoint.safetensors")).unwrap(),
        before
    );
    assert!(
        t.path().join("run/mine.txt").exists(),
        "--force removes only vae-gpu's files"
    );
    // Resuming may not change the run's settings.
    let r = vae_gpu(t.path(), &["train", "--resume", "run", "--lr", "0.1"]);
    assert!(
        !r.status.success() && stderr(&r).contains("--lr") && stderr(&r).contains("config.json"),
        "{}",
        stderr(&r)
    );
    // A damaged checkpoint is named, and left as it was.
    let ck = t.path().join("run/checkpoint.safetensors");
    let good = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &good[..good.len() / 2]).unwrap();
    let r = vae_gpu(t.path(), &["train", "--resume", "run", "--steps", "10"]);
    assert!(
        !r.status.success() && stderr(&r).contains("checkpoint.safetensors"),
        "{}",
        stderr(&r)
    );
    assert_eq!(std::fs::read(&ck).unwrap().len(), good.len() / 2);
}

#[test]
fn bad_flags_fail_naming_the_flag_and_create_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-flags");
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    // A stand-in named dataset found through ./data/NAME: 10 IDX images of 5×5, so the
    // --image-size check below is reached whether or not the real Fashion-MNIST is installed.
    let fm = t.path().join("data/fashion-mnist");
    std::fs::create_dir_all(&fm).unwrap();
    let img = vae_gpu::data::idx::encode(&[10, 5, 5], &[7u8; 250]);
    std::fs::write(fm.join("train-images-idx3-ubyte"), img).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--lr", "0"], "--lr"),
        (&["--lr", "NaN"], "--lr"),
        (&["--lr", "-1e-3"], "--lr"),
        (&["--batch-size", "-3"], "--batch-size"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--batch-size", "100000"], "--batch-size"),
        (&["--latent-dim", "0"], "--latent-dim"),
        (&["--net", "infogan", "--image-size", "30"], "--image-size"),
        (&["--net", "wae", "--image-size", "20"], "--image-size"),
        (&["--net", "resnet"], "--net"),
        (&["--epochs", "2", "--steps", "3"], "--steps"),
        (
            &["--log-every", "7", "--checkpoint-every", "10"],
            "--checkpoint-every",
        ),
        (&["--gamma", "-1"], "--gamma"),
        (&["--likelihood", "bernoulli", "--gamma", "0.5"], "--gamma"),
        (&["--beta", "inf"], "--reg-weight/--beta"),
        (&["--regularizer", "l1"], "--regularizer"),
        (
            &["--regularizer", "none", "--reg-weight", "2"],
            "--reg-weight",
        ),
        (
            &["--regularizer", "mmd", "--batch-size", "1"],
            "--batch-size",
        ),
        (
            &["--regularizer", "mmd", "--mmd-kernel", "cauchy"],
            "--mmd-kernel",
        ),
        (&["--mmd-kernel", "rbf"], "--mmd-kernel"),
        (&["--objective", "lagrange"], "--objective"),
        (&["--objective", "geco"], "--geco-rmse"),
        (&["--geco-lr", "0.1"], "--geco-lr"),
        (&["--geco-rmse", "0.1"], "--geco-rmse"),
        (&["--objective", "geco", "--geco-rmse", "0"], "--geco-rmse"),
        (
            &["--objective", "geco", "--geco-rmse", "-0.1"],
            "--geco-rmse",
        ),
        (
            &["--objective", "geco", "--geco-rmse", "NaN"],
            "--geco-rmse",
        ),
        (
            &["--objective", "geco", "--geco-rmse", "1.5"],
            "out of reach in pixel units",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--likelihood",
                "bernoulli",
            ],
            "a Bernoulli decoder has no such term",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--gamma",
                "0.5",
            ],
            "--gamma",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--regularizer",
                "none",
            ],
            "--regularizer",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--geco-alpha",
                "1",
            ],
            "--geco-alpha",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--geco-every",
                "0",
            ],
            "--geco-every",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--geco-clamp",
                "1.2,1.5",
            ],
            "--geco-clamp",
        ),
        (
            &[
                "--objective",
                "geco",
                "--geco-rmse",
                "0.1",
                "--geco-clamp",
                "2",
            ],
            "--geco-clamp",
        ),
        (&["--split", "valid"], "--split"),
        (&["--data", "missing-dir"], "missing-dir"),
        (&["--data", "empty"], "no PNG or JPEG"),
        (
            &["--data", "fashion-mnist", "--image-size", "32"],
            "fashion-mnist/train-images-idx3-ubyte has 5×5 images; --image-size 32 applies only",
        ),
        (&["--model", "three-stage"], "--model"),
        (&["--model", "vae", "--stage2-steps", "5"], "--stage2-steps"),
        (&["--stage2-hidden", "0"], "--stage2-hidden"),
        (&["--stage2-lr", "0"], "--stage2-lr"),
        (&["--checkpoint-minutes", "0"], "--checkpoint-minutes"),
        (
            &["--sample-every", "7", "--log-every", "5"],
            "--sample-every: 7 is not a multiple of --log-every 5",
        ),
        (
            &["--crop", "0,0,4"],
            "--crop: applies only to folders of images; shapes is generated",
        ),
        (
            &["--data", "fashion-mnist", "--crop", "0,0,4"],
            "--crop: applies only to folders of images; fashion-mnist is IDX files",
        ),
        // 1.07 billion parameters: more than any adapter binds (4 GiB).
        (&["--net", "infogan", "--image-size", "256"], "parameters"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["train", "--out", "never"];
        args.extend(*extra);
        let out = vae_gpu(t.path(), &args);
        let e = stderr(&out);
        assert!(!out.status.success(), "{extra:?} succeeded");
        assert!(e.contains(want), "{extra:?}: {e}");
        assert!(
            !t.path().join("never").exists(),
            "{extra:?} created the run directory"
        );
    }
}

/// RGB data end to end: a folder of colour PNGs, two steps of the InfoGAN network on 3
/// channels, finite metrics, colour grids.
#[test]
fn training_on_an_rgb_folder_makes_colour_grids() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-rgb");
    let imgs = t.path().join("imgs");
    std::fs::create_dir_all(&imgs).unwrap();
    for i in 0..8u8 {
        let f = std::fs::File::create(imgs.join(format!("{i}.png"))).unwrap();
        let mut e = png::Encoder::new(f, 12, 10);
        e.set_color(png::ColorType::Rgb);
        e.set_depth(png::BitDepth::Eight);
        let px: Vec<u8> = (0..120 * 3)
            .map(|p| (p as u8).wrapping_mul(i + 1))
            .collect();
        e.write_header().unwrap().write_image_data(&px).unwrap();
    }
    ok(vae_gpu(
        t.path(),
        &[
            "train",
            "--model",
            "vae",
            "--data",
            "imgs",
            "--image-size",
            "8",
            "--batch-size",
            "4",
            "--latent-dim",
            "3",
            "--steps",
            "2",
            "--log-every",
            "1",
            "--out",
            "run",
        ],
    ));
    let rows = metrics(&t.path().join("run"));
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| r["loss"].as_f64().is_some_and(f64::is_finite)));
    let dec = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(t.path().join("run/samples.png")).unwrap(),
    ));
    assert_eq!(
        dec.read_info().unwrap().info().color_type,
        png::ColorType::Rgb
    );
}

/// The WAE architecture at 1/8 width (the reference's 34 M parameters exceed the 128 MiB
/// binding of the software adapters): its shapes compose, it maps 16×16×3 to 16×16×3, and
/// Adam steps lower the loss on a fixed batch.
#[test]
fn the_wae_network_trains() {
    use vae_gpu::kernels::random::RandomKey;
    use vae_gpu::models::{wae::Wae, Objective, Vae};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let gpu = vae_gpu::Gpu::new(&vae_gpu::Selection::from_env()).unwrap();
    let mut b = vae_gpu::nn::ParamsBuilder::new(2);
    let net = Wae::with_base(&mut b, 3, 16, 4, 16).unwrap();
    let vae = Vae::new(&mut b, Box::new(net), Objective::default());
    let store = b.build(&gpu).unwrap();
    let mut adam = vae_gpu::nn::Adam::new(&store, Default::default()).unwrap();
    let x: Vec<f32> = (0..8 * 3 * 256)
        .map(|i| ((i * 37) % 101) as f32 / 100.0)
        .collect();
    let x = vae_gpu::Tensor::from_slice(&gpu, &x, &[8, 3, 16, 16]).unwrap();
    let mut losses = Vec::new();
    for step in 0..6 {
        let key = RandomKey {
            seed: 1,
            step,
            stream: 0,
        };
        let out = vae.train_step(&store, &mut adam, &x, key, 1e-3).unwrap();
        gpu.flush().unwrap();
        assert_eq!(out.mu_x.as_ref().unwrap().shape(), &[8, 3, 16, 16]);
        losses.push(out.total().to_vec().unwrap()[0]);
    }
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[5] < losses[0], "{losses:?}");
}

/// Stage-1 settings of the two-stage tests: SMALL without its `--model vae`.
fn two_stage(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec!["train"];
    a.extend(&SMALL[2..]);
    a.extend(extra);
    a
}

/// What a script needs is on stdout (train: the run directory; sample and reconstruct: the
/// PNG), progress on stderr; enumerated values ignore case; the last metrics print at four
/// significant digits, not as a JSON row.
#[test]
fn scripts_read_paths_on_stdout_and_values_ignore_case() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-stdout");
    let mut args = vec!["train", "--steps", "5", "--out", "run"];
    args.extend(["--net", "MLP", "--model", "VAE"]);
    args.extend(&SMALL[2..]);
    let out = ok(vae_gpu(t.path(), &args));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "run\n");
    let e = stderr(&out);
    let last = e.lines().find(|l| l.starts_with("last metrics")).unwrap();
    assert!(
        last.starts_with("last metrics (stage 1, step 5): gamma ") && !last.contains('{'),
        "{last}"
    );
    let out = ok(vae_gpu(t.path(), &["sample", "run", "--n", "8"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "run/samples-deterministic-n8.png\n"
    );
    // By default `sample` draws with the run's seed: 64 of them are the run's own grid.
    ok(vae_gpu(t.path(), &["sample", "run", "--out", "again.png"]));
    assert_eq!(
        std::fs::read(t.path().join("again.png")).unwrap(),
        std::fs::read(t.path().join("run/samples.png")).unwrap()
    );
    let out = ok(vae_gpu(
        t.path(),
        &[
            "reconstruct",
            "run",
            "--n",
            "8",
            "--split",
            "TRAIN",
            "--out",
            "grids/r.png",
        ],
    ));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "grids/r.png\n");
    assert!(t.path().join("grids/r.png").is_file());
}

/// Sample grids are drawn with every checkpoint by default and each is kept by its step
/// (samples.png is the latest); `--force` clears them with the run.
#[test]
fn sample_grids_are_kept_per_step() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-grids");
    let mut args = vec![
        "train",
        "--steps",
        "10",
        "--out",
        "run",
        "--checkpoint-every",
        "5",
    ];
    args.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &args));
    let dir = t.path().join("run");
    let mut kept: Vec<String> = std::fs::read_dir(dir.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, ["step-10.png", "step-5.png"]);
    assert_eq!(
        std::fs::read(dir.join("samples.png")).unwrap(),
        std::fs::read(dir.join("samples/step-10.png")).unwrap()
    );
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["sample_every"], 5);
    let mut again = vec![
        "train",
        "--steps",
        "5",
        "--out",
        "run",
        "--force",
        "--sample-every",
        "0",
    ];
    again.extend(&SMALL[..]);
    ok(vae_gpu(t.path(), &again));
    let kept: Vec<_> = std::fs::read_dir(dir.join("samples")).unwrap().collect();
    assert_eq!(
        kept.len(),
        1,
        "the replaced run's grids are gone; the final one is drawn"
    );
}

/// `--steps` alone gives stage 2 a length by the defaults' ratio (shapes: 400 : 600), said
/// in the banner, where it once kept its default 400 steps whatever stage 1's length.
#[test]
fn stage_two_follows_a_stage_one_length() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-proportion");
    let mut args = two_stage(&["--steps", "3", "--out", "run"]);
    args.extend(["--stage2-hidden", "16"]);
    let out = ok(vae_gpu(t.path(), &args));
    let e = stderr(&out);
    assert!(
        e.contains("3 + 2 steps (stages 1 + 2)")
            && e.contains("stage 2's length follows stage 1's"),
        "{e}"
    );
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("run/config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["train"]["stage2"]["steps"], 2);
}

/// The Two-Stage pipeline through the binary: one run of both stages equals a single-stage
/// run with stage 2 added afterwards and interrupted half way; stage 1's checkpoint is
/// bit-identical before and after stage 2; both grids, both samplers and `eval` work.
#[test]
fn a_two_stage_run_equals_stage_two_added_later_and_resumed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-two-stage");
    let s2 = ["--stage2-hidden", "16"];
    let mut whole = two_stage(&["--steps", "8", "--stage2-steps", "10", "--out", "whole"]);
    whole.extend(s2);
    ok(vae_gpu(t.path(), &whole));
    let dir = t.path().join("whole");
    for f in [
        "samples.png",
        "reconstructions.png",
        "samples-two-stage.png",
        "stage2.safetensors",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let rows = metrics(&dir);
    let stages: Vec<(u64, u64)> = rows
        .iter()
        .map(|r| (r["stage"].as_u64().unwrap(), r["step"].as_u64().unwrap()))
        .collect();
    assert_eq!(stages, [(1, 5), (1, 8), (2, 5), (2, 10)]);
    let gz = rows[3]["gamma"].as_f64().unwrap();
    assert!((gz - 1.0).abs() > 1e-4, "γ_z is learned: {gz}");

    // Stage 1 alone, then stage 2 added with --stage 2, stopped at 5 steps, resumed to 10.
    ok(vae_gpu(
        t.path(),
        &two_stage(&["--model", "vae", "--steps", "8", "--out", "split"]),
    ));
    let ck = |d: &str| std::fs::read(t.path().join(d).join("checkpoint.safetensors")).unwrap();
    let stage1 = ck("split");
    let mut add = vec![
        "train",
        "--resume",
        "split",
        "--stage",
        "2",
        "--stage2-steps",
        "5",
    ];
    add.extend(s2);
    ok(vae_gpu(t.path(), &add));
    assert_eq!(
        ck("split"),
        stage1,
        "stage 2 leaves stage 1's checkpoint untouched"
    );
    ok(vae_gpu(
        t.path(),
        &["train", "--resume", "split", "--stage2-steps", "10"],
    ));
    assert_eq!(ck("split"), stage1);
    assert_eq!(ck("whole"), stage1, "stage 1 of both runs is the same");
    let s2ck = |d: &str| t.path().join(d).join("stage2.safetensors");
    let names = assert_same_tensors(&s2ck("whole"), &s2ck("split"));
    assert!(names.iter().any(|n| n == "stage2.encoder.fc1.weight"));
    assert_eq!(
        without_rate(metrics(&dir)),
        without_rate(metrics(&t.path().join("split")))
    );
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(t.path().join("split/config.json")).unwrap())
            .unwrap();
    assert_eq!(cfg["train"]["model"], "two-stage");
    assert_eq!(cfg["train"]["stage2"]["steps"], 10);

    // Sampling: two-stage by default on a two-stage run, stage 1 on request.
    ok(vae_gpu(t.path(), &["sample", "whole", "--n", "8"]));
    assert!(dir.join("samples-two-stage-deterministic-n8.png").is_file());
    ok(vae_gpu(
        t.path(),
        &["sample", "whole", "--n", "8", "--stage", "1", "--seed", "3"],
    ));
    assert!(dir.join("samples-deterministic-seed3-n8.png").is_file());

    // eval: every diagnostic present and finite; eval.json written.
    let out = ok(vae_gpu(
        t.path(),
        &[
            "eval",
            "whole",
            "--json",
            "--iwae-images",
            "8",
            "--iwae-samples",
            "4",
            "--mmd-samples",
            "32",
        ],
    ));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["split"], "test");
    for k in [
        "/stage1/mse",
        "/stage1/gamma",
        "/stage2/gamma_z",
        "/mmd/stage1",
        "/mmd/stage2",
        "/log_likelihood/nats_per_image",
    ] {
        assert!(
            doc.pointer(k)
                .and_then(Value::as_f64)
                .is_some_and(f64::is_finite),
            "{k} in {doc}"
        );
    }
    assert_eq!(doc["spectra"]["stage2"].as_array().unwrap().len(), 4);
    assert_eq!(doc["encoder_variances"]["true_manifold_dim"], 4);
    assert!(dir.join("eval.json").is_file());

    // Bad input: each names what is at fault, exits non-zero, and changes nothing.
    let before = std::fs::read(s2ck("whole")).unwrap();
    let config_before = std::fs::read(dir.join("config.json")).unwrap();
    let refuse = |args: &[&str], want: &str| {
        let o = vae_gpu(t.path(), args);
        assert!(
            !o.status.success() && stderr(&o).contains(want),
            "{args:?}: {}",
            stderr(&o)
        );
    };
    refuse(
        &["train", "--resume", "whole", "--stage", "2"],
        "two-stage run already",
    );
    refuse(
        &["train", "--resume", "whole", "--stage2-lr", "0.1"],
        "--stage2-lr",
    );
    refuse(
        &["train", "--resume", "whole", "--stage2-steps", "10"],
        "already has all of its steps",
    );
    refuse(
        &["train", "--resume", "whole", "--steps", "6"],
        "cannot be cut to 6",
    );
    assert_eq!(std::fs::read(s2ck("whole")).unwrap(), before);
    assert_eq!(
        std::fs::read(dir.join("config.json")).unwrap(),
        config_before
    );
    // More stage-1 steps: stage 1 trains on from 8 to 12, and a new stage 2 on its latents;
    // the old stage 2, its rows and the eval of the run as it was are set aside whole.
    ok(vae_gpu(
        t.path(),
        &["train", "--resume", "whole", "--steps", "12"],
    ));
    let aside = dir.join("set-aside/stage1-step-8");
    assert_eq!(
        std::fs::read(aside.join("stage2.safetensors")).unwrap(),
        before
    );
    for f in ["samples-two-stage.png", "eval.json", "config.json"] {
        assert!(aside.join(f).is_file(), "{f} set aside");
    }
    assert!(!dir.join("eval.json").exists());
    let steps = |d: &Path| -> Vec<(u64, u64)> {
        metrics(d)
            .iter()
            .map(|r| (r["stage"].as_u64().unwrap(), r["step"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(steps(&aside), [(2, 5), (2, 10)]);
    assert_eq!(
        steps(&dir),
        [(1, 5), (1, 8), (1, 10), (1, 12), (2, 5), (2, 10)]
    );
    assert_ne!(
        std::fs::read(dir.join("stage2.safetensors")).unwrap(),
        before
    );
    assert_eq!(
        vae_gpu::pipelines::checkpoint_steps(&dir.join("checkpoint.safetensors")).unwrap(),
        Some(12)
    );
    // A single-stage run stopped after 5 of its 10 steps (as an interrupted run is): its
    // stage 1 is unfinished, so stage 2 is refused, and it has no stage 2 to sample.
    ok(vae_gpu(
        t.path(),
        &two_stage(&["--model", "vae", "--steps", "5", "--out", "short"]),
    ));
    let cfg_path = t.path().join("short/config.json");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    let mut cfg: Value = serde_json::from_str(&text).unwrap();
    cfg["train"]["steps"] = 10.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    refuse(
        &[
            "train",
            "--resume",
            "short",
            "--stage",
            "2",
            "--stage2-steps",
            "5",
        ],
        "stage 1 of short is unfinished (5 of 10 steps)",
    );
    assert!(!t.path().join("short/stage2.safetensors").exists());
    refuse(&["sample", "short", "--stage", "2"], "--stage");
    refuse(&["eval", "nowhere"], "nowhere");
    std::fs::create_dir_all(t.path().join("empty-run")).unwrap();
    std::fs::copy(
        dir.join("config.json"),
        t.path().join("empty-run/config.json"),
    )
    .unwrap();
    refuse(&["eval", "empty-run"], "checkpoint.safetensors");
}

/// Labelled IDX data (train and t10k) of `n` 8×8 images in 2 classes: class 0 dark with a
/// bright left half, class 1 bright right half, plus a per-image brightness `shift`.
fn labelled_idx(dir: &Path, n: usize, shift: u8) {
    std::fs::create_dir_all(dir).unwrap();
    for split in ["train", "t10k"] {
        let mut px = Vec::new();
        let labels: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
        for (i, &l) in labels.iter().enumerate() {
            for _y in 0..8 {
                for x in 0..8 {
                    let on = (x < 4) == (l == 0);
                    px.push(if on { 200 + (i % 40) as u8 } else { shift });
                }
            }
        }
        let img = vae_gpu::data::idx::encode(&[n, 8, 8], &px);
        let lab = vae_gpu::data::idx::encode(&[n], &labels);
        std::fs::write(dir.join(format!("{split}-images-idx3-ubyte")), img).unwrap();
        std::fs::write(dir.join(format!("{split}-labels-idx1-ubyte")), lab).unwrap();
    }
}

/// The Fréchet distance end to end on labelled data: `train-classifier` caches a classifier
/// that `eval` uses (its test accuracy reported; these two classes are separable), every
/// distance is finite and non-negative; a classifier of another dataset is refused naming
/// its classifier.json, and nothing of the run is changed.
#[test]
fn eval_measures_frechet_distances_with_the_datasets_own_classifier() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("run-frechet");
    labelled_idx(&t.path().join("halves"), 64, 0);
    labelled_idx(&t.path().join("other"), 64, 60);
    let run = |data: &'static str, out: &'static str| {
        ok(vae_gpu(
            t.path(),
            &[
                "train",
                "--data",
                data,
                "--model",
                "two-stage",
                "--steps",
                "6",
                "--stage2-steps",
                "4",
                "--stage2-hidden",
                "16",
                "--batch-size",
                "16",
                "--latent-dim",
                "4",
                "--log-every",
                "2",
                "--out",
                out,
            ],
        ));
    };
    run("halves", "a");
    run("other", "b");
    let o = ok(vae_gpu(
        t.path(),
        &[
            "train-classifier",
            "--data",
            "halves",
            "--steps",
            "40",
            "--out",
            "cls",
        ],
    ));
    let e = stderr(&o);
    assert!(e.contains("test accuracy") && !e.contains("warning"), "{e}");
    assert!(!e.contains("stage 1") && !e.contains("mse"), "{e}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "cls\n");
    let about: Value = serde_json::from_str(
        &std::fs::read_to_string(t.path().join("cls/classifier.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(about["objective"], "softmax cross-entropy");
    let eval = |r: &str| {
        vae_gpu(
            t.path(),
            &[
                "eval",
                r,
                "--json",
                "--classifier",
                "cls",
                "--fd-samples",
                "32",
                "--iwae-images",
                "4",
                "--iwae-samples",
                "2",
                "--mmd-samples",
                "16",
            ],
        )
    };
    let doc: Value = serde_json::from_slice(&ok(eval("a")).stdout).unwrap();
    let fd = &doc["frechet"];
    assert!(
        fd["classifier"]["test_accuracy"].as_f64().unwrap() > 0.9,
        "two separable classes: {fd}"
    );
    for k in [
        "two_stage_samples",
        "stage1_samples",
        "reconstructions",
        "train_images_floor",
    ] {
        assert!(
            fd[k].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0),
            "{k}: {fd}"
        );
    }
    assert!(fd["name"].as_str().unwrap().contains("not FID"));
    let before = std::fs::read(t.path().join("b/checkpoint.safetensors")).unwrap();
    let bad = eval("b");
    assert!(
        !bad.status.success() && stderr(&bad).contains("cls/classifier.json"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(
        std::fs::read(t.path().join("b/checkpoint.safetensors")).unwrap(),
        before
    );
    assert!(!t.path().join("b/eval.json").exists());
}
