//! `--out FILE` of the commands that write one file (sample, reconstruct, report): checked
//! before any work, its folder created as `train --out` creates its own.

use std::path::Path;
use vae_gpu::{Error, Result};

/// Refuses a folder or a name whose extension is not `ext` (the bytes written are `ext`'s
/// format whatever the name says), and creates the missing folders above `path`.
pub fn prepare(path: &Path, ext: &str) -> Result<()> {
    if path.is_dir() {
        return Err(Error::flag(
            "--out",
            format!(
                "{} is a folder; give a file name ending in .{ext}",
                path.display()
            ),
        ));
    }
    if !path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
    {
        return Err(Error::flag(
            "--out",
            format!(
                "{} does not end in .{ext}: this command writes {} only",
                path.display(),
                ext.to_uppercase()
            ),
        ));
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
        }
        _ => Ok(()),
    }
}
