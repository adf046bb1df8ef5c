// matmul with both operands in rgba32float textures, the rows of A shared across a subgroup:
// C = op(A) · op(B). For CPU rasterisers, where a subgroup is one SIMD register's lanes.
// In matmul_tex the 8 lanes of a row of invocations load the same texels of A (llvmpipe
// turns no load into one load and a broadcast unless its address is a compile-time
// constant), so half its loads are repeats. Here the SG lanes of a subgroup work on the same
// 64 rows of C, each lane loads 64/SG of the 64 texels of A a step of K needs, and
// subgroupBroadcast with a constant lane (an extract and a splat there) hands each row to
// every lane. Per step of 4 along K a lane loads 4·TN4 texels of B and 64/SG of A for
// 64·4·TN4·4 multiply-adds: with SG = 8 and TN4 = 4, 24 loads for 4096, where matmul_tex's
// 32×32 block takes 64. (The rest is llvmpipe's: no FMA contraction, an accumulator spilled
// and blended with the loop mask at each step; BENCHMARKS.md, Zen 1, compares it with
// matmul_tex.)
// Lane l's texel t of A: without TRANS_A row m0 + t·SG + l at columns 4kq..4kq+3; with
// TRANS_A, rows 4·(m0/4 + t·SG/4 + l/4) .. +3 at column 4kq + l%4. Either way row tile i
// (rows 4i..4i+3) sits in texel 4i/SG of lanes 4i%SG .. 4i%SG+3, a constant lane each.
// Each lane computes ROWS × (4·TN4) of C, ROWS 64 or 32 (the tiles past 32 rows sit under
// `if (ROWS == 64u)`, which the compiler drops when ROWS is 32), TN4 2 or 4; the tile arrays
// are indexed by constants only, so they stay in registers (or their spill slots).
// A workgroup is one subgroup (chosen only where the subgroup size is fixed at SG), so every
// lane of a subgroup shares m0, and lanes past N still take part in the broadcasts.
// The parameters, bindings, load_b and store are matmul_tex's (include/matmul_tex_io.wgsl).
// Bindings: 0 params, 1 C (vec4 view), 2 A, 3 B. Grid: (ceil(N/(4·TN4·SG)), ceil(M/ROWS),
// splits of K); with more than one split, C is [splits, M, N] partial sums.
// CONV = 1: B is a convolution's columns, gathered from x (im2col_gather.wgsl). That saves
// im2col's pass and its copy into a texture (the stage-1 convolutions' 3.2 M floats each),
// for eight texel loads per load_b where there were four.

const TN4: u32 = 4u;
const SG: u32 = 8u;
// Rows of C a subgroup computes: 64, or 32 where K is short (matmul.rs says why).
const ROWS: u32 = 64u;
// Texels of A per lane and step of K.
const NT: u32 = ROWS / SG;

// #include matmul_tex_io

// Lane `lane`'s texel t of A at kq = 0, clamped into the texture (rows past M are loaded
// again and not stored).
fn a_coord(m0: u32, t: u32, lane: u32, m: u32) -> vec2<i32> {
    if (TRANS_A == 0u) {
        return vec2(0, i32(min(m0 + t * SG + lane, m - 1u)));
    }
    return vec2(i32(min(m0 / 4u + t * (SG / 4u) + lane / 4u, m / 4u - 1u)), i32(lane % 4u));
}

// Four broadcast texels as a row tile of op(A): column r is row r's four values along K.
fn op_a(x: mat4x4<f32>) -> mat4x4<f32> {
    if (TRANS_A == 0u) {
        return x;
    }
    return transpose(x);
}

