//! The safetensors writer against the safetensors crate (which reads every checkpoint back),
//! the reader's refusals of damaged files, and a checkpoint kept from an earlier version.

use crate::tempdir;
use std::collections::BTreeMap;
use vae_gpu::train::checkpoint::{read_safetensors, write_safetensors};

fn tensors() -> Vec<(String, Vec<usize>, Vec<f32>)> {
    vec![
        (
            "encoder.fc1.weight".into(),
            vec![3, 2],
            vec![1.0, -2.0, 3.5, 0.25, -0.0, 7.0],
        ),
        ("encoder.fc1.bias".into(), vec![3], vec![0.1, 0.2, 0.3]),
        ("loggamma".into(), vec![1], vec![-1.5]),
    ]
}

#[test]
fn checkpoints_open_with_the_safetensors_library() {
    let t = tempdir("st");
    let path = t.path().join("c.safetensors");
    let mut md = BTreeMap::new();
    md.insert("step".to_string(), "42".to_string());
    write_safetensors(&path, &tensors(), &md).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    for (name, shape, data) in tensors() {
        let v = st.tensor(&name).unwrap();
        assert_eq!(v.dtype(), safetensors::Dtype::F32);
        assert_eq!(v.shape(), &shape[..]);
        let got: Vec<f32> = v
            .data()
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, data, "{name}");
    }
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(meta.metadata().as_ref().unwrap()["step"], "42");
    // And our reader reads it back exactly.
    let back = read_safetensors(&path).unwrap();
    assert_eq!(back.metadata["step"], "42");
    assert_eq!(back.tensors["loggamma"], (vec![1], vec![-1.5]));
    // The header-only reader agrees.
    assert_eq!(vae_gpu::train::checkpoint::read_step(&path).unwrap(), 42);
    // Written atomically: no temporary file is left behind.
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
}

#[test]
fn damaged_checkpoints_are_refused_naming_the_file() {
    let t = tempdir("st-bad");
    let path = t.path().join("c.safetensors");
    write_safetensors(&path, &tensors(), &BTreeMap::new()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "truncated data",
            good[..good.len() - 4].to_vec(),
            "truncated",
        ),
        ("truncated header", good[..20].to_vec(), "header claims"),
        ("tiny", good[..3].to_vec(), "too short"),
        (
            "garbage header",
            {
                let mut b = good.clone();
                b[9] = b'#';
                b
            },
            "unreadable safetensors header",
        ),
    ];
    for (what, bytes, want) in cases {
        std::fs::write(&path, bytes).unwrap();
        let e = read_safetensors(&path)
            .err()
            .unwrap_or_else(|| panic!("{what} accepted"))
            .to_string();
        assert!(
            e.contains("c.safetensors") && e.contains(want),
            "{what}: {e}"
        );
        // The header-only step reader refuses the same files, naming the file.
        let e = vae_gpu::train::checkpoint::read_step(&path)
            .err()
            .unwrap_or_else(|| panic!("{what} accepted by read_step"))
            .to_string();
        assert!(e.contains("c.safetensors"), "{what}: {e}");
    }
}

/// Eval-mode drawing debiases the batch-norm running averages for the steps taken, and puts
/// the stored values back afterwards (so grids drawn mid-run never perturb training).
#[test]
fn debiased_running_averages_are_used_for_drawing_and_then_restored() {
    use vae_gpu::data::Split;
    use vae_gpu::models::{Likelihood, NetKind, Regularizer};
    use vae_gpu::pipelines::config::{Length, ModelKind, RunConfig, StageConfig};
    let gpu = vae_gpu::Gpu::new(&vae_gpu::Selection::from_env()).unwrap();
    let cfg = RunConfig {
        data: "shapes".into(),
        split: Split::Test,
        image_size: Some(8),
        crop: None,
        limit: Some(16),
        model: ModelKind::Vae,
        net: NetKind::InfoGan,
        pixelcnn: None,
        sequence_steps: None,
        mi_every: None,
        mi_images: 1000,
        latent_dim: 2,
        likelihood: Likelihood::GaussianLearned,
        regularizer: Regularizer::Kl,
        mmd_kernel: None,
        beta: 1.0,
        geco: None,
        batch_size: 4,
        seed: 1,
        log_every: 1,
        checkpoint_every: 1,
        checkpoint_minutes: 5.0,
        sample_every: None,
        keep_checkpoints: 1,
        stage1: StageConfig {
            lr: 1e-3,
            lr_halve_every: None,
            length: Length::Steps(1),
        },
        stage2: None,
    };
    let run = vae_gpu::pipelines::Run::new(&gpu, cfg).unwrap();
    let s = &run.stage1;
    let (mean, var) = ("encoder.bn2.running_mean", "encoder.bn2.running_var");
    let stored = |name: &str| {
        s.store
            .states()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .to_vec()
            .unwrap()
    };
    let c = stored(mean).len();
    s.store.set_state(mean, &vec![0.5; c]).unwrap();
    s.store.set_state(var, &vec![2.0; c]).unwrap();
    let steps = 10;
    let mt = (vae_gpu::models::REFERENCE_BN.momentum as f64).powi(steps);
    let (inside_mean, inside_var) = s
        .with_debiased_bn(steps as u64, || Ok((stored(mean), stored(var))))
        .unwrap();
    for (m, v) in inside_mean.iter().zip(&inside_var) {
        // Computed in f64 and rounded to f32 once: within 1e-6 relative.
        assert!((*m as f64 - 0.5 / (1.0 - mt)).abs() < 1e-6 * 0.5 / (1.0 - mt));
        assert!((*v as f64 - (2.0 - mt) / (1.0 - mt)).abs() < 1e-6 * (2.0 - mt) / (1.0 - mt));
    }
    assert_eq!(stored(mean), vec![0.5; c]);
    assert_eq!(stored(var), vec![2.0; c]);
}

