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

/// Seeds the random number generator now, on a thread of its own, so that a program's first
/// draw (an ECDSA signature, a new key, a nonce, RSA blinding) need not wait for it: aws-lc
/// seeds itself from CPU timing jitter on first use, which takes tens of milliseconds. A
/// program about to spend as long opening a software keystore (the password's key
/// derivation) overlaps the two on a second core. It never fails the program: a failed
/// seeding shows again, as an error, at the first real draw.
pub fn warm_up_random() {
    let _ = std::thread::Builder::new()
        .name("keychain-rng-seed".into())
        .spawn(|| {
            let _ = random_bytes(32);
        });
}
