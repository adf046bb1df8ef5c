//! The networks and objectives of the papers, built from `nn` layers on the `autograd` tape.

pub mod stage1;

pub use stage1::{Likelihood, Losses, Stage1, Stage1Config};
