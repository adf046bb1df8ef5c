// conv2d, NCHW, weights [K, C, KH, KW], stride (SH, SW), zero padding (PH, PW):
//   y[n,k,oh,ow] = Σ_{c,kh,kw} x[n,c,oh·SH+kh−PH, ow·SW+kw−PW] · w[k,c,kh,kw]
// Three entry points, all gathers (each output written by one invocation, so the
// result is deterministic without atomics):
//   forward      in0 = x,  in1 = w,  out = y    4 output channels × 4 output columns each
//   grad_input   in0 = dy, in1 = w,  out = dx   4 input channels × 4 input columns each
//   grad_weight  in0 = dy, in1 = x,  out = dw   4 output channels of one (c, kh, kw) each
// Transposed convolution is the same three maps with roles swapped (see conv_transpose2d.rs).
// Bindings: 0 params, 1 in0, 2 in1, 3 out. Grid: linear over invocations, 64 per workgroup.

struct Params {
    n: u32, c: u32, h: u32, w: u32,
    k: u32, oh: u32, ow: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, ph: u32,
    pw: u32, off0: u32, off1: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read> in1: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let owb = (p.ow + 3u) / 4u;
    let kb = (p.k + 3u) / 4u;
    let id = linear_id(wid, nwg, lid);
    if (id >= p.n * kb * p.oh * owb) {
        return;
    }
    let ow0 = (id % owb) * 4u;
    var r = id / owb;
    let oh = r % p.oh;
    r /= p.oh;
    let k0 = (r % kb) * 4u;
    let n = r / kb;
    let cols = vec4<u32>(ow0, ow0 + 1u, ow0 + 2u, ow0 + 3u);
    var acc: array<vec4<f32>, 4>;
    for (var c = 0u; c < p.c; c += 1u) {
        for (var kh = 0u; kh < p.kh; kh += 1u) {
            let ih = i32(oh * p.sh + kh) - i32(p.ph);
            if (ih < 0 || ih >= i32(p.h)) {
                continue;
            }
            let xrow = p.off0 + ((n * p.c + c) * p.h + u32(ih)) * p.w;
            for (var kw = 0u; kw < p.kw; kw += 1u) {
                let iw = vec4<i32>(cols * p.sw + kw) - i32(p.pw);
                let ok = iw >= vec4<i32>(0) & iw < vec4<i32>(i32(p.w)) & cols < vec4<u32>(p.ow);
                let ix = vec4<u32>(select(vec4<i32>(0), iw, ok));
                let xv = select(vec4<f32>(0.0),
                                vec4<f32>(in0[xrow + ix.x], in0[xrow + ix.y], in0[xrow + ix.z], in0[xrow + ix.w]), ok);
                for (var j = 0u; j < 4u; j += 1u) {
                    let kk = min(k0 + j, p.k - 1u);
                    let wv = in1[p.off1 + ((kk * p.c + c) * p.kh + kh) * p.kw + kw];
                    acc[j] = fma(vec4<f32>(wv), xv, acc[j]);
                }
            }
        }
    }
    for (var j = 0u; j < 4u; j += 1u) {
        let k = k0 + j;
        for (var t = 0u; t < 4u; t += 1u) {
            if (k < p.k && ow0 + t < p.ow) {
                out[((n * p.k + k) * p.oh + oh) * p.ow + ow0 + t] = acc[j][t];
            }
        }
    }
}

