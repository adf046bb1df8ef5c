//! Layers: each registers its parameters (and state) under `name.` in a `ParamsBuilder`
//! and records its forward pass on a `Tape`. Activations, concatenation and reshape are tape
//! ops (`Tape::relu`, `Tape::concat`, ...), having no parameters.

use crate::autograd::{Tape, Var};
use crate::error::Result;
use crate::kernels::batchnorm::BatchNormConfig;
use crate::kernels::conv2d::Conv2dConfig;
use crate::kernels::conv_transpose2d::ConvTranspose2dConfig;
use crate::nn::{Init, ParamId, ParamStore, ParamsBuilder, StateId};

/// op(x, W) + bias per channel: the shape of every layer with weights.
fn with_bias(
    t: &mut Tape,
    s: &ParamStore,
    x: Var,
    weight: ParamId,
    bias: ParamId,
    op: impl FnOnce(&mut Tape, Var, Var) -> Result<Var>,
) -> Result<Var> {
    let w = t.param(s, weight)?;
    let b = t.param(s, bias)?;
    let y = op(t, x, w)?;
    t.bias_add(y, b)
}

/// y = x·Wᵀ + b with W [out, in], x [N, in].
pub struct Linear {
    pub weight: ParamId,
    pub bias: ParamId,
}

impl Linear {
    pub fn new(
        b: &mut ParamsBuilder,
        name: &str,
        inputs: usize,
        outputs: usize,
        init: Init,
    ) -> Linear {
        Linear {
            weight: b.param(&format!("{name}.weight"), &[outputs, inputs], init),
            bias: b.param(&format!("{name}.bias"), &[outputs], Init::Zeros),
        }
    }

    pub fn forward(&self, t: &mut Tape, s: &ParamStore, x: Var) -> Result<Var> {
        with_bias(t, s, x, self.weight, self.bias, |t, x, w| {
            t.matmul(x, w, false, true)
        })
    }
}

/// Conv2d with bias: W [out, in, kh, kw].
pub struct Conv2d {
    pub weight: ParamId,
    pub bias: ParamId,
    pub cfg: Conv2dConfig,
}

impl Conv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        b: &mut ParamsBuilder,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        cfg: Conv2dConfig,
        init: Init,
    ) -> Conv2d {
        Conv2d {
            weight: b.param(
                &format!("{name}.weight"),
                &[outputs, inputs, kernel, kernel],
                init,
            ),
            bias: b.param(&format!("{name}.bias"), &[outputs], Init::Zeros),
            cfg,
        }
    }

    pub fn forward(&self, t: &mut Tape, s: &ParamStore, x: Var) -> Result<Var> {
        with_bias(t, s, x, self.weight, self.bias, |t, x, w| {
            t.conv2d(x, w, self.cfg)
        })
    }
}

/// Transposed conv2d with bias: W [in, out, kh, kw] (PyTorch's layout).
pub struct ConvTranspose2d {
    pub weight: ParamId,
    pub bias: ParamId,
    pub cfg: ConvTranspose2dConfig,
}

impl ConvTranspose2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        b: &mut ParamsBuilder,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
        cfg: ConvTranspose2dConfig,
        init: Init,
    ) -> ConvTranspose2d {
        let field = kernel * kernel;
        ConvTranspose2d {
            weight: b.param_with_fans(
                &format!("{name}.weight"),
                &[inputs, outputs, kernel, kernel],
                init,
                (inputs * field, outputs * field),
            ),
            bias: b.param(&format!("{name}.bias"), &[outputs], Init::Zeros),
            cfg,
        }
    }

    pub fn forward(&self, t: &mut Tape, s: &ParamStore, x: Var) -> Result<Var> {
        with_bias(t, s, x, self.weight, self.bias, |t, x, w| {
            t.conv_transpose2d(x, w, self.cfg)
        })
    }
}

/// Batch norm over [N, C] or [N, C, H, W]: learned γ (ones) and β (zeros), running averages
/// as state (`running_mean` 0, `running_var` 1).
pub struct BatchNorm {
    pub gamma: ParamId,
    pub beta: ParamId,
    pub running_mean: StateId,
    pub running_var: StateId,
    pub cfg: BatchNormConfig,
}

impl BatchNorm {
    pub fn new(
        b: &mut ParamsBuilder,
        name: &str,
        channels: usize,
        cfg: BatchNormConfig,
    ) -> BatchNorm {
        BatchNorm {
            gamma: b.param(&format!("{name}.gamma"), &[channels], Init::Ones),
            beta: b.param(&format!("{name}.beta"), &[channels], Init::Zeros),
            running_mean: b.state(&format!("{name}.running_mean"), &[channels], 0.0),
            running_var: b.state(&format!("{name}.running_var"), &[channels], 1.0),
            cfg,
        }
    }

    /// Training mode normalises with batch statistics and updates the running averages;
    /// eval mode normalises with the running averages.
    pub fn forward(&self, t: &mut Tape, s: &ParamStore, x: Var, train: bool) -> Result<Var> {
        let gamma = t.param(s, self.gamma)?;
        let beta = t.param(s, self.beta)?;
        t.batch_norm(
            x,
            gamma,
            beta,
            s.state(self.running_mean),
            s.state(self.running_var),
            self.cfg,
            train,
        )
    }
}
