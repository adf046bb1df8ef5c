//! `vae-gpu report`: the page of one run and of several, validated, rendered in a browser;
//! the 2-d latent pictures; bad input.

use crate::{ok, repo, snapshot, stderr, tempdir, vae_gpu, ONE_AT_A_TIME};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A program the tests need, found on PATH (tools/test.sh installs them).
fn program(names: &[&str], package: &str) -> PathBuf {
    for n in names {
        if let Ok(o) = Command::new("sh")
            .args(["-c", &format!("command -v {n}")])
            .output()
        {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && !p.is_empty() {
                return PathBuf::from(p);
            }
        }
    }
    panic!("none of {names:?} is installed: apt-get install {package} (tools/test.sh does)");
}

/// Copies a recorded run (docs/runs/...) into `to`, so the page is written there.
fn copy_run(from: &str, to: &Path) -> PathBuf {
    let src = repo().join(from);
    let dst = to.join(Path::new(from).file_name().unwrap());
    std::fs::create_dir_all(&dst).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
    dst
}

/// Debian's tidy (HTML5) on the page: no errors and no warnings (a missing alt, a bad
/// attribute, an unclosed element all warn).
fn validate(html: &Path) {
    let tidy = program(&["tidy"], "tidy");
    let o = Command::new(tidy)
        .args(["-q", "-e"])
        .arg(html)
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "tidy: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What the page refers to: every src/href is inline (data:) or a fragment, and every
/// <img> has a non-empty alt.
fn self_contained(page: &str) {
    for attr in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(attr) {
            let v = &page[i + attr.len()..];
            assert!(
                v.starts_with("data:") || v.starts_with('#') || v.starts_with("http://www.w3.org"),
                "a reference out of the page: {}",
                &v[..v.len().min(80)]
            );
        }
    }
    assert!(!page.contains("<script"), "the page needs no script");
    for (i, _) in page.match_indices("<img ") {
        let tag = &page[i..i + page[i..].find('>').unwrap()];
        assert!(
            tag.contains(" alt=\"") && !tag.contains(" alt=\"\""),
            "an image without alt text: {}",
            &tag[..tag.len().min(120)]
        );
    }
}

/// Plots (inline SVG figures) and grid images on the page.
fn count(page: &str, what: &str) -> usize {
    page.matches(what).count()
}

#[test]
fn a_report_of_one_recorded_run_is_valid_self_contained_and_has_every_piece() {
    let t = tempdir("one");
    let run = copy_run("docs/runs/shapes-two-stage", t.path());
    let o = ok(vae_gpu(t.path(), &["report", run.to_str().unwrap()]));
    let html = run.join("report.html");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        html.display().to_string(),
        "stdout names the page"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    validate(&html);
    self_contained(&page);
    // Curves of stage 1 (loss, reconstruction, KL, MSE, γ) and stage 2 (loss, γ_z), the
    // information plane, then the run's encoder variances (both stages) and spectra.
    for title in [
        "reconstruction term",
        "MSE per pixel",
        "γ (decoder standard deviation)",
        "γ_z",
        "information plane",
        "mean σ_z² per latent dimension, stage 1",
        "mean σ_u² per latent dimension, stage 2",
        "singular values / √rows",
    ] {
        assert!(page.contains(title), "no plot '{title}'");
    }
    assert!(!page.contains("s λ"), "a λ plot on a run without GECO");
    assert_eq!(count(&page, "<figure class=\"plot\"><svg"), 7 + 1 + 3);
    // The spectra: stage 1, stage 2 and N(0, I).
    for s in ["z ~ q(z), stage 1", "u ~ q(u), stage 2", "N(0, I)"] {
        assert!(page.contains(s), "no spectrum '{s}'");
    }
    // Stage-1 and two-stage samples side by side at the top (and not again in the run's
    // section), and the reconstruction grid with its rows named.
    assert_eq!(count(&page, "<img class=\"grid\""), 2);
    let top = page
        .find("Samples: stage 1 beside two stages")
        .expect("the samples at the top");
    assert!(top < page.find("<h2>Training</h2>").unwrap());
    let (one, two) = (
        page.find("stage 1: z ~ N(0, I)").unwrap(),
        page.find("two stages: u ~ N(0, I)").unwrap(),
    );
    assert!(top < one && one < two && two < page.find("<h2>Training</h2>").unwrap());
    assert_eq!(count(&page, ">original</text>"), 4);
    assert_eq!(count(&page, ">reconstruction</text>"), 4);
    // One row of diagnostics, with the recorded values.
    assert!(
        page.contains("<td>shapes-two-stage</td><td>3.92e-3</td>"),
        "the diagnostics row"
    );
    assert!(page.contains("llvmpipe") && page.contains("config.json"));
    assert!(!page.contains("mixed-datasets"));
}

