//! Seeded random inputs, kept both as the f32 the GPU gets and the f64 the reference gets
//! (the same values exactly, so differences come from GPU arithmetic alone).

use std::sync::Arc;

use rand::{rngs::StdRng, RngExt, SeedableRng};

use crate::error::Result;
use crate::gpu::Gpu;
use crate::tensor::Tensor;

pub struct Rng(StdRng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(StdRng::seed_from_u64(seed))
    }

    pub fn data(&mut self, shape: &[usize], lo: f32, hi: f32) -> Data {
        let n: usize = shape.iter().product();
        let f: Vec<f32> = (0..n).map(|_| self.0.random_range(lo..hi)).collect();
        Data::new(f, shape)
    }

    /// Draws of N(0, std²) (Box–Muller on two uniforms).
    pub fn normal(&mut self, shape: &[usize], std: f64) -> Data {
        let n: usize = shape.iter().product();
        let f: Vec<f32> = (0..n)
            .map(|_| {
                let u: f64 = self.0.random_range(f64::EPSILON..1.0);
                let v: f64 = self.0.random();
                (std * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect();
        Data::new(f, shape)
    }
}

#[derive(Clone)]
pub struct Data {
    pub f32: Vec<f32>,
    pub f64: Vec<f64>,
    pub shape: Vec<usize>,
}

impl Data {
    pub fn new(f: Vec<f32>, shape: &[usize]) -> Self {
        Data {
            f64: f.iter().map(|&v| v as f64).collect(),
            f32: f,
            shape: shape.to_vec(),
        }
    }

    pub fn upload(&self, gpu: &Arc<Gpu>) -> Result<Tensor> {
        Tensor::from_slice(gpu, &self.f32, &self.shape)
    }

    /// The data as a view `offset` elements into a larger buffer whose other elements are
    /// NaN, so a kernel that ignores the offset reads garbage and fails.
    pub fn upload_at(&self, gpu: &Arc<Gpu>, offset: usize) -> Result<Tensor> {
        let mut v = vec![f32::NAN; offset];
        v.extend_from_slice(&self.f32);
        v.extend([f32::NAN; 3]);
        let n = v.len();
        Tensor::from_slice(gpu, &v, &[n])?
            .narrow0(offset, self.f32.len())?
            .reshape(&self.shape)
    }

    /// |x| elementwise, for the magnitude Σ|terms| that accumulation tolerances scale with.
    pub fn abs(&self) -> Vec<f64> {
        self.f64.iter().map(|v| v.abs()).collect()
    }
}
