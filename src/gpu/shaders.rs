//! The WGSL sources, compiled into the binary, and specialisation of their
//! tunable constants (tile sizes) by rewriting `const NAME: u32 = ...;` lines:
//! the files stay valid WGSL with their defaults, and every backend sees plain constants.

use crate::error::{Error, Result};

/// (name, file, source) of every kernel family.
pub const SHADERS: &[(&str, &str, &str)] = &[
    (
        "fill",
        "shaders/fill.wgsl",
        include_str!("../../shaders/fill.wgsl"),
    ),
    (
        "unary",
        "shaders/unary.wgsl",
        include_str!("../../shaders/unary.wgsl"),
    ),
    (
        "binary",
        "shaders/binary.wgsl",
        include_str!("../../shaders/binary.wgsl"),
    ),
    (
        "reduce",
        "shaders/reduce.wgsl",
        include_str!("../../shaders/reduce.wgsl"),
    ),
    (
        "matmul",
        "shaders/matmul.wgsl",
        include_str!("../../shaders/matmul.wgsl"),
    ),
    (
        "matmul_vec4",
        "shaders/matmul_vec4.wgsl",
        include_str!("../../shaders/matmul_vec4.wgsl"),
    ),
    (
        "matmul_tex",
        "shaders/matmul_tex.wgsl",
        include_str!("../../shaders/matmul_tex.wgsl"),
    ),
    (
        "matmul_tex_sg",
        "shaders/matmul_tex_sg.wgsl",
        include_str!("../../shaders/matmul_tex_sg.wgsl"),
    ),
    (
        "matmul_tiled",
        "shaders/matmul_tiled.wgsl",
        include_str!("../../shaders/matmul_tiled.wgsl"),
    ),
    (
        "matmul_tiled128",
        "shaders/matmul_tiled128.wgsl",
        include_str!("../../shaders/matmul_tiled128.wgsl"),
    ),
    (
        "conv2d",
        "shaders/conv2d.wgsl",
        include_str!("../../shaders/conv2d.wgsl"),
    ),
    (
        "channel",
        "shaders/channel.wgsl",
        include_str!("../../shaders/channel.wgsl"),
    ),
    (
        "batchnorm",
        "shaders/batchnorm.wgsl",
        include_str!("../../shaders/batchnorm.wgsl"),
    ),
    (
        "random",
        "shaders/random.wgsl",
        include_str!("../../shaders/random.wgsl"),
    ),
    (
        "loss",
        "shaders/loss.wgsl",
        include_str!("../../shaders/loss.wgsl"),
    ),
    (
        "adam",
        "shaders/adam.wgsl",
        include_str!("../../shaders/adam.wgsl"),
    ),
    (
        "mmd",
        "shaders/mmd.wgsl",
        include_str!("../../shaders/mmd.wgsl"),
    ),
    (
        "scatter",
        "shaders/scatter.wgsl",
        include_str!("../../shaders/scatter.wgsl"),
    ),
    (
        "im2col",
        "shaders/im2col.wgsl",
        include_str!("../../shaders/im2col.wgsl"),
    ),
    (
        "metrics",
        "shaders/metrics.wgsl",
        include_str!("../../shaders/metrics.wgsl"),
    ),
    (
        "geco",
        "shaders/geco.wgsl",
        include_str!("../../shaders/geco.wgsl"),
    ),
    (
        "gated",
        "shaders/gated.wgsl",
        include_str!("../../shaders/gated.wgsl"),
    ),
    (
        "softmax_ce",
        "shaders/softmax_ce.wgsl",
        include_str!("../../shaders/softmax_ce.wgsl"),
    ),
];

