//! Algorithms: hashes, signing, encryption and MAC algorithms, in the AWS KMS vocabulary.

use crate::macros::kms_enum;
use crate::{Error, Result};
use aws_lc_rs::digest;

kms_enum! {
    /// A hash function used to make a digest before signing.
    pub enum Hash {
        /// SHA-256 (32-byte digest).
        Sha256 => "SHA_256" | "SHA256",
        /// SHA-384 (48-byte digest).
        Sha384 => "SHA_384" | "SHA384",
        /// SHA-512 (64-byte digest).
        Sha512 => "SHA_512" | "SHA512",
    }
}

impl Hash {
    /// The hash whose digests are as long as `digest`: SHA-256, SHA-384 or SHA-512 (a length
    /// no hash has is [`Error::InvalidInput`]).
    pub fn for_digest(digest: &[u8]) -> Result<Hash> {
        match digest.len() {
            32 => Ok(Hash::Sha256),
            48 => Ok(Hash::Sha384),
            64 => Ok(Hash::Sha512),
            n => Err(Error::invalid_input(format!(
                "digest is {n} bytes; SHA-256, SHA-384 and SHA-512 digests are 32, 48 and 64 \
                 bytes"
            ))),
        }
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    pub(crate) fn aws_lc(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `data` in one go.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.aws_lc(), data).as_ref().to_vec()
    }

    /// A streaming hasher, for input that does not fit in memory.
    pub fn hasher(self) -> Hasher {
        Hasher {
            ctx: digest::Context::new(self.aws_lc()),
        }
    }

    /// Checks that `digest` has this hash's length.
    pub fn check_digest(self, digest: &[u8]) -> Result<()> {
        if digest.len() == self.digest_len() {
            Ok(())
        } else {
            Err(Error::invalid_input(format!(
                "digest is {} bytes but {} needs {} bytes",
                digest.len(),
                self,
                self.digest_len()
            )))
        }
    }
}

/// Incremental hashing (see [`Hash::hasher`]).
#[derive(Clone)]
pub struct Hasher {
    ctx: digest::Context,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

impl Hasher {
    /// Feeds more input.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// Finishes and returns the digest.
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

kms_enum! {
    /// A signing algorithm, spelled as AWS KMS spells it. JOSE names (`RS256`, `PS384`,
    /// `ES256`, `EdDSA`…) are accepted when parsing.
    pub enum SigningAlgorithm {
        /// RSASSA-PSS with SHA-256, MGF1 SHA-256, salt length 32.
        RsassaPssSha256 => "RSASSA_PSS_SHA_256" | "PS256",
        /// RSASSA-PSS with SHA-384, MGF1 SHA-384, salt length 48.
        RsassaPssSha384 => "RSASSA_PSS_SHA_384" | "PS384",
        /// RSASSA-PSS with SHA-512, MGF1 SHA-512, salt length 64.
        RsassaPssSha512 => "RSASSA_PSS_SHA_512" | "PS512",
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RsassaPkcs1V15Sha256 => "RSASSA_PKCS1_V1_5_SHA_256" | "RS256",
        /// RSASSA-PKCS1-v1_5 with SHA-384.
        RsassaPkcs1V15Sha384 => "RSASSA_PKCS1_V1_5_SHA_384" | "RS384",
        /// RSASSA-PKCS1-v1_5 with SHA-512.
        RsassaPkcs1V15Sha512 => "RSASSA_PKCS1_V1_5_SHA_512" | "RS512",
        /// ECDSA with SHA-256 (P-256 and secp256k1 keys).
        EcdsaSha256 => "ECDSA_SHA_256" | "ES256",
        /// ECDSA with SHA-384 (P-384 keys).
        EcdsaSha384 => "ECDSA_SHA_384" | "ES384",
        /// ECDSA with SHA-512 (P-521 keys).
        EcdsaSha512 => "ECDSA_SHA_512" | "ES512",
        /// Pure Ed25519 (RFC 8032) over the message bytes.
        Ed25519Sha512 => "ED25519_SHA_512" | "EdDSA" | "ED25519",
        /// HashEdDSA Ed25519ph (RFC 8032) in AWS KMS's meaning: the 64-byte SHA-512 digest
        /// `D` of the message is the Ed25519ph *message*, so the signature's own prehash is
        /// SHA-512(D) — the input is hashed twice. A raw message `m` is signed as its digest
        /// SHA-512(m) (see [`Message`]).
        Ed25519PhSha512 => "ED25519_PH_SHA_512" | "ED25519PH",
        /// Pure ML-DSA (FIPS 204) over the message bytes, with an empty context string
        /// (ML-DSA keys only).
        MlDsaShake256 => "ML_DSA_SHAKE_256" | "ML_DSA",
    }
}

/// The signature family of a [`SigningAlgorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// RSASSA-PSS (salt length equal to the hash length).
    RsaPss,
    /// RSASSA-PKCS1-v1_5.
    RsaPkcs1v15,
    /// ECDSA, DER-encoded signature.
    Ecdsa,
    /// Pure Ed25519.
    Ed25519,
    /// Ed25519ph.
    Ed25519Ph,
    /// Pure ML-DSA (FIPS 204).
    MlDsa,
}

impl SigningAlgorithm {
    /// The hash the algorithm is defined with. For pure Ed25519 this is SHA-512, which
    /// Ed25519 uses internally; a digest cannot be signed with it. ML-DSA hashes with
    /// SHAKE-256 internally and has no hash-then-sign form: this returns SHA-512 only as a
    /// nominal value. Check [`SigningAlgorithm::accepts_digest`] before hashing a message to
    /// sign: when it is false, the message itself must be signed.
    pub fn hash(self) -> Hash {
        use SigningAlgorithm::*;
        match self {
            RsassaPssSha256 | RsassaPkcs1V15Sha256 | EcdsaSha256 => Hash::Sha256,
            RsassaPssSha384 | RsassaPkcs1V15Sha384 | EcdsaSha384 => Hash::Sha384,
            RsassaPssSha512 | RsassaPkcs1V15Sha512 | EcdsaSha512 | Ed25519Sha512
            | Ed25519PhSha512 | MlDsaShake256 => Hash::Sha512,
        }
    }

