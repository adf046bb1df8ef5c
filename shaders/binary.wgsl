// binary: out[i] = f(a[ia(i)], b[ib(i)]) for i < n, with a and b strided views
// (broadcasting is a stride of 0) and a dense `out`. f is the constant OP:
//   0 add   1 sub   2 mul   3 div   4 max   5 min
//   activation gradients, a = forward input x (or output y), b = upstream gradient dy:
//   10 relu'(x)·dy   11 leaky_relu'(x)·dy (alpha)   12 sigmoid: y(1−y)·dy
//   13 softplus'(x)·dy = sigmoid(x)·dy              14 exp: y·dy
// Bindings: 0 params, 1 a, 2 b, 3 out.
// main_tex (Routing::reads) writes four outputs per invocation and reads a and b from
// flat textures holding their spans from elements a_base, b_base: 1 out (vec4 view), 2 a,
// 3 b (textures). With DENSE = 1 (both dense from a texel boundary) a texel each feeds four.

struct Params {
    n: u32, pad0: u32, a_off: u32, b_off: u32,
    ndim: u32, alpha: f32, a_base: u32, b_base: u32,
    shape: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(2) var a_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var b_t: texture_storage_2d<rgba32float, read>;

const DENSE: u32 = 0u;
// The op, a pipeline constant: llvmpipe runs every arm of a switch on a value it cannot see
// is uniform, each under a lane mask (the transcendental ones too), so each op is a pipeline
// of its own and the switch folds to one arm (BENCHMARKS.md, Zen 1: the op a pipeline
// constant).
const OP: u32 = 0u;

// #include flat

// #include sigmoid

fn apply(op: u32, x: f32, y: f32) -> f32 {
    switch op {
        case 0u: { return x + y; }
        case 1u: { return x - y; }
        case 2u: { return x * y; }
        case 3u: { return x / y; }
        case 4u: { return max(x, y); }
        case 5u: { return min(x, y); }
        case 10u: { return select(0.0, y, x > 0.0); }
        case 11u: { return select(p.alpha * y, y, x > 0.0); }
        case 12u: { return x * (1.0 - x) * y; }
        case 13u: { return sigmoid(x) * y; }
        case 14u: { return x * y; }
        default: { return x; }
    }
}

// The elements of a and b that output i reads.
fn sources(i: u32) -> vec2<u32> {
    var rem = i;
    var ia = p.a_off;
    var ib = p.b_off;
    for (var d = i32(p.ndim) - 1; d >= 0; d -= 1) {
        let du = u32(d);
        let size = p.shape[du / 4u][du % 4u];
        let c = rem % size;
        ia += c * p.sa[du / 4u][du % 4u];
        ib += c * p.sb[du / 4u][du % 4u];
        rem /= size;
    }
    return vec2(ia, ib);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
    let s = sources(i);
    out[i] = apply(OP, a[s.x], b[s.y]);
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
    var x = vec4(0.0);
    var y = vec4(0.0);
    if (DENSE == 1u) {
        x = textureLoad(a_t, flat_at(q + (p.a_off - p.a_base) / 4u));
        y = textureLoad(b_t, flat_at(q + (p.b_off - p.b_base) / 4u));
    } else {
        for (var t = 0u; t < 4u; t += 1u) {
            let s = sources(min(4u * q + t, p.n - 1u)) - vec2(p.a_base, p.b_base);
            x[t] = textureLoad(a_t, flat_at(s.x >> 2u))[s.x & 3u];
            y[t] = textureLoad(b_t, flat_at(s.y >> 2u))[s.y & 3u];
        }
    }
    out4[q] = vec4(apply(OP, x.x, y.x), apply(OP, x.y, y.y), apply(OP, x.z, y.z),
                   apply(OP, x.w, y.w));
}
