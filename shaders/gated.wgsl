// gated: the gated activation of conditional PixelCNN layers (van den Oord et al. 2016),
//   y[n, c, p] = tanh(h[n, c, p] + cond[n, c]) · σ(h[n, C + c, p] + cond[n, C + c])
// on h [N, 2C, P] (P = H·W: the layer's two halves, tanh's then the gate's) with cond [N, 2C]
// the conditioning's per-image, per-channel offset (a linear map of z), broadcast over the
// pixels. tanh(a) = 2σ(2a) − 1, from the overflow-free sigmoid, so no |a| gives NaN.
//   gated_fwd  b1 = h, b2 = cond, b3 = y (out, [N, C, P]); one output an invocation
//   gated_bwd  b1 = h, b2 = cond, b3 = g (y's gradient), b4 = dh (out, [N, 2C, P]):
//              dh_a = g·σ(b)·(1 − t²), dh_b = g·t·σ(b)·(1 − σ(b)); both halves of one output
//              an invocation. cond's gradient is Σ_p dh (reduce.wgsl's sum over the last axis).

struct Params { n: u32, ch: u32, pixels: u32, pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

// #include sigmoid

// For output element j: the indices of its tanh and gate inputs in h and in cond.
struct At { ha: u32, hb: u32, ca: u32, cb: u32 }

fn at(j: u32) -> At {
    let per = p.ch * p.pixels;
    let n = j / per;
    let rem = j - n * per;
    let c = rem / p.pixels;
    let ha = n * 2u * per + rem;
    return At(ha, ha + per, n * 2u * p.ch + c, n * 2u * p.ch + p.ch + c);
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn gated_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let j = index(wid, nwg, lid);
    if (j >= p.n) {
        return;
    }
    let i = at(j);
    let t = 2.0 * sigmoid(2.0 * (b1[i.ha] + b2[i.ca])) - 1.0;
    b3[j] = t * sigmoid(b1[i.hb] + b2[i.cb]);
}

@compute @workgroup_size(256)
fn gated_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let j = index(wid, nwg, lid);
    if (j >= p.n) {
        return;
    }
    let i = at(j);
    let t = 2.0 * sigmoid(2.0 * (b1[i.ha] + b2[i.ca])) - 1.0;
    let s = sigmoid(b1[i.hb] + b2[i.cb]);
    let g = b3[j];
    b4[i.ha] = g * s * (1.0 - t * t);
    b4[i.hb] = g * t * s * (1.0 - s);
}