/// (name, file, source) of the WGSL spliced into kernel files by a `// #include NAME` line:
/// helpers several kernels share, kept once.
pub const INCLUDES: &[(&str, &str, &str)] = &[
    (
        "tree_sum",
        "shaders/include/tree_sum.wgsl",
        include_str!("../../shaders/include/tree_sum.wgsl"),
    ),
    (
        "sigmoid",
        "shaders/include/sigmoid.wgsl",
        include_str!("../../shaders/include/sigmoid.wgsl"),
    ),
    (
        "flat",
        "shaders/include/flat.wgsl",
        include_str!("../../shaders/include/flat.wgsl"),
    ),
    (
        "act",
        "shaders/include/act.wgsl",
        include_str!("../../shaders/include/act.wgsl"),
    ),
    (
        "strided_operands",
        "shaders/include/strided_operands.wgsl",
        include_str!("../../shaders/include/strided_operands.wgsl"),
    ),
    (
        "channel_walk",
        "shaders/include/channel_walk.wgsl",
        include_str!("../../shaders/include/channel_walk.wgsl"),
    ),
    (
        "matmul_tex_io",
        "shaders/include/matmul_tex_io.wgsl",
        include_str!("../../shaders/include/matmul_tex_io.wgsl"),
    ),
    (
        "im2col_gather",
        "shaders/include/im2col_gather.wgsl",
        include_str!("../../shaders/include/im2col_gather.wgsl"),
    ),
];

const INCLUDE: &str = "// #include ";

/// The file and its source with every `// #include NAME` line replaced by that include.
pub fn lookup(name: &str) -> Result<(&'static str, String)> {
    let (file, src) = SHADERS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, f, s)| (*f, *s))
        .ok_or_else(|| Error::Device(format!("no shader named '{name}'")))?;
    Ok((file, expand(file, src)?))
}

/// Splices the includes into `src`, each once (an include may include another: act needs
/// sigmoid, and a kernel that includes both gets one sigmoid). Validation errors then count
/// lines of the spliced source: a file's lines after an include shift by its length.
pub fn expand(file: &'static str, src: &str) -> Result<String> {
    let mut out = String::with_capacity(src.len());
    splice(file, src, &mut Vec::new(), &mut out)?;
    Ok(out)
}

fn splice(
    file: &'static str,
    src: &str,
    done: &mut Vec<&'static str>,
    out: &mut String,
) -> Result<()> {
    for line in src.lines() {
        match line.trim().strip_prefix(INCLUDE) {
            Some(name) => {
                let (n, _, inc) = INCLUDES
                    .iter()
                    .find(|(n, _, _)| *n == name.trim())
                    .ok_or_else(|| Error::Shader {
                        file,
                        message: format!("includes unknown '{}'", name.trim()),
                    })?;
                if !done.contains(n) {
                    done.push(n);
                    splice(file, inc, done, out)?;
                }
            }
            None => {
                *out += line;
                out.push('\n');
            }
        }
    }
    Ok(())
}

/// Replaces the value of each `const NAME: u32 = ...;` named in `consts`.
pub fn specialize(file: &'static str, src: &str, consts: &[(&str, u32)]) -> Result<String> {
    let mut out = String::with_capacity(src.len());
    let mut hit = vec![false; consts.len()];
    for line in src.lines() {
        let t = line.trim_start();
        let mut replaced = false;
        for (i, (name, v)) in consts.iter().enumerate() {
            if t.starts_with(&format!("const {name}: u32 =")) {
                out += &format!("const {name}: u32 = {v}u;\n");
                hit[i] = true;
                replaced = true;
            }
        }
        if !replaced {
            out += line;
            out.push('\n');
        }
    }
    if let Some(i) = hit.iter().position(|h| !h) {
        return Err(Error::Shader {
            file,
            message: format!("has no `const {}: u32` to specialise", consts[i].0),
        });
    }
    Ok(out)
}

/// Parses and validates WGSL with naga; the error names the file, line and column.
pub fn validate(file: &'static str, src: &str) -> Result<(naga::Module, naga::valid::ModuleInfo)> {
    let module = naga::front::wgsl::parse_str(src).map_err(|e| Error::Shader {
        file,
        message: e.emit_to_string_with_path(src, file),
    })?;
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        // Subgroup operations pass here; the device refuses them where it has none.
        naga::valid::Capabilities::SUBGROUP,
    )
    .validate(&module)
    .map_err(|e| Error::Shader {
        file,
        message: e.emit_to_string_with_path(src, file),
    })?;
    Ok((module, info))
}

