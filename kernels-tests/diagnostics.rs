//! `vae-gpu eval`'s diagnostics on inputs whose answer is known, and the pieces of the
//! two-stage data flow below the command line (stores that cannot be mixed, resampled
//! latents, inference without a tape).

use crate::common::gpu;
use vae_gpu::eval::frechet::{frechet_distance, Gaussian};
use vae_gpu::eval::{active, information, likelihood, mmd, spectrum};
use vae_gpu::kernels::mmd::{mmd as mmd_kernel, MmdConfig, MmdKernel};
use vae_gpu::kernels::random::{self, RandomKey};
use vae_gpu::tensor::Tensor;

fn normals(seed: u64, n: usize) -> Vec<f32> {
    let key = RandomKey {
        seed,
        step: 0,
        stream: 99,
    };
    random::reference::normals(key, n)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// 3 of 10 dimensions carry information (σ = 0.05, σ² = 0.0025), 7 are collapsed onto the
/// prior (σ ≈ 1 with ±10 % spread): 3 active, 7 superfluous, none undecided.
#[test]
fn the_active_count_matches_the_dimensions_built_active() {
    let (k, n) = (10, 500);
    let noise = normals(1, n * k);
    let sigma: Vec<f32> = (0..n * k)
        .map(|i| {
            if i % k < 3 {
                0.05
            } else {
                1.0 + 0.1 * noise[i].clamp(-1.0, 1.0)
            }
        })
        .collect();
    let ev = active::encoder_variances(&sigma, k);
    assert_eq!((ev.active, ev.superfluous, ev.undecided), (3, 7, 0));
    assert!((ev.mean_variance[0] - 0.0025).abs() < 1e-9);
    // Between 0.1 and 0.9 a dimension is undecided, and counted on its side of 0.5.
    for (var, active) in [(0.7f32, 0), (0.3, 1)] {
        let ev = active::encoder_variances(&[var.sqrt(); 4], 1);
        assert_eq!((ev.active, ev.undecided), (active, 1), "σ² = {var}");
    }
}

/// An i.i.d. N(0, 1) matrix of n × k has singular values within √n·(1 ± √(k/n)) asymptotically
/// (Marchenko–Pastur edges); at n = 20000, k = 8 that is 1 ± 0.02 after dividing by √n, so
/// ±0.05 leaves room for the finite-n fluctuation. A matrix with known singular values
/// (orthogonal columns scaled by 3, 2, 0) gives exactly those.
#[test]
fn the_spectrum_of_a_gaussian_matrix_is_flat_and_known_spectra_are_exact() {
    let (n, k) = (20_000, 8);
    let m = normals(2, n * k);
    let s = spectrum::singular_values(&m, k);
    assert_eq!(s.len(), k);
    for v in &s {
        let scaled = v / (n as f64).sqrt();
        assert!((scaled - 1.0).abs() < 0.05, "{scaled} in {s:?}");
    }
    assert!(s.windows(2).all(|w| w[0] >= w[1]), "largest first: {s:?}");
    // Rows e1·3, e2·2 (and zero third column): singular values 3, 2, 0.
    let m = [3.0f32, 0.0, 0.0, 0.0, 2.0, 0.0];
    let s = spectrum::singular_values(&m, 3);
    let want = [3.0, 2.0, 0.0];
    for (a, b) in s.iter().zip(want) {
        assert!((a - b).abs() < 1e-6, "{s:?}");
    }
}

#[test]
fn frechet_distances_of_known_gaussians() {
    use nalgebra::{DMatrix, DVector};
    let g = |mean: Vec<f64>, cov: Vec<f64>| Gaussian {
        mean: DVector::from_vec(mean.clone()),
        cov: DMatrix::from_row_slice(mean.len(), mean.len(), &cov),
    };
    // Identical Gaussians: 0.
    let a = g(vec![1.0, -2.0], vec![2.0, 0.5, 0.5, 1.0]);
    assert!(frechet_distance(&a, &a).abs() < 1e-9);
    // 1-d N(0, 1) against N(3, 4): 3² + 1 + 4 − 2·√4 = 10.
    let d = frechet_distance(&g(vec![0.0], vec![1.0]), &g(vec![3.0], vec![4.0]));
    assert!((d - 10.0).abs() < 1e-9, "{d}");
    // Commuting covariances diag(1, 4) and diag(9, 1): (1−3)² + (2−1)² = 5 in the trace term.
    let d = frechet_distance(
        &g(vec![0.0, 0.0], vec![1.0, 0.0, 0.0, 4.0]),
        &g(vec![0.0, 1.0], vec![9.0, 0.0, 0.0, 1.0]),
    );
    assert!((d - 6.0).abs() < 1e-9, "{d}");
    // Fitting: two points ±1 in one coordinate have mean 0 and (n − 1)-variance 2.
    let fit = Gaussian::fit(&[1.0, 5.0, -1.0, 5.0], 2);
    assert!((fit.mean[0]).abs() < 1e-12 && (fit.mean[1] - 5.0).abs() < 1e-12);
    assert!((fit.cov[(0, 0)] - 2.0).abs() < 1e-12 && fit.cov[(1, 1)].abs() < 1e-12);
}

/// The (biased) MMD of a set with itself is 0 up to rounding; the unbiased MMD between
/// N(0, I) draws and fresh N(0, I) draws is 0 within its sampling error (≈ 1/n for the
/// U-statistic, so 0.01 at n = 1000 is several standard errors), and a shift by 2 in every
/// coordinate is far outside it.
#[test]
fn mmd_is_zero_for_the_same_distribution_and_large_for_another() {
    let (gpu, _turn) = gpu();
    let (n, k) = (1000, 8);
    let x = Tensor::from_slice(&gpu, &normals(3, n * k), &[n, k]).unwrap();
    let biased = MmdConfig {
        kernel: MmdKernel::InverseMultiquadric { c: 2.0 * k as f32 },
        unbiased: false,
    };
    let same = mmd_kernel(&x, &x, biased).unwrap().to_vec().unwrap()[0];
    assert!(same.abs() < 1e-5, "{same}");
    let null = mmd::mmd_to_standard_normal(&x, 7).unwrap();
    assert!(null.abs() < 0.01, "{null}");
    let floor = mmd::null_level(&x, 7).unwrap();
    assert!(floor.abs() < 0.01 && floor != null, "{floor}");
    let shifted: Vec<f32> = normals(4, n * k).into_iter().map(|v| v + 2.0).collect();
    let y = Tensor::from_slice(&gpu, &shifted, &[n, k]).unwrap();
    let far = mmd::mmd_to_standard_normal(&y, 7).unwrap();
    assert!(far > 0.1, "{far}");
}

/// A 1-d linear Gaussian model with its exact posterior: z ~ N(0, 1), x | z ~ N(z, γ²), so
/// p(x) = N(x; 0, 1 + γ²) and q(z | x) = N(x/(1 + γ²), γ²/(1 + γ²)). Every importance weight
/// then equals p(x) exactly, so the IWAE estimate is exact for any k and any ε.
#[test]
fn the_importance_sampled_likelihood_is_exact_with_the_true_posterior() {
    let gamma: f64 = 0.3;
    let v = 1.0 + gamma * gamma;
    for &x in &[-1.2f64, 0.0, 0.7, 2.5] {
        let post_mu = x / v;
        let post_sigma = (gamma * gamma / v).sqrt();
        let w: Vec<f64> = normals(5, 16)
            .into_iter()
            .map(|e| {
                let z = post_mu + post_sigma * e as f64;
                likelihood::log_p_x_given_z(
                    likelihood::Decoder::Gaussian { gamma },
                    &[x as f32],
                    &[z as f32],
                ) + likelihood::log_prior_over_posterior(&[z], &[e as f64], &[post_sigma as f32])
            })
            .collect();
        let exact = -0.5 * x * x / v - 0.5 * (2.0 * std::f64::consts::PI * v).ln();
        let est = likelihood::log_mean_exp(&w);
        // f32 inputs to the density: 1e-5 relative.
        assert!(
            (est - exact).abs() < 1e-5 * exact.abs().max(1.0),
            "{est} vs {exact}"
        );
    }
    // A uniform density on [0, 1]^D (NLL 0) is 8 bits per 8-bit pixel.
    assert!((likelihood::bits_per_dim(0.0, 784) - 8.0).abs() < 1e-12);
    assert!((likelihood::log_mean_exp(&[0.0, (3.0f64).ln()]) - 2f64.ln()).abs() < 1e-12);
}

/// An autoregressive decoder's log p(x | z) from its logits [K, pixels]: uniform logits give
/// −D·log K whatever x is; logits (0, ln 3) give the classes 1/4 and 3/4.
#[test]
fn the_categorical_log_likelihood_of_known_logits() {
    let x = [0.0f32, 1.0, 0.5, 0.2];
    let uniform = vec![0.7f32; 256 * 4];
    let exact = -4.0 * 256f64.ln();
    assert!((likelihood::log_p_categorical(&uniform, &x, 256) - exact).abs() < 1e-9);
    // Two classes: pixel values 0 and 1 name classes 0 and 1 (round(v·1)).
    let logits = [0.0f32, 0.0, 3f32.ln(), 3f32.ln()];
    let got = likelihood::log_p_categorical(&logits, &[0.0, 1.0], 2);
    // ln 3 rounded to f32: 1e-7 relative.
    assert!((got - (0.25f64.ln() + 0.75f64.ln())).abs() < 1e-6, "{got}");
}

/// The Laplacian energy: 0 for a flat or linear ramp image; a 0/1 checkerboard's interior
/// pixels each respond ±4, so 16; blurring the checkerboard lowers it.
#[test]
fn the_sharpness_of_known_images() {
    use vae_gpu::eval::sharpness::laplacian_energy;
    let side = 6;
    let flat = vec![0.3f32; side * side];
    let ramp: Vec<f32> = (0..side * side).map(|i| (i % side) as f32 * 0.1).collect();
    let board: Vec<f32> = (0..side * side)
        .map(|i| ((i / side + i % side) % 2) as f32)
        .collect();
    assert_eq!(laplacian_energy(&flat, side), 0.0);
    assert!(laplacian_energy(&ramp, side) < 1e-12);
    assert!((laplacian_energy(&board, side) - 16.0).abs() < 1e-12);
    // Two planes (a 2-channel image, or two images) average: (16 + 0)/2.
    let both: Vec<f32> = board.iter().chain(&flat).copied().collect();
    assert!((laplacian_energy(&both, side) - 8.0).abs() < 1e-12);
    let blurred: Vec<f32> = board.iter().map(|v| 0.25 + 0.5 * v).collect();
    assert!((laplacian_energy(&blurred, side) - 4.0).abs() < 1e-12);
}

/// Stage 2's batches: rows of (μ_z, σ_z) kept on the device, gathered in a seeded shuffle,
/// and a fresh z = μ + σ·ε every step. With N = batch every step holds all rows, so two
/// steps see the same rows in different orders and must still draw different ε.
#[test]
fn latent_batches_resample_z_every_step_from_the_stored_moments() {
    use vae_gpu::train::source::{BatchSource, LatentBatches};
    let (gpu, _turn) = gpu();
    let (n, k) = (6, 3);
    let mu: Vec<f32> = (0..n * k).map(|i| i as f32).collect();
    let sigma: Vec<f32> = (0..n * k).map(|i| 0.1 + 0.01 * i as f32).collect();
    let mut src = LatentBatches::new(
        Tensor::from_slice(&gpu, &mu, &[n, k]).unwrap(),
        Tensor::from_slice(&gpu, &sigma, &[n, k]).unwrap(),
        n,
        11,
        17,
    );
    assert_eq!((src.examples(), src.per_epoch()), (6, 1));
    let (mu, sigma) = (&mu, &sigma);
    let mut draws = Vec::new();
    for step in 0..2u64 {
        let (epoch, b) = src.batch(step).unwrap();
        assert_eq!(epoch, step as usize);
        assert!(b.targets.is_none());
        let z = b.x.to_vec().unwrap();
        // Which stored row each batch row is: μ's rows are distinct integers, |σε| < 1.
        let rows: Vec<usize> = (0..n)
            .map(|r| ((z[r * k] as f64).round() as usize) / k)
            .collect();
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (0..n).collect::<Vec<_>>(),
            "a permutation of the rows"
        );
        let gm: Vec<f64> = rows
            .iter()
            .flat_map(|&r| (0..k).map(move |j| mu[r * k + j] as f64))
            .collect();
        let gs: Vec<f64> = rows
            .iter()
            .flat_map(|&r| (0..k).map(move |j| sigma[r * k + j] as f64))
            .collect();
        let key = RandomKey {
            seed: 11,
            step,
            stream: 17,
        };
        let want = random::reference::reparameterize(&gm, &gs, key);
        for (a, b) in z.iter().zip(&want) {
            // μ + σ·ε with WGSL's cos/log accuracy on ε (≤ 4e-3 relative of σ·ε) and f32 rounding.
            assert!((*a as f64 - b).abs() < 1e-5 * b.abs() + 4e-3, "{a} vs {b}");
        }
        draws.push((rows, z));
    }
    // The same stored row in both steps got a different z: ε is resampled, not stored.
    let r0 = draws[0].0.iter().position(|&r| r == 0).unwrap();
    let r1 = draws[1].0.iter().position(|&r| r == 0).unwrap();
    assert_ne!(
        draws[0].1[r0 * k..(r0 + 1) * k],
        draws[1].1[r1 * k..(r1 + 1) * k]
    );
}

