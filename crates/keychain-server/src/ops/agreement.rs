//! Key agreement: DeriveSharedSecret (ECDH) with keys of usage `KEY_AGREEMENT`.

use keychain::{KeyAgreementAlgorithm, PublicKey};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{b64, blob, dry_run, input, kms_enum, required};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeriveSharedSecretInput {
    key_id: Option<String>,
    key_agreement_algorithm: Option<String>,
    public_key: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
    recipient: Option<Value>,
}

/// Checks the request as KMS does — its members, then the key's usage and state, then the
/// peer's public key (a malformed one, or one of another type or curve, is a
/// ValidationException) — and derives the raw ECDH secret in the backend.
pub(super) async fn derive_shared_secret(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: DeriveSharedSecretInput = input(body)?;
    let algorithm: KeyAgreementAlgorithm = kms_enum(
        "KeyAgreementAlgorithm",
        &required(i.key_agreement_algorithm, "KeyAgreementAlgorithm")?,
    )?;
    let peer = blob("PublicKey", i.public_key, 1, 8192)?;
    if i.recipient.is_some() {
        return Err(KmsError::unsupported(
            "Recipient: this server has no attested environments (Nitro Enclaves, NitroTPM) \
             to encrypt a shared secret for",
        ));
    }
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_key_agreement()?;
    let peer_key = PublicKey::from_der(&peer)?;
    info.check_key_agreement_with(&peer_key)?;
    dry_run(i.dry_run)?;
    let secret = cx
        .backend
        .derive_shared_secret(&key, algorithm, &peer)
        .await?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "SharedSecret": b64(secret.expose()),
        "KeyAgreementAlgorithm": algorithm.as_str(),
        "KeyOrigin": info.origin.as_str(),
    }))
}
