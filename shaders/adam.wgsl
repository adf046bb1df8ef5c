// adam: one fused in-place update of every parameter element in [offset, offset + n) of the
// flat parameter buffer (all of a model's parameters live in one buffer, so one dispatch
// updates them all). TensorFlow's form, as the reference uses it:
//   g' = g + wd·θ                          (L2 decay, when decoupled = 0)
//   m  = β1·m + (1 − β1)·g'
//   v  = β2·v + (1 − β2)·g'²
//   θ  = θ − step·m/(√v + ε) − lr·wd·θ     (the last term only when decoupled = 1: AdamW)
// with step = lr·√(1 − β2^t)/(1 − β1^t) computed on the host in f64, so a learning-rate
// schedule changes only the uniform, never the pipeline.
// Bindings: 1 θ, 2 g, 3 m, 4 v; `adam4` takes them as vec4s, four elements per invocation
// (offset and n then count vec4s). `adam_tex` (CPU rasterisers, Routing::reads) reads
// the four from flat textures copied just before: 1 θ, 2 m, 3 v (vec4s, written), 4 θ, 5 g,
// 6 m, 7 v (textures). Each element is read once, so the copies pay only where a storage load
// is slow: on llvmpipe it is a loop over the lanes that inserts into a vector on the stack. On
// the AVX2-only host measured that cost far more than the copies plus image loads; on the
// AVX-512 hosts about what the image loads alone cost (BENCHMARKS.md), so where the CPU has
// AVX-512 `adam4` is the default.

struct Params {
    n: u32, offset: u32, decoupled: u32, pad: u32,
    step: f32, beta1: f32, beta2: f32, eps: f32,
    lr: f32, wd: f32, pad1: f32, pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> theta: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@group(0) @binding(1) var<storage, read_write> theta4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;

@group(0) @binding(2) var<storage, read_write> m4_out: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v4_out: array<vec4<f32>>;
@group(0) @binding(4) var theta_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(5) var grad_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(6) var m_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(7) var v_t: texture_storage_2d<rgba32float, read>;

// #include flat

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let j = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (j >= p.n) {
        return;
    }
    let i = p.offset + j;
    var th = theta[i];
    var g = grad[i];
    if (p.decoupled == 0u) {
        g += p.wd * th;
    } else {
        th -= p.lr * p.wd * th;
    }
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    theta[i] = th - p.step * mi / (sqrt(vi) + p.eps);
}

@compute @workgroup_size(256)
fn adam4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let q = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (q >= p.n) {
        return;
    }
    let i = p.offset + q;
    var th = theta4[i];
    var g = grad4[i];
    if (p.decoupled == 0u) {
        g += p.wd * th;
    } else {
        th -= p.lr * p.wd * th;
    }
    let mi = p.beta1 * m4[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v4[i] + (1.0 - p.beta2) * g * g;
    m4[i] = mi;
    v4[i] = vi;
    theta4[i] = th - p.step * mi / (sqrt(vi) + p.eps);
}

@compute @workgroup_size(256)
fn adam_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let q = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (q >= p.n) {
        return;
    }
    let i = p.offset + q;
    var th = textureLoad(theta_t, flat_at(q));
    var g = textureLoad(grad_t, flat_at(q));
    if (p.decoupled == 0u) {
        g += p.wd * th;
    } else {
        th -= p.lr * p.wd * th;
    }
    let mi = p.beta1 * textureLoad(m_t, flat_at(q)) + (1.0 - p.beta1) * g;
    let vi = p.beta2 * textureLoad(v_t, flat_at(q)) + (1.0 - p.beta2) * g * g;
    m4_out[i] = mi;
    v4_out[i] = vi;
    theta4[i] = th - p.step * mi / (sqrt(vi) + p.eps);
}
