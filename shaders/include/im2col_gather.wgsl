// The texture matmuls' CONV mode (matmul_tex, matmul_tex_sg): B is a convolution's columns,
// cols = im2col(x) [R, N·P] (im2col.wgsl's layout; op(B) is cols or colsᵀ), never stored: the
// kernel's B texture holds x [N, XC, XH, XW] as a flat texture (flat.wgsl), x from element
// x_off of it. With kernel rows 4 wide (matmul.rs checks it) the four taps of a texel of cols
// along R are one kernel row at one output position: four consecutive elements of x, taken
// from the two texels they straddle (cols_pick) and masked where they fall in the padding.
// Spliced into a kernel file by a `// #include im2col_gather` line (src/gpu/shaders.rs); the
// kernel loads the texels, as GLSL takes no image as a function argument.

// Whether B is im2col(x), and the convolution's geometry: x's channels and sides, the output
// sides, the kernel's height, strides and padding (pipeline constants: divisions by constants).
const CONV: u32 = 0u;
const XC: u32 = 1u;
const XH: u32 = 1u;
const XW: u32 = 1u;
const OH: u32 = 1u;
const OW: u32 = 1u;
const KH: u32 = 1u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const PH: u32 = 0u;
const PW: u32 = 0u;

// Output position j of cols: (its first tap's element of x, the row and column of x it
// starts at), which may lie in the padding.
fn cols_pixel(j: u32) -> vec3<i32> {
    let n = j / (OH * OW);
    let r = j - n * (OH * OW);
    let oh = r / OW;
    let ih = i32(oh * SH) - i32(PH);
    let iw = i32((r - oh * OW) * SW) - i32(PW);
    return vec3(i32(n * XC * XH * XW) + ih * i32(XW) + iw, ih, iw);
}

// Kernel row t4 (taps 4·t4 .. 4·t4+3 of R): its offset in x from a position's first tap, and
// its row in the kernel.
fn cols_row(t4: u32) -> vec2<i32> {
    let c = t4 / KH;
    let kh = t4 - c * KH;
    return vec2(i32(c * XH * XW + kh * XW), i32(kh));
}

// The element of the flat texture where kernel row `tr` at position `pix` starts: the caller
// loads texels max(e >> 2, 0) and max((e >> 2) + 1, 0) (elements before the texture's start
// or past its end are all padding, so what the clamped texels hold is masked).
fn cols_first(pix: vec3<i32>, tr: vec2<i32>, x_off: u32) -> i32 {
    return i32(x_off) + pix.x + tr.x;
}

// The four taps from the two texels t0, t1 that elements e .. e+3 straddle, 0 in the padding.
fn cols_pick(t0: vec4<f32>, t1: vec4<f32>, e: i32, pix: vec3<i32>, tr: vec2<i32>) -> vec4<f32> {
    let s = e & 3;
    var v = select(t0, vec4(t0.yzw, t1.x), s == 1);
    v = select(v, vec4(t0.zw, t1.xy), s == 2);
    v = select(v, vec4(t0.w, t1.xyz), s == 3);
    let ih = pix.y + tr.y;
    let iw = vec4(pix.z) + vec4(0, 1, 2, 3);
    let inside = vec4(u32(ih) < XH) & (vec4<u32>(iw) < vec4(XW));
    return select(vec4(0.0), v, inside);
}
