//! Encryption: Encrypt, Decrypt, ReEncrypt. A symmetric ciphertext names its key and key
//! version, so Decrypt needs no KeyId; the encryption context is bound to it.

use keychain::{EncryptionAlgorithm, EncryptionContext, KeyInfo, KeyRef, Secret};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{b64, blob, check_len, dry_run, dry_run_succeeded, input, opt_enum, required};

/// The largest plaintext KMS encrypts directly.
const MAX_PLAINTEXT: usize = 4096;
/// The largest ciphertext KMS decrypts.
const MAX_CIPHERTEXT: usize = 6144;

/// Checks an encryption context against KMS's limits.
pub(super) fn check_context(member: &str, context: &EncryptionContext) -> Result<(), KmsError> {
    let total: usize = context.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > 8192 {
        return Err(KmsError::validation(format!(
            "{member} is {total} bytes; at most 8192"
        )));
    }
    Ok(())
}

/// The answer to a ciphertext that is not one of ours, not for this key, or not for this
/// encryption context.
fn invalid_ciphertext() -> KmsError {
    KmsError::bad(
        "InvalidCiphertextException",
        "the ciphertext is not valid, or not for this key and encryption context",
    )
}

/// The key `key_id` names, looked up once and checked for encrypting with `algorithm` and
/// `context`.
async fn encryption_key(
    cx: &Context,
    key_id: Option<String>,
    algorithm: EncryptionAlgorithm,
    context: &EncryptionContext,
) -> Result<(KeyRef, KeyInfo), KmsError> {
    let (key, info) = resolve(cx, key_id).await?;
    info.check_encryption(algorithm)?;
    if algorithm != EncryptionAlgorithm::SymmetricDefault && !context.is_empty() {
        return Err(KmsError::validation(
            "EncryptionContext is not supported with asymmetric keys",
        ));
    }
    Ok((key, info))
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
    let (key, info) = encryption_key(cx, key_id, algorithm, context).await?;
    dry_run(dry)?;
    let ciphertext = cx
        .backend
        .encrypt(&key, plaintext, algorithm, context)
        .await?;
    Ok((ciphertext, info.key_id))
}

/// The key that decrypts `ciphertext` with `algorithm`, and its metadata, read once and
/// checked for decrypting. A symmetric ciphertext names its key: a `key_id` naming another
/// key is IncorrectKeyException, and without one the named key is used. An asymmetric
/// ciphertext names nothing, so `key_id` is required.
async fn decryption_key(
    cx: &Context,
    key_id: Option<String>,
    ciphertext: &[u8],
    algorithm: EncryptionAlgorithm,
) -> Result<(KeyRef, KeyInfo), KmsError> {
    let (key, info) = if algorithm == EncryptionAlgorithm::SymmetricDefault {
        let named = cx
            .backend
            .ciphertext_key_id(ciphertext)
            .ok_or_else(invalid_ciphertext)?;
        let info = match key_id {
            Some(key_id) => {
                let (_, info) = resolve(cx, Some(key_id)).await?;
                if info.key_id != named {
                    return Err(KmsError::bad(
                        "IncorrectKeyException",
                        "The key ID in the request does not identify a CMK that can perform \
                         this operation.",
                    ));
                }
                info
            }
            None => match cx.backend.key_metadata(&KeyRef::key_id(&named)?).await {
                Ok(info) => {
                    // A multi-Region key's ciphertext decrypts only where the key is.
                    super::regions::check_visible(cx, &info).await?;
                    info
                }
                // The ciphertext names a key that does not exist (any more).
                Err(keychain::Error::NotFound { .. }) => return Err(invalid_ciphertext()),
                Err(e) => return Err(e.into()),
            },
        };
        (KeyRef::key_id(&named)?, info)
    } else {
        let key_id = key_id.ok_or_else(|| {
            KmsError::validation("KeyId is required to decrypt with an asymmetric key")
        })?;
        resolve(cx, Some(key_id)).await?
    };
    info.check_encryption(algorithm)?;
    Ok((key, info))
}

/// Decrypts with the key [`decryption_key`] chose; the plaintext.
async fn decrypt_with(
    cx: &Context,
    key: &KeyRef,
    ciphertext: &[u8],
    algorithm: EncryptionAlgorithm,
    context: &EncryptionContext,
) -> Result<Secret, KmsError> {
    cx.backend
        .decrypt(Some(key), ciphertext, algorithm, context)
        .await
        .map_err(|e| match e {
            keychain::Error::Crypto { .. } => invalid_ciphertext(),
            other => other.into(),
        })
}

