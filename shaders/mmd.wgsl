// mmd: squared maximum mean discrepancy between samples X [n, d] and Y [m, d],
//   MMD² = Σ_ij w_ij k(z_i, z_j) over the N = n + m pooled rows z = [X; Y], with
//   w = 1/n² (X–X), 1/m² (Y–Y), −1/(n·m) (X–Y and Y–X) for the biased V-statistic;
//   the unbiased U-statistic drops the diagonal and uses 1/(n(n−1)), 1/(m(m−1)).
//   Kernels (c = p.scale): RBF k = exp(−r²/c); inverse multiquadric k = c/(c + r²).
//
// The host works through blocks of B pooled rows: G = Z[r0 .. r0 + B]·Zᵀ (the routed
// matmul, which is fast on every adapter), then r²_ij = s_i + s_j − 2·G_ij with the row
// norms s. These kernels are one invocation per element of a B × N block with no loop:
// llvmpipe ends any invocation's loops after 65,535 iterations in all (gallivm's loop
// limiter), so a per-row loop over N pairs of d-long distances silently dropped pairs once
// N·(d + 1) passed it (about 500 + 500 rows of 64).
//   mmd_block_sums:   for the pairs of one block with j ≥ r0 (pairs past the block stand
//                     for their mirror images too, so a pass takes half the pairs), one
//                     invocation per row and segment of SEG columns: Σ_j w_ij·k(r²_ij) over
//                     the segment (then a sum of the partials).
//   mmd_block_slopes: G[e] ← S_ij = 4·g·w_ij·dk/d(r²)(r²_ij), in place.
//   mmd_block_grad:   dZ[r0 + i, t] = Σ_j S_ij·(z_i[t] − z_j[t]) = R_i·z_i[t] − P[i, t],
//                     with R = Σ_j S_ij and P = S·Z from the host's reduction and product
//                     (w and k are symmetric, so each pair's two terms are equal).
// Bindings (4 storage buffers at most, the downlevel limit):
//   mmd_block_sums 1 G, 2 s, 3 partials (out);  mmd_block_slopes 1 G (in/out), 2 s, 3 g [1];
//   mmd_block_grad 1 Z, 2 R, 3 P, 4 dZ (out).

// The block holds pooled rows r0 .. r0 + rows against columns c0 .. c0 + cols.
struct Params {
    n: u32, m: u32, d: u32, kernel: u32,
    scale: f32, unbiased: u32, r0: u32, rows: u32,
    c0: u32, cols: u32, segs: u32, pad: u32,
}

// Columns per invocation of mmd_block_sums: 256 loop iterations, far inside llvmpipe's budget.
const SEG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

fn weight(i: u32, j: u32) -> f32 {
    let n = f32(p.n);
    let m = f32(p.m);
    let xi = i < p.n;
    let xj = j < p.n;
    if (xi != xj) {
        return -1.0 / (n * m);
    }
    if (p.unbiased == 1u) {
        if (i == j) {
            return 0.0;
        }
        if (xi) {
            return 1.0 / (n * (n - 1.0));
        }
        return 1.0 / (m * (m - 1.0));
    }
    if (xi) {
        return 1.0 / (n * n);
    }
    return 1.0 / (m * m);
}

// The weight of an off-diagonal pair within X (x_side) or within Y.
fn same_weight(x_side: bool) -> f32 {
    var k = f32(p.m);
    if (x_side) {
        k = f32(p.n);
    }
    if (p.unbiased == 1u) {
        return 1.0 / (k * (k - 1.0));
    }
    return 1.0 / (k * k);
}

fn kernel(r2: f32) -> f32 {
    if (p.kernel == 0u) {
        return exp(-r2 / p.scale);
    }
    return p.scale / (p.scale + r2);
}

// dk/d(r²): ∂k/∂z_i = 2·(z_i − z_j)·dk/d(r²).
fn kernel_slope(r2: f32) -> f32 {
    if (p.kernel == 0u) {
        return -exp(-r2 / p.scale) / p.scale;
    }
    let q = p.scale + r2;
    return -p.scale / (q * q);
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

// The pooled pair (i, j) of block element e, and its squared distance from the Gram entry
// (clamped: rounding can take a tiny distance below zero; a row's own distance is exactly 0).
struct Pair { i: u32, j: u32, r2: f32 }

fn pair(e: u32) -> Pair {
    let i = p.r0 + e / p.cols;
    let j = p.c0 + e % p.cols;
    var r2 = max(b2[i] + b2[j] - 2.0 * b1[e], 0.0);
    if (i == j) {
        r2 = 0.0;
    }
    return Pair(i, j, r2);
}

// Lanes take consecutive rows of one segment, so s[j] is the same for all of them.
@compute @workgroup_size(64)
fn mmd_block_sums(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.rows * p.segs) {
        return;
    }
    let r = e % p.rows;
    let seg = e / p.rows;
    let i = p.r0 + r;
    let si = b2[i];
    let first = seg * SEG;
    let last = min(first + SEG, p.cols);
    // Same-side and cross-side kernel sums; a column past the block counts twice (its pair
    // (j, i) is in a later block's columns only as (i, j) here).
    var same = 0.0;
    var cross = 0.0;
    let block_end = p.r0 + p.rows;
    for (var c = first; c < last; c += 1u) {
        let j = p.c0 + c;
        var r2 = max(si + b2[j] - 2.0 * b1[r * p.cols + c], 0.0);
        r2 = select(r2, 0.0, j == i);
        var kv = kernel(r2);
        kv = select(kv, 2.0 * kv, j >= block_end);
        kv = select(kv, 0.0, p.unbiased == 1u && j == i);
        let x_side = (j < p.n) == (i < p.n);
        same += select(0.0, kv, x_side);
        cross += select(kv, 0.0, x_side);
    }
    b3[e] = same_weight(i < p.n) * same - cross / (f32(p.n) * f32(p.m));
}

@compute @workgroup_size(64)
fn mmd_block_slopes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.rows * p.cols) {
        return;
    }
    let q = pair(e);
    b1[e] = 4.0 * b3[0] * weight(q.i, q.j) * kernel_slope(q.r2);
}

@compute @workgroup_size(64)
fn mmd_block_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    if (e >= p.rows * p.d) {
        return;
    }
    let i = e / p.d;
    let row = p.r0 * p.d + e;
    b4[row] = b2[i] * b1[row] - b3[e];
}
