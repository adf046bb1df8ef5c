// Batch norm over (N) of [N, C] or (N, H, W) of [N, C, H, W], as a dense [N, C, inner]
// with M = N·inner values per channel, fused with the activation after it (include/act.wgsl,
// constant ACT, slope p.slope). The forward's state is coef [4, C]: μ, a = γ·invstd, β, invstd
// (batch statistics in training, running ones in eval), so pre = a·(x − μ) + β and y = act(pre).
// Forward (train):  bn_stats (batch mean and biased variance, two-pass per channel for
//                   stability; optionally running_x = momentum·running_x + (1−momentum)·batch_x
//                   with the unbiased variance M/(M−1)·var, as PyTorch and TF's fused BN do)
//                   → bn_coef (a, β) → channel.wgsl's channel_map y = act(a·(x − μ) + β).
// Forward (eval):   bn_eval_stats (μ and invstd from the running averages) → the same two.
// Backward, with g = dy·act'(pre) recomputed from x (neither xhat nor pre is stored):
//                   bn_backward_reduce dgb = [Σ g·xhat (dγ); Σ g (dβ)], xhat = invstd·(x − μ)
//                   bn_backward_coef   back [5, C] = [μ; a; β; k0; kx] with, in training,
//                                      k0 = −a·dβ/M, kx = −a·invstd·dγ/M (eval: 0, 0)
//                   bn_backward_dx     dx = a·g + k0 + kx·(x − μ)
// Bindings per entry (1..4): see each function. The reductions come in two forms: one
// workgroup per channel with a tree sum (bn_stats, bn_backward_reduce), and one invocation per
// channel summing in order with no barrier (the _seq entries), which the host picks where
// barriers cost more than the parallelism within a channel gives (CPU rasterisers with enough
// channels to fill the cores, and any adapter when a channel has few values).
// bn_backward_dx_tex (Routing::reads) reads back, x and dy from flat textures and writes
// four outputs per invocation: 1 dx (vec4 view), 2 back, 3 x, 4 dy (textures). SAME as in
// channel.wgsl; with INNER = 1 and C divisible by 4 the four are consecutive channels, whose
// rows of back are one texel each.
// The _seq_tex entries are the in-order reductions reading x (and dy) from flat textures of
// the whole tensor (at offset 0): llvmpipe loads a storage buffer a lane at a time, each
// value stored into the vector on the stack and the vector reloaded, where an image load is
// eight 16-byte loads. bn_stats_seq_tex: 1 coef (out), 2 running_mean, 3 running_var,
// 4 x (texture); bn_backward_reduce_seq_tex: 1 coef, 2 dgb (out), 3 x, 4 dy (textures).

struct Params {
    n: u32, update: u32, train: u32, slope: f32,
    eps: f32, momentum: f32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
// dy for the backward entries, read-only like x, so one buffer may be both.
@group(0) @binding(2) var<storage, read> dy: array<f32>;

@group(0) @binding(1) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(2) var back_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var x_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(4) var dy_t: texture_storage_2d<rgba32float, read>;

@group(0) @binding(1) var<storage, read_write> stats_coef: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats_var: array<f32>;
@group(0) @binding(4) var stats_x_t: texture_storage_2d<rgba32float, read>;

const ACT: u32 = 0u;
const SAME: u32 = 0u;
// C and inner, constants (a pipeline per shape): no division by a run-time value, which
// llvmpipe does lane by lane, and constant bounds on the in-order loops.
const CH: u32 = 1u;
const INNER: u32 = 1u;
// The in-order entries' workgroup size (kernels::per_channel_launch).
const SEQ_WG: u32 = 64u;

// #include tree_sum
// #include flat
// #include act
// #include channel_walk

fn at(c: u32, j: u32) -> u32 {
    return ((j / INNER) * CH + c) * INNER + j % INNER;
}

fn channel(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

// Writes μ and invstd into coef's rows 0 and 3, and updates the running averages.
fn finish_stats(c: u32, mean: f32, var_: f32, m: u32) {
    b2[c] = mean;
    b2[3u * CH + c] = 1.0 / sqrt(var_ + p.eps);
    if (p.update == 1u) {
        let unbiased = var_ * f32(m) / f32(max(m, 2u) - 1u);
        b3[c] = p.momentum * b3[c] + (1.0 - p.momentum) * mean;
        b4[c] = p.momentum * b4[c] + (1.0 - p.momentum) * unbiased;
    }
}

// b1 = x, b2 = coef (out: rows 0, 3), b3 = running_mean, b4 = running_var (updated when
// p.update = 1).
@compute @workgroup_size(256)
fn bn_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg);
    if (c >= CH) {
        return;
    }
    let m = p.n * INNER;
    var s = 0.0;
    for (var j = lid; j < m; j += 256u) {
        s += b1[at(c, j)];
    }
    let mean = tree_sum(lid, s) / f32(m);
    var q = 0.0;
    for (var j = lid; j < m; j += 256u) {
        let d = b1[at(c, j)] - mean;
        q += d * d;
    }
    let var_ = tree_sum(lid, q) / f32(m);
    if (lid == 0u) {
        finish_stats(c, mean, var_, m);
    }
}

