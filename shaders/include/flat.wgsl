// flat textures: a stretch of a buffer copied into an rgba32float texture by
// Gpu::flat_texture, texel q (elements 4q .. 4q+3) at (q mod 4096, q / 4096). A power-of-two
// row lets the index split with a mask and a shift: llvmpipe has no vector integer division.
// Spliced into a kernel file by a `// #include flat` line (src/gpu/shaders.rs).

fn flat_texel(t: texture_2d<f32>, q: u32) -> vec4<f32> {
    return textureLoad(t, vec2(i32(q & 4095u), i32(q >> 12u)), 0);
}
