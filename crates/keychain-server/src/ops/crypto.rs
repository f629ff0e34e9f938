//! Encryption: Encrypt, Decrypt, ReEncrypt. A symmetric ciphertext names its key and key
//! version, so Decrypt needs no KeyId; the encryption context is bound to it.

use keychain::{EncryptionAlgorithm, EncryptionContext, KeyRef, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{b64, blob, check_len, dry_run, input, opt_enum, required};

/// The largest plaintext KMS encrypts directly.
const MAX_PLAINTEXT: usize = 4096;
/// The largest ciphertext KMS decrypts.
const MAX_CIPHERTEXT: usize = 6144;

/// Checks an encryption context against KMS's limits.
fn check_context(member: &str, context: &EncryptionContext) -> Result<(), KmsError> {
    let total: usize = context.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > 8192 {
        return Err(KmsError::validation(format!(
            "{member} is {total} bytes; at most 8192"
        )));
    }
    Ok(())
}

/// Encrypts under `key`; the ciphertext and the key's id.
pub(super) async fn encrypt_under(
    cx: &Context,
    key_id: Option<String>,
    plaintext: &[u8],
    algorithm: EncryptionAlgorithm,
    context: &EncryptionContext,
    dry: Option<bool>,
) -> Result<(Vec<u8>, String), KmsError> {
    let (key, info) = resolve(cx, key_id).await?;
    info.check_encryption(algorithm)?;
    if algorithm != EncryptionAlgorithm::SymmetricDefault && !context.is_empty() {
        return Err(KmsError::validation(
            "EncryptionContext is not supported with asymmetric keys",
        ));
    }
    dry_run(dry)?;
    let ciphertext = cx
        .backend
        .encrypt(&key, plaintext, algorithm, context)
        .await?;
    Ok((ciphertext, info.key_id))
}

/// Decrypts; the plaintext and the id of the key that decrypted it. A symmetric ciphertext
/// names its key: a different `key_id` is IncorrectKeyException, and no key id is needed.
async fn decrypt_blob(
    cx: &Context,
    key_id: Option<String>,
    ciphertext: &[u8],
    algorithm: EncryptionAlgorithm,
    context: &EncryptionContext,
    dry: Option<bool>,
) -> Result<(Secret, String), KmsError> {
    let invalid = || {
        KmsError::bad(
            "InvalidCiphertextException",
            "the ciphertext is not valid, or not for this key and encryption context",
        )
    };
    let key: KeyRef = if algorithm == EncryptionAlgorithm::SymmetricDefault {
        let named = cx
            .backend
            .ciphertext_key_id(ciphertext)
            .ok_or_else(invalid)?;
        if key_id.is_some() {
            let (_, info) = resolve(cx, key_id).await?;
            if info.key_id != named {
                return Err(KmsError::bad(
                    "IncorrectKeyException",
                    "The key ID in the request does not identify a CMK that can perform this \
                     operation.",
                ));
            }
        }
        KeyRef::key_id(&named)?
    } else {
        let key_id = key_id.ok_or_else(|| {
            KmsError::validation("KeyId is required to decrypt with an asymmetric key")
        })?;
        cx.caller.key_ref(&key_id)?
    };
    let info = match cx.backend.key_metadata(&key).await {
        Ok(info) => info,
        // The ciphertext names a key that no longer exists.
        Err(keychain::Error::NotFound { .. }) if key_id_is_from_blob(algorithm) => {
            return Err(invalid());
        }
        Err(e) => return Err(e.into()),
    };
    info.check_encryption(algorithm)?;
    dry_run(dry)?;
    let plaintext = cx
        .backend
        .decrypt(Some(&key), ciphertext, algorithm, context)
        .await
        .map_err(|e| match e {
            keychain::Error::Crypto { .. } => invalid(),
            other => other.into(),
        })?;
    Ok((plaintext, info.key_id))
}

fn key_id_is_from_blob(algorithm: EncryptionAlgorithm) -> bool {
    algorithm == EncryptionAlgorithm::SymmetricDefault
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptInput {
    key_id: Option<String>,
    plaintext: Option<String>,
    encryption_context: Option<EncryptionContext>,
    encryption_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

pub(super) async fn encrypt(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: EncryptInput = input(body)?;
    let plaintext = blob("Plaintext", i.plaintext, 1, MAX_PLAINTEXT)?;
    let context = i.encryption_context.unwrap_or_default();
    check_context("EncryptionContext", &context)?;
    let algorithm = opt_enum("EncryptionAlgorithm", i.encryption_algorithm.as_deref())?
        .unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    let (ciphertext, key_id) =
        encrypt_under(cx, i.key_id, &plaintext, algorithm, &context, i.dry_run).await?;
    Ok(json!({
        "CiphertextBlob": b64(&ciphertext),
        "KeyId": cx.caller.key_arn(&key_id),
        "EncryptionAlgorithm": algorithm.as_str(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptInput {
    ciphertext_blob: Option<String>,
    encryption_context: Option<EncryptionContext>,
    key_id: Option<String>,
    encryption_algorithm: Option<String>,
    recipient: Option<Value>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

pub(super) async fn decrypt(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: DecryptInput = input(body)?;
    let ciphertext = blob("CiphertextBlob", i.ciphertext_blob, 1, MAX_CIPHERTEXT)?;
    let context = i.encryption_context.unwrap_or_default();
    check_context("EncryptionContext", &context)?;
    let algorithm = opt_enum("EncryptionAlgorithm", i.encryption_algorithm.as_deref())?
        .unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    if i.recipient.is_some() {
        return Err(KmsError::unsupported(
            "Recipient (Nitro Enclaves attestation) is not supported by this server",
        ));
    }
    let (plaintext, key_id) =
        decrypt_blob(cx, i.key_id, &ciphertext, algorithm, &context, i.dry_run).await?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&key_id),
        "Plaintext": b64(plaintext.expose()),
        "EncryptionAlgorithm": algorithm.as_str(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptInput {
    ciphertext_blob: Option<String>,
    source_encryption_context: Option<EncryptionContext>,
    source_key_id: Option<String>,
    destination_key_id: Option<String>,
    destination_encryption_context: Option<EncryptionContext>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

pub(super) async fn re_encrypt(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ReEncryptInput = input(body)?;
    let ciphertext = blob("CiphertextBlob", i.ciphertext_blob, 1, MAX_CIPHERTEXT)?;
    let source_context = i.source_encryption_context.unwrap_or_default();
    check_context("SourceEncryptionContext", &source_context)?;
    let destination_context = i.destination_encryption_context.unwrap_or_default();
    check_context("DestinationEncryptionContext", &destination_context)?;
    let source_algorithm = opt_enum(
        "SourceEncryptionAlgorithm",
        i.source_encryption_algorithm.as_deref(),
    )?
    .unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    let destination_algorithm = opt_enum(
        "DestinationEncryptionAlgorithm",
        i.destination_encryption_algorithm.as_deref(),
    )?
    .unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    let destination = required(i.destination_key_id, "DestinationKeyId")?;
    check_len("DestinationKeyId", destination.chars().count(), 1, 2048)?;
    let (plaintext, source_key) = decrypt_blob(
        cx,
        i.source_key_id,
        &ciphertext,
        source_algorithm,
        &source_context,
        None,
    )
    .await?;
    let (reencrypted, destination_key) = encrypt_under(
        cx,
        Some(destination),
        plaintext.expose(),
        destination_algorithm,
        &destination_context,
        i.dry_run,
    )
    .await?;
    Ok(json!({
        "CiphertextBlob": b64(&reencrypted),
        "SourceKeyId": cx.caller.key_arn(&source_key),
        "KeyId": cx.caller.key_arn(&destination_key),
        "SourceEncryptionAlgorithm": source_algorithm.as_str(),
        "DestinationEncryptionAlgorithm": destination_algorithm.as_str(),
    }))
}
