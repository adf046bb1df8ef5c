// random: standard normals from a counter-based generator, so any element of any
// draw can be regenerated from its key alone — the reparameterization backward
// recomputes ε instead of storing it.
//   Philox4x32-10 (Salmon et al., SC'11), key = seed (2×u32),
//   counter = (element index, step lo, step hi, stream).
//   Box–Muller on the first two outputs: u1 ∈ (0, 1], u2 ∈ [0, 1), 24 bits each,
//   ε = sqrt(−2 ln u1)·cos(2π (u2 − ½)). One normal per element, whatever the dispatch shape.
//   normal_fill:      b1[i] = ε_i
//   reparam_forward:  z[i] = mu[i] + sigma[i]·ε_i
//   reparam_backward: dsigma[i] = dz[i]·ε_i      (dmu = dz needs no kernel)
//   categorical_pixel: one draw per image from the categorical softmax(logits[n, :, pixel])
//     (an autoregressive decoder's next pixel): u = 24 bits of counter (n, step, stream)
//     in [0, 1), the first class k whose cumulative Σ_{j≤k} exp(l_j − m) passes u·Σ exp(l − m);
//     b1 = logits [N, K, P] (P pixels: the image, or a window of its rows), b2 = x [N, I]
//     (x[n, into] = k/(K − 1), in place), b3 = mean [N, I] (mean[n, into] = Σ_k
//     p_k·k/(K − 1), the pixel's expected value).

struct Params {
    n: u32, seed_lo: u32, seed_hi: u32, step_lo: u32,
    step_hi: u32, stream: u32, classes: u32, pixels: u32,
    pixel: u32, image: u32, into: u32, pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Each entry uses bindings 1.. in order, so all are read_write (auto layouts see only
// the bindings an entry touches).
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;

// High 32 bits of a 32×32-bit product from 16-bit halves (WGSL has no u64).
fn mulhi(a: u32, b: u32) -> u32 {
    let al = a & 0xffffu;
    let ah = a >> 16u;
    let bl = b & 0xffffu;
    let bh = b >> 16u;
    let t = al * bl;
    let u = ah * bl + (t >> 16u);
    let w = al * bh + (u & 0xffffu);
    return ah * bh + (u >> 16u) + (w >> 16u);
}

fn philox(counter: vec4<u32>) -> vec4<u32> {
    var c = counter;
    var k = vec2<u32>(p.seed_lo, p.seed_hi);
    for (var r = 0u; r < 10u; r++) {
        let hi0 = mulhi(0xD2511F53u, c.x);
        let lo0 = 0xD2511F53u * c.x;
        let hi1 = mulhi(0xCD9E8D57u, c.z);
        let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

fn normal(i: u32) -> f32 {
    let r = philox(vec4<u32>(i, p.step_lo, p.step_hi, p.stream));
    let u1 = f32((r.x >> 8u) + 1u) * 5.9604645e-8; // 2^-24
    let u2 = f32(r.y >> 8u) * 5.9604645e-8;
    // The angle stays in [−π, π), where WGSL bounds cos's error (2⁻¹¹ absolute).
    return sqrt(-2.0 * log(u1)) * cos(6.2831855 * (u2 - 0.5));
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn normal_fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        b1[i] = normal(i);
    }
}

// b1 = mu, b2 = sigma, b3 = z (out).
@compute @workgroup_size(256)
fn reparam_forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        b3[i] = b1[i] + b2[i] * normal(i);
    }
}

// b1 = dz, b2 = dsigma (out).
@compute @workgroup_size(256)
fn reparam_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        b2[i] = b1[i] * normal(i);
    }
}

@compute @workgroup_size(256)
fn categorical_pixel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let n = index(wid, nwg, lid);
    if (n >= p.n) {
        return;
    }
    let base = n * p.classes * p.pixels + p.pixel;
    var m = b1[base];
    for (var k = 1u; k < p.classes; k++) {
        m = max(m, b1[base + k * p.pixels]);
    }
    var s = 0.0;
    var mean = 0.0;
    for (var k = 0u; k < p.classes; k++) {
        let e = exp(b1[base + k * p.pixels] - m);
        s += e;
        mean += e * f32(k);
    }
    let r = philox(vec4<u32>(n, p.step_lo, p.step_hi, p.stream));
    let goal = f32(r.x >> 8u) * 5.9604645e-8 * s;
    var acc = 0.0;
    var pick = p.classes - 1u;
    for (var k = 0u; k < p.classes; k++) {
        acc += exp(b1[base + k * p.pixels] - m);
        if (acc > goal) {
            pick = k;
            break;
        }
    }
    let top = f32(p.classes - 1u);
    b2[n * p.image + p.into] = f32(pick) / top;
    b3[n * p.image + p.into] = mean / (s * top);
}
