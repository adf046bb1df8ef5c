//! Dataset loaders on small files written here: the formats as distributed, and each way a
//! file can be wrong (the message must name the file and the fault).

use crate::tempdir;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;
use vae_gpu::data::{self, folder, idx, shapes, Batches, Crop, DataSpec, Split};

fn spec(data: &Path) -> DataSpec {
    DataSpec {
        data: data.display().to_string(),
        split: Split::Train,
        image_size: None,
        crop: None,
        limit: None,
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn err(r: vae_gpu::Result<data::Dataset>) -> String {
    match r {
        Ok(d) => panic!("expected an error, loaded {} images", d.len()),
        Err(e) => e.to_string(),
    }
}

/// 10 images of 5×5 with pixel (i, y, x) = i·25 + 5y + x, and labels i % 10.
fn idx_files(dir: &Path, gzip: bool) {
    let pixels: Vec<u8> = (0..250).map(|v| v as u8).collect();
    let labels: Vec<u8> = (0..10).map(|i| i % 10).collect();
    let img = idx::encode(&[10, 5, 5], &pixels);
    let lab = idx::encode(&[10], &labels);
    let (img, lab, ext) = if gzip {
        (gz(&img), gz(&lab), ".gz")
    } else {
        (img, lab, "")
    };
    std::fs::write(dir.join(format!("train-images-idx3-ubyte{ext}")), img).unwrap();
    std::fs::write(dir.join(format!("train-labels-idx1-ubyte{ext}")), lab).unwrap();
}

#[test]
fn idx_raw_and_gzip_load_the_same_images_and_labels() {
    for gzip in [false, true] {
        let t = tempdir(&format!("idx-{gzip}"));
        idx_files(t.path(), gzip);
        let d = data::load(&spec(t.path())).unwrap();
        assert_eq!((d.len(), d.channels, d.side), (10, 1, 5));
        assert_eq!(d.image(3)[7], 3 * 25 + 7);
        assert_eq!(d.labels.as_ref().unwrap()[4], 4);
        let mut batch = Vec::new();
        d.gather(&[2, 9], &mut batch);
        assert_eq!(batch.len(), 50);
        assert_eq!(batch[0], 50.0 / 255.0);
        assert_eq!(batch[25], 225.0 / 255.0);
    }
}

#[test]
fn bad_idx_files_are_refused_naming_the_file_and_the_fault() {
    let t = tempdir("idx-bad");
    let images = t.path().join("train-images-idx3-ubyte");
    let labels = t.path().join("train-labels-idx1-ubyte");
    idx_files(t.path(), false);
    let good = std::fs::read(&images).unwrap();

    let mut wrong_magic = good.clone();
    wrong_magic[2] = 0x0d; // float data
    std::fs::write(&images, &wrong_magic).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("magic"),
        "{e}"
    );

    std::fs::write(&images, &good[..good.len() - 7]).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("truncated"),
        "{e}"
    );

    std::fs::write(&images, idx::encode(&[10, 25], &good[12..])).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(e.contains("2 dimensions; expected 3"), "{e}");

    std::fs::write(&images, idx::encode(&[10, 5, 5], &good[16..])).unwrap();
    std::fs::write(&labels, idx::encode(&[9], &[0; 9])).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(
        e.contains("train-labels-idx1-ubyte") && e.contains("9 labels for 10 images"),
        "{e}"
    );

    std::fs::write(&images, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("gzip"),
        "{e}"
    );

    std::fs::write(&images, idx::encode(&[2, 3, 4], &[0; 24])).unwrap();
    std::fs::remove_file(&labels).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(e.contains("3×4") && e.contains("square"), "{e}");

    let e = err(data::load(&spec(&t.path().join("no-such-thing"))));
    assert!(
        e.contains("no-such-thing") && e.contains("no such file"),
        "{e}"
    );
}

#[test]
fn cifar10_batches_load_and_truncated_ones_are_refused() {
    let t = tempdir("cifar");
    let mut rec = Vec::new();
    for i in 0..3u8 {
        rec.push(i);
        rec.extend((0..3072).map(|p| (p % 251) as u8 ^ i));
    }
    for b in 1..=5 {
        std::fs::write(t.path().join(format!("data_batch_{b}.bin")), &rec).unwrap();
    }
    let d = data::load(&spec(t.path())).unwrap();
    assert_eq!((d.len(), d.channels, d.side), (15, 3, 32));
    assert_eq!(d.labels.as_ref().unwrap()[..3], [0, 1, 2]);
    // Channel-major as stored: green of pixel 0 is byte 1024 of the record's pixels.
    assert_eq!(d.image(1)[1024], (1024 % 251) as u8 ^ 1);
    std::fs::write(t.path().join("data_batch_3.bin"), &rec[..5000]).unwrap();
    let e = err(data::load(&spec(t.path())));
    assert!(
        e.contains("data_batch_3.bin") && e.contains("3073-byte"),
        "{e}"
    );
}

