//! A fresh empty folder for a test, under the target directory, removed when dropped
//! (tempfile's); shared by the test crates that run the binary (`#[path]`-included).

pub fn tempdir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary folder under the target directory")
}
