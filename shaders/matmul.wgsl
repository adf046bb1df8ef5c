// matmul (blocked, any shape): C[b] = A[b] · B[b] for b < batch, C dense [M, N].
// A and B are read through strides, so Aᵀ and Bᵀ are just other strides:
//   a(m, k) = A[a_off + b*a_bs + m*a_rs + k*a_cs], likewise b(k, n).
// Each invocation computes a TM×4 block of C in registers (a vec4 of columns per row);
// loads are scalar and bounds-checked, so no shape needs padding.
// Bindings: 0 params, 1 A, 2 B, 3 C. Grid: (ceil(N/(4·WG)), ceil(M/(TM·WG)), batch).

const TM: u32 = 4u;
const WG: u32 = 8u;

// #include strided_operands

@compute @workgroup_size(WG, WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let n0 = (wid.x * WG + lid.x) * 4u;
    let m0 = (wid.y * WG + lid.y) * TM;
    if (n0 >= p.n || m0 >= p.m) {
        return;
    }
    let a_base = p.a_off + wid.z * p.a_bs;
    let b_base = p.b_off + wid.z * p.b_bs;
    // Column mask and clamped column indices: out-of-range columns read column 0 and are zeroed.
    let cols = vec4<u32>(n0, n0 + 1u, n0 + 2u, n0 + 3u);
    let cmask = vec4<f32>(cols < vec4<u32>(p.n));
    let cidx = select(vec4<u32>(0u), cols, cols < vec4<u32>(p.n)) * p.b_cs;
    var acc: array<vec4<f32>, TM>;
    for (var k = 0u; k < p.k; k += 1u) {
        let brow = b_base + k * p.b_rs;
        let bv = vec4<f32>(B[brow + cidx.x], B[brow + cidx.y], B[brow + cidx.z], B[brow + cidx.w]) * cmask;
        for (var i = 0u; i < TM; i += 1u) {
            let m = min(m0 + i, p.m - 1u);
            acc[i] = fma(vec4<f32>(A[a_base + m * p.a_rs + k * p.a_cs]), bv, acc[i]);
        }
    }
    let c_base = wid.z * p.c_bs;
    for (var i = 0u; i < TM; i += 1u) {
        let m = m0 + i;
        if (m < p.m) {
            for (var j = 0u; j < 4u; j += 1u) {
                if (n0 + j < p.n) {
                    C[c_base + m * p.n + n0 + j] = acc[i][j];
                }
            }
        }
    }
}
