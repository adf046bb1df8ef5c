// matmul for real GPUs and large products: C[b] = A[b] · B[b] with strided A and B (transposes
// are strides), as matmul_tiled.wgsl, with four times its work per invocation. A 16×16
// workgroup computes a 128×128 tile of C, each invocation an 8×8 block: rows 4·ty..4·ty+3 and
// 64+4·ty..64+4·ty+3, columns likewise, so the invocations of a row read consecutive vec4s of
// the staged tiles. K advances 8 at a time through an 8×128 tile of each operand in workgroup
// memory (8 KiB, inside the 16 KiB downlevel limit). Per step of 8 along K an invocation makes
// 8 global loads and reads 128 floats of workgroup memory (32 vec4s) for 512 multiply-adds:
// half matmul_tiled's global loads and workgroup-memory reads per multiply-add (8 and 128 for
// 256 per step of 16). The
// next step's global loads are issued before this step's multiply-adds and kept in registers
// until the barrier, so their latency hides behind them (double buffering through registers:
// a second 8 KiB tile pair would exceed the downlevel limit of 16,352 bytes).
// Bindings: 0 params, 1 A, 2 B, 3 C. Grid: (ceil(N/128), ceil(M/128), batch).

const BK: u32 = 8u;

// #include strided_operands

// as4[kk*32 + i] = a(tile_m + 4i .. 4i+3, k0 + kk); bs4[kk*32 + j] = b(k0 + kk, tile_n + 4j .. 4j+3).
var<workgroup> as4: array<vec4<f32>, 256>;
var<workgroup> bs4: array<vec4<f32>, 256>;

// a(m, k) and b(k, n), zero outside the matrices.
fn a_at(base: u32, m: u32, k: u32) -> f32 {
    if (m < p.m && k < p.k) {
        return A[base + m * p.a_rs + k * p.a_cs];
    }
    return 0.0;
}

fn b_at(base: u32, k: u32, n: u32) -> f32 {
    if (k < p.k && n < p.n) {
        return B[base + k * p.b_rs + n * p.b_cs];
    }
    return 0.0;
}

// Rows m .. m+3 of A at column k, and columns n .. n+3 of B at row k.
fn a4(base: u32, m: u32, k: u32) -> vec4<f32> {
    return vec4<f32>(a_at(base, m, k), a_at(base, m + 1u, k), a_at(base, m + 2u, k), a_at(base, m + 3u, k));
}

fn b4(base: u32, k: u32, n: u32) -> vec4<f32> {
    return vec4<f32>(b_at(base, k, n), b_at(base, k, n + 1u), b_at(base, k, n + 2u), b_at(base, k, n + 3u));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let tile_m = wid.y * 128u;
    let tile_n = wid.x * 128u;
    let a_base = p.a_off + wid.z * p.a_bs;
    let b_base = p.b_off + wid.z * p.b_bs;
    // The vec4 of each staged tile this invocation loads: 4 rows of A (columns of B) at one k.
    let sk = li / 32u;
    let s4 = (li % 32u) * 4u;
    var ra = a4(a_base, tile_m + s4, sk);
    var rb = b4(b_base, sk, tile_n + s4);
    let ty = lid.y;
    let tx = lid.x;
    // acc[2r + h]: row r of the block (r < 4: 4·ty + r; else 64 + 4·ty + r - 4), columns
    // 4·tx .. +3 (h = 0) or 64 + 4·tx .. +3 (h = 1).
    var acc: array<vec4<f32>, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        as4[li] = ra;
        bs4[li] = rb;
        workgroupBarrier();
        ra = a4(a_base, tile_m + s4, k0 + BK + sk);
        rb = b4(b_base, k0 + BK + sk, tile_n + s4);
        for (var kk = 0u; kk < BK; kk += 1u) {
            let a0 = as4[kk * 32u + ty];
            let a1 = as4[kk * 32u + 16u + ty];
            let b0 = bs4[kk * 32u + tx];
            let b1 = bs4[kk * 32u + 16u + tx];
            acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
            acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
            acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
            acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
            acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
            acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
            acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
            acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
            acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
            acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
            acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
            acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
            acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
            acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
            acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
            acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
        }
        workgroupBarrier();
    }
    let c_base = wid.z * p.c_bs;
    for (var r = 0u; r < 8u; r += 1u) {
        let m = tile_m + (r / 4u) * 64u + ty * 4u + r % 4u;
        if (m < p.m) {
            for (var h = 0u; h < 2u; h += 1u) {
                let v = acc[2u * r + h];
                for (var j = 0u; j < 4u; j += 1u) {
                    let n = tile_n + h * 64u + tx * 4u + j;
                    if (n < p.n) {
                        C[c_base + m * p.n + n] = v[j];
                    }
                }
            }
        }
    }
}
