//! Key specs in the AWS KMS vocabulary, their families and curves, the usages a key may
//! have, and the one table of which usage and which algorithms each spec allows.

use crate::algorithm::{EncryptionAlgorithm, Hash, MacAlgorithm, SigningAlgorithm};
use crate::macros::kms_enum;
use crate::{Error, Result};

kms_enum! {
    /// The type of key, in the AWS KMS vocabulary. Friendly spellings (`rsa-2048`, `p256`,
    /// `ed25519`, `aes-256`, `hmac-256`…) are accepted when parsing.
    pub enum KeySpec {
        /// RSA, 2048-bit modulus.
        Rsa2048 => "RSA_2048" | "RSA2048",
        /// RSA, 3072-bit modulus.
        Rsa3072 => "RSA_3072" | "RSA3072",
        /// RSA, 4096-bit modulus.
        Rsa4096 => "RSA_4096" | "RSA4096",
        /// NIST P-256 (secp256r1).
        EccNistP256 => "ECC_NIST_P256" | "P256" | "P_256" | "SECP256R1" | "PRIME256V1" | "EC_P256",
        /// NIST P-384 (secp384r1).
        EccNistP384 => "ECC_NIST_P384" | "P384" | "P_384" | "SECP384R1" | "EC_P384",
        /// NIST P-521 (secp521r1).
        EccNistP521 => "ECC_NIST_P521" | "P521" | "P_521" | "SECP521R1" | "EC_P521",
        /// secp256k1 (the Bitcoin / Ethereum curve).
        EccSecgP256k1 => "ECC_SECG_P256K1" | "SECP256K1" | "P256K1" | "K256",
        /// Ed25519.
        EccNistEdwards25519 => "ECC_NIST_EDWARDS25519" | "ED25519",
        /// ML-DSA-44 (FIPS 204, NIST security category 2).
        MlDsa44 => "ML_DSA_44" | "MLDSA44",
        /// ML-DSA-65 (FIPS 204, NIST security category 3).
        MlDsa65 => "ML_DSA_65" | "MLDSA65",
        /// ML-DSA-87 (FIPS 204, NIST security category 5).
        MlDsa87 => "ML_DSA_87" | "MLDSA87",
        /// ML-KEM-512 (FIPS 203, NIST security category 1).
        MlKem512 => "ML_KEM_512" | "MLKEM512",
        /// ML-KEM-768 (FIPS 203, NIST security category 3).
        MlKem768 => "ML_KEM_768" | "MLKEM768",
        /// ML-KEM-1024 (FIPS 203, NIST security category 5).
        MlKem1024 => "ML_KEM_1024" | "MLKEM1024",
        /// A 256-bit AES key for authenticated encryption.
        SymmetricDefault => "SYMMETRIC_DEFAULT" | "AES_256" | "AES256" | "AES" | "SYMMETRIC",
        /// A 224-bit HMAC key.
        Hmac224 => "HMAC_224" | "HMAC224",
        /// A 256-bit HMAC key.
        Hmac256 => "HMAC_256" | "HMAC256" | "HMAC",
        /// A 384-bit HMAC key.
        Hmac384 => "HMAC_384" | "HMAC384",
        /// A 512-bit HMAC key.
        Hmac512 => "HMAC_512" | "HMAC512",
    }
}

/// The broad family of a [`KeySpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    /// RSA of the given modulus size in bits.
    Rsa(u32),
    /// An elliptic curve for ECDSA / ECDH.
    Ec(Curve),
    /// Ed25519.
    Ed25519,
    /// ML-DSA (FIPS 204) with the given parameter set: 44, 65 or 87.
    MlDsa(u16),
    /// ML-KEM (FIPS 203) with the given parameter set: 512, 768 or 1024.
    MlKem(u16),
    /// AES-256.
    Symmetric,
    /// HMAC with the given hash.
    Hmac(MacAlgorithm),
}

kms_enum! {
    /// An elliptic curve.
    pub enum Curve {
        /// NIST P-256.
        P256 => "P256" | "P-256" | "SECP256R1" | "PRIME256V1",
        /// NIST P-384.
        P384 => "P384" | "P-384" | "SECP384R1",
        /// NIST P-521.
        P521 => "P521" | "P-521" | "SECP521R1",
        /// secp256k1.
        Secp256k1 => "SECP256K1" | "P256K1" | "K256",
        /// Edwards 25519.
        Ed25519 => "ED25519",
    }
}

