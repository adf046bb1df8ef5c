//! vae-gpu: variational autoencoders on any wgpu adapter, with hand-written WGSL kernels.
//!
//! Layers, bottom to top (no arrow points up):
//! `gpu` (adapter, device, pool, pipelines, timing) → `tensor` (device tensors, shapes)
//! → `kernels` (each shader's dispatch and CPU reference) → `autograd` (the tape) and
//! `nn` (parameters, layers, Adam) → `models` (the papers' networks and objectives, and
//! inference) → `train` (the loop every model shares) → `pipelines` (the papers'
//! procedures: a run, the two-stage VAE) → `eval` (the papers' diagnostics on a run) →
//! `report` (the HTML page, from a run's files alone) → `cli`; `reproduce` (the papers'
//! comparisons as plans of runs, and their tables) sits beside `report`. `check` (the conformance suite shared by
//! `vae-gpu check` and `kernels-tests/`) sits beside; `data` is used by `train` and above.

pub mod autograd;
pub mod check;
pub mod data;
pub mod error;
pub mod eval;
pub mod gpu;
pub mod grid;
pub mod kernels;
pub mod models;
pub mod nn;
pub mod pipelines;
pub mod report;
pub mod reproduce;
pub mod tensor;
pub mod train;

pub use error::{Error, Result};
pub use gpu::{Gpu, Selection};
pub use tensor::Tensor;
pub mod bench;
