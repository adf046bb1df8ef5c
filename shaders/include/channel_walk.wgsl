// Walking the elements 4q .. 4q+3 of a dense [N, C, inner] tensor, four outputs per
// invocation: (position in its row, channel) of element 4q, with the only two divisions, and
// then of each next element. Callers pass their pipeline constants INNER and C, so the
// divisions are by constants.
// Spliced into a kernel file by a `// #include channel_walk` line (src/gpu/shaders.rs).

fn walk_start(q: u32, inner: u32, ch: u32) -> vec2<u32> {
    let row = 4u * q / inner;
    return vec2(4u * q - row * inner, row % ch);
}

fn walk_next(kc: vec2<u32>, inner: u32, ch: u32) -> vec2<u32> {
    let wrap = kc.x + 1u == inner;
    let next_c = select(kc.y + 1u, 0u, kc.y + 1u == ch);
    return vec2(select(kc.x + 1u, 0u, wrap), select(kc.y, next_c, wrap));
}
