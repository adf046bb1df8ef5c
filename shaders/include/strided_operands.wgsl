// The parameters and bindings of the strided matmul kernels (matmul, matmul_tiled,
// matmul_tiled128): a(m, k) = A[a_off + b*a_bs + m*a_rs + k*a_cs], likewise b(k, n), and C
// dense [batch, M, N] at c_bs per batch. Spliced in by a `// #include strided_operands` line.

struct Params {
    m: u32, n: u32, k: u32, c_bs: u32,
    a_off: u32, a_bs: u32, a_rs: u32, a_cs: u32,
    b_off: u32, b_bs: u32, b_rs: u32, b_cs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
