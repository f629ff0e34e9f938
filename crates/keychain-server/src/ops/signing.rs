//! Signatures and MACs: Sign, Verify, GenerateMac, VerifyMac.

use keychain::{MacAlgorithm, Message, SigningAlgorithm};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{b64, blob, dry_run, input, kms_enum, required};

/// The largest message KMS signs or MACs.
const MAX_MESSAGE: usize = 4096;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SignInput {
    key_id: Option<String>,
    message: Option<String>,
    message_type: Option<String>,
    signature: Option<String>,
    signing_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

/// KMS's `MessageType` (RAW by default).
#[derive(Clone, Copy, PartialEq, Eq)]
enum MessageType {
    Raw,
    Digest,
    ExternalMu,
}

impl MessageType {
    fn parse(message_type: Option<&str>) -> Result<MessageType, KmsError> {
        match message_type {
            None | Some("RAW") => Ok(MessageType::Raw),
            Some("DIGEST") => Ok(MessageType::Digest),
            Some("EXTERNAL_MU") => Ok(MessageType::ExternalMu),
            Some(other) => Err(KmsError::validation(format!(
                "1 validation error detected: Value '{}' at 'messageType' failed to satisfy \
                 constraint: Member must satisfy enum value set: [RAW, DIGEST, EXTERNAL_MU]",
                crate::wire::clip(other)
            ))),
        }
    }

    /// The message as the backend takes it, checked against the algorithm. KMS signs with
    /// ED25519_PH_SHA_512 only a DIGEST (which it hashes once more, as the library's
    /// `Message::Digest` does), so a RAW message is refused for it.
    fn message<'a>(
        self,
        bytes: &'a [u8],
        algorithm: SigningAlgorithm,
    ) -> Result<Message<'a>, KmsError> {
        if self == MessageType::Raw && algorithm == SigningAlgorithm::Ed25519PhSha512 {
            return Err(KmsError::validation(
                "ED25519_PH_SHA_512 signing algorithm requires KMS MessageType:DIGEST",
            ));
        }
        let message = match self {
            MessageType::Raw => Message::Raw(bytes),
            MessageType::Digest => Message::Digest(bytes),
            MessageType::ExternalMu => Message::ExternalMu(bytes),
        };
        message.check(algorithm)?;
        Ok(message)
    }
}

pub(super) async fn sign(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: SignInput = input(body)?;
    let message = blob("Message", i.message, 1, MAX_MESSAGE)?;
    let message_type = MessageType::parse(i.message_type.as_deref())?;
    let algorithm: SigningAlgorithm = kms_enum(
        "SigningAlgorithm",
        &required(i.signing_algorithm, "SigningAlgorithm")?,
    )?;
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_signing(algorithm)?;
    let message = message_type.message(&message, algorithm)?;
    dry_run(i.dry_run)?;
    let signature = cx.backend.sign(&key, message, algorithm).await?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "Signature": b64(&signature),
        "SigningAlgorithm": algorithm.as_str(),
    }))
}

pub(super) async fn verify(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: SignInput = input(body)?;
    let message = blob("Message", i.message, 1, MAX_MESSAGE)?;
    let signature = blob("Signature", i.signature, 1, 6144)?;
    let message_type = MessageType::parse(i.message_type.as_deref())?;
    let algorithm: SigningAlgorithm = kms_enum(
        "SigningAlgorithm",
        &required(i.signing_algorithm, "SigningAlgorithm")?,
    )?;
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_signing(algorithm)?;
    let message = message_type.message(&message, algorithm)?;
    dry_run(i.dry_run)?;
    let valid = match cx
        .backend
        .verify(&key, message, &signature, algorithm)
        .await
    {
        Ok(v) => v,
        // A signature that cannot even be parsed is a wrong signature.
        Err(keychain::Error::Crypto { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    if !valid {
        return Err(KmsError::bad(
            "KMSInvalidSignatureException",
            "the signature is not valid for this key, message and algorithm",
        ));
    }
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "SignatureValid": true,
        "SigningAlgorithm": algorithm.as_str(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MacInput {
    key_id: Option<String>,
    message: Option<String>,
    mac: Option<String>,
    mac_algorithm: Option<String>,
    #[allow(dead_code)]
    grant_tokens: Option<Vec<String>>,
    dry_run: Option<bool>,
}

pub(super) async fn generate_mac(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: MacInput = input(body)?;
    let message = blob("Message", i.message, 1, MAX_MESSAGE)?;
    let algorithm: MacAlgorithm =
        kms_enum("MacAlgorithm", &required(i.mac_algorithm, "MacAlgorithm")?)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_mac(algorithm)?;
    dry_run(i.dry_run)?;
    let mac = cx.backend.generate_mac(&key, &message, algorithm).await?;
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "Mac": b64(&mac),
        "MacAlgorithm": algorithm.as_str(),
    }))
}

pub(super) async fn verify_mac(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: MacInput = input(body)?;
    let message = blob("Message", i.message, 1, MAX_MESSAGE)?;
    let mac = blob("Mac", i.mac, 1, 6144)?;
    let algorithm: MacAlgorithm =
        kms_enum("MacAlgorithm", &required(i.mac_algorithm, "MacAlgorithm")?)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    info.check_mac(algorithm)?;
    dry_run(i.dry_run)?;
    let valid = match cx.backend.verify_mac(&key, &message, &mac, algorithm).await {
        Ok(v) => v,
        // A MAC the backend cannot even compare is a wrong MAC.
        Err(keychain::Error::Crypto { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    if !valid {
        return Err(KmsError::bad(
            "KMSInvalidMacException",
            "the MAC is not valid for this key, message and algorithm",
        ));
    }
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "MacValid": true,
        "MacAlgorithm": algorithm.as_str(),
    }))
}
