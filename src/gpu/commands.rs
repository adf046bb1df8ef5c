//! Recording and submitting: each kernel launch goes into the open compute pass, copies end
//! it, and a flush submits everything recorded as one command buffer; reads wait for it.

use super::{kernel, recorder, shaders, Dispatch, Gpu, Recorder};
use crate::error::{Error, Result};

pub(super) fn new_encoder(device: &wgpu::Device) -> wgpu::CommandEncoder {
    device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("vae-gpu"),
    })
}

impl Gpu {
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
        // Packed parameters longer than the kernel's WGSL struct carry a field it does not
        // declare. Shorter is allowed: one struct serves several entry points of a file, and
        // the ring slot's zeros fill the fields an entry point does not read.
        if let Some(size) = kernel.params_size {
            if d.params.len() as u32 > size {
                return Err(Error::Device(format!(
                    "{}:{} declares {size} bytes of parameters, given {} (the WGSL struct and the Params packed for it disagree)",
                    d.shader,
                    d.entry,
                    d.params.len()
                )));
            }
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
    pub(super) fn encoder_for_copy<'a>(
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
}