/// A parameter belongs to the store it was registered in: reading it through another store,
/// or sending its gradient to another store, is an error, and the error comes before any
/// gradient is written.
#[test]
fn parameters_of_two_stores_cannot_be_mixed_on_a_tape() {
    use vae_gpu::autograd::Tape;
    use vae_gpu::nn::{Init, ParamsBuilder};
    let (gpu, _turn) = gpu();
    let mut ba = ParamsBuilder::new(1);
    let wa = ba.param("w", &[2, 2], Init::Normal { std: 1.0 });
    let a = ba.build(&gpu).unwrap();
    let mut bb = ParamsBuilder::new(1);
    let wb = bb.param("w", &[2, 2], Init::Normal { std: 1.0 });
    let b = bb.build(&gpu).unwrap();
    assert!(a.owns(wa) && !a.owns(wb));
    let mut t = Tape::new(&gpu);
    let e = t.param(&a, wb).unwrap_err().to_string();
    assert!(e.contains("another model's store"), "{e}");
    // Recorded with its own store, then backward into the other: refused, b's gradient untouched.
    let mut t = Tape::new(&gpu);
    let w = t.param(&b, wb).unwrap();
    let s = t.sum(w, false).unwrap();
    a.zero_grad();
    let e = t.backward(s, &a).unwrap_err().to_string();
    assert!(e.contains("another store"), "{e}");
    assert_eq!(
        a.flat_grads().unwrap().to_vec().unwrap(),
        vec![0.0; a.flat_grads().unwrap().numel()]
    );
    // An inference tape records parameters as constants: no backward.
    let mut t = Tape::inference(&gpu);
    let w = t.param(&a, wa).unwrap();
    assert!(!t.needs_grad(w));
    let s = t.sum(w, false).unwrap();
    let e = t.backward(s, &a).unwrap_err().to_string();
    assert!(e.contains("inference tape"), "{e}");
}

