// loss: the VAE's likelihood and KL terms, each a sum over all elements divided by the
// batch size B only (as the reference codes them), in two deterministic passes:
// *_partials sums the per-element terms of one CHUNK per workgroup (tree sum),
// finish_* sums the partials in one workgroup and applies the scalar formula.
//   Gaussian, γ = exp(loggamma) a standard deviation:
//       L = Σ((x − x̂)/γ)²/2/B + n·(loggamma + ½ log 2π)/B
//       partials of (x − x̂)²; finish_gauss writes [L, SSE]
//       gauss_coef  coef = [g·γ⁻²/B, g·(n − SSE·γ⁻²)/B]   (the second is dL/dloggamma)
//       gauss_grad  dx̂ = coef[0]·(x̂ − x)
//   Bernoulli cross-entropy with the reference's clamps:
//       L = −Σ(x·log max(x̂, 1e-8) + (1 − x)·log max(1 − x̂, 1e-8))/B
//       bce_grad  dx̂ = g·(−x/x̂ [x̂ > 1e-8] + (1 − x)/(1 − x̂) [1 − x̂ > 1e-8])/B
//   KL(N(μ, σ²) ‖ N(0, I)) = Σ(μ² + σ² − 2 log σ − 1)/2/B
//       kl_grad_mu dμ = g·μ/B,  kl_grad_sigma dσ = g·(σ − 1/σ)/B
// g is the upstream gradient of the scalar loss, read from the device (no host readback).
// Bindings: each entry uses 1.. in the order its comment lists.

struct Params {
    n: u32, chunk: u32, inv_batch: f32, count: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

const HALF_LOG_2PI: f32 = 0.9189385332;
const CLAMP: f32 = 1e-8;

// #include tree_sum

fn group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.y * nwg.x + wid.x;
}

fn gauss_term(i: u32) -> f32 {
    let d = b1[i] - b2[i];
    return d * d;
}

fn bce_term(i: u32) -> f32 {
    let x = b1[i];
    let xh = b2[i];
    return x * log(max(xh, CLAMP)) + (1.0 - x) * log(max(1.0 - xh, CLAMP));
}

fn kl_term(i: u32) -> f32 {
    let mu = b1[i];
    let s = b2[i];
    return mu * mu + s * s - 2.0 * log(s) - 1.0;
}

// b1 = x, b2 = x̂, b3 = partials (out). `kind`: 0 Gaussian, 1 Bernoulli, 2 KL (b1 = μ, b2 = σ).
fn partials(kind: u32, wid: vec3<u32>, nwg: vec3<u32>, lid: u32) {
    let g = group(wid, nwg);
    let start = g * p.chunk;
    if (start >= p.n) {
        return;
    }
    let end = min(start + p.chunk, p.n);
    var acc = 0.0;
    for (var i = start + lid; i < end; i += 256u) {
        if (kind == 0u) {
            acc += gauss_term(i);
        } else if (kind == 1u) {
            acc += bce_term(i);
        } else {
            acc += kl_term(i);
        }
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        b3[g] = total;
    }
}

@compute @workgroup_size(256)
fn gauss_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    partials(0u, wid, nwg, lid);
}

@compute @workgroup_size(256)
fn bce_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    partials(1u, wid, nwg, lid);
}

@compute @workgroup_size(256)
fn kl_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    partials(2u, wid, nwg, lid);
}

// Sum of the p.chunk partials in b1 (p.chunk holds their count here).
fn sum_partials(lid: u32) -> f32 {
    var acc = 0.0;
    for (var j = lid; j < p.chunk; j += 256u) {
        acc += b1[j];
    }
    return tree_sum(lid, acc);
}

// b1 = partials, b2 = out [L, Σ terms] with L = inv_batch·Σ (inv_batch carries the sign and ½).
@compute @workgroup_size(256)
fn finish_sum(@builtin(local_invocation_index) lid: u32) {
    let total = sum_partials(lid);
    if (lid == 0u) {
        b2[0] = p.inv_batch * total;
        b2[1] = total;
    }
}

// b1 = partials, b2 = loggamma [1], b3 = out [L, SSE].
@compute @workgroup_size(256)
fn finish_gauss(@builtin(local_invocation_index) lid: u32) {
    let sse = sum_partials(lid);
    if (lid == 0u) {
        let lg = b2[0];
        b3[0] = (0.5 * sse * exp(-2.0 * lg) + p.count * (lg + HALF_LOG_2PI)) * p.inv_batch;
        b3[1] = sse;
    }
}

// b1 = g [1], b2 = loggamma [1], b3 = forward out [L, SSE], b4 = coef (out, [2]).
@compute @workgroup_size(1)
fn gauss_coef() {
    let g = b1[0];
    let inv_var = exp(-2.0 * b2[0]);
    b4[0] = g * inv_var * p.inv_batch;
    b4[1] = g * (p.count - b3[1] * inv_var) * p.inv_batch;
}

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return group(wid, nwg) * 256u + lid;
}

// b1 = x, b2 = x̂, b3 = coef, b4 = dx̂ (out).
@compute @workgroup_size(256)
fn gauss_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        b4[i] = b3[0] * (b2[i] - b1[i]);
    }
}

// b1 = x, b2 = x̂, b3 = g, b4 = dx̂ (out).
@compute @workgroup_size(256)
fn bce_grad(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        let x = b1[i];
        let xh = b2[i];
        var d = 0.0;
        if (xh > CLAMP) {
            d -= x / xh;
        }
        if (1.0 - xh > CLAMP) {
            d += (1.0 - x) / (1.0 - xh);
        }
        b4[i] = b3[0] * p.inv_batch * d;
    }
}

// b1 = μ, b2 = g, b3 = dμ (out).
@compute @workgroup_size(256)
fn kl_grad_mu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        b3[i] = b2[0] * p.inv_batch * b1[i];
    }
}

// b1 = σ, b2 = g, b3 = dσ (out).
@compute @workgroup_size(256)
fn kl_grad_sigma(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        let s = b1[i];
        b3[i] = b2[0] * p.inv_batch * (s - 1.0 / s);
    }
}
