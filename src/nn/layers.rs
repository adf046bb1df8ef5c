//! Layers: each registers its parameters (and state) under `name.` in a `ParamsBuilder`
//! and records its forward pass on a `Tape`. An activation right after a layer's bias or batch
//! norm is fused into that pass (`forward_act`, `BatchNorm::forward`'s `act`); others,
//! concatenation and reshape are tape ops (`Tape::relu`, `Tape::concat`, ...).

use crate::autograd::{Tape, Var};
use crate::error::Result;
use crate::kernels::batchnorm::BatchNormConfig;
use crate::kernels::channel::ChannelAct;
use crate::kernels::conv2d::Conv2dConfig;
use crate::kernels::conv_transpose2d::ConvTranspose2dConfig;
use crate::nn::{Init, ParamId, ParamStore, ParamsBuilder, StateId};

/// act(op(x, W) + bias per channel): the shape of every layer with weights, the bias and the
/// activation in one pass.
pub(super) fn with_bias(
    t: &mut Tape,
    s: &ParamStore,
    x: Var,
    (weight, bias): (ParamId, ParamId),
    act: ChannelAct,
    op: impl FnOnce(&mut Tape, Var, Var) -> Result<Var>,
) -> Result<Var> {
    let w = t.param(s, weight)?;
    let b = t.param(s, bias)?;
    let y = op(t, x, w)?;
    t.bias_act(y, b, act)
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
        self.forward_act(t, s, x, ChannelAct::Identity)
    }

    /// act(x·Wᵀ + b), the activation fused with the bias.
    pub fn forward_act(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        act: ChannelAct,
    ) -> Result<Var> {
        with_bias(t, s, x, (self.weight, self.bias), act, |t, x, w| {
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
        self.forward_act(t, s, x, ChannelAct::Identity)
    }

    /// act(conv2d(x, W) + b), the activation fused with the bias.
    pub fn forward_act(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        act: ChannelAct,
    ) -> Result<Var> {
        with_bias(t, s, x, (self.weight, self.bias), act, |t, x, w| {
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
        self.forward_act(t, s, x, ChannelAct::Identity)
    }

    /// act(conv_transpose2d(x, W) + b), the activation fused with the bias.
    pub fn forward_act(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        act: ChannelAct,
    ) -> Result<Var> {
        with_bias(t, s, x, (self.weight, self.bias), act, |t, x, w| {
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

    /// act(batch_norm(x)) in one pass. Training mode normalises with batch statistics and
    /// updates the running averages; eval mode normalises with the running averages.
    pub fn forward(
        &self,
        t: &mut Tape,
        s: &ParamStore,
        x: Var,
        train: bool,
        act: ChannelAct,
    ) -> Result<Var> {
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
            act,
        )
    }
}
