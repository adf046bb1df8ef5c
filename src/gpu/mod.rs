//! The device layer: adapter choice, device with downlevel limits, buffer pool,
//! pipeline cache, and a recorder that batches many dispatches into one submit.

pub mod adapter;
mod commands;
mod kernel;
mod params;
pub mod pool;
mod recorder;
pub mod route;
pub mod shaders;
mod snapshots;
mod textures;
mod timer;
pub mod tuned;

use std::sync::{Arc, Mutex};

pub use adapter::Selection;
pub(crate) use params::{groups_for, Params};
pub use pool::{FirstWrite, PoolStats, PooledBuffer, PooledTexture};
pub use route::{
    AdamVariant, Caps, ChannelSums, ConvVariant, MatmulVariant, Reads, Resolved, Routing, Variant,
};
pub use textures::FLAT_ROW;
pub use timer::Timing;

use crate::error::{Error, Result};

/// Workgroups per dimension that every adapter accepts (`downlevel_defaults`).
pub const MAX_GROUPS_PER_DIM: u32 = 65535;

/// Spreads `groups` workgroups over x and y so neither exceeds the limit.
/// Shaders recover the linear id as `wid.y * nwg.x + wid.x` and skip ids past the end.
pub fn grid(groups: u32, z: u32) -> [u32; 3] {
    let x = groups.clamp(1, MAX_GROUPS_PER_DIM);
    [x, groups.div_ceil(x).max(1), z.max(1)]
}

struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    /// The compute pass every untimed dispatch goes into, until a copy or the submit.
    pass: Option<wgpu::ComputePass<'static>>,
    uniforms: recorder::UniformRing,
    bind_groups: recorder::BindGroups,
    dispatches: u64,
    submits: u64,
    /// Copies recorded (buffer to buffer, into textures): work GPU timestamps do not bracket.
    copies: u64,
    /// The bytes those copies move.
    copied_bytes: u64,
    snapshots: snapshots::Snapshots,
    timing: Option<timer::Recording>,
    /// The last submission, for `flush_pipelined`.
    last: Option<wgpu::SubmissionIndex>,
}

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// What the adapter could give (for `info`), and what the device was opened with.
    pub adapter_limits: wgpu::Limits,
    pub adapter_features: wgpu::Features,
    /// What routing rests on, gathered when the device opened.
    pub caps: Caps,
    /// Every kernel choice, and where each came from (`route::resolve`).
    pub resolved: Resolved,
    pool: Arc<pool::Pool>,
    kernels: Mutex<kernel::Kernels>,
    recorder: Mutex<Recorder>,
    device_error: Arc<Mutex<Option<String>>>,
}

thread_local! {
    /// This thread's routing overrides, by device (`Gpu::scoped`), innermost last.
    static SCOPED: std::cell::RefCell<Vec<(usize, Routing)>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Whether this thread's new tensors start poisoned (`Gpu::poisoned`).
    static POISON: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One kernel launch: uniform `params` at binding 0, `buffers` at bindings 1.. in order.
pub struct Dispatch<'a> {
    pub shader: &'static str,
    pub entry: &'static str,
    pub consts: &'a [(&'static str, u32)],
    pub params: &'a [u8],
    pub buffers: &'a [&'a wgpu::Buffer],
    /// Sampled textures, at the bindings after the buffers.
    pub textures: &'a [&'a wgpu::TextureView],
    pub groups: [u32; 3],
}

