//! matmul.wgsl / matmul_vec4.wgsl / matmul_tiled.wgsl: batched C = op(A)·op(B) with
//! op ∈ {identity, transpose}, the three products backward needs (A·B, Aᵀ·B, A·Bᵀ).
//!
//! Shapes: A is [M, K] ([K, M] when `trans_a`), B is [K, N] ([N, K] when `trans_b`),
//! optionally with a leading batch dim on either; a batch of 1 (or no batch dim)
//! broadcasts over the other's batch. C is [batch, M, N] (or [M, N] if neither is batched).

use super::{fits_u32, Params};
use crate::error::{Error, Result};
use crate::gpu::{Caps, Dispatch, MatmulVariant, MAX_GROUPS_PER_DIM};
use crate::tensor::Tensor;

pub struct Geometry {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a_batched: bool,
    pub b_batched: bool,
    pub out_shape: Vec<usize>,
}

pub fn geometry(a: &[usize], b: &[usize], trans_a: bool, trans_b: bool) -> Result<Geometry> {
    const OP: &str = "matmul";
    let dims = |s: &[usize], what: &str| -> Result<(Option<usize>, usize, usize)> {
        match *s {
            [r, c] => Ok((None, r, c)),
            [bt, r, c] => Ok((Some(bt), r, c)),
            _ => Err(Error::shape(
                OP,
                format!("{what} must be [rows, cols] or [batch, rows, cols], got {s:?}"),
            )),
        }
    };
    let (ba, ar, ac) = dims(a, "A")?;
    let (bb, br, bc) = dims(b, "B")?;
    let (m, ka) = if trans_a { (ac, ar) } else { (ar, ac) };
    let (kb, n) = if trans_b { (bc, br) } else { (br, bc) };
    if ka != kb {
        return Err(Error::shape(
            OP,
            format!(
                "inner dims differ: A {a:?}{} has K={ka}, B {b:?}{} has K={kb}",
                if trans_a { "ᵀ" } else { "" },
                if trans_b { "ᵀ" } else { "" }
            ),
        ));
    }
    let batch = match (ba, bb) {
        (Some(x), Some(y)) if x == y || y == 1 => x,
        (Some(1), Some(y)) => y,
        (Some(_), Some(_)) => {
            return Err(Error::shape(
                OP,
                format!("batch sizes differ: A {a:?} vs B {b:?}"),
            ))
        }
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => 1,
    };
    let a_batched = ba.is_some_and(|x| x > 1);
    let b_batched = bb.is_some_and(|x| x > 1);
    let out_shape = if ba.is_some() || bb.is_some() {
        vec![batch, m, n]
    } else {
        vec![m, n]
    };
    Ok(Geometry {
        batch,
        m,
        n,
        k: ka,
        a_batched,
        b_batched,
        out_shape,
    })
}

