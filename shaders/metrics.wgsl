// metrics: training metrics accumulated on the device, read back only every N steps.
//   add_scalar: acc[dst] += a[src]; when `check` is set and the value is NaN or ±Inf and no
//               step has been flagged yet, flag[0] = step_plus_one (the first bad step).
// Non-finite is tested on the bits (exponent all ones), not with x != x, which a compiler
// assuming finite math may fold away.
// Bindings: 1 a (read), 2 acc (read_write), 3 flag (read_write, u32).

struct Params {
    src: u32, dst: u32, step_plus_one: u32, check: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
@group(0) @binding(3) var<storage, read_write> flag: array<u32>;

@compute @workgroup_size(1)
fn add_scalar() {
    let v = a[p.src];
    acc[p.dst] = acc[p.dst] + v;
    let nonfinite = (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
    if (p.check != 0u && nonfinite && flag[0] == 0u) {
        flag[0] = p.step_plus_one;
    }
}
