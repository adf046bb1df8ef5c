// mmd: squared maximum mean discrepancy between samples X [n, d] and Y [m, d],
//   MMD² = Σ_ij w_ij k(z_i, z_j) over the pooled rows z = [X; Y], with
//   w = 1/n² (X–X), 1/m² (Y–Y), −1/(n·m) (X–Y and Y–X) for the biased V-statistic;
//   the unbiased U-statistic drops the diagonal and uses 1/(n(n−1)), 1/(m(m−1)).
//   Kernels (c = p.scale): RBF k = exp(−r²/c); inverse multiquadric k = c/(c + r²).
//   mmd_rows:   rows[i] = Σ_j w_ij k(z_i, z_j), one invocation per pooled row (then a sum).
//   mmd_slopes: S[i, j] = 4·g·w_ij·dk/d(r²)(z_i, z_j), one invocation per pooled pair: the
//               distances are computed once, (n + m)²·d work, not once per gradient element.
//   mmd_grad:   dZ[i, t] = 2·g·Σ_j w_ij ∂k(z_i, z_j)/∂z_i[t] = Σ_j S[i, j]·(z_i[t] − z_j[t])
//               for the rows of one side (w and k are symmetric, so each pair's two terms are
//               equal), (n + m) terms per element.
// Bindings (4 storage buffers at most, the downlevel limit): mmd_rows 1 X, 2 Y, 3 rows (out);
//           mmd_slopes 1 X, 2 Y, 3 S (out), 4 g [1]; mmd_grad 1 X, 2 Y, 3 S, 4 dX or dY (out).

struct Params {
    n: u32, m: u32, d: u32, kernel: u32,
    scale: f32, unbiased: u32, side: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> xs: array<f32>;
@group(0) @binding(2) var<storage, read_write> ys: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

fn value(i: u32, t: u32) -> f32 {
    if (i < p.n) {
        return xs[i * p.d + t];
    }
    return ys[(i - p.n) * p.d + t];
}

fn sqdist(i: u32, j: u32) -> f32 {
    var r = 0.0;
    for (var t = 0u; t < p.d; t++) {
        let e = value(i, t) - value(j, t);
        r += e * e;
    }
    return r;
}

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

@compute @workgroup_size(64)
fn mmd_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i >= p.n + p.m) {
        return;
    }
    var acc = 0.0;
    for (var j = 0u; j < p.n + p.m; j++) {
        acc += weight(i, j) * kernel(sqdist(i, j));
    }
    b3[i] = acc;
}

@compute @workgroup_size(64)
fn mmd_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    var rows = p.n;
    var first = 0u;
    if (p.side == 1u) {
        rows = p.m;
        first = p.n;
    }
    if (e >= rows * p.d) {
        return;
    }
    let i = first + e / p.d;
    let t = e % p.d;
    let zi = value(i, t);
    let pooled = p.n + p.m;
    let row = i * pooled;
    var acc = 0.0;
    for (var j = 0u; j < pooled; j++) {
        acc += b3[row + j] * (zi - value(j, t));
    }
    b4[e] = acc;
}

@compute @workgroup_size(64)
fn mmd_slopes(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let e = index(wid, nwg, lid);
    let pooled = p.n + p.m;
    if (e >= pooled * pooled) {
        return;
    }
    let i = e / pooled;
    let j = e % pooled;
    b3[e] = 4.0 * b4[0] * weight(i, j) * kernel_slope(sqdist(i, j));
}