@compute @workgroup_size(SG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let m0 = wid.y * ROWS;
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    let kq0 = wid.z * p.kc;
    let kq1 = min(kq0 + p.kc, p.k / 4u);
    c_base = p.c_off / 4u + wid.z * (p.m / 4u) * p.n;
    // Lanes past N still load their share of A (every lane's texels are broadcast) and
    // compute the last tile again; only their stores are skipped.
    let cb = (wid.x * SG + lane) * TN4;
    let c0 = i32(min(cb, n4 - 1u));
    let c1 = i32(min(cb + 1u, n4 - 1u));
    let c2 = i32(min(cb + 2u, n4 - 1u));
    let c3 = i32(min(cb + 3u, n4 - 1u));
    var pa: array<vec2<i32>, 8>;
    pa[0] = a_coord(m0, 0u, lane, p.m);
    pa[1] = a_coord(m0, 1u, lane, p.m);
    pa[2] = a_coord(m0, 2u, lane, p.m);
    pa[3] = a_coord(m0, 3u, lane, p.m);
    pa[4] = a_coord(m0, 4u, lane, p.m);
    pa[5] = a_coord(m0, 5u, lane, p.m);
    pa[6] = a_coord(m0, 6u, lane, p.m);
    pa[7] = a_coord(m0, 7u, lane, p.m);
    // Texel t at step kq is pa[t] + kq·step.
    var step = vec2(1, 0);
    if (TRANS_A == 1u) {
        step = vec2(0, 4);
    }
    let z = mat4x4<f32>();
    var acc: array<array<mat4x4<f32>, 4>, 16>;
    var ta: array<vec4<f32>, 8>;
    var t: vec4<f32>;
    var a: mat4x4<f32>;
    for (var kq = kq0; kq < kq1; kq += 1u) {
        let d = step * i32(kq);
        ta[0] = textureLoad(At, pa[0] + d);
        if (1u < NT) { ta[1] = textureLoad(At, pa[1] + d); }
        if (2u < NT) { ta[2] = textureLoad(At, pa[2] + d); }
        if (3u < NT) { ta[3] = textureLoad(At, pa[3] + d); }
        if (4u < NT) { ta[4] = textureLoad(At, pa[4] + d); }
        if (5u < NT) { ta[5] = textureLoad(At, pa[5] + d); }
        if (6u < NT) { ta[6] = textureLoad(At, pa[6] + d); }
        if (7u < NT) { ta[7] = textureLoad(At, pa[7] + d); }
        let b0 = load_b(c0, kq);
        let b1 = load_b(c1, kq);
        var b2 = z;
        var b3 = z;
        if (TN4 == 4u) {
            b2 = load_b(c2, kq);
            b3 = load_b(c3, kq);
        }
        t = ta[0u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 0u % SG), subgroupBroadcast(t, 0u % SG + 1u),
                             subgroupBroadcast(t, 0u % SG + 2u), subgroupBroadcast(t, 0u % SG + 3u)));
        acc[0][0] += b0 * a;
        acc[0][1] += b1 * a;
        if (TN4 == 4u) {
            acc[0][2] += b2 * a;
            acc[0][3] += b3 * a;
        }
        t = ta[4u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 4u % SG), subgroupBroadcast(t, 4u % SG + 1u),
                             subgroupBroadcast(t, 4u % SG + 2u), subgroupBroadcast(t, 4u % SG + 3u)));
        acc[1][0] += b0 * a;
        acc[1][1] += b1 * a;
        if (TN4 == 4u) {
            acc[1][2] += b2 * a;
            acc[1][3] += b3 * a;
        }
        t = ta[8u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 8u % SG), subgroupBroadcast(t, 8u % SG + 1u),
                             subgroupBroadcast(t, 8u % SG + 2u), subgroupBroadcast(t, 8u % SG + 3u)));
        acc[2][0] += b0 * a;
        acc[2][1] += b1 * a;
        if (TN4 == 4u) {
            acc[2][2] += b2 * a;
            acc[2][3] += b3 * a;
        }
        t = ta[12u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 12u % SG), subgroupBroadcast(t, 12u % SG + 1u),
                             subgroupBroadcast(t, 12u % SG + 2u), subgroupBroadcast(t, 12u % SG + 3u)));
        acc[3][0] += b0 * a;
        acc[3][1] += b1 * a;
        if (TN4 == 4u) {
            acc[3][2] += b2 * a;
            acc[3][3] += b3 * a;
        }
        t = ta[16u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 16u % SG), subgroupBroadcast(t, 16u % SG + 1u),
                             subgroupBroadcast(t, 16u % SG + 2u), subgroupBroadcast(t, 16u % SG + 3u)));
        acc[4][0] += b0 * a;
        acc[4][1] += b1 * a;
        if (TN4 == 4u) {
            acc[4][2] += b2 * a;
            acc[4][3] += b3 * a;
        }
        t = ta[20u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 20u % SG), subgroupBroadcast(t, 20u % SG + 1u),
                             subgroupBroadcast(t, 20u % SG + 2u), subgroupBroadcast(t, 20u % SG + 3u)));
        acc[5][0] += b0 * a;
        acc[5][1] += b1 * a;
        if (TN4 == 4u) {
            acc[5][2] += b2 * a;
            acc[5][3] += b3 * a;
        }
        t = ta[24u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 24u % SG), subgroupBroadcast(t, 24u % SG + 1u),
                             subgroupBroadcast(t, 24u % SG + 2u), subgroupBroadcast(t, 24u % SG + 3u)));
        acc[6][0] += b0 * a;
        acc[6][1] += b1 * a;
        if (TN4 == 4u) {
            acc[6][2] += b2 * a;
            acc[6][3] += b3 * a;
        }
        t = ta[28u / SG];
        a = op_a(mat4x4<f32>(subgroupBroadcast(t, 28u % SG), subgroupBroadcast(t, 28u % SG + 1u),
                             subgroupBroadcast(t, 28u % SG + 2u), subgroupBroadcast(t, 28u % SG + 3u)));
        acc[7][0] += b0 * a;
        acc[7][1] += b1 * a;
        if (TN4 == 4u) {
            acc[7][2] += b2 * a;
            acc[7][3] += b3 * a;
        }
        if (ROWS == 64u) {
            t = ta[32u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 32u % SG), subgroupBroadcast(t, 32u % SG + 1u),
                                 subgroupBroadcast(t, 32u % SG + 2u), subgroupBroadcast(t, 32u % SG + 3u)));
            acc[8][0] += b0 * a;
            acc[8][1] += b1 * a;
            if (TN4 == 4u) {
                acc[8][2] += b2 * a;
                acc[8][3] += b3 * a;
            }
            t = ta[36u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 36u % SG), subgroupBroadcast(t, 36u % SG + 1u),
                                 subgroupBroadcast(t, 36u % SG + 2u), subgroupBroadcast(t, 36u % SG + 3u)));
            acc[9][0] += b0 * a;
            acc[9][1] += b1 * a;
            if (TN4 == 4u) {
                acc[9][2] += b2 * a;
                acc[9][3] += b3 * a;
            }
            t = ta[40u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 40u % SG), subgroupBroadcast(t, 40u % SG + 1u),
                                 subgroupBroadcast(t, 40u % SG + 2u), subgroupBroadcast(t, 40u % SG + 3u)));
            acc[10][0] += b0 * a;
            acc[10][1] += b1 * a;
            if (TN4 == 4u) {
                acc[10][2] += b2 * a;
                acc[10][3] += b3 * a;
            }
            t = ta[44u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 44u % SG), subgroupBroadcast(t, 44u % SG + 1u),
                                 subgroupBroadcast(t, 44u % SG + 2u), subgroupBroadcast(t, 44u % SG + 3u)));
            acc[11][0] += b0 * a;
            acc[11][1] += b1 * a;
            if (TN4 == 4u) {
                acc[11][2] += b2 * a;
                acc[11][3] += b3 * a;
            }
            t = ta[48u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 48u % SG), subgroupBroadcast(t, 48u % SG + 1u),
                                 subgroupBroadcast(t, 48u % SG + 2u), subgroupBroadcast(t, 48u % SG + 3u)));
            acc[12][0] += b0 * a;
            acc[12][1] += b1 * a;
            if (TN4 == 4u) {
                acc[12][2] += b2 * a;
                acc[12][3] += b3 * a;
            }
            t = ta[52u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 52u % SG), subgroupBroadcast(t, 52u % SG + 1u),
                                 subgroupBroadcast(t, 52u % SG + 2u), subgroupBroadcast(t, 52u % SG + 3u)));
            acc[13][0] += b0 * a;
            acc[13][1] += b1 * a;
            if (TN4 == 4u) {
                acc[13][2] += b2 * a;
                acc[13][3] += b3 * a;
            }
            t = ta[56u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 56u % SG), subgroupBroadcast(t, 56u % SG + 1u),
                                 subgroupBroadcast(t, 56u % SG + 2u), subgroupBroadcast(t, 56u % SG + 3u)));
            acc[14][0] += b0 * a;
            acc[14][1] += b1 * a;
            if (TN4 == 4u) {
                acc[14][2] += b2 * a;
                acc[14][3] += b3 * a;
            }
            t = ta[60u / SG];
            a = op_a(mat4x4<f32>(subgroupBroadcast(t, 60u % SG), subgroupBroadcast(t, 60u % SG + 1u),
                                 subgroupBroadcast(t, 60u % SG + 2u), subgroupBroadcast(t, 60u % SG + 3u)));
            acc[15][0] += b0 * a;
            acc[15][1] += b1 * a;
            if (TN4 == 4u) {
                acc[15][2] += b2 * a;
                acc[15][3] += b3 * a;
            }
        }
    }
    let rb = m0 / 4u;
    store(acc[0][0], rb + 0u, cb, m4, n4);
    store(acc[0][1], rb + 0u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[0][2], rb + 0u, cb + 2u, m4, n4);
        store(acc[0][3], rb + 0u, cb + 3u, m4, n4);
    }
    store(acc[1][0], rb + 1u, cb, m4, n4);
    store(acc[1][1], rb + 1u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[1][2], rb + 1u, cb + 2u, m4, n4);
        store(acc[1][3], rb + 1u, cb + 3u, m4, n4);
    }
    store(acc[2][0], rb + 2u, cb, m4, n4);
    store(acc[2][1], rb + 2u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[2][2], rb + 2u, cb + 2u, m4, n4);
        store(acc[2][3], rb + 2u, cb + 3u, m4, n4);
    }
    store(acc[3][0], rb + 3u, cb, m4, n4);
    store(acc[3][1], rb + 3u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[3][2], rb + 3u, cb + 2u, m4, n4);
        store(acc[3][3], rb + 3u, cb + 3u, m4, n4);
    }
    store(acc[4][0], rb + 4u, cb, m4, n4);
    store(acc[4][1], rb + 4u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[4][2], rb + 4u, cb + 2u, m4, n4);
        store(acc[4][3], rb + 4u, cb + 3u, m4, n4);
    }
    store(acc[5][0], rb + 5u, cb, m4, n4);
    store(acc[5][1], rb + 5u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[5][2], rb + 5u, cb + 2u, m4, n4);
        store(acc[5][3], rb + 5u, cb + 3u, m4, n4);
    }
    store(acc[6][0], rb + 6u, cb, m4, n4);
    store(acc[6][1], rb + 6u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[6][2], rb + 6u, cb + 2u, m4, n4);
        store(acc[6][3], rb + 6u, cb + 3u, m4, n4);
    }
    store(acc[7][0], rb + 7u, cb, m4, n4);
    store(acc[7][1], rb + 7u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc[7][2], rb + 7u, cb + 2u, m4, n4);
        store(acc[7][3], rb + 7u, cb + 3u, m4, n4);
    }
    if (ROWS == 64u) {
        store(acc[8][0], rb + 8u, cb, m4, n4);
        store(acc[8][1], rb + 8u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[8][2], rb + 8u, cb + 2u, m4, n4);
            store(acc[8][3], rb + 8u, cb + 3u, m4, n4);
        }
        store(acc[9][0], rb + 9u, cb, m4, n4);
        store(acc[9][1], rb + 9u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[9][2], rb + 9u, cb + 2u, m4, n4);
            store(acc[9][3], rb + 9u, cb + 3u, m4, n4);
        }
        store(acc[10][0], rb + 10u, cb, m4, n4);
        store(acc[10][1], rb + 10u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[10][2], rb + 10u, cb + 2u, m4, n4);
            store(acc[10][3], rb + 10u, cb + 3u, m4, n4);
        }
        store(acc[11][0], rb + 11u, cb, m4, n4);
        store(acc[11][1], rb + 11u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[11][2], rb + 11u, cb + 2u, m4, n4);
            store(acc[11][3], rb + 11u, cb + 3u, m4, n4);
        }
        store(acc[12][0], rb + 12u, cb, m4, n4);
        store(acc[12][1], rb + 12u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[12][2], rb + 12u, cb + 2u, m4, n4);
            store(acc[12][3], rb + 12u, cb + 3u, m4, n4);
        }
        store(acc[13][0], rb + 13u, cb, m4, n4);
        store(acc[13][1], rb + 13u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[13][2], rb + 13u, cb + 2u, m4, n4);
            store(acc[13][3], rb + 13u, cb + 3u, m4, n4);
        }
        store(acc[14][0], rb + 14u, cb, m4, n4);
        store(acc[14][1], rb + 14u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[14][2], rb + 14u, cb + 2u, m4, n4);
            store(acc[14][3], rb + 14u, cb + 3u, m4, n4);
        }
        store(acc[15][0], rb + 15u, cb, m4, n4);
        store(acc[15][1], rb + 15u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc[15][2], rb + 15u, cb + 2u, m4, n4);
            store(acc[15][3], rb + 15u, cb + 3u, m4, n4);
        }
    }
}
