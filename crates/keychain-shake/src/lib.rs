//! SHAKE256 absorption, in a crate of its own for one reason: keccak's permutation is generic
//! code, compiled into whichever crate calls it. Called from `keychain` in a dev build it runs
//! unoptimised, and ML-DSA over a 200 MB stream (μ is a SHAKE256 of the message) takes
//! minutes; called through [`absorb`], it is compiled here, where the workspace profile
//! optimises it, and takes seconds. Release builds are the same either way.

#![forbid(unsafe_code)]

pub use shake::Shake256;

/// Absorbs `data` into `state` (`digest::Update::update`).
#[inline(never)]
pub fn absorb(state: &mut Shake256, data: &[u8]) {
    digest::Update::update(state, data);
}
