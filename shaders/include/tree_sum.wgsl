// tree_sum: the sum of one value per invocation of a 256-invocation workgroup, in a fixed
// order (deterministic). Every invocation must call it (it has barriers); every one gets
// the total. Safe to call twice in a row: the last barrier keeps the next call from
// overwriting partial[0] before everyone has read it.
// Spliced into a kernel file by a `// #include tree_sum` line (src/gpu/shaders.rs).

var<workgroup> partial: array<f32, 256>;

fn tree_sum(lid: u32, v: f32) -> f32 {
    partial[lid] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (lid < s) {
            partial[lid] += partial[lid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}