#[test]
fn a_report_of_several_runs_draws_a_line_per_run_and_says_when_datasets_differ() {
    let t = tempdir("several");
    let runs: Vec<PathBuf> = ["elbo", "geco-warm", "mmd"]
        .iter()
        .map(|r| copy_run(&format!("docs/runs/fashion-mnist-objectives/{r}"), t.path()))
        .collect();
    let mut args = vec!["report", "--out", "all.html"];
    args.extend(runs.iter().map(|r| r.to_str().unwrap()));
    ok(vae_gpu(t.path(), &args));
    let html = t.path().join("all.html");
    let page = std::fs::read_to_string(&html).unwrap();
    validate(&html);
    self_contained(&page);
    // GECO's λ and C appear (one run has them), with the target on the information plane.
    // (The page escapes the apostrophes: &#x27; in HTML text, &apos; in the SVG.)
    assert!(page.contains("GECO&apos;s λ") && page.contains("GECO&apos;s constraint C"));
    assert!(page.contains("GECO&apos;s target κ² = D·R²"));
    // The KL plot has three lines, one per run, each named in the legend.
    let kl = &page[page.find("KL(q(z | x) ‖ N(0, I)), nats").unwrap()..];
    let kl = &kl[..kl.find("</svg>").unwrap()];
    for r in ["elbo", "geco-warm", "mmd"] {
        assert!(
            kl.contains(&format!(">\n{r}\n</text>")),
            "no {r} in the KL legend"
        );
    }
    assert_eq!(
        count(
            kl,
            "<polyline fill=\"none\" opacity=\"1\" stroke=\"#1F77B4\" stroke-width=\"2\""
        ),
        1
    );
    assert_eq!(count(&page, "<h2 id=\"run-"), 3);
    let table = &page[page.find("id=\"diagnostics\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(count(table, "<tr>"), 1 + 3);
    assert!(!page.contains("mixed-datasets"));

    // A run of another dataset joins: allowed, and said.
    let shapes = copy_run("docs/runs/shapes-two-stage", t.path());
    args.push(shapes.to_str().unwrap());
    ok(vae_gpu(t.path(), &args));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"mixed-datasets\"") && page.contains("fashion-mnist, shapes"));
}

/// The page in headless Chromium: loaded with every image decoded, the plots laid out with
/// a size, no console error, and a screenshot that is not blank.
#[test]
fn the_page_renders_in_a_real_browser() {
    let t = tempdir("browser");
    let run = copy_run("docs/runs/shapes-two-stage", t.path());
    let other = copy_run("docs/runs/fashion-mnist-objectives/geco-warm", t.path());
    ok(vae_gpu(
        t.path(),
        &[
            "report",
            "--out",
            "page.html",
            run.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    ));
    let page = std::fs::read_to_string(t.path().join("page.html")).unwrap();
    // The test's own probe, added to a copy: it records what the browser made of the page.
    let probe = r#"<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const plots = [...document.querySelectorAll('figure.plot > svg')]
    .filter(s => { const r = s.getBoundingClientRect(); return r.width > 100 && r.height > 100; })
    .filter(s => s.querySelectorAll('polyline, rect, circle').length > 0);
  const labelled = [...document.querySelectorAll('svg.grid image')]
    .filter(i => i.getBoundingClientRect().width > 100);
  document.body.setAttribute('data-probe', [imgs.length, broken.length, plots.length, labelled.length].join(','));
});
</script></body>"#;
    let probed = t.path().join("probed.html");
    std::fs::write(&probed, page.replace("</body>", probe)).unwrap();
    let chromium = program(
        &["chromium", "chromium-browser", "google-chrome"],
        "chromium",
    );
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--virtual-time-budget=10000",
    ];
    let url = format!("file://{}", probed.display());
    let dom = Command::new(&chromium)
        .args(common)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    for bad in ["Failed to load resource", "Uncaught", "Not allowed to load"] {
        assert!(!log.contains(bad), "the browser said: {log}");
    }
    let at = text
        .find("data-probe=\"")
        .expect("the probe ran after load");
    let v: Vec<usize> = text[at + 12..]
        .split('"')
        .next()
        .unwrap()
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    // Grids: two-stage run 2 + GECO run 1 as <img>; a labelled reconstruction grid each.
    assert_eq!(
        v,
        vec![3, 0, v[2], 2],
        "images, broken images, plots, labelled grids"
    );
    // Curves (7 + λ + C), the plane, and per run its variance bars and spectra.
    assert!(v[2] >= 14, "only {} plots drawn with a size", v[2]);

    let shot = t.path().join("page.png");
    let o = Command::new(&chromium)
        .args(common)
        .arg("--window-size=1280,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", t.path().join("page.html").display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0u8; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2400));
    let ch = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(ch).collect();
    let non_white = pixels
        .iter()
        .filter(|p| p[..3].iter().any(|c| *c < 230))
        .count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    // Text, axes, lines and grids: a blank or error page is nearly all one colour.
    assert!(
        non_white * 20 > pixels.len(),
        "{non_white} of {} pixels drawn",
        pixels.len()
    );
    assert!(colours.len() > 200, "only {} colours", colours.len());
}

