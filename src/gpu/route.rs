//! Every kernel choice in one place. When a device opens, `Caps` gathers the facts the choices
//! rest on, and `resolve` fills a complete `Routing`, each choice in one order: an explicit
//! override (`VAE_GPU_*`) > the tuning file `vae-gpu bench tune` wrote for this adapter >
//! the rule on `Caps`. Where each choice came from is kept beside it (`Resolved::sources`, shown
//! by `vae-gpu info`). Kernels ask `Gpu::routing` for the choice and turn it into a plan for
//! their geometry (e.g. `per_channel`); a caller that wants another path for a while (a
//! conformance case, a benchmark) changes the routing for its own thread with `Gpu::scoped`,
//! so nothing device-wide changes under another thread.

use std::borrow::Cow;

use serde::Serialize;

use crate::error::{Error, Result};

/// An enumerated kernel choice. `variants!` writes the enum, its names, `ALL` and clap's
/// `ValueEnum` from one list, so a new variant is named, parsed, listed and iterated by adding
/// it there alone.
pub trait Variant: Copy + PartialEq + std::fmt::Debug + 'static {
    /// The routing field it fills, in `info`, the tuning file and `check`'s coverage list.
    const FIELD: &'static str;
    /// The environment variable that overrides it.
    const ENV: &'static str;
    const ALL: &'static [Self];

    fn name(self) -> &'static str;

    fn all() -> &'static [Self] {
        Self::ALL
    }

    /// The variant named `s` (any case), or an error naming `origin` and the choices.
    fn parse_from(origin: impl Into<Cow<'static, str>>, s: &str) -> Result<Self> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|v| v.name()).collect();
                Error::flag(
                    origin,
                    format!("{} '{s}' is not one of {}", Self::FIELD, names.join(", ")),
                )
            })
    }

    /// `FIELD=name`: how a conformance case says which route it covers.
    fn coverage(self) -> String {
        format!("{}={}", Self::FIELD, self.name())
    }
}

/// An enum of kernel choices with its `Variant` and clap `ValueEnum` impls.
macro_rules! variants {
    ($(#[$m:meta])* $name:ident ($field:literal, $env:literal) {
        $($(#[$vm:meta])* $v:ident = $s:literal,)+
    }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vm])* $v,)+
        }

        impl Variant for $name {
            const FIELD: &'static str = $field;
            const ENV: &'static str = $env;
            const ALL: &'static [Self] = &[$(Self::$v),+];

            fn name(self) -> &'static str {
                match self {
                    $(Self::$v => $s,)+
                }
            }
        }

        impl clap::ValueEnum for $name {
            fn value_variants<'a>() -> &'a [Self] {
                Self::ALL
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(self.name()))
            }
        }
    };
}

variants! {
    /// Which matmul kernel family runs.
    MatmulVariant ("matmul", "VAE_GPU_MATMUL") {
        /// Texture's operands, with each row of A loaded once per subgroup and broadcast to
        /// its lanes (a CPU rasteriser loads the same texel once per lane otherwise). Needs a
        /// fixed subgroup size (`Caps::subgroup_size`); falls back to `Texture` without one or
        /// where M is under 64.
        Subgroup = "subgroup",
        /// Vec4's blocking with both operands copied into rgba32float textures: on llvmpipe an
        /// image load is a vector load per lane, a storage load a loop over lanes. Falls back
        /// to `Vec4` where the copy's row pitch or the texture size does not fit.
        Texture = "texture",
        /// 4×4 outputs per invocation, vec4 loads, no workgroup memory (fast on CPU
        /// rasterisers, where barriers are costly). Falls back to `Blocked` when shapes are not
        /// multiples of 4.
        Vec4 = "vec4",
        /// 4×4 outputs per invocation, scalar bounds-checked loads: any shape.
        Blocked = "blocked",
        /// 64×64 workgroup-memory tiles, 4×4 per invocation: what real GPUs want.
        Tiled = "tiled",
        /// 128×128 workgroup-memory tiles, 8×8 per invocation, the next step's loads in flight
        /// during this one's multiply-adds: for large products on real GPUs (a quarter of
        /// Tiled's workgroups, so fewer to spread over the cores on small ones).
        Tiled128 = "tiled128",
    }
}