    /// The signature family.
    pub fn scheme(self) -> SignatureScheme {
        use SigningAlgorithm::*;
        match self {
            RsassaPssSha256 | RsassaPssSha384 | RsassaPssSha512 => SignatureScheme::RsaPss,
            RsassaPkcs1V15Sha256 | RsassaPkcs1V15Sha384 | RsassaPkcs1V15Sha512 => {
                SignatureScheme::RsaPkcs1v15
            }
            EcdsaSha256 | EcdsaSha384 | EcdsaSha512 => SignatureScheme::Ecdsa,
            Ed25519Sha512 => SignatureScheme::Ed25519,
            Ed25519PhSha512 => SignatureScheme::Ed25519Ph,
            MlDsaShake256 => SignatureScheme::MlDsa,
        }
    }

    /// Whether the algorithm can sign a precomputed digest (everything but pure Ed25519 and
    /// ML-DSA, which sign the message itself). ML-DSA's precomputed form is its external μ,
    /// [`Message::ExternalMu`], not a digest.
    pub fn accepts_digest(self) -> bool {
        !matches!(
            self,
            SigningAlgorithm::Ed25519Sha512 | SigningAlgorithm::MlDsaShake256
        )
    }

    /// The JOSE (RFC 7518 / RFC 8037) `alg` name, where one exists.
    pub fn jose_name(self) -> Option<&'static str> {
        use SigningAlgorithm::*;
        Some(match self {
            RsassaPssSha256 => "PS256",
            RsassaPssSha384 => "PS384",
            RsassaPssSha512 => "PS512",
            RsassaPkcs1V15Sha256 => "RS256",
            RsassaPkcs1V15Sha384 => "RS384",
            RsassaPkcs1V15Sha512 => "RS512",
            EcdsaSha256 => "ES256",
            EcdsaSha384 => "ES384",
            EcdsaSha512 => "ES512",
            Ed25519Sha512 => "EdDSA",
            Ed25519PhSha512 | MlDsaShake256 => return None,
        })
    }
}

kms_enum! {
    /// An encryption algorithm.
    pub enum EncryptionAlgorithm {
        /// The backend's symmetric authenticated encryption (AES-256-GCM), with the
        /// encryption context as additional authenticated data.
        SymmetricDefault => "SYMMETRIC_DEFAULT",
        /// RSAES-OAEP with SHA-1 and MGF1 SHA-1.
        RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
        /// RSAES-OAEP with SHA-256 and MGF1 SHA-256.
        RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
    }
}

