//! Batches in a seeded per-epoch order: epoch e is a Fisher–Yates shuffle drawn from a
//! generator seeded by (seed, e), and holds N / B batches (the remainder is dropped, as in
//! the reference). The order is a pure function of (seed, step), so a resumed run needs no
//! generator state beyond the step to continue exactly.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

pub struct Batches {
    n: usize,
    batch: usize,
    seed: u64,
    epoch: Option<(usize, Vec<usize>)>,
}

impl Batches {
    /// Needs n ≥ batch > 0 (the caller checks, with a message naming the flag).
    pub fn new(n: usize, batch: usize, seed: u64) -> Batches {
        assert!(batch > 0 && n >= batch);
        Batches {
            n,
            batch,
            seed,
            epoch: None,
        }
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    pub fn per_epoch(&self) -> usize {
        self.n / self.batch
    }

    /// The permutation of epoch `e`.
    pub fn order(&self, e: usize) -> Vec<usize> {
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ (e as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut p: Vec<usize> = (0..self.n).collect();
        for i in (1..self.n).rev() {
            let j = rng.random_range(0..=i);
            p.swap(i, j);
        }
        p
    }

    /// (epoch, indices) of global step `step` (0-based).
    pub fn at(&mut self, step: usize) -> (usize, &[usize]) {
        let (e, k) = (step / self.per_epoch(), step % self.per_epoch());
        if self.epoch.as_ref().is_none_or(|(have, _)| *have != e) {
            self.epoch = Some((e, self.order(e)));
        }
        let order = &self.epoch.as_ref().unwrap().1;
        (e, &order[k * self.batch..(k + 1) * self.batch])
    }
}
