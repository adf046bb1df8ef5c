// matmul with both operands in rgba32float textures (no workgroup memory): C = op(A) · op(B).
// Same blocking as matmul_vec4.wgsl, but every operand load is a textureLoad: llvmpipe fetches
// texels with one 16-byte load per lane and a transpose, where a storage-buffer load there is
// a loop over the lanes with a branch and a bounds test per component.
// A texture holds A as stored, [M, K] (or [K, M] when TRANS_A), texel (q, r) = row r, columns
// 4q .. 4q+3; likewise B, [K, N] (or [N, K] when TRANS_B). M, N, K are multiples of 4.
// Bindings: 0 params, 1 C (vec4 view), 2 A, 3 B. Grid: (ceil(N/(4·TN4·WG)), ceil(M/(4·TM4·WG)), 1).

const TRANS_A: u32 = 0u;
const TRANS_B: u32 = 0u;
const TM4: u32 = 2u;
const TN4: u32 = 2u;
const WG: u32 = 8u;

struct Params {
    m: u32, n: u32, k: u32, c_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(2) var At: texture_2d<f32>;
@group(0) @binding(3) var Bt: texture_2d<f32>;

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
    var acc: array<mat4x4<f32>, TM4 * TN4>;
    var bm: array<mat4x4<f32>, TN4>;
    var am: array<mat4x4<f32>, TM4>;
    for (var kq = 0u; kq < k4; kq += 1u) {
        let k = i32(kq * 4u);
        for (var j = 0u; j < TN4; j += 1u) {
            let c4 = i32(min(n0 / 4u + j, n4 - 1u));
            if (TRANS_B == 0u) {
                bm[j] = mat4x4<f32>(textureLoad(Bt, vec2(c4, k), 0), textureLoad(Bt, vec2(c4, k + 1), 0),
                                    textureLoad(Bt, vec2(c4, k + 2), 0), textureLoad(Bt, vec2(c4, k + 3), 0));
            } else {
                let c = c4 * 4;
                let q = i32(kq);
                bm[j] = transpose(mat4x4<f32>(textureLoad(Bt, vec2(q, c), 0), textureLoad(Bt, vec2(q, c + 1), 0),
                                              textureLoad(Bt, vec2(q, c + 2), 0), textureLoad(Bt, vec2(q, c + 3), 0)));
            }
        }
        for (var i = 0u; i < TM4; i += 1u) {
            let r4 = i32(min(m0 / 4u + i, m4 - 1u));
            if (TRANS_A == 0u) {
                let r = r4 * 4;
                let q = i32(kq);
                am[i] = mat4x4<f32>(textureLoad(At, vec2(q, r), 0), textureLoad(At, vec2(q, r + 1), 0),
                                    textureLoad(At, vec2(q, r + 2), 0), textureLoad(At, vec2(q, r + 3), 0));
            } else {
                am[i] = transpose(mat4x4<f32>(textureLoad(At, vec2(r4, k), 0), textureLoad(At, vec2(r4, k + 1), 0),
                                              textureLoad(At, vec2(r4, k + 2), 0), textureLoad(At, vec2(r4, k + 3), 0)));
            }
        }
        for (var i = 0u; i < TM4; i += 1u) {
            for (var j = 0u; j < TN4; j += 1u) {
                acc[i * TN4 + j] += bm[j] * am[i];
            }
        }
    }
    let c_base = p.c_off / 4u;
    for (var i = 0u; i < TM4; i += 1u) {
        for (var j = 0u; j < TN4; j += 1u) {
            let r4 = m0 / 4u + i;
            let c4 = n0 / 4u + j;
            if (r4 < m4 && c4 < n4) {
                for (var r = 0u; r < 4u; r += 1u) {
                    C[c_base + (r4 * 4u + r) * n4 + c4] = acc[i * TN4 + j][r];
                }
            }
        }
    }
}
