//! Kernel tests on the adapter that `WGPU_BACKEND` / `WGPU_ADAPTER_NAME` select.
//! CI runs this binary once on lavapipe (Vulkan) and once on llvmpipe (GL).
//! There is no skip: without an adapter every GPU test fails and says how to get one.

mod autograd;
mod common;
mod conformance;
mod determinism;
mod diagnostics;
mod end_to_end;
mod errors;
mod finite_differences;
mod geco;
mod layers;
mod pixelcnn;
mod random;
mod runtime;
mod shaders;