impl Curve {
    /// Size of a field element (and of `r` and `s` in a raw ECDSA signature), in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 | Curve::Ed25519 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The JOSE `crv` name.
    pub fn jose_name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
            Curve::Ed25519 => "Ed25519",
        }
    }

    /// The key spec for this curve.
    pub fn key_spec(self) -> KeySpec {
        match self {
            Curve::P256 => KeySpec::EccNistP256,
            Curve::P384 => KeySpec::EccNistP384,
            Curve::P521 => KeySpec::EccNistP521,
            Curve::Secp256k1 => KeySpec::EccSecgP256k1,
            Curve::Ed25519 => KeySpec::EccNistEdwards25519,
        }
    }
}

impl KeySpec {
    /// The family and size of the key.
    pub fn family(self) -> KeyFamily {
        match self {
            KeySpec::Rsa2048 => KeyFamily::Rsa(2048),
            KeySpec::Rsa3072 => KeyFamily::Rsa(3072),
            KeySpec::Rsa4096 => KeyFamily::Rsa(4096),
            KeySpec::EccNistP256 => KeyFamily::Ec(Curve::P256),
            KeySpec::EccNistP384 => KeyFamily::Ec(Curve::P384),
            KeySpec::EccNistP521 => KeyFamily::Ec(Curve::P521),
            KeySpec::EccSecgP256k1 => KeyFamily::Ec(Curve::Secp256k1),
            KeySpec::EccNistEdwards25519 => KeyFamily::Ed25519,
            KeySpec::MlDsa44 => KeyFamily::MlDsa(44),
            KeySpec::MlDsa65 => KeyFamily::MlDsa(65),
            KeySpec::MlDsa87 => KeyFamily::MlDsa(87),
            KeySpec::MlKem512 => KeyFamily::MlKem(512),
            KeySpec::MlKem768 => KeyFamily::MlKem(768),
            KeySpec::MlKem1024 => KeyFamily::MlKem(1024),
            KeySpec::SymmetricDefault => KeyFamily::Symmetric,
            KeySpec::Hmac224 => KeyFamily::Hmac(MacAlgorithm::HmacSha224),
            KeySpec::Hmac256 => KeyFamily::Hmac(MacAlgorithm::HmacSha256),
            KeySpec::Hmac384 => KeyFamily::Hmac(MacAlgorithm::HmacSha384),
            KeySpec::Hmac512 => KeyFamily::Hmac(MacAlgorithm::HmacSha512),
        }
    }

    /// Whether the key has a public half.
    pub fn is_asymmetric(self) -> bool {
        matches!(
            self.family(),
            KeyFamily::Rsa(_)
                | KeyFamily::Ec(_)
                | KeyFamily::Ed25519
                | KeyFamily::MlDsa(_)
                | KeyFamily::MlKem(_)
        )
    }

