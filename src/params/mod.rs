//! The parameter registry. Every trainable parameter of a model lives in one flat device
//! buffer (and its gradient in another), each at a 64-element-aligned offset under a stable
//! hierarchical name such as `encoder.conv1.weight` — the checkpoint keys. One buffer means
//! one Adam pass updates every parameter. Zeroing the gradients costs nothing: the first
//! gradient a parameter receives after `zero_grad` is copied in rather than added, and only
//! what no backward wrote is filled with zeros, when the buffer is read.
//! Non-trainable state (batch-norm running averages) are separate named buffers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::{rngs::StdRng, SeedableRng};

pub mod init;

use crate::error::{Error, Result};
use crate::gpu::Gpu;
use crate::kernels::{fill::fill_bits, reduce::sum_all, scatter, unary};
use crate::tensor::{numel, Tensor};
pub use init::Init;
use init::{draw, fans};

/// Offsets are multiples of this many elements (256 bytes: the vec4 matmul's alignment and
/// wgpu's storage-binding offset alignment).
const ALIGN: usize = 64;

/// A parameter of one store: the store's identity travels with the index, so a parameter of
/// one model can never be read from, or have its gradient land in, another model's store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamId {
    store: u64,
    index: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateId {
    store: u64,
    index: usize,
}

/// Each builder (and the store it becomes) gets its own identity.
static NEXT_STORE: AtomicU64 = AtomicU64::new(1);

#[derive(Clone, Debug)]
pub struct ParamInfo {
    pub name: String,
    pub shape: Vec<usize>,
    /// Element offset in the flat buffers.
    pub offset: usize,
    pub frozen: bool,
}

/// Collects parameters and state with their initial values before anything touches the GPU.
/// Values are drawn in `build`, after the size is checked against the adapter (so asking
/// for a model far too large fails at once instead of filling host memory first); the draws
/// happen in registration order, so a seed still fixes every value.
pub struct ParamsBuilder {
    uid: u64,
    seed: u64,
    params: Vec<ParamInfo>,
    inits: Vec<(Init, (usize, usize))>,
    /// Elements up to the end of the last parameter.
    len: usize,
    state: Vec<(String, Vec<usize>, f32)>,
}

impl ParamsBuilder {
    pub fn new(seed: u64) -> Self {
        ParamsBuilder {
            uid: NEXT_STORE.fetch_add(1, Ordering::Relaxed),
            seed,
            params: Vec::new(),
            inits: Vec::new(),
            len: 0,
            state: Vec::new(),
        }
    }

    fn check_name(&self, name: &str) {
        assert!(
            !self.params.iter().any(|p| p.name == name) && !self.state.iter().any(|s| s.0 == name),
            "parameter name {name} registered twice (a model-definition bug)"
        );
    }

    /// A trainable parameter. `fan` overrides the (fan_in, fan_out) that Glorot reads off the shape.
    pub fn param_with_fans(
        &mut self,
        name: &str,
        shape: &[usize],
        init: Init,
        fan: (usize, usize),
    ) -> ParamId {
        self.check_name(name);
        let offset = self.len.div_ceil(ALIGN) * ALIGN;
        self.len = offset + numel(shape);
        self.inits.push((init, fan));
        self.params.push(ParamInfo {
            name: name.to_string(),
            shape: shape.to_vec(),
            offset,
            frozen: false,
        });
        ParamId {
            store: self.uid,
            index: self.params.len() - 1,
        }
    }

    pub fn param(&mut self, name: &str, shape: &[usize], init: Init) -> ParamId {
        self.param_with_fans(name, shape, init, fans(shape))
    }

    /// Non-trainable state, filled with `value`.
    pub fn state(&mut self, name: &str, shape: &[usize], value: f32) -> StateId {
        self.check_name(name);
        self.state.push((name.to_string(), shape.to_vec(), value));
        StateId {
            store: self.uid,
            index: self.state.len() - 1,
        }
    }

    /// Parameters registered so far.
    pub fn count(&self) -> usize {
        self.params.iter().map(|p| numel(&p.shape)).sum()
    }

