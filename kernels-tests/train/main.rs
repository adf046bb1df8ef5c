//! `vae-gpu train` and what it stands on: datasets and their bad inputs, checkpoints, and
//! whole runs of the binary (run directory, exact resume, Ctrl-C, divergence, bad flags,
//! sample and reconstruct).

mod checkpoint;
mod data;
mod objectives;
mod runs;

use std::path::PathBuf;

/// A fresh empty folder under the target directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
