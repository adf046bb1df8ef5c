// matmul with both operands in rgba32float textures (no workgroup memory): C = op(A) · op(B).
// Every operand load is an image load: llvmpipe loads a texel with one 16-byte load per lane
// and a transpose, inline (~45 instructions for 8 lanes), where a storage-buffer load there is
// a loop over the lanes with a branch and a bounds test per component (and a sampled
// texture's fetch a call into a 176-instruction function). That is still dozens of FMAs a
// load, so the block each invocation computes is as large as the registers allow:
// (4·TM4) × (4·TN4) of C, TM4 and TN4 each 2, 4 or 8, the 4×4 tiles written out by hand
// (tile ij is acc_ij; the guards on TM4 and TN4 are constants, folded away). Mesa's NIR does
// not unroll a loop nest over more than four tiles, and the tile arrays it then keeps are
// indexed at run time, several times slower (BENCHMARKS.md, Zen 1: matmul_tex's block).
// A texture holds A as stored, [M, K] (or [K, M] when TRANS_A), texel (q, r) = row r, columns
// 4q .. 4q+3; likewise B, [K, N] (or [N, K] when TRANS_B). M, N, K are multiples of 4.
// Bindings: 0 params, 1 C (vec4 view), 2 A, 3 B. Grid: (ceil(N/(4·TN4·WG)), ceil(M/(4·TM4·WG)),
// splits of K); with more than one split, C is [splits, M, N] partial sums.
// CONV = 1: B is a convolution's columns, gathered from x (im2col_gather.wgsl) as in
// matmul_tex_sg.

const TM4: u32 = 8u;
const TN4: u32 = 8u;
const WG: u32 = 8u;

// #include matmul_tex_io

// Rows 4·r4 .. 4·r4+3 of op(A) at columns k .. k+3, one row of the matrix per column.
fn load_a(r4: i32, kq: u32) -> mat4x4<f32> {
    if (TRANS_A == 0u) {
        let r = r4 * 4;
        let q = i32(kq);
        return mat4x4<f32>(textureLoad(At, vec2(q, r)), textureLoad(At, vec2(q, r + 1)),
                           textureLoad(At, vec2(q, r + 2)), textureLoad(At, vec2(q, r + 3)));
    }
    let k = i32(kq * 4u);
    return transpose(mat4x4<f32>(textureLoad(At, vec2(r4, k)), textureLoad(At, vec2(r4, k + 1)),
                                 textureLoad(At, vec2(r4, k + 2)), textureLoad(At, vec2(r4, k + 3))));
}

