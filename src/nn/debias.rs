//! Eval-mode batch norm after a short run: running averages start at (mean 0, var 1) and
//! move by 1 − momentum per step. With the reference's momentum 0.999 they are still
//! two-thirds their initial value after 400 steps, which makes eval-mode encodings collapse.
//! Dividing out the start, as Adam debiases its moments — mean/(1 − mᵗ) and
//! (var − mᵗ)/(1 − mᵗ) — is exact for any t and tends to the stored values once
//! t ≫ 1/(1 − m). Checkpoints always hold the stored values.

use super::ParamStore;
use crate::error::Result;

/// Runs `f` with every `*.running_mean` / `*.running_var` state of `store` debiased for
/// `steps` updates of `momentum`, then puts the stored values back.
pub fn with_debiased_bn<T>(
    store: &ParamStore,
    momentum: f32,
    steps: u64,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let running = |n: &str| n.ends_with("running_mean") || n.ends_with("running_var");
    if steps == 0 || !store.states().any(|(n, _)| running(n)) {
        return f();
    }
    let mt = (momentum as f64).powf(steps as f64);
    let saved: Vec<(String, Vec<f32>)> = store
        .states()
        .filter(|(n, _)| running(n))
        .map(|(n, t)| Ok((n.to_string(), t.to_vec()?)))
        .collect::<Result<_>>()?;
    for (name, v) in &saved {
        let start = if name.ends_with("running_var") {
            1.0
        } else {
            0.0
        };
        let d: Vec<f32> = v
            .iter()
            .map(|x| ((*x as f64 - start * mt) / (1.0 - mt)) as f32)
            .collect();
        store.set_state(name, &d)?;
    }
    let out = f();
    for (name, v) in &saved {
        store.set_state(name, v)?;
    }
    out
}
