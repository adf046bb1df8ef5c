//! Device tensors: an f32 buffer from the pool plus shape, strides and an
//! element offset. Views (transpose, broadcast) share the buffer; kernels that
//! need dense data call `contiguous()`, which copies only when needed. The tensor owns the
//! two kernels every tensor needs: `fill` and the strided map that copies a view (`map`).

pub mod fill;
pub(crate) mod map;
pub mod shape;
pub(crate) mod view;

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::{FirstWrite, Gpu, PooledBuffer};
pub use shape::{broadcast_shapes, contiguous_strides, numel};

#[derive(Clone)]
pub struct Tensor {
    gpu: Arc<Gpu>,
    buf: Arc<PooledBuffer>,
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor{:?}", self.shape)
    }
}

/// The NaN pattern that poisoned buffers hold (a quiet NaN no kernel produces by chance).
pub const POISON_BITS: u32 = 0x7fc0_dead;

impl Tensor {
    fn alloc(gpu: &Arc<Gpu>, shape: &[usize], first: FirstWrite) -> Result<Tensor> {
        let bytes = (numel(shape).max(1) * 4) as u64;
        let buf = Arc::new(gpu.alloc(bytes, first)?);
        Ok(Tensor {
            gpu: Arc::clone(gpu),
            buf,
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        })
    }

    /// Uninitialised contiguous tensor (NaN-filled when the device is in poison mode).
    pub fn empty(gpu: &Arc<Gpu>, shape: &[usize]) -> Result<Tensor> {
        let t = Tensor::alloc(gpu, shape, FirstWrite::Device)?;
        if Gpu::poison() {
            fill::fill_bits(&t, POISON_BITS)?;
        }
        Ok(t)
    }

    pub fn from_slice(gpu: &Arc<Gpu>, data: &[f32], shape: &[usize]) -> Result<Tensor> {
        if data.len() != numel(shape) {
            return Err(Error::shape(
                "from_slice",
                format!(
                    "{} values cannot fill shape {shape:?} ({} elements)",
                    data.len(),
                    numel(shape)
                ),
            ));
        }
        // Not `empty`: a poison fill is a recorded command, and `write_buffer` lands
        // before recorded commands, so the fill would overwrite the upload.
        let t = Tensor::alloc(gpu, shape, FirstWrite::Host)?;
        if !data.is_empty() {
            gpu.queue
                .write_buffer(t.buf.raw(), 0, bytemuck::cast_slice(data));
        }
        Ok(t)
    }

    pub fn full(gpu: &Arc<Gpu>, shape: &[usize], value: f32) -> Result<Tensor> {
        let t = Tensor::empty(gpu, shape)?;
        fill::fill_bits(&t, value.to_bits())?;
        Ok(t)
    }

    pub fn zeros(gpu: &Arc<Gpu>, shape: &[usize]) -> Result<Tensor> {
        Tensor::full(gpu, shape, 0.0)
    }

    /// Downloads the tensor (submitting pending work first). Strided views are made dense first.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        let t = self.contiguous()?;
        if t.numel() == 0 {
            return Ok(Vec::new());
        }
        let raw = self
            .gpu
            .read(t.buf.raw(), (t.offset * 4) as u64, (t.numel() * 4) as u64)?;
        Ok(bytemuck::pod_collect_to_vec(&raw))
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        &self.gpu
    }
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }
    pub fn offset(&self) -> usize {
        self.offset
    }
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.buf.raw()
    }

    pub fn is_contiguous(&self) -> bool {
        self.shape
            .iter()
            .zip(&self.strides)
            .zip(contiguous_strides(&self.shape))
            .all(|((&d, &s), c)| d == 1 || s == c)
    }

    /// Dense copy if this is a strided view, else a cheap clone.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            Ok(self.clone())
        } else {
            map::map(self, "copy", map::COPY)
        }
    }

    /// Same data, new shape. Views are made dense first.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return Err(Error::shape(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} elements) to {shape:?} ({} elements)",
                    self.shape,
                    self.numel(),
                    numel(shape)
                ),
            ));
        }
        let t = self.contiguous()?;
        Ok(Tensor {
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            ..t
        })
    }

    /// Swaps two dims (a view: no copy).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Tensor> {
        let r = self.shape.len();
        if a >= r || b >= r {
            return Err(Error::shape(
                "transpose",
                format!("dims {a} and {b} of a rank-{r} tensor {:?}", self.shape),
            ));
        }
        let mut t = self.clone();
        t.shape.swap(a, b);
        t.strides.swap(a, b);
        Ok(t)
    }

    /// A stride-0 view of this tensor as `shape` (NumPy rules; no copy).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let strides =
            shape::broadcast_strides(&self.shape, &self.strides, shape).ok_or_else(|| {
                Error::shape(
                    "broadcast_to",
                    format!("{:?} cannot broadcast to {shape:?}", self.shape),
                )
            })?;
        Ok(Tensor {
            shape: shape.to_vec(),
            strides,
            ..self.clone()
        })
    }

    /// Elements `start..start+len` of dim 0 (a view).
    pub fn narrow0(&self, start: usize, len: usize) -> Result<Tensor> {
        if self.shape.is_empty() {
            return Err(Error::shape("narrow", "a scalar has no dim 0"));
        }
        self.narrow(0, start, len)
    }

    /// Elements `start..start+len` of dim `dim` (a view).
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Tensor> {
        let d = *self.shape.get(dim).ok_or_else(|| {
            Error::shape(
                "narrow",
                format!("dim {dim} of a rank-{} tensor", self.shape.len()),
            )
        })?;
        if start + len > d {
            return Err(Error::shape(
                "narrow",
                format!(
                    "elements {start}..{} of dim {dim} of {:?}",
                    start + len,
                    self.shape
                ),
            ));
        }
        let mut t = self.clone();
        t.offset += start * self.strides[dim];
        t.shape[dim] = len;
        Ok(t)
    }
}
