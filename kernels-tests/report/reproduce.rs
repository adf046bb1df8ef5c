//! `vae-gpu reproduce` end to end on a tiny budget of real Fashion-MNIST: a reproduction
//! interrupted by Ctrl-C and resumed gives the same table as one sharded in two and
//! collected; bad input is refused before anything is written.

use crate::{command, ok, snapshot, stderr, tempdir, vae_gpu, ONE_AT_A_TIME};
use std::path::Path;
use vae_gpu::reproduce::table::{Table, TableCell};

/// 10 steps per stage on the first 128 images of each split.
const TINY: [&str; 6] = [
    "--data",
    "fashion-mnist",
    "--budget",
    "10",
    "--limit",
    "128",
];

fn reproduce(cwd: &Path, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["reproduce", "dai-wipf", "--out", out];
    args.extend(TINY);
    args.extend(extra);
    vae_gpu(cwd, &args)
}

fn table(dir: &Path) -> Table {
    vae_gpu::reproduce::table::read(&dir.join("table.json")).unwrap()
}

#[test]
fn an_interrupted_reproduction_resumes_and_equals_two_shards_collected() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("reproduce");

    // Whole, but interrupted by Ctrl-C once the second run has begun training.
    let mut args = vec!["reproduce", "dai-wipf", "--out", "whole"];
    args.extend(TINY);
    let child = command(t.path(), &args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let second = t.path().join("whole/fixed-gamma/seed-1/metrics.jsonl");
    let start = std::time::Instant::now();
    while !second.exists() {
        assert!(
            start.elapsed().as_secs() < 600,
            "the second run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("give the same command again"),
        "{}",
        stderr(&out)
    );
    let whole = t.path().join("whole");
    assert!(
        whole.join("cross-entropy/seed-1/eval.json").is_file(),
        "the first run was finished"
    );
    assert!(!whole.join("table.json").exists());

    // The same command continues: the first run is not trained again.
    let o = ok(reproduce(t.path(), "whole", &[]));
    let log = stderr(&o);
    assert!(
        log.contains("[1/3] cross-entropy seed 1: trained and evaluated already"),
        "{log}"
    );
    assert!(log.contains("[2/3] fixed-gamma seed 1: "), "{log}");
    assert!(log.contains("| ETA "), "{log}");
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains("| 2-Stage VAE |") && md.contains("| 29.3 |"),
        "{md}"
    );
    for f in ["table.md", "table.json", "report.html"] {
        assert!(whole.join(f).is_file(), "no {f}");
    }
    let page = std::fs::read_to_string(whole.join("report.html")).unwrap();
    assert!(page.contains("FID (paper, Table 1)") && page.contains("two-stage/seed-1"));
    // Given again, nothing is left to do.
    let o = ok(reproduce(t.path(), "whole", &[]));
    assert_eq!(
        stderr(&o).matches("trained and evaluated already").count(),
        3,
        "{}",
        stderr(&o)
    );

    // The same recipe in two shards, then collected.
    let o = ok(reproduce(t.path(), "sharded", &["--shard", "1/2"]));
    assert!(stderr(&o).contains("--collect"), "{}", stderr(&o));
    assert!(t
        .path()
        .join("sharded/cross-entropy/seed-1/eval.json")
        .is_file());
    assert!(t
        .path()
        .join("sharded/two-stage/seed-1/eval.json")
        .is_file());
    assert!(
        !t.path().join("sharded/fixed-gamma").exists(),
        "shard 1 of 2 trains runs 1 and 3"
    );
    ok(reproduce(t.path(), "sharded", &["--shard", "2/2"]));
    ok(reproduce(t.path(), "sharded", &["--collect"]));
    let (a, b) = (table(&whole), table(&t.path().join("sharded")));
    let rows = |t: &Table| serde_json::to_value(&t.rows).unwrap();
    assert_eq!(
        rows(&a),
        rows(&b),
        "resumed and sharded reproductions differ"
    );
    // Every cell of ours has a value: the FD of each row, and the paper's beside it.
    for row in &a.rows {
        assert!(
            matches!(&row.cells[0], Some(TableCell::Ours(c)) if c.mean.is_some_and(f64::is_finite)),
            "{row:?}"
        );
        assert!(
            matches!(&row.cells[1], Some(TableCell::Paper { .. })),
            "{row:?}"
        );
    }
}

