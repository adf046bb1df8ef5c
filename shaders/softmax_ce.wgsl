// softmax_ce: the categorical likelihood, softmax cross-entropy over a class axis, as the loss
// kernels are: a sum over every row divided by the batch size B only.
// Logits are viewed as [outer, K, inner]: K classes at stride `inner` (a classifier's [B, K]
// has inner = 1; a per-pixel 256-way decoder's [B, 256, H, W] has inner = H·W). A row is one
// (outer, inner) pair; its target class is t = clamp(round(target·scale), 0, K − 1) (scale 1
// for class indices, 255 for 8-bit pixels in [0, 1]; round is WGSL's, ties to even).
//   row term  lse − l_t with lse = log Σ_k exp(l_k), one pass with a running maximum
//   ce_partials  b1 = logits, b2 = targets [outer·inner], b3 = (lse, t) per row (out),
//                b4 = partials (out): Σ of the terms of CHUNK = 256 rows per workgroup, one row
//                an invocation (tree sum); loss.wgsl's finish_sum turns them into [L, Σ]
//   ce_grad      b1 = logits, b2 = (lse, t) per row, b3 = g [1], b4 = dlogits (out):
//                dl_k = g·(exp(l_k − lse) − [k = t])/B, one element an invocation
// The row's class travels beside its lse so the backward needs four buffers, the most a
// downlevel device binds per stage.
// Adjacent invocations take adjacent inner positions, so the class loop reads coalesced
// memory whenever inner > 1.

struct Params {
    rows: u32, classes: u32, inner: u32, n: u32,
    scale: f32, inv_batch: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> b1: array<f32>;
@group(0) @binding(2) var<storage, read> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

// #include tree_sum

fn flat(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

fn target_class(r: u32) -> u32 {
    let t = round(b2[r] * p.scale);
    return u32(clamp(t, 0.0, f32(p.classes - 1u)));
}

// The first logit of row r (class 0), the row's class stride being p.inner.
fn row_base(r: u32) -> u32 {
    let o = r / p.inner;
    return o * p.classes * p.inner + (r - o * p.inner);
}

@compute @workgroup_size(256)
fn ce_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let r = flat(wid, nwg, lid);
    var term = 0.0;
    if (r < p.rows) {
        let base = row_base(r);
        var m = b1[base];
        var s = 1.0;
        for (var k = 1u; k < p.classes; k++) {
            let l = b1[base + k * p.inner];
            if (l > m) {
                s = s * exp(m - l) + 1.0;
                m = l;
            } else {
                s += exp(l - m);
            }
        }
        let lse = m + log(s);
        let t = target_class(r);
        b3[2u * r] = lse;
        b3[2u * r + 1u] = f32(t);
        term = lse - b1[base + t * p.inner];
    }
    let total = tree_sum(lid, term);
    if (lid == 0u) {
        b4[wid.y * nwg.x + wid.x] = total;
    }
}

@compute @workgroup_size(256)
fn ce_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let j = flat(wid, nwg, lid);
    if (j >= p.n) {
        return;
    }
    let per = p.classes * p.inner;
    let o = j / per;
    let rem = j - o * per;
    let k = rem / p.inner;
    let r = o * p.inner + (rem - k * p.inner);
    var d = exp(b1[j] - b2[2u * r]);
    if (k == u32(b2[2u * r + 1u])) {
        d -= 1.0;
    }
    b4[j] = b3[0] * p.inv_batch * d;
}
