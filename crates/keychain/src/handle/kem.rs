//! ML-KEM through the handle: encapsulating to a key's (cached) public key locally, and
//! decapsulating with the backend, after the checks AWS KMS makes so every backend answers
//! the same.

use super::Keychain;
use crate::Result;
use crate::kem::{Encapsulation, check_ciphertext};
use crate::key_ref::KeyRef;
use crate::secret::Secret;

impl Keychain {
    /// Encapsulates a fresh 32-byte shared secret to the ML-KEM key `key`, locally with its
    /// cached public key (no backend call once the key is cached): send
    /// [`Encapsulation::ciphertext`] to the key's holder, who recovers the secret with
    /// [`Keychain::decapsulate`]. As AWS KMS refuses `Encapsulate`, a key that is not an
    /// ML-KEM key is [`crate::Error::InvalidKeyUsage`] and one that is disabled or pending
    /// deletion [`crate::Error::InvalidKeyState`]. To encapsulate whatever the key's state,
    /// use its public key ([`crate::PublicKey::encapsulate`]).
    pub async fn encapsulate(&self, key: &str) -> Result<Encapsulation> {
        let key = KeyRef::parse(key)?;
        self.info(&key).await?.check_kem()?;
        self.public_key_of(&key).await?.encapsulate()
    }

    /// Recovers the shared secret of `ciphertext` with the ML-KEM key `key` (KMS
    /// `Decapsulate`). A ciphertext of the wrong length for the key's parameter set is
    /// [`crate::Error::InvalidInput`], before any backend call. One of the right length
    /// always yields 32 bytes — a pseudo-random value when it was made for another key or
    /// altered (FIPS 203 implicit rejection) — so both sides must confirm they hold the same
    /// secret (a MAC or an AEAD tag under it) before relying on it.
    pub async fn decapsulate(&self, key: &str, ciphertext: &[u8]) -> Result<Secret> {
        let key = KeyRef::parse(key)?;
        let level = self.info(&key).await?.check_kem()?;
        check_ciphertext(level, ciphertext)?;
        self.backend.decapsulate(&key, ciphertext).await
    }
}
