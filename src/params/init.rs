//! Parameter initialisers, drawn on the host from the model's seeded generator in
//! registration order, so one seed reproduces one model bit for bit.

use rand::rngs::StdRng;
use rand::RngExt;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Zeros,
    Ones,
    /// N(0, std²) — the reference's N(0, 0.02).
    Normal {
        std: f32,
    },
    /// N(0, std²) redrawn until within 2·std (TensorFlow's truncated_normal).
    TruncatedNormal {
        std: f32,
    },
    /// U(−l, l) with l = √(6/(fan_in + fan_out)) (Glorot & Bengio 2010).
    GlorotUniform,
}

/// (fan_in, fan_out) of a weight: [out, in] for linear layers, [out, in, kh, kw] for
/// convolutions ([in, out, kh, kw] for transposed ones; the caller swaps).
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [o, i] => (*i, *o),
        [o, i, rest @ ..] => {
            let field: usize = rest.iter().product();
            (i * field, o * field)
        }
        [n] => (*n, *n),
        _ => (1, 1),
    }
}

/// One standard normal by Box–Muller (f64, so the draw does not depend on f32 rounding).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.random_range(0.0..1.0); // (0, 1]
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub fn draw(init: Init, n: usize, fans: (usize, usize), rng: &mut StdRng) -> Vec<f32> {
    match init {
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Normal { std } => (0..n)
            .map(|_| (standard_normal(rng) * std as f64) as f32)
            .collect(),
        Init::TruncatedNormal { std } => (0..n)
            .map(|_| loop {
                let z = standard_normal(rng);
                if z.abs() <= 2.0 {
                    break (z * std as f64) as f32;
                }
            })
            .collect(),
        Init::GlorotUniform => {
            let l = (6.0 / (fans.0 + fans.1).max(1) as f64).sqrt();
            (0..n).map(|_| rng.random_range(-l..l) as f32).collect()
        }
    }
}
