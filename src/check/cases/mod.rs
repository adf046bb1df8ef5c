//! The cases of the conformance suite, one file per kernel family.

mod adam;
mod conv;
mod elementwise;
mod gated;
mod geco;
mod loss;
mod matmul;
mod metrics;
mod mmd;
mod norm;
mod random;
mod scatter;
mod softmax_ce;

use super::{Case, Size};

/// Every case at the given size, in a fixed order.
pub fn suite(size: Size) -> Vec<Case> {
    let mut v = Vec::new();
    elementwise::cases(&mut v);
    matmul::cases(&mut v);
    conv::cases(&mut v);
    norm::cases(&mut v);
    random::cases(&mut v);
    loss::cases(&mut v);
    softmax_ce::cases(&mut v);
    adam::cases(&mut v);
    mmd::cases(&mut v);
    scatter::cases(&mut v);
    metrics::cases(&mut v);
    geco::cases(&mut v);
    gated::cases(&mut v);
    if size == Size::Quick {
        v.retain(|c| !c.large);
    }
    v
}

pub(crate) fn dims(s: &[usize]) -> String {
    s.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×")
}
