//! Matrix snapshots kept for reuse within one submit. A model's weights are copied into a
//! texture for the forward matmul and again, unchanged, for the backward one (dx = dy·W reads
//! the same stored matrix as y = x·Wᵀ); on llvmpipe such a copy is a single-threaded copy on
//! the queue's thread (BENCHMARKS.md, Xeon SPR), 51 MB a step for the stage-1 network's two large weights. So the
//! snapshots of buffers registered with `Gpu::keep_snapshots` (the parameter store, and a
//! transposed convolution's im2col columns between its two backward products) stay until a
//! recorded command writes that buffer, `release_snapshots` drops it, or the submit ends. Host writes need no
//! rule: `write_buffer` lands at the start of the submit, before every command in it.

use std::sync::Arc;

use super::pool::PooledTexture;

/// (byte offset, rows, columns) of a snapshot's matrix in its buffer.
pub(super) type Region = (u64, u32, u32);

#[derive(Default)]
pub(super) struct Snapshots {
    /// Buffers whose snapshots are kept.
    keep: Vec<wgpu::Buffer>,
    kept: Vec<(wgpu::Buffer, Region, Arc<PooledTexture>)>,
}

impl Snapshots {
    pub(super) fn keep(&mut self, buffer: &wgpu::Buffer) {
        if !self.keep.contains(buffer) {
            self.keep.push(buffer.clone());
        }
    }

    pub(super) fn release(&mut self, buffer: &wgpu::Buffer) {
        self.keep.retain(|b| b != buffer);
        self.written(buffer);
    }

    pub(super) fn find(&self, buffer: &wgpu::Buffer, region: Region) -> Option<Arc<PooledTexture>> {
        self.kept
            .iter()
            .find(|(b, r, _)| b == buffer && *r == region)
            .map(|k| Arc::clone(&k.2))
    }

    /// Keeps `tex` if its buffer is one whose snapshots are kept.
    pub(super) fn insert(
        &mut self,
        buffer: &wgpu::Buffer,
        region: Region,
        tex: &Arc<PooledTexture>,
    ) {
        if self.keep.contains(buffer) {
            self.kept.push((buffer.clone(), region, Arc::clone(tex)));
        }
    }

    /// A recorded command writes `buffer`: its snapshots are stale from here on.
    pub(super) fn written(&mut self, buffer: &wgpu::Buffer) {
        self.kept.retain(|(b, _, _)| b != buffer);
    }

    /// The submit ends: the textures go back to the pool.
    pub(super) fn clear(&mut self) {
        self.kept.clear();
    }
}
