//! Kernel uniforms and launch sizes, shared by every kernel's dispatch.

/// Dims a `dims` block holds (`array<vec4<u32>, 2>`); kernels allow fewer (`tensor::shape::MAX_DIMS`).
const BLOCK_DIMS: usize = 8;

/// Uniform parameters, packed as the WGSL structs declare them: 4-byte scalars in
/// order; `dims` starts on a 16-byte boundary as `array<vec4<u32>, 2>` does. A dispatch
/// refuses parameters longer than naga's layout of the kernel's struct.
#[derive(Default)]
pub(crate) struct Params(Vec<u32>);

impl Params {
    pub fn u(mut self, v: usize) -> Self {
        self.0
            .push(u32::try_from(v).expect("sizes are checked to fit u32 before dispatch"));
        self
    }
    pub fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }
    pub fn dims(mut self, d: &[usize]) -> Self {
        assert!(
            self.0.len().is_multiple_of(4) && d.len() <= BLOCK_DIMS,
            "misaligned dims block"
        );
        for i in 0..BLOCK_DIMS {
            self.0.push(d.get(i).copied().unwrap_or(1) as u32);
        }
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        bytemuck::cast_slice(&self.0).to_vec()
    }
}

/// Workgroups for `n` items at `per_group` items per workgroup, folded into 2-D.
pub(crate) fn groups_for(n: usize, per_group: usize) -> [u32; 3] {
    super::grid(n.div_ceil(per_group) as u32, 1)
}
