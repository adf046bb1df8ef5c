// matmul with both operands in rgba32float textures (no workgroup memory): C = op(A) · op(B).
// Every operand load is a textureLoad: llvmpipe fetches a texel with one 16-byte load per lane
// and a transpose, where a storage-buffer load there is a loop over the lanes with a branch and
// a bounds test per component. A fetch still costs ~110 cycles per 8 lanes there, against ~1
// per FMA, so the block each invocation computes is as large as the registers allow:
// (4·TM4) × (4·TN4) of C, TM4 and TN4 each 2 or 4, the 4×4 tiles written out by hand. Mesa's
// NIR does not unroll a loop nest over more than four tiles, and the tile arrays it then keeps
// are indexed at run time, 4× slower (measured: 8×16 blocks through arrays ran 2.6 GFLOP/s,
// 16×16 written out 18.6, at 1024³ on lavapipe).
// A texture holds A as stored, [M, K] (or [K, M] when TRANS_A), texel (q, r) = row r, columns
// 4q .. 4q+3; likewise B, [K, N] (or [N, K] when TRANS_B). M, N, K are multiples of 4.
// Bindings: 0 params, 1 C (vec4 view), 2 A, 3 B. Grid: (ceil(N/(4·TN4·WG)), ceil(M/(4·TM4·WG)), 1).

const TRANS_A: u32 = 0u;
const TRANS_B: u32 = 0u;
const TM4: u32 = 4u;
const TN4: u32 = 4u;
const WG: u32 = 8u;

