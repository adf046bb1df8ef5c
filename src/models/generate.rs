//! Inference: forward passes on an inference tape (nothing recorded for backward, batch norm
//! in eval mode), in batches of a chosen size, never the whole dataset as one batch.
//! Encoding a dataset, decoding latents already on the device, samples from the prior and
//! reconstructions.

use super::Vae;
use crate::autograd::Tape;
use crate::error::{Error, Result};
use crate::kernels::random::{self, RandomKey};
use crate::kernels::scatter;
use crate::nn::ParamStore;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Random streams: training draws ε from stream 0; sampling never touches it.
pub const STREAM_Z: u32 = 1;
pub const STREAM_NOISE: u32 = 2;
/// The Markov chain's z ~ q(z | x) draws.
const STREAM_CHAIN: u32 = 5;

fn check_batch(batch: usize) -> Result<()> {
    if batch == 0 {
        return Err(Error::flag("--eval-batch", "must be at least 1"));
    }
    Ok(())
}

/// (μ_z, σ_z), each [n, κ] on the device, of `n` examples that `load(start, len)` uploads
/// `batch` at a time.
pub fn encode_batches(
    vae: &Vae,
    s: &ParamStore,
    n: usize,
    batch: usize,
    mut load: impl FnMut(usize, usize) -> Result<Tensor>,
) -> Result<(Tensor, Tensor)> {
    check_batch(batch)?;
    let k = vae.net.latent();
    let mu = Tensor::empty(s.gpu(), &[n, k])?;
    let sigma = Tensor::empty(s.gpu(), &[n, k])?;
    for start in (0..n).step_by(batch) {
        let len = batch.min(n - start);
        let mut t = Tape::inference(s.gpu());
        let x = t.constant(load(start, len)?)?;
        let (m, sg) = vae.net.encode(&mut t, s, x, false)?;
        scatter::write_rows(t.value(m), &mu, start)?;
        scatter::write_rows(t.value(sg), &sigma, start)?;
        // One batch in flight: the next upload waits for nothing, memory stays one batch's.
        s.gpu().flush_pipelined()?;
    }
    Ok((mu, sigma))
}

/// μ_x(z) [n, ..example] on the device for latents `z` [n, κ] already there, `batch` rows
/// at a time.
pub fn decode_batches(vae: &Vae, s: &ParamStore, z: &Tensor, batch: usize) -> Result<Tensor> {
    check_batch(batch)?;
    crate::kernels::expect_rank("decode", "latents", z, 2)?;
    let n = z.shape()[0];
    let example = vae.net.example_shape();
    let width: usize = example.iter().product();
    let out = Tensor::empty(s.gpu(), &[n, width])?;
    for start in (0..n).step_by(batch) {
        let len = batch.min(n - start);
        let mut t = Tape::inference(s.gpu());
        let zv = t.constant(z.narrow0(start, len)?)?;
        let x = vae.net.decode(&mut t, s, zv, false)?;
        scatter::write_rows(&t.value(x).reshape(&[len, width])?, &out, start)?;
        s.gpu().flush_pipelined()?;
    }
    let mut shape = vec![n];
    shape.extend(example);
    out.reshape(&shape)
}

/// A sequential decoder's image after each step for latents `z` [n, T·κ] on the device,
/// `batch` rows a pass: T lists of n images, or None for a one-step decoder.
pub fn decode_steps(
    vae: &Vae,
    s: &ParamStore,
    z: &Tensor,
    batch: usize,
) -> Result<Option<Vec<Vec<f32>>>> {
    check_batch(batch)?;
    crate::kernels::expect_rank("decode", "latents", z, 2)?;
    let n = z.shape()[0];
    let mut out: Option<Vec<Vec<f32>>> = None;
    for start in (0..n).step_by(batch) {
        let len = batch.min(n - start);
        let mut t = Tape::inference(s.gpu());
        let zv = t.constant(z.narrow0(start, len)?)?;
        let Some(steps) = vae.net.decode_steps(&mut t, s, zv, false)? else {
            return Ok(None);
        };
        let lists = out.get_or_insert_with(|| vec![Vec::new(); steps.len()]);
        for (list, x) in lists.iter_mut().zip(steps) {
            list.extend(t.value(x).to_vec()?);
        }
    }
    Ok(out)
}

/// Rows of the device's batch size when a caller has no reason to choose another.
pub const DEFAULT_BATCH: usize = 256;

/// z ~ N(0, I) [n, κ] drawn on the device (Philox keyed by `seed`, stream `STREAM_Z`).
pub fn prior(vae: &Vae, s: &ParamStore, n: usize, seed: u64) -> Result<Tensor> {
    let key = RandomKey {
        seed,
        step: 0,
        stream: STREAM_Z,
    };
    random::normal(s.gpu(), &[n, vae.net.latent()], key)
}

