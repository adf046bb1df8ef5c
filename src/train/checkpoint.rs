//! Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON
//! header of name → {dtype, shape, data_offsets} plus string `__metadata__`, then the raw
//! little-endian data), so `safetensors.numpy.load_file` or `safetensors.torch.load_file`
//! opens them; read back through the safetensors crate. Tensors: every parameter under its registry name, the batch-norm running
//! averages under theirs, and Adam's moments as `optimizer.m.NAME` / `optimizer.v.NAME`.
//! Metadata: the step, Adam's step count, and the seed. That is all the random state there
//! is: ε is Philox keyed by (seed, step) and epoch e's order is drawn from (seed, e).

use crate::error::{Error, Result};
use crate::nn::{Adam, ParamStore};
use crate::run_dir::write_atomic;
use safetensors::tensor::{Metadata, SafeTensorError};
use safetensors::Dtype;
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "vae-gpu-checkpoint/1";

/// What `load` reads back besides the tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// Training steps completed.
    pub step: u64,
    pub adam_steps: u64,
    pub seed: u64,
}

/// Writes (name, shape, values) tensors and string metadata as a safetensors file. Written
/// here rather than by the safetensors crate, whose writer puts `__metadata__` in the order of
/// a randomly seeded hash map: two identical runs would write different bytes, and exact
/// resume is checked on the bytes. The crate reads every file back (`read_safetensors`).
pub fn write_safetensors(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let mut header = serde_json::Map::new();
    header.insert(
        "__metadata__".into(),
        serde_json::to_value(metadata).unwrap(),
    );
    let mut offset = 0usize;
    for (name, shape, data) in tensors {
        let end = offset + data.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut head = serde_json::Value::Object(header).to_string().into_bytes();
    // Pad the header with spaces so the data starts 8-byte aligned, as the format advises.
    head.resize(head.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + head.len() + offset);
    bytes.extend((head.len() as u64).to_le_bytes());
    bytes.extend(head);
    for (_, _, data) in tensors {
        bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    }
    write_atomic(path, &bytes)
}

/// A parsed safetensors file: metadata and F32 tensors by name.
pub struct SafeTensors {
    pub metadata: BTreeMap<String, String>,
    pub tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

/// The safetensors crate's refusal of a file, in words that say what is wrong with it.
fn refusal(path: &Path, e: SafeTensorError) -> Error {
    let why = match e {
        SafeTensorError::HeaderTooSmall => "too short for a safetensors header (truncated?)".into(),
        SafeTensorError::InvalidHeaderLength => {
            "the header claims more bytes than the file has (truncated or not safetensors)".into()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            "the data bytes and the tensors' extents differ (truncated?)".into()
        }
        SafeTensorError::InvalidHeader(e) => format!("unreadable safetensors header: {e}"),
        SafeTensorError::InvalidHeaderDeserialization(e) => {
            format!("unreadable safetensors header: {e}")
        }
        e => format!("not a readable safetensors file: {e}"),
    };
    Error::data(path, why)
}

/// The metadata of a parsed header, as a sorted map.
fn metadata(m: &Metadata) -> BTreeMap<String, String> {
    m.metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

pub fn read_safetensors(path: &Path) -> Result<SafeTensors> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| refusal(path, e))?;
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| refusal(path, e))?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::data(
                path,
                format!(
                    "tensor {name} has dtype {:?}; vae-gpu writes F32",
                    view.dtype()
                ),
            ));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), values));
    }
    Ok(SafeTensors {
        metadata: metadata(&meta),
        tensors,
    })
}

/// The step a checkpoint was written at, from its header alone (a checkpoint of a large
/// model with its Adam moments is hundreds of MiB; its step is a few bytes). The header is
/// parsed and checked by the safetensors crate, and its tensors' extent against the file's
/// length, so a truncated file is refused here as `read_safetensors` would refuse it.
pub fn read_step(path: &Path) -> Result<u64> {
    use std::io::Read;
    let bad = |d: String| Error::data(path, d);
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut n = [0u8; 8];
    f.read_exact(&mut n)
        .map_err(|_| refusal(path, SafeTensorError::HeaderTooSmall))?;
    let n = u64::from_le_bytes(n);
    if n > len.saturating_sub(8) {
        return Err(refusal(path, SafeTensorError::InvalidHeaderLength));
    }
    let mut head = vec![0u8; n as usize];
    f.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    let meta: Metadata = serde_json::from_slice(&head)
        .map_err(|e| bad(format!("unreadable safetensors header: {e}")))?;
    if 8 + n + meta.data_len() as u64 != len {
        return Err(refusal(path, SafeTensorError::MetadataIncompleteBuffer));
    }
    metadata(&meta)
        .get("step")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("metadata 'step' missing or not a number".into()))
}