/// The fill colours of the points of the scatter titled `title`.
fn scatter_colours(page: &str, title: &str) -> std::collections::HashSet<String> {
    let scatter = &page[page.find(title).expect("the scatter")..];
    let scatter = &scatter[..scatter.find("</svg>").unwrap()];
    scatter
        .match_indices("<circle")
        .map(|(i, _)| {
            let c = &scatter[i..];
            let f = c.find("fill=\"").unwrap() + 6;
            c[f..f + 7].to_string()
        })
        .collect()
}

/// A 2-d latent space gets the thesis chapter's pictures: the encoded test set coloured by
/// class, and the decoded plane.
#[test]
fn a_tiny_2d_run_gets_the_latent_scatter_by_label_and_the_decoded_plane() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("plane");
    ok(vae_gpu(
        t.path(),
        &[
            "train",
            "--data",
            "fashion-mnist",
            "--limit",
            "300",
            "--net",
            "mlp",
            "--model",
            "vae",
            "--latent-dim",
            "2",
            "--steps",
            "8",
            "--log-every",
            "4",
            "--lr",
            "1e-3",
            "--out",
            "run",
        ],
    ));
    // A small evaluation (the classifier of its Fréchet distances trains for 20 steps).
    ok(vae_gpu(
        t.path(),
        &[
            "eval",
            "run",
            "--classifier-steps",
            "20",
            "--iwae-images",
            "20",
            "--nll-images",
            "300",
        ],
    ));
    let run = t.path().join("run");
    let eval = vae_gpu::eval::document::read(&run).unwrap();
    let plane = eval.latent_plane.expect("a 2-d run has its plane");
    assert_eq!(plane.points.len(), 300, "every test image (limit 300)");
    assert_eq!(plane.labels.map(|l| l.len()), Some(300));
    assert_eq!(plane.grid_axis.len(), 12);
    // The decoded grid: 12 × 12 cells of 28 pixels behind a 2-pixel gutter.
    let grid = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(run.join("latent-grid.png")).unwrap(),
    ))
    .read_info()
    .unwrap()
    .info()
    .width;
    assert_eq!(grid, 12 * 30 + 2);
    // The posterior's total variance at every lattice point: non-negative, and below the
    // largest a mixture of [0, 1]-valued images can have (D/4).
    let v = plane
        .posterior_variance
        .expect("a new evaluation has the map");
    assert_eq!(v.len(), 144);
    assert!(v.iter().all(|x| (0.0..=784.0 / 4.0).contains(x)), "{v:?}");
    ok(vae_gpu(t.path(), &["report", "run"]));
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    validate(&run.join("report.html"));
    assert!(page.contains("μ_z of 300 test images"));
    assert!(page.contains("the decoded latent plane"));
    assert!(page.contains("the posterior variance over the latent plane"));
    // The scatter colours the ten classes apart.
    let fills = scatter_colours(&page, "μ_z of 300 test images");
    assert_eq!(fills.len(), 10, "one colour per class: {fills:?}");
}

