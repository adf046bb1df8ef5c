//! The device layer: adapter choice, device with downlevel limits, buffer pool,
//! pipeline cache, and a recorder that batches many dispatches into one submit.

pub mod adapter;
mod kernel;
mod params;
pub mod pool;
mod recorder;
pub mod route;
pub mod shaders;
mod snapshots;
mod timer;
pub mod tuned;

use std::sync::{Arc, Mutex};

pub use adapter::Selection;
pub(crate) use params::{groups_for, Params};
pub use pool::{FirstWrite, PoolStats, PooledBuffer, PooledTexture};
pub use route::{
    AdamVariant, Caps, ChannelSums, ConvVariant, MatmulVariant, Reads, Resolved, Routing, Variant,
};
pub use timer::Timing;

use crate::error::{Error, Result};

fn new_encoder(device: &wgpu::Device) -> wgpu::CommandEncoder {
    device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("vae-gpu"),
    })
}

/// Workgroups per dimension that every adapter accepts (`downlevel_defaults`).
pub const MAX_GROUPS_PER_DIM: u32 = 65535;

/// Spreads `groups` workgroups over x and y so neither exceeds the limit.
/// Shaders recover the linear id as `wid.y * nwg.x + wid.x` and skip ids past the end.
pub fn grid(groups: u32, z: u32) -> [u32; 3] {
    let x = groups.clamp(1, MAX_GROUPS_PER_DIM);
    [x, groups.div_ceil(x).max(1), z.max(1)]
}

/// One buffer-to-texture copy: (buffer offset, bytes per row when more than one row, first
/// texture row, width and height in texels).
type Block = (u64, Option<u32>, u32, u32, u32);

