//! Adapter discovery and choice: every backend wgpu was built with, ranked
//! discrete > integrated > virtual > other > CPU, filtered by `--backend` /
//! `WGPU_BACKEND` and `--adapter` / `WGPU_ADAPTER_NAME` (case-insensitive substring).

use crate::error::{Error, Result};

/// What the user asked for. Empty fields mean "any".
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub backend: Option<String>,
    pub adapter: Option<String>,
}

impl Selection {
    /// The selection the environment asks for (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`).
    pub fn from_env() -> Self {
        let non_empty = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Selection {
            backend: non_empty("WGPU_BACKEND"),
            adapter: non_empty("WGPU_ADAPTER_NAME"),
        }
    }

    pub fn backends(&self) -> Result<wgpu::Backends> {
        match &self.backend {
            None => Ok(wgpu::Backends::all()),
            Some(name) => parse_backends(name),
        }
    }
}

/// Parses a comma list such as `vulkan` or `gl,vulkan`, rejecting unknown names
/// (wgpu's own parser silently ignores them, which would hide a typo).
pub fn parse_backends(list: &str) -> Result<wgpu::Backends> {
    let mut out = wgpu::Backends::empty();
    for name in list.split(',').map(|s| s.trim().to_ascii_lowercase()) {
        out |= match name.as_str() {
            "vulkan" | "vk" => wgpu::Backends::VULKAN,
            "gl" | "gles" | "opengl" => wgpu::Backends::GL,
            "metal" | "mtl" => wgpu::Backends::METAL,
            "dx12" | "d3d12" => wgpu::Backends::DX12,
            "all" | "primary" => wgpu::Backends::all(),
            other => {
                return Err(Error::flag(
                    "--backend",
                    format!("unknown backend '{other}' (expected vulkan, gl, metal, dx12 or all)"),
                ))
            }
        };
    }
    Ok(out)
}

pub fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Lower is preferred.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// Every adapter on the selected backends, best first.
pub fn enumerate(sel: &Selection) -> Result<(wgpu::Instance, Vec<wgpu::Adapter>)> {
    let inst = instance(sel.backends()?);
    let mut adapters = pollster::block_on(inst.enumerate_adapters(sel.backends()?));
    adapters.sort_by_key(|a| rank(a.get_info().device_type));
    Ok((inst, adapters))
}

/// The adapter `sel` names by index: the position in the list of every backend's adapters,
/// best first, as `vae-gpu info` numbers them; it must be on a selected backend.
fn by_index(sel: &Selection, index: usize) -> Result<wgpu::Adapter> {
    let (_inst, all) = enumerate(&Selection::default())?;
    let seen: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, a)| format!("[{i}] {}", describe(a)))
        .collect();
    let Some(a) = all.into_iter().nth(index) else {
        return Err(Error::flag(
            "--adapter",
            format!(
                "there is no adapter [{index}]; the adapters are: {}",
                seen.join("; ")
            ),
        ));
    };
    if !sel.backends()?.contains(a.get_info().backend.into()) {
        return Err(Error::flag(
            "--adapter",
            format!(
                "[{index}] {} is not on the backends --backend {} selects",
                describe(&a),
                sel.backend.as_deref().unwrap_or("all")
            ),
        ));
    }
    Ok(a)
}

/// The best adapter that matches `sel` (by index when the filter is a number, else by name),
/// or an error that says how to get one.
pub fn choose(sel: &Selection) -> Result<wgpu::Adapter> {
    if let Some(i) = sel
        .adapter
        .as_deref()
        .and_then(|a| a.trim().parse::<usize>().ok())
    {
        return by_index(sel, i);
    }
    let (_inst, adapters) = enumerate(sel)?;
    let seen: Vec<String> = adapters.iter().map(describe).collect();
    let wanted = sel.adapter.as_ref().map(|s| s.to_ascii_lowercase());
    let found = adapters.into_iter().find(|a| match &wanted {
        Some(w) => a.get_info().name.to_ascii_lowercase().contains(w),
        None => true,
    });
    found.ok_or_else(|| {
        let mut msg = String::new();
        if let Some(b) = &sel.backend {
            msg += &format!("backend filter '{b}'; ");
        }
        if let Some(a) = &sel.adapter {
            msg += &format!("adapter filter '{a}'; ");
        }
        if seen.is_empty() {
            msg += "wgpu found no adapter at all. On Debian or Ubuntu, \
                    `apt-get install mesa-vulkan-drivers` gives a software Vulkan (lavapipe), \
                    and `WGPU_BACKEND=gl` uses Mesa's OpenGL through EGL.";
        } else {
            msg += &format!("adapters present: {}", seen.join("; "));
        }
        Error::NoAdapter(msg)
    })
}

pub fn describe(a: &wgpu::Adapter) -> String {
    let i = a.get_info();
    format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
}

/// Whether this process runs on a CPU with AVX-512F, for a CPU rasteriser's defaults:
/// llvmpipe's storage-buffer loads (a loop over the lanes through the stack) cost about what
/// an image load does on the two AVX-512 hosts measured (an Intel Xeon, an AMD Zen 4), so
/// copying Adam's operands into textures first mostly adds the copies, while on the AVX2-only
/// host measured they cost far more than copy plus image load (BENCHMARKS.md: Zen 1, Xeon
/// SPR, Zen 4).
pub fn host_cpu_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}