/// What a checkpoint checks before it is written: every parameter and state tensor finite,
/// with the first bad one named.
#[test]
fn non_finite_parameters_are_found_and_named() {
    use vae_gpu::nn::{Init, ParamsBuilder};
    let (gpu, _turn) = gpu();
    let mut b = ParamsBuilder::new(3);
    b.param("encoder.w", &[3, 5], Init::Normal { std: 1.0 });
    let w = b.param("decoder.w", &[4], Init::Normal { std: 1.0 });
    b.state("bn.running_var", &[2], 1.0);
    let s = b.build(&gpu).unwrap();
    s.check_values_finite().unwrap();
    s.set_value(w, &[0.0, f32::NAN, 1.0, 2.0]).unwrap();
    let e = s.check_values_finite().unwrap_err().to_string();
    assert!(e.contains("decoder.w") && e.contains("element 1"), "{e}");
    s.set_value(w, &[0.0; 4]).unwrap();
    s.set_state("bn.running_var", &[f32::INFINITY, 0.0])
        .unwrap();
    let e = s.check_values_finite().unwrap_err().to_string();
    assert!(e.contains("bn.running_var"), "{e}");
}

/// Î(x; z) at its two ends: an encoder that ignores x (every posterior the same) carries
/// nothing, Î = 0 exactly; distinct point masses (σ = 1e-4, means 1 apart) are told apart
/// perfectly and Î reaches its ceiling log M. The identity mean KL = Î + marginal KL holds
/// in both. f64 on the host, so the tolerances are rounding of sums of M·κ terms.
#[test]
fn mutual_information_is_zero_when_x_is_ignored_and_log_m_for_point_masses() {
    let (m, k) = (200, 3);
    let mu_same: Vec<f32> = (0..m).flat_map(|_| [0.3f32, -1.0, 2.0]).collect();
    let sigma_same: Vec<f32> = (0..m).flat_map(|_| [0.5f32, 1.0, 2.0]).collect();
    let eps = normals(7, m * k);
    let z: Vec<f32> = (0..m * k)
        .map(|i| mu_same[i] + sigma_same[i] * eps[i])
        .collect();
    let none = information::information(&mu_same, &sigma_same, &z, k);
    assert!(none.mutual_information.abs() < 1e-12, "{none:?}");
    assert!((none.upper_bound - (m as f64).ln()).abs() < 1e-12);
    assert!((none.mean_kl - none.mutual_information - none.marginal_kl).abs() < 1e-9);

    let mu_points: Vec<f32> = (0..m * k)
        .map(|i| (i / k) as f32 + (i % k) as f32)
        .collect();
    let sigma_points = vec![1e-4f32; m * k];
    let z: Vec<f32> = (0..m * k)
        .map(|i| mu_points[i] + sigma_points[i] * eps[i])
        .collect();
    let all = information::information(&mu_points, &sigma_points, &z, k);
    assert!(
        (all.mutual_information - (m as f64).ln()).abs() < 1e-9,
        "{all:?}"
    );
    assert!((all.mean_kl - all.mutual_information - all.marginal_kl).abs() < 1e-6);
}