/// Texels per row of a flat texture (`Gpu::flat_texture`): a power of two, as
/// shaders/include/flat.wgsl splits an index with a mask and a shift.
pub const FLAT_ROW: u32 = 4096;

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

    /// Records one kernel launch into the open compute pass (nothing is submitted).
    pub fn dispatch(&self, d: &Dispatch) -> Result<()> {
        let key = kernel::Key::new(d.shader, d.entry, d.consts)?;
        let kernel = self.kernels.lock().unwrap().get(&self.device, &key)?;
        let slots = &kernel.layout.slots;
        let n = d.buffers.len() + d.textures.len();
        let textures_last = slots
            .iter()
            .enumerate()
            .all(|(i, s)| (*s == shaders::Slot::Texture) == (i >= d.buffers.len()));
        if n != slots.len() || !textures_last || n > recorder::MAX_BINDINGS {
            return Err(Error::Device(format!(
                "{}:{} binds {slots:?}, given {} buffers and {} textures",
                d.shader,
                d.entry,
                d.buffers.len(),
                d.textures.len()
            )));
        }
        if d.params.len() as u64 > kernel::PARAMS_SLOT {
            return Err(Error::Device(format!(
                "{}:{} has {} bytes of parameters, more than a {}-byte slot",
                d.shader,
                d.entry,
                d.params.len(),
                kernel::PARAMS_SLOT
            )));
        }
        let mut rec = self.recorder.lock().unwrap();
        let rec = &mut *rec;
        for (b, slot) in d.buffers.iter().zip(slots) {
            if *slot == shaders::Slot::ReadWrite {
                rec.snapshots.written(b);
            }
        }
        let (slab, offset) = rec.uniforms.push(&self.device, &self.queue, d.params);
        let mut resources: [Option<recorder::Resource>; recorder::MAX_BINDINGS] =
            Default::default();
        let all = d
            .buffers
            .iter()
            .map(|b| recorder::Resource::Buffer((*b).clone()))
            .chain(
                d.textures
                    .iter()
                    .map(|t| recorder::Resource::Texture((*t).clone())),
            );
        for (slot, r) in resources.iter_mut().zip(all) {
            *slot = Some(r);
        }
        let bind_key = recorder::BindKey {
            layout: kernel.layout.id,
            slab,
            resources,
        };
        let bind_group = rec
            .bind_groups
            .get(&self.device, &kernel.layout, &rec.uniforms, bind_key);
        let encoder = rec.encoder.get_or_insert_with(|| new_encoder(&self.device));
        let timestamp_writes = rec
            .timing
            .as_mut()
            .and_then(|t| t.next_pass((d.shader, d.entry)));
        let timed = timestamp_writes.is_some();
        if timed {
            // A timed dispatch gets a pass of its own, bracketed by its timestamps.
            rec.pass = None;
            rec.pass = Some(
                encoder
                    .begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(d.entry),
                        timestamp_writes,
                    })
                    .forget_lifetime(),
            );
        }
        let pass = rec.pass.get_or_insert_with(|| {
            encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("vae-gpu"),
                    timestamp_writes: None,
                })
                .forget_lifetime()
        });
        pass.set_pipeline(&kernel.pipeline);
        pass.set_bind_group(0, bind_group, &[offset]);
        pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
        if timed {
            rec.pass = None;
        }
        rec.dispatches += 1;
        Ok(())
    }

    /// The encoder, with the open compute pass ended, for a copy of `bytes`.
    fn encoder_for_copy<'a>(
        &self,
        rec: &'a mut Recorder,
        bytes: u64,
    ) -> &'a mut wgpu::CommandEncoder {
        rec.pass = None;
        rec.copies += 1;
        rec.copied_bytes += bytes;
        rec.encoder.get_or_insert_with(|| new_encoder(&self.device))
    }

    /// Records a buffer-to-buffer copy.
    pub fn copy(
        &self,
        src: &wgpu::Buffer,
        src_off: u64,
        dst: &wgpu::Buffer,
        dst_off: u64,
        bytes: u64,
    ) {
        let mut rec = self.recorder.lock().unwrap();
        rec.snapshots.written(dst);
        self.encoder_for_copy(&mut rec, bytes)
            .copy_buffer_to_buffer(src, src_off, dst, dst_off, bytes);
    }

    /// Records a copy of a dense row-major [rows, cols] f32 matrix at byte `offset` of `src`
    /// into an rgba32float texture of (cols/4) × rows texels from the pool. Needs cols a
    /// multiple of 4 and `offset` of 16; rows of a multiple of 256 bytes (the copy's row
    /// pitch) go in one copy, narrower ones one copy per row. Of a buffer registered with
    /// `keep_snapshots`, the snapshot made earlier in the same submit where nothing has
    /// written the buffer since.
    pub fn matrix_texture(
        &self,
        src: &wgpu::Buffer,
        offset: u64,
        rows: u32,
        cols: u32,
    ) -> Arc<pool::PooledTexture> {
        let region = (offset, rows, cols);
        if let Some(tex) = self.recorder.lock().unwrap().snapshots.find(src, region) {
            return tex;
        }
        let (w, h) = (cols / 4, rows);
        let tex = self.pool.texture(&self.device, w, h);
        let pitch = cols * 4;
        let blocks: Vec<Block> = if pitch.is_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) {
            vec![(offset, Some(pitch), 0, w, h)]
        } else {
            (0..h)
                .map(|r| (offset + r as u64 * pitch as u64, None, r, w, 1))
                .collect()
        };
        self.copy_to_texture(src, &tex, &blocks);
        let tex = Arc::new(tex);
        self.recorder
            .lock()
            .unwrap()
            .snapshots
            .insert(src, region, &tex);
        tex
    }

    /// Keeps the matrix snapshots of `buffer` (a model's parameters, read by a forward and a
    /// backward matmul each) for reuse until a recorded command writes it or the submit
    /// ends; `release_snapshots` undoes it.
    pub fn keep_snapshots(&self, buffer: &wgpu::Buffer) {
        self.recorder.lock().unwrap().snapshots.keep(buffer);
    }

    pub fn release_snapshots(&self, buffer: &wgpu::Buffer) {
        self.recorder.lock().unwrap().snapshots.release(buffer);
    }

    /// Records a copy of `texels` rgba texels (4·texels f32) at byte `offset` of `src` into
    /// a pooled texture of FLAT_ROW-texel rows, read by shaders through `flat_texel`
    /// (shaders/include/flat.wgsl). None where the layout cannot: `offset` not a multiple of
    /// 16 (a copy's alignment for this format), past the buffer's end, or more rows than the
    /// adapter's 2-D limit.
    pub fn flat_texture(
        &self,
        src: &wgpu::Buffer,
        offset: u64,
        texels: u32,
    ) -> Option<pool::PooledTexture> {
        let rows = texels.div_ceil(FLAT_ROW);
        let max = self.device.limits().max_texture_dimension_2d;
        let end = offset + texels as u64 * 16;
        if !offset.is_multiple_of(16)
            || texels == 0
            || end > src.size()
            || rows > max
            || FLAT_ROW > max
        {
            return None;
        }
        let tex = self.pool.texture(&self.device, texels.min(FLAT_ROW), rows);
        // Whole rows in one copy, the last partial row in another: the copy may not read
        // past the stretch, which need not end on a row.
        let (full, rest) = (texels / FLAT_ROW, texels % FLAT_ROW);
        let pitch = FLAT_ROW * 16;
        let mut blocks: Vec<Block> = Vec::new();
        if full > 0 {
            blocks.push((offset, Some(pitch), 0, FLAT_ROW, full));
        }
        if rest > 0 {
            blocks.push((offset + full as u64 * pitch as u64, None, full, rest, 1));
        }
        self.copy_to_texture(src, &tex, &blocks);
        Some(tex)
    }

    /// Records one buffer-to-texture copy per block.
    fn copy_to_texture(&self, src: &wgpu::Buffer, tex: &pool::PooledTexture, blocks: &[Block]) {
        let mut rec = self.recorder.lock().unwrap();
        let bytes = blocks.iter().map(|b| b.3 as u64 * b.4 as u64 * 16).sum();
        let encoder = self.encoder_for_copy(&mut rec, bytes);
        for &(offset, bytes_per_row, y, width, height) in blocks {
            encoder.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: src,
                    layout: wgpu::TexelCopyBufferLayout {
                        offset,
                        bytes_per_row,
                        rows_per_image: None,
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: tex.raw(),
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d {
                    width,
                    height,
                    depth_or_array_layers: 1,
                },
            );
        }
    }

    /// Submits everything recorded so far as one command buffer.
    pub fn flush(&self) -> Result<()> {
        let mut rec = self.recorder.lock().unwrap();
        rec.pass = None;
        rec.snapshots.clear();
        rec.uniforms.finish(&self.queue);
        if let Some(enc) = rec.encoder.take() {
            rec.last = Some(self.queue.submit([enc.finish()]));
            rec.submits += 1;
        }
        // Under the recorder's lock: a buffer another thread frees after recording a read of
        // it must not take an upload before that read is submitted.
        self.pool.submitted();
        drop(rec);
        self.check_errors()
    }

    /// Submits what is recorded, then waits until the submission before it has finished:
    /// the host records step k+1 while the device runs step k, but never runs further
    /// ahead (so wall-clock rates and progress are honest, and queued work stays bounded).
    pub fn flush_pipelined(&self) -> Result<()> {
        let previous = self.recorder.lock().unwrap().last.take();
        self.flush()?;
        if let Some(index) = previous {
            self.device
                .poll(wgpu::PollType::Wait {
                    submission_index: Some(index),
                    timeout: None,
                })
                .map_err(|e| Error::Device(format!("waiting for the previous step: {e}")))?;
            return self.check_errors();
        }
        Ok(())
    }

    fn check_errors(&self) -> Result<()> {
        match self.device_error.lock().unwrap().take() {
            Some(msg) => Err(Error::Device(msg)),
            None => Ok(()),
        }
    }

    /// Submits and blocks until the device is idle.
    pub fn sync(&self) -> Result<()> {
        self.flush()?;
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device(format!("waiting for the device: {e}")))?;
        self.check_errors()
    }

    /// Copies `bytes` bytes from `src` at `offset` to the host (submits pending work first).
    pub fn read(&self, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        let padded = bytes.div_ceil(wgpu::COPY_BUFFER_ALIGNMENT) * wgpu::COPY_BUFFER_ALIGNMENT;
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: padded.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.copy(src, offset, &staging, 0, padded);
        self.flush()?;
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Device(format!("waiting for readback: {e}")))?;
        rx.recv()
            .map_err(|_| Error::Device("readback callback never ran".into()))?
            .map_err(|e| Error::Device(format!("mapping readback buffer: {e}")))?;
        let data = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Device(format!("reading mapped buffer: {e:?}")))?
            .to_vec();
        staging.unmap();
        self.check_errors()?;
        Ok(data[..bytes as usize].to_vec())
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