// bn_stats with one invocation per channel, summing in order (no barrier).
@compute @workgroup_size(SEQ_WG)
fn bn_stats_seq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * SEQ_WG + lid;
    if (c >= CH) {
        return;
    }
    let m = p.n * INNER;
    var s = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * CH + c) * INNER;
        for (var k = 0u; k < INNER; k += 1u) {
            s += b1[base + k];
        }
    }
    let mean = s / f32(m);
    var q = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * CH + c) * INNER;
        for (var k = 0u; k < INNER; k += 1u) {
            let d = b1[base + k] - mean;
            q += d * d;
        }
    }
    finish_stats(c, mean, q / f32(m), m);
}

// Σ x and Σ (x − shift)² over channel c of the flat texture stats_x_t, in order: a texel
// at a time where a channel's runs start on texels (INNER a multiple of 4).
fn channel_sums_tex(c: u32, shift: f32) -> vec2<f32> {
    var s = 0.0;
    var q = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * CH + c) * INNER;
        if (INNER % 4u == 0u) {
            for (var t = base / 4u; t < (base + INNER) / 4u; t += 1u) {
                let v = textureLoad(stats_x_t, flat_at(t));
                let d = v - shift;
                s += (v.x + v.y) + (v.z + v.w);
                q += dot(d, d);
            }
        } else {
            for (var i = base; i < base + INNER; i += 1u) {
                let v = textureLoad(stats_x_t, flat_at(i / 4u))[i % 4u];
                s += v;
                q += (v - shift) * (v - shift);
            }
        }
    }
    return vec2(s, q);
}

// bn_stats_seq reading x from a texture; the same outputs as finish_stats.
@compute @workgroup_size(SEQ_WG)
fn bn_stats_seq_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * SEQ_WG + lid;
    if (c >= CH) {
        return;
    }
    let m = p.n * INNER;
    let mean = channel_sums_tex(c, 0.0).x / f32(m);
    let var_ = channel_sums_tex(c, mean).y / f32(m);
    stats_coef[c] = mean;
    stats_coef[3u * CH + c] = 1.0 / sqrt(var_ + p.eps);
    if (p.update == 1u) {
        let unbiased = var_ * f32(m) / f32(max(m, 2u) - 1u);
        stats_mean[c] = p.momentum * stats_mean[c] + (1.0 - p.momentum) * mean;
        stats_var[c] = p.momentum * stats_var[c] + (1.0 - p.momentum) * unbiased;
    }
}

// (g, x − μ) of x and dy values, as grad_and_centred.
fn grad_centred4(x: vec4<f32>, dy: vec4<f32>, k: vec3<f32>) -> array<vec4<f32>, 2> {
    let d = x - k.x;
    let pre = fma(vec4(k.y), d, vec4(k.z));
    let g = dy * vec4(act_grad(ACT, pre.x, p.slope), act_grad(ACT, pre.y, p.slope),
                      act_grad(ACT, pre.z, p.slope), act_grad(ACT, pre.w, p.slope));
    return array(g, d);
}

