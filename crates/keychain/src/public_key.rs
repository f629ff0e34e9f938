//! Public keys: parsed from SPKI (DER or PEM), exported as PEM, DER and JWK, and used to verify
//! signatures and encrypt locally, without a round trip to the backend.

use aws_lc_rs::digest::Digest;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey};
use aws_lc_rs::signature::{self as lc, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Decode;
use der::asn1::{ObjectIdentifier, UintRef};
use spki::SubjectPublicKeyInfoRef;

use crate::algorithm::{EncryptionAlgorithm, Hash, Message, SignatureScheme, SigningAlgorithm};
use crate::key::{Curve, KeySpec};
use crate::stream::MessageSource;
use crate::{Error, Result};

pub(crate) const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(crate) const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
pub(crate) const OID_ML_DSA_44: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17");
pub(crate) const OID_ML_DSA_65: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");
pub(crate) const OID_ML_DSA_87: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.19");
pub(crate) const OID_ML_KEM_512: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.1");
pub(crate) const OID_ML_KEM_768: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.2");
pub(crate) const OID_ML_KEM_1024: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.4.3");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

/// The type of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyKind {
    /// RSA with this many modulus bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// An EC point on this curve.
    Ec(Curve),
    /// Ed25519.
    Ed25519,
    /// ML-DSA (FIPS 204) with this parameter set: 44, 65 or 87.
    MlDsa(u16),
    /// ML-KEM (FIPS 203) with this parameter set: 512, 768 or 1024.
    MlKem(u16),
}

/// A PKCS#1 RSAPublicKey.
#[derive(der::Sequence)]
pub(crate) struct RsaPublicKeyDer<'a> {
    pub(crate) modulus: UintRef<'a>,
    pub(crate) public_exponent: UintRef<'a>,
}

