//! Shape arithmetic shared by the tensor type and the kernels.

use crate::error::{Error, Result};

/// Most dimensions a strided kernel indexes (the params carry 6 dims and strides).
pub const MAX_DIMS: usize = 6;

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// NumPy broadcasting of two shapes, aligned at the right.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(Error::shape(
                    op,
                    format!("shapes {a:?} and {b:?} do not broadcast (dim {i}: {da} vs {db})"),
                ))
            }
        };
    }
    Ok(out)
}

/// Strides that view a tensor of `shape`/`strides` as `target` (stride 0 on broadcast dims).
pub fn broadcast_strides(
    shape: &[usize],
    strides: &[usize],
    target: &[usize],
) -> Option<Vec<usize>> {
    if shape.len() > target.len() {
        return None;
    }
    let lead = target.len() - shape.len();
    let mut out = vec![0; target.len()];
    for i in 0..shape.len() {
        out[lead + i] = match (shape[i], target[lead + i]) {
            (x, y) if x == y => strides[i],
            (1, _) => 0,
            _ => return None,
        };
    }
    Some(out)
}

/// Merges adjacent dims that are contiguous with each other, so a strided view
/// of any rank usually fits into `MAX_DIMS` dims. Returns (shape, strides per operand).
pub fn coalesce(shape: &[usize], strides: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut sh: Vec<usize> = Vec::new();
    let mut st: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for i in 0..shape.len() {
        if shape[i] == 1 {
            continue;
        }
        let mergeable = !sh.is_empty()
            && strides
                .iter()
                .enumerate()
                .all(|(k, s)| st[k][st[k].len() - 1] == s[i] * shape[i]);
        if mergeable {
            let last = sh.len() - 1;
            sh[last] *= shape[i];
            for (k, s) in strides.iter().enumerate() {
                let l = st[k].len() - 1;
                st[k][l] = s[i];
            }
        } else {
            sh.push(shape[i]);
            for (k, s) in strides.iter().enumerate() {
                st[k].push(s[i]);
            }
        }
    }
    (sh, st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[3, 1, 5], &[4, 1]).unwrap(),
            vec![3, 4, 5]
        );
        assert_eq!(broadcast_shapes("t", &[], &[2]).unwrap(), vec![2]);
        let e = broadcast_shapes("add", &[3, 2], &[3])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("add") && e.contains("[3, 2]") && e.contains("[3]"),
            "{e}"
        );
    }

    #[test]
    fn coalesce_merges_contiguous_runs_only() {
        let (sh, st) = coalesce(&[2, 3, 4], &[&[12, 4, 1]]);
        assert_eq!((sh, st), (vec![24], vec![vec![1]]));
        // A transposed view cannot merge.
        let (sh, st) = coalesce(&[3, 2], &[&[1, 3]]);
        assert_eq!((sh, st), (vec![3, 2], vec![vec![1, 3]]));
        // Broadcast dim stays separate from a real one.
        let (sh, st) = coalesce(&[2, 3], &[&[0, 1], &[3, 1]]);
        assert_eq!((sh, st), (vec![2, 3], vec![vec![0, 1], vec![3, 1]]));
    }
}