// bn_backward_reduce_seq reading x and dy from textures; b1 = coef, b2 = dgb (out).
@compute @workgroup_size(SEQ_WG)
fn bn_backward_reduce_seq_tex(@builtin(workgroup_id) wid: vec3<u32>,
                              @builtin(num_workgroups) nwg: vec3<u32>,
                              @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * SEQ_WG + lid;
    if (c >= CH) {
        return;
    }
    let k = vec3(b1[c], b1[CH + c], b1[2u * CH + c]);
    var sg = 0.0;
    var sb = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * CH + c) * INNER;
        if (INNER % 4u == 0u) {
            for (var t = base / 4u; t < (base + INNER) / 4u; t += 1u) {
                let gd = grad_centred4(textureLoad(x_t, flat_at(t)), textureLoad(dy_t, flat_at(t)), k);
                sg += dot(gd[0], gd[1]);
                sb += (gd[0].x + gd[0].y) + (gd[0].z + gd[0].w);
            }
        } else {
            for (var i = base; i < base + INNER; i += 1u) {
                let x = textureLoad(x_t, flat_at(i / 4u))[i % 4u];
                let d = x - k.x;
                let g = textureLoad(dy_t, flat_at(i / 4u))[i % 4u] * act_grad(ACT, fma(k.y, d, k.z), p.slope);
                sg += g * d;
                sb += g;
            }
        }
    }
    b2[c] = sg * b1[3u * CH + c];
    b2[CH + c] = sb;
}

// b1 = running_mean, b2 = running_var, b3 = coef (out: rows 0, 3). One invocation per channel.
@compute @workgroup_size(256)
fn bn_eval_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 256u + lid;
    if (c >= CH) {
        return;
    }
    b3[c] = b1[c];
    b3[3u * CH + c] = 1.0 / sqrt(b2[c] + p.eps);
}

// b1 = gamma, b2 = beta, b3 = coef (rows 1, 2 out: γ·invstd, β). One invocation per channel.
@compute @workgroup_size(256)
fn bn_coef(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 256u + lid;
    if (c >= CH) {
        return;
    }
    b3[CH + c] = b1[c] * b3[3u * CH + c];
    b3[2u * CH + c] = b2[c];
}

// Channel c's μ, a, β from coef (b3), loaded once before a reduction's loop: llvmpipe's LLVM
// passes do not hoist loop-invariant loads (BENCHMARKS.md, Zen 1: the coefficients hoisted).
fn forward_coef(c: u32) -> vec3<f32> {
    return vec3(b3[c], b3[CH + c], b3[2u * CH + c]);
}

// g = dy·act'(pre) at element i, and x − μ there, with k = forward_coef(c); b1 = x.
fn grad_and_centred(i: u32, k: vec3<f32>) -> vec2<f32> {
    let d = b1[i] - k.x;
    return vec2(dy[i] * act_grad(ACT, fma(k.y, d, k.z), p.slope), d);
}

// Σ g·(x − μ) and Σ g finish as dγ = invstd·Σ g·(x − μ) and dβ.
fn finish_reduce(c: u32, sg: f32, sb: f32) {
    b4[c] = sg * b3[3u * CH + c];
    b4[CH + c] = sb;
}

// b1 = x, b2 = dy, b3 = coef, b4 = dgb (out, [2, C]).
@compute @workgroup_size(256)
fn bn_backward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg);
    if (c >= CH) {
        return;
    }
    let k = forward_coef(c);
    var sg = 0.0;
    var sb = 0.0;
    for (var j = lid; j < p.n * INNER; j += 256u) {
        let gd = grad_and_centred(at(c, j), k);
        sg += gd.x * gd.y;
        sb += gd.x;
    }
    let dg = tree_sum(lid, sg);
    let db = tree_sum(lid, sb);
    if (lid == 0u) {
        finish_reduce(c, dg, db);
    }
}

// bn_backward_reduce with one invocation per channel, summing in order (no barrier).
@compute @workgroup_size(SEQ_WG)
fn bn_backward_reduce_seq(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * SEQ_WG + lid;
    if (c >= CH) {
        return;
    }
    let k = forward_coef(c);
    var sg = 0.0;
    var sb = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * CH + c) * INNER;
        for (var j = 0u; j < INNER; j += 1u) {
            let gd = grad_and_centred(base + j, k);
            sg += gd.x * gd.y;
            sb += gd.x;
        }
    }
    finish_reduce(c, sg, sb);
}