impl Gpu {
    /// Opens the best adapter matching `sel`.
    pub fn new(sel: &Selection) -> Result<Arc<Gpu>> {
        let adapter = adapter::choose(sel)?;
        Self::from_adapter(adapter)
    }

    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<Arc<Gpu>> {
        let info = adapter.get_info();
        let adapter_limits = adapter.limits();
        let adapter_features = adapter.features();
        // Kernels are written for the integrated-graphics baseline; only buffer sizes
        // (how big a tensor may be, not how kernels are shaped) take the adapter's values.
        let mut limits = wgpu::Limits::downlevel_defaults();
        limits.max_buffer_size = adapter_limits.max_buffer_size;
        limits.max_storage_buffer_binding_size = adapter_limits.max_storage_buffer_binding_size;
        // Matrices as textures (matmul_tex) are as tall as K: take the adapter's 2-D limit.
        limits.max_texture_dimension_2d = adapter_limits.max_texture_dimension_2d;
        // Timestamps are optional: used by benchmarks when present, never required; so are
        // subgroups, used by one matmul where their size is fixed.
        let features =
            adapter_features & (wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::SUBGROUP);
        let subgroup_size = (features.contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == info.subgroup_max_size
            && info.subgroup_min_size.is_power_of_two()
            && (8..=64).contains(&info.subgroup_min_size))
        .then_some(info.subgroup_min_size);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("vae-gpu"),
            required_features: features,
            required_limits: limits,
            ..Default::default()
        }))
        .map_err(|e| Error::Device(format!("{} refused the device: {e}", info.name)))?;

        // Record validation errors instead of panicking; `flush` turns them into `Error::Device`.
        let device_error = Arc::new(Mutex::new(None));
        let sink = Arc::clone(&device_error);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().unwrap().get_or_insert_with(|| e.to_string());
        }));

        let caps = Caps {
            cpu_rasteriser: info.device_type == wgpu::DeviceType::Cpu,
            subgroup_size,
            host_avx512: adapter::host_cpu_has_avx512(),
            max_texture_2d: device.limits().max_texture_dimension_2d,
            timestamps: features.contains(wgpu::Features::TIMESTAMP_QUERY),
        };
        let resolved = route::resolve(&caps, tuned::lookup(&info)?.as_ref())?;
        Ok(Arc::new(Gpu {
            device,
            queue,
            info,
            adapter_limits,
            adapter_features,
            caps,
            resolved,
            pool: Arc::new(pool::Pool::default()),
            kernels: Mutex::new(kernel::Kernels::default()),
            recorder: Mutex::new(Recorder {
                encoder: None,
                pass: None,
                uniforms: Default::default(),
                bind_groups: Default::default(),
                dispatches: 0,
                submits: 0,
                copies: 0,
                copied_bytes: 0,
                snapshots: Default::default(),
                timing: None,
                last: None,
            }),
            device_error,
        }))
    }

    /// The matmul variants that run their own kernel here (`Subgroup` needs a subgroup size).
    pub fn matmul_variants(&self) -> impl Iterator<Item = MatmulVariant> + '_ {
        MatmulVariant::all()
            .iter()
            .copied()
            .filter(|&v| self.caps.runs(v))
    }

    /// The kernel choices in force on this thread: the device's, or the innermost `scoped` change.
    pub fn routing(&self) -> Routing {
        let id = self as *const Gpu as usize;
        SCOPED
            .with(|s| {
                s.borrow()
                    .iter()
                    .rev()
                    .find(|(g, _)| *g == id)
                    .map(|(_, r)| *r)
            })
            .unwrap_or(self.resolved.routing)
    }

    /// Runs `f` with this thread's kernel choices changed by `change` (a conformance case
    /// checking a path the adapter would not take, a benchmark timing each): other threads keep
    /// theirs.
    pub fn scoped<T>(&self, change: impl FnOnce(Routing) -> Routing, f: impl FnOnce() -> T) -> T {
        let id = self as *const Gpu as usize;
        let r = change(self.routing());
        SCOPED.with(|s| s.borrow_mut().push((id, r)));
        struct Pop;
        impl Drop for Pop {
            fn drop(&mut self) {
                SCOPED.with(|s| s.borrow_mut().pop());
            }
        }
        let _pop = Pop;
        f()
    }

    pub fn has_timestamps(&self) -> bool {
        self.device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// Runs `f` with every tensor this thread allocates filled with NaN before use, so a kernel
    /// that leaves an element unwritten fails its comparison instead of passing on stale data.
    pub fn poisoned<T>(f: impl FnOnce() -> T) -> T {
        let was = POISON.with(|p| p.replace(true));
        struct Restore(bool);
        impl Drop for Restore {
            fn drop(&mut self) {
                POISON.with(|p| p.set(self.0));
            }
        }
        let _restore = Restore(was);
        f()
    }

    /// Whether this thread's new tensors start poisoned (`poisoned`).
    pub fn poison() -> bool {
        POISON.with(|p| p.get())
    }

    /// A storage buffer of at least `bytes`; `first` says whether a recorded command or the
    /// host writes it first (see `pool`).
    pub fn alloc(&self, bytes: u64, first: FirstWrite) -> Result<PooledBuffer> {
        let max = self.device.limits().max_storage_buffer_binding_size;
        if bytes > max {
            return Err(Error::Device(format!(
                "a buffer of {bytes} bytes exceeds this adapter's limit of {max} bytes per binding"
            )));
        }
        Ok(self.pool.get(&self.device, bytes, first))
    }

    /// Ends a phase (encoding a dataset, an evaluation): submits, waits, and gives the pool's
    /// idle memory back to the device. Returns the bytes given back.
    pub fn trim(&self) -> Result<u64> {
        self.sync()?;
        self.recorder.lock().unwrap().bind_groups.clear();
        Ok(self.pool.trim())
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Bind groups created since the device opened: flat once a loop's buffers are pooled.
    pub fn bind_groups_created(&self) -> u64 {
        self.recorder.lock().unwrap().bind_groups.created
    }

    /// (copies recorded, bytes they move) since the device opened.
    pub fn copies(&self) -> (u64, u64) {
        let r = self.recorder.lock().unwrap();
        (r.copies, r.copied_bytes)
    }

    /// (dispatches recorded, submits made) since the device opened.
    pub fn counters(&self) -> (u64, u64) {
        let r = self.recorder.lock().unwrap();
        (r.dispatches, r.submits)
    }

    /// Starts timing every dispatch recorded from now on with GPU timestamps
    /// (when the adapter has them; `None` otherwise).
    pub fn begin_timing(&self, max_dispatches: u32) -> Option<()> {
        if !self.has_timestamps() {
            return None;
        }
        self.recorder.lock().unwrap().timing =
            Some(timer::Recording::new(&self.device, max_dispatches));
        Some(())
    }

    /// Ends timing: submits, waits, and returns the summed GPU time of the timed dispatches.
    pub fn end_timing(&self) -> Result<Timing> {
        self.flush()?;
        let rec = self.recorder.lock().unwrap().timing.take();
        match rec {
            Some(r) => r.finish(self),
            None => Err(Error::Device("end_timing without begin_timing".into())),
        }
    }
}
