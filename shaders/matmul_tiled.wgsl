// matmul (workgroup-memory tiled, any shape): C[b] = A[b] · B[b] with strided A and B
// (transposes are strides), as in matmul.wgsl. A 16×16 workgroup computes a 64×64 tile
// of C, each invocation a 4×4 block; K advances in steps of 16 through two 16×64 tiles
// staged in workgroup memory (8 KiB, inside the 16 KiB downlevel limit). This is the
// variant for real GPUs, where one global load feeds 64 FMAs from fast shared memory.
// Bindings: 0 params, 1 A, 2 B, 3 C. Grid: (ceil(N/64), ceil(M/64), batch).

const BK: u32 = 16u;

// #include strided_operands

// as_[kk*64 + mm] = a(tile_m + mm, k0 + kk); bs[kk*64 + nn] = b(k0 + kk, tile_n + nn).
var<workgroup> as_: array<f32, 1024>;
var<workgroup> bs: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let tile_m = wid.y * 64u;
    let tile_n = wid.x * 64u;
    let a_base = p.a_off + wid.z * p.a_bs;
    let b_base = p.b_off + wid.z * p.b_bs;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        // 256 invocations stage 1024 elements of each tile, 4 apiece; outside the matrix: 0.
        for (var e = 0u; e < 4u; e += 1u) {
            let idx = li + e * 256u;
            let kk = idx / 64u;
            let mn = idx % 64u;
            let k = k0 + kk;
            let m = tile_m + mn;
            let n = tile_n + mn;
            var av = 0.0;
            if (k < p.k && m < p.m) {
                av = A[a_base + m * p.a_rs + k * p.a_cs];
            }
            as_[idx] = av;
            var bv = 0.0;
            if (k < p.k && n < p.n) {
                bv = B[b_base + k * p.b_rs + n * p.b_cs];
            }
            bs[idx] = bv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk += 1u) {
            let ao = kk * 64u + lid.y * 4u;
            let bo = kk * 64u + lid.x * 4u;
            let bv = vec4<f32>(bs[bo], bs[bo + 1u], bs[bo + 2u], bs[bo + 3u]);
            acc[0] = fma(vec4<f32>(as_[ao]), bv, acc[0]);
            acc[1] = fma(vec4<f32>(as_[ao + 1u]), bv, acc[1]);
            acc[2] = fma(vec4<f32>(as_[ao + 2u]), bv, acc[2]);
            acc[3] = fma(vec4<f32>(as_[ao + 3u]), bv, acc[3]);
        }
        workgroupBarrier();
    }
    let c_base = wid.z * p.c_bs;
    for (var i = 0u; i < 4u; i += 1u) {
        let m = tile_m + lid.y * 4u + i;
        if (m < p.m) {
            for (var j = 0u; j < 4u; j += 1u) {
                let n = tile_n + lid.x * 4u + j;
                if (n < p.n) {
                    C[c_base + m * p.n + n] = acc[i][j];
                }
            }
        }
    }
}
