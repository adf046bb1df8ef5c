// The activation that ends a fused per-channel map, by `kind` (the including kernel's
// pipeline constant ACT, so each kind compiles to its own arm): 0 piecewise linear, x for
// x > 0 and slope·x otherwise (slope 1 is the identity, 0 ReLU); 1 the logistic sigmoid.
// act_grad is the derivative at the pre-activation x, so a fused backward recomputes it
// instead of reading a stored output.
// Spliced into a kernel file by a `// #include act` line (src/gpu/shaders.rs).

// #include sigmoid

fn act(kind: u32, x: f32, slope: f32) -> f32 {
    if (kind == 1u) {
        return sigmoid(x);
    }
    return select(slope * x, x, x > 0.0);
}

fn act_grad(kind: u32, x: f32, slope: f32) -> f32 {
    if (kind == 1u) {
        let s = sigmoid(x);
        return s * (1.0 - s);
    }
    return select(slope, 1.0, x > 0.0);
}
