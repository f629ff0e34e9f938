//! Randomness from the system CSPRNG (aws-lc's), for keys, nonces, salts and names.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::{Error, Result};

/// `len` bytes from the system CSPRNG.
pub(crate) fn random_bytes(len: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| Error::crypto("the system random number generator failed"))?;
    Ok(out)
}
