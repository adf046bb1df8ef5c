// matmul (vec4, no workgroup memory): C[b] = op(A[b]) · op(B[b]) where op is identity or
// transpose, chosen at pipeline creation by TRANS_A / TRANS_B. Requires M, N, K, all
// offsets and batch strides to be multiples of 4 (the host falls back to matmul.wgsl).
// Each invocation owns a 4×4 block of C: per 4-step of k it loads four vec4 of A and
// four of B and does 64 FMAs as one mat4×mat4 product. No barriers: on CPU rasterisers
// (lavapipe, llvmpipe) barriers cost more than the reuse workgroup memory would give.
//   A is [M, K] (or [K, M] when TRANS_A), B is [K, N] (or [N, K] when TRANS_B).
// Bindings: 0 params, 1 A, 2 B, 3 C (vec4 views). Grid: (ceil(N/(4·WG)), ceil(M/(4·WG)), batch).

const TRANS_A: u32 = 0u;
const TRANS_B: u32 = 0u;
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
    let n0 = (wid.x * WG + lid.x) * 4u;
    let m0 = (wid.y * WG + lid.y) * 4u;
    if (n0 >= p.n || m0 >= p.m) {
        return;
    }
    // Indices below are in vec4 units.
    let a_base = (p.a_off + wid.z * p.a_bs) / 4u;
    let b_base = (p.b_off + wid.z * p.b_bs) / 4u;
    let m4 = p.m / 4u;
    let n4 = p.n / 4u;
    let k4 = p.k / 4u;
    // acc[i] is row m0+i of the block (a vec4 over 4 columns).
    var acc = mat4x4<f32>();
    for (var kq = 0u; kq < k4; kq += 1u) {
        let k = kq * 4u;
        // bm[kk] = row k+kk of B restricted to columns n0..n0+3.
        var bm: mat4x4<f32>;
        if (TRANS_B == 0u) {
            bm = mat4x4<f32>(B[b_base + k * n4 + n0 / 4u], B[b_base + (k + 1u) * n4 + n0 / 4u],
                             B[b_base + (k + 2u) * n4 + n0 / 4u], B[b_base + (k + 3u) * n4 + n0 / 4u]);
        } else {
            bm = transpose(mat4x4<f32>(B[b_base + n0 * k4 + kq], B[b_base + (n0 + 1u) * k4 + kq],
                                       B[b_base + (n0 + 2u) * k4 + kq], B[b_base + (n0 + 3u) * k4 + kq]));
        }
        // am[i] = row m0+i of A restricted to k..k+3.
        var am: mat4x4<f32>;
        if (TRANS_A == 0u) {
            am = mat4x4<f32>(A[a_base + m0 * k4 + kq], A[a_base + (m0 + 1u) * k4 + kq],
                             A[a_base + (m0 + 2u) * k4 + kq], A[a_base + (m0 + 3u) * k4 + kq]);
        } else {
            am = transpose(mat4x4<f32>(A[a_base + k * m4 + m0 / 4u], A[a_base + (k + 1u) * m4 + m0 / 4u],
                                       A[a_base + (k + 2u) * m4 + m0 / 4u], A[a_base + (k + 3u) * m4 + m0 / 4u]));
        }
        // Column i of bm·am is Σ_kk a(i,kk)·B[k+kk, n0..] — row i of the C block.
        acc += bm * am;
    }
    let c_base = wid.z * p.c_bs / 4u;
    for (var i = 0u; i < 4u; i += 1u) {
        C[c_base + (m0 + i) * n4 + n0 / 4u] = acc[i];
    }
}