/// How decoder means become images (the thesis chapter, Section 5.3.3): the mean itself
/// (deterministic sampling, what most implementations show), a draw x ~ p(x | z) (ancestral),
/// or every pixel at the same quantile of its distribution, μ_x + α·σ_x.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Draw {
    Mean,
    Ancestral,
    Shifted(f32),
}

impl Draw {
    pub fn name(self) -> String {
        match self {
            Draw::Mean => "deterministic".into(),
            Draw::Ancestral => "ancestral".into(),
            Draw::Shifted(a) => format!("alpha{a}"),
        }
    }
}

/// Turns decoder means into images as `how` says. σ_x is γ for the Gaussian decoders (GECO's
/// γ = 1/√(2λ)) and √(μ(1 − μ)) per pixel for Bernoulli; an ancestral Gaussian draw is
/// μ_x + γ·ε, a Bernoulli one a coin per pixel. Shifted values are clamped to [0, 1] for
/// images (vectors are left as they are).
pub fn draw(vae: &Vae, s: &ParamStore, mu: &Tensor, seed: u64, how: Draw) -> Result<Vec<f32>> {
    let gamma = vae.gamma(s)?;
    let image = vae.net.example_shape().len() == 3;
    match (how, gamma) {
        (Draw::Mean, _) => mu.to_vec(),
        (Draw::Ancestral, None) => {
            let mut rng = StdRng::seed_from_u64(seed ^ STREAM_NOISE as u64);
            Ok(mu
                .to_vec()?
                .into_iter()
                .map(|p| (rng.random_range(0.0..1.0) < p) as u8 as f32)
                .collect())
        }
        (Draw::Ancestral, Some(gamma)) => {
            let key = RandomKey {
                seed,
                step: 0,
                stream: STREAM_NOISE,
            };
            let eps = random::normal(s.gpu(), mu.shape(), key)?.to_vec()?;
            Ok(mu
                .to_vec()?
                .iter()
                .zip(eps)
                .map(|(m, e)| m + gamma * e)
                .collect())
        }
        (Draw::Shifted(alpha), gamma) => Ok(mu
            .to_vec()?
            .into_iter()
            .map(|m| {
                let sd = gamma.unwrap_or_else(|| (m * (1.0 - m)).max(0.0).sqrt());
                let v = m + alpha * sd;
                if image {
                    v.clamp(0.0, 1.0)
                } else {
                    v
                }
            })
            .collect()),
    }
}

/// `n` images from z ~ N(0, I) (Philox keyed by `seed`), made from μ_x(z) as `how` says;
/// an autoregressive decoder draws them pixel by pixel (`autoregressive`).
pub fn sample(vae: &Vae, s: &ParamStore, n: usize, seed: u64, how: Draw) -> Result<Vec<f32>> {
    let z = prior(vae, s, n, seed)?;
    if vae.net.pixel_classes().is_some() {
        if let Draw::Shifted(_) = how {
            return Err(Error::flag(
                "--alpha",
                "an autoregressive decoder draws each pixel given the drawn pixels before it; there is no per-pixel σ_x to shift by",
            ));
        }
        let (drawn, means) = autoregressive(vae, s, &z, seed)?;
        return Ok(if how == Draw::Ancestral { drawn } else { means });
    }
    let mu = decode_batches(vae, s, &z, DEFAULT_BATCH)?;
    draw(vae, s, &mu, seed, how)
}

/// x ~ p(x | z) = Π_i p(x_i | x_<i, z) of an autoregressive decoder for latents `z` [n, κ]
/// on the device: one forward pass per pixel in raster order over the rows it depends on, each
/// followed by the draw of that pixel into x on the device (`random::categorical_pixel`, the
/// uniform of pixel i keyed by (`seed`, step i)), one submission per pixel and nothing read
/// back until the end. Returns the drawn images, and each pixel's expected value given the
/// drawn pixels before it (the reference code's display).
pub fn autoregressive(
    vae: &Vae,
    s: &ParamStore,
    z: &Tensor,
    seed: u64,
) -> Result<(Vec<f32>, Vec<f32>)> {
    crate::kernels::expect_rank("autoregressive sampling", "latents", z, 2)?;
    let n = z.shape()[0];
    let mut shape = vec![n];
    shape.extend(vae.net.example_shape());
    let pixels: usize = shape[2..].iter().product();
    let x = Tensor::zeros(s.gpu(), &shape)?;
    let mean = Tensor::zeros(s.gpu(), &shape)?;
    for pixel in 0..pixels {
        draw_pixel(vae, s, z, [&x, &mean], pixel, seed)?;
    }
    Ok((x.to_vec()?, mean.to_vec()?))
}