// dx[n,c,ih,iw] = Σ_{k,kh,kw} dy[n,k,oh,ow] · w[k,c,kh,kw] over the (oh, ow) with
// oh·SH + kh − PH = ih and ow·SW + kw − PW = iw.
@compute @workgroup_size(64)
fn grad_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let iwb = (p.w + 3u) / 4u;
    let cb = (p.c + 3u) / 4u;
    let id = linear_id(wid, nwg, lid);
    if (id >= p.n * cb * p.h * iwb) {
        return;
    }
    let iw0 = (id % iwb) * 4u;
    var r = id / iwb;
    let ih = r % p.h;
    r /= p.h;
    let c0 = (r % cb) * 4u;
    let n = r / cb;
    let cols = vec4<u32>(iw0, iw0 + 1u, iw0 + 2u, iw0 + 3u);
    var acc: array<vec4<f32>, 4>;
    for (var k = 0u; k < p.k; k += 1u) {
        // Only kernel rows with kh ≡ ih + PH (mod SH) reach this row: visit just those.
        for (var kh = (ih + p.ph) % p.sh; kh < p.kh; kh += p.sh) {
            let th = i32(ih + p.ph) - i32(kh);
            if (th < 0 || th / i32(p.sh) >= i32(p.oh)) {
                continue;
            }
            let dyrow = p.off0 + ((n * p.k + k) * p.oh + u32(th) / p.sh) * p.ow;
            for (var kw = 0u; kw < p.kw; kw += 1u) {
                let tw = vec4<i32>(cols + p.pw) - i32(kw);
                let sw = vec4<i32>(i32(p.sw));
                let ok = tw >= vec4<i32>(0) & (tw % sw) == vec4<i32>(0) & (tw / sw) < vec4<i32>(i32(p.ow))
                         & cols < vec4<u32>(p.w);
                let ox = vec4<u32>(select(vec4<i32>(0), tw / sw, ok));
                let dv = select(vec4<f32>(0.0),
                                vec4<f32>(in0[dyrow + ox.x], in0[dyrow + ox.y], in0[dyrow + ox.z], in0[dyrow + ox.w]), ok);
                for (var j = 0u; j < 4u; j += 1u) {
                    let cc = min(c0 + j, p.c - 1u);
                    let wv = in1[p.off1 + ((k * p.c + cc) * p.kh + kh) * p.kw + kw];
                    acc[j] = fma(vec4<f32>(wv), dv, acc[j]);
                }
            }
        }
    }
    for (var j = 0u; j < 4u; j += 1u) {
        let c = c0 + j;
        for (var t = 0u; t < 4u; t += 1u) {
            if (c < p.c && iw0 + t < p.w) {
                out[((n * p.c + c) * p.h + ih) * p.w + iw0 + t] = acc[j][t];
            }
        }
    }
}

// dw[k,c,kh,kw] = Σ_{n,oh,ow} dy[n,k,oh,ow] · x[n,c,oh·SH+kh−PH, ow·SW+kw−PW]
@compute @workgroup_size(64)
fn grad_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let kb = (p.k + 3u) / 4u;
    let id = linear_id(wid, nwg, lid);
    if (id >= kb * p.c * p.kh * p.kw) {
        return;
    }
    let kw = id % p.kw;
    var r = id / p.kw;
    let kh = r % p.kh;
    r /= p.kh;
    let c = r % p.c;
    let k0 = (r / p.c) * 4u;
    let ks = min(vec4<u32>(k0, k0 + 1u, k0 + 2u, k0 + 3u), vec4<u32>(p.k - 1u));
    let plane = p.oh * p.ow;
    var acc = vec4<f32>(0.0);
    for (var n = 0u; n < p.n; n += 1u) {
        let dyb = p.off0 + (n * p.k) * plane;
        let dyo = dyb + ks * plane;
        for (var oh = 0u; oh < p.oh; oh += 1u) {
            let ih = i32(oh * p.sh + kh) - i32(p.ph);
            if (ih < 0 || ih >= i32(p.h)) {
                continue;
            }
            let xrow = p.off1 + ((n * p.c + c) * p.h + u32(ih)) * p.w;
            for (var ow = 0u; ow < p.ow; ow += 1u) {
                let iw = i32(ow * p.sw + kw) - i32(p.pw);
                if (iw < 0 || iw >= i32(p.w)) {
                    continue;
                }
                let xv = in1[xrow + u32(iw)];
                let o = oh * p.ow + ow;
                let dv = vec4<f32>(in0[dyo.x + o], in0[dyo.y + o], in0[dyo.z + o], in0[dyo.w + o]);
                acc = fma(vec4<f32>(xv), dv, acc);
            }
        }
    }
    for (var j = 0u; j < 4u; j += 1u) {
        if (k0 + j < p.k) {
            out[(((k0 + j) * p.c + c) * p.kh + kh) * p.kw + kw] = acc[j];
        }
    }
}
