//! The proof that a migrated key (in AWS KMS or on a PKCS#11 token) is the software key (or, after generate-and-switch, that
//! the new key works): public keys compared, signatures, OAEP ciphertexts, ECDH secrets and
//! MACs made on one side and checked on the other, and an encrypt/decrypt round trip in the
//! destination.

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};

use super::{Destination, Proof};
use crate::agreement::KeyAgreementAlgorithm;
use crate::algorithm::{EncryptionAlgorithm, MacAlgorithm, Message, SigningAlgorithm};
use crate::backend::Backend;
use crate::data_key::EncryptionContext;
use crate::key::{Curve, KeyFamily, KeyInfo, KeySpec, KeyUsage};
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::software::SoftwareBackend;
use crate::{Error, Result};

/// A failed proof.
fn disproved(check: &str, what: impl std::fmt::Display) -> Error {
    Error::crypto(format!("migration proof failed ({check}): {what}"))
}

/// A short fingerprint of a public key for messages: SHA-256 of the SPKI, first 8 bytes.
fn fingerprint(pk: &PublicKey) -> String {
    crate::algorithm::Hash::Sha256.digest(pk.to_der())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `alias/NAME` in KMS names the new key.
pub(super) async fn check_alias(
    to: &dyn Destination,
    alias: &KeyRef,
    key_id: &str,
) -> Result<Proof> {
    let kms = to.place();
    let info = to.describe_key(alias).await?;
    if info.key_id != key_id {
        return Err(disproved(
            "alias",
            format!(
                "{alias} names {kms} key {}, not the new key {key_id}",
                info.key_id
            ),
        ));
    }
    Ok(Proof {
        check: "alias",
        detail: format!("{alias} in {kms} names the new key {key_id}"),
    })
}

/// The algorithms a signing proof uses: both RSA paddings, else the spec's default.
fn proof_algorithms(spec: KeySpec) -> Vec<SigningAlgorithm> {
    match spec.family() {
        KeyFamily::Rsa(_) => vec![
            SigningAlgorithm::RsassaPkcs1V15Sha256,
            SigningAlgorithm::RsassaPssSha256,
        ],
        _ => spec.default_signing_algorithm().into_iter().collect(),
    }
}

/// The ECDH curve of a KEY_AGREEMENT key.
fn ecdh_curve(spec: KeySpec) -> Result<Curve> {
    match spec.family() {
        KeyFamily::Ec(curve) => Ok(curve),
        _ => Err(Error::invalid_input(format!(
            "{spec} keys do not do key agreement"
        ))),
    }
}

/// ECDH: KMS derives the secret of its key and a fresh peer; the peer derives it locally
/// with `expected`, the public key the KMS key should have. Equal secrets prove KMS holds
/// the private half of `expected`.
async fn ecdh_matches(
    to: &dyn Destination,
    dst: &KeyRef,
    spec: KeySpec,
    expected: &PublicKey,
) -> Result<bool> {
    let curve = ecdh_curve(spec)?;
    let failed = |_| Error::crypto("local ECDH failed");
    let peer = agreement::PrivateKey::generate(crate::agreement::ecdh_algorithm(curve)?)
        .map_err(failed)?;
    let peer_der: PublicKeyX509Der<'static> = peer
        .compute_public_key()
        .map_err(failed)?
        .as_der()
        .map_err(failed)?;
    let from_kms = to
        .derive_shared_secret(dst, KeyAgreementAlgorithm::Ecdh, peer_der.as_ref())
        .await?;
    let local = crate::agreement::agree(&peer, curve, expected)?;
    Ok(from_kms == local)
}

/// A random message (and its digest, for algorithms that sign digests) for a proof.
struct ProofMessage {
    raw: Vec<u8>,
    digest: Vec<u8>,
}

impl ProofMessage {
    fn new() -> Result<Self> {
        Ok(ProofMessage {
            raw: random_bytes(64)?,
            digest: Vec::new(),
        })
    }

    fn for_algorithm(&mut self, alg: SigningAlgorithm) -> Message<'_> {
        if alg.accepts_digest() {
            self.digest = alg.hash().digest(&self.raw);
            Message::Digest(&self.digest)
        } else {
            Message::Raw(&self.raw)
        }
    }
}

