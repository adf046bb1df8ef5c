//! Statistics of the device normal generator. Draw sizes and bounds: for n i.i.d. N(0, 1)
//! values the sample mean has standard error 1/√n, the sample variance √(2/n), and a sample
//! correlation of independent sequences 1/√n; each bound is 5 standard errors (a false
//! failure has probability below 1e-6), and the seeds are fixed so the test is repeatable.

use crate::common::gpu;
use vae_gpu::kernels::random::{self, RandomKey};
use vae_gpu::Tensor;

const N: usize = 1 << 20;

fn key(step: u64) -> RandomKey {
    RandomKey {
        seed: 2024,
        step,
        stream: 0,
    }
}

fn corr(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&v| v as f64).sum::<f64>() / n,
        b.iter().map(|&v| v as f64).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

#[test]
fn normal_moments_and_independence() {
    let (g, _turn) = gpu();
    let a = random::normal(&g, &[N], key(0)).unwrap().to_vec().unwrap();
    let n = N as f64;
    let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let kurt = a.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n / (var * var);
    assert!(mean.abs() < 5.0 / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "variance {var}");
    // Kurtosis 3 (sampling s.e. √(24/n)) tells a normal from a uniform or a sum of a few.
    assert!(
        (kurt - 3.0).abs() < 5.0 * (24.0 / n).sqrt(),
        "kurtosis {kurt}"
    );
    let lag1 = corr(&a[..N - 1], &a[1..]);
    assert!(
        lag1.abs() < 5.0 / n.sqrt(),
        "neighbouring elements correlate: {lag1}"
    );
    let next = random::normal(&g, &[N], key(1)).unwrap().to_vec().unwrap();
    let steps = corr(&a, &next);
    assert!(
        steps.abs() < 5.0 / n.sqrt(),
        "consecutive steps correlate: {steps}"
    );
    let other = random::normal(
        &g,
        &[N],
        RandomKey {
            stream: 1,
            ..key(0)
        },
    )
    .unwrap()
    .to_vec()
    .unwrap();
    let streams = corr(&a, &other);
    assert!(
        streams.abs() < 5.0 / n.sqrt(),
        "streams correlate: {streams}"
    );
    // Tails: P(|ε| > 3) = 0.0027; its count has s.e. √(n·p).
    let tail = a.iter().filter(|v| v.abs() > 3.0).count() as f64;
    let p = 0.002_699_8;
    assert!(
        (tail - n * p).abs() < 5.0 * (n * p).sqrt(),
        "tail count {tail}"
    );
}

#[test]
fn same_key_repeats_bit_exactly() {
    let (g, _turn) = gpu();
    let a = random::normal(&g, &[100_003], key(9))
        .unwrap()
        .to_vec()
        .unwrap();
    let b = random::normal(&g, &[100_003], key(9))
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    // The reparameterization draws the same ε as `normal` for the same key: z − μ = σ·ε.
    let mu = Tensor::zeros(&g, &[100_003]).unwrap();
    let sigma = Tensor::full(&g, &[100_003], 1.0).unwrap();
    let z = random::reparameterize(&mu, &sigma, key(9))
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(a.iter().zip(&z).all(|(x, y)| x.to_bits() == y.to_bits()));
    // A prefix of a longer draw is the shorter draw: ε depends on the element, not the launch.
    let c = random::normal(&g, &[7], key(9)).unwrap().to_vec().unwrap();
    assert_eq!(&a[..7], &c[..]);
}
