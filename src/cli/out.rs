//! The output file of the commands that write one (sample, reconstruct, report, export): checked
//! before any work, its folder created as `train --out` creates its own.

use std::path::Path;
use vae_gpu::{Error, Result};

/// Refuses a folder or a name whose extension is not `ext` (the bytes written are `ext`'s
/// format whatever the name says), and creates the missing folders above `path`.
pub fn prepare(flag: &'static str, path: &Path, ext: &str) -> Result<()> {
    if path.is_dir() {
        return Err(Error::flag(
            flag,
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
            flag,
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
