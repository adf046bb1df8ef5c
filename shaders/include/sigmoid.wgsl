// sigmoid: 1/(1 + e^−x) without overflow for large |x| (exp only of a non-positive value).
// Spliced into a kernel file by a `// #include sigmoid` line (src/gpu/shaders.rs).

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}
