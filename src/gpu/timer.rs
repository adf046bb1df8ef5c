//! GPU timestamps around each dispatch, for benchmarks. Each timed dispatch gets
//! its own pass with a begin and an end timestamp; the sum of (end − begin) is
//! the time the kernels ran, free of submit and readback overhead.

use super::Gpu;
use crate::error::{Error, Result};

pub(super) struct Recording {
    set: wgpu::QuerySet,
    capacity: u32,
    used: u32,
}

/// Summed kernel time of the timed dispatches.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub seconds: f64,
    pub dispatches: u32,
}

impl Recording {
    pub(super) fn new(device: &wgpu::Device, max_dispatches: u32) -> Self {
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timing"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * max_dispatches,
        });
        Recording {
            set,
            capacity: max_dispatches,
            used: 0,
        }
    }

    /// Timestamp writes for the next pass, or `None` once the set is full.
    pub(super) fn next_pass(&mut self) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.used == self.capacity {
            return None;
        }
        let i = self.used;
        self.used += 1;
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &self.set,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        })
    }

    pub(super) fn finish(self, gpu: &Gpu) -> Result<Timing> {
        if self.used == 0 {
            return Err(Error::Device("no dispatch was timed".into()));
        }
        let bytes = 16 * self.used as u64;
        let resolve = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamps"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut enc = gpu.device.create_command_encoder(&Default::default());
        enc.resolve_query_set(&self.set, 0..2 * self.used, &resolve, 0);
        gpu.queue.submit([enc.finish()]);
        let raw = gpu.read(&resolve, 0, bytes)?;
        let ticks: &[u64] = bytemuck::cast_slice(&raw);
        let period_ns = gpu.queue.get_timestamp_period() as f64;
        let total: u64 = ticks.chunks(2).map(|p| p[1].saturating_sub(p[0])).sum();
        Ok(Timing {
            seconds: total as f64 * period_ns * 1e-9,
            dispatches: self.used,
        })
    }
}
