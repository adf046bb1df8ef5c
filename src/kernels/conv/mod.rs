//! Convolutions: `conv2d` (the routed entry points, forward and both gradients) and
//! `transpose` (conv_transpose2d, its adjoint, built on them); `geometry` holds the sizes and
//! checks they share, and the two paths sit beside it: `direct` (conv2d.wgsl's gathers) and
//! `gemm` (im2col/col2im around the matmul, or the im2col gathered inside it).

pub mod conv2d;
mod direct;
mod gemm;
mod geometry;
pub mod transpose;
