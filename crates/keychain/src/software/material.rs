//! Key material of the software backend: generation, PKCS#8 (de)serialisation and the
//! private-key operations, on aws-lc-rs (ML-KEM private keys on RustCrypto `ml-kem`, see
//! [`crate::kem`]).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement;
use aws_lc_rs::digest::Digest;
use aws_lc_rs::encoding::{AsBigEndian, AsDer, EcPrivateKeyBin, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use aws_lc_rs::signature::{
    self as lc, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, PqdsaKeyPair,
    PqdsaSigningAlgorithm, RsaKeyPair,
};
use zeroize::Zeroizing;

use crate::agreement::KeyAgreementAlgorithm;
use crate::algorithm::{
    EncryptionAlgorithm, MacAlgorithm, Message, SignatureScheme, SigningAlgorithm,
};
use crate::kem::DecapsulationKey;
use crate::key::{Curve, KeyFamily, KeySpec};
use crate::public_key::PublicKey;
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::signature::normalize_low_s;
use crate::stream::MessageSource;
use crate::{Error, Result};

fn ecdsa_signing(curve: Curve) -> Result<&'static EcdsaSigningAlgorithm> {
    Ok(match curve {
        Curve::P256 => &lc::ECDSA_P256_SHA256_ASN1_SIGNING,
        Curve::P384 => &lc::ECDSA_P384_SHA384_ASN1_SIGNING,
        Curve::P521 => &lc::ECDSA_P521_SHA512_ASN1_SIGNING,
        Curve::Secp256k1 => &lc::ECDSA_P256K1_SHA256_ASN1_SIGNING,
        Curve::Ed25519 => return Err(Error::invalid_input("Ed25519 is not an ECDSA curve")),
    })
}

fn ml_dsa_signing(level: u16) -> &'static PqdsaSigningAlgorithm {
    match level {
        44 => &lc::ML_DSA_44_SIGNING,
        65 => &lc::ML_DSA_65_SIGNING,
        _ => &lc::ML_DSA_87_SIGNING,
    }
}

/// Generates new key material for `spec`; returns the plaintext PKCS#8 DER (asymmetric) or
/// raw key bytes (symmetric, HMAC).
pub(crate) fn generate(spec: KeySpec) -> Result<Secret> {
    let failed = |_| Error::crypto(format!("generating a {spec} key failed"));
    let bytes: Vec<u8> = match spec.family() {
        KeyFamily::Rsa(bits) => {
            let size = match bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                _ => KeySize::Rsa4096,
            };
            let kp = RsaKeyPair::generate(size).map_err(failed)?;
            let der: Pkcs8V1Der<'static> = kp.as_der().map_err(failed)?;
            der.as_ref().to_vec()
        }
        KeyFamily::Ec(curve) => {
            let kp = EcdsaKeyPair::generate(ecdsa_signing(curve)?).map_err(failed)?;
            kp.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
        }
        KeyFamily::Ed25519 => {
            let kp = Ed25519KeyPair::generate().map_err(failed)?;
            kp.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
        }
        KeyFamily::MlDsa(level) => {
            // aws-lc writes the seed-only PKCS#8 form (RFC 9881 / FIPS 204 seed).
            let kp = PqdsaKeyPair::generate(ml_dsa_signing(level)).map_err(failed)?;
            kp.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
        }
        // The seed-only PKCS#8 (64-byte d ‖ z), as OpenSSL 3.5 and Python cryptography write.
        KeyFamily::MlKem(level) => return DecapsulationKey::generate_pkcs8(level),
        KeyFamily::Symmetric => random_bytes(32)?,
        KeyFamily::Hmac(alg) => random_bytes(hmac_key_len(alg))?,
    };
    Ok(Secret::new(bytes))
}

/// The refusal of an external μ with any algorithm but ML-DSA (`Message::check` refuses it
/// first; this keeps the signing code total).
fn external_mu_is_ml_dsa(algorithm: SigningAlgorithm) -> Error {
    Error::invalid_input(format!(
        "an external μ is signed with ML_DSA_SHAKE_256 only, not {algorithm}"
    ))
}

fn hmac_key_len(alg: MacAlgorithm) -> usize {
    match alg {
        MacAlgorithm::HmacSha224 => 28,
        MacAlgorithm::HmacSha256 => 32,
        MacAlgorithm::HmacSha384 => 48,
        MacAlgorithm::HmacSha512 => 64,
    }
}

