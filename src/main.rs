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

/// Mesa keys llvmpipe's on-disk shader cache on the driver build and the CPU but not on
/// `LP_NATIVE_VECTOR_WIDTH` (Mesa 22.3.6, `lp_disk_cache_create`), so a kernel compiled at one
/// width is loaded unchanged by a later process at another: after a run at 512 bits, a run at
/// 256 executes the 16-lane code of every kernel whose source did not change with the width,
/// and the setting seems to do little. So unless the user names a cache
/// (`MESA_SHADER_CACHE_DIR`), vae-gpu keeps its own, one per width, in
/// `~/.cache/vae-gpu/mesa-lp-<width>` (`mesa-lp-default` where the variable is unset). Done first,
/// like the above.
fn shader_cache_per_vector_width() {
    if std::env::var_os("MESA_SHADER_CACHE_DIR").is_some() {
        return;
    }
    // Mesa makes only the last folder of the path: the one above must exist.
    let Some(cache) =
        vae_gpu::gpu::tuned::cache_dir().filter(|d| std::fs::create_dir_all(d).is_ok())
    else {
        return;
    };
    let width = match std::env::var("LP_NATIVE_VECTOR_WIDTH") {
        Ok(w) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => w,
        _ => "default".to_string(),
    };
    std::env::set_var(
        "MESA_SHADER_CACHE_DIR",
        cache.join(format!("mesa-lp-{width}")),
    );
}

/// Rust ignores SIGPIPE, so once a reader such as `head` closes the pipe every later print
/// panics; with the default action the process ends quietly, as Unix tools do.
#[cfg(unix)]
fn end_quietly_on_a_closed_pipe() {
    // SAFETY: setting a signal's disposition to its default, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn end_quietly_on_a_closed_pipe() {}

fn main() {
    end_quietly_on_a_closed_pipe();
    let runtime_dir = quiet_wayland_probe();
    shader_cache_per_vector_width();
    // Exit codes: 2 for a bad flag or value (as clap's own usage errors), 1 for any other
    // failure (a file, the device, a diverged run), 130 when interrupted.
    let code = match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vae-gpu: {e}");
            if matches!(e, vae_gpu::Error::Flag { .. }) {
                2
            } else {
                1
            }
        }
    };
    if let Some(d) = runtime_dir {
        let _ = std::fs::remove_dir_all(d);
    }
    std::process::exit(code);
}
