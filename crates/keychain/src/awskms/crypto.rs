//! The data path of the AWS KMS backend: Sign, Verify, GetPublicKey, Encrypt, Decrypt,
//! GenerateDataKey, GenerateMac and VerifyMac, with usage and algorithm checked against
//! cached metadata before any call.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::MessageType;

use super::errors::{BACKEND, error_code, map_sdk_error};
use super::mapping::{
    data_key_spec_to_sdk, encryption_to_sdk, key_id_of, mac_to_sdk, signing_to_sdk,
};
use super::{AwsKmsBackend, MAX_RAW_MESSAGE, MAX_SYMMETRIC_PLAINTEXT};
use crate::algorithm::{
    DataKeySpec, EncryptionAlgorithm, Hash, MacAlgorithm, Message, SigningAlgorithm,
};
use crate::data_key::{DataKey, EncryptionContext};
use crate::key::{Curve, KeyFamily, KeyInfo, KeyState};
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::signature::normalize_low_s;
use crate::{Error, Result};

/// `info` with the state set to Enabled, to check usage and algorithm against cached
/// metadata without trusting a cached state (KMS checks the live state on every call).
pub(super) fn ignoring_state(info: &KeyInfo) -> KeyInfo {
    let mut i = info.clone();
    i.state = KeyState::Enabled;
    i
}

pub(super) fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| {
        context
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// The message type and bytes KMS gets: a digest as `DIGEST`, ML-DSA's external μ as
/// `EXTERNAL_MU`, a message as `RAW` (at most [`MAX_RAW_MESSAGE`] bytes; longer messages are
/// for the caller to hash, or for ML-DSA to reduce to μ, as
/// [`Capabilities::max_raw_message`] says). KMS takes ED25519_PH_SHA_512 with `DIGEST` only:
/// a message for it is hashed here with SHA-512, whatever its length, and sent as that digest
/// (which KMS hashes again, as it does every Ed25519ph digest).
pub(super) fn message_for_kms<'a>(
    message: Message<'a>,
    algorithm: SigningAlgorithm,
) -> Result<(MessageType, Cow<'a, [u8]>)> {
    match message {
        Message::Digest(d) => Ok((MessageType::Digest, Cow::Borrowed(d))),
        Message::ExternalMu(mu) => Ok((MessageType::ExternalMu, Cow::Borrowed(mu))),
        Message::Raw(m) if algorithm == SigningAlgorithm::Ed25519PhSha512 => {
            Ok((MessageType::Digest, Cow::Owned(Hash::Sha512.digest(m))))
        }
        Message::Raw(m) if m.len() <= MAX_RAW_MESSAGE => Ok((MessageType::Raw, Cow::Borrowed(m))),
        Message::Raw(m) => Err(Error::invalid_input(format!(
            "AWS KMS takes at most {MAX_RAW_MESSAGE} bytes of message with {algorithm}, and \
             this one is {} bytes; {}",
            m.len(),
            match algorithm {
                SigningAlgorithm::MlDsaShake256 => {
                    "sign its external μ instead (Keychain::sign_reader does)"
                }
                SigningAlgorithm::Ed25519Sha512 => {
                    "hash it and pass the digest with ED25519_PH_SHA_512"
                }
                _ => "hash it and pass the digest",
            }
        ))),
    }
}

pub(super) async fn sign(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    message: Message<'_>,
    algorithm: SigningAlgorithm,
) -> Result<Vec<u8>> {
    message.check(algorithm)?;
    let info = kms.metadata(key).await?;
    ignoring_state(&info).check_signing(algorithm)?;
    let (kind, bytes) = message_for_kms(message, algorithm)?;
    let out = kms
        .client_for(key)?
        .sign()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .message(Blob::new(bytes.into_owned()))
        .message_type(kind)
        .signing_algorithm(signing_to_sdk(algorithm))
        .send()
        .await;
    let signature = match out {
        Ok(o) => o
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| Error::crypto(format!("AWS KMS returned no signature for {key}")))?,
        Err(e) => return Err(kms.fail(e, "Sign", key).await),
    };
    match info.spec.family() {
        // KMS makes high-S secp256k1 signatures half of the time; Bitcoin and Ethereum
        // accept only the low-S twin, which verifies the same under ECDSA.
        KeyFamily::Ec(curve @ Curve::Secp256k1) => normalize_low_s(&signature, curve),
        _ => Ok(signature),
    }
}