/// Loaded key material, ready to use.
// Always held in an `Arc` in the keystore's cache, so the RSA variant's size costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Material {
    Rsa {
        signing: RsaKeyPair,
        decrypting: OaepPrivateDecryptingKey,
    },
    Ec {
        key: EcdsaKeyPair,
        curve: Curve,
    },
    Ed25519 {
        key: Ed25519KeyPair,
        /// The seed, for Ed25519ph (signed outside aws-lc); zeroized on drop.
        seed: Zeroizing<[u8; 32]>,
    },
    MlDsa {
        key: PqdsaKeyPair,
        /// 44, 65 or 87.
        level: u16,
        /// The seed, for signing a streamed message (outside aws-lc); zeroized on drop.
        /// `None` for a key stored without it (expanded form only).
        seed: Option<Zeroizing<[u8; 32]>>,
    },
    MlKem(DecapsulationKey),
    Symmetric(LessSafeKey),
    Hmac(aws_lc_rs::hmac::Key),
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Material::Rsa { .. } => "Material::Rsa(redacted)",
            Material::Ec { .. } => "Material::Ec(redacted)",
            Material::Ed25519 { .. } => "Material::Ed25519(redacted)",
            Material::MlDsa { .. } => "Material::MlDsa(redacted)",
            Material::MlKem(_) => "Material::MlKem(redacted)",
            Material::Symmetric(_) => "Material::Symmetric(redacted)",
            Material::Hmac(_) => "Material::Hmac(redacted)",
        })
    }
}

