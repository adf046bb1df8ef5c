//! mmd.wgsl: squared maximum mean discrepancy between two sample sets, with an RBF or an
//! inverse-multiquadric kernel, and its gradient with respect to both sets (the InfoVAE-style
//! regulariser trains through it at a batch; the diagnostics compare q(z) with N(0, I) with it
//! at up to a whole test split). Pairs are taken in blocks of pooled rows through the routed
//! matmul, so memory stays bounded and the cost is that of two products per pass.

use super::{binary, dense, expect_rank, fits_u32, groups_for, matmul, reduce, scatter, Params};
use crate::error::{Error, Result};
use crate::gpu::Dispatch;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MmdKernel {
    /// k = exp(−‖a − b‖²/c)
    Rbf { c: f32 },
    /// k = c/(c + ‖a − b‖²), heavier-tailed (Tolstikhin et al.'s WAE choice).
    InverseMultiquadric { c: f32 },
}

impl MmdKernel {
    /// c = 2·d, the scale that matches a unit-variance prior in d dimensions (WAE's default).
    pub fn rbf_for_dim(d: usize) -> Self {
        MmdKernel::Rbf { c: 2.0 * d as f32 }
    }
    pub fn imq_for_dim(d: usize) -> Self {
        MmdKernel::InverseMultiquadric { c: 2.0 * d as f32 }
    }
    fn code(self) -> (usize, f32) {
        match self {
            MmdKernel::Rbf { c } => (0, c),
            MmdKernel::InverseMultiquadric { c } => (1, c),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MmdConfig {
    pub kernel: MmdKernel,
    /// The U-statistic (no diagonal terms): unbiased, can be slightly negative.
    pub unbiased: bool,
}

fn check(
    op: &'static str,
    x: &Tensor,
    y: &Tensor,
    cfg: MmdConfig,
) -> Result<(usize, usize, usize)> {
    expect_rank(op, "X", x, 2)?;
    expect_rank(op, "Y", y, 2)?;
    let (n, d, m) = (x.shape()[0], x.shape()[1], y.shape()[0]);
    if y.shape()[1] != d {
        return Err(Error::shape(
            op,
            format!(
                "X {:?} and Y {:?} must have the same feature size",
                x.shape(),
                y.shape()
            ),
        ));
    }
    let min = if cfg.unbiased { 2 } else { 1 };
    if n < min || m < min || d == 0 {
        return Err(Error::shape(
            op,
            format!(
                "needs at least {min} samples of each set, got X {:?} and Y {:?}",
                x.shape(),
                y.shape()
            ),
        ));
    }
    let (_, c) = cfg.kernel.code();
    if !(c > 0.0 && c.is_finite()) {
        return Err(Error::shape(
            op,
            format!("kernel scale must be positive, got {c}"),
        ));
    }
    fits_u32(op, x)?;
    fits_u32(op, y)?;
    Ok((n, m, d))
}

/// Columns of one block at most: a product's B operand of this many rows still fits the
/// texture matmuls (wgpu's downlevel texture side is 8192), which llvmpipe runs several times
/// faster than the storage-buffer fallback (BENCHMARKS.md).
pub const BLOCK_COLS: usize = 8192;

/// Rows of one block: with BLOCK_COLS columns, 32 MiB of f32 per block, far below every
/// adapter's storage-binding limit (128 MiB by default) while its products are large enough
/// to run near the matmul's speed; a multiple of 4 (the vec4 matmuls' alignment).
pub const BLOCK_ROWS: usize = 1024;

/// Columns each invocation of mmd_block_sums adds up (SEG in mmd.wgsl).
const SEG: usize = 256;

/// The block of pooled rows r0 .. r0 + rows against columns c0 .. c0 + cols.
struct Block {
    r0: usize,
    rows: usize,
    c0: usize,
    cols: usize,
}

/// The blocks of the rows r0 .. r0 + rows against the columns from `first` on.
fn row_blocks(pooled: usize, r0: usize, first: usize) -> impl Iterator<Item = Block> {
    let rows = BLOCK_ROWS.min(pooled - r0);
    (first..pooled).step_by(BLOCK_COLS).map(move |c0| Block {
        r0,
        rows,
        c0,
        cols: BLOCK_COLS.min(pooled - c0),
    })
}

fn params(n: usize, m: usize, d: usize, cfg: MmdConfig, b: &Block) -> Vec<u8> {
    let (k, c) = cfg.kernel.code();
    Params::default()
        .u(n)
        .u(m)
        .u(d)
        .u(k)
        .f(c)
        .u(cfg.unbiased as usize)
        .u(b.r0)
        .u(b.rows)
        .u(b.c0)
        .u(b.cols)
        .u(b.cols.div_ceil(SEG))
        .u(0)
        .bytes()
}

/// The pooled rows Z = [X; Y] less their mean (distances do not change; the norms the Gram
/// form subtracts shrink, and with them its rounding error), and the squared norms s.
fn pooled(x: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor)> {
    let (n, m, d) = (x.shape()[0], y.shape()[0], x.shape()[1]);
    let z = Tensor::empty(x.gpu(), &[n + m, d])?;
    scatter::write_rows(x, &z, 0)?;
    scatter::write_rows(y, &z, n)?;
    let z = binary::sub(&z, &reduce::sum_axis(&z, 0, true)?)?;
    let s = reduce::sum_axis(&binary::mul(&z, &z)?, 1, false)?;
    Ok((z, s))
}

/// The block's Gram entries G = Z[r0 .. r0 + rows]·Z[c0 .. c0 + cols]ᵀ.
fn gram(z: &Tensor, b: &Block) -> Result<Tensor> {
    matmul::matmul(
        &z.narrow0(b.r0, b.rows)?,
        &z.narrow0(b.c0, b.cols)?,
        false,
        true,
    )
}

/// MMD²(X, Y) as a shape-[] tensor. The pairs (i, j ≥ i) are taken a block of rows at a
/// time (the rest mirror them): N²·d flops in the Gram products, N²/2 kernel evaluations.
pub fn mmd(x: &Tensor, y: &Tensor, cfg: MmdConfig) -> Result<Tensor> {
    const OP: &str = "mmd";
    let (n, m, d) = check(OP, x, y, cfg)?;
    let (z, s) = pooled(x, y)?;
    let pooled = n + m;
    let mut total: Option<Tensor> = None;
    for r0 in (0..pooled).step_by(BLOCK_ROWS) {
        for b in row_blocks(pooled, r0, r0) {
            let g = gram(&z, &b)?;
            let partials = Tensor::empty(x.gpu(), &[b.rows * b.cols.div_ceil(SEG)])?;
            x.gpu().dispatch(&Dispatch {
                shader: "mmd",
                entry: "mmd_block_sums",
                consts: &[],
                params: &params(n, m, d, cfg, &b),
                buffers: &[g.buffer(), s.buffer(), partials.buffer()],
                textures: &[],
                groups: groups_for(partials.numel(), 64),
            })?;
            let part = reduce::sum_all(&partials, false)?;
            total = Some(match total {
                None => part,
                Some(t) => binary::add(&t, &part)?,
            });
        }
    }
    Ok(total.expect("check requires at least one row"))
}

/// (dMMD²/dX, dMMD²/dY) scaled by the upstream gradient `g` (one value). Per block of pooled
/// rows: the slopes S (B × N), then dZ = R⊙Z − S·Z with R = Σ_j S_ij (2·N²·d more flops).
pub fn mmd_backward(
    g: &Tensor,
    x: &Tensor,
    y: &Tensor,
    cfg: MmdConfig,
) -> Result<(Tensor, Tensor)> {
    const OP: &str = "mmd_backward";
    let (n, m, d) = check(OP, x, y, cfg)?;
    if g.numel() != 1 {
        return Err(Error::shape(
            OP,
            format!("gradient must hold one value, got {:?}", g.shape()),
        ));
    }
    let g = dense(g)?;
    let (z, s) = pooled(x, y)?;
    let pooled = n + m;
    let dz = Tensor::empty(x.gpu(), &[pooled, d])?;
    for r0 in (0..pooled).step_by(BLOCK_ROWS) {
        // R = Σ_j S_ij and P = S·Z, summed over the row's column blocks.
        let mut sums: Option<(Tensor, Tensor)> = None;
        for b in row_blocks(pooled, r0, 0) {
            let slopes = gram(&z, &b)?;
            x.gpu().dispatch(&Dispatch {
                shader: "mmd",
                entry: "mmd_block_slopes",
                consts: &[],
                params: &params(n, m, d, cfg, &b),
                buffers: &[slopes.buffer(), s.buffer(), g.buffer()],
                textures: &[],
                groups: groups_for(slopes.numel(), 64),
            })?;
            let r = reduce::sum_axis(&slopes, 1, false)?;
            let sz = matmul::matmul(&slopes, &z.narrow0(b.c0, b.cols)?, false, false)?;
            sums = Some(match sums {
                None => (r, sz),
                Some((r_acc, sz_acc)) => (binary::add(&r_acc, &r)?, binary::add(&sz_acc, &sz)?),
            });
        }
        let (r, sz) = sums.expect("every row block has columns");
        let rows = BLOCK_ROWS.min(pooled - r0);
        let whole = Block {
            r0,
            rows,
            c0: 0,
            cols: pooled,
        };
        x.gpu().dispatch(&Dispatch {
            shader: "mmd",
            entry: "mmd_block_grad",
            consts: &[],
            params: &params(n, m, d, cfg, &whole),
            buffers: &[z.buffer(), r.buffer(), sz.buffer(), dz.buffer()],
            textures: &[],
            groups: groups_for(rows * d, 64),
        })?;
    }
    Ok((dense(&dz.narrow0(0, n)?)?, dense(&dz.narrow0(n, m)?)?))
}

/// The double sum written out in f64, with the magnitudes the GPU's rounding scales with.
pub mod reference {
    use super::{MmdConfig, MmdKernel};

    fn k(kernel: MmdKernel, r2: f64) -> f64 {
        match kernel {
            MmdKernel::Rbf { c } => (-r2 / c as f64).exp(),
            MmdKernel::InverseMultiquadric { c } => c as f64 / (c as f64 + r2),
        }
    }

    fn slope(kernel: MmdKernel, r2: f64) -> f64 {
        match kernel {
            MmdKernel::Rbf { c } => -(-r2 / c as f64).exp() / c as f64,
            MmdKernel::InverseMultiquadric { c } => -(c as f64) / (c as f64 + r2).powi(2),
        }
    }

    /// The weight of pair (i, j) of the pooled rows [X; Y] (n of X, m of Y).
    pub fn weight(i: usize, j: usize, n: usize, m: usize, unbiased: bool) -> f64 {
        let (xi, xj) = (i < n, j < n);
        let (n, m) = (n as f64, m as f64);
        match (xi, xj) {
            (true, false) | (false, true) => -1.0 / (n * m),
            _ if unbiased && i == j => 0.0,
            (true, true) if unbiased => 1.0 / (n * (n - 1.0)),
            (false, false) if unbiased => 1.0 / (m * (m - 1.0)),
            (true, true) => 1.0 / (n * n),
            (false, false) => 1.0 / (m * m),
        }
    }

    /// The pooled rows [X; Y] less their mean, as the GPU takes them (distances are the same).
    fn centred(x: &[f64], y: &[f64], d: usize) -> Vec<f64> {
        let rows = (x.len() + y.len()) / d;
        let mut mean = vec![0.0; d];
        for (e, v) in x.iter().chain(y).enumerate() {
            mean[e % d] += v / rows as f64;
        }
        x.iter()
            .chain(y)
            .enumerate()
            .map(|(e, v)| v - mean[e % d])
            .collect()
    }

    /// MMD² and the scales of its rounding error.
    #[derive(Clone, Copy, Debug)]
    pub struct Value {
        pub mmd: f64,
        /// Σ_ij |w_ij|·k_ij: the magnitude of the terms summed.
        pub magnitude: f64,
        /// max_ij of s_i + s_j + 2|z_i·z_j| over the centred rows (s = ‖z‖²): the scale of the
        /// rounding of a distance formed from a Gram entry, s_i + s_j − 2·z_i·z_j.
        pub gram: f64,
    }

    /// MMD² for each configuration at once: the d-long distances, the cost at 10,000 rows,
    /// are computed once for every pair (i < j) and shared, over the host's cores.
    pub fn mmd_many(x: &[f64], y: &[f64], d: usize, cfgs: &[MmdConfig]) -> Vec<Value> {
        let (n, m) = (x.len() / d, y.len() / d);
        let z = centred(x, y, d);
        let pooled = n + m;
        let norms: Vec<f64> = z.chunks(d).map(|r| r.iter().map(|v| v * v).sum()).collect();
        let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
        // Row i pairs with the N − i rows after it: deal rows out round-robin to balance.
        let parts: Vec<Vec<[f64; 2]>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (z, norms) = (&z, &norms);
                    scope.spawn(move || {
                        let mut acc = vec![[0.0f64; 2]; cfgs.len() + 1];
                        for i in (t..pooled).step_by(threads) {
                            let zi = &z[i * d..(i + 1) * d];
                            for j in i..pooled {
                                let zj = &z[j * d..(j + 1) * d];
                                let (mut r2, mut dot) = (0.0, 0.0);
                                for (a, b) in zi.iter().zip(zj) {
                                    r2 += (a - b) * (a - b);
                                    dot += a * b;
                                }
                                let twice = if i == j { 1.0 } else { 2.0 };
                                let g = norms[i] + norms[j] + 2.0 * f64::abs(dot);
                                acc[cfgs.len()][0] = acc[cfgs.len()][0].max(g);
                                for (c, cfg) in cfgs.iter().enumerate() {
                                    let t = twice
                                        * weight(i, j, n, m, cfg.unbiased)
                                        * k(cfg.kernel, r2);
                                    acc[c][0] += t;
                                    acc[c][1] += t.abs();
                                }
                            }
                        }
                        acc
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let gram = parts.iter().fold(0.0f64, |g, p| g.max(p[cfgs.len()][0]));
        (0..cfgs.len())
            .map(|c| Value {
                mmd: parts.iter().map(|p| p[c][0]).sum(),
                magnitude: parts.iter().map(|p| p[c][1]).sum(),
                gram,
            })
            .collect()
    }

    pub fn mmd(x: &[f64], y: &[f64], d: usize, cfg: MmdConfig) -> f64 {
        mmd_many(x, y, d, &[cfg])[0].mmd
    }

    /// dMMD²/dz for the chosen pooled rows of [X; Y], and per element the magnitude
    /// Σ_j |S_ij|·(|z_i| + |z_j|) of what the GPU sums (S_ij = 4·w_ij·k'(r²_ij), z centred,
    /// the GPU's form R_i·z_i − Σ_j S_ij·z_j): both [rows.len()·d].
    pub fn mmd_grad_rows(
        x: &[f64],
        y: &[f64],
        d: usize,
        cfg: MmdConfig,
        rows: &[usize],
    ) -> (Vec<f64>, Vec<f64>) {
        let (n, m) = (x.len() / d, y.len() / d);
        let z = centred(x, y, d);
        let mut g = vec![0.0; rows.len() * d];
        let mut s = vec![0.0; rows.len() * d];
        for (r, &i) in rows.iter().enumerate() {
            for j in 0..n + m {
                let r2: f64 = (0..d).map(|t| (z[i * d + t] - z[j * d + t]).powi(2)).sum();
                let f = 4.0 * weight(i, j, n, m, cfg.unbiased) * slope(cfg.kernel, r2);
                for t in 0..d {
                    g[r * d + t] += f * (z[i * d + t] - z[j * d + t]);
                    s[r * d + t] += f.abs() * (z[i * d + t].abs() + z[j * d + t].abs());
                }
            }
        }
        (g, s)
    }
}