/// `report` on a run without eval.json evaluates it first (a 2-d run of unlabelled shapes:
/// one colour, no classifier).
#[test]
fn a_run_without_eval_json_is_evaluated_first() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let t = tempdir("evaluate-first");
    ok(vae_gpu(
        t.path(),
        &[
            "train",
            "--model",
            "vae",
            "--image-size",
            "8",
            "--limit",
            "64",
            "--batch-size",
            "16",
            "--latent-dim",
            "2",
            "--steps",
            "5",
            "--log-every",
            "5",
            "--out",
            "run",
        ],
    ));
    let run = t.path().join("run");
    assert!(!run.join("eval.json").exists());
    let o = ok(vae_gpu(t.path(), &["report", "run"]));
    assert!(
        stderr(&o).contains("run has no eval.json; evaluating it first"),
        "{}",
        stderr(&o)
    );
    assert!(run.join("eval.json").is_file() && run.join("latent-grid.png").is_file());
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert_eq!(
        scatter_colours(&page, "μ_z of 64 test images").len(),
        1,
        "no labels, one colour"
    );
    assert!(
        !page.contains("has no eval.json"),
        "the page still says eval.json is missing"
    );
    // With --no-eval the page says what is missing instead.
    std::fs::remove_file(run.join("eval.json")).unwrap();
    ok(vae_gpu(t.path(), &["report", "run", "--no-eval"]));
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(page.contains("This run has no eval.json") && page.contains("vae-gpu eval"));
    assert!(!run.join("eval.json").exists());
    // Ancestral samples are shown under their name, or the name runs had before the one
    // naming scheme.
    let title = "ancestral stage-1 samples";
    assert!(!page.contains(title));
    for (args, file) in [
        (
            &[
                "sample",
                "run",
                "--ancestral",
                "-o",
                "run/sample-ancestral.png",
            ][..],
            "run/sample-ancestral.png",
        ),
        (
            &["sample", "run", "--ancestral"][..],
            "run/samples-ancestral.png",
        ),
    ] {
        let o = ok(vae_gpu(t.path(), args));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), file);
        ok(vae_gpu(t.path(), &["report", "run", "--no-eval"]));
        let page = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert!(page.contains(title), "{file}");
        std::fs::remove_file(t.path().join(file)).unwrap();
    }
}

#[test]
fn bad_input_is_named_exits_non_zero_and_writes_nothing() {
    let t = tempdir("bad");
    let empty = t.path().join("not-a-run");
    std::fs::create_dir_all(&empty).unwrap();
    let run = copy_run("docs/runs/shapes-two-stage", t.path());
    std::fs::create_dir_all(t.path().join("a-folder")).unwrap();
    let before = snapshot(t.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &["report", "not-a-run"],
            "not-a-run: not a vae-gpu run directory",
        ),
        (&["report", "missing"], "missing: no such run directory"),
        (
            &["report", "shapes-two-stage", "not-a-run"],
            "not-a-run: not a vae-gpu run directory",
        ),
        (
            &["report", "shapes-two-stage", "--out", "a-folder"],
            "--out: a-folder is a folder",
        ),
    ];
    for (args, want) in cases {
        let o = vae_gpu(t.path(), args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    // A malformed eval.json is named too.
    assert_eq!(snapshot(t.path()), before, "a refused report changed files");
    std::fs::write(run.join("eval.json"), "{ not json").unwrap();
    let o = vae_gpu(t.path(), &["report", "shapes-two-stage"]);
    assert!(
        !o.status.success() && stderr(&o).contains("eval.json: not valid JSON"),
        "{}",
        stderr(&o)
    );
    assert!(!run.join("report.html").exists());
}

/// `sample`, `reconstruct` and `eval` name what is wrong with the run they are given (no such
/// folder, a folder that is not a run, a file) instead of an OS error, and check `--out`
/// before any work; `report --out` creates the folders it names.
#[test]
fn every_command_names_a_bad_run_or_out_path() {
    let t = tempdir("paths");
    copy_run("docs/runs/shapes-two-stage", t.path());
    std::fs::create_dir(t.path().join("not-a-run")).unwrap();
    std::fs::create_dir(t.path().join("a-folder")).unwrap();
    let before = snapshot(t.path());
    let cases: &[(&[&str], &str)] = &[
        (&["sample", "missing"], "missing: no such run directory"),
        (
            &["eval", "not-a-run"],
            "not-a-run: not a vae-gpu run directory",
        ),
        (
            &["sample", "shapes-two-stage/config.json"],
            "config.json: a file, not a run directory",
        ),
        (
            &["reconstruct", "shapes-two-stage", "--out", "r.jpg"],
            "--out: r.jpg does not end in .png",
        ),
        (
            &["sample", "shapes-two-stage", "--out", "a-folder"],
            "--out: a-folder is a folder",
        ),
    ];
    for (args, want) in cases {
        let o = vae_gpu(t.path(), args);
        // A bad --out is a bad flag (2, as clap's usage errors); a bad run directory a
        // failure to read (1).
        let code = if want.starts_with("--") { 2 } else { 1 };
        assert_eq!(o.status.code(), Some(code), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("os error"), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(
        snapshot(t.path()),
        before,
        "a refused command changed files"
    );
    ok(vae_gpu(
        t.path(),
        &["report", "shapes-two-stage", "--out", "pages/today/r.html"],
    ));
    assert!(t.path().join("pages/today/r.html").is_file());
}
