//! vae-gpu: variational autoencoders on any wgpu adapter, with hand-written WGSL kernels.
//!
//! Layers, bottom to top (no arrow points up):
//! `gpu` (adapter, device, pool, pipelines, timing) → `tensor` (device tensors, shapes)
//! → `kernels` (each shader's dispatch and CPU reference) → `autograd` (the tape) and
//! `nn` (parameters, layers, Adam) → `models` (the papers' networks and objectives)
//! → `check` (the conformance suite shared by `vae-gpu check` and `kernels-tests/`) → `cli`.

pub mod autograd;
pub mod check;
pub mod data;
pub mod error;
pub mod gpu;
pub mod grid;
pub mod kernels;
pub mod models;
pub mod nn;
pub mod tensor;
pub mod train;

pub use error::{Error, Result};
pub use gpu::{Gpu, Selection};
pub use tensor::Tensor;
pub mod bench;
