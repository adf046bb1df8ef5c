//! Copies of buffers into pooled textures: matrices for the texture matmuls (kept within a
//! submit as snapshots), and flat runs of texels for the memory-bound kernels' reads.

use std::sync::Arc;

use super::{pool, Gpu};

/// One buffer-to-texture copy: (buffer offset, bytes per row when more than one row, first
/// texture row, width and height in texels).
type Block = (u64, Option<u32>, u32, u32, u32);

/// Texels per row of a flat texture (`Gpu::flat_texture`): a power of two, as
/// shaders/include/flat.wgsl splits an index with a mask and a shift.
pub const FLAT_ROW: u32 = 4096;

impl Gpu {
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
}
