// Per-channel maps on a dense [N, C, inner] tensor (inner = H·W, or 1 for [N, C]), fused with
// the activation after them (include/act.wgsl, constant ACT, slope p.slope):
//   AFFINE = 0   y = act(x + coef[c])                        bias (+ activation)
//   AFFINE = 1   y = act(coef[C + c]·(x − coef[c]) + coef[2C + c])
//                with coef = [μ; γ·invstd; β; ...]            batch norm's output (+ activation)
// One pass where separate bias, normalise, scale and activation kernels made four. The bias
// gradient, a per-channel sum, is reduce.wgsl's reduce_channel.
// Bindings: 0 params, 1 x, 2 coef, 3 y.
// channel_map_tex (Routing::reads) reads x and coef (both dense from offset 0) from
// flat textures and writes four outputs per invocation: 1 y (vec4 view), 2 x, 3 coef
// (textures). llvmpipe loads a storage buffer a lane at a time through the stack, an image
// with eight 16-byte loads. With SAME = 1 (inner divisible by 4) the four share one channel,
// so its coefficients are loaded once; with INNER = 1 and C divisible by 4 they are four
// consecutive channels, whose coefficients are one texel per row.

struct Params { n: u32, slope: f32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> coef: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(2) var x_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var coef_t: texture_storage_2d<rgba32float, read>;

const ACT: u32 = 0u;
const AFFINE: u32 = 0u;
const SAME: u32 = 0u;
// The tensor's C and inner sizes, constants (a pipeline per shape): llvmpipe divides a vector
// lane by lane, by a constant it multiplies and shifts (BENCHMARKS.md, Zen 1: shapes as
// pipeline constants).
const CH: u32 = 1u;
const INNER: u32 = 1u;

// #include flat
// #include act
// #include channel_walk

// (shift, scale, offset) of channel c: y = act(scale·(x − shift) + offset).
fn coefficients(c: u32) -> vec3<f32> {
    if (AFFINE == 1u) {
        return vec3(coef[c], coef[CH + c], coef[2u * CH + c]);
    }
    return vec3(0.0, 1.0, coef[c]);
}

fn coef_at(i: u32) -> f32 {
    return textureLoad(coef_t, flat_at(i / 4u))[i % 4u];
}

fn coefficients_t(c: u32) -> vec3<f32> {
    if (AFFINE == 1u) {
        return vec3(coef_at(c), coef_at(CH + c), coef_at(2u * CH + c));
    }
    return vec3(0.0, 1.0, coef_at(c));
}

fn apply(k: vec3<f32>, v: f32) -> f32 {
    return act(ACT, fma(k.y, v - k.x, k.z), p.slope);
}

@compute @workgroup_size(256)
fn channel_map(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= p.n * CH * INNER) {
        return;
    }
    out[i] = apply(coefficients((i / INNER) % CH), x[i]);
}

// Two divisions per four outputs (include/channel_walk.wgsl): the channel of the first, then
// a step along the row for each of the others. Past the end (a total not divisible by 4)
// it writes into the buffer's slack, which no tensor reads.
@compute @workgroup_size(256)
fn channel_map_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let q = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (4u * q >= p.n * CH * INNER) {
        return;
    }
    let v = textureLoad(x_t, flat_at(q));
    if (INNER == 1u && CH % 4u == 0u) {
        // Channels 4q mod C .. +3: row r's coefficients of all four are texel (r·C + c0) / 4.
        let t0 = (4u * q) % CH / 4u;
        var shift = vec4(0.0);
        var scale = vec4(1.0);
        var offset = textureLoad(coef_t, flat_at(t0));
        if (AFFINE == 1u) {
            shift = offset;
            scale = textureLoad(coef_t, flat_at(CH / 4u + t0));
            offset = textureLoad(coef_t, flat_at(2u * CH / 4u + t0));
        }
        let pre = fma(scale, v - shift, offset);
        out4[q] = vec4(act(ACT, pre.x, p.slope), act(ACT, pre.y, p.slope),
                       act(ACT, pre.z, p.slope), act(ACT, pre.w, p.slope));
        return;
    }
    var kc = walk_start(q, INNER, CH);
    var cf = coefficients_t(kc.y);
    var r = vec4(0.0);
    for (var t = 0u; t < 4u; t += 1u) {
        r[t] = apply(cf, v[t]);
        if (SAME == 0u) {
            kc = walk_next(kc, INNER, CH);
            cf = coefficients_t(kc.y);
        }
    }
    out4[q] = r;
}
