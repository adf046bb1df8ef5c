//! Singular-value spectra of latent sample matrices (Dai & Wipf, Figure 2): rows z ~ q(z)
//! (stage 1), u ~ q(u) (stage 2) and an i.i.d. N(0, I) matrix of the same size. An n×κ
//! standard-normal matrix has every singular value near √n; a stage-1 q(z) with superfluous
//! dimensions does not.

use nalgebra::DMatrix;

/// Singular values of the row-major n×k matrix `m`, largest first: the square roots of the
/// eigenvalues of the k×k Gram matrix MᵀM, accumulated in f64 (k is the latent size, so the
/// eigen-decomposition is tiny; the Gram sum is n·k²/2 multiply-adds).
pub fn singular_values(m: &[f32], k: usize) -> Vec<f64> {
    let mut gram = DMatrix::<f64>::zeros(k, k);
    for row in m.chunks_exact(k) {
        for i in 0..k {
            let ri = row[i] as f64;
            for j in i..k {
                gram[(i, j)] += ri * row[j] as f64;
            }
        }
    }
    for i in 0..k {
        for j in 0..i {
            gram[(i, j)] = gram[(j, i)];
        }
    }
    let mut s: Vec<f64> = gram
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .map(|&e| e.max(0.0).sqrt())
        .collect();
    s.sort_by(|a, b| b.total_cmp(a));
    s
}