    pub fn build(self, gpu: &Arc<Gpu>) -> Result<ParamStore> {
        let total = self.len.div_ceil(ALIGN).max(1) * ALIGN;
        let bytes = (total * 4) as u64;
        let limit = gpu
            .device
            .limits()
            .max_storage_buffer_binding_size
            .min(gpu.device.limits().max_buffer_size);
        if bytes > limit {
            return Err(Error::Device(format!(
                "the model has {} parameters ({} MiB), more than this adapter's largest storage buffer ({} MiB); use a smaller network, image size or latent size",
                self.count(),
                bytes >> 20,
                limit >> 20
            )));
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut values = vec![0.0f32; total];
        for (p, &(init, fan)) in self.params.iter().zip(&self.inits) {
            let n = numel(&p.shape);
            values[p.offset..p.offset + n].copy_from_slice(&draw(init, n, fan, &mut rng));
        }
        let store = ParamStore {
            uid: self.uid,
            values: Tensor::from_slice(gpu, &values, &[total])?,
            grads: Tensor::zeros(gpu, &[total])?,
            unwritten: Mutex::new(vec![false; self.params.len()]),
            params: self.params,
            state: self
                .state
                .into_iter()
                .map(|(name, shape, v)| Ok((name, Tensor::full(gpu, &shape, v)?)))
                .collect::<Result<_>>()?,
        };
        // The weights' snapshots serve the forward and the backward matmuls of a step.
        gpu.keep_snapshots(store.values.buffer());
        Ok(store)
    }
}

pub struct ParamStore {
    uid: u64,
    params: Vec<ParamInfo>,
    values: Tensor,
    grads: Tensor,
    /// Per parameter: its gradient is zero since `zero_grad`, but the buffer still holds the
    /// old one.
    unwritten: Mutex<Vec<bool>>,
    state: Vec<(String, Tensor)>,
}

impl Drop for ParamStore {
    fn drop(&mut self) {
        self.values.gpu().release_snapshots(self.values.buffer());
    }
}

impl ParamStore {
    pub fn gpu(&self) -> &Arc<Gpu> {
        self.values.gpu()
    }

    pub fn params(&self) -> &[ParamInfo] {
        &self.params
    }

    pub fn ids(&self) -> impl Iterator<Item = ParamId> + '_ {
        (0..self.params.len()).map(|index| ParamId {
            store: self.uid,
            index,
        })
    }

    /// Whether `id` was registered for this store.
    pub fn owns(&self, id: ParamId) -> bool {
        id.store == self.uid
    }

    /// The index of `id` in this store; a parameter of another store is a programming error
    /// that would silently read the wrong tensor, so it panics naming both stores.
    fn index(&self, id: ParamId) -> usize {
        assert!(
            self.owns(id),
            "parameter {} of store {} used with store {}",
            id.index,
            id.store,
            self.uid
        );
        id.index
    }

    pub fn info(&self, id: ParamId) -> &ParamInfo {
        &self.params[self.index(id)]
    }

    pub fn find(&self, name: &str) -> Option<ParamId> {
        self.params
            .iter()
            .position(|p| p.name == name)
            .map(|index| ParamId {
                store: self.uid,
                index,
            })
    }

    fn view(&self, flat: &Tensor, id: ParamId) -> Tensor {
        let p = &self.params[self.index(id)];
        flat.narrow0(p.offset, numel(&p.shape))
            .and_then(|t| t.reshape(&p.shape))
            .expect("registered parameters lie inside the flat buffer")
    }

    /// The parameter's value: a view into the flat buffer (updates land in place).
    pub fn value(&self, id: ParamId) -> Tensor {
        self.view(&self.values, id)
    }

    /// Overwrites a parameter's value (checkpoint loading, tests). Lands before any work
    /// recorded afterwards.
    pub fn set_value(&self, id: ParamId, data: &[f32]) -> Result<()> {
        let p = &self.params[self.index(id)];
        if data.len() != numel(&p.shape) {
            return Err(Error::shape(
                "set_value",
                format!(
                    "{} values for {} of shape {:?}",
                    data.len(),
                    p.name,
                    p.shape
                ),
            ));
        }
        // Work already recorded must read the old values: submit it first.
        self.gpu().flush()?;
        self.gpu().queue.write_buffer(
            self.values.buffer(),
            (p.offset * 4) as u64,
            bytemuck::cast_slice(data),
        );
        Ok(())
    }

