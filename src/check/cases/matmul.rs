//! matmul: every kernel variant × every transpose combination × tiny, odd, aligned,
//! batched and large shapes. The texture variant runs its own kernel where there is no batch
//! and every stored operand has a multiple of 4 columns and either a multiple of 64 or at
//! most 256 rows (4×8×12, 64³, 100×132×192, 100×260×192, 256×512×384, the views at
//! offsets 4/8); the other shapes check its fallbacks. The subgroup variant runs its own where
//! the texture one does and M is at least 64 (64³, 100×132×192 and 100×260×192 past the last
//! 64-row block and a subgroup's last lanes, 256×512×384; 64³, 196×40×64, 132×256×32 and
//! 68×36×128, K at most 128, in 32-row blocks). 64×16×8256 is one workgroup of
//! C for both: they split K into 8 partial products (where B's stored rows allow a
//! texture: Bᵀ, or A and B as stored).

use crate::check::{compare, covering, Case, Rng, Tolerance};
use crate::gpu::{MatmulVariant, Variant};
use crate::kernels::matmul::{matmul_with, reference};

pub fn cases(v: &mut Vec<Case>) {
    // (m, n, k, batch of A, batch of B; 0 = no batch dim), large?
    let shapes: [(usize, usize, usize, usize, usize, bool); 15] = [
        (1, 1, 1, 0, 0, false),
        (7, 13, 5, 0, 0, false),
        (33, 17, 65, 0, 0, false),
        (4, 8, 12, 0, 0, false),
        (64, 64, 64, 0, 0, false),
        // The texture path with 32×16 and 32×32 blocks past both edges of C.
        (100, 132, 192, 0, 0, false),
        (100, 260, 192, 0, 0, false),
        (20, 12, 8, 3, 3, false),
        (12, 8, 16, 3, 0, false),
        (256, 512, 384, 0, 0, true),
        (255, 129, 513, 2, 2, true),
        // One workgroup's worth of C with a long K: the texture kernels split K 8 ways.
        (64, 16, 8256, 0, 0, false),
        // K ≤ 128: the subgroup kernel's 32-row blocks, past C's last rows (196 = 6·32 + 4,
        // 132 = 4·32 + 4, 68 = 2·32 + 4) with two and four column tiles per lane.
        (196, 40, 64, 0, 0, false),
        (132, 256, 32, 0, 0, false),
        (68, 36, 128, 0, 0, false),
    ];
    // Where the adapter has no fixed subgroup size (GL), the subgroup cases check its fallback
    // to texture.
    for (vi, &variant) in MatmulVariant::all().iter().enumerate() {
        let vname = variant.name();
        let first = v.len();
        for (ti, (ta, tb)) in [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .enumerate()
        {
            for (si, &(m, n, k, ba, bb, large)) in shapes.iter().enumerate() {
                let tr = |t: bool| if t { "ᵀ" } else { "" };
                let batch = if ba > 0 || bb > 0 {
                    format!(" batch {ba}/{bb}")
                } else {
                    String::new()
                };
                let label = format!("{vname} A{}·B{} {m}×{n}×{k}{batch}", tr(ta), tr(tb));
                v.push(Case::new("matmul", label.clone(), large, move |gpu| {
                    let with_batch = |b: usize, r: usize, c: usize| {
                        if b > 0 {
                            vec![b, r, c]
                        } else {
                            vec![r, c]
                        }
                    };
                    let sa = if ta {
                        with_batch(ba, k, m)
                    } else {
                        with_batch(ba, m, k)
                    };
                    let sb = if tb {
                        with_batch(bb, n, k)
                    } else {
                        with_batch(bb, k, n)
                    };
                    let mut rng = Rng::new(1000 + (vi * 100 + ti * 10 + si) as u64);
                    let a = rng.data(&sa, -1.0, 1.0);
                    let b = rng.data(&sb, -1.0, 1.0);
                    let c =
                        matmul_with(variant, &a.upload(gpu)?, &b.upload(gpu)?, ta, tb)?.to_vec()?;
                    let r = reference::matmul(&a.f64, &sa, &b.f64, &sb, ta, tb);
                    let mag = reference::matmul(&a.abs(), &sa, &b.abs(), &sb, ta, tb);
                    Ok(vec![compare(
                        "matmul",
                        &label,
                        &c,
                        &r,
                        Some(&mag),
                        Tolerance::accumulation(k),
                    )])
                }));
            }
        }
        covering(v, first, variant.coverage());
    }

    // Operands that are views at an offset into a larger buffer (parameters live in one flat
    // buffer): aligned offsets keep the vec4 kernel, odd ones make it fall back.
    for (vi, &variant) in MatmulVariant::all().iter().enumerate() {
        let vname = variant.name();
        for (ti, (ta, tb)) in [(false, true), (true, false)].into_iter().enumerate() {
            for (oi, (oa, ob, (m, n, k))) in [
                (4usize, 8usize, (12usize, 8usize, 16usize)),
                (5, 3, (12, 8, 16)),
                (4, 8, (64, 64, 64)),
            ]
            .into_iter()
            .enumerate()
            {
                let label =
                    format!("{vname} {m}×{n}×{k} transposes {ta}/{tb}, views at offsets {oa}/{ob}");
                v.push(Case::new("matmul", label.clone(), false, move |gpu| {
                    let sa = if ta { vec![k, m] } else { vec![m, k] };
                    let sb = if tb { vec![n, k] } else { vec![k, n] };
                    let mut rng = Rng::new(1500 + (vi * 100 + ti * 10 + oi) as u64);
                    let a = rng.data(&sa, -1.0, 1.0);
                    let b = rng.data(&sb, -1.0, 1.0);
                    let c = matmul_with(
                        variant,
                        &a.upload_at(gpu, oa)?,
                        &b.upload_at(gpu, ob)?,
                        ta,
                        tb,
                    )?
                    .to_vec()?;
                    let r = reference::matmul(&a.f64, &sa, &b.f64, &sb, ta, tb);
                    let mag = reference::matmul(&a.abs(), &sa, &b.abs(), &sb, ta, tb);
                    Ok(vec![compare(
                        "matmul",
                        &label,
                        &c,
                        &r,
                        Some(&mag),
                        Tolerance::accumulation(k),
                    )])
                }));
            }
        }
    }
}
