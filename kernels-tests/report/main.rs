//! `vae-gpu report` and `vae-gpu reproduce` as a user runs them: pages from real runs (the
//! recorded ones in docs/runs, and tiny ones trained here on Fashion-MNIST), checked by an
//! HTML validator (Debian's tidy) and rendered in a real browser (Debian's chromium), and
//! reproductions end to end: interrupted and resumed, sharded and collected, bad input.

mod page;
mod reproduce;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// Runs take the whole (software) GPU, so they go one at a time.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[path = "../tempdir.rs"]
mod tempdir;
pub use tempdir::tempdir;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where Fashion-MNIST is (tools/fetch-data.sh puts it in ./data; Debian's package in
/// /usr/share/datasets): the tests train on the real data, so its absence is a failure.
pub fn data_root() -> PathBuf {
    for root in [repo().join("data"), PathBuf::from("/usr/share/datasets")] {
        if root
            .join("fashion-mnist/train-images-idx3-ubyte.gz")
            .is_file()
        {
            return root;
        }
    }
    panic!("Fashion-MNIST is not installed: run `bash tools/fetch-data.sh fashion-mnist` (tools/test.sh does)");
}

pub fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vae-gpu"));
    c.current_dir(cwd)
        .args(args)
        .env("VAE_GPU_DATA", data_root());
    c
}

pub fn vae_gpu(cwd: &Path, args: &[&str]) -> Output {
    command(cwd, args).output().expect("run vae-gpu")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// Every file under `dir` (relative paths) with its bytes: what a failed command must leave
/// as it was.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}
