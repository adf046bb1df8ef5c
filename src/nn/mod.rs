//! Models' building blocks: layers, the optimiser, batch-norm debiasing; the parameter
//! registry they fill lives a layer below, in `params` (the tape reads it too).

pub mod debias;
pub mod layers;
pub mod masked;
pub mod optim;

pub use crate::params::{Init, ParamId, ParamInfo, ParamStore, ParamsBuilder, StateId};
pub use debias::with_debiased_bn;
pub use optim::Adam;
