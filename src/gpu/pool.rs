//! Buffer pool. A steady-state loop (same shapes every step) allocates nothing
//! new: freed buffers are kept by (usage, size) and handed out again.
//!
//! A buffer freed while commands that use it are still being recorded must not
//! be reused before those commands are submitted: `queue.write_buffer` lands at
//! the *start* of the next submit, ahead of commands already recorded. So a
//! freed buffer waits in `pending` until `Gpu::flush` submits, then becomes free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Storage,
    Uniform,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers created with `device.create_buffer` since the device opened.
    pub created: u64,
    /// Requests served from the free list.
    pub reused: u64,
    /// Bytes of all buffers the pool owns (live and free).
    pub bytes: u64,
    /// The largest `bytes` seen.
    pub peak_bytes: u64,
}

#[derive(Default)]
struct State {
    free: HashMap<(Kind, u64), Vec<wgpu::Buffer>>,
    /// rgba32float textures by (width, height): written only by recorded copies, so one
    /// returned after its dispatch is recorded can be reused by the next at once.
    textures: HashMap<(u32, u32), Vec<(wgpu::Texture, wgpu::TextureView)>>,
    pending: Vec<((Kind, u64), wgpu::Buffer)>,
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
    key: (Kind, u64),
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
            self.pool.state.lock().unwrap().pending.push((self.key, b));
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
                    usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
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

    pub fn get(self: &Arc<Self>, device: &wgpu::Device, kind: Kind, bytes: u64) -> PooledBuffer {
        let key = (kind, size_class(bytes));
        let mut st = self.state.lock().unwrap();
        let buffer = match st.free.get_mut(&key).and_then(|v| v.pop()) {
            Some(b) => {
                st.stats.reused += 1;
                b
            }
            None => {
                st.stats.created += 1;
                st.stats.bytes += key.1;
                st.stats.peak_bytes = st.stats.peak_bytes.max(st.stats.bytes);
                let usage = match kind {
                    Kind::Storage => {
                        wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_SRC
                            | wgpu::BufferUsages::COPY_DST
                    }
                    Kind::Uniform => wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                };
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: key.1,
                    usage,
                    mapped_at_creation: false,
                })
            }
        };
        PooledBuffer {
            buffer: Some(buffer),
            key,
            pool: Arc::clone(self),
        }
    }

    /// Called right after a submit: buffers freed before it may be reused now.
    pub fn release_pending(&self) {
        let mut st = self.state.lock().unwrap();
        let pending = std::mem::take(&mut st.pending);
        for (key, b) in pending {
            st.free.entry(key).or_default().push(b);
        }
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
