// matmul (vec4, no workgroup memory): C[b] = op(A[b]) · op(B[b]) where op is identity or
// transpose, chosen at pipeline creation by TRANS_A / TRANS_B. Requires M, N, K, all
// offsets and batch strides to be multiples of 4 (the host falls back to matmul.wgsl).
// Each invocation owns a (4·TM4)×(4·TN4) block of C as TM4·TN4 4×4 sub-blocks: per
// 4-step of k it loads 4·(TM4 + TN4) vec4 and does 64·TM4·TN4 FMAs as mat4×mat4 products.
// No barriers: on CPU rasterisers (lavapipe, llvmpipe) barriers cost more than the reuse
// workgroup memory would give, and every per-lane load is a gather, so FMAs per load
// (16·TM4·TN4 / (TM4 + TN4)) is what sets the speed.
//   A is [M, K] (or [K, M] when TRANS_A), B is [K, N] (or [N, K] when TRANS_B).
// Bindings: 0 params, 1 A, 2 B, 3 C (vec4 views).
// Grid: (ceil(N/(4·TN4·WG)), ceil(M/(4·TM4·WG)), batch).

const TRANS_A: u32 = 0u;
const TRANS_B: u32 = 0u;
const TM4: u32 = 2u;
const TN4: u32 = 2u;
const WG: u32 = 8u;

struct Params {
    m: u32, n: u32, k: u32, c_bs: u32,
    a_off: u32, a_bs: u32, b_off: u32, b_bs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4<f32>>;

@compute @workgroup_size(WG, WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let n0 = (wid.x * WG + lid.x) * 4u * TN4;
    let m0 = (wid.y * WG + lid.y) * 4u * TM4;
    if (n0 >= p.n || m0 >= p.m) {
        return;
    }
    // Indices below are in vec4 units. Sub-blocks past the edge of C (M or N not a
    // multiple of the block) read clamped rows/columns and are not written.
    let a_base = (p.a_off + wid.z * p.a_bs) / 4u;
    let b_base = (p.b_off + wid.z * p.b_bs) / 4u;
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    let k4 = p.k / 4u;
    // acc[i·TN4 + j][r] is row m0 + 4i + r of C over columns n0 + 4j .. n0 + 4j + 3.
    var acc: array<mat4x4<f32>, TM4 * TN4>;
    var bm: array<mat4x4<f32>, TN4>;
    var am: array<mat4x4<f32>, TM4>;
    for (var kq = 0u; kq < k4; kq += 1u) {
        let k = kq * 4u;
        // bm[j][kk] = row k+kk of B over columns n0+4j .. n0+4j+3.
        for (var j = 0u; j < TN4; j += 1u) {
            let c4 = min(n0 / 4u + j, n4 - 1u);
            if (TRANS_B == 0u) {
                bm[j] = mat4x4<f32>(B[b_base + k * n4 + c4], B[b_base + (k + 1u) * n4 + c4],
                                    B[b_base + (k + 2u) * n4 + c4], B[b_base + (k + 3u) * n4 + c4]);
            } else {
                let c = c4 * 4u;
                bm[j] = transpose(mat4x4<f32>(B[b_base + c * k4 + kq], B[b_base + (c + 1u) * k4 + kq],
                                              B[b_base + (c + 2u) * k4 + kq], B[b_base + (c + 3u) * k4 + kq]));
            }
        }
        // am[i][r] = row m0+4i+r of A over k .. k+3.
        for (var i = 0u; i < TM4; i += 1u) {
            let r4 = min(m0 / 4u + i, m4 - 1u);
            if (TRANS_A == 0u) {
                let r = r4 * 4u;
                am[i] = mat4x4<f32>(A[a_base + r * k4 + kq], A[a_base + (r + 1u) * k4 + kq],
                                    A[a_base + (r + 2u) * k4 + kq], A[a_base + (r + 3u) * k4 + kq]);
            } else {
                am[i] = transpose(mat4x4<f32>(A[a_base + k * m4 + r4], A[a_base + (k + 1u) * m4 + r4],
                                              A[a_base + (k + 2u) * m4 + r4], A[a_base + (k + 3u) * m4 + r4]));
            }
        }
        // Column r of bm[j]·am[i] is Σ_kk a(r, kk)·B[k+kk, cols] — row r of sub-block (i, j).
        for (var i = 0u; i < TM4; i += 1u) {
            for (var j = 0u; j < TN4; j += 1u) {
                acc[i * TN4 + j] += bm[j] * am[i];
            }
        }
    }
    let c_base = wid.z * p.c_bs / 4u;
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