impl Material {
    /// Loads material of `spec` from the bytes [`generate`] made (or an imported PKCS#8).
    /// The bytes are checked against the spec: an RSA-3072 file under an RSA-2048 key is an
    /// error, not a surprise.
    pub(crate) fn load(spec: KeySpec, bytes: &[u8]) -> Result<Self> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            Error::crypto(format!("stored {spec} key material rejected: {e}"))
        };
        let m = match spec.family() {
            KeyFamily::Rsa(bits) => {
                let signing = RsaKeyPair::from_pkcs8(bytes).map_err(rejected)?;
                if signing.public_modulus_len() * 8 != bits as usize {
                    return Err(Error::crypto(format!(
                        "stored key is RSA-{}, not {spec}",
                        signing.public_modulus_len() * 8
                    )));
                }
                let decrypting = PrivateDecryptingKey::from_pkcs8(bytes)
                    .map_err(rejected)
                    .and_then(|k| {
                        OaepPrivateDecryptingKey::new(k)
                            .map_err(|_| Error::crypto("RSA key unusable for OAEP"))
                    })?;
                Material::Rsa {
                    signing,
                    decrypting,
                }
            }
            KeyFamily::Ec(curve) => Material::Ec {
                key: EcdsaKeyPair::from_pkcs8(ecdsa_signing(curve)?, bytes).map_err(rejected)?,
                curve,
            },
            KeyFamily::Ed25519 => Material::Ed25519 {
                key: Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes).map_err(rejected)?,
                seed: crate::ed25519ph::seed_from_pkcs8(bytes)?,
            },
            KeyFamily::MlDsa(level) => Material::MlDsa {
                key: PqdsaKeyPair::from_pkcs8(ml_dsa_signing(level), bytes).map_err(rejected)?,
                level,
                seed: crate::ml_dsa_stream::seed_from_pkcs8(level, bytes),
            },
            KeyFamily::MlKem(level) => Material::MlKem(DecapsulationKey::from_pkcs8(level, bytes)?),
            KeyFamily::Symmetric => {
                let key = UnboundKey::new(&AES_256_GCM, bytes)
                    .map_err(|_| Error::crypto("stored AES key has the wrong length"))?;
                Material::Symmetric(LessSafeKey::new(key))
            }
            KeyFamily::Hmac(alg) => {
                if bytes.len() != hmac_key_len(alg) {
                    return Err(Error::crypto("stored HMAC key has the wrong length"));
                }
                Material::Hmac(aws_lc_rs::hmac::Key::new(alg.aws_lc(), bytes))
            }
        };
        Ok(m)
    }

    /// The public key (asymmetric keys only).
    pub(crate) fn public_key(&self) -> Result<PublicKey> {
        let der: Result<PublicKeyX509Der<'static>, _> = match self {
            Material::Rsa { signing, .. } => signing.public_key().as_der(),
            Material::Ec { key, .. } => key.public_key().as_der(),
            Material::Ed25519 { key, .. } => key.public_key().as_der(),
            Material::MlDsa { key, .. } => key.public_key().as_der(),
            Material::MlKem(key) => return PublicKey::from_der(&key.public_key_der()?),
            Material::Symmetric(_) | Material::Hmac(_) => {
                return Err(Error::invalid_input("symmetric keys have no public key"));
            }
        };
        let der = der.map_err(|_| Error::crypto("cannot encode the public key"))?;
        PublicKey::from_der(der.as_ref())
    }

    /// Signs; the caller has checked the algorithm against the key's spec.
    pub(crate) fn sign(
        &self,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        message.check(algorithm)?;
        let failed = |_| Error::crypto(format!("{algorithm} signing failed"));
        match (self, algorithm.scheme()) {
            (
                Material::Rsa { signing, .. },
                SignatureScheme::RsaPkcs1v15 | SignatureScheme::RsaPss,
            ) => {
                let encoding = rsa_encoding(algorithm)?;
                let mut sig = vec![0u8; signing.public_modulus_len()];
                match message {
                    Message::Raw(m) => signing
                        .sign(encoding, &SystemRandom::new(), m, &mut sig)
                        .map_err(failed)?,
                    Message::Digest(d) => {
                        let digest = import_digest(d, algorithm)?;
                        signing
                            .sign_digest(encoding, &digest, &mut sig)
                            .map_err(failed)?
                    }
                    Message::ExternalMu(_) => return Err(external_mu_is_ml_dsa(algorithm)),
                }
                Ok(sig)
            }
            (Material::Ec { key, curve }, SignatureScheme::Ecdsa) => {
                let sig = match message {
                    Message::Raw(m) => key.sign(&SystemRandom::new(), m).map_err(failed)?,
                    Message::Digest(d) => key
                        .sign_digest(&import_digest(d, algorithm)?)
                        .map_err(failed)?,
                    Message::ExternalMu(_) => return Err(external_mu_is_ml_dsa(algorithm)),
                };
                normalize_low_s(sig.as_ref(), *curve)
            }
            (Material::Ed25519 { key, .. }, SignatureScheme::Ed25519) => match message {
                Message::Raw(m) => Ok(key.try_sign(m).map_err(failed)?.as_ref().to_vec()),
                Message::Digest(_) => Err(Error::invalid_input(
                    "pure Ed25519 signs the message itself, not a digest",
                )),
                Message::ExternalMu(_) => Err(external_mu_is_ml_dsa(algorithm)),
            },
            (Material::Ed25519 { seed, .. }, SignatureScheme::Ed25519Ph) => {
                crate::ed25519ph::sign(seed, &message.to_digest(algorithm)?)
            }
            (Material::MlDsa { key, level, seed }, SignatureScheme::MlDsa) => match message {
                Message::Raw(m) => {
                    let mut sig = vec![0u8; key.algorithm().signature_len()];
                    let n = key.sign(m, &mut sig).map_err(failed)?;
                    sig.truncate(n);
                    Ok(sig)
                }
                // aws-lc signs whole messages only; RustCrypto ml-dsa signs a μ.
                Message::ExternalMu(mu) => match seed {
                    Some(seed) => crate::ml_dsa_stream::sign_external_mu(*level, seed, mu),
                    None => Err(Error::unsupported(
                        "software",
                        "signing an external μ with an ML-DSA key stored without its seed",
                    )),
                },
                Message::Digest(_) => Err(Error::invalid_input(
                    "ML-DSA signs the message itself, not a digest",
                )),
            },
            _ => Err(Error::invalid_input(format!(
                "{algorithm} does not fit this key"
            ))),
        }
    }

    /// Signs the message `source` yields with an algorithm that signs the message itself, in
    /// constant memory: pure Ed25519 reads it twice (the source must be re-readable), ML-DSA
    /// once. Digest algorithms hash it as it streams.
    pub(crate) fn sign_source(
        &self,
        source: &mut MessageSource<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        match (self, algorithm.scheme()) {
            (Material::Ed25519 { seed, .. }, SignatureScheme::Ed25519) => {
                crate::ed25519_stream::sign(seed, source)
            }
            (Material::MlDsa { level, seed, .. }, SignatureScheme::MlDsa) => match seed {
                Some(seed) => crate::ml_dsa_stream::sign(*level, seed, source),
                None => Err(Error::unsupported(
                    "software",
                    "signing a streamed message with an ML-DSA key stored without its seed",
                )),
            },
            _ if algorithm.accepts_digest() => {
                let digest = source.digest(algorithm.hash())?;
                self.sign(Message::Digest(&digest), algorithm)
            }
            _ => Err(Error::invalid_input(format!(
                "{algorithm} does not fit this key"
            ))),
        }
    }

    /// Key agreement with an EC key's private half and `peer`, a public key the caller has
    /// checked to be on the key's curve; any other key is [`Error::InvalidInput`]. The
    /// private scalar is copied into aws-lc's agreement key through a buffer zeroized on drop.
    pub(crate) fn agree(
        &self,
        algorithm: KeyAgreementAlgorithm,
        peer: &PublicKey,
    ) -> Result<Secret> {
        let Material::Ec { key, curve } = self else {
            return Err(Error::invalid_input("only EC keys do key agreement"));
        };
        match algorithm {
            KeyAgreementAlgorithm::Ecdh => {
                let failed = || {
                    Error::crypto(format!(
                        "loading the {} key for ECDH failed",
                        curve.jose_name()
                    ))
                };
                let scalar: EcPrivateKeyBin<'static> =
                    key.private_key().as_be_bytes().map_err(|_| failed())?;
                let private = agreement::PrivateKey::from_private_key(
                    crate::agreement::ecdh_algorithm(*curve)?,
                    scalar.as_ref(),
                )
                .map_err(|_| failed())?;
                crate::agreement::agree(&private, *curve, peer)
            }
        }
    }

    /// ML-KEM decapsulation; any other key is [`Error::InvalidInput`].
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<Secret> {
        match self {
            Material::MlKem(key) => key.decapsulate(ciphertext),
            _ => Err(Error::invalid_input("only ML-KEM keys decapsulate")),
        }
    }

    /// RSA-OAEP decryption.
    pub(crate) fn decrypt_oaep(
        &self,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
    ) -> Result<Secret> {
        let Material::Rsa { decrypting, .. } = self else {
            return Err(Error::invalid_input(format!(
                "{algorithm} needs an RSA key"
            )));
        };
        let oaep = match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => &OAEP_SHA1_MGF1SHA1,
            EncryptionAlgorithm::RsaesOaepSha256 => &OAEP_SHA256_MGF1SHA256,
            EncryptionAlgorithm::SymmetricDefault => {
                return Err(Error::invalid_input(
                    "SYMMETRIC_DEFAULT needs a symmetric key",
                ));
            }
        };
        let mut out = Zeroizing::new(vec![0u8; decrypting.min_output_size()]);
        let n = decrypting
            .decrypt(oaep, ciphertext, &mut out, None)
            .map_err(|_| {
                Error::crypto(format!(
                    "{algorithm} decryption failed: wrong key, wrong algorithm or damaged ciphertext"
                ))
            })?
            .len();
        Ok(Secret::new(out[..n].to_vec()))
    }

    /// AES-256-GCM sealing with a random nonce: returns `nonce ‖ ciphertext ‖ tag`.
    pub(crate) fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let Material::Symmetric(key) = self else {
            return Err(Error::invalid_input(
                "SYMMETRIC_DEFAULT needs a symmetric key",
            ));
        };
        let nonce_bytes = random_bytes(12)?;
        let nonce = Nonce::try_assume_unique_for_key(&nonce_bytes)
            .map_err(|_| Error::crypto("bad nonce"))?;
        let mut buf = plaintext.to_vec();
        key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| Error::crypto("AES-GCM encryption failed"))?;
        let mut out = nonce_bytes;
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`Material::seal`] made.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Secret> {
        let Material::Symmetric(key) = self else {
            return Err(Error::invalid_input(
                "SYMMETRIC_DEFAULT needs a symmetric key",
            ));
        };
        if sealed.len() < 12 + 16 {
            return Err(Error::crypto("ciphertext is truncated"));
        }
        let (nonce, body) = sealed.split_at(12);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::crypto("bad nonce"))?;
        let mut buf = Zeroizing::new(body.to_vec());
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| {
                Error::crypto(
                    "decryption failed: the ciphertext was tampered with, or the encryption context differs",
                )
            })?;
        Ok(Secret::new(plain.to_vec()))
    }

    /// HMAC.
    pub(crate) fn mac(&self, message: &[u8]) -> Result<Vec<u8>> {
        let Material::Hmac(key) = self else {
            return Err(Error::invalid_input("MACs need an HMAC key"));
        };
        Ok(aws_lc_rs::hmac::sign(key, message).as_ref().to_vec())
    }

    /// HMAC verification in constant time.
    pub(crate) fn verify_mac(&self, message: &[u8], mac: &[u8]) -> Result<bool> {
        let Material::Hmac(key) = self else {
            return Err(Error::invalid_input("MACs need an HMAC key"));
        };
        Ok(aws_lc_rs::hmac::verify(key, message, mac).is_ok())
    }
}

