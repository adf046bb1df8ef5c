// bias_add on a dense [N, C, inner] tensor (inner = H·W, or 1 for [N, C]):
//   y[n,c,i] = x[n,c,i] + bias[c]. Its gradient, a per-channel sum, is reduce.wgsl's reduce_channel.
// Bindings: 0 params, 1 x, 2 bias, 3 y.

struct Params { n: u32, c: u32, inner: u32, pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn bias_add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= p.n * p.c * p.inner) {
        return;
    }
    out[i] = x[i] + bias[(i / p.inner) % p.c];
}
