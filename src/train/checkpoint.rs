//! Checkpoints in the safetensors format (an 8-byte little-endian header length, a JSON
//! header of name → {dtype, shape, data_offsets} plus string `__metadata__`, then the raw
//! little-endian data), so `safetensors.numpy.load_file` or `safetensors.torch.load_file`
//! opens them. Tensors: every parameter under its registry name, the batch-norm running
//! averages under theirs, and Adam's moments as `optimizer.m.NAME` / `optimizer.v.NAME`.
//! Metadata: the step, Adam's step count, and the seed. That is all the random state there
//! is: ε is Philox keyed by (seed, step) and epoch e's order is drawn from (seed, e).

use crate::error::{Error, Result};
use crate::nn::{Adam, ParamStore};
use crate::run_dir::write_atomic;
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

/// Writes (name, shape, values) tensors and string metadata as a safetensors file.
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

/// A JSON array of non-negative integers.
fn sizes(v: &serde_json::Value) -> Option<Vec<usize>> {
    v.as_array()?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect()
}

pub fn read_safetensors(path: &Path) -> Result<SafeTensors> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |d: String| Error::data(path, d);
    if bytes.len() < 8 {
        return Err(bad(format!(
            "{} bytes: too short for a safetensors header (truncated?)",
            bytes.len()
        )));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    if n > (bytes.len() - 8) as u64 {
        return Err(bad(format!(
            "header claims {n} bytes but the file has {} after the length (truncated or not safetensors)",
            bytes.len() - 8
        )));
    }
    let data = &bytes[8 + n as usize..];
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n as usize])
        .map_err(|e| bad(format!("unreadable safetensors header: {e}")))?;
    let obj = header
        .as_object()
        .ok_or_else(|| bad("the safetensors header is not a JSON object".into()))?;
    let mut metadata = BTreeMap::new();
    let mut tensors = BTreeMap::new();
    let mut end_max = 0usize;
    for (name, v) in obj {
        if name == "__metadata__" {
            for (k, val) in v.as_object().into_iter().flatten() {
                metadata.insert(k.clone(), val.as_str().unwrap_or_default().to_string());
            }
            continue;
        }
        let dtype = v["dtype"].as_str().unwrap_or("");
        if dtype != "F32" {
            return Err(bad(format!(
                "tensor {name} has dtype '{dtype}'; vae-gpu writes F32"
            )));
        }
        let shape = sizes(&v["shape"]).ok_or_else(|| bad(format!("tensor {name} has no shape")))?;
        let offs = sizes(&v["data_offsets"]).unwrap_or_default();
        let numel: usize = shape.iter().product();
        match offs[..] {
            [a, b] if a <= b && b <= data.len() && b - a == numel * 4 => {
                let vals = data[a..b]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                end_max = end_max.max(b);
                tensors.insert(name.clone(), (shape, vals));
            }
            _ => {
                return Err(bad(format!(
                    "tensor {name}: data_offsets {offs:?} do not hold {numel} F32 values within the {} data bytes (truncated?)",
                    data.len()
                )))
            }
        }
    }
    if end_max != data.len() {
        return Err(bad(format!(
            "{} data bytes but the tensors cover {end_max}",
            data.len()
        )));
    }
    Ok(SafeTensors { metadata, tensors })
}

/// The step a checkpoint was written at, from its header alone (a checkpoint of a large
/// model with its Adam moments is hundreds of MiB; its step is a few bytes). The header's
/// tensor extents are checked against the file's length, so a truncated file is refused
/// here as `read_safetensors` would refuse it.
pub fn read_step(path: &Path) -> Result<u64> {
    use std::io::Read;
    let bad = |d: String| Error::data(path, d);
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut n = [0u8; 8];
    f.read_exact(&mut n).map_err(|_| {
        bad(format!(
            "{len} bytes: too short for a safetensors header (truncated?)"
        ))
    })?;
    let n = u64::from_le_bytes(n);
    if n > len.saturating_sub(8) {
        return Err(bad(format!(
            "header claims {n} bytes but the file has {} after the length (truncated or not safetensors)",
            len.saturating_sub(8)
        )));
    }
    let mut head = vec![0u8; n as usize];
    f.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
    let header: serde_json::Value = serde_json::from_slice(&head)
        .map_err(|e| bad(format!("unreadable safetensors header: {e}")))?;
    let end = header
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| sizes(&v["data_offsets"]).and_then(|o| o.get(1).copied()))
        .max()
        .unwrap_or(0) as u64;
    if 8 + n + end != len {
        return Err(bad(format!(
            "{} data bytes but the tensors cover {end} (truncated?)",
            len - 8 - n
        )));
    }
    header["__metadata__"]["step"]
        .as_str()
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