    /// The usages this spec can be created with (the first is the default).
    pub fn usages(self) -> &'static [KeyUsage] {
        match self.family() {
            KeyFamily::Rsa(_) => &[KeyUsage::SignVerify, KeyUsage::EncryptDecrypt],
            KeyFamily::Ec(Curve::Secp256k1) => &[KeyUsage::SignVerify],
            KeyFamily::Ec(_) => &[KeyUsage::SignVerify, KeyUsage::KeyAgreement],
            KeyFamily::Ed25519 | KeyFamily::MlDsa(_) => &[KeyUsage::SignVerify],
            KeyFamily::MlKem(_) => &[KeyUsage::EncapsulateDecapsulate],
            KeyFamily::Symmetric => &[KeyUsage::EncryptDecrypt],
            KeyFamily::Hmac(_) => &[KeyUsage::GenerateVerifyMac],
        }
    }

    /// The usage a key of this spec gets when none is asked for.
    pub fn default_usage(self) -> KeyUsage {
        self.usages()[0]
    }

    /// Checks that `usage` is allowed for this spec.
    pub fn check_usage(self, usage: KeyUsage) -> Result<()> {
        if self.usages().contains(&usage) {
            Ok(())
        } else {
            Err(Error::invalid_input(format!(
                "key spec {self} cannot have usage {usage}; allowed: {}",
                join(self.usages())
            )))
        }
    }

    /// The signing algorithms a SIGN_VERIFY key of this spec allows (the first is the default).
    pub fn signing_algorithms(self) -> &'static [SigningAlgorithm] {
        use SigningAlgorithm::*;
        match self.family() {
            KeyFamily::Rsa(_) => &[
                RsassaPkcs1V15Sha256,
                RsassaPkcs1V15Sha384,
                RsassaPkcs1V15Sha512,
                RsassaPssSha256,
                RsassaPssSha384,
                RsassaPssSha512,
            ],
            KeyFamily::Ec(Curve::P256 | Curve::Secp256k1) => &[EcdsaSha256],
            KeyFamily::Ec(Curve::P384) => &[EcdsaSha384],
            KeyFamily::Ec(Curve::P521) => &[EcdsaSha512],
            KeyFamily::Ec(Curve::Ed25519) | KeyFamily::Ed25519 => &[Ed25519Sha512, Ed25519PhSha512],
            KeyFamily::MlDsa(_) => &[MlDsaShake256],
            KeyFamily::Symmetric | KeyFamily::Hmac(_) | KeyFamily::MlKem(_) => &[],
        }
    }

    /// The encryption algorithms an ENCRYPT_DECRYPT key of this spec allows.
    pub fn encryption_algorithms(self) -> &'static [EncryptionAlgorithm] {
        match self.family() {
            KeyFamily::Rsa(_) => &[
                EncryptionAlgorithm::RsaesOaepSha256,
                EncryptionAlgorithm::RsaesOaepSha1,
            ],
            KeyFamily::Symmetric => &[EncryptionAlgorithm::SymmetricDefault],
            _ => &[],
        }
    }

    /// The MAC algorithms a GENERATE_VERIFY_MAC key of this spec allows.
    pub fn mac_algorithms(self) -> &'static [MacAlgorithm] {
        match self.family() {
            KeyFamily::Hmac(MacAlgorithm::HmacSha224) => &[MacAlgorithm::HmacSha224],
            KeyFamily::Hmac(MacAlgorithm::HmacSha256) => &[MacAlgorithm::HmacSha256],
            KeyFamily::Hmac(MacAlgorithm::HmacSha384) => &[MacAlgorithm::HmacSha384],
            KeyFamily::Hmac(MacAlgorithm::HmacSha512) => &[MacAlgorithm::HmacSha512],
            _ => &[],
        }
    }

    /// The algorithm `keychain sign` uses when none is given: PKCS#1 v1.5 SHA-256 for RSA,
    /// the curve's ECDSA hash for EC, pure Ed25519 for Ed25519, ML_DSA_SHAKE_256 for ML-DSA.
    pub fn default_signing_algorithm(self) -> Option<SigningAlgorithm> {
        self.signing_algorithms().first().copied()
    }

    /// The natural algorithm for signing a digest made with `hash` when the caller names no
    /// algorithm (`Keychain::sign(name, digest, hash)`): PKCS#1 v1.5 for RSA, ECDSA for EC
    /// keys, Ed25519ph for Ed25519 with SHA-512.
    pub fn signing_algorithm_for_hash(self, hash: Hash) -> Result<SigningAlgorithm> {
        use SigningAlgorithm::*;
        let alg = match (self.family(), hash) {
            (KeyFamily::Rsa(_), Hash::Sha256) => RsassaPkcs1V15Sha256,
            (KeyFamily::Rsa(_), Hash::Sha384) => RsassaPkcs1V15Sha384,
            (KeyFamily::Rsa(_), Hash::Sha512) => RsassaPkcs1V15Sha512,
            (KeyFamily::Ed25519, Hash::Sha512) => Ed25519PhSha512,
            (KeyFamily::Ec(_), Hash::Sha256) => EcdsaSha256,
            (KeyFamily::Ec(_), Hash::Sha384) => EcdsaSha384,
            (KeyFamily::Ec(_), Hash::Sha512) => EcdsaSha512,
            _ => {
                return Err(Error::invalid_input(format!(
                    "a {self} key cannot sign a {hash} digest; its algorithms are: {}",
                    join(self.signing_algorithms())
                )));
            }
        };
        if self.signing_algorithms().contains(&alg) {
            Ok(alg)
        } else {
            Err(Error::invalid_input(format!(
                "a {self} key cannot sign a {hash} digest; its algorithms are: {}",
                join(self.signing_algorithms())
            )))
        }
    }
}

