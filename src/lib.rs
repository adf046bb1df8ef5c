//! vae-gpu: variational autoencoders on any wgpu adapter, with hand-written WGSL kernels.
//!
//! Layers, bottom to top; a module uses only modules on layers below its own (checked on the
//! source by `kernels-tests/layers.rs`, which also refuses two modules importing each other):
//! 1. `error`; `text` (durations and suggestions for people); `atomic` (atomic file writes).
//! 2. `gpu` (adapter, device, recorder, pool, pipelines, timing, and `gpu::route`: every
//!    kernel choice); `data` (datasets); `run_dir` (a run directory's files, atomic writes).
//! 3. `tensor` (device tensors and views, with the fill and strided-copy kernels every tensor
//!    needs); `grid` (image grids as PNG).
//! 4. `kernels` (each shader's dispatch and its f64 CPU reference).
//! 5. `params` (the parameter registry, read by the tape and filled by layers); `check` (the
//!    conformance suite shared by `vae-gpu check` and `kernels-tests/`).
//! 6. `autograd` (the tape and its backward rules).
//! 7. `nn` (layers, Adam, batch-norm debiasing).
//! 8. `models` (the papers' networks and objectives, and inference).
//! 9. `train` (the loop every model shares, checkpoints); `bench` (kernel and step timings).
//! 10. `pipelines` (the papers' procedures: a run, the two-stage VAE, the feature classifier).
//! 11. `eval` (the papers' diagnostics on a run).
//! 12. `report` (the HTML page, from a run's files alone); `reproduce` (the papers'
//!     comparisons as plans of runs, and their tables).
//! 13. `cli` (the binary's commands).

pub mod atomic;
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
pub mod params;
pub mod pipelines;
pub mod report;
pub mod reproduce;
pub mod run_dir;
pub mod tensor;
pub mod text;
pub mod train;

pub use error::{Error, Result};
pub use gpu::{Gpu, Selection};
pub use tensor::Tensor;
pub mod bench;