/// The name of what a proof signs (for messages).
fn signed_what(m: Message<'_>) -> &'static str {
    match m {
        Message::Digest(_) => "digest",
        Message::Raw(_) => "message",
        Message::ExternalMu(_) => "external μ",
    }
}

/// The proofs that the KMS key is the software key (import).
pub(super) async fn prove_same_key(
    from: &SoftwareBackend,
    src: &KeyRef,
    to: &dyn Destination,
    dst: &KeyRef,
    source: &KeyInfo,
) -> Result<(Vec<Proof>, Vec<String>)> {
    let kms = to.place();
    let spec = source.spec;
    let mut proofs = Vec::new();
    let mut notes = Vec::new();

    if spec.is_asymmetric() {
        let source_pk = from.public_key(src).await?;
        let kms_pk = to.public_key(dst).await?;
        if kms_pk.to_der() != source_pk.to_der() {
            return Err(disproved(
                "public-key",
                format!(
                    "the {kms} public key ({}) differs from the software key's ({})",
                    fingerprint(&kms_pk),
                    fingerprint(&source_pk)
                ),
            ));
        }
        proofs.push(Proof {
            check: "public-key",
            detail: format!(
                "the {kms} public key equals the software key's (SPKI SHA-256 {}…)",
                fingerprint(&kms_pk)
            ),
        });
        match source.usage {
            KeyUsage::SignVerify => {
                for alg in proof_algorithms(spec) {
                    let mut pm = ProofMessage::new()?;
                    let m = pm.for_algorithm(alg);
                    let what = signed_what(m);
                    let by_kms = to.sign(dst, m, alg).await?;
                    if !source_pk.verify(m, &by_kms, alg)? {
                        return Err(disproved(
                            "signature",
                            format!(
                                "a {alg} signature by {kms} does not verify with the software \
                                 key's public key"
                            ),
                        ));
                    }
                    let by_source = from.sign(src, m, alg).await?;
                    if !kms_pk.verify(m, &by_source, alg)? {
                        return Err(disproved(
                            "signature",
                            format!(
                                "a {alg} signature by the software key does not verify with \
                                 the {kms} public key"
                            ),
                        ));
                    }
                    if !to.verify(dst, m, &by_source, alg).await? {
                        return Err(disproved(
                            "signature",
                            format!("{kms} Verify refuses the software key's {alg} signature"),
                        ));
                    }
                    proofs.push(Proof {
                        check: "signature",
                        detail: format!(
                            "{alg}: a random {what} signed by {kms} verifies with the software \
                             key's public key, and one signed by the software key verifies \
                             with the {kms} public key and with {kms} Verify"
                        ),
                    });
                }
            }
            KeyUsage::EncryptDecrypt => {
                let alg = to.oaep_proof_algorithm();
                let none = EncryptionContext::new();
                let plaintext = Secret::new(random_bytes(32)?);
                let to_source = source_pk.encrypt(plaintext.expose(), alg)?;
                if to.decrypt(Some(dst), &to_source, alg, &none).await? != plaintext {
                    return Err(disproved(
                        "oaep",
                        format!(
                            "{kms} does not decrypt a ciphertext made to the software key's public key"
                        ),
                    ));
                }
                let to_kms = kms_pk.encrypt(plaintext.expose(), alg)?;
                if from.decrypt(Some(src), &to_kms, alg, &none).await? != plaintext {
                    return Err(disproved(
                        "oaep",
                        format!(
                            "the software key does not decrypt a ciphertext made to the {kms} \
                         public key"
                        ),
                    ));
                }
                proofs.push(Proof {
                    check: "oaep",
                    detail: format!(
                        "{alg}: random bytes encrypted to the software key's public key \
                         decrypt in {kms}, and bytes encrypted to the {kms} public key decrypt \
                         with the software key"
                    ),
                });
            }
            KeyUsage::KeyAgreement => {
                if !ecdh_matches(to, dst, spec, &source_pk).await? {
                    return Err(disproved(
                        "ecdh",
                        format!(
                            "{kms} DeriveSharedSecret and local ECDH with the software key's public \
                         key disagree"
                        ),
                    ));
                }
                proofs.push(Proof {
                    check: "ecdh",
                    detail: format!(
                        "{kms} DeriveSharedSecret with a fresh peer key gives the secret \
                             the peer derives with the software key's public key"
                    ),
                });
            }
            KeyUsage::EncapsulateDecapsulate => {
                let sent = source_pk.encapsulate()?;
                if to.decapsulate(dst, &sent.ciphertext).await? != sent.shared_secret {
                    return Err(disproved(
                        "kem",
                        format!(
                            "{kms} does not decapsulate a ciphertext made to the software key's \
                         public key"
                        ),
                    ));
                }
                let sent = kms_pk.encapsulate()?;
                if from.decapsulate(src, &sent.ciphertext).await? != sent.shared_secret {
                    return Err(disproved(
                        "kem",
                        format!(
                            "the software key does not decapsulate a ciphertext made to the {kms} \
                         public key"
                        ),
                    ));
                }
                proofs.push(Proof {
                    check: "kem",
                    detail: format!(
                        "a secret encapsulated to the software key's public key \
                             decapsulates in {kms}, and one encapsulated to the {kms} public key \
                             decapsulates with the software key"
                    ),
                });
            }
            KeyUsage::GenerateVerifyMac => {}
        }
        return Ok((proofs, notes));
    }

    match spec.family() {
        KeyFamily::Hmac(alg) => {
            let message = random_bytes(64)?;
            let by_source = from.generate_mac(src, &message, alg).await?;
            let by_kms = to.generate_mac(dst, &message, alg).await?;
            if by_source != by_kms {
                return Err(disproved(
                    "mac",
                    format!("{kms} and the software key compute different {alg} MACs"),
                ));
            }
            if !to.verify_mac(dst, &message, &by_source, alg).await? {
                return Err(disproved(
                    "mac",
                    format!("{kms} VerifyMac refuses the software key's MAC"),
                ));
            }
            if !from.verify_mac(src, &message, &by_kms, alg).await? {
                return Err(disproved(
                    "mac",
                    format!("the software key refuses the MAC made by {kms}"),
                ));
            }
            proofs.push(Proof {
                check: "mac",
                detail: format!(
                    "{alg}: {kms} and the software key compute the same MAC of a random \
                     message, and each verifies the other's"
                ),
            });
        }
        KeyFamily::Symmetric => {
            proofs.push(round_trip(to, dst).await?);
            notes.push(format!(
                "equality with the software key cannot be observed: {kms} ciphertexts are \
                 opaque and {kms} never returns key material; it follows from importing exactly \
                 the bytes of the software key's version {} ({kms} binds a key to the first \
                 material imported into it and refuses other material later with \
                 IncorrectKeyMaterialException)",
                source.versions
            ));
        }
        _ => {}
    }
    Ok((proofs, notes))
}

/// KMS encrypts and decrypts random bytes with the key.
async fn round_trip(to: &dyn Destination, dst: &KeyRef) -> Result<Proof> {
    let kms = to.place();
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let context: EncryptionContext = [("purpose".to_string(), "keychain-migration".to_string())]
        .into_iter()
        .collect();
    let plaintext = Secret::new(random_bytes(32)?);
    let ciphertext = to.encrypt(dst, plaintext.expose(), alg, &context).await?;
    if to.decrypt(Some(dst), &ciphertext, alg, &context).await? != plaintext {
        return Err(disproved(
            "round-trip",
            format!("{kms} does not decrypt its own ciphertext to the plaintext"),
        ));
    }
    Ok(Proof {
        check: "round-trip",
        detail: format!("{kms} encrypts random bytes with the new key and decrypts them back"),
    })
}

/// Generate-and-switch: the new key works (it is, by design, not the software key).
pub(super) async fn self_test(
    to: &dyn Destination,
    dst: &KeyRef,
    source: &KeyInfo,
) -> Result<(Vec<Proof>, Vec<String>)> {
    let kms = to.place();
    let spec = source.spec;
    let mut proofs = Vec::new();
    let notes = vec![format!(
        "the {kms} key was generated in {kms}: it is a new {spec} key, not the software key"
    )];
    match (source.usage, spec.family()) {
        (KeyUsage::SignVerify, _) => {
            let kms_pk = to.public_key(dst).await?;
            for alg in proof_algorithms(spec) {
                let mut pm = ProofMessage::new()?;
                let m = pm.for_algorithm(alg);
                let signature = to.sign(dst, m, alg).await?;
                if !kms_pk.verify(m, &signature, alg)? {
                    return Err(disproved(
                        "signature",
                        format!("a {alg} signature by {kms} does not verify with its public key"),
                    ));
                }
                proofs.push(Proof {
                    check: "signature",
                    detail: format!(
                        "{alg}: a random {} signed by the new key verifies with its public key",
                        signed_what(m)
                    ),
                });
            }
        }
        (KeyUsage::EncryptDecrypt, KeyFamily::Symmetric) => proofs.push(round_trip(to, dst).await?),
        (KeyUsage::EncryptDecrypt, _) => {
            let alg = to.oaep_proof_algorithm();
            let kms_pk = to.public_key(dst).await?;
            let plaintext = Secret::new(random_bytes(32)?);
            let ciphertext = kms_pk.encrypt(plaintext.expose(), alg)?;
            let none = EncryptionContext::new();
            if to.decrypt(Some(dst), &ciphertext, alg, &none).await? != plaintext {
                return Err(disproved(
                    "oaep",
                    format!("{kms} does not decrypt a ciphertext made to its public key"),
                ));
            }
            proofs.push(Proof {
                check: "oaep",
                detail: format!(
                    "{alg}: random bytes encrypted to the new public key decrypt in {kms}"
                ),
            });
        }
        (KeyUsage::KeyAgreement, _) => {
            let kms_pk = to.public_key(dst).await?;
            if !ecdh_matches(to, dst, spec, &kms_pk).await? {
                return Err(disproved(
                    "ecdh",
                    format!("{kms} DeriveSharedSecret disagrees with local ECDH on its public key"),
                ));
            }
            proofs.push(Proof {
                check: "ecdh",
                detail: format!(
                    "{kms} DeriveSharedSecret with a fresh peer key gives the secret the \
                         peer derives with the new public key"
                ),
            });
        }
        (KeyUsage::EncapsulateDecapsulate, _) => {
            let sent = to.public_key(dst).await?.encapsulate()?;
            if to.decapsulate(dst, &sent.ciphertext).await? != sent.shared_secret {
                return Err(disproved(
                    "kem",
                    format!("{kms} does not decapsulate a ciphertext made to its public key"),
                ));
            }
            proofs.push(Proof {
                check: "kem",
                detail: format!(
                    "a secret encapsulated to the new public key decapsulates in {kms}"
                ),
            });
        }
        (KeyUsage::GenerateVerifyMac, _) => {
            let alg: MacAlgorithm = spec
                .mac_algorithms()
                .first()
                .copied()
                .ok_or_else(|| Error::invalid_input(format!("{spec} keys make no MACs")))?;
            let message = random_bytes(64)?;
            let mac = to.generate_mac(dst, &message, alg).await?;
            if !to.verify_mac(dst, &message, &mac, alg).await? {
                return Err(disproved(
                    "mac",
                    format!("{kms} VerifyMac refuses its own MAC"),
                ));
            }
            proofs.push(Proof {
                check: "mac",
                detail: format!("{alg}: the new key makes a MAC that {kms} verifies"),
            });
        }
    }
    Ok((proofs, notes))
}