variants! {
    /// How conv2d, conv_transpose2d and their gradients run.
    ConvVariant ("conv", "VAE_GPU_CONV") {
        /// im2col/col2im around one matmul per direction: R·N·P floats of scratch, the matmul
        /// kernels' speed.
        Gemm = "gemm",
        /// Gemm, with the im2col columns the products read gathered by the texture matmuls
        /// themselves (their CONV mode) where the product can run so: no columns stored or
        /// copied. The default where matmul_tex_sg runs; on GL, whose image loads are slow, no
        /// faster than gemm.
        Implicit = "implicit",
        /// One gather kernel per direction (conv2d.wgsl): no scratch memory.
        Direct = "direct",
    }
}

variants! {
    /// Where Adam reads θ, g, m and v from.
    AdamVariant ("adam", "VAE_GPU_ADAM") {
        /// Flat-texture snapshots of each chunk, then `adam_tex`: on llvmpipe an image load is
        /// a vector load per lane. The copies cost a pass over the four vectors.
        Textures = "textures",
        /// Straight from the storage buffers, four elements per invocation (`adam4`): no copies.
        Buffers = "buffers",
    }
}

variants! {
    /// Where the memory-bound kernels (accumulate, unary, binary, im2col, per-channel sums;
    /// Adam has its own choice) read their inputs from.
    Reads ("reads", "VAE_GPU_READS") {
        /// Flat-texture snapshots, four elements per invocation: on llvmpipe a storage-buffer
        /// load is a loop over the lanes and an image load one vector load per lane.
        Textures = "textures",
        /// The storage buffers: on a real GPU the copies into textures would only add traffic.
        Buffers = "buffers",
    }
}

variants! {
    /// How a per-channel reduction over many channels runs (batch-norm statistics and
    /// backward, bias gradients). Whatever the choice, a channel of at most 256 values sums in
    /// order (too few to fill a workgroup), and an in-order sum that would pass
    /// `Caps::loop_limit` takes the tree.
    ChannelSums ("channel_sums", "VAE_GPU_CHANNEL_SUMS") {
        /// One invocation per channel summing in order (the `_seq` entries: no barrier) once
        /// 32 channels give each core a few workgroups: on CPU rasterisers a barrier suspends
        /// every SIMD chunk of the workgroup.
        InOrder = "in-order",
        /// One workgroup per channel with a tree sum.
        Tree = "tree",
    }
}

/// The choices a tuning file recorded for one adapter (`tuned::lookup` reads them).
pub struct Tuned {
    pub matmul: MatmulVariant,
    pub conv: ConvVariant,
    pub adam: Option<AdamVariant>,
    pub reads: Option<Reads>,
    /// The file they came from.
    pub file: std::path::PathBuf,
}

/// The facts about the adapter and the host that routing rests on, gathered once per device.
#[derive(Clone, Debug, Serialize)]
pub struct Caps {
    /// A CPU rasteriser (llvmpipe behind lavapipe and Mesa's GL, WARP, SwiftShader).
    pub cpu_rasteriser: bool,
    /// The subgroup size every compute invocation runs with, where the device has subgroups,
    /// their size is fixed and matmul_tex_sg can be specialised for it (8 to 64 lanes).
    pub subgroup_size: Option<u32>,
    /// The host CPU has AVX-512F (for a CPU rasteriser: its storage loads cost about what an
    /// image load does, so Adam's snapshots only add their copies).
    pub host_avx512: bool,
    pub max_texture_2d: u32,
    pub timestamps: bool,
}