kms_enum! {
    /// A MAC algorithm for HMAC keys.
    pub enum MacAlgorithm {
        /// HMAC with SHA-224.
        HmacSha224 => "HMAC_SHA_224",
        /// HMAC with SHA-256.
        HmacSha256 => "HMAC_SHA_256",
        /// HMAC with SHA-384.
        HmacSha384 => "HMAC_SHA_384",
        /// HMAC with SHA-512.
        HmacSha512 => "HMAC_SHA_512",
    }
}

impl MacAlgorithm {
    pub(crate) fn aws_lc(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            MacAlgorithm::HmacSha224 => aws_lc_rs::hmac::HMAC_SHA224,
            MacAlgorithm::HmacSha256 => aws_lc_rs::hmac::HMAC_SHA256,
            MacAlgorithm::HmacSha384 => aws_lc_rs::hmac::HMAC_SHA384,
            MacAlgorithm::HmacSha512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }
}

kms_enum! {
    /// The kind of data key [`crate::Backend::generate_data_key`] makes.
    pub enum DataKeySpec {
        /// A 256-bit AES key.
        Aes256 => "AES_256",
        /// A 128-bit AES key.
        Aes128 => "AES_128",
    }
}

impl DataKeySpec {
    /// Length of the key in bytes.
    pub fn len(self) -> usize {
        match self {
            DataKeySpec::Aes256 => 32,
            DataKeySpec::Aes128 => 16,
        }
    }

    /// Always false: a data key is never empty (here for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }
}

