//! Buffer pool. A steady-state loop (same shapes every step) allocates nothing
//! new: freed buffers are kept by size and handed out again.
//!
//! A buffer freed while commands that use it are still being recorded goes to
//! `recycled`. The next tensor a kernel writes may take it at once: recorded
//! commands run in order, so its new writes land after its old reads. A host
//! upload may not: `queue.write_buffer` lands at the *start* of the next submit,
//! ahead of the commands already recorded. So uploads take only buffers from
//! `free`, and `recycled` joins `free` when `Gpu::flush` submits. A step's
//! activations and temporaries thus share memory instead of all coexisting.
//!
//! Each size hands out its lowest-numbered idle buffer: the same sequence of
//! requests from the same idle set gets the same buffers, so a training loop's
//! steps bind identical buffers and the runtime's bind-group cache always hits.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Who writes a buffer first: a recorded command, or the host (`write_buffer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstWrite {
    Device,
    Host,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created with `device.create_buffer` since the device opened.
    pub created: u64,
    /// Requests served from the free list.
    pub reused: u64,
    /// Requests served from buffers freed earlier in the same recording.
    pub recycled: u64,
    /// Bytes of all buffers and textures the pool owns (live and free).
    pub bytes: u64,
    /// The largest `bytes` seen.
    pub peak_bytes: u64,
}

/// Idle buffers of one size, by creation number.
type Idle = HashMap<u64, BTreeMap<u64, wgpu::Buffer>>;

#[derive(Default)]
struct State {
    free: Idle,
    recycled: Idle,
    next_id: u64,
    /// rgba32float textures by (width, height): written only by recorded copies, so one
    /// returned after its dispatch is recorded can be reused by the next at once.
    textures: HashMap<(u32, u32), Vec<(wgpu::Texture, wgpu::TextureView)>>,
    stats: PoolStats,
}

#[derive(Default)]
pub struct Pool {
    state: Mutex<State>,
}

/// Rounds sizes up so that near-equal requests share buffers: 256 B granules
/// up to 64 KiB, then 1/16 of the power of two (at most 6 % waste).
fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(16);
    if b <= 1 << 16 {
        return b.div_ceil(256) * 256;
    }
    let step = b.next_power_of_two() / 16;
    b.div_ceil(step) * step
}

/// A pooled buffer: returned to the pool's pending list when dropped.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    id: u64,
    size: u64,
    pool: Arc<Pool>,
}

impl PooledBuffer {
    pub fn raw(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("buffer present until drop")
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            let mut st = self.pool.state.lock().unwrap();
            st.recycled.entry(self.size).or_default().insert(self.id, b);
        }
    }
}

/// A pooled texture and its view: back to the pool when dropped.
pub struct PooledTexture {
    texture: Option<(wgpu::Texture, wgpu::TextureView)>,
    pool: Arc<Pool>,
}

impl PooledTexture {
    pub fn raw(&self) -> &wgpu::Texture {
        &self.texture.as_ref().expect("texture present until drop").0
    }
    pub fn view(&self) -> &wgpu::TextureView {
        &self.texture.as_ref().expect("texture present until drop").1
    }
}

impl Drop for PooledTexture {
    fn drop(&mut self) {
        if let Some(t) = self.texture.take() {
            let size = t.0.size();
            let key = (size.width, size.height);
            self.pool
                .state
                .lock()
                .unwrap()
                .textures
                .entry(key)
                .or_default()
                .push(t);
        }
    }
}

impl Pool {
    pub fn texture(self: &Arc<Self>, device: &wgpu::Device, w: u32, h: u32) -> PooledTexture {
        let mut st = self.state.lock().unwrap();
        let t = match st.textures.get_mut(&(w, h)).and_then(|v| v.pop()) {
            Some(t) => {
                st.stats.reused += 1;
                t
            }
            None => {
                st.stats.created += 1;
                st.stats.bytes += w as u64 * h as u64 * 16;
                st.stats.peak_bytes = st.stats.peak_bytes.max(st.stats.bytes);
                let texture = device.create_texture(&wgpu::TextureDescriptor {
                    label: Some("matrix"),
                    size: wgpu::Extent3d {
                        width: w,
                        height: h,
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: 1,
                    dimension: wgpu::TextureDimension::D2,
                    format: wgpu::TextureFormat::Rgba32Float,
                    usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
                    view_formats: &[],
                });
                let view = texture.create_view(&Default::default());
                (texture, view)
            }
        };
        PooledTexture {
            texture: Some(t),
            pool: Arc::clone(self),
        }
    }

    pub fn get(
        self: &Arc<Self>,
        device: &wgpu::Device,
        bytes: u64,
        first: FirstWrite,
    ) -> PooledBuffer {
        let size = size_class(bytes);
        let mut st = self.state.lock().unwrap();
        let st = &mut *st;
        let recycled = match first {
            FirstWrite::Device => st.recycled.get_mut(&size).and_then(|v| v.pop_first()),
            FirstWrite::Host => None,
        };
        let (id, buffer) = if let Some(b) = recycled {
            st.stats.recycled += 1;
            b
        } else if let Some(b) = st.free.get_mut(&size).and_then(|v| v.pop_first()) {
            st.stats.reused += 1;
            b
        } else {
            st.stats.created += 1;
            st.next_id += 1;
            st.stats.bytes += size;
            st.stats.peak_bytes = st.stats.peak_bytes.max(st.stats.bytes);
            let b = device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            (st.next_id, b)
        };
        PooledBuffer {
            buffer: Some(buffer),
            id,
            size,
            pool: Arc::clone(self),
        }
    }

    /// Called right after a submit: buffers freed before it may take uploads now.
    pub fn submitted(&self) {
        let mut st = self.state.lock().unwrap();
        let recycled = std::mem::take(&mut st.recycled);
        for (size, mut bufs) in recycled {
            st.free.entry(size).or_default().append(&mut bufs);
        }
    }

    /// Destroys every idle buffer and texture (the end of a phase: the shapes that follow
    /// differ); returns the bytes given back. Call right after a submit.
    pub fn trim(&self) -> u64 {
        let mut st = self.state.lock().unwrap();
        let mut freed = 0;
        for (size, bufs) in st.free.drain() {
            freed += size * bufs.len() as u64;
        }
        for ((w, h), texs) in st.textures.drain() {
            freed += w as u64 * h as u64 * 16 * texs.len() as u64;
        }
        st.stats.bytes -= freed;
        freed
    }

    pub fn stats(&self) -> PoolStats {
        self.state.lock().unwrap().stats
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_cover_the_request_with_little_waste() {
        for bytes in [
            1u64,
            4,
            255,
            256,
            257,
            65536,
            65537,
            1 << 20,
            (1 << 20) + 1,
            123_456_789,
        ] {
            let c = size_class(bytes);
            assert!(c >= bytes, "{bytes} -> {c}");
            assert!(
                c <= bytes.max(256) + bytes / 8 + 256,
                "{bytes} -> {c} wastes too much"
            );
            assert_eq!(c % 4, 0);
        }
    }
}