/// A run written before stage 2 existed (docs/runs/fashion-mnist-400, vae-gpu 0.1.0 of
/// 2026-11-21) still reads: a single-stage run with the default time-based checkpoints.
#[test]
fn a_config_written_before_stage_two_still_reads() {
    use vae_gpu::pipelines::config::ModelKind;
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/runs/fashion-mnist-400"
    ));
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(!text.contains("\"model\""), "the file predates --model");
    let cfg = vae_gpu::pipelines::config_file::read(dir).unwrap().train;
    assert_eq!(cfg.model, ModelKind::Vae);
    assert!(cfg.stage2.is_none());
    assert_eq!(cfg.checkpoint_minutes, 5.0);
    assert_eq!(cfg.stage1.lr as f32, 1e-3f32, "the f32 it was written from");
}

/// A store of two parameters and a batch-norm state with Adam, all set to known values.
fn known_store(gpu: &std::sync::Arc<vae_gpu::Gpu>) -> (vae_gpu::nn::ParamStore, vae_gpu::nn::Adam) {
    use vae_gpu::nn::{Adam, Init, ParamsBuilder};
    let mut b = ParamsBuilder::new(7);
    b.param("layer.w", &[2, 3], Init::Zeros);
    b.param("layer.b", &[3], Init::Zeros);
    b.state("bn.running_var", &[3], 1.0);
    let store = b.build(gpu).unwrap();
    let adam = Adam::new(&store, vae_gpu::kernels::adam::AdamConfig::default()).unwrap();
    (store, adam)
}

/// The known values: θ, m and v over the flat buffer (parameters at 64-element-aligned
/// offsets), and the state.
fn known_values(n: usize) -> [Vec<f32>; 3] {
    let v = |k: f32| (0..n).map(|i| k * (i as f32 + 1.0)).collect::<Vec<f32>>();
    [v(0.5), v(-0.25), v(0.125)]
}

const OLD_CHECKPOINT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/kernels-tests/fixtures/checkpoint-2026-12-07.safetensors"
);

/// A checkpoint written before checkpoints were read through the safetensors crate
/// (kernels-tests/fixtures, written on 2026-12-07 and kept as it was): it still loads, every
/// value and the metadata as written.
#[test]
fn checkpoints_written_before_the_crate_reader_still_load() {
    let gpu = vae_gpu::Gpu::new(&vae_gpu::Selection::from_env()).unwrap();
    let (store, mut adam) = known_store(&gpu);
    // The fixture holds θ, m and v of `known_values` (as `checkpoint::save` wrote them after
    // set_flat, set_state([2, 3, 4]) and adam.restore(m, v, 5)), at step 17, seed 3.
    let [theta, m, v] = known_values(store.flat_values().numel());
    let meta =
        vae_gpu::train::checkpoint::load(OLD_CHECKPOINT.as_ref(), &store, Some(&mut adam)).unwrap();
    assert_eq!((meta.step, meta.adam_steps, meta.seed), (17, 5, 3));
    let stored: Vec<f32> = store.flat_values().to_vec().unwrap();
    for p in store.params() {
        let at = p.offset..p.offset + p.shape.iter().product::<usize>();
        assert_eq!(stored[at.clone()], theta[at], "{}", p.name);
    }
    let (m2, v2, t) = adam.state();
    assert_eq!(t, 5);
    let (m2, v2) = (m2.to_vec().unwrap(), v2.to_vec().unwrap());
    for p in store.params() {
        let at = p.offset..p.offset + p.shape.iter().product::<usize>();
        assert_eq!(m2[at.clone()], m[at.clone()], "m {}", p.name);
        assert_eq!(v2[at.clone()], v[at], "v {}", p.name);
    }
    let state = store.states().find(|s| s.0 == "bn.running_var").unwrap();
    assert_eq!(state.1.to_vec().unwrap(), [2.0, 3.0, 4.0]);
}