/// How a kernel uses one of its bindings after the uniform parameters at binding 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `var<storage, read>`
    Read,
    /// `var<storage, read_write>`
    ReadWrite,
    /// `texture_storage_2d<rgba32float, read>`: an rgba32float texture read as an image. On
    /// llvmpipe an image load is inline code, where a `texture_2d` fetch is a call into a
    /// generic function that also works out mip levels per lane (176 instructions a fetch).
    Texture,
}

/// The slots of bindings 1, 2, ... that `entry` uses, read from the validated module: what its
/// bind-group layout must declare. Every kernel takes its parameters at binding 0 (the layout
/// always has it) and then buffers before textures at consecutive bindings, as `Dispatch`
/// passes them; a shader that skips a binding or puts a texture first is refused.
pub fn signature(
    file: &'static str,
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
) -> Result<Vec<Slot>> {
    let err = |message: String| Error::Shader { file, message };
    let uses = info.get_entry_point(entry_index(file, module, entry)?);
    let mut used: Vec<(u32, Slot)> = Vec::new();
    for (handle, var) in module.global_variables.iter() {
        let Some(b) = &var.binding else { continue };
        if uses[handle].is_empty() || (b.group == 0 && b.binding == 0) {
            continue;
        }
        let slot = match (&var.space, &module.types[var.ty].inner) {
            (naga::AddressSpace::Storage { access }, _) => {
                if access.contains(naga::StorageAccess::STORE) {
                    Slot::ReadWrite
                } else {
                    Slot::Read
                }
            }
            (
                naga::AddressSpace::Handle,
                naga::TypeInner::Image {
                    dim: naga::ImageDimension::D2,
                    arrayed: false,
                    class:
                        naga::ImageClass::Storage {
                            format: naga::StorageFormat::Rgba32Float,
                            access: naga::StorageAccess::LOAD,
                        },
                },
            ) => Slot::Texture,
            _ => {
                return Err(err(format!(
                    "{entry}: binding {} is neither a storage buffer nor a texture_storage_2d<rgba32float, read>",
                    b.binding
                )))
            }
        };
        if b.group != 0 {
            return Err(err(format!("{entry}: uses bind group {}", b.group)));
        }
        used.push((b.binding, slot));
    }
    used.sort_by_key(|u| u.0);
    for (i, &(binding, slot)) in used.iter().enumerate() {
        if binding != 1 + i as u32 {
            return Err(err(format!(
                "{entry}: uses binding {binding} but not binding {}",
                1 + i
            )));
        }
        if slot != Slot::Texture && i > 0 && used[i - 1].1 == Slot::Texture {
            return Err(err(format!(
                "{entry}: buffer at binding {binding} after a texture"
            )));
        }
    }
    Ok(used.into_iter().map(|u| u.1).collect())
}

fn entry_index(file: &'static str, module: &naga::Module, entry: &str) -> Result<usize> {
    module
        .entry_points
        .iter()
        .position(|e| e.name == entry)
        .ok_or_else(|| Error::Shader {
            file,
            message: format!("has no entry point {entry}"),
        })
}

/// The size in bytes of the uniform struct `entry` reads at binding 0 (None when it reads
/// none), as naga lays it out: a dispatch's packed parameters must fit in it.
pub fn params_size(
    file: &'static str,
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
) -> Result<Option<u32>> {
    let uses = info.get_entry_point(entry_index(file, module, entry)?);
    let Some(var) = module.global_variables.iter().find_map(|(handle, var)| {
        let b = var.binding.as_ref()?;
        (b.group == 0 && b.binding == 0 && !uses[handle].is_empty()).then_some(var)
    }) else {
        return Ok(None);
    };
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .map_err(|e| Error::Shader {
            file,
            message: format!("{entry}: laying out its types: {e}"),
        })?;
    Ok(Some(layouter[var.ty].size))
}