/// The one `DryRunModifiers` value KMS defines: the dry run checks the key and the caller,
/// not the ciphertext (which may then be left out).
const IGNORE_CIPHERTEXT: &str = "IGNORE_CIPHERTEXT";

/// Whether `DryRunModifiers` asks to ignore the ciphertext; an unknown modifier is refused.
fn ignores_ciphertext(modifiers: Option<&[String]>) -> Result<bool, KmsError> {
    let modifiers = modifiers.unwrap_or_default();
    if let Some(other) = modifiers.iter().find(|m| *m != IGNORE_CIPHERTEXT) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{}' at 'dryRunModifiers' failed to satisfy \
             constraint: Member must satisfy enum value set: [{IGNORE_CIPHERTEXT}]",
            crate::wire::clip(other)
        )));
    }
    Ok(!modifiers.is_empty())
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
    dry_run_modifiers: Option<Vec<String>>,
}

pub(super) async fn decrypt(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: DecryptInput = input(body)?;
    let context = i.encryption_context.unwrap_or_default();
    check_context("EncryptionContext", &context)?;
    let algorithm = opt_enum("EncryptionAlgorithm", i.encryption_algorithm.as_deref())?
        .unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    if i.recipient.is_some() {
        return Err(KmsError::unsupported(
            "Recipient (Nitro Enclaves attestation) is not supported by this server",
        ));
    }
    let dry = i.dry_run == Some(true);
    if dry && ignores_ciphertext(i.dry_run_modifiers.as_deref())? {
        // Only the key is checked: the one KeyId names, which is then required.
        let (_, info) = resolve(cx, i.key_id).await?;
        info.check_encryption(algorithm)?;
        return Err(dry_run_succeeded());
    }
    let ciphertext = blob("CiphertextBlob", i.ciphertext_blob, 1, MAX_CIPHERTEXT)?;
    let (key, info) = decryption_key(cx, i.key_id, &ciphertext, algorithm).await?;
    dry_run(i.dry_run)?;
    let plaintext = decrypt_with(cx, &key, &ciphertext, algorithm, &context).await?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
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
    dry_run_modifiers: Option<Vec<String>>,
}

/// ReEncrypt: decrypts under the source key and encrypts under the destination key. A dry
/// run checks both keys (and, unless told to ignore it, that the ciphertext names its key)
/// and decrypts nothing.
pub(super) async fn re_encrypt(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ReEncryptInput = input(body)?;
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
    let dry = i.dry_run == Some(true);
    if dry && ignores_ciphertext(i.dry_run_modifiers.as_deref())? {
        let (_, info) = resolve(cx, i.source_key_id).await?;
        info.check_encryption(source_algorithm)?;
        encryption_key(
            cx,
            Some(destination),
            destination_algorithm,
            &destination_context,
        )
        .await?;
        return Err(dry_run_succeeded());
    }
    let ciphertext = blob("CiphertextBlob", i.ciphertext_blob, 1, MAX_CIPHERTEXT)?;
    let (source_ref, source_info) =
        decryption_key(cx, i.source_key_id, &ciphertext, source_algorithm).await?;
    if dry {
        encryption_key(
            cx,
            Some(destination),
            destination_algorithm,
            &destination_context,
        )
        .await?;
        return Err(dry_run_succeeded());
    }
    let plaintext = decrypt_with(
        cx,
        &source_ref,
        &ciphertext,
        source_algorithm,
        &source_context,
    )
    .await?;
    let (reencrypted, destination_key) = encrypt_under(
        cx,
        Some(destination),
        plaintext.expose(),
        destination_algorithm,
        &destination_context,
        None,
    )
    .await?;
    Ok(json!({
        "CiphertextBlob": b64(&reencrypted),
        "SourceKeyId": cx.caller.key_arn(&source_info.key_id),
        "KeyId": cx.caller.key_arn(&destination_key),
        "SourceEncryptionAlgorithm": source_algorithm.as_str(),
        "DestinationEncryptionAlgorithm": destination_algorithm.as_str(),
    }))
}