/// One step of `autoregressive`: the decoder's pass over the rows of the images `x` drawn so
/// far that pixel `pixel` depends on, and its draw into x (and its expected value into
/// `mean`), submitted.
pub fn draw_pixel(
    vae: &Vae,
    s: &ParamStore,
    z: &Tensor,
    [x, mean]: [&Tensor; 2],
    pixel: usize,
    seed: u64,
) -> Result<()> {
    let mut t = Tape::inference(s.gpu());
    let zv = t.constant(z.clone())?;
    // Only the rows the pixel depends on: its own, and the decoder's reach above it (all of
    // them where it does not say); the rows below never matter in raster order.
    let width = x.shape()[x.shape().len() - 1];
    let row = pixel / width;
    let first = vae.net.causal_rows().map_or(0, |r| row.saturating_sub(r));
    let window = x.narrow(2, first, row + 1 - first)?.contiguous()?;
    let xv = t.constant(window)?;
    let logits = vae.net.decode_pixels(&mut t, s, zv, xv, false)?;
    let key = RandomKey {
        seed,
        step: pixel as u64,
        stream: STREAM_NOISE,
    };
    random::categorical_pixel(
        t.value(logits),
        x,
        mean,
        (pixel - first * width, pixel),
        key,
    )?;
    s.gpu().flush_pipelined()
}

/// μ_x(μ_z(x)) for examples x [n, ..example]: the deterministic reconstruction. An
/// autoregressive decoder draws x ~ p(x | μ_z(x)) pixel by pixel instead (pixel noise keyed by
/// seed 0) and shows each pixel's expected value.
pub fn reconstruct(vae: &Vae, s: &ParamStore, x: &[f32]) -> Result<Vec<f32>> {
    let example = vae.net.example_shape();
    let width: usize = example.iter().product();
    let n = x.len() / width.max(1);
    let (mu, _) = encode_batches(vae, s, n, DEFAULT_BATCH, |start, len| {
        let mut shape = vec![len];
        shape.extend(&example);
        Tensor::from_slice(s.gpu(), &x[start * width..(start + len) * width], &shape)
    })?;
    if vae.net.pixel_classes().is_some() {
        return Ok(autoregressive(vae, s, &mu, 0)?.1);
    }
    decode_batches(vae, s, &mu, DEFAULT_BATCH)?.to_vec()
}

/// Zhao, Song & Ermon's Markov chain (Proposition 2): from uniform noise x_0 (seeded by
/// `seed`), `steps` alternations z_t ~ q(z | x_{t−1}), x_t ~ p(x | z_t), for `n` chains at
/// once. It samples p_data even where ancestral sampling from the prior fails (the
/// unregularised VAE). x_t is drawn as `how` says (an autoregressive decoder draws every
/// pixel and shows their expected values; `Draw::Mean` carries μ_x(z) on). Returns the chains'
/// images at step 0 (the noise) and every `every` steps, and at the last; each [n, ..example].
pub fn markov_chain(
    vae: &Vae,
    s: &ParamStore,
    n: usize,
    steps: usize,
    every: usize,
    seed: u64,
    how: Draw,
) -> Result<Vec<Vec<f32>>> {
    if steps == 0 {
        return Err(Error::flag("--markov-chain", "must be at least 1 step"));
    }
    if every == 0 {
        return Err(Error::flag("--every", "must be at least 1"));
    }
    let example = vae.net.example_shape();
    let width: usize = example.iter().product();
    let mut rng = StdRng::seed_from_u64(seed ^ STREAM_CHAIN as u64);
    let mut x: Vec<f32> = (0..n * width).map(|_| rng.random_range(0.0..1.0)).collect();
    let mut snapshots = vec![x.clone()];
    for t in 1..=steps {
        let state = x.clone();
        let (mu, sigma) = encode_batches(vae, s, n, DEFAULT_BATCH, |start, len| {
            let mut shape = vec![len];
            shape.extend(&example);
            Tensor::from_slice(
                s.gpu(),
                &state[start * width..(start + len) * width],
                &shape,
            )
        })?;
        let key = RandomKey {
            seed,
            step: t as u64,
            stream: STREAM_CHAIN,
        };
        let z = random::reparameterize(&mu, &sigma, key)?;
        let step_seed = seed.wrapping_add(t as u64);
        let shown = if vae.net.pixel_classes().is_some() {
            // The chain goes on from the drawn pixels; the grid shows their expectations.
            let (drawn, means) = autoregressive(vae, s, &z, step_seed)?;
            x = drawn;
            means
        } else {
            let mu_x = decode_batches(vae, s, &z, DEFAULT_BATCH)?;
            x = draw(vae, s, &mu_x, step_seed, how)?;
            x.clone()
        };
        if t % every == 0 || t == steps {
            snapshots.push(shown);
        }
    }
    Ok(snapshots)
}