kms_enum! {
    /// What a key may be used for.
    pub enum KeyUsage {
        /// Sign and verify.
        SignVerify => "SIGN_VERIFY" | "SIGN",
        /// Encrypt and decrypt.
        EncryptDecrypt => "ENCRYPT_DECRYPT" | "ENCRYPT",
        /// Generate and verify MACs.
        GenerateVerifyMac => "GENERATE_VERIFY_MAC" | "MAC",
        /// Derive shared secrets (ECDH).
        KeyAgreement => "KEY_AGREEMENT" | "ECDH",
        /// Encapsulate and decapsulate shared secrets (ML-KEM).
        EncapsulateDecapsulate => "ENCAPSULATE_DECAPSULATE" | "KEM" | "KEY_ENCAPSULATION",
    }
}

pub(super) fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_spellings_parse() {
        for (s, spec) in [
            ("rsa-2048", KeySpec::Rsa2048),
            ("RSA_4096", KeySpec::Rsa4096),
            ("p256", KeySpec::EccNistP256),
            ("ecc_nist_p384", KeySpec::EccNistP384),
            ("secp256k1", KeySpec::EccSecgP256k1),
            ("ed25519", KeySpec::EccNistEdwards25519),
            ("aes-256", KeySpec::SymmetricDefault),
            ("hmac-512", KeySpec::Hmac512),
            ("ml-dsa-44", KeySpec::MlDsa44),
            ("mldsa65", KeySpec::MlDsa65),
            ("ML_DSA_87", KeySpec::MlDsa87),
            ("ml-kem-512", KeySpec::MlKem512),
            ("mlkem768", KeySpec::MlKem768),
            ("ML_KEM_1024", KeySpec::MlKem1024),
        ] {
            assert_eq!(s.parse::<KeySpec>().ok(), Some(spec), "{s}");
        }
        assert!("rsa-1024".parse::<KeySpec>().is_err());
    }

    #[test]
    fn natural_algorithm_for_hash() {
        assert_eq!(
            KeySpec::Rsa2048
                .signing_algorithm_for_hash(Hash::Sha256)
                .ok(),
            Some(SigningAlgorithm::RsassaPkcs1V15Sha256)
        );
        assert_eq!(
            KeySpec::EccNistP384
                .signing_algorithm_for_hash(Hash::Sha384)
                .ok(),
            Some(SigningAlgorithm::EcdsaSha384)
        );
        assert!(
            KeySpec::EccNistP256
                .signing_algorithm_for_hash(Hash::Sha384)
                .is_err()
        );
        assert!(
            KeySpec::SymmetricDefault
                .signing_algorithm_for_hash(Hash::Sha256)
                .is_err()
        );
        // ML-DSA has no hash-then-sign form.
        assert!(
            KeySpec::MlDsa65
                .signing_algorithm_for_hash(Hash::Sha512)
                .is_err()
        );
        assert_eq!(
            KeySpec::MlDsa44.default_signing_algorithm(),
            Some(SigningAlgorithm::MlDsaShake256)
        );
    }

    #[test]
    fn usage_table() {
        assert!(
            KeySpec::Rsa2048
                .check_usage(KeyUsage::EncryptDecrypt)
                .is_ok()
        );
        assert!(
            KeySpec::EccSecgP256k1
                .check_usage(KeyUsage::KeyAgreement)
                .is_err()
        );
        assert!(KeySpec::Hmac256.check_usage(KeyUsage::SignVerify).is_err());
        assert_eq!(
            KeySpec::MlKem768.default_usage(),
            KeyUsage::EncapsulateDecapsulate
        );
        assert!(KeySpec::MlKem768.check_usage(KeyUsage::SignVerify).is_err());
        assert!(
            KeySpec::MlDsa65
                .check_usage(KeyUsage::EncapsulateDecapsulate)
                .is_err()
        );
        assert!(KeySpec::MlKem512.signing_algorithms().is_empty());
    }
}