pub(super) async fn verify(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    message: Message<'_>,
    signature: &[u8],
    algorithm: SigningAlgorithm,
) -> Result<bool> {
    message.check(algorithm)?;
    let info = kms.metadata(key).await?;
    ignoring_state(&info).check_signing(algorithm)?;
    if signature.is_empty() {
        return Ok(false);
    }
    let (kind, bytes) = message_for_kms(message, algorithm)?;
    let out = kms
        .client_for(key)?
        .verify()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .message(Blob::new(bytes.into_owned()))
        .message_type(kind)
        .signature(Blob::new(signature))
        .signing_algorithm(signing_to_sdk(algorithm))
        .send()
        .await;
    match out {
        Ok(o) => Ok(o.signature_valid()),
        Err(e) if error_code(&e) == Some("KMSInvalidSignatureException") => Ok(false),
        Err(e) => Err(kms.fail(e, "Verify", key).await),
    }
}

pub(super) async fn public_key(kms: &AwsKmsBackend, key: &KeyRef) -> Result<PublicKey> {
    if let Some(pk) = kms.cached_public_key(key) {
        return Ok(pk);
    }
    let info = kms.metadata(key).await?;
    if !info.spec.is_asymmetric() {
        return Err(Error::key_usage(
            info.display_name(),
            format!("{} keys have no public key", info.spec),
        ));
    }
    let out = match kms
        .client_for(key)?
        .get_public_key()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) => return Err(kms.fail(e, "GetPublicKey", key).await),
    };
    let der = out
        .public_key()
        .ok_or_else(|| Error::crypto(format!("AWS KMS returned no public key for {key}")))?;
    let pk = PublicKey::from_der(der.as_ref())?;
    kms.remember_public_key(key, &pk);
    Ok(pk)
}

pub(super) async fn encrypt(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    plaintext: &[u8],
    algorithm: EncryptionAlgorithm,
    context: &EncryptionContext,
) -> Result<Vec<u8>> {
    let info = kms.metadata(key).await?;
    ignoring_state(&info).check_encryption(algorithm)?;
    match algorithm {
        EncryptionAlgorithm::SymmetricDefault => {
            if plaintext.len() > MAX_SYMMETRIC_PLAINTEXT {
                return Err(Error::invalid_input(format!(
                    "plaintext is {} bytes; direct encryption takes at most \
                     {MAX_SYMMETRIC_PLAINTEXT} (use envelope encryption for more)",
                    plaintext.len()
                )));
            }
        }
        EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => {
            if !context.is_empty() {
                return Err(Error::invalid_input(
                    "RSA encryption takes no encryption context",
                ));
            }
            if let KeyFamily::Rsa(bits) = info.spec.family() {
                let h = if algorithm == EncryptionAlgorithm::RsaesOaepSha1 {
                    20
                } else {
                    32
                };
                let max = (bits as usize / 8).saturating_sub(2 * h + 2);
                if plaintext.len() > max {
                    return Err(Error::invalid_input(format!(
                        "plaintext is {} bytes; {algorithm} with a {} key takes at most {max}",
                        plaintext.len(),
                        info.spec
                    )));
                }
            }
        }
    }
    let out = kms
        .client_for(key)?
        .encrypt()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .plaintext(Blob::new(plaintext))
        .set_encryption_context(context_map(context))
        .encryption_algorithm(encryption_to_sdk(algorithm))
        .send()
        .await;
    match out {
        Ok(o) => o
            .ciphertext_blob()
            .map(|c| c.as_ref().to_vec())
            .ok_or_else(|| Error::crypto(format!("AWS KMS returned no ciphertext for {key}"))),
        Err(e) => Err(kms.fail(e, "Encrypt", key).await),
    }
}

pub(super) async fn decrypt(
    kms: &AwsKmsBackend,
    key: Option<&KeyRef>,
    ciphertext: &[u8],
    algorithm: EncryptionAlgorithm,
    context: &EncryptionContext,
) -> Result<Secret> {
    if algorithm != EncryptionAlgorithm::SymmetricDefault {
        if key.is_none() {
            return Err(Error::invalid_input(
                "RSA ciphertexts need the key to be named",
            ));
        }
        if !context.is_empty() {
            return Err(Error::invalid_input(
                "RSA decryption takes no encryption context",
            ));
        }
    }
    if ciphertext.is_empty() {
        return Err(Error::invalid_input("empty ciphertext"));
    }
    if let Some(k) = key {
        let info = kms.metadata(k).await?;
        ignoring_state(&info).check_encryption(algorithm)?;
    }
    let client = match key {
        Some(k) => kms.client_for(k)?,
        None => kms.inner.clients.base().clone(),
    };
    let out = client
        .decrypt()
        .set_grant_tokens(kms.grant_tokens())
        .set_key_id(key.map(KeyRef::kms_key_id))
        .ciphertext_blob(Blob::new(ciphertext))
        .set_encryption_context(context_map(context))
        .encryption_algorithm(encryption_to_sdk(algorithm))
        .send()
        .await;
    match out {
        Ok(o) => {
            let plaintext = o
                .plaintext
                .ok_or_else(|| Error::crypto("AWS KMS returned no plaintext"))?;
            Ok(Secret::new(plaintext.into_inner()))
        }
        Err(e) => Err(match key {
            Some(k) => kms.fail(e, "Decrypt", k).await,
            None => map_sdk_error(e, "Decrypt", "(the key named in the ciphertext)"),
        }),
    }
}

