//! Models' building blocks: the parameter registry, initialisers, layers and the optimiser.

pub mod debias;
pub mod init;
pub mod layers;
pub mod optim;
pub mod params;

pub use debias::with_debiased_bn;
pub use init::Init;
pub use optim::Adam;
pub use params::{ParamId, ParamInfo, ParamStore, ParamsBuilder, StateId};
