//! `shapes`: a synthetic dataset generated in code, for runs with no download and as ground
//! truth for the r < d analysis of Dai & Wipf. Each image is one anti-aliased filled ellipse
//! (axes a and a/2) drawn from four continuous factors, each uniform and independent:
//! centre x, centre y ∈ [0.3, 0.7]·side, semi-major axis a ∈ [0.12, 0.25]·side and rotation
//! θ ∈ [0, π). The pixel intensity is a continuous function of the factors (a one-pixel linear
//! edge ramp), so the images lie on a manifold of dimension exactly `MANIFOLD_DIM` = 4 in a
//! space of side² dimensions (up to 8-bit rounding).

use super::{Dataset, Split};
use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// r, the number of continuous factors, i.e. the data manifold's dimension.
pub const MANIFOLD_DIM: usize = 4;
pub const DEFAULT_SIDE: usize = 32;
pub const TRAIN_IMAGES: usize = 16384;
pub const TEST_IMAGES: usize = 2048;

/// The factors of one image: (cx, cy, a, θ), in pixels and radians.
pub fn factors(rng: &mut StdRng, side: usize) -> [f64; 4] {
    let s = side as f64;
    [
        rng.random_range(0.3..0.7) * s,
        rng.random_range(0.3..0.7) * s,
        rng.random_range(0.12..0.25) * s,
        rng.random_range(0.0..std::f64::consts::PI),
    ]
}

/// Renders one image (side × side, one channel).
pub fn render(f: [f64; 4], side: usize) -> Vec<u8> {
    let [cx, cy, a, theta] = f;
    let b = a / 2.0;
    let (sin, cos) = theta.sin_cos();
    let mut out = Vec::with_capacity(side * side);
    for y in 0..side {
        for x in 0..side {
            let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
            let (u, v) = (cos * dx + sin * dy, -sin * dx + cos * dy);
            // Approximate signed distance in pixels (exact along the minor axis).
            let d = (((u / a).powi(2) + (v / b).powi(2)).sqrt() - 1.0) * b;
            out.push(((0.5 - d).clamp(0.0, 1.0) * 255.0).round() as u8);
        }
    }
    out
}

pub fn generate(side: usize, split: Split) -> Result<Dataset> {
    if !(8..=256).contains(&side) {
        return Err(Error::flag(
            "--image-size",
            format!("shapes are rendered at 8..=256 pixels, not {side}"),
        ));
    }
    // A fixed seed per split: the dataset is the same in every run, whatever --seed is.
    let (seed, n) = match split {
        Split::Train => (0x5ba9e5, TRAIN_IMAGES),
        Split::Test => (0x7e57, TEST_IMAGES),
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(n * side * side);
    for _ in 0..n {
        pixels.extend(render(factors(&mut rng, side), side));
    }
    Ok(Dataset {
        source: "shapes".into(),
        channels: 1,
        side,
        pixels,
        labels: None,
    })
}
