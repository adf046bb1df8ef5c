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

/// llvmpipe (lavapipe and Mesa's GL) runs 8 invocations per register even where the CPU has
/// AVX-512: Mesa caps `LP_NATIVE_VECTOR_WIDTH` at 256 bits unless the variable says otherwise.
/// At 512 bits 16 invocations share a register, the subgroup is 16 lanes, and
/// matmul_tex_sg's multiply-adds take half the instructions while its loads of A stay shared:
/// on an AMD EPYC (Zen 5) the stage-1 step ran 243–323 ms against 386–411 ms at 256 bits on
/// lavapipe, in three alternating pairs; GL (no subgroups there, so matmul_tex) was unchanged.
/// So where the CPU has AVX-512F and the user has not set the variable, this process asks for
/// 512 bits; `LP_NATIVE_VECTOR_WIDTH=256` keeps Mesa's default. Done first, like the above.
fn wide_llvmpipe_vectors() {
    #[cfg(target_arch = "x86_64")]
    if std::env::var_os("LP_NATIVE_VECTOR_WIDTH").is_none()
        && std::arch::is_x86_feature_detected!("avx512f")
    {
        std::env::set_var("LP_NATIVE_VECTOR_WIDTH", "512");
    }
}

fn main() {
    let runtime_dir = quiet_wayland_probe();
    wide_llvmpipe_vectors();
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
