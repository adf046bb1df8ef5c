mod cli;

use std::path::PathBuf;

/// Mesa's Vulkan and EGL drivers probe for a Wayland runtime directory while the adapters
/// are enumerated and print "error: XDG_RUNTIME_DIR is invalid or not set" when there is
/// none, which a user reads as a failure of vae-gpu. vae-gpu draws nothing on a screen, so
/// when the variable names no directory it gets a private empty one for this process
/// (returned, to be removed at exit). Done first, while the process has one thread:
/// changing the environment later would race with other threads reading it.
fn quiet_wayland_probe() -> Option<PathBuf> {
    let valid = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| PathBuf::from(d).is_dir());
    if valid {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("vae-gpu-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    std::env::set_var("XDG_RUNTIME_DIR", &dir);
    Some(dir)
}

fn main() {
    let runtime_dir = quiet_wayland_probe();
    let code = match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vae-gpu: {e}");
            1
        }
    };
    if let Some(d) = runtime_dir {
        let _ = std::fs::remove_dir_all(d);
    }
    std::process::exit(code);
}
