//! GECO's multiplier on the device: λ and the constraint's moving average C_ma are named state
//! of the model's `ParamStore` (so checkpoints carry them and a resumed run continues bit for
//! bit), updated by `kernels::geco` inside the step — C_ma before the loss is formed, λ after
//! the backward pass — with nothing read back.

use super::objective::Geco;
use crate::autograd::{Tape, Var};
use crate::error::Result;
use crate::kernels::geco::{self, MultiplierRule};
use crate::nn::{ParamStore, ParamsBuilder, StateId};
use crate::tensor::Tensor;

pub struct GecoState {
    pub settings: Geco,
    lambda: StateId,
    c_ma: StateId,
}

impl GecoState {
    /// Registers λ (λ₀ = 1) and C_ma (set from the first batch) as `geco.lambda`, `geco.c_ma`.
    pub fn new(b: &mut ParamsBuilder, settings: Geco) -> GecoState {
        GecoState {
            settings,
            lambda: b.state("geco.lambda", &[1], 1.0),
            c_ma: b.state("geco.c_ma", &[1], 0.0),
        }
    }

    pub fn lambda<'s>(&self, s: &'s ParamStore) -> &'s Tensor {
        s.state(self.lambda)
    }

    pub fn c_ma<'s>(&self, s: &'s ParamStore) -> &'s Tensor {
        s.state(self.c_ma)
    }

    /// λ·C on the tape. In training (Algorithm 1) C_ma is first updated from this batch's C
    /// (set to it on `step` 0), and the term is λ·(C + stopgrad(C_ma − C)): its value is
    /// λ·C_ma, its gradient λ·∂C. Outside training, λ·C with no state touched.
    pub fn term(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        c: Var,
        step: u64,
        train: bool,
    ) -> Result<Var> {
        let (lambda, c_ma) = (self.lambda(s), self.c_ma(s));
        if !train {
            return t.scale_by(c, lambda);
        }
        let alpha = self.settings.alpha as f32;
        geco::average(t.value(c), c_ma, lambda, step == 0, alpha)?;
        let shape = t.value(c).shape().to_vec();
        let through = t.straight_through(c, &c_ma.reshape(&shape)?)?;
        t.scale_by(through, lambda)
    }

    /// After the backward pass of (0-based) `step`: λ ← λ·clamp(exp(η·C_ma), lo, hi) when the
    /// schedule says so (`Geco::updates_after`). `c` is this step's C (bound, not read).
    pub fn after_step(&self, s: &ParamStore, c: &Tensor, step: u64) -> Result<()> {
        if !self.settings.updates_after(step) {
            return Ok(());
        }
        let g = &self.settings;
        let rule = MultiplierRule {
            eta: g.lr as f32,
            lo: g.clamp[0] as f32,
            hi: g.clamp[1] as f32,
        };
        geco::multiplier(c, self.c_ma(s), self.lambda(s), rule)
    }

    /// (λ, C_ma) read back.
    pub fn read(&self, s: &ParamStore) -> Result<(f32, f32)> {
        Ok((self.lambda(s).to_vec()?[0], self.c_ma(s).to_vec()?[0]))
    }
}
