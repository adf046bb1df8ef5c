//! The papers' diagnostics, one file each, and `evaluate`, which runs them on a trained run
//! (`vae-gpu eval`). Each diagnostic takes plain inputs (host slices or device tensors) so
//! it can be tested on inputs whose answer is known.

pub mod active;
pub mod document;
pub mod evaluate;
pub mod frechet;
pub mod information;
pub mod likelihood;
pub mod mmd;
pub mod plane;
pub mod sharpness;
pub mod spectrum;
