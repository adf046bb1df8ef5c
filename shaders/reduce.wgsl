// reduce: sums of a dense tensor, deterministic (fixed order, no atomics).
//   reduce_axis:   in viewed as [outer, r, inner] -> out[outer, inner] = scale * sum over r.
//                  One workgroup per output; 256 threads stride over r, then a tree sum.
//   reduce_axis_seq: the same with one invocation per output summing in order, no barrier
//                  (a short r, where the tree's threads would mostly add zeros).
//   reduce_chunks: out[g] = scale * sum of in[g*chunk .. min((g+1)*chunk, n)], the first
//                  pass of a whole-tensor sum (the second is reduce_axis over the partials).
//   reduce_channel: in viewed as [outer, r, inner] -> out[j] = scale * sum over outer and inner
//                  for each j < r (the bias gradient: a sum over all but the channel dim).
//   reduce_channel_seq: the same with one invocation per channel summing in order, no barrier
//                  (picked by the host where barriers cost more than they give: see
//                  batchnorm.wgsl).
//   reduce_channel_seq_tex: the same reading the input, dense from offset 0, from a flat
//                  texture (Routing::reads: llvmpipe loads a storage buffer a lane at
//                  a time). Bindings: 1 out, 2 in (texture).
// Bindings: 0 params, 1 in, 2 out.

struct Params {
    outer: u32, r: u32, inner: u32, in_off: u32,
    scale: f32, n: u32, chunk: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@group(0) @binding(1) var<storage, read_write> out1: array<f32>;
@group(0) @binding(2) var src_t: texture_storage_2d<rgba32float, read>;

// #include flat

// The in-order entry's workgroup size (kernels::per_channel_launch).
const SEQ_WG: u32 = 64u;

// #include tree_sum

@compute @workgroup_size(256)
fn reduce_axis(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let o = wid.y * nwg.x + wid.x;
    if (o >= p.outer * p.inner) {
        return;
    }
    let base = p.in_off + (o / p.inner) * p.r * p.inner + o % p.inner;
    var acc = 0.0;
    for (var j = lid; j < p.r; j += 256u) {
        acc += src[base + j * p.inner];
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        out[o] = p.scale * total;
    }
}

@compute @workgroup_size(64)
fn reduce_axis_seq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let o = (wid.y * nwg.x + wid.x) * 64u + lid;
    if (o >= p.outer * p.inner) {
        return;
    }
    let base = p.in_off + (o / p.inner) * p.r * p.inner + o % p.inner;
    var acc = 0.0;
    for (var j = 0u; j < p.r; j += 1u) {
        acc += src[base + j * p.inner];
    }
    out[o] = p.scale * acc;
}

@compute @workgroup_size(256)
fn reduce_chunks(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    let g = wid.y * nwg.x + wid.x;
    let start = g * p.chunk;
    if (start >= p.n) {
        return;
    }
    let end = min(start + p.chunk, p.n);
    var acc = 0.0;
    for (var j = start + lid; j < end; j += 256u) {
        acc += src[p.in_off + j];
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        out[g] = p.scale * total;
    }
}

@compute @workgroup_size(SEQ_WG)
fn reduce_channel_seq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let c = (wid.y * nwg.x + wid.x) * SEQ_WG + lid;
    if (c >= p.r) {
        return;
    }
    var acc = 0.0;
    for (var o = 0u; o < p.outer; o += 1u) {
        let base = p.in_off + (o * p.r + c) * p.inner;
        for (var k = 0u; k < p.inner; k += 1u) {
            acc += src[base + k];
        }
    }
    out[c] = p.scale * acc;
}

@compute @workgroup_size(SEQ_WG)
fn reduce_channel_seq_tex(@builtin(workgroup_id) wid: vec3<u32>,
                          @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let c = (wid.y * nwg.x + wid.x) * SEQ_WG + lid;
    if (c >= p.r) {
        return;
    }
    var acc = 0.0;
    for (var o = 0u; o < p.outer; o += 1u) {
        let base = (o * p.r + c) * p.inner;
        if (p.inner % 4u == 0u) {
            // A channel's runs start on texels: a texel at a time.
            for (var t = base / 4u; t < (base + p.inner) / 4u; t += 1u) {
                let v = textureLoad(src_t, flat_at(t));
                acc += (v.x + v.y) + (v.z + v.w);
            }
        } else {
            for (var i = base; i < base + p.inner; i += 1u) {
                acc += textureLoad(src_t, flat_at(i / 4u))[i % 4u];
            }
        }
    }
    out1[c] = p.scale * acc;
}

@compute @workgroup_size(256)
fn reduce_channel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let c = wid.y * nwg.x + wid.x;
    if (c >= p.r) {
        return;
    }
    var acc = 0.0;
    for (var j = lid; j < p.outer * p.inner; j += 256u) {
        acc += src[p.in_off + ((j / p.inner) * p.r + c) * p.inner + j % p.inner];
    }
    let total = tree_sum(lid, acc);
    if (lid == 0u) {
        out[c] = p.scale * total;
    }
}
