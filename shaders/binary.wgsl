// binary: out[i] = f(a[ia(i)], b[ib(i)]) for i < n, with a and b strided views
// (broadcasting is a stride of 0) and a dense `out`. f is chosen by `op`:
//   0 add   1 sub   2 mul   3 div   4 max   5 min
//   activation gradients, a = forward input x (or output y), b = upstream gradient dy:
//   10 relu'(x)·dy   11 leaky_relu'(x)·dy (alpha)   12 sigmoid: y(1−y)·dy
//   13 softplus'(x)·dy = sigmoid(x)·dy              14 exp: y·dy
// Bindings: 0 params, 1 a, 2 b, 3 out.

struct Params {
    n: u32, op: u32, a_off: u32, b_off: u32,
    ndim: u32, alpha: f32, pad0: u32, pad1: u32,
    shape: array<vec4<u32>, 2>,
    sa: array<vec4<u32>, 2>,
    sb: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= p.n) {
        return;
    }
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
    out[i] = apply(p.op, a[ia], b[ib]);
}