/// llvmpipe (Mesa's gallivm: the CPU rasteriser behind lavapipe and its GL) silently ends every
/// loop of an invocation once that invocation's loops have run 65,535 iterations in all
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`: one counter shared by every loop, decremented at the end of
/// each iteration and at each exit test). A kernel whose loops grow with the data keeps each
/// invocation below this on CPU adapters, or takes an entry whose loops do not grow.
pub const LOOP_BUDGET: usize = 65_535;

impl Caps {
    /// The loop iterations one invocation may run before the driver cuts it short, where known.
    pub fn loop_limit(&self) -> Option<usize> {
        self.cpu_rasteriser.then_some(LOOP_BUDGET)
    }

    /// Whether `v` runs its own kernel here (`Subgroup` needs a fixed subgroup size).
    pub fn runs(&self, v: MatmulVariant) -> bool {
        v != MatmulVariant::Subgroup || self.subgroup_size.is_some()
    }
}

/// Every kernel choice for one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    pub matmul: MatmulVariant,
    pub conv: ConvVariant,
    pub adam: AdamVariant,
    pub reads: Reads,
    pub channel_sums: ChannelSums,
    /// (TM4, TN4) of matmul_vec4: each invocation computes a (4·TM4)×(4·TN4) block of C.
    pub vec4_block: (u32, u32),
    /// (TM4, TN4) of matmul_tex, each 2, 4 or 8; `None` picks per product (the benchmark sweeps it).
    pub tex_block: Option<(u32, u32)>,
    /// Lanes per workgroup of the in-order per-channel entries: one SIMD chunk (8) on CPU
    /// rasterisers, so that 32 channels make 4 workgroups; 64 elsewhere.
    pub seq_workgroup: u32,
}

/// Where a choice came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "detail", rename_all = "snake_case")]
pub enum Source {
    /// An environment variable (named).
    Override(&'static str),
    /// The tuning file (its path).
    Tuned(String),
    /// The rule on `Caps` (what it rests on).
    Rule(&'static str),
}

/// A routing and where each of its enumerated choices came from.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub routing: Routing,
    /// (field, its choice's name, source), for every enumerated choice.
    pub sources: Vec<(&'static str, &'static str, Source)>,
}

/// The override in the environment for `V`, if any.
fn from_env<V: Variant>() -> Result<Option<V>> {
    match std::env::var(V::ENV) {
        Ok(s) if !s.trim().is_empty() => V::parse_from(V::ENV, &s).map(Some),
        _ => Ok(None),
    }
}

/// The environment variables that override a choice.
pub fn override_vars() -> [&'static str; 5] {
    [
        MatmulVariant::ENV,
        ConvVariant::ENV,
        AdamVariant::ENV,
        Reads::ENV,
        ChannelSums::ENV,
    ]
}

/// One choice: the environment's, else the tuning file's, else the rule's.
fn choose<V: Variant>(
    tuned: Option<(V, &str)>,
    rule: (V, &'static str),
    sources: &mut Vec<(&'static str, &'static str, Source)>,
) -> Result<V> {
    let (v, source) = match (from_env::<V>()?, tuned) {
        (Some(v), _) => (v, Source::Override(V::ENV)),
        (None, Some((v, file))) => (v, Source::Tuned(file.to_string())),
        (None, None) => (rule.0, Source::Rule(rule.1)),
    };
    sources.push((V::FIELD, v.name(), source));
    Ok(v)
}

/// The routing for a device with `caps`, from the environment, the tuning file's entry for the
/// adapter, and the rules.
pub fn resolve(caps: &Caps, tuned: Option<&Tuned>) -> Result<Resolved> {
    let mut sources = Vec::new();
    let file = tuned.map(|t| t.file.display().to_string());
    let file = file.as_deref().unwrap_or_default();
    let cpu = caps.cpu_rasteriser;
    let matmul_rule = match (cpu, caps.subgroup_size) {
        (true, Some(_)) => (
            MatmulVariant::Subgroup,
            "CPU rasteriser, fixed subgroup size",
        ),
        (true, None) => (
            MatmulVariant::Texture,
            "CPU rasteriser, no fixed subgroup size",
        ),
        (false, _) => (MatmulVariant::Tiled, "GPU: workgroup-memory tiles"),
    };
    let matmul = choose(tuned.map(|t| (t.matmul, file)), matmul_rule, &mut sources)?;
    let conv_rule = if matmul == MatmulVariant::Subgroup {
        (
            ConvVariant::Implicit,
            "the subgroup matmul gathers im2col itself",
        )
    } else {
        (ConvVariant::Gemm, "im2col + the routed matmul")
    };
    let conv = choose(tuned.map(|t| (t.conv, file)), conv_rule, &mut sources)?;
    let reads_rule = if cpu {
        (
            Reads::Textures,
            "CPU rasteriser: image loads are vector loads",
        )
    } else {
        (Reads::Buffers, "GPU: copies into textures only add traffic")
    };
    let reads = choose(
        tuned.and_then(|t| t.reads.map(|r| (r, file))),
        reads_rule,
        &mut sources,
    )?;
    let adam_rule = if reads == Reads::Textures && !caps.host_avx512 {
        (
            AdamVariant::Textures,
            "texture reads on a host without AVX-512",
        )
    } else if reads == Reads::Textures {
        (
            AdamVariant::Buffers,
            "AVX-512 host: storage loads cost an image load",
        )
    } else {
        (AdamVariant::Buffers, "storage-buffer reads")
    };
    let adam = choose(
        tuned.and_then(|t| t.adam.map(|a| (a, file))),
        adam_rule,
        &mut sources,
    )?;
    let sums_rule = if cpu {
        (ChannelSums::InOrder, "CPU rasteriser: barriers are costly")
    } else {
        (ChannelSums::Tree, "GPU: workgroup tree sums")
    };
    let channel_sums = choose(None, sums_rule, &mut sources)?;
    Ok(Resolved {
        routing: Routing {
            matmul,
            conv,
            adam,
            reads,
            channel_sums,
            vec4_block: (2, 2),
            tex_block: None,
            seq_workgroup: if cpu { 8 } else { 64 },
        },
        sources,
    })
}

/// The per-channel reduction's sizes: `c` channels of `n` images × `inner` values, summed in
/// `passes` sweeps by the in-order entry.
pub struct PerChannel {
    pub c: usize,
    pub n: usize,
    pub inner: usize,
    pub passes: usize,
}

/// Whether a per-channel reduction sums in order (one invocation per channel) or by tree (one
/// workgroup per channel). An in-order invocation makes `passes` sweeps of
/// n + 1 + n·(inner + 1) loop iterations each (an exit test per loop); past the driver's loop
/// limit (a batch of 166 images of 14×14 maps for the two-pass statistics on llvmpipe) the
/// tree sum runs, whose lanes stride by 256.
pub fn per_channel_in_order(routing: &Routing, caps: &Caps, r: &PerChannel) -> bool {
    let trips = r.passes * (r.n + 1 + r.n * (r.inner + 1));
    let many = routing.channel_sums == ChannelSums::InOrder && r.c >= 32;
    (many || r.n * r.inner <= 256) && caps.loop_limit().is_none_or(|l| trips < l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<V: Variant>() -> Vec<&'static str> {
        V::all().iter().map(|v| v.name()).collect()
    }

    /// The names the environment, the tuning file and `check` use, in one place.
    #[test]
    fn variants_are_named_once() {
        assert_eq!(
            names::<MatmulVariant>(),
            ["subgroup", "texture", "vec4", "blocked", "tiled", "tiled128"]
        );
        assert_eq!(names::<ConvVariant>(), ["gemm", "implicit", "direct"]);
        assert_eq!(names::<AdamVariant>(), ["textures", "buffers"]);
        assert_eq!(names::<Reads>(), ["textures", "buffers"]);
        assert_eq!(names::<ChannelSums>(), ["in-order", "tree"]);
        assert_eq!(
            MatmulVariant::parse_from("X", " Tiled128 ").unwrap(),
            MatmulVariant::Tiled128
        );
        let e = ConvVariant::parse_from("VAE_GPU_CONV", "gem").unwrap_err();
        assert!(
            e.to_string().contains("VAE_GPU_CONV") && e.to_string().contains("gemm, implicit"),
            "{e}"
        );
    }

    fn caps(cpu: bool, sg: Option<u32>) -> Caps {
        Caps {
            cpu_rasteriser: cpu,
            subgroup_size: sg,
            host_avx512: false,
            max_texture_2d: 8192,
            timestamps: false,
        }
    }

    /// The in-order per-channel sums: many channels on a CPU rasteriser, or few values per
    /// channel anywhere, and never past llvmpipe's loop limit.
    #[test]
    fn per_channel_rule() {
        let cpu = caps(true, None);
        let gpu = caps(false, None);
        let route = |c: &Caps| resolve_rules(c).routing;
        let at = |c: &Caps, r: PerChannel| per_channel_in_order(&route(c), c, &r);
        let step = |n| PerChannel {
            c: 64,
            n,
            inner: 196,
            passes: 2,
        };
        assert!(at(&cpu, step(64)));
        assert!(!at(&gpu, step(64)));
        // 2·(n + 1 + 197n) = 396n + 2 ≥ 65,535 from n = 166.
        assert!(at(&cpu, step(165)));
        assert!(!at(&cpu, step(166)));
        let few = PerChannel {
            c: 4,
            n: 2,
            inner: 100,
            passes: 1,
        };
        assert!(at(&gpu, few));
    }

    /// The rules alone (no environment is read for the fields the test sets).
    fn resolve_rules(c: &Caps) -> Resolved {
        resolve(c, None).unwrap()
    }

    #[test]
    fn rules_follow_the_caps() {
        let r = resolve_rules(&caps(true, Some(8)));
        if std::env::var_os(MatmulVariant::ENV).is_none() {
            assert_eq!(r.routing.matmul, MatmulVariant::Subgroup);
            assert!(r
                .sources
                .iter()
                .any(|s| s.0 == "matmul" && matches!(s.2, Source::Rule(_))));
        }
        if std::env::var_os(MatmulVariant::ENV).is_none() {
            assert_eq!(
                resolve_rules(&caps(false, None)).routing.matmul,
                MatmulVariant::Tiled
            );
        }
        assert_eq!(r.routing.seq_workgroup, 8);
        assert_eq!(r.sources.len(), override_vars().len());
    }
}
