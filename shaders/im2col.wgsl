// im2col: convolution as matrix multiplication. With R = C·KH·KW kernel taps and
// P = OH·OW output positions, the batch is folded into the columns so that one matmul
// covers it: cols[r, n·P + p] = x[n, c, oh·sh − ph + i, ow·sw − pw + j] (0 in the padding),
// r = (c·KH + i)·KW + j, p = oh·OW + ow.
//   im2col: x → cols [R, N·P], one invocation per element of cols.
//   col2im: dcols [R, N·P] → dx [N, C, H, W], the adjoint: each dx element gathers the
//           taps that read it (deterministic, no atomics), one invocation per element of dx.
//   im2col_tex: im2col four columns of one row per invocation (N·P a multiple of 4), x read
//           from a flat texture (Tuning::texture_reads) holding x from its first texel, so
//           off0 is x's offset inside that texel. Bindings: 1 cols (vec4 view), 2 x (texture).
// Bindings: 1 source, 2 destination.

// The same parameter block as conv2d.wgsl (ConvGeom::params); off0 is the source's offset.
struct Params {
    n: u32, c: u32, h: u32, w: u32,
    k: u32, oh: u32, ow: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, ph: u32,
    pw: u32, off0: u32, off1: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;
@group(0) @binding(2) var src_t: texture_2d<f32>;

// #include flat

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    let np = p.n * p.oh * p.ow;
    if (e >= p.c * p.kh * p.kw * np) {
        return;
    }
    let r = e / np;
    let col = e % np;
    let n = col / (p.oh * p.ow);
    let pos = col % (p.oh * p.ow);
    let j = r % p.kw;
    let i = (r / p.kw) % p.kh;
    let c = r / (p.kw * p.kh);
    // Unsigned arithmetic: a position left of or above the padding wraps to a huge value.
    let ih = (pos / p.ow) * p.sh + i - p.ph;
    let iw = (pos % p.ow) * p.sw + j - p.pw;
    var v = 0.0;
    if (ih < p.h && iw < p.w) {
        v = src[p.off0 + ((n * p.c + c) * p.h + ih) * p.w + iw];
    }
    dst[e] = v;
}

@compute @workgroup_size(256)
fn im2col_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let q = index(wid, nwg, lid);
    let np = p.n * p.oh * p.ow;
    if (4u * q >= p.c * p.kh * p.kw * np) {
        return;
    }
    let r = 4u * q / np;
    let col = 4u * q % np;
    let j = r % p.kw;
    let i = (r / p.kw) % p.kh;
    let c = r / (p.kw * p.kh);
    // The first column's position, then the next three by counting on (no division).
    var n = col / (p.oh * p.ow);
    let pos = col % (p.oh * p.ow);
    var oy = pos / p.ow;
    var ox = pos % p.ow;
    var v = vec4(0.0);
    for (var t = 0u; t < 4u; t += 1u) {
        let ih = oy * p.sh + i - p.ph;
        let iw = ox * p.sw + j - p.pw;
        if (ih < p.h && iw < p.w) {
            let s = p.off0 + ((n * p.c + c) * p.h + ih) * p.w + iw;
            v[t] = flat_texel(src_t, s >> 2u)[s & 3u];
        }
        ox += 1u;
        if (ox == p.ow) {
            ox = 0u;
            oy += 1u;
            if (oy == p.oh) {
                oy = 0u;
                n += 1u;
            }
        }
    }
    dst4[q] = v;
}

@compute @workgroup_size(256)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.n * p.c * p.h * p.w) {
        return;
    }
    let x = e % p.w;
    let y = (e / p.w) % p.h;
    let c = (e / (p.w * p.h)) % p.c;
    let n = e / (p.w * p.h * p.c);
    let np = p.n * p.oh * p.ow;
    var acc = 0.0;
    // Taps i with y + ph − i = oh·sh for some 0 ≤ oh < OH (likewise j, ow).
    for (var i = (y + p.ph) % p.sh; i < p.kh; i += p.sh) {
        let ty = y + p.ph;
        if (ty < i) {
            break;
        }
        let oy = (ty - i) / p.sh;
        if (oy >= p.oh) {
            continue;
        }
        for (var j = (x + p.pw) % p.sw; j < p.kw; j += p.sw) {
            let tx = x + p.pw;
            if (tx < j) {
                break;
            }
            let ox = (tx - j) / p.sw;
            if (ox >= p.ow) {
                continue;
            }
            let r = (c * p.kh + i) * p.kw + j;
            acc += src[p.off0 + r * np + n * p.oh * p.ow + oy * p.ow + ox];
        }
    }
    dst[e] = acc;
}
