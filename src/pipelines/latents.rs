//! A run's latent space for other tools and for looking at: every image's posterior
//! (`vae-gpu encode`) and the decoded path between two images' codes (`vae-gpu interpolate`).
//! Stage 1's encoder and decoder, batch norm debiased as in `eval`.

use super::Run;
use crate::error::{Error, Result};
use crate::models::generate;
use crate::tensor::Tensor;

/// μ_z and σ_z [N, κ] of every image of the run's data, `batch` images a pass.
pub fn encode(run: &Run, steps1: u64, batch: usize) -> Result<(Vec<f32>, Vec<f32>)> {
    let s = &run.stage1;
    let (c, side) = (run.data.channels, run.data.side);
    let mut host = Vec::new();
    s.with_debiased_bn(steps1, || {
        let (mu, sigma) =
            generate::encode_batches(&s.vae, &s.store, run.data.len(), batch, |start, len| {
                run.data
                    .gather(&(start..start + len).collect::<Vec<_>>(), &mut host);
                Tensor::from_slice(s.store.gpu(), &host, &[len, c, side, side])
            })?;
        Ok((mu.to_vec()?, sigma.to_vec()?))
    })
}

/// Images `from` and `to` of the run's data with `between` decodings μ_x(z) between them:
/// z moves in a straight line from μ_z(from) to μ_z(to), ends included, so the row is
/// x_from, μ_x(z_0) … μ_x(z_between−1), x_to.
pub fn interpolate(
    run: &Run,
    steps1: u64,
    from: usize,
    to: usize,
    between: usize,
) -> Result<Vec<f32>> {
    let n = run.data.len();
    for (flag, i) in [("--from", from), ("--to", to)] {
        if i >= n {
            return Err(Error::flag(
                flag,
                format!("image {i} is past the {n} images of {}", run.data.source),
            ));
        }
    }
    if between < 2 {
        return Err(Error::flag("--steps", "must be at least 2 (the two ends)"));
    }
    let s = &run.stage1;
    let (c, side, d) = (run.data.channels, run.data.side, run.data.image_len());
    let mut ends = Vec::new();
    run.data.gather(&[from, to], &mut ends);
    let k = s.vae.net.latent();
    s.with_debiased_bn(steps1, || {
        let x = Tensor::from_slice(s.store.gpu(), &ends, &[2, c, side, side])?;
        let (mu, _) = generate::encode_batches(&s.vae, &s.store, 2, 2, |_, _| Ok(x.clone()))?;
        let mu = mu.to_vec()?;
        let z: Vec<f32> = (0..between)
            .flat_map(|t| {
                let a = t as f32 / (between - 1) as f32;
                (0..k)
                    .map(|l| (1.0 - a) * mu[l] + a * mu[k + l])
                    .collect::<Vec<_>>()
            })
            .collect();
        let zt = Tensor::from_slice(s.store.gpu(), &z, &[between, k])?;
        let decoded = generate::decode_batches(&s.vae, &s.store, &zt, between)?.to_vec()?;
        let mut row = ends[..d].to_vec();
        row.extend(decoded);
        row.extend(&ends[d..]);
        Ok(row)
    })
}