/// A public key, as a SubjectPublicKeyInfo.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
    /// The SPKI's subjectPublicKey bits: PKCS#1 RSAPublicKey, an EC point, or 32 Ed25519 bytes.
    key_bytes: Vec<u8>,
    kind: PublicKeyKind,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("thumbprint", &self.jwk_thumbprint())
            .finish()
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let bad = |why: String| Error::invalid_input(format!("invalid public key: {why}"));
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|e| bad(e.to_string()))?;
        let key_bytes = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("subjectPublicKey has unused bits".into()))?
            .to_vec();
        let oid = spki.algorithm.oid;
        let kind = if oid == OID_RSA {
            let rsa = RsaPublicKeyDer::from_der(&key_bytes).map_err(|e| bad(e.to_string()))?;
            let n = rsa.modulus.as_bytes();
            let bits = n
                .first()
                .map(|top| (n.len() as u32 - 1) * 8 + (8 - top.leading_zeros()))
                .unwrap_or(0);
            if bits < 1024 || rsa.public_exponent.as_bytes().is_empty() {
                return Err(bad(format!("RSA modulus of {bits} bits is too small")));
            }
            PublicKeyKind::Rsa { bits }
        } else if oid == OID_EC {
            let params = spki
                .algorithm
                .parameters
                .ok_or_else(|| bad("EC key without curve parameters".into()))?;
            let curve_oid: ObjectIdentifier = params
                .decode_as()
                .map_err(|_| bad("EC parameters are not a named curve".into()))?;
            let curve = match curve_oid {
                c if c == OID_P256 => Curve::P256,
                c if c == OID_P384 => Curve::P384,
                c if c == OID_P521 => Curve::P521,
                c if c == OID_SECP256K1 => Curve::Secp256k1,
                other => return Err(bad(format!("unsupported EC curve {other}"))),
            };
            if key_bytes.len() != 1 + 2 * curve.field_len() || key_bytes[0] != 4 {
                return Err(bad(format!(
                    "expected an uncompressed {} point",
                    curve.jose_name()
                )));
            }
            let alg = ecdsa_verification(curve);
            UnparsedPublicKey::new(alg, &key_bytes)
                .parse()
                .map_err(|_| bad(format!("not a point on {}", curve.jose_name())))?;
            PublicKeyKind::Ec(curve)
        } else if oid == OID_ED25519 {
            if key_bytes.len() != 32 {
                return Err(bad("Ed25519 keys are 32 bytes".into()));
            }
            PublicKeyKind::Ed25519
        } else if let Some(level) = ml_dsa_level(oid) {
            if spki.algorithm.parameters.is_some() {
                return Err(bad("ML-DSA keys take no algorithm parameters".into()));
            }
            let kind = PublicKeyKind::MlDsa(level);
            if key_bytes.len() != ml_dsa_public_key_len(level) {
                return Err(bad(format!(
                    "ML-DSA-{level} public keys are {} bytes, not {}",
                    ml_dsa_public_key_len(level),
                    key_bytes.len()
                )));
            }
            kind
        } else if let Some(level) = ml_kem_level(oid) {
            if spki.algorithm.parameters.is_some() {
                return Err(bad("ML-KEM keys take no algorithm parameters".into()));
            }
            let want = crate::kem::public_key_len(level);
            if key_bytes.len() != want {
                return Err(bad(format!(
                    "ML-KEM-{level} public keys are {want} bytes, not {}",
                    key_bytes.len()
                )));
            }
            PublicKeyKind::MlKem(level)
        } else {
            return Err(bad(format!("unsupported key algorithm {oid}")));
        };
        Ok(PublicKey {
            spki: der.to_vec(),
            key_bytes,
            kind,
        })
    }

    /// Parses a PEM `PUBLIC KEY` block.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|e| Error::invalid_input(format!("invalid PEM public key: {e}")))?;
        if label != "PUBLIC KEY" {
            return Err(Error::invalid_input(format!(
                "expected a PEM PUBLIC KEY block, found {label}"
            )));
        }
        Self::from_der(&der)
    }

    /// Parses PEM or DER, whichever `bytes` holds.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match std::str::from_utf8(bytes) {
            Ok(s) if s.trim_start().starts_with("-----BEGIN") => Self::from_pem(s),
            _ => Self::from_der(bytes),
        }
    }

    /// The key type.
    pub fn kind(&self) -> PublicKeyKind {
        self.kind
    }

    /// The KMS key spec of this public key.
    pub fn key_spec(&self) -> Result<KeySpec> {
        match self.kind {
            PublicKeyKind::Rsa { bits: 2048 } => Ok(KeySpec::Rsa2048),
            PublicKeyKind::Rsa { bits: 3072 } => Ok(KeySpec::Rsa3072),
            PublicKeyKind::Rsa { bits: 4096 } => Ok(KeySpec::Rsa4096),
            PublicKeyKind::Rsa { bits } => Err(Error::invalid_input(format!(
                "RSA-{bits} has no KMS key spec"
            ))),
            PublicKeyKind::Ec(c) => Ok(c.key_spec()),
            PublicKeyKind::Ed25519 => Ok(KeySpec::EccNistEdwards25519),
            PublicKeyKind::MlDsa(44) => Ok(KeySpec::MlDsa44),
            PublicKeyKind::MlDsa(65) => Ok(KeySpec::MlDsa65),
            PublicKeyKind::MlDsa(87) => Ok(KeySpec::MlDsa87),
            PublicKeyKind::MlDsa(level) => Err(Error::invalid_input(format!(
                "ML-DSA-{level} has no KMS key spec"
            ))),
            PublicKeyKind::MlKem(512) => Ok(KeySpec::MlKem512),
            PublicKeyKind::MlKem(768) => Ok(KeySpec::MlKem768),
            PublicKeyKind::MlKem(1024) => Ok(KeySpec::MlKem1024),
            PublicKeyKind::MlKem(level) => Err(Error::invalid_input(format!(
                "ML-KEM-{level} has no KMS key spec"
            ))),
        }
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_der(&self) -> &[u8] {
        &self.spki
    }

    /// The PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        // Encoding a byte slice we already hold as PEM cannot fail.
        der::pem::encode_string("PUBLIC KEY", der::pem::LineEnding::LF, &self.spki)
            .unwrap_or_default()
    }

    /// The raw key inside the SPKI: a PKCS#1 RSAPublicKey, an uncompressed EC point, the
    /// 32 Ed25519 bytes, or the FIPS 204 / FIPS 203 encoded ML-DSA / ML-KEM public key.
    pub fn raw_key(&self) -> &[u8] {
        &self.key_bytes
    }

    /// The JWK (RFC 7517) of the key, without `kid`, `alg` or `use`. ML-DSA keys are written
    /// as the IETF draft "AKP" JWK (draft-ietf-cose-dilithium), whose required members are
    /// `kty`, `alg` (`ML-DSA-44`, `ML-DSA-65`, `ML-DSA-87`) and `pub`; ML-KEM keys the same
    /// way with `alg` `ML-KEM-512`, `ML-KEM-768` or `ML-KEM-1024` (draft-ietf-jose-pqc-kem).
    pub fn to_jwk(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self.kind {
            PublicKeyKind::Rsa { .. } => {
                let (n, e) = match RsaPublicKeyDer::from_der(&self.key_bytes) {
                    Ok(k) => (b64(k.modulus.as_bytes()), b64(k.public_exponent.as_bytes())),
                    Err(_) => (String::new(), String::new()),
                };
                serde_json::json!({"kty": "RSA", "n": n, "e": e})
            }
            PublicKeyKind::Ec(curve) => {
                let f = curve.field_len();
                let x = self.key_bytes.get(1..1 + f).unwrap_or_default();
                let y = self.key_bytes.get(1 + f..1 + 2 * f).unwrap_or_default();
                serde_json::json!({"kty": "EC", "crv": curve.jose_name(), "x": b64(x), "y": b64(y)})
            }
            PublicKeyKind::Ed25519 => {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&self.key_bytes)})
            }
            PublicKeyKind::MlDsa(level) => serde_json::json!({
                "kty": "AKP",
                "alg": format!("ML-DSA-{level}"),
                "pub": b64(&self.key_bytes)
            }),
            PublicKeyKind::MlKem(level) => serde_json::json!({
                "kty": "AKP",
                "alg": format!("ML-KEM-{level}"),
                "pub": b64(&self.key_bytes)
            }),
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): a stable `kid` for the key.
    pub fn jwk_thumbprint(&self) -> String {
        let jwk = self.to_jwk();
        let field = |k: &str| jwk.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        // RFC 7638: required members only, in lexicographic order, no whitespace.
        let canonical = match self.kind {
            PublicKeyKind::Rsa { .. } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                field("e"),
                field("n")
            ),
            PublicKeyKind::Ec(_) => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                field("crv"),
                field("x"),
                field("y")
            ),
            PublicKeyKind::Ed25519 => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, field("x"))
            }
            PublicKeyKind::MlDsa(_) | PublicKeyKind::MlKem(_) => format!(
                r#"{{"alg":"{}","kty":"AKP","pub":"{}"}}"#,
                field("alg"),
                field("pub")
            ),
        };
        URL_SAFE_NO_PAD.encode(Hash::Sha256.digest(canonical.as_bytes()))
    }

    /// Whether this key can verify `algorithm` signatures.
    pub fn supports(&self, algorithm: SigningAlgorithm) -> bool {
        (algorithm == SigningAlgorithm::Ed25519PhSha512 && self.kind == PublicKeyKind::Ed25519)
            || self.verification_algorithm(algorithm).is_ok()
    }

    fn verification_algorithm(
        &self,
        algorithm: SigningAlgorithm,
    ) -> Result<&'static dyn VerificationAlgorithm> {
        use SigningAlgorithm::*;
        let alg: &'static dyn VerificationAlgorithm = match (self.kind, algorithm) {
            (PublicKeyKind::Rsa { .. }, RsassaPkcs1V15Sha256) => &lc::RSA_PKCS1_2048_8192_SHA256,
            (PublicKeyKind::Rsa { .. }, RsassaPkcs1V15Sha384) => &lc::RSA_PKCS1_2048_8192_SHA384,
            (PublicKeyKind::Rsa { .. }, RsassaPkcs1V15Sha512) => &lc::RSA_PKCS1_2048_8192_SHA512,
            (PublicKeyKind::Rsa { .. }, RsassaPssSha256) => &lc::RSA_PSS_2048_8192_SHA256,
            (PublicKeyKind::Rsa { .. }, RsassaPssSha384) => &lc::RSA_PSS_2048_8192_SHA384,
            (PublicKeyKind::Rsa { .. }, RsassaPssSha512) => &lc::RSA_PSS_2048_8192_SHA512,
            (PublicKeyKind::Ec(c @ (Curve::P256 | Curve::Secp256k1)), EcdsaSha256)
            | (PublicKeyKind::Ec(c @ Curve::P384), EcdsaSha384)
            | (PublicKeyKind::Ec(c @ Curve::P521), EcdsaSha512) => ecdsa_verification(c),
            (PublicKeyKind::Ed25519, Ed25519Sha512) => &lc::ED25519,
            (PublicKeyKind::MlDsa(44), MlDsaShake256) => &lc::ML_DSA_44,
            (PublicKeyKind::MlDsa(65), MlDsaShake256) => &lc::ML_DSA_65,
            (PublicKeyKind::MlDsa(87), MlDsaShake256) => &lc::ML_DSA_87,
            (kind, alg) => {
                return Err(Error::invalid_input(format!(
                    "{alg} does not fit a {} public key",
                    describe_kind(kind)
                )));
            }
        };
        Ok(alg)
    }

    /// Verifies `signature` over `message` with `algorithm`. `Ok(false)` means the signature
    /// is wrong; `Err` means the question itself is wrong (an algorithm the key cannot do, a
    /// digest of the wrong length).
    pub fn verify(
        &self,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        message.check(algorithm)?;
        if algorithm == SigningAlgorithm::Ed25519PhSha512 && self.kind == PublicKeyKind::Ed25519 {
            // Ed25519ph with the 64-byte digest D as its message (prehash SHA-512(D)), as AWS
            // KMS signs it; a raw message m stands for D = SHA-512(m). aws-lc has no Ed25519ph.
            let digest = message.to_digest(algorithm)?;
            return crate::ed25519ph::verify(&self.key_bytes, &digest, signature);
        }
        if let (Message::ExternalMu(mu), PublicKeyKind::MlDsa(level)) = (message, self.kind) {
            // aws-lc verifies whole messages only; RustCrypto ml-dsa verifies against a μ.
            return crate::ml_dsa_stream::verify_external_mu(level, &self.key_bytes, mu, signature);
        }
        let alg = self.verification_algorithm(algorithm)?;
        let key = UnparsedPublicKey::new(alg, &self.key_bytes);
        let ok = match message {
            Message::Raw(m) => key.verify(m, signature).is_ok(),
            Message::Digest(d) => {
                let digest = Digest::import_less_safe(d, algorithm.hash().aws_lc())
                    .map_err(|_| Error::invalid_input("digest has the wrong length"))?;
                key.verify_digest(&digest, signature).is_ok()
            }
            Message::ExternalMu(_) => {
                return Err(Error::invalid_input(format!(
                    "an external μ is verified with an ML-DSA key, not a {} key",
                    describe_kind(self.kind)
                )));
            }
        };
        Ok(ok)
    }

    /// Verifies `signature` over the message `source` yields, read once and in constant
    /// memory whatever the algorithm: hashed as it streams for the digest algorithms, streamed
    /// through pure Ed25519's challenge hash or ML-DSA's μ for those. Results as
    /// [`PublicKey::verify`].
    pub fn verify_source(
        &self,
        source: &mut MessageSource<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        if !self.supports(algorithm) {
            // The same error `verify` gives, before anything is read.
            self.verification_algorithm(algorithm)?;
        }
        match (self.kind, algorithm) {
            (PublicKeyKind::Ed25519, SigningAlgorithm::Ed25519Sha512) => {
                crate::ed25519_stream::verify(&self.key_bytes, source, signature)
            }
            (PublicKeyKind::MlDsa(level), SigningAlgorithm::MlDsaShake256) => {
                crate::ml_dsa_stream::verify(level, &self.key_bytes, source, signature)
            }
            _ => {
                let digest = source.digest(algorithm.hash())?;
                self.verify(Message::Digest(&digest), signature, algorithm)
            }
        }
    }

    /// Encrypts `plaintext` locally with RSA-OAEP; the backend's private key decrypts it.
    pub fn encrypt(&self, plaintext: &[u8], algorithm: EncryptionAlgorithm) -> Result<Vec<u8>> {
        let oaep = match (self.kind, algorithm) {
            (PublicKeyKind::Rsa { .. }, EncryptionAlgorithm::RsaesOaepSha1) => &OAEP_SHA1_MGF1SHA1,
            (PublicKeyKind::Rsa { .. }, EncryptionAlgorithm::RsaesOaepSha256) => {
                &OAEP_SHA256_MGF1SHA256
            }
            (kind, alg) => {
                return Err(Error::invalid_input(format!(
                    "{alg} cannot encrypt with a {} public key",
                    describe_kind(kind)
                )));
            }
        };
        let key = aws_lc_rs::rsa::PublicEncryptingKey::from_der(&self.spki)
            .map_err(|_| Error::crypto("RSA public key rejected"))?;
        let key = OaepPublicEncryptingKey::new(key)
            .map_err(|_| Error::crypto("RSA public key rejected"))?;
        let max = key.max_plaintext_size(oaep);
        if plaintext.len() > max {
            return Err(Error::invalid_input(format!(
                "plaintext is {} bytes; {algorithm} with this key takes at most {max}",
                plaintext.len()
            )));
        }
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key
            .encrypt(oaep, plaintext, &mut out, None)
            .map_err(|_| Error::crypto("RSA-OAEP encryption failed"))?
            .len();
        out.truncate(n);
        Ok(out)
    }

    /// ML-DSA's external μ of the message `source` yields, read once in constant memory:
    /// SHAKE256(SHAKE256(public key, 64) ‖ 0x00 ‖ 0x00 ‖ M, 64), the empty context. Signing it
    /// as [`Message::ExternalMu`] (AWS KMS `MessageType=EXTERNAL_MU`) gives an ordinary
    /// ML-DSA signature of M, so a message of any size is signed by sending 64 bytes. Any
    /// other key type is [`Error::InvalidInput`].
    pub fn ml_dsa_external_mu(&self, source: &mut MessageSource<'_>) -> Result<[u8; 64]> {
        match self.kind {
            PublicKeyKind::MlDsa(level) => {
                crate::ml_dsa_stream::external_mu(level, &self.key_bytes, source)
            }
            kind => Err(Error::invalid_input(format!(
                "only ML-DSA keys have an external μ, not a {} key",
                describe_kind(kind)
            ))),
        }
    }

    /// Encapsulates a fresh shared secret to this ML-KEM public key, locally: the holder of
    /// the private key recovers the secret from the ciphertext with
    /// [`crate::Keychain::decapsulate`]. Any other key type is [`Error::InvalidInput`].
    pub fn encapsulate(&self) -> Result<crate::kem::Encapsulation> {
        match self.kind {
            PublicKeyKind::MlKem(level) => crate::kem::encapsulate(level, &self.key_bytes),
            kind => Err(Error::invalid_input(format!(
                "a {} public key cannot encapsulate; only ML-KEM keys can",
                describe_kind(kind)
            ))),
        }
    }

    /// The signature scheme families this key supports.
    pub fn schemes(&self) -> &'static [SignatureScheme] {
        match self.kind {
            PublicKeyKind::Rsa { .. } => &[SignatureScheme::RsaPkcs1v15, SignatureScheme::RsaPss],
            PublicKeyKind::Ec(_) => &[SignatureScheme::Ecdsa],
            PublicKeyKind::Ed25519 => &[SignatureScheme::Ed25519, SignatureScheme::Ed25519Ph],
            PublicKeyKind::MlDsa(_) => &[SignatureScheme::MlDsa],
            PublicKeyKind::MlKem(_) => &[],
        }
    }
}