fn write_png(path: &Path, w: u32, h: u32, color: png::ColorType, px: &[u8]) {
    let f = std::fs::File::create(path).unwrap();
    let mut e = png::Encoder::new(f, w, h);
    e.set_color(color);
    e.set_depth(png::BitDepth::Eight);
    e.write_header().unwrap().write_image_data(px).unwrap();
}

#[test]
fn an_image_folder_is_cropped_resized_and_checked() {
    let t = tempdir("folder");
    // 20×10 RGB, left half (x < 10) red 200, right half blue 100: the centred 10×10 square
    // is x 5..15, so a 2×2 resize averages to red 100 / blue 50 on each side.
    let px: Vec<u8> = (0..10 * 20)
        .flat_map(|i| {
            if i % 20 < 10 {
                [200, 0, 0]
            } else {
                [0, 0, 100]
            }
        })
        .collect();
    write_png(&t.path().join("a.png"), 20, 10, png::ColorType::Rgb, &px);
    write_png(&t.path().join("b.png"), 20, 10, png::ColorType::Rgb, &px);
    std::fs::write(t.path().join("notes.txt"), "not an image").unwrap();
    let mut s = spec(t.path());
    s.image_size = Some(2);
    let d = data::load(&s).unwrap();
    assert_eq!((d.len(), d.channels, d.side), (2, 3, 2));
    // [C, 2, 2]: red plane then green then blue.
    assert_eq!(d.image(0), &[200, 0, 200, 0, 0, 0, 0, 0, 0, 100, 0, 100]);
    // An explicit crop (rows 0..10, cols 0..10: all red).
    s.crop = Some(Crop::parse("0,0,10").unwrap());
    assert_eq!(data::load(&s).unwrap().image(1)[..4], [200; 4]);
    s.crop = Some(Crop::parse("5,5,10").unwrap());
    let e = err(data::load(&s));
    assert!(e.contains("--crop") && e.contains("outside"), "{e}");
    s.crop = None;

    write_png(
        &t.path().join("c.png"),
        10,
        10,
        png::ColorType::Rgb,
        &px[..300],
    );
    let e = err(data::load(&s));
    assert!(
        e.contains("c.png") && e.contains("10×10") && e.contains("one size"),
        "{e}"
    );
    std::fs::write(t.path().join("c.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let e = err(data::load(&s));
    assert!(e.contains("c.png") && e.contains("unreadable PNG"), "{e}");

    let empty = tempdir("folder-empty");
    std::fs::write(empty.path().join("readme.md"), "no images").unwrap();
    let e = err(data::load(&spec(empty.path())));
    assert!(
        e.contains("folder-empty") && e.contains("no PNG or JPEG"),
        "{e}"
    );
}

#[test]
fn jpeg_files_decode() {
    // Made with libjpeg-turbo's cjpeg -quality 95 from a flat (200, 100, 50) 16×12 PPM and a
    // 16×12 PGM whose column x is 16·x.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels-tests/fixtures");
    let img = folder::decode(&dir.join("orange-16x12.jpg")).unwrap();
    assert_eq!((img.width, img.height, img.channels), (16, 12, 3));
    for p in img.data.chunks(3) {
        // JPEG is lossy: a flat colour comes back within a few levels.
        for (v, want) in p.iter().zip([200, 100, 50]) {
            assert!((*v as i32 - want).abs() <= 4, "{p:?}");
        }
    }
    let g = folder::decode(&dir.join("gray-16x12.jpg")).unwrap();
    assert_eq!((g.width, g.height, g.channels), (16, 12, 1));
    assert!((g.data[5] as i32 - 80).abs() <= 6 && (g.data[15] as i32 - 240).abs() <= 6);
}

#[test]
fn shapes_are_deterministic_in_range_and_vary_with_their_factors() {
    let a = shapes::generate(16, Split::Train).unwrap();
    let b = shapes::generate(16, Split::Train).unwrap();
    assert_eq!(a.pixels, b.pixels);
    assert_eq!((a.len(), a.side, a.channels), (shapes::TRAIN_IMAGES, 16, 1));
    let test = shapes::generate(16, Split::Test).unwrap();
    assert_ne!(a.image(0), test.image(0));
    // Each image has a shape (some pixel lit) and background (some pixel dark).
    for i in 0..100 {
        let img = a.image(i);
        assert!(
            img.iter().any(|&p| p > 200) && img.contains(&0),
            "image {i}"
        );
    }
    // Each of the four factors changes the image.
    let f = [8.0, 8.0, 3.0, 0.5];
    let base = shapes::render(f, 16);
    for k in 0..4 {
        let mut g = f;
        g[k] += 0.7;
        assert_ne!(shapes::render(g, 16), base, "factor {k}");
    }
    let e = shapes::generate(4, Split::Train).unwrap_err().to_string();
    assert!(e.contains("--image-size"), "{e}");
}

#[test]
fn each_epoch_is_a_seeded_permutation() {
    let mut b = Batches::new(100, 16, 7);
    assert_eq!(b.per_epoch(), 6);
    let mut seen: Vec<usize> = (0..6).flat_map(|s| b.at(s).1.to_vec()).collect();
    let epoch0 = seen.clone();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 96, "an epoch has no repeats");
    let (e, next) = b.at(6);
    assert_eq!(e, 1);
    assert_ne!(next, &epoch0[..16], "epochs are shuffled differently");
    let mut again = Batches::new(100, 16, 7);
    assert_eq!(again.at(3).1, &epoch0[48..64], "same seed, same order");
    assert_ne!(Batches::new(100, 16, 8).at(0).1, &epoch0[..16]);
}

#[test]
fn a_missing_named_dataset_says_where_it_looked() {
    let e = err(data::load(&DataSpec {
        data: "cifar10".into(),
        split: Split::Train,
        image_size: None,
        crop: None,
        limit: None,
    }));
    assert!(
        e.contains("data/cifar10") && e.contains("cifar-10-binary.tar.gz"),
        "{e}"
    );
    assert!(
        !e.contains("fetch-data.sh"),
        "the script cannot fetch it: {e}"
    );
}

/// A mistyped dataset name is not "no such file": the message lists the names and the
/// closest of them.
#[test]
fn a_mistyped_dataset_name_suggests_the_closest() {
    let e = err(data::load(&DataSpec {
        data: "fashion_mnist".into(),
        split: Split::Train,
        image_size: None,
        crop: None,
        limit: None,
    }));
    assert!(
        e.contains("did you mean fashion-mnist?") && e.contains("mnist, cifar10, shapes"),
        "{e}"
    );
}

/// Every run recorded under docs/ still loads through the types the writers use: its
/// config.json, each metrics.jsonl row (with the metrics a run logs) and its eval.json, and
/// every reproduction's table.json.
#[test]
fn every_recorded_run_loads_through_the_shared_types() {
    fn run_dirs(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                run_dirs(&p, out);
            } else if p
                .file_name()
                .is_some_and(|n| n == "config.json" || n == "table.json")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    run_dirs(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"),
        &mut files,
    );
    let (tables, configs): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|p| p.file_name().is_some_and(|n| n == "table.json"));
    assert!(!tables.is_empty());
    for path in tables {
        let table = vae_gpu::reproduce::table::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!table.rows.is_empty(), "{}", path.display());
    }
    assert!(configs.len() >= 14, "{configs:?}");
    let mut evaluated = 0;
    for path in configs {
        let dir = path.parent().unwrap();
        let file = vae_gpu::pipelines::config_file::read(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let cfg = &file.train;
        // The overrides that `train --config` takes from this file give the same settings.
        let again = vae_gpu::pipelines::overrides::RunOverrides::from_config(cfg)
            .resolve()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(&again, cfg, "{}", dir.display());
        if dir.join("eval.json").exists() {
            let e = vae_gpu::eval::document::read(dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            // The Sequential VAE's code is its steps' codes side by side.
            assert_eq!(
                e.encoder_variances.variances.mean_variance.len(),
                cfg.latent_dim * cfg.sequence_steps.unwrap_or(1),
                "{}",
                dir.display()
            );
            assert!(e.stage1.mse.is_some_and(f64::is_finite) && e.stage1_steps > 0);
            assert_eq!(e.stage2_steps.is_some(), e.stage2.is_some());
            evaluated += 1;
        }
        let rows = vae_gpu::run_dir::read_metrics(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(!rows.is_empty(), "{}: no metrics", dir.display());
        for r in &rows {
            assert!(
                r.get("loss").is_some() && r.get("kl").is_some() && r.step > 0,
                "{}: {r:?}",
                dir.display()
            );
        }
        let stages = if cfg.model == vae_gpu::pipelines::config::ModelKind::TwoStage {
            2
        } else {
            1
        };
        assert!(
            rows.iter().all(|r| (1..=stages).contains(&r.stage)),
            "{}",
            dir.display()
        );
    }
    assert!(evaluated >= 13, "{evaluated} runs with an eval.json");
}
