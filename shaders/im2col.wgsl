// im2col: convolution as matrix multiplication. With R = C·KH·KW kernel taps and
// P = OH·OW output positions, the batch is folded into the columns so that one matmul
// covers it: cols[r, n·P + p] = x[n, c, oh·sh − ph + i, ow·sw − pw + j] (0 in the padding),
// r = (c·KH + i)·KW + j, p = oh·OW + ow.
//   im2col: x → cols [R, N·P], one invocation per element of cols.
//   col2im: dcols [R, N·P] → dx [N, C, H, W], the adjoint: each dx element gathers the
//           taps that read it (deterministic, no atomics), one invocation per element of dx.
//   im2col_tex: im2col four columns of one row per invocation (N·P a multiple of 4), x read
//           from a flat texture (Routing::reads) holding x from its first texel, so
//           off0 is x's offset inside that texel. Bindings: 1 cols (vec4 view), 2 x (texture).
//   col2im_tex: col2im with dcols read from a flat texture the same way. Bindings: 1 dx,
//           2 dcols (texture).
// Bindings: 1 source, 2 destination.

// The same parameter block as conv2d.wgsl (ConvGeom::params); off0 is the source's offset.
// Only n and the offsets are read from it: the rest of the geometry are pipeline constants
// (one pipeline per layer shape), so every division and modulo is by a constant, which the
// compiler turns into a multiply and shift (llvmpipe divides a vector lane by lane), and the
// tap loops have constant bounds.
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    k: u32, oh: u32, ow: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, ph: u32,
    pw: u32, off0: u32, off1: u32, pad: u32,
}

const C: u32 = 1u;
const H: u32 = 1u;
const W: u32 = 1u;
const OH: u32 = 1u;
const OW: u32 = 1u;
const KH: u32 = 1u;
const KW: u32 = 1u;
const SH: u32 = 1u;
const SW: u32 = 1u;
const PH: u32 = 0u;
const PW: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;
@group(0) @binding(2) var src_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(1) var<storage, read_write> dst1: array<f32>;

// #include flat

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    let np = p.n * OH * OW;
    if (e >= C * KH * KW * np) {
        return;
    }
    let r = e / np;
    let col = e % np;
    let n = col / (OH * OW);
    let pos = col % (OH * OW);
    let j = r % KW;
    let i = (r / KW) % KH;
    let c = r / (KW * KH);
    // Unsigned arithmetic: a position left of or above the padding wraps to a huge value.
    let ih = (pos / OW) * SH + i - PH;
    let iw = (pos % OW) * SW + j - PW;
    var v = 0.0;
    if (ih < H && iw < W) {
        v = src[p.off0 + ((n * C + c) * H + ih) * W + iw];
    }
    dst[e] = v;
}

@compute @workgroup_size(256)
fn im2col_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let q = index(wid, nwg, lid);
    let np = p.n * OH * OW;
    if (4u * q >= C * KH * KW * np) {
        return;
    }
    let r = 4u * q / np;
    let col = 4u * q % np;
    let j = r % KW;
    let i = (r / KW) % KH;
    let c = r / (KW * KH);
    // The first column's position, then the next three by counting on (no division).
    var n = col / (OH * OW);
    let pos = col % (OH * OW);
    var oy = pos / OW;
    var ox = pos % OW;
    var v = vec4(0.0);
    for (var t = 0u; t < 4u; t += 1u) {
        let ih = oy * SH + i - PH;
        let iw = ox * SW + j - PW;
        if (ih < H && iw < W) {
            let s = p.off0 + ((n * C + c) * H + ih) * W + iw;
            v[t] = textureLoad(src_t, flat_at(s >> 2u))[s & 3u];
        }
        ox += 1u;
        if (ox == OW) {
            ox = 0u;
            oy += 1u;
            if (oy == OH) {
                oy = 0u;
                n += 1u;
            }
        }
    }
    dst4[q] = v;
}

// Taps i with y + PH − i = oy·SH for some 0 ≤ oy < OH (likewise j, ox): i ≡ y + PH mod SH,
// so at most ceil(KH / SH) of them, a constant trip count the compiler unrolls.
const TAPS_H: u32 = (KH + SH - 1u) / SH;
const TAPS_W: u32 = (KW + SW - 1u) / SW;
// A tap that falls outside dcols (a tap below zero wraps to a huge oy and fails the bound
// like one past the edge).
const NO_TAP: u32 = 0xffffffffu;

// The elements of dcols (counted from p.off0) that dx element e sums, NO_TAP where none.
// Working out every tap's index before any load makes col2im much faster on llvmpipe than
// loading inside the tap loop's condition (BENCHMARKS.md, Zen 1).
fn col2im_taps(e: u32) -> array<u32, TAPS_H * TAPS_W> {
    let x = e % W;
    let y = (e / W) % H;
    let c = (e / (W * H)) % C;
    let n = e / (W * H * C);
    let np = p.n * OH * OW;
    let ty = y + PH;
    let tx = x + PW;
    var taps: array<u32, TAPS_H * TAPS_W>;
    for (var a = 0u; a < TAPS_H; a += 1u) {
        let i = ty % SH + a * SH;
        let oy = (ty - i) / SH;
        for (var b = 0u; b < TAPS_W; b += 1u) {
            let j = tx % SW + b * SW;
            let ox = (tx - j) / SW;
            var t = NO_TAP;
            if (i < KH && oy < OH && j < KW && ox < OW) {
                t = ((c * KH + i) * KW + j) * np + n * OH * OW + oy * OW + ox;
            }
            taps[a * TAPS_W + b] = t;
        }
    }
    return taps;
}

@compute @workgroup_size(256)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.n * C * H * W) {
        return;
    }
    let taps = col2im_taps(e);
    var acc = 0.0;
    for (var t = 0u; t < TAPS_H * TAPS_W; t += 1u) {
        if (taps[t] != NO_TAP) {
            acc += src[p.off0 + taps[t]];
        }
    }
    dst[e] = acc;
}

@compute @workgroup_size(256)
fn col2im_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.n * C * H * W) {
        return;
    }
    let taps = col2im_taps(e);
    var acc = 0.0;
    for (var t = 0u; t < TAPS_H * TAPS_W; t += 1u) {
        if (taps[t] != NO_TAP) {
            let s = p.off0 + taps[t];
            acc += textureLoad(src_t, flat_at(s >> 2u))[s & 3u];
        }
    }
    dst1[e] = acc;
}