pub(super) async fn generate_data_key(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    spec: DataKeySpec,
    context: &EncryptionContext,
) -> Result<DataKey> {
    let info = kms.metadata(key).await?;
    ignoring_state(&info).check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
    let out = kms
        .client_for(key)?
        .generate_data_key()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .key_spec(data_key_spec_to_sdk(spec))
        .set_encryption_context(context_map(context))
        .send()
        .await;
    match out {
        Ok(o) => {
            let ciphertext = o
                .ciphertext_blob
                .map(Blob::into_inner)
                .ok_or_else(|| Error::crypto("AWS KMS returned no encrypted data key"))?;
            let plaintext = Secret::new(
                o.plaintext
                    .map(Blob::into_inner)
                    .ok_or_else(|| Error::crypto("AWS KMS returned no data key"))?,
            );
            // Never hand out a key of another size than asked: an AES-128 caller given
            // 32 bytes would silently use a different key than the one stored.
            if plaintext.len() != spec.len() {
                return Err(Error::Backend {
                    backend: BACKEND.into(),
                    operation: format!("GenerateDataKey on {key}"),
                    code: "InvalidResponse".into(),
                    message: format!(
                        "asked for a {spec} data key ({} bytes), got {} bytes",
                        spec.len(),
                        plaintext.len()
                    ),
                    retryable: false,
                });
            }
            Ok(DataKey {
                key_id: key_id_of(o.key_id.as_deref().unwrap_or(&info.key_id)),
                plaintext,
                ciphertext,
            })
        }
        Err(e) => Err(kms.fail(e, "GenerateDataKey", key).await),
    }
}

pub(super) async fn generate_mac(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    message: &[u8],
    algorithm: MacAlgorithm,
) -> Result<Vec<u8>> {
    let info = kms.metadata(key).await?;
    ignoring_state(&info).check_mac(algorithm)?;
    if message.is_empty() || message.len() > MAX_RAW_MESSAGE {
        return Err(Error::invalid_input(format!(
            "AWS KMS computes MACs over 1 to {MAX_RAW_MESSAGE} bytes, not {}",
            message.len()
        )));
    }
    let out = kms
        .client_for(key)?
        .generate_mac()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .message(Blob::new(message))
        .mac_algorithm(mac_to_sdk(algorithm))
        .send()
        .await;
    match out {
        Ok(o) => o
            .mac()
            .map(|m| m.as_ref().to_vec())
            .ok_or_else(|| Error::crypto(format!("AWS KMS returned no MAC for {key}"))),
        Err(e) => Err(kms.fail(e, "GenerateMac", key).await),
    }
}

pub(super) async fn verify_mac(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    message: &[u8],
    mac: &[u8],
    algorithm: MacAlgorithm,
) -> Result<bool> {
    let info = kms.metadata(key).await?;
    ignoring_state(&info).check_mac(algorithm)?;
    if message.is_empty() || message.len() > MAX_RAW_MESSAGE {
        return Err(Error::invalid_input(format!(
            "AWS KMS verifies MACs over 1 to {MAX_RAW_MESSAGE} bytes, not {}",
            message.len()
        )));
    }
    if mac.is_empty() {
        return Ok(false);
    }
    let out = kms
        .client_for(key)?
        .verify_mac()
        .set_grant_tokens(kms.grant_tokens())
        .key_id(key.kms_key_id())
        .message(Blob::new(message))
        .mac(Blob::new(mac))
        .mac_algorithm(mac_to_sdk(algorithm))
        .send()
        .await;
    match out {
        Ok(o) => Ok(o.mac_valid()),
        Err(e) if error_code(&e) == Some("KMSInvalidMacException") => Ok(false),
        Err(e) => Err(kms.fail(e, "VerifyMac", key).await),
    }
}
