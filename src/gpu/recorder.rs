//! What one submit accumulates: the command encoder with one open compute pass, the uniform
//! ring the dispatches' parameters go into, and the bind groups cached across submits.

use std::collections::HashMap;
use std::num::NonZeroU64;

use super::kernel::{Layout, PARAMS_SLOT};

/// Bytes per uniform buffer of the ring: 1024 dispatches' parameters.
const SLAB: u64 = 1024 * PARAMS_SLOT;

/// The most buffers and textures one dispatch binds (downlevel devices allow 4 storage
/// buffers per stage; textures come on top).
pub const MAX_BINDINGS: usize = 8;

/// Parameters of the dispatches being recorded, one `PARAMS_SLOT` each, gathered on the host
/// and written with one `write_buffer` per slab when the slab fills or the recording is
/// submitted. A write lands at the start of the submit, before the dispatches that read it.
#[derive(Default)]
pub struct UniformRing {
    slabs: Vec<wgpu::Buffer>,
    current: usize,
    bytes: Vec<u8>,
}

impl UniformRing {
    /// Stores `params`; returns (slab index, dynamic offset).
    pub fn push(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        params: &[u8],
    ) -> (usize, u32) {
        if self.bytes.len() as u64 + PARAMS_SLOT > SLAB {
            self.upload(queue);
            self.current += 1;
        }
        if self.current == self.slabs.len() {
            self.slabs
                .push(device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("uniform ring"),
                    size: SLAB,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }));
        }
        let offset = self.bytes.len();
        self.bytes.extend_from_slice(params);
        self.bytes.resize(offset + PARAMS_SLOT as usize, 0);
        (self.current, offset as u32)
    }

    fn upload(&mut self, queue: &wgpu::Queue) {
        if !self.bytes.is_empty() {
            queue.write_buffer(&self.slabs[self.current], 0, &self.bytes);
            self.bytes.clear();
        }
    }

    /// Writes what is pending; the next recording starts again at slab 0.
    pub fn finish(&mut self, queue: &wgpu::Queue) {
        self.upload(queue);
        self.current = 0;
    }

    pub fn slab(&self, i: usize) -> &wgpu::Buffer {
        &self.slabs[i]
    }
}

/// A resource a dispatch binds after its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    Buffer(wgpu::Buffer),
    Texture(wgpu::TextureView),
}

/// A bind group's identity: its layout, the ring slab at binding 0, and what it binds. The
/// pool keeps buffer and texture identities stable, so a steady loop hits the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BindKey {
    pub layout: usize,
    pub slab: usize,
    pub resources: [Option<Resource>; MAX_BINDINGS],
}

/// Bind groups by identity. Each holds its buffers alive, so the cache is emptied when the
/// pool gives memory back, and whenever it grows past `MAX_BIND_GROUPS` (a loop whose
/// buffers keep changing).
#[derive(Default)]
pub struct BindGroups {
    map: HashMap<BindKey, wgpu::BindGroup>,
    /// Bind groups created since the device opened (flat in a steady loop).
    pub created: u64,
}

const MAX_BIND_GROUPS: usize = 8192;

impl BindGroups {
    pub fn get(
        &mut self,
        device: &wgpu::Device,
        layout: &Layout,
        ring: &UniformRing,
        key: BindKey,
    ) -> &wgpu::BindGroup {
        if self.map.len() >= MAX_BIND_GROUPS && !self.map.contains_key(&key) {
            self.map.clear();
        }
        let created = &mut self.created;
        self.map.entry(key).or_insert_with_key(|key| {
            *created += 1;
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: ring.slab(key.slab),
                    offset: 0,
                    size: NonZeroU64::new(PARAMS_SLOT),
                }),
            }];
            for (i, r) in key.resources.iter().flatten().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: 1 + i as u32,
                    resource: match r {
                        Resource::Buffer(b) => b.as_entire_binding(),
                        Resource::Texture(t) => wgpu::BindingResource::TextureView(t),
                    },
                });
            }
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &layout.bgl,
                entries: &entries,
            })
        })
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}
