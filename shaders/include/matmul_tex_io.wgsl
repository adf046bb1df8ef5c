// What the texture matmuls (matmul_tex, matmul_tex_sg) share: their parameters and bindings,
// the loads of op(B) (from B's texture, or in CONV mode gathered from x as im2col's columns),
// and the store of a 4×4 tile of C. Each kernel loads op(A) its own way. The loads live here
// with the bindings they read, since GLSL takes no image as a function argument.
// Bindings: 0 params, 1 C (vec4 view), 2 A, 3 B.

// op(A) = Aᵀ, op(B) = Bᵀ (pipeline constants).
const TRANS_A: u32 = 0u;
const TRANS_B: u32 = 0u;

struct Params {
    m: u32, n: u32, k: u32, c_off: u32,
    // Texels of K per split (workgroup_id.z): C gets the split's partial sum at slice z.
    kc: u32, x_off: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Where this workgroup's split of K stores its C (vec4s), set first thing in main.
var<private> c_base: u32;
@group(0) @binding(1) var<storage, read_write> C: array<vec4<f32>>;
@group(0) @binding(2) var At: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var Bt: texture_storage_2d<rgba32float, read>;

// #include flat
// #include im2col_gather

// The four taps of kernel row `tr` at output position `pix` (im2col_gather.wgsl).
fn cols_texel(pix: vec3<i32>, tr: vec2<i32>) -> vec4<f32> {
    let e = cols_first(pix, tr, p.x_off);
    let t0 = textureLoad(Bt, flat_at(u32(max(e >> 2u, 0))));
    let t1 = textureLoad(Bt, flat_at(u32(max((e >> 2u) + 1, 0))));
    return cols_pick(t0, t1, e, pix, tr);
}

// load_b where B is im2col(x).
fn load_cols(c4: i32, kq: u32) -> mat4x4<f32> {
    if (TRANS_B == 0u) {
        // Rows 4kq.. are kernel row kq; columns 4c4.. four output positions.
        let tr = cols_row(kq);
        let j = u32(c4) * 4u;
        return transpose(mat4x4<f32>(cols_texel(cols_pixel(j), tr),
                                     cols_texel(cols_pixel(j + 1u), tr),
                                     cols_texel(cols_pixel(j + 2u), tr),
                                     cols_texel(cols_pixel(j + 3u), tr)));
    }
    // op(B) = colsᵀ: rows 4kq.. are output positions, columns 4c4.. kernel row c4.
    let tr = cols_row(u32(c4));
    let j = kq * 4u;
    return mat4x4<f32>(cols_texel(cols_pixel(j), tr), cols_texel(cols_pixel(j + 1u), tr),
                       cols_texel(cols_pixel(j + 2u), tr), cols_texel(cols_pixel(j + 3u), tr));
}

// Rows k .. k+3 of op(B) at columns 4·c4 .. 4·c4+3, one column of the matrix per row.
fn load_b(c4: i32, kq: u32) -> mat4x4<f32> {
    if (CONV == 1u) {
        return load_cols(c4, kq);
    }
    let k = i32(kq * 4u);
    if (TRANS_B == 0u) {
        return mat4x4<f32>(textureLoad(Bt, vec2(c4, k)), textureLoad(Bt, vec2(c4, k + 1)),
                           textureLoad(Bt, vec2(c4, k + 2)), textureLoad(Bt, vec2(c4, k + 3)));
    }
    let c = c4 * 4;
    let q = i32(kq);
    return transpose(mat4x4<f32>(textureLoad(Bt, vec2(q, c)), textureLoad(Bt, vec2(q, c + 1)),
                                 textureLoad(Bt, vec2(q, c + 2)), textureLoad(Bt, vec2(q, c + 3))));
}

// One 4×4 tile of C (column r of `acc` is row r of the tile), if it lies inside C.
fn store(acc: mat4x4<f32>, r4: u32, c4: u32, m4: u32, n4: u32) {
    if (r4 < m4 && c4 < n4) {
        let base = c_base + r4 * 4u * n4 + c4;
        C[base] = acc[0];
        C[base + n4] = acc[1];
        C[base + 2u * n4] = acc[2];
        C[base + 3u * n4] = acc[3];
    }
}