@compute @workgroup_size(WG, WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let n0 = (wid.x * WG + lid.x) * 4u * TN4;
    let m0 = (wid.y * WG + lid.y) * 4u * TM4;
    if (n0 >= p.n || m0 >= p.m) {
        return;
    }
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    let kq0 = wid.z * p.kc;
    let kq1 = min(kq0 + p.kc, p.k / 4u);
    c_base = p.c_off / 4u + wid.z * (p.m / 4u) * p.n;
    // Tiles past the edge read the last tile again (clamped) and are not stored.
    let r0 = i32(min(m0 / 4u + 0u, m4 - 1u));
    let r1 = i32(min(m0 / 4u + 1u, m4 - 1u));
    let r2 = i32(min(m0 / 4u + 2u, m4 - 1u));
    let r3 = i32(min(m0 / 4u + 3u, m4 - 1u));
    let r4 = i32(min(m0 / 4u + 4u, m4 - 1u));
    let r5 = i32(min(m0 / 4u + 5u, m4 - 1u));
    let r6 = i32(min(m0 / 4u + 6u, m4 - 1u));
    let r7 = i32(min(m0 / 4u + 7u, m4 - 1u));
    let c0 = i32(min(n0 / 4u + 0u, n4 - 1u));
    let c1 = i32(min(n0 / 4u + 1u, n4 - 1u));
    let c2 = i32(min(n0 / 4u + 2u, n4 - 1u));
    let c3 = i32(min(n0 / 4u + 3u, n4 - 1u));
    let c4 = i32(min(n0 / 4u + 4u, n4 - 1u));
    let c5 = i32(min(n0 / 4u + 5u, n4 - 1u));
    let c6 = i32(min(n0 / 4u + 6u, n4 - 1u));
    let c7 = i32(min(n0 / 4u + 7u, n4 - 1u));
    let z = mat4x4<f32>();
    var acc00 = z; var acc01 = z; var acc02 = z; var acc03 = z; var acc04 = z; var acc05 = z; var acc06 = z; var acc07 = z;
    var acc10 = z; var acc11 = z; var acc12 = z; var acc13 = z; var acc14 = z; var acc15 = z; var acc16 = z; var acc17 = z;
    var acc20 = z; var acc21 = z; var acc22 = z; var acc23 = z; var acc24 = z; var acc25 = z; var acc26 = z; var acc27 = z;
    var acc30 = z; var acc31 = z; var acc32 = z; var acc33 = z; var acc34 = z; var acc35 = z; var acc36 = z; var acc37 = z;
    var acc40 = z; var acc41 = z; var acc42 = z; var acc43 = z; var acc44 = z; var acc45 = z; var acc46 = z; var acc47 = z;
    var acc50 = z; var acc51 = z; var acc52 = z; var acc53 = z; var acc54 = z; var acc55 = z; var acc56 = z; var acc57 = z;
    var acc60 = z; var acc61 = z; var acc62 = z; var acc63 = z; var acc64 = z; var acc65 = z; var acc66 = z; var acc67 = z;
    var acc70 = z; var acc71 = z; var acc72 = z; var acc73 = z; var acc74 = z; var acc75 = z; var acc76 = z; var acc77 = z;
    for (var kq = kq0; kq < kq1; kq += 1u) {
        let b0 = load_b(c0, kq);
        let b1 = load_b(c1, kq);
        var b2 = z;
        var b3 = z;
        var b4 = z;
        var b5 = z;
        var b6 = z;
        var b7 = z;
        if (TN4 >= 4u) {
            b2 = load_b(c2, kq);
            b3 = load_b(c3, kq);
        }
        if (TN4 == 8u) {
            b4 = load_b(c4, kq);
            b5 = load_b(c5, kq);
            b6 = load_b(c6, kq);
            b7 = load_b(c7, kq);
        }
        let a0 = load_a(r0, kq);
        acc00 += b0 * a0;
        acc01 += b1 * a0;
        if (TN4 >= 4u) {
            acc02 += b2 * a0;
            acc03 += b3 * a0;
        }
        if (TN4 == 8u) {
            acc04 += b4 * a0;
            acc05 += b5 * a0;
            acc06 += b6 * a0;
            acc07 += b7 * a0;
        }
        let a1 = load_a(r1, kq);
        acc10 += b0 * a1;
        acc11 += b1 * a1;
        if (TN4 >= 4u) {
            acc12 += b2 * a1;
            acc13 += b3 * a1;
        }
        if (TN4 == 8u) {
            acc14 += b4 * a1;
            acc15 += b5 * a1;
            acc16 += b6 * a1;
            acc17 += b7 * a1;
        }
        if (TM4 >= 4u) {
            let a2 = load_a(r2, kq);
            acc20 += b0 * a2;
            acc21 += b1 * a2;
            if (TN4 >= 4u) {
                acc22 += b2 * a2;
                acc23 += b3 * a2;
            }
            if (TN4 == 8u) {
                acc24 += b4 * a2;
                acc25 += b5 * a2;
                acc26 += b6 * a2;
                acc27 += b7 * a2;
            }
            let a3 = load_a(r3, kq);
            acc30 += b0 * a3;
            acc31 += b1 * a3;
            if (TN4 >= 4u) {
                acc32 += b2 * a3;
                acc33 += b3 * a3;
            }
            if (TN4 == 8u) {
                acc34 += b4 * a3;
                acc35 += b5 * a3;
                acc36 += b6 * a3;
                acc37 += b7 * a3;
            }
        }
        if (TM4 == 8u) {
            let a4 = load_a(r4, kq);
            acc40 += b0 * a4;
            acc41 += b1 * a4;
            if (TN4 >= 4u) {
                acc42 += b2 * a4;
                acc43 += b3 * a4;
            }
            if (TN4 == 8u) {
                acc44 += b4 * a4;
                acc45 += b5 * a4;
                acc46 += b6 * a4;
                acc47 += b7 * a4;
            }
            let a5 = load_a(r5, kq);
            acc50 += b0 * a5;
            acc51 += b1 * a5;
            if (TN4 >= 4u) {
                acc52 += b2 * a5;
                acc53 += b3 * a5;
            }
            if (TN4 == 8u) {
                acc54 += b4 * a5;
                acc55 += b5 * a5;
                acc56 += b6 * a5;
                acc57 += b7 * a5;
            }
            let a6 = load_a(r6, kq);
            acc60 += b0 * a6;
            acc61 += b1 * a6;
            if (TN4 >= 4u) {
                acc62 += b2 * a6;
                acc63 += b3 * a6;
            }
            if (TN4 == 8u) {
                acc64 += b4 * a6;
                acc65 += b5 * a6;
                acc66 += b6 * a6;
                acc67 += b7 * a6;
            }
            let a7 = load_a(r7, kq);
            acc70 += b0 * a7;
            acc71 += b1 * a7;
            if (TN4 >= 4u) {
                acc72 += b2 * a7;
                acc73 += b3 * a7;
            }
            if (TN4 == 8u) {
                acc74 += b4 * a7;
                acc75 += b5 * a7;
                acc76 += b6 * a7;
                acc77 += b7 * a7;
            }
        }
    }
    let rb = m0 / 4u;
    let cb = n0 / 4u;
    store(acc00, rb, cb, m4, n4);
    store(acc01, rb, cb + 1u, m4, n4);
    if (TN4 >= 4u) {
        store(acc02, rb, cb + 2u, m4, n4);
        store(acc03, rb, cb + 3u, m4, n4);
    }
    if (TN4 == 8u) {
        store(acc04, rb, cb + 4u, m4, n4);
        store(acc05, rb, cb + 5u, m4, n4);
        store(acc06, rb, cb + 6u, m4, n4);
        store(acc07, rb, cb + 7u, m4, n4);
    }
    store(acc10, rb + 1u, cb, m4, n4);
    store(acc11, rb + 1u, cb + 1u, m4, n4);
    if (TN4 >= 4u) {
        store(acc12, rb + 1u, cb + 2u, m4, n4);
        store(acc13, rb + 1u, cb + 3u, m4, n4);
    }
    if (TN4 == 8u) {
        store(acc14, rb + 1u, cb + 4u, m4, n4);
        store(acc15, rb + 1u, cb + 5u, m4, n4);
        store(acc16, rb + 1u, cb + 6u, m4, n4);
        store(acc17, rb + 1u, cb + 7u, m4, n4);
    }
    if (TM4 >= 4u) {
        store(acc20, rb + 2u, cb, m4, n4);
        store(acc21, rb + 2u, cb + 1u, m4, n4);
        if (TN4 >= 4u) {
            store(acc22, rb + 2u, cb + 2u, m4, n4);
            store(acc23, rb + 2u, cb + 3u, m4, n4);
        }
        if (TN4 == 8u) {
            store(acc24, rb + 2u, cb + 4u, m4, n4);
            store(acc25, rb + 2u, cb + 5u, m4, n4);
            store(acc26, rb + 2u, cb + 6u, m4, n4);
            store(acc27, rb + 2u, cb + 7u, m4, n4);
        }
        store(acc30, rb + 3u, cb, m4, n4);
        store(acc31, rb + 3u, cb + 1u, m4, n4);
        if (TN4 >= 4u) {
            store(acc32, rb + 3u, cb + 2u, m4, n4);
            store(acc33, rb + 3u, cb + 3u, m4, n4);
        }
        if (TN4 == 8u) {
            store(acc34, rb + 3u, cb + 4u, m4, n4);
            store(acc35, rb + 3u, cb + 5u, m4, n4);
            store(acc36, rb + 3u, cb + 6u, m4, n4);
            store(acc37, rb + 3u, cb + 7u, m4, n4);
        }
    }
    if (TM4 == 8u) {
        store(acc40, rb + 4u, cb, m4, n4);
        store(acc41, rb + 4u, cb + 1u, m4, n4);
        if (TN4 >= 4u) {
            store(acc42, rb + 4u, cb + 2u, m4, n4);
            store(acc43, rb + 4u, cb + 3u, m4, n4);
        }
        if (TN4 == 8u) {
            store(acc44, rb + 4u, cb + 4u, m4, n4);
            store(acc45, rb + 4u, cb + 5u, m4, n4);
            store(acc46, rb + 4u, cb + 6u, m4, n4);
            store(acc47, rb + 4u, cb + 7u, m4, n4);
        }
        store(acc50, rb + 5u, cb, m4, n4);
        store(acc51, rb + 5u, cb + 1u, m4, n4);
        if (TN4 >= 4u) {
            store(acc52, rb + 5u, cb + 2u, m4, n4);
            store(acc53, rb + 5u, cb + 3u, m4, n4);
        }
        if (TN4 == 8u) {
            store(acc54, rb + 5u, cb + 4u, m4, n4);
            store(acc55, rb + 5u, cb + 5u, m4, n4);
            store(acc56, rb + 5u, cb + 6u, m4, n4);
            store(acc57, rb + 5u, cb + 7u, m4, n4);
        }
        store(acc60, rb + 6u, cb, m4, n4);
        store(acc61, rb + 6u, cb + 1u, m4, n4);
        if (TN4 >= 4u) {
            store(acc62, rb + 6u, cb + 2u, m4, n4);
            store(acc63, rb + 6u, cb + 3u, m4, n4);
        }
        if (TN4 == 8u) {
            store(acc64, rb + 6u, cb + 4u, m4, n4);
            store(acc65, rb + 6u, cb + 5u, m4, n4);
            store(acc66, rb + 6u, cb + 6u, m4, n4);
            store(acc67, rb + 6u, cb + 7u, m4, n4);
        }
        store(acc70, rb + 7u, cb, m4, n4);
        store(acc71, rb + 7u, cb + 1u, m4, n4);
        if (TN4 >= 4u) {
            store(acc72, rb + 7u, cb + 2u, m4, n4);
            store(acc73, rb + 7u, cb + 3u, m4, n4);
        }
        if (TN4 == 8u) {
            store(acc74, rb + 7u, cb + 4u, m4, n4);
            store(acc75, rb + 7u, cb + 5u, m4, n4);
            store(acc76, rb + 7u, cb + 6u, m4, n4);
            store(acc77, rb + 7u, cb + 7u, m4, n4);
        }
    }
}
