//! Compiled kernels, looked up by a typed key (no string formatting per dispatch). Each
//! kernel's bind-group layout is built from naga's reflection of its entry point, and kernels
//! with the same signature share one layout, so they can share bind groups too. Binding 0,
//! the uniform parameters, is a dynamic-offset slot of the recorder's uniform ring.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use super::shaders::{self, Slot};
use crate::error::{Error, Result};

/// The most specialisation constants one pipeline takes (matmul_tex_sg in CONV mode has
/// sixteen: its block and a layer's geometry).
pub const MAX_CONSTS: usize = 16;

/// Bytes of uniform parameters one dispatch may carry: one slot of the uniform ring, which is
/// also the smallest dynamic-offset alignment every adapter accepts.
pub const PARAMS_SLOT: u64 = 256;

/// Identifies one pipeline: a shader, an entry point and its specialisation constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    shader: &'static str,
    entry: &'static str,
    consts: [(&'static str, u32); MAX_CONSTS],
    n_consts: usize,
}

impl Key {
    pub fn new(
        shader: &'static str,
        entry: &'static str,
        consts: &[(&'static str, u32)],
    ) -> Result<Key> {
        if consts.len() > MAX_CONSTS {
            return Err(Error::Device(format!(
                "{shader}:{entry} has {} specialisation constants, more than {MAX_CONSTS}",
                consts.len()
            )));
        }
        let mut k = Key {
            shader,
            entry,
            consts: [("", 0); MAX_CONSTS],
            n_consts: consts.len(),
        };
        k.consts[..consts.len()].copy_from_slice(consts);
        Ok(k)
    }

    pub fn consts(&self) -> &[(&'static str, u32)] {
        &self.consts[..self.n_consts]
    }
}

/// A bind-group layout and the slots it declares after binding 0.
pub struct Layout {
    /// Index in the cache, part of a bind group's identity.
    pub id: usize,
    pub bgl: wgpu::BindGroupLayout,
    pub slots: Vec<Slot>,
}

pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: Arc<Layout>,
    /// Bytes of the uniform struct at binding 0, where the entry point reads one.
    pub params_size: Option<u32>,
}

#[derive(Default)]
pub struct Kernels {
    by_key: HashMap<Key, Arc<Kernel>>,
    layouts: HashMap<Vec<Slot>, Arc<Layout>>,
}

impl Kernels {
    /// The kernel for `key`, compiled on first use.
    pub fn get(&mut self, device: &wgpu::Device, key: &Key) -> Result<Arc<Kernel>> {
        if let Some(k) = self.by_key.get(key) {
            return Ok(Arc::clone(k));
        }
        let (file, src) = shaders::lookup(key.shader)?;
        let src = shaders::specialize(file, &src, key.consts())?;
        let (module, info) = shaders::validate(file, &src)?;
        let slots = shaders::signature(file, &module, &info, key.entry)?;
        let params_size = shaders::params_size(file, &module, &info, key.entry)?;
        let next_id = self.layouts.len();
        let layout = Arc::clone(
            self.layouts
                .entry(slots.clone())
                .or_insert_with(|| Arc::new(layout(device, next_id, slots))),
        );
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(file),
            source: wgpu::ShaderSource::Wgsl(src.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(key.shader),
            bind_group_layouts: &[Some(&layout.bgl)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key.entry),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(key.entry),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Shader {
                file,
                message: format!("entry point {}: {e}", key.entry),
            });
        }
        let k = Arc::new(Kernel {
            pipeline,
            layout,
            params_size,
        });
        self.by_key.insert(*key, Arc::clone(&k));
        Ok(k)
    }
}

fn layout(device: &wgpu::Device, id: usize, slots: Vec<Slot>) -> Layout {
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: true,
            min_binding_size: NonZeroU64::new(PARAMS_SLOT),
        },
        count: None,
    }];
    for (i, slot) in slots.iter().enumerate() {
        let ty = match slot {
            Slot::Read | Slot::ReadWrite => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage {
                    read_only: *slot == Slot::Read,
                },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            Slot::Texture => wgpu::BindingType::StorageTexture {
                access: wgpu::StorageTextureAccess::ReadOnly,
                format: wgpu::TextureFormat::Rgba32Float,
                view_dimension: wgpu::TextureViewDimension::D2,
            },
        };
        entries.push(wgpu::BindGroupLayoutEntry {
            binding: 1 + i as u32,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        });
    }
    let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: None,
        entries: &entries,
    });
    Layout { id, bgl, slots }
}
