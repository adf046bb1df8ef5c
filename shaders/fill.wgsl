// fill: out[offset + i] = bits for i < n, written as raw u32 so any f32 bit
// pattern (including the NaN used to poison buffers in tests) lands exactly.
// fill4 writes four elements per invocation from the vec4 at `offset` (counted in vec4s): a
// storage store per lane costs llvmpipe a loop over the lanes, so a vec4 store fills several
// times faster there (BENCHMARKS.md, Zen 1: what one access costs), and no GPU loses by it.
// Bindings: 0 params (uniform), 1 out (u32 view of an f32 buffer; a vec4<u32> view for fill4).

struct Params { n: u32, offset: u32, bits: u32, pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<u32>>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i < p.n) {
        out[p.offset + i] = p.bits;
    }
}

@compute @workgroup_size(256)
fn fill4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let q = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (q < p.n) {
        out4[p.offset + q] = vec4(p.bits);
    }
}