    /// Overwrites every parameter from a host copy of the flat buffer (checkpoint loading).
    pub fn set_flat(&self, data: &[f32]) -> Result<()> {
        if data.len() != self.values.numel() {
            return Err(Error::shape(
                "set_flat",
                format!(
                    "{} values for a flat buffer of {}",
                    data.len(),
                    self.values.numel()
                ),
            ));
        }
        self.gpu().flush()?;
        self.gpu()
            .queue
            .write_buffer(self.values.buffer(), 0, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Overwrites the named state tensor (running averages, from a checkpoint).
    pub fn set_state(&self, name: &str, data: &[f32]) -> Result<()> {
        let (_, t) = self
            .state
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::shape("set_state", format!("no state tensor {name}")))?;
        if data.len() != t.numel() {
            return Err(Error::shape(
                "set_state",
                format!("{} values for {name} of shape {:?}", data.len(), t.shape()),
            ));
        }
        self.gpu().flush()?;
        self.gpu().queue.write_buffer(
            t.buffer(),
            (t.offset() * 4) as u64,
            bytemuck::cast_slice(data),
        );
        Ok(())
    }

    /// The parameter's gradient: a view into the flat buffer.
    pub fn grad(&self, id: ParamId) -> Result<Tensor> {
        self.settle(self.index(id), &mut self.unwritten.lock().unwrap())?;
        Ok(self.view(&self.grads, id))
    }

    /// Writes the zeros that `zero_grad` promised parameter i, if no gradient came since.
    fn settle(&self, i: usize, unwritten: &mut [bool]) -> Result<()> {
        if unwritten[i] {
            let p = &self.params[i];
            fill_bits(&self.grads.narrow0(p.offset, numel(&p.shape))?, 0)?;
            unwritten[i] = false;
        }
        Ok(())
    }

    /// Adds g into the parameter's gradient; the first gradient after `zero_grad` is copied
    /// in (no zero fill before it, no read of the old value).
    pub fn add_grad(&self, id: ParamId, g: &Tensor) -> Result<()> {
        let i = self.index(id);
        let view = self.view(&self.grads, id);
        let mut unwritten = self.unwritten.lock().unwrap();
        if !unwritten[i] {
            return scatter::accumulate(&view, g);
        }
        if g.shape() != view.shape() {
            return Err(Error::shape(
                "add_grad",
                format!(
                    "gradient {:?} for parameter {} of shape {:?}",
                    g.shape(),
                    self.params[i].name,
                    view.shape()
                ),
            ));
        }
        let g = if g.is_contiguous() {
            g.clone()
        } else {
            unary::copy(g)?
        };
        self.gpu().copy(
            g.buffer(),
            (g.offset() * 4) as u64,
            view.buffer(),
            (view.offset() * 4) as u64,
            (g.numel() * 4) as u64,
        );
        unwritten[i] = false;
        Ok(())
    }

    /// The flat buffers (for the optimiser and checkpoints).
    pub fn flat_values(&self) -> &Tensor {
        &self.values
    }
    pub fn flat_grads(&self) -> Result<&Tensor> {
        let mut unwritten = self.unwritten.lock().unwrap();
        // All at once in one fill (padding included) when no backward ran since zero_grad.
        if unwritten.iter().all(|u| *u) {
            fill_bits(&self.grads, 0)?;
            unwritten.fill(false);
        }
        for i in 0..unwritten.len() {
            self.settle(i, &mut unwritten)?;
        }
        Ok(&self.grads)
    }

    pub fn state(&self, id: StateId) -> &Tensor {
        assert_eq!(id.store, self.uid, "state tensor of another store");
        &self.state[id.index].1
    }

    pub fn states(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.state.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Sets every gradient to zero, lazily: nothing is dispatched until the gradients are
    /// read or a backward adds to them.
    pub fn zero_grad(&self) {
        self.unwritten.lock().unwrap().fill(true);
    }

    /// Freezes (or unfreezes) every parameter whose name starts with `prefix`: the tape
    /// records no gradient for it and the optimiser skips it. Returns how many matched.
    pub fn set_frozen(&mut self, prefix: &str, frozen: bool) -> usize {
        let mut k = 0;
        for p in self
            .params
            .iter_mut()
            .filter(|p| p.name.starts_with(prefix))
        {
            p.frozen = frozen;
            k += 1;
        }
        k
    }

    pub fn is_frozen(&self, id: ParamId) -> bool {
        self.params[self.index(id)].frozen
    }

    /// Element ranges of the flat buffer that the optimiser updates: maximal runs of
    /// consecutive unfrozen parameters (one range when nothing is frozen).
    pub fn trainable_ranges(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        let mut prev_end: Option<usize> = None;
        for p in &self.params {
            if p.frozen {
                prev_end = None;
                continue;
            }
            let end = p.offset + numel(&p.shape);
            match (prev_end, out.last_mut()) {
                (Some(_), Some(last)) => last.1 = end - last.0,
                _ => out.push((p.offset, end - p.offset)),
            }
            prev_end = Some(end);
        }
        out
    }

    /// Number of trainable scalars (excluding alignment padding).
    pub fn count(&self) -> usize {
        self.params.iter().map(|p| numel(&p.shape)).sum()
    }

    /// Fails naming the first parameter whose gradient holds a NaN or infinity. Costs one
    /// reduction and a 4-byte readback when all is well (so call it between steps, not in one).
    pub fn check_grads_finite(&self) -> Result<()> {
        self.check_finite(self.flat_grads()?, "the gradient of")
    }

    /// Fails naming the first parameter or state tensor holding a NaN or infinity: checked
    /// before a checkpoint is written, so a diverged model is never saved over a good one.
    pub fn check_values_finite(&self) -> Result<()> {
        self.check_finite(&self.values, "parameter")?;
        for (name, t) in self.states() {
            if !sum_all(t, false)?.to_vec()?[0].is_finite()
                && t.to_vec()?.iter().any(|v| !v.is_finite())
            {
                return Err(Error::NonFinite(format!("state tensor {name}")));
            }
        }
        Ok(())
    }

    fn check_finite(&self, flat: &Tensor, what: &str) -> Result<()> {
        if sum_all(flat, false)?.to_vec()?[0].is_finite() {
            return Ok(());
        }
        for id in self.ids() {
            let v = self.view(flat, id).to_vec()?;
            if let Some(i) = v.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite(format!(
                    "{what} {} (element {i} is {})",
                    self.info(id).name,
                    v[i]
                )));
            }
        }
        // Finite values whose sum overflowed: not an error.
        Ok(())
    }
}
