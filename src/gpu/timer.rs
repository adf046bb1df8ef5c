//! GPU timestamps around each dispatch, for benchmarks. Each timed dispatch gets
//! its own pass with a begin and an end timestamp; the sum of (end − begin) is
//! the time the kernels ran, free of submit and readback overhead.

use super::Gpu;
use crate::error::{Error, Result};

pub(super) struct Recording {
    set: wgpu::QuerySet,
    capacity: u32,
    used: u32,
    labels: Vec<(&'static str, &'static str)>,
}

/// Summed kernel time of the timed dispatches, and its split by kernel entry point.
#[derive(Clone, Debug)]
pub struct Timing {
    pub seconds: f64,
    pub dispatches: u32,
    /// ((shader, entry point), seconds, dispatches), most expensive first.
    pub by_kernel: Vec<((&'static str, &'static str), f64, u32)>,
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
            labels: Vec::new(),
        }
    }

    /// Timestamp writes for the next pass, or `None` once the set is full.
    pub(super) fn next_pass(
        &mut self,
        label: (&'static str, &'static str),
    ) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        if self.used == self.capacity {
            return None;
        }
        self.labels.push(label);
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
        let secs: Vec<f64> = ticks
            .chunks(2)
            .map(|p| p[1].saturating_sub(p[0]) as f64 * period_ns * 1e-9)
            .collect();
        let mut by_kernel: Vec<((&'static str, &'static str), f64, u32)> = Vec::new();
        for (label, s) in self.labels.iter().zip(&secs) {
            match by_kernel.iter_mut().find(|k| k.0 == *label) {
                Some(k) => {
                    k.1 += s;
                    k.2 += 1;
                }
                None => by_kernel.push((*label, *s, 1)),
            }
        }
        by_kernel.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(Timing {
            seconds: secs.iter().sum(),
            dispatches: self.used,
            by_kernel,
        })
    }
}