/// C = op(A)·op(B) with the adapter's preferred kernel.
pub fn matmul(a: &Tensor, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor> {
    let v = a.gpu().routing().matmul;
    matmul_with(v, a, b, trans_a, trans_b)
}

/// C = op(A)·op(B) with a chosen kernel family (`Vec4` falls back to `Blocked` when a
/// dimension or offset is not a multiple of 4).
pub fn matmul_with(
    variant: MatmulVariant,
    a: &Tensor,
    b: &Tensor,
    trans_a: bool,
    trans_b: bool,
) -> Result<Tensor> {
    const OP: &str = "matmul";
    let g = geometry(a.shape(), b.shape(), trans_a, trans_b)?;
    fits_u32(OP, a)?;
    fits_u32(OP, b)?;
    // Dense views at an offset (parameters in the flat buffer) go in as they are: every
    // matmul shader takes the offsets.
    let a = a.contiguous()?;
    let b = b.contiguous()?;
    let c = Tensor::empty(a.gpu(), &g.out_shape)?;
    fits_u32(OP, &c)?;
    if c.numel() == 0 {
        return Ok(c);
    }
    if g.k == 0 {
        crate::kernels::fill::fill_bits(&c, 0)?;
        return Ok(c);
    }
    let a_bs = if g.a_batched { g.m * g.k } else { 0 };
    let b_bs = if g.b_batched { g.k * g.n } else { 0 };
    let c_bs = g.m * g.n;
    let aligned = [g.m, g.n, g.k, a.offset(), b.offset()]
        .iter()
        .all(|v| v % 4 == 0);
    let caps = &a.gpu().caps;
    let variant = plan(variant, caps, &g, (trans_a, trans_b), aligned);
    match (variant, caps.subgroup_size) {
        (MatmulVariant::Subgroup, Some(sg)) => {
            return matmul_texture_sg(&g, &a, &b, c, trans_a, trans_b, sg)
        }
        (MatmulVariant::Texture, _) => return matmul_texture(&g, &a, &b, c, trans_a, trans_b),
        _ => {}
    }
    let (shader, consts, params, tile_m, tile_n): (_, Vec<(&'static str, u32)>, _, usize, usize) =
        match variant {
            MatmulVariant::Vec4 => {
                let (tm4, tn4) = a.gpu().routing().vec4_block;
                let p = Params::default().u(g.m).u(g.n).u(g.k).u(c_bs);
                (
                    "matmul_vec4",
                    vec![
                        ("TRANS_A", trans_a as u32),
                        ("TRANS_B", trans_b as u32),
                        ("TM4", tm4),
                        ("TN4", tn4),
                    ],
                    p.u(a.offset()).u(a_bs).u(b.offset()).u(b_bs),
                    32 * tm4 as usize,
                    32 * tn4 as usize,
                )
            }
            MatmulVariant::Blocked
            | MatmulVariant::Tiled
            | MatmulVariant::Tiled128
            | MatmulVariant::Texture
            | MatmulVariant::Subgroup => {
                let (a_rs, a_cs) = if trans_a { (1, g.m) } else { (g.k, 1) };
                let (b_rs, b_cs) = if trans_b { (1, g.k) } else { (g.n, 1) };
                let p = Params::default()
                    .u(g.m)
                    .u(g.n)
                    .u(g.k)
                    .u(c_bs)
                    .u(a.offset())
                    .u(a_bs)
                    .u(a_rs)
                    .u(a_cs)
                    .u(b.offset())
                    .u(b_bs)
                    .u(b_rs)
                    .u(b_cs);
                match variant {
                    MatmulVariant::Tiled => ("matmul_tiled", vec![], p, 64, 64),
                    MatmulVariant::Tiled128 => ("matmul_tiled128", vec![], p, 128, 128),
                    _ => ("matmul", vec![], p, 32, 32),
                }
            }
        };
    let groups = [g.n.div_ceil(tile_n), g.m.div_ceil(tile_m), g.batch];
    if groups.iter().any(|&x| x > MAX_GROUPS_PER_DIM as usize) {
        return Err(Error::shape(
            OP,
            format!(
                "{:?} needs a grid of {groups:?} workgroups, over the 65535 limit",
                g.out_shape
            ),
        ));
    }
    a.gpu().dispatch(&Dispatch {
        shader,
        entry: "main",
        consts: &consts,
        params: &params.bytes(),
        buffers: &[a.buffer(), b.buffer(), c.buffer()],
        textures: &[],
        groups: [groups[0] as u32, groups[1] as u32, groups[2] as u32],
    })?;
    Ok(c)
}

/// The kernel a product runs: the routed variant, or its fallback where that cannot take
/// the product: Vec4, Texture and Subgroup need every dim and offset a multiple of 4 (else
/// Blocked); Texture and Subgroup need their textures to fit (else Vec4); Subgroup needs a
/// fixed subgroup size and 64 rows of C (else Texture).
fn plan(
    v: MatmulVariant,
    caps: &Caps,
    g: &Geometry,
    (trans_a, trans_b): (bool, bool),
    aligned: bool,
) -> MatmulVariant {
    use MatmulVariant::*;
    let textures = matches!(v, Texture | Subgroup);
    if (textures || v == Vec4) && !aligned {
        Blocked
    } else if textures && !texture_fits(g, trans_a, trans_b, caps.max_texture_2d) {
        Vec4
    } else if v == Subgroup && subgroup_size(caps, g).is_none() {
        Texture
    } else {
        v
    }
}

/// Stored (rows, cols) of A and B.
fn stored(g: &Geometry, trans_a: bool, trans_b: bool) -> [(usize, usize); 2] {
    let a = if trans_a { (g.k, g.m) } else { (g.m, g.k) };
    let b = if trans_b { (g.n, g.k) } else { (g.k, g.n) };
    [a, b]
}

/// Whether matmul_tex can take this product: one matrix each (no batch), rows of whole
/// 256-byte copy pitches or few enough to copy one by one, and textures within the
/// device's 2-D limit.
fn texture_fits(g: &Geometry, trans_a: bool, trans_b: bool, max_dim: u32) -> bool {
    g.batch == 1
        && stored(g, trans_a, trans_b)
            .iter()
            .all(|&rc| matrix_fits(rc, max_dim))
}

/// Whether a stored [rows, cols] matrix goes into a texture by `Gpu::matrix_texture`.
fn matrix_fits((r, c): (usize, usize), max_dim: u32) -> bool {
    let max = max_dim as usize;
    c % 4 == 0 && (c % 64 == 0 || r <= ROW_COPIES) && r <= max && c / 4 <= max
}

/// The most rows a matrix without 256-byte rows is copied into its texture by, one copy
/// each (the 16-channel weights of the networks' outer convolutions).
const ROW_COPIES: usize = 256;

/// (TM4, TN4) of matmul_tex: as large as the product allows, since a load costs dozens of
/// FMAs there (BENCHMARKS.md, Zen 1: matmul_tex's block), but no
/// larger than C (tiles past its edge are computed for nothing) and, across columns, only as
/// wide as keeps all 8 lanes of a row of invocations busy.
fn texture_block(m: usize, n: usize) -> (u32, u32) {
    let tm4 = match m {
        32.. => 8,
        16.. => 4,
        _ => 2,
    };
    let tn4 = match n {
        256.. => 8,
        128.. => 4,
        _ => 2,
    };
    (tm4, tn4)
}

fn matmul_texture(
    g: &Geometry,
    a: &Tensor,
    b: &Tensor,
    c: Tensor,
    trans_a: bool,
    trans_b: bool,
) -> Result<Tensor> {
    let (consts, groups) = texture_launch(a.gpu(), g, trans_a, trans_b);
    dispatch_textures(
        ("matmul_tex", &consts, groups),
        g,
        a,
        b,
        c,
        trans_a,
        trans_b,
    )
}

/// matmul_tex's constants and grid for a product.
fn texture_launch(
    gpu: &crate::gpu::Gpu,
    g: &Geometry,
    trans_a: bool,
    trans_b: bool,
) -> (Vec<(&'static str, u32)>, [usize; 2]) {
    let (tm4, tn4) = gpu
        .routing()
        .tex_block
        .unwrap_or_else(|| texture_block(g.m, g.n));
    let groups = [
        g.n.div_ceil(32 * tn4 as usize),
        g.m.div_ceil(32 * tm4 as usize),
    ];
    let consts = vec![
        ("TRANS_A", trans_a as u32),
        ("TRANS_B", trans_b as u32),
        ("TM4", tm4),
        ("TN4", tn4),
    ];
    (consts, groups)
}

/// A texture matmul kernel: its shader, constants and grid (x, y).
type Launch<'a> = (&'static str, &'a [(&'static str, u32)], [usize; 2]);

/// A texture matmul's grid of fewer workgroups than this leaves a CPU's cores idle (llvmpipe
/// hands each thread whole workgroups): K is split until there are SPLIT_TARGET.
const SPLIT_BELOW: usize = 4;
const SPLIT_TARGET: usize = 8;
/// The fewest texels of K a split takes, so its partial C (and the pass summing them) stays
/// small against its share of the product (short parts gained nothing on lavapipe and lost
/// on GL, a long narrow K gained on both: BENCHMARKS.md, Zen 1, K split).
const SPLIT_MIN_KQ: usize = 256;

/// How many parts K is split into for a grid of `groups` workgroups and `k4` texels of K.
/// A narrow product with a long K (a convolution's 64×16 weight gradient summed over 12,544
/// pixels: one workgroup) otherwise runs on one core.
fn k_splits(groups: usize, k4: usize) -> usize {
    if groups >= SPLIT_BELOW {
        return 1;
    }
    SPLIT_TARGET.div_ceil(groups).min(k4 / SPLIT_MIN_KQ).max(1)
}

/// Copies A and B into their textures and launches a texture matmul kernel writing C.
fn dispatch_textures(
    launch: Launch,
    g: &Geometry,
    a: &Tensor,
    b: &Tensor,
    c: Tensor,
    trans_a: bool,
    trans_b: bool,
) -> Result<Tensor> {
    let [_, (br, bc)] = stored(g, trans_a, trans_b);
    let bt = a
        .gpu()
        .matrix_texture(b.buffer(), b.offset() as u64 * 4, br as u32, bc as u32);
    dispatch_with_b(launch, g, a, bt.view(), 0, c, trans_a)
}

/// Copies A into its texture and launches a texture matmul kernel writing C from it and B's
/// texture `bt` (`b_off`: the shader's x_off), K split into parts summed after (in a fixed
/// order) where the grid is too small.
fn dispatch_with_b(
    (shader, consts, groups): Launch,
    g: &Geometry,
    a: &Tensor,
    bt: &wgpu::TextureView,
    b_off: usize,
    c: Tensor,
    trans_a: bool,
) -> Result<Tensor> {
    let gpu = a.gpu();
    let k4 = g.k / 4;
    let splits = k_splits(groups[0] * groups[1], k4);
    let out = if splits > 1 {
        Tensor::empty(gpu, &[splits, g.m, g.n])?
    } else {
        c
    };
    let [(ar, ac), _] = stored(g, trans_a, false);
    let at = gpu.matrix_texture(a.buffer(), a.offset() as u64 * 4, ar as u32, ac as u32);
    let params = Params::default()
        .u(g.m)
        .u(g.n)
        .u(g.k)
        .u(out.offset())
        .u(k4.div_ceil(splits))
        .u(b_off)
        .u(0)
        .u(0);
    gpu.dispatch(&Dispatch {
        shader,
        entry: "main",
        consts,
        params: &params.bytes(),
        buffers: &[out.buffer()],
        textures: &[at.view(), bt],
        groups: [groups[0] as u32, groups[1] as u32, splits as u32],
    })?;
    if splits == 1 {
        return Ok(out);
    }
    super::reduce::sum_axis(&out, 0, false)?.reshape(&g.out_shape)
}

/// The subgroup size matmul_tex_sg runs with, where the device has one it is written for and
/// C has at least 64 rows (a subgroup shares 64, or 32 where K is short: `subgroup_block`).
fn subgroup_size(caps: &Caps, g: &Geometry) -> Option<u32> {
    caps.subgroup_size.filter(|_| g.m >= 64)
}

fn matmul_texture_sg(
    g: &Geometry,
    a: &Tensor,
    b: &Tensor,
    c: Tensor,
    trans_a: bool,
    trans_b: bool,
    sg: u32,
) -> Result<Tensor> {
    let (consts, groups) = subgroup_launch(g, trans_a, trans_b, sg);
    dispatch_textures(
        ("matmul_tex_sg", &consts, groups),
        g,
        a,
        b,
        c,
        trans_a,
        trans_b,
    )
}

/// matmul_tex_sg's constants and grid for a product.
fn subgroup_launch(
    g: &Geometry,
    trans_a: bool,
    trans_b: bool,
    sg: u32,
) -> (Vec<(&'static str, u32)>, [usize; 2]) {
    let (rows, tn4) = subgroup_block(g, sg);
    let groups = [
        g.n.div_ceil(4 * (tn4 * sg) as usize),
        g.m.div_ceil(rows as usize),
    ];
    let consts = vec![
        ("TRANS_A", trans_a as u32),
        ("TRANS_B", trans_b as u32),
        ("TN4", tn4),
        ("SG", sg),
        ("ROWS", rows),
    ];
    (consts, groups)
}

/// C = op(A)·op(cols) for a convolution's columns cols = im2col(x) [R, N·P], which the
/// texture matmuls gather from a flat snapshot of x instead of reading them stored (their
/// CONV mode, shaders/include/im2col_gather.wgsl); `conv` is that mode's geometry constants
/// (kernels/conv/gemm.rs). None where the product cannot run so: the adapter's matmul reads no
/// textures, kernel rows other than 4 wide, dims or A's offset not multiples of 4, or textures
/// past the device's limits. The caller then stores cols.
pub(super) fn matmul_im2col(
    a: &Tensor,
    x: &Tensor,
    cols: [usize; 2],
    (kw, conv): (usize, &[(&'static str, u32)]),
    trans_a: bool,
    trans_b: bool,
) -> Result<Option<Tensor>> {
    let gpu = a.gpu();
    let g = geometry(a.shape(), &cols, trans_a, trans_b)?;
    fits_u32("matmul", a)?;
    let a = a.contiguous()?;
    let max = gpu.caps.max_texture_2d;
    let aligned = [g.m, g.n, g.k, a.offset()].iter().all(|v| v % 4 == 0);
    let [(ar, ac), _] = stored(&g, trans_a, trans_b);
    let routed = gpu.routing().matmul;
    let textures = matches!(routed, MatmulVariant::Texture | MatmulVariant::Subgroup);
    if !textures
        || kw != 4
        || g.m * g.n * g.k == 0
        || !aligned
        || g.batch != 1
        || !matrix_fits((ar, ac), max)
        || !x.is_contiguous()
    {
        return Ok(None);
    }
    let Some((xt, base, _)) = super::view_snapshot(x, &[x.numel()], &[1]) else {
        return Ok(None);
    };
    let c = Tensor::empty(gpu, &g.out_shape)?;
    fits_u32("matmul", &c)?;
    let (shader, (mut consts, groups)) = match subgroup_size(&gpu.caps, &g) {
        Some(sg) if routed == MatmulVariant::Subgroup => {
            ("matmul_tex_sg", subgroup_launch(&g, trans_a, trans_b, sg))
        }
        _ => ("matmul_tex", texture_launch(gpu, &g, trans_a, trans_b)),
    };
    consts.push(("CONV", 1));
    consts.extend_from_slice(conv);
    let c = dispatch_with_b(
        (shader, &consts, groups),
        &g,
        &a,
        xt.view(),
        x.offset() - base,
        c,
        trans_a,
    )?;
    Ok(Some(c))
}

/// (ROWS, TN4) of matmul_tex_sg: each lane computes ROWS × 4·TN4 of C.
/// - K at most SHORT_K (a weight gradient summed over a batch of 64 runs 16 steps of its K
///   loop, so each workgroup's setup and stores weigh as much as the loop): 32 rows, four
///   column tiles where N keeps every lane busy (faster than 16 rows at 512-bit lanes, level
///   at 256).
/// - Longer K: 64 rows, two column tiles (512 accumulators a lane, which llvmpipe keeps on
///   the stack; faster than four tiles at both widths). BENCHMARKS.md, Xeon SPR, has both.
fn subgroup_block(g: &Geometry, sg: u32) -> (u32, u32) {
    const SHORT_K: usize = 128;
    if g.k > SHORT_K {
        return (64, 2);
    }
    (32, if g.n >= 16 * sg as usize { 4 } else { 2 })
}

/// 2·M·N·K·batch, the FLOPs a benchmark divides by.
pub fn flops(g: &Geometry) -> f64 {
    2.0 * (g.batch * g.m * g.n * g.k) as f64
}

#[cfg(test)]
mod tests {
    use super::{geometry, k_splits, texture_fits};

    /// K is split only where the grid would leave a core idle and each part keeps 1024 of K.
    #[test]
    fn splits_k_for_narrow_long_products_only() {
        // The stage-1 convolutions' 64×16 weight gradients over 12,544 pixels.
        assert_eq!(k_splits(1, 12544 / 4), 8);
        assert_eq!(k_splits(2, 12544 / 4), 4);
        assert_eq!(k_splits(3, 12544 / 4), 3);
        // Enough workgroups already, or too short a K to share.
        assert_eq!(k_splits(4, 1 << 20), 1);
        assert_eq!(k_splits(1, 1024 / 4), 1);
        assert_eq!(k_splits(1, 5 * 256), 5);
    }

    /// The conformance shapes meant to run matmul_tex do (and the odd ones fall back), for
    /// every transpose, on the smallest 2-D limit an adapter may have (2048).
    #[test]
    fn texture_path_takes_the_shapes_check_relies_on() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for ((m, n, k), fits) in [
                ((64, 64, 64), true),
                ((256, 512, 384), true),
                ((7, 13, 5), false),
                // Rows narrower than a copy pitch, few enough to copy one by one.
                ((4, 8, 12), true),
                ((12, 8, 16), true),
            ] {
                let sa = if ta { [k, m] } else { [m, k] };
                let sb = if tb { [n, k] } else { [k, n] };
                let g = geometry(&sa, &sb, ta, tb).unwrap();
                assert_eq!(
                    texture_fits(&g, ta, tb, 2048),
                    fits,
                    "{m}×{n}×{k} {ta}/{tb}"
                );
            }
        }
        // The edge shape, every transpose (its narrow stored rows are copied one by one).
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let sa = if ta { [192, 100] } else { [100, 192] };
            let sb = if tb { [132, 192] } else { [192, 132] };
            let g = geometry(&sa, &sb, ta, tb).unwrap();
            assert!(texture_fits(&g, ta, tb, 2048), "{ta}/{tb}");
        }
        // Too many narrow rows to copy one by one.
        let g = geometry(&[300, 12], &[12, 8], false, false).unwrap();
        assert!(!texture_fits(&g, false, false, 2048));
        // Batched products and textures past the limit fall back.
        let g = geometry(&[3, 64, 64], &[3, 64, 64], false, false).unwrap();
        assert!(!texture_fits(&g, false, false, 2048));
        let g = geometry(&[64, 12544], &[12544, 64], false, false).unwrap();
        assert!(!texture_fits(&g, false, false, 2048));
        assert!(texture_fits(&g, false, false, 16384));
    }
}

pub mod reference {
    use super::geometry;

    /// Dense A and B with the same layout rules as the GPU op; returns C.
    pub fn matmul(
        a: &[f64],
        sa: &[usize],
        b: &[f64],
        sb: &[usize],
        trans_a: bool,
        trans_b: bool,
    ) -> Vec<f64> {
        let g = geometry(sa, sb, trans_a, trans_b).unwrap();
        let mut c = vec![0.0; g.batch * g.m * g.n];
        for bt in 0..g.batch {
            let ao = if g.a_batched { bt * g.m * g.k } else { 0 };
            let bo = if g.b_batched { bt * g.k * g.n } else { 0 };
            for i in 0..g.m {
                for j in 0..g.n {
                    let mut s = 0.0;
                    for k in 0..g.k {
                        let av = if trans_a {
                            a[ao + k * g.m + i]
                        } else {
                            a[ao + i * g.k + k]
                        };
                        let bv = if trans_b {
                            b[bo + j * g.k + k]
                        } else {
                            b[bo + k * g.n + j]
                        };
                        s += av * bv;
                    }
                    c[(bt * g.m + i) * g.n + j] = s;
                }
            }
        }
        c
    }
}
