// unary: out[i] = f(a[strided index of i]) for i < n; `a` may be any strided view
// (a transpose, a broadcast), `out` is dense. f is the constant OP:
//   0 copy   1 neg   2 relu   3 leaky_relu(alpha)   4 sigmoid   5 softplus
//   6 exp    7 log   8 affine alpha*x+beta          9 square
// Bindings: 0 params, 1 a (read), 2 out (write).
// main_tex (Routing::reads) writes four outputs per invocation and reads `a` from a
// flat texture holding the view's span from element `base`: 1 out (vec4 view), 2 a (texture).
// With DENSE = 1 (a contiguous view at a texel boundary) one texel feeds all four outputs.
// With ROWS ≠ 0 the view is three dims (d0, d1, d2) = shape[0].xyz with strides (s0, s1, 1) =
// sa[0].xy: rows of d2 contiguous elements (a conv's [K, N, P] ↔ [N, K, P], a narrowed or
// broadcast view). Two divisions then place the first output and the others step along the
// row, where the general path divides twice per dim and output (its cost: BENCHMARKS.md,
// Zen 1, strided copies). ROWS = 2: d2, s0, s1 and the start divisible by
// 4, so the four outputs are one texel; ROWS = 1: one fetch per output, the texel clamped to
// `last`, the snapshot's last (the final group's outputs past n only fill the slack).

struct Params {
    n: u32, last: u32, a_off: u32, ndim: u32,
    alpha: f32, beta: f32, base: u32, pad1: u32,
    shape: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(2) var a_t: texture_storage_2d<rgba32float, read>;

const DENSE: u32 = 0u;
const ROWS: u32 = 0u;
// With ROWS ≠ 0, the view's d1 and d2 (constants, so the two divisions are by constants).
const D1: u32 = 1u;
const D2: u32 = 1u;
// The op, a pipeline constant: llvmpipe runs every arm of a switch on a value it cannot see
// is uniform, each under a lane mask (the transcendental ones too), so each op is a pipeline
// of its own and the switch folds to one arm (BENCHMARKS.md, Zen 1: the op a pipeline
// constant).
const OP: u32 = 0u;

// #include flat

// Numerically stable forms: no overflow of exp for large |x|.
// #include sigmoid

// log(1 + e) for e in [0, 1], accurate for tiny e (WGSL has no log1p):
// the correction term undoes the rounding of 1 + e.
fn log1p_small(e: f32) -> f32 {
    let u = 1.0 + e;
    if (u == 1.0) {
        return e;
    }
    return log(u) * e / (u - 1.0);
}

fn softplus(x: f32) -> f32 {
    return max(x, 0.0) + log1p_small(exp(-abs(x)));
}

fn apply(op: u32, x: f32) -> f32 {
    switch op {
        case 0u: { return x; }
        case 1u: { return -x; }
        case 2u: { return max(x, 0.0); }
        case 3u: { return select(p.alpha * x, x, x > 0.0); }
        case 4u: { return sigmoid(x); }
        case 5u: { return softplus(x); }
        case 6u: { return exp(x); }
        case 7u: { return log(x); }
        case 8u: { return p.alpha * x + p.beta; }
        case 9u: { return x * x; }
        default: { return x; }
    }
}

// The element of `a` that output i reads.
fn source(i: u32) -> u32 {
    var rem = i;
    var src = p.a_off;
    for (var d = i32(p.ndim) - 1; d >= 0; d -= 1) {
        let du = u32(d);
        let size = p.shape[du / 4u][du % 4u];
        src += (rem % size) * p.sa[du / 4u][du % 4u];
        rem /= size;
    }
    return src;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    out[i] = apply(OP, a[source(i)]);
}

// Past n (the last vec4 of an n not divisible by 4) it writes into the buffer's slack, which
// no tensor reads.
@compute @workgroup_size(256)
fn main_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let q = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (4u * q >= p.n) {
        return;
    }
    var v = vec4(0.0);
    if (DENSE == 1u) {
        v = textureLoad(a_t, flat_at(q + (p.a_off - p.base) / 4u));
    } else if (ROWS != 0u) {
        let d1 = D1;
        let d2 = D2;
        let row = 4u * q / d2;
        var i2 = 4u * q - row * d2;
        var i0 = row / d1;
        var i1 = row - i0 * d1;
        let start = p.a_off - p.base;
        if (ROWS == 2u) {
            v = textureLoad(a_t, flat_at((start + i0 * p.sa[0].x + i1 * p.sa[0].y + i2) >> 2u));
        } else {
            for (var t = 0u; t < 4u; t += 1u) {
                let s = start + i0 * p.sa[0].x + i1 * p.sa[0].y + i2;
                v[t] = textureLoad(a_t, flat_at(min(s >> 2u, p.last)))[s & 3u];
                i2 += 1u;
                if (i2 == d2) {
                    i2 = 0u;
                    i1 += 1u;
                    if (i1 == d1) {
                        i1 = 0u;
                        i0 += 1u;
                    }
                }
            }
        }
    } else {
        for (var t = 0u; t < 4u; t += 1u) {
            let s = source(min(4u * q + t, p.n - 1u)) - p.base;
            v[t] = textureLoad(a_t, flat_at(s >> 2u))[s & 3u];
        }
    }
    out4[q] = vec4(apply(OP, v.x), apply(OP, v.y), apply(OP, v.z), apply(OP, v.w));
}