/// What is handed to a signing operation: a precomputed digest, the message itself, or
/// ML-DSA's external μ.
///
/// For every digest algorithm `Raw(m)` and `Digest(H(m))` make signatures that verify the
/// same way, on every backend. With [`SigningAlgorithm::Ed25519PhSha512`] that holds too, in
/// AWS KMS's meaning: `Digest(D)` (64 bytes) signs `D` as the Ed25519ph message (prehash
/// SHA-512(D), as KMS does with `MessageType=DIGEST`), and `Raw(m)` is exactly
/// `Digest(SHA-512(m))` — hashed locally and sent as `DIGEST`, since KMS takes no `RAW`
/// message for it. An outside RFC 8032 Ed25519ph verifier checks such a signature with `D`
/// as the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A digest made with the algorithm's hash (KMS `MessageType=DIGEST`); for Ed25519ph, the
    /// 64-byte message that is hashed again.
    Digest(&'a [u8]),
    /// The message; the backend hashes it (KMS `MessageType=RAW`), or, for Ed25519ph, it is
    /// hashed with SHA-512 and signed as that digest.
    Raw(&'a [u8]),
    /// ML-DSA's external μ (FIPS 204 §6.2; KMS `MessageType=EXTERNAL_MU`), ML_DSA_SHAKE_256
    /// only: the 64 bytes SHAKE256(SHAKE256(public key, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64) of a
    /// message M with the empty context ([`crate::PublicKey::ml_dsa_external_mu`] computes it
    /// in one streamed pass). The signature is an ordinary ML-DSA signature of M.
    ExternalMu(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The bytes, whichever kind.
    pub fn bytes(&self) -> &'a [u8] {
        match self {
            Message::Digest(b) | Message::Raw(b) | Message::ExternalMu(b) => b,
        }
    }

    /// Checks the message against the algorithm: a digest must have the hash's length, pure
    /// Ed25519 needs the message itself, an external μ is 64 bytes and for ML-DSA only.
    pub fn check(&self, algorithm: SigningAlgorithm) -> Result<()> {
        match self {
            Message::ExternalMu(mu) => {
                if algorithm != SigningAlgorithm::MlDsaShake256 {
                    return Err(Error::invalid_input(format!(
                        "an external μ is signed with ML_DSA_SHAKE_256 only, not {algorithm}"
                    )));
                }
                if mu.len() != 64 {
                    return Err(Error::invalid_input(format!(
                        "ML-DSA's external μ is 64 bytes, not {}",
                        mu.len()
                    )));
                }
                Ok(())
            }
            Message::Digest(d) => {
                if !algorithm.accepts_digest() {
                    let hint = if algorithm == SigningAlgorithm::MlDsaShake256 {
                        "give ML-DSA's 64-byte external μ as an external μ, not a digest"
                    } else {
                        "use ED25519_PH_SHA_512 to sign a SHA-512 digest"
                    };
                    return Err(Error::invalid_input(format!(
                        "{algorithm} signs the message itself, not a digest ({hint})"
                    )));
                }
                algorithm.hash().check_digest(d)
            }
            Message::Raw(_) => Ok(()),
        }
    }

    /// The digest to sign for `algorithm` (hashing a raw message), for backends that sign
    /// digests only, and for Ed25519ph everywhere (`Raw(m)` is `Digest(SHA-512(m))`). Not for
    /// pure Ed25519 or ML-DSA.
    pub fn to_digest(&self, algorithm: SigningAlgorithm) -> Result<Vec<u8>> {
        self.check(algorithm)?;
        Ok(match self {
            Message::Digest(d) => d.to_vec(),
            Message::Raw(m) => algorithm.hash().digest(m),
            Message::ExternalMu(_) => {
                return Err(Error::invalid_input(
                    "an external μ is signed as it is, never hashed into a digest",
                ));
            }
        })
    }
}

/// Owned copy of a [`Message`], to move into a blocking task.
pub(crate) enum OwnedMessage {
    Digest(Vec<u8>),
    Raw(Vec<u8>),
    ExternalMu(Vec<u8>),
}

impl OwnedMessage {
    pub(crate) fn new(m: Message<'_>) -> Self {
        match m {
            Message::Digest(d) => OwnedMessage::Digest(d.to_vec()),
            Message::Raw(r) => OwnedMessage::Raw(r.to_vec()),
            Message::ExternalMu(mu) => OwnedMessage::ExternalMu(mu.to_vec()),
        }
    }

    pub(crate) fn borrow(&self) -> Message<'_> {
        match self {
            OwnedMessage::Digest(d) => Message::Digest(d),
            OwnedMessage::Raw(r) => Message::Raw(r),
            OwnedMessage::ExternalMu(mu) => Message::ExternalMu(mu),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_length_names_its_hash() {
        assert!(Hash::for_digest(&[0; 20]).is_err());
        assert_eq!(Hash::for_digest(&[0; 32]).ok(), Some(Hash::Sha256));
        assert_eq!(Hash::for_digest(&[0; 48]).ok(), Some(Hash::Sha384));
        assert_eq!(Hash::for_digest(&[0; 64]).ok(), Some(Hash::Sha512));
    }

    #[test]
    fn parse_kms_and_jose_names() {
        assert_eq!(
            "rsassa_pss_sha_256".parse::<SigningAlgorithm>().ok(),
            Some(SigningAlgorithm::RsassaPssSha256)
        );
        assert_eq!(
            "ES384".parse::<SigningAlgorithm>().ok(),
            Some(SigningAlgorithm::EcdsaSha384)
        );
        assert_eq!(
            "eddsa".parse::<SigningAlgorithm>().ok(),
            Some(SigningAlgorithm::Ed25519Sha512)
        );
        let err = "RSA_MD5".parse::<SigningAlgorithm>().unwrap_err();
        assert!(err.to_string().contains("RSA_MD5"), "{err}");
    }

    #[test]
    fn digest_length_is_checked() {
        let d = [0u8; 32];
        assert!(
            Message::Digest(&d)
                .check(SigningAlgorithm::EcdsaSha256)
                .is_ok()
        );
        assert!(
            Message::Digest(&d)
                .check(SigningAlgorithm::EcdsaSha384)
                .is_err()
        );
        assert!(
            Message::Digest(&[0u8; 64])
                .check(SigningAlgorithm::Ed25519Sha512)
                .is_err()
        );
        // A 64-byte "digest" is not taken as an ML-DSA external μ.
        let err = Message::Digest(&[0u8; 64])
            .check(SigningAlgorithm::MlDsaShake256)
            .unwrap_err();
        assert!(err.to_string().contains("external"), "{err}");
        // An external μ is 64 bytes, for ML-DSA only.
        assert!(
            Message::ExternalMu(&[0u8; 64])
                .check(SigningAlgorithm::MlDsaShake256)
                .is_ok()
        );
        assert!(
            Message::ExternalMu(&[0u8; 63])
                .check(SigningAlgorithm::MlDsaShake256)
                .is_err()
        );
        assert!(
            Message::ExternalMu(&[0u8; 64])
                .check(SigningAlgorithm::Ed25519Sha512)
                .is_err()
        );
    }

    #[test]
    fn streaming_hash_matches_one_shot() {
        let mut h = Hash::Sha384.hasher();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), Hash::Sha384.digest(b"hello world"));
    }
}
