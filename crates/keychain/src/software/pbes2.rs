//! Password protection of keystore files: PKCS#8 `EncryptedPrivateKeyInfo` with PBES2
//! (PBKDF2-HMAC-SHA256, AES-256-CBC), the scheme OpenSSL 3 uses by default, so
//! `openssl pkey -in FILE -passin pass:PASSWORD` reads every asymmetric key file.
//!
//! The keystore derives its key-encryption key once per open (the salt and iteration count
//! live in `keystore.json` and are repeated in every file's PBES2 parameters), so a keystore
//! of many keys costs one PBKDF2 run, not one per key. A file with other parameters (written
//! elsewhere) is still read: its own key is derived from the password.

use std::num::NonZeroU32;

use aws_lc_rs::cipher::{
    AES_256, DecryptionContext, EncryptionContext as CipherContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use der::asn1::OctetString;
use der::{Decode, Encode};
use pkcs5::EncryptionScheme;
use pkcs5::pbes2::{self, Kdf, Pbkdf2Prf};
use pkcs8::EncryptedPrivateKeyInfoOwned;
use zeroize::Zeroizing;

use crate::random::random_bytes;
use crate::secret::Secret;
use crate::{Error, Result};

/// PEM label of encrypted asymmetric keys (standard PKCS#8).
pub(crate) const LABEL_PRIVATE: &str = "ENCRYPTED PRIVATE KEY";
/// PEM label of encrypted symmetric and HMAC keys: the same structure around the raw key bytes.
pub(crate) const LABEL_SECRET: &str = "KEYCHAIN ENCRYPTED SECRET KEY";

/// The fewest PBKDF2 iterations a keystore may use: OpenSSL 3's default (`PKCS5_DEFAULT_ITER`).
pub const MIN_ITERATIONS: u32 = 2048;
/// Iterations for new keystores: OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256.
pub const DEFAULT_ITERATIONS: u32 = 600_000;

/// A password-derived AES-256 key with the parameters that made it.
pub(crate) struct Kek {
    key: Zeroizing<[u8; 32]>,
    salt: Vec<u8>,
    iterations: u32,
}

impl Kek {
    /// Derives the key with PBKDF2-HMAC-SHA256.
    pub(crate) fn derive(password: &Secret, salt: &[u8], iterations: u32) -> Result<Self> {
        if iterations < MIN_ITERATIONS {
            return Err(Error::invalid_input(format!(
                "PBKDF2 iteration count {iterations} is below the minimum {MIN_ITERATIONS}"
            )));
        }
        let n = NonZeroU32::new(iterations)
            .ok_or_else(|| Error::invalid_input("PBKDF2 iteration count must not be zero"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        aws_lc_rs::pbkdf2::derive(
            aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
            n,
            salt,
            password.expose(),
            &mut key[..],
        );
        Ok(Kek {
            key,
            salt: salt.to_vec(),
            iterations,
        })
    }

    /// The PBKDF2 iteration count.
    pub(crate) fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The PBKDF2 salt.
    pub(crate) fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// A value that proves knowledge of the key without revealing it: HMAC-SHA256 of a
    /// fixed label.
    pub(crate) fn verifier(&self) -> Vec<u8> {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key[..]);
        aws_lc_rs::hmac::sign(&k, b"keychain keystore verifier v1")
            .as_ref()
            .to_vec()
    }

    /// Constant-time comparison with a stored verifier.
    pub(crate) fn matches(&self, verifier: &[u8]) -> bool {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key[..]);
        aws_lc_rs::hmac::verify(&k, b"keychain keystore verifier v1", verifier).is_ok()
    }

    /// A MAC over a key file's bytes, bound to the key id and version, under a key derived from
    /// this one. PBES2 (AES-CBC) has no integrity of its own: a damaged file can decrypt to
    /// another valid key (an Ed25519 seed, AES or HMAC bytes) and be used without complaint.
    pub(crate) fn file_mac(&self, key_id: &str, version: u32, file: &[u8]) -> Vec<u8> {
        let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.key[..]);
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&k);
        ctx.update(b"keychain key file mac v1\0");
        ctx.update(key_id.as_bytes());
        ctx.update(b"\0");
        ctx.update(&version.to_be_bytes());
        ctx.update(file);
        ctx.sign().as_ref().to_vec()
    }

    /// Constant-time check of a [`Kek::file_mac`].
    pub(crate) fn file_mac_matches(
        &self,
        key_id: &str,
        version: u32,
        file: &[u8],
        mac: &[u8],
    ) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            &self.file_mac(key_id, version, file),
            mac,
        )
        .is_ok()
    }

    /// Encrypts `plaintext` into PEM with `label`.
    pub(crate) fn seal_pem(&self, plaintext: &[u8], label: &str) -> Result<String> {
        let iv: [u8; 16] = random_bytes(16)?
            .try_into()
            .map_err(|_| Error::crypto("bad IV length"))?;
        let params =
            pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(self.iterations, &self.salt, iv)
                .map_err(|e| Error::crypto(format!("PBES2 parameters: {e}")))?;
        let key = UnboundCipherKey::new(&AES_256, &self.key[..])
            .map_err(|_| Error::crypto("bad AES key"))?;
        let enc = PaddedBlockEncryptingKey::cbc_pkcs7(key)
            .map_err(|_| Error::crypto("AES-CBC setup failed"))?;
        let mut buf = plaintext.to_vec();
        enc.less_safe_encrypt(&mut buf, CipherContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| Error::crypto("AES-CBC encryption failed"))?;
        let info = EncryptedPrivateKeyInfoOwned {
            encryption_algorithm: EncryptionScheme::Pbes2(params),
            encrypted_data: OctetString::new(buf).map_err(Error::crypto)?,
        };
        let der = info.to_der().map_err(Error::crypto)?;
        der::pem::encode_string(label, der::pem::LineEnding::LF, &der).map_err(Error::crypto)
    }

    /// Decrypts a PEM file made by [`Kek::seal_pem`] (or by OpenSSL with any PBKDF2-HMAC-SHA*
    /// and AES-CBC parameters, deriving a key from `password` when they differ from ours).
    /// `what` names the file in errors.
    pub(crate) fn open_pem(
        &self,
        pem: &[u8],
        expected_label: &str,
        password: &Secret,
        what: &str,
    ) -> Result<Secret> {
        let corrupted = |message: String| Error::Corrupted {
            what: what.to_string(),
            message,
        };
        let (label, der) =
            der::pem::decode_vec(pem).map_err(|e| corrupted(format!("not a PEM file: {e}")))?;
        if label != expected_label {
            return Err(corrupted(format!(
                "expected a {expected_label} block, found {label}"
            )));
        }
        let info = EncryptedPrivateKeyInfoOwned::from_der(&der)
            .map_err(|e| corrupted(format!("not an EncryptedPrivateKeyInfo: {e}")))?;
        let EncryptionScheme::Pbes2(params) = &info.encryption_algorithm else {
            return Err(corrupted("only PBES2 encryption is supported".into()));
        };
        let Kdf::Pbkdf2(kdf) = &params.kdf else {
            return Err(corrupted("only PBKDF2 key derivation is supported".into()));
        };
        let iv = match params.encryption {
            pbes2::EncryptionScheme::Aes256Cbc { iv } => iv,
            _ => return Err(corrupted("only AES-256-CBC encryption is supported".into())),
        };
        if kdf.prf != Pbkdf2Prf::HmacWithSha256 {
            return Err(corrupted(
                "only the HMAC-SHA256 PBKDF2 PRF is supported".into(),
            ));
        }
        let salt = kdf.salt.as_ref();
        let own;
        let kek = if salt == self.salt.as_slice() && kdf.iteration_count == self.iterations {
            self
        } else {
            own = Kek::derive(password, salt, kdf.iteration_count)?;
            &own
        };
        let key = UnboundCipherKey::new(&AES_256, &kek.key[..])
            .map_err(|_| Error::crypto("bad AES key"))?;
        let dec = PaddedBlockDecryptingKey::cbc_pkcs7(key)
            .map_err(|_| Error::crypto("AES-CBC setup failed"))?;
        let mut buf = Zeroizing::new(info.encrypted_data.as_bytes().to_vec());
        let plain = dec
            .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| {
                corrupted("decryption failed: wrong password, or the file was altered".into())
            })?;
        Ok(Secret::new(plain.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let pw = Secret::new(b"correct horse".to_vec());
        let kek = Kek::derive(&pw, b"0123456789abcdef", MIN_ITERATIONS).unwrap();
        let pem = kek.seal_pem(b"secret key bytes", LABEL_SECRET).unwrap();
        let back = kek
            .open_pem(pem.as_bytes(), LABEL_SECRET, &pw, "test")
            .unwrap();
        assert_eq!(back.expose(), b"secret key bytes");
        assert!(!pem.contains("secret key bytes"));
        // Another password fails with a clear error, not garbage.
        let other = Kek::derive(
            &Secret::new(b"wrong".to_vec()),
            b"0123456789abcdef",
            MIN_ITERATIONS,
        )
        .unwrap();
        assert!(!other.matches(&kek.verifier()));
        assert!(kek.matches(&kek.verifier()));
        // A wrong label is named.
        let err = kek
            .open_pem(pem.as_bytes(), LABEL_PRIVATE, &pw, "test")
            .unwrap_err();
        assert!(err.to_string().contains("ENCRYPTED PRIVATE KEY"), "{err}");
    }

    #[test]
    fn too_few_iterations_are_refused() {
        let pw = Secret::new(b"pw".to_vec());
        assert!(Kek::derive(&pw, b"0123456789abcdef", 1000).is_err());
    }
}