#[test]
fn bad_input_is_refused_before_anything_is_written() {
    let t = tempdir("reproduce-bad");
    std::fs::create_dir_all(t.path().join("someone-elses")).unwrap();
    std::fs::write(t.path().join("someone-elses/notes.txt"), "keep me").unwrap();
    std::fs::create_dir_all(t.path().join("other")).unwrap();
    std::fs::write(
        t.path().join("other/reproduce.json"),
        r#"{"recipe": "dai-wipf", "data": "fashion-mnist", "budget": "quick", "limit": null}"#,
    )
    .unwrap();
    let before = snapshot(t.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &["reproduce", "kingma", "--data", "mnist"],
            "'kingma' is not a recipe",
        ),
        (
            &["reproduce", "dai-wipf", "--data", "shapes"],
            "--data: the dai-wipf recipe compares Fréchet distances",
        ),
        (
            &[
                "reproduce",
                "dai-wipf",
                "--data",
                "fashion-mnist",
                "--budget",
                "fast",
            ],
            "--budget: 'fast' is not quick",
        ),
        (
            &[
                "reproduce",
                "dai-wipf",
                "--data",
                "fashion-mnist",
                "--shard",
                "3/2",
            ],
            "--shard: '3/2'",
        ),
        (
            &[
                "reproduce",
                "dai-wipf",
                "--data",
                "fashion-mnist",
                "--out",
                "someone-elses",
            ],
            "--out: someone-elses is a folder with other files",
        ),
        (
            &[
                "reproduce",
                "dai-wipf",
                "--data",
                "fashion-mnist",
                "--budget",
                "20",
                "--out",
                "other",
            ],
            "--out: other holds a reproduction of dai-wipf on fashion-mnist at budget quick",
        ),
        (
            &[
                "reproduce",
                "zhao",
                "--data",
                "fashion-mnist",
                "--out",
                "nothing-here",
                "--collect",
            ],
            "--out: nothing-here holds no reproduction",
        ),
        (
            &[
                "reproduce",
                "zhao",
                "--data",
                "no-such-data",
                "--out",
                "new",
            ],
            "no-such-data",
        ),
    ];
    for (args, want) in cases {
        let o = vae_gpu(t.path(), args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert_eq!(snapshot(t.path()), before, "{args:?} changed files");
    }
    assert!(!t.path().join("reproductions").exists() && !t.path().join("new").exists());
}

/// `reproduce zhao` end to end at a tiny budget on 8×8 shapes: the PixelCNN-VAE with
/// and without the KL (Î along training, Markov chains from noise), the 2-d VAE's
/// posterior-variance map and the Sequential VAE's steps, each cell read from its run's
/// eval.json where its pointer says (shapes have no labels: no Fréchet distances).
#[test]
fn the_zhao_recipe_runs_every_experiment_of_the_paper() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("reproduce-zhao");
    let args = [
        "reproduce",
        "zhao",
        "--data",
        "shapes",
        "--budget",
        "3",
        "--limit",
        "64",
        "--image-size",
        "8",
        "--out",
        "zhao",
    ];
    ok(vae_gpu(t.path(), &args));
    let out = t.path().join("zhao");
    let tab = table(&out);
    let labels: Vec<&str> = tab.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "PixelCNN-VAE, ELBO",
            "PixelCNN-VAE, no regulariser",
            "VAE, 2-d code (posterior-variance map below)",
            "Sequential VAE, step 1",
            "Sequential VAE, step 2",
            "Sequential VAE, step 3",
            "Sequential VAE, step 4",
            "test images",
        ]
    );
    let mut filled = 0;
    for row in &tab.rows {
        for cell in row.cells.iter().flatten() {
            let TableCell::Ours(m) = cell else {
                panic!("{}: the paper reports no comparable number", row.label)
            };
            let eval: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(out.join(&m.run).join("seed-1/eval.json")).unwrap(),
            )
            .unwrap();
            let want = eval.pointer(&m.pointer).and_then(|v| v.as_f64());
            assert_eq!(
                m.values.first().copied(),
                want,
                "{}: {}",
                row.label,
                m.pointer
            );
            if m.pointer.starts_with("/frechet/") {
                assert!(want.is_none(), "shapes have no labels: {eval}");
                continue;
            }
            assert!(
                want.is_some_and(f64::is_finite),
                "{}: {}",
                row.label,
                m.pointer
            );
            filled += 1;
        }
    }
    // Beside the Fréchet distances: 3 + 3 cells of the PixelCNN rows, 3 of the plane, 2 per
    // step, 1 of the data.
    assert_eq!(filled, 3 + 3 + 3 + 4 * 2 + 1);
    for run in ["pixelcnn-elbo", "pixelcnn-none"] {
        let dir = out.join(run).join("seed-1");
        assert!(
            dir.join("samples-markov-chain2-deterministic-n4.png")
                .is_file(),
            "{run}"
        );
        let rows = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert_eq!(rows.matches("\"mi\":").count(), 3, "Î every step: {rows}");
    }
    assert!(out.join("sequential/seed-1/samples-steps.png").is_file());
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    for want in [
        "Markov chain from noise",
        "the Sequential VAE step by step",
        "the posterior variance over the latent plane",
        "Î(x; z) during training",
    ] {
        assert!(page.contains(want), "no {want} in the report");
    }
}
