// flat textures: a stretch of a buffer copied into an rgba32float texture by
// Gpu::flat_texture, texel q (elements 4q .. 4q+3) at (q mod 4096, q / 4096). A power-of-two
// row lets the index split with a mask and a shift: llvmpipe has no vector integer division.
// Read as `textureLoad(t, flat_at(q))`: GLSL takes no image as a function argument.
// Spliced into a kernel file by a `// #include flat` line (src/gpu/shaders.rs).

fn flat_at(q: u32) -> vec2<i32> {
    return vec2(i32(q & 4095u), i32(q >> 12u));
}
