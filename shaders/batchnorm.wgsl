// Batch norm over (N) of [N, C] or (N, H, W) of [N, C, H, W], as a dense [N, C, inner]
// with M = N·inner values per channel. stats is [2, C]: mean, then 1/sqrt(var + eps).
// Forward (train):  bn_stats (batch mean and biased variance, two-pass per channel for
//                   stability; optionally running_x = momentum·running_x + (1−momentum)·batch_x
//                   with the unbiased variance M/(M−1)·var, as PyTorch and TF's fused BN do)
//                   → bn_normalize xhat = (x − mean)·invstd → bn_affine y = γ·xhat + β.
// Forward (eval):   bn_eval_stats (stats from the running averages) → the same two.
// Backward:         bn_backward_reduce dgb = [Σ dy·xhat (dγ); Σ dy (dβ)]
//                   bn_backward_coef   coef = [k1; k0; kx] with k1 = γ·invstd and, in training,
//                                      k0 = −k1·dβ/M, kx = −k1·dγ/M (eval: 0, 0)
//                   bn_backward_dx     dx = k1·dy + k0 + kx·xhat
// Bindings per entry (1..4): see each function. The reductions come in two forms: one
// workgroup per channel with a tree sum (bn_stats, bn_backward_reduce), and one invocation per
// channel summing in order with no barrier (the _seq entries), which the host picks where
// barriers cost more than the parallelism within a channel gives (CPU rasterisers with enough
// channels to fill the cores, and any adapter when a channel has few values).

struct Params {
    n: u32, c: u32, inner: u32, update: u32,
    eps: f32, momentum: f32, train: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

// #include tree_sum

fn at(c: u32, j: u32) -> u32 {
    return ((j / p.inner) * p.c + c) * p.inner + j % p.inner;
}

fn channel(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

// b1 = x, b2 = stats (out), b3 = running_mean, b4 = running_var (updated when p.update = 1).
@compute @workgroup_size(256)
fn bn_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg);
    if (c >= p.c) {
        return;
    }
    let m = p.n * p.inner;
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
        b2[c] = mean;
        b2[p.c + c] = 1.0 / sqrt(var_ + p.eps);
        if (p.update == 1u) {
            let unbiased = var_ * f32(m) / f32(max(m, 2u) - 1u);
            b3[c] = p.momentum * b3[c] + (1.0 - p.momentum) * mean;
            b4[c] = p.momentum * b4[c] + (1.0 - p.momentum) * unbiased;
        }
    }
}

// bn_stats with one invocation per channel, summing in order (no barrier).
@compute @workgroup_size(64)
fn bn_stats_seq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 64u + lid;
    if (c >= p.c) {
        return;
    }
    let m = p.n * p.inner;
    var s = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * p.c + c) * p.inner;
        for (var k = 0u; k < p.inner; k += 1u) {
            s += b1[base + k];
        }
    }
    let mean = s / f32(m);
    var q = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * p.c + c) * p.inner;
        for (var k = 0u; k < p.inner; k += 1u) {
            let d = b1[base + k] - mean;
            q += d * d;
        }
    }
    let var_ = q / f32(m);
    b2[c] = mean;
    b2[p.c + c] = 1.0 / sqrt(var_ + p.eps);
    if (p.update == 1u) {
        let unbiased = var_ * f32(m) / f32(max(m, 2u) - 1u);
        b3[c] = p.momentum * b3[c] + (1.0 - p.momentum) * mean;
        b4[c] = p.momentum * b4[c] + (1.0 - p.momentum) * unbiased;
    }
}

// b1 = running_mean, b2 = running_var, b3 = stats (out). One invocation per channel.
@compute @workgroup_size(256)
fn bn_eval_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 256u + lid;
    if (c >= p.c) {
        return;
    }
    b3[c] = b1[c];
    b3[p.c + c] = 1.0 / sqrt(b2[c] + p.eps);
}

// b1 = x, b2 = stats, b3 = xhat (out).
@compute @workgroup_size(256)
fn bn_normalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = channel(wid, nwg) * 256u + lid;
    if (i >= p.n * p.c * p.inner) {
        return;
    }
    let c = (i / p.inner) % p.c;
    b3[i] = (b1[i] - b2[c]) * b2[p.c + c];
}

// b1 = xhat, b2 = gamma, b3 = beta, b4 = y (out).
@compute @workgroup_size(256)
fn bn_affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = channel(wid, nwg) * 256u + lid;
    if (i >= p.n * p.c * p.inner) {
        return;
    }
    let c = (i / p.inner) % p.c;
    b4[i] = fma(b2[c], b1[i], b3[c]);
}

// b1 = xhat, b2 = dy, b3 = dgb (out, [2, C]).
@compute @workgroup_size(256)
fn bn_backward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg);
    if (c >= p.c) {
        return;
    }
    var sg = 0.0;
    var sb = 0.0;
    for (var j = lid; j < p.n * p.inner; j += 256u) {
        let i = at(c, j);
        sg += b2[i] * b1[i];
        sb += b2[i];
    }
    let dg = tree_sum(lid, sg);
    let db = tree_sum(lid, sb);
    if (lid == 0u) {
        b3[c] = dg;
        b3[p.c + c] = db;
    }
}

// bn_backward_reduce with one invocation per channel, summing in order (no barrier).
@compute @workgroup_size(64)
fn bn_backward_reduce_seq(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 64u + lid;
    if (c >= p.c) {
        return;
    }
    var sg = 0.0;
    var sb = 0.0;
    for (var n = 0u; n < p.n; n += 1u) {
        let base = (n * p.c + c) * p.inner;
        for (var k = 0u; k < p.inner; k += 1u) {
            let i = base + k;
            sg += b2[i] * b1[i];
            sb += b2[i];
        }
    }
    b3[c] = sg;
    b3[p.c + c] = sb;
}

// b1 = stats, b2 = gamma, b3 = dgb, b4 = coef (out, [3, C]). One invocation per channel.
@compute @workgroup_size(256)
fn bn_backward_coef(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = channel(wid, nwg) * 256u + lid;
    if (c >= p.c) {
        return;
    }
    let k1 = b2[c] * b1[p.c + c];
    let m = f32(p.n * p.inner);
    var k0 = 0.0;
    var kx = 0.0;
    if (p.train == 1u) {
        k0 = -k1 * b3[p.c + c] / m;
        kx = -k1 * b3[c] / m;
    }
    b4[c] = k1;
    b4[p.c + c] = k0;
    b4[2u * p.c + c] = kx;
}

// b1 = xhat, b2 = dy, b3 = coef, b4 = dx (out).
@compute @workgroup_size(256)
fn bn_backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = channel(wid, nwg) * 256u + lid;
    if (i >= p.n * p.c * p.inner) {
        return;
    }
    let c = (i / p.inner) % p.c;
    b4[i] = b3[c] * b2[i] + b3[p.c + c] + b3[2u * p.c + c] * b1[i];
}
