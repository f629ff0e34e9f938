//! ML-KEM: Encapsulate and Decapsulate, with keys of usage `ENCAPSULATE_DECAPSULATE`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{b64, blob, dry_run, input};

/// The one encapsulation algorithm KMS has.
const ML_KEM: &str = "ML_KEM";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KemInput {
    key_id: Option<String>,
    shared_secret_ciphertext_blob: Option<String>,
    encapsulation_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// `EncapsulationAlgorithm` is optional and `ML_KEM` is its only value.
fn check_algorithm(algorithm: Option<&str>) -> Result<(), KmsError> {
    match algorithm {
        None | Some(ML_KEM) => Ok(()),
        Some(other) => Err(KmsError::validation(format!(
            "1 validation error detected: Value '{}' at 'encapsulationAlgorithm' failed to \
             satisfy constraint: Member must satisfy enum value set: [ML_KEM]",
            crate::wire::clip(other)
        ))),
    }
}

pub(super) async fn encapsulate(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KemInput = input(body)?;
    check_algorithm(i.encapsulation_algorithm.as_deref())?;
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_kem()?;
    dry_run(i.dry_run)?;
    let encapsulation = cx.backend.encapsulate(&key).await?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "SharedSecret": b64(encapsulation.shared_secret.expose()),
        "SharedSecretCiphertextBlob": b64(&encapsulation.ciphertext),
        "EncapsulationAlgorithm": ML_KEM,
    }))
}

pub(super) async fn decapsulate(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KemInput = input(body)?;
    let ciphertext = blob(
        "SharedSecretCiphertextBlob",
        i.shared_secret_ciphertext_blob,
        1,
        6144,
    )?;
    check_algorithm(i.encapsulation_algorithm.as_deref())?;
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_kem()?;
    dry_run(i.dry_run)?;
    // A ciphertext of the wrong length for the key's parameter set is no ciphertext of it.
    let secret = cx
        .backend
        .decapsulate(&key, &ciphertext)
        .await
        .map_err(|e| match e {
            keychain::Error::InvalidInput { message } | keychain::Error::Crypto { message } => {
                KmsError::bad("InvalidCiphertextException", message)
            }
            other => other.into(),
        })?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "SharedSecret": b64(secret.expose()),
        "EncapsulationAlgorithm": ML_KEM,
    }))
}
