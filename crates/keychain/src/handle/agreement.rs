//! Key agreement (ECDH) through the handle: the checks AWS KMS makes, against the cached
//! metadata, before the backend derives the secret, so every backend answers the same.

use super::Keychain;
use crate::Result;
use crate::agreement::KeyAgreementAlgorithm;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;

impl Keychain {
    /// Derives the shared secret of the KEY_AGREEMENT key `key` and the peer's public key
    /// `peer` (KMS `DeriveSharedSecret`): the raw x-coordinate of the shared point (32, 48
    /// or 66 bytes for P-256, P-384 and P-521), which the peer computes too from its private
    /// key and this key's public key. Feed it to a key derivation function before use.
    ///
    /// A key of another usage (a SIGN_VERIFY key of the same curve too) is
    /// [`crate::Error::InvalidKeyUsage`]; a peer key of another type or curve
    /// [`crate::Error::InvalidInput`], before any backend call; a disabled key or one pending
    /// deletion [`crate::Error::InvalidKeyState`].
    pub async fn derive_shared_secret(
        &self,
        key: &str,
        algorithm: KeyAgreementAlgorithm,
        peer: &PublicKey,
    ) -> Result<Secret> {
        let key = KeyRef::parse(key)?;
        let info = self.info(&key).await?;
        info.check_key_agreement_with(peer)?;
        self.backend
            .derive_shared_secret(&key, algorithm, peer.to_der())
            .await
    }
}