fn rsa_encoding(algorithm: SigningAlgorithm) -> Result<&'static lc::RsaSignatureEncoding> {
    use SigningAlgorithm::*;
    Ok(match algorithm {
        RsassaPkcs1V15Sha256 => &lc::RSA_PKCS1_SHA256,
        RsassaPkcs1V15Sha384 => &lc::RSA_PKCS1_SHA384,
        RsassaPkcs1V15Sha512 => &lc::RSA_PKCS1_SHA512,
        RsassaPssSha256 => &lc::RSA_PSS_SHA256,
        RsassaPssSha384 => &lc::RSA_PSS_SHA384,
        RsassaPssSha512 => &lc::RSA_PSS_SHA512,
        other => {
            return Err(Error::invalid_input(format!(
                "{other} is not an RSA algorithm"
            )));
        }
    })
}

fn import_digest(d: &[u8], algorithm: SigningAlgorithm) -> Result<Digest> {
    Digest::import_less_safe(d, algorithm.hash().aws_lc()).map_err(|_| {
        Error::invalid_input(format!(
            "digest is {} bytes but {algorithm} needs {}",
            d.len(),
            algorithm.hash().digest_len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_key::PublicKeyKind;

    #[test]
    fn ml_dsa_generate_load_sign_verify() {
        for (spec, level, sig_len) in [
            (KeySpec::MlDsa44, 44, 2420),
            (KeySpec::MlDsa65, 65, 3309),
            (KeySpec::MlDsa87, 87, 4627),
        ] {
            let pkcs8 = generate(spec).unwrap();
            let m = Material::load(spec, pkcs8.expose()).unwrap();
            let pk = m.public_key().unwrap();
            assert_eq!(pk.kind(), PublicKeyKind::MlDsa(level));
            assert_eq!(pk.key_spec().unwrap(), spec);
            assert_eq!(PublicKey::from_pem(&pk.to_pem()).unwrap(), pk);
            let alg = SigningAlgorithm::MlDsaShake256;
            let sig = m.sign(Message::Raw(b"hello"), alg).unwrap();
            assert_eq!(sig.len(), sig_len, "{spec}");
            assert!(pk.verify(Message::Raw(b"hello"), &sig, alg).unwrap());
            assert!(!pk.verify(Message::Raw(b"hellO"), &sig, alg).unwrap());
            // No hash-then-sign and no external μ.
            assert!(m.sign(Message::Digest(&[0u8; 64]), alg).is_err());
            assert!(pk.verify(Message::Digest(&[0u8; 64]), &sig, alg).is_err());
            // ML-DSA keys do only ML-DSA.
            assert!(!pk.supports(SigningAlgorithm::Ed25519Sha512));
            let jwk = pk.to_jwk();
            assert_eq!(jwk["kty"], "AKP");
            assert_eq!(jwk["alg"], format!("ML-DSA-{level}"));
            assert_eq!(pk.jwk_thumbprint().len(), 43);
        }
        // Material of one parameter set is not accepted as another.
        let pkcs8 = generate(KeySpec::MlDsa44).unwrap();
        assert!(Material::load(KeySpec::MlDsa65, pkcs8.expose()).is_err());
        assert!(Material::load(KeySpec::EccNistEdwards25519, pkcs8.expose()).is_err());
    }
}