/// The marginal KL of an aggregate posterior known in closed form: every q(z | x) = N(c, I)
/// makes q(z) = N(c, I), KL(q(z) ‖ N(0, I)) = ‖c‖²/2 = 2.5 for c = (1, −1, 1, −1, 1); with
/// every posterior N(0, I) it is 0 exactly. One z per image, M = 4000: the estimate's
/// standard error is √(Var[c·z − ‖c‖²/2]/M) = ‖c‖/√M ≈ 0.035, so 0.15 is over 4 errors.
/// (The mixture of identical posteriors is exact here: Î = 0 and marginal KL = mean KL.)
#[test]
fn the_marginal_kl_of_known_aggregate_posteriors() {
    let (m, k) = (4000, 5);
    let c = [1.0f32, -1.0, 1.0, -1.0, 1.0];
    let mu: Vec<f32> = (0..m).flat_map(|_| c).collect();
    let sigma = vec![1.0f32; m * k];
    let eps = normals(8, m * k);
    let z: Vec<f32> = (0..m * k).map(|i| mu[i] + eps[i]).collect();
    let shifted = information::information(&mu, &sigma, &z, k);
    assert!((shifted.marginal_kl - 2.5).abs() < 0.15, "{shifted:?}");
    let zero = information::information(&vec![0.0; m * k], &sigma, &eps, k);
    assert!(zero.marginal_kl.abs() < 1e-12, "{zero:?}");
}

/// The γ-independent NLL: σ*² is the training MSE, and with the test MSE equal to it the
/// NLL per value is ½·log(2π·MSE) + ½ (here MSE 0.01: −1.3836…); σ* is the minimiser, so
/// any other σ gives a larger NLL on the same reconstructions.
#[test]
fn the_gamma_free_nll_uses_the_optimal_global_sigma() {
    let nll = likelihood::gamma_free_nll(0.01, 0.01, 784);
    let want = 0.5 * (2.0 * std::f64::consts::PI * 0.01f64).ln() + 0.5;
    assert!((nll.nats_per_value - want).abs() < 1e-12, "{nll:?}");
    assert!((nll.sigma - 0.1).abs() < 1e-12);
    assert!((nll.nats_per_image - 784.0 * want).abs() < 1e-9);
    let at = |s: f64| 0.5 * (2.0 * std::f64::consts::PI * s * s).ln() + 0.01 / (2.0 * s * s);
    for s in [0.05, 0.09, 0.11, 0.2] {
        assert!(at(s) > nll.nats_per_value, "σ = {s} beats σ*");
    }
}