fn slice(flat: &[f32], offset: usize, shape: &[usize]) -> Vec<f32> {
    flat[offset..offset + shape.iter().product::<usize>()].to_vec()
}

/// Saves parameters, state and (if given) Adam's moments and step count, after `step`
/// training steps of a run seeded with `seed`.
pub fn save(
    path: &Path,
    store: &ParamStore,
    adam: Option<&Adam>,
    step: u64,
    seed: u64,
) -> Result<()> {
    let values = store.flat_values().to_vec()?;
    let mut tensors = Vec::new();
    for p in store.params() {
        tensors.push((
            p.name.clone(),
            p.shape.clone(),
            slice(&values, p.offset, &p.shape),
        ));
    }
    for (name, t) in store.states() {
        tensors.push((name.to_string(), t.shape().to_vec(), t.to_vec()?));
    }
    let mut adam_steps = 0;
    if let Some(adam) = adam {
        let (m, v, t) = adam.state();
        let (m, v) = (m.to_vec()?, v.to_vec()?);
        adam_steps = t;
        for p in store.params() {
            tensors.push((
                format!("optimizer.m.{}", p.name),
                p.shape.clone(),
                slice(&m, p.offset, &p.shape),
            ));
            tensors.push((
                format!("optimizer.v.{}", p.name),
                p.shape.clone(),
                slice(&v, p.offset, &p.shape),
            ));
        }
    }
    let mut md = BTreeMap::new();
    md.insert("format".to_string(), FORMAT.to_string());
    md.insert("step".to_string(), step.to_string());
    md.insert("adam_steps".to_string(), adam_steps.to_string());
    md.insert("seed".to_string(), seed.to_string());
    write_safetensors(path, &tensors, &md)
}

/// Loads a checkpoint into `store` (and `adam`, when given), checking that every tensor is
/// present with its registered shape. Returns the metadata.
pub fn load(path: &Path, store: &ParamStore, adam: Option<&mut Adam>) -> Result<Meta> {
    let st = read_safetensors(path)?;
    let bad = |d: String| Error::data(path, d);
    if st.metadata.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(bad(format!(
            "not a vae-gpu checkpoint (metadata format is {:?}, want {FORMAT})",
            st.metadata.get("format")
        )));
    }
    let num = |k: &str| -> Result<u64> {
        st.metadata
            .get(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("metadata '{k}' missing or not a number")))
    };
    let meta = Meta {
        step: num("step")?,
        adam_steps: num("adam_steps")?,
        seed: num("seed")?,
    };
    let get = |name: &str, shape: &[usize]| -> Result<&Vec<f32>> {
        match st.tensors.get(name) {
            Some((s, v)) if s == shape => Ok(v),
            Some((s, _)) => Err(bad(format!("tensor {name} has shape {s:?}; the model's is {shape:?} (a different network or size?)"))),
            None => Err(bad(format!("tensor {name} is missing (a different network?)"))),
        }
    };
    let total = store.flat_values().numel();
    let fill = |prefix: &str| -> Result<Vec<f32>> {
        let mut flat = vec![0.0f32; total];
        for p in store.params() {
            let v = get(&format!("{prefix}{}", p.name), &p.shape)?;
            flat[p.offset..p.offset + v.len()].copy_from_slice(v);
        }
        Ok(flat)
    };
    store.set_flat(&fill("")?)?;
    let states: Vec<(String, Vec<usize>)> = store
        .states()
        .map(|(n, t)| (n.to_string(), t.shape().to_vec()))
        .collect();
    for (name, shape) in states {
        store.set_state(&name, get(&name, &shape)?)?;
    }
    if let Some(adam) = adam {
        adam.restore(
            &fill("optimizer.m.")?,
            &fill("optimizer.v.")?,
            meta.adam_steps,
        )?;
    }
    Ok(meta)
}

/// Before `path` is overwritten: moves it to `run_dir::KEPT`/STEM-step-N.safetensors (N its
/// step) and removes the oldest kept ones of that stem beyond `keep`.
pub fn keep_previous(path: &Path, keep: usize) -> Result<()> {
    if !path.is_file() {
        return Ok(());
    }
    let dir = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(crate::run_dir::KEPT);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let step = read_step(path)?;
    let kept = dir.join(format!("{stem}-step-{step}.safetensors"));
    std::fs::rename(path, &kept).map_err(|e| Error::io(&kept, e))?;
    let prefix = format!("{stem}-step-");
    let mut steps: Vec<(u64, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_string();
            let n = name
                .strip_prefix(&prefix)?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .collect();
    steps.sort();
    let excess = steps.len().saturating_sub(keep);
    for (_, p) in &steps[..excess] {
        std::fs::remove_file(p).map_err(|e| Error::io(p, e))?;
    }
    Ok(())
}
