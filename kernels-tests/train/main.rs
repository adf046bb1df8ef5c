//! `vae-gpu train` and what it stands on: datasets and their bad inputs, checkpoints, and
//! whole runs of the binary (run directory, exact resume, Ctrl-C, divergence, bad flags,
//! sample and reconstruct).

mod checkpoint;
mod data;
mod objectives;
mod pixelcnn;
mod runs;
mod sequential;

#[path = "../tempdir.rs"]
mod tempdir;
pub use tempdir::tempdir;