struct Params {
    m: u32, n: u32, k: u32, c_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(2) var At: texture_2d<f32>;
@group(0) @binding(3) var Bt: texture_2d<f32>;

// Rows k .. k+3 of op(B) at columns 4·c4 .. 4·c4+3, one column of the matrix per row.
fn load_b(c4: i32, kq: u32) -> mat4x4<f32> {
    let k = i32(kq * 4u);
    if (TRANS_B == 0u) {
        return mat4x4<f32>(textureLoad(Bt, vec2(c4, k), 0), textureLoad(Bt, vec2(c4, k + 1), 0),
                           textureLoad(Bt, vec2(c4, k + 2), 0), textureLoad(Bt, vec2(c4, k + 3), 0));
    }
    let c = c4 * 4;
    let q = i32(kq);
    return transpose(mat4x4<f32>(textureLoad(Bt, vec2(q, c), 0), textureLoad(Bt, vec2(q, c + 1), 0),
                                 textureLoad(Bt, vec2(q, c + 2), 0), textureLoad(Bt, vec2(q, c + 3), 0)));
}

// Rows 4·r4 .. 4·r4+3 of op(A) at columns k .. k+3, one row of the matrix per column.
fn load_a(r4: i32, kq: u32) -> mat4x4<f32> {
    if (TRANS_A == 0u) {
        let r = r4 * 4;
        let q = i32(kq);
        return mat4x4<f32>(textureLoad(At, vec2(q, r), 0), textureLoad(At, vec2(q, r + 1), 0),
                           textureLoad(At, vec2(q, r + 2), 0), textureLoad(At, vec2(q, r + 3), 0));
    }
    let k = i32(kq * 4u);
    return transpose(mat4x4<f32>(textureLoad(At, vec2(r4, k), 0), textureLoad(At, vec2(r4, k + 1), 0),
                                 textureLoad(At, vec2(r4, k + 2), 0), textureLoad(At, vec2(r4, k + 3), 0)));
}

// One 4×4 tile of C (column r of `acc` is row r of the tile), if it lies inside C.
fn store(acc: mat4x4<f32>, r4: u32, c4: u32, m4: u32, n4: u32) {
    if (r4 < m4 && c4 < n4) {
        let base = p.c_off / 4u + r4 * 4u * n4 + c4;
        C[base] = acc[0];
        C[base + n4] = acc[1];
        C[base + 2u * n4] = acc[2];
        C[base + 3u * n4] = acc[3];
    }
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
    let k4 = p.k / 4u;
    // Tiles past the edge read the last tile again (clamped) and are not stored.
    let r0 = i32(min(m0 / 4u + 0u, m4 - 1u));
    let r1 = i32(min(m0 / 4u + 1u, m4 - 1u));
    let r2 = i32(min(m0 / 4u + 2u, m4 - 1u));
    let r3 = i32(min(m0 / 4u + 3u, m4 - 1u));
    let c0 = i32(min(n0 / 4u + 0u, n4 - 1u));
    let c1 = i32(min(n0 / 4u + 1u, n4 - 1u));
    let c2 = i32(min(n0 / 4u + 2u, n4 - 1u));
    let c3 = i32(min(n0 / 4u + 3u, n4 - 1u));
    var acc00 = mat4x4<f32>(); var acc01 = mat4x4<f32>();
    var acc02 = mat4x4<f32>(); var acc03 = mat4x4<f32>();
    var acc10 = mat4x4<f32>(); var acc11 = mat4x4<f32>();
    var acc12 = mat4x4<f32>(); var acc13 = mat4x4<f32>();
    var acc20 = mat4x4<f32>(); var acc21 = mat4x4<f32>();
    var acc22 = mat4x4<f32>(); var acc23 = mat4x4<f32>();
    var acc30 = mat4x4<f32>(); var acc31 = mat4x4<f32>();
    var acc32 = mat4x4<f32>(); var acc33 = mat4x4<f32>();
    for (var kq = 0u; kq < k4; kq += 1u) {
        let b0 = load_b(c0, kq);
        let b1 = load_b(c1, kq);
        var b2 = mat4x4<f32>();
        var b3 = mat4x4<f32>();
        if (TN4 == 4u) {
            b2 = load_b(c2, kq);
            b3 = load_b(c3, kq);
        }
        let a0 = load_a(r0, kq);
        acc00 += b0 * a0;
        acc01 += b1 * a0;
        if (TN4 == 4u) {
            acc02 += b2 * a0;
            acc03 += b3 * a0;
        }
        let a1 = load_a(r1, kq);
        acc10 += b0 * a1;
        acc11 += b1 * a1;
        if (TN4 == 4u) {
            acc12 += b2 * a1;
            acc13 += b3 * a1;
        }
        if (TM4 == 4u) {
            let a2 = load_a(r2, kq);
            acc20 += b0 * a2;
            acc21 += b1 * a2;
            if (TN4 == 4u) {
                acc22 += b2 * a2;
                acc23 += b3 * a2;
            }
            let a3 = load_a(r3, kq);
            acc30 += b0 * a3;
            acc31 += b1 * a3;
            if (TN4 == 4u) {
                acc32 += b2 * a3;
                acc33 += b3 * a3;
            }
        }
    }
    let rb = m0 / 4u;
    let cb = n0 / 4u;
    store(acc00, rb, cb, m4, n4);
    store(acc01, rb, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc02, rb, cb + 2u, m4, n4);
        store(acc03, rb, cb + 3u, m4, n4);
    }
    store(acc10, rb + 1u, cb, m4, n4);
    store(acc11, rb + 1u, cb + 1u, m4, n4);
    if (TN4 == 4u) {
        store(acc12, rb + 1u, cb + 2u, m4, n4);
        store(acc13, rb + 1u, cb + 3u, m4, n4);
    }
    if (TM4 == 4u) {
        store(acc20, rb + 2u, cb, m4, n4);
        store(acc21, rb + 2u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc22, rb + 2u, cb + 2u, m4, n4);
            store(acc23, rb + 2u, cb + 3u, m4, n4);
        }
        store(acc30, rb + 3u, cb, m4, n4);
        store(acc31, rb + 3u, cb + 1u, m4, n4);
        if (TN4 == 4u) {
            store(acc32, rb + 3u, cb + 2u, m4, n4);
            store(acc33, rb + 3u, cb + 3u, m4, n4);
        }
    }
}