// b1 = coef, b2 = dgb, b3 = back (out, [5, C]). One invocation per channel.
@compute @workgroup_size(256)
fn bn_backward_coef(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 256u + lid;
    if (c >= CH) {
        return;
    }
    let a = b1[CH + c];
    let m = f32(p.n * INNER);
    var k0 = 0.0;
    var kx = 0.0;
    if (p.train == 1u) {
        k0 = -a * b2[CH + c] / m;
        kx = -a * b1[3u * CH + c] * b2[c] / m;
    }
    b3[c] = b1[c];
    b3[CH + c] = a;
    b3[2u * CH + c] = b1[2u * CH + c];
    b3[3u * CH + c] = k0;
    b3[4u * CH + c] = kx;
}

// dx of one element from x, dy and channel c's row of back (in bn_backward_dx's b3, or
// bn_backward_dx_tex's back_t: `k` holds μ, a, β, k0 and `kx` the fifth).
fn dx_of(x: f32, g_out: f32, k: vec4<f32>, kx: f32) -> f32 {
    let d = x - k.x;
    let g = g_out * act_grad(ACT, fma(k.y, d, k.z), p.slope);
    return fma(k.y, g, fma(kx, d, k.w));
}

fn back_at(i: u32) -> f32 {
    return textureLoad(back_t, flat_at(i / 4u))[i % 4u];
}

fn back_row(c: u32) -> vec4<f32> {
    return vec4(back_at(c), back_at(CH + c), back_at(2u * CH + c), back_at(3u * CH + c));
}

// b1 = x, b2 = dy, b3 = back, b4 = dx (out).
@compute @workgroup_size(256)
fn bn_backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = channel(wid, nwg) * 256u + lid;
    if (i >= p.n * CH * INNER) {
        return;
    }
    let c = (i / INNER) % CH;
    let k = vec4(b3[c], b3[CH + c], b3[2u * CH + c], b3[3u * CH + c]);
    b4[i] = dx_of(b1[i], dy[i], k, b3[4u * CH + c]);
}

// Four outputs per invocation, walking the row as channel.wgsl's channel_map_tex does.
@compute @workgroup_size(256)
fn bn_backward_dx_tex(@builtin(workgroup_id) wid: vec3<u32>,
                      @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let q = channel(wid, nwg) * 256u + lid;
    if (4u * q >= p.n * CH * INNER) {
        return;
    }
    let xv = textureLoad(x_t, flat_at(q));
    let dv = textureLoad(dy_t, flat_at(q));
    if (INNER == 1u && CH % 4u == 0u) {
        // Channels 4q mod C .. +3: row r of back for all four is texel (r·C + c0) / 4.
        let t0 = (4u * q) % CH / 4u;
        let mu = textureLoad(back_t, flat_at(t0));
        let a = textureLoad(back_t, flat_at(CH / 4u + t0));
        let beta = textureLoad(back_t, flat_at(2u * CH / 4u + t0));
        let k0 = textureLoad(back_t, flat_at(3u * CH / 4u + t0));
        let kx4 = textureLoad(back_t, flat_at(CH + t0));
        var r4 = vec4(0.0);
        for (var t = 0u; t < 4u; t += 1u) {
            r4[t] = dx_of(xv[t], dv[t], vec4(mu[t], a[t], beta[t], k0[t]), kx4[t]);
        }
        dx4[q] = r4;
        return;
    }
    var kc = walk_start(q, INNER, CH);
    var k = back_row(kc.y);
    var kx = back_at(4u * CH + kc.y);
    var r = vec4(0.0);
    for (var t = 0u; t < 4u; t += 1u) {
        r[t] = dx_of(xv[t], dv[t], k, kx);
        if (SAME == 0u) {
            kc = walk_next(kc, INNER, CH);
            k = back_row(kc.y);
            kx = back_at(4u * CH + kc.y);
        }
    }
    dx4[q] = r;
}
