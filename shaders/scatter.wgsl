// scatter: writes into part of an existing tensor.
//   place:      dst viewed as [rows, width]: dst[r, col + j] = src[r, j] for j < src_width
//               (concatenation along features, and the backward of slicing features)
//   accumulate: dst[offset + i] += src[i] for i < n (gradients into the flat gradient buffer)
//   gather_rows: dst[r, j] = src[offset + rows[r]·width + j] for r·width + j < n (a batch
//               of stored latents picked by a shuffled index list)
//   accumulate_tex: accumulate four elements per invocation, reading src and dst from flat
//               textures (Routing::reads); offset and n count vec4s.
// Bindings: 1 src, 2 dst, 3 rows (gather_rows only); accumulate_tex: 1 dst (vec4 view),
// 2 src, 3 dst (textures).

struct Params {
    n: u32, offset: u32, src_width: u32, width: u32,
    col: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;

@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<f32>>;
@group(0) @binding(2) var src_t: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var dst_t: texture_storage_2d<rgba32float, read>;

// #include flat

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

@compute @workgroup_size(256)
fn place(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        let r = i / p.src_width;
        let j = i % p.src_width;
        dst[p.offset + r * p.width + p.col + j] = src[i];
    }
}

@compute @workgroup_size(256)
fn accumulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        dst[p.offset + i] += src[i];
    }
}

@compute @workgroup_size(256)
fn accumulate_tex(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let q = index(wid, nwg, lid);
    if (q < p.n) {
        dst4[p.offset + q] = textureLoad(dst_t, flat_at(q)) + textureLoad(src_t, flat_at(q));
    }
}

@compute @workgroup_size(256)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = index(wid, nwg, lid);
    if (i < p.n) {
        let r = i / p.width;
        let j = i % p.width;
        dst[i] = src[p.offset + rows[r] * p.width + j];
    }
}