pub(crate) fn ecdsa_verification(curve: Curve) -> &'static dyn VerificationAlgorithm {
    match curve {
        Curve::P256 => &lc::ECDSA_P256_SHA256_ASN1,
        Curve::P384 => &lc::ECDSA_P384_SHA384_ASN1,
        Curve::P521 => &lc::ECDSA_P521_SHA512_ASN1,
        Curve::Secp256k1 => &lc::ECDSA_P256K1_SHA256_ASN1,
        // Callers never pass Ed25519 here: it is not an ECDSA curve.
        Curve::Ed25519 => &lc::ED25519,
    }
}

fn describe_kind(kind: PublicKeyKind) -> String {
    match kind {
        PublicKeyKind::Rsa { bits } => format!("RSA-{bits}"),
        PublicKeyKind::Ec(c) => c.jose_name().to_string(),
        PublicKeyKind::Ed25519 => "Ed25519".to_string(),
        PublicKeyKind::MlDsa(level) => format!("ML-DSA-{level}"),
        PublicKeyKind::MlKem(level) => format!("ML-KEM-{level}"),
    }
}

/// The ML-KEM parameter set an SPKI algorithm OID names.
fn ml_kem_level(oid: ObjectIdentifier) -> Option<u16> {
    match oid {
        o if o == OID_ML_KEM_512 => Some(512),
        o if o == OID_ML_KEM_768 => Some(768),
        o if o == OID_ML_KEM_1024 => Some(1024),
        _ => None,
    }
}

/// The ML-DSA parameter set an SPKI algorithm OID names.
fn ml_dsa_level(oid: ObjectIdentifier) -> Option<u16> {
    match oid {
        o if o == OID_ML_DSA_44 => Some(44),
        o if o == OID_ML_DSA_65 => Some(65),
        o if o == OID_ML_DSA_87 => Some(87),
        _ => None,
    }
}

/// The length of an encoded ML-DSA public key (FIPS 204, table 2).
fn ml_dsa_public_key_len(level: u16) -> usize {
    match level {
        44 => 1312,
        65 => 1952,
        _ => 2592,
    }
}
