//! Imported key material: GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial, for keys created with `Origin: EXTERNAL`.
//!
//! GetParametersForImport makes a fresh RSA wrapping key pair and an import token bound to
//! the key, the wrapping algorithm and an expiry 24 hours on, as KMS does. The private half
//! stays in this process's memory only (never on disk): a restart forgets pending imports,
//! and their tokens are then refused like expired ones would be. ImportKeyMaterial unwraps
//! the material (RSA-OAEP, or RSA-OAEP then AES key wrap with padding, RFC 5649) and hands
//! the plaintext to the backend, which stores it like any key's material.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use keychain::{KeyOrigin, KeyState, Secret};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::metadata::epoch;
use crate::wire::{b64, blob, clip, input, required};

/// A value outside an enum member's set, refused as KMS refuses it.
fn kms_enum_of(member: &str, value: &str) -> KmsError {
    KmsError::validation(format!(
        "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
         Member must satisfy enum value set",
        clip(value),
        crate::wire::camel(member)
    ))
}

/// How long import parameters stay valid (KMS: 24 hours).
const VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// Pending imports kept at once; the oldest goes first when more are asked for.
const MAX_PENDING: usize = 256;

/// How the material is wrapped (KMS's `AlgorithmSpec`, those this server accepts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wrapping {
    /// RSA-OAEP with SHA-1 / SHA-256 over the material itself.
    OaepSha1,
    OaepSha256,
    /// RSA-OAEP over an AES key, then AES-KWP of the material under it.
    AesKeyWrapSha1,
    AesKeyWrapSha256,
}

impl Wrapping {
    fn parse(value: &str) -> Result<Self, KmsError> {
        match value {
            "RSAES_OAEP_SHA_1" => Ok(Wrapping::OaepSha1),
            "RSAES_OAEP_SHA_256" => Ok(Wrapping::OaepSha256),
            "RSA_AES_KEY_WRAP_SHA_1" => Ok(Wrapping::AesKeyWrapSha1),
            "RSA_AES_KEY_WRAP_SHA_256" => Ok(Wrapping::AesKeyWrapSha256),
            "RSAES_PKCS1_V1_5" => Err(KmsError::validation(
                "the RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported; use \
                 RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256",
            )),
            "SM2PKE" => Err(KmsError::unsupported(
                "SM2PKE wrapping is only offered in the China Regions",
            )),
            other => Err(kms_enum_of("WrappingAlgorithm", other)),
        }
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            Wrapping::OaepSha1 | Wrapping::AesKeyWrapSha1 => &OAEP_SHA1_MGF1SHA1,
            Wrapping::OaepSha256 | Wrapping::AesKeyWrapSha256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// Parses `WrappingKeySpec`.
fn wrapping_key_size(value: &str) -> Result<KeySize, KmsError> {
    match value {
        "RSA_2048" => Ok(KeySize::Rsa2048),
        "RSA_3072" => Ok(KeySize::Rsa3072),
        "RSA_4096" => Ok(KeySize::Rsa4096),
        "SM2" => Err(KmsError::unsupported(
            "SM2 wrapping keys are only offered in the China Regions",
        )),
        other => Err(kms_enum_of("WrappingKeySpec", other)),
    }
}

/// An import waiting for its material.
struct Pending {
    key_id: String,
    wrapping: Wrapping,
    key: OaepPrivateDecryptingKey,
    valid_to: SystemTime,
}

/// The pending imports of this process, by import token.
fn pending() -> &'static Mutex<HashMap<Vec<u8>, Pending>> {
    static PENDING: OnceLock<Mutex<HashMap<Vec<u8>, Pending>>> = OnceLock::new();
    PENDING.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock_pending() -> Result<std::sync::MutexGuard<'static, HashMap<Vec<u8>, Pending>>, KmsError> {
    pending()
        .lock()
        .map_err(|_| KmsError::internal("the pending imports are unavailable"))
}

/// Refuses a key that does not take imported material, or not in its state.
fn check_importable(cx: &Context, info: &keychain::KeyInfo) -> Result<(), KmsError> {
    let arn = cx.caller.key_arn(&info.key_id);
    if info.origin != KeyOrigin::External {
        return Err(KmsError::unsupported(format!(
            "{arn} origin is {} which is not valid for this operation",
            info.origin
        )));
    }
    match info.state {
        KeyState::PendingImport | KeyState::Enabled | KeyState::Disabled => Ok(()),
        state => Err(KmsError::bad(
            "KMSInvalidStateException",
            format!("{arn} is {}", crate::metadata::state_name(state)),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParametersInput {
    key_id: Option<String>,
    wrapping_algorithm: Option<String>,
    wrapping_key_spec: Option<String>,
}

pub(super) async fn get_parameters_for_import(
    cx: &Context,
    body: Value,
) -> Result<Value, KmsError> {
    let i: ParametersInput = input(body)?;
    let key_id = required(i.key_id, "KeyId")?;
    let wrapping = Wrapping::parse(&required(i.wrapping_algorithm, "WrappingAlgorithm")?)?;
    let size = wrapping_key_size(&required(i.wrapping_key_spec, "WrappingKeySpec")?)?;
    let (_, info) = resolve(cx, Some(key_id)).await?;
    check_importable(cx, &info)?;
    // RSA key generation takes long (seconds for 4096 bits): off the async workers.
    let failed = || KmsError::internal("the wrapping key generation failed");
    let private = tokio::task::spawn_blocking(move || PrivateDecryptingKey::generate(size))
        .await
        .map_err(|_| failed())?
        .map_err(|_| failed())?;
    let public_der = private
        .public_key()
        .as_der()
        .map_err(|_| KmsError::internal("the wrapping public key could not be encoded"))?
        .as_ref()
        .to_vec();
    let key = OaepPrivateDecryptingKey::new(private).map_err(|_| failed())?;
    let mut token = vec![0u8; 32];
    aws_lc_rs::rand::fill(&mut token)
        .map_err(|_| KmsError::internal("no random bytes for the import token"))?;
    let now = SystemTime::now();
    let valid_to = now + VALIDITY;
    {
        let mut pending = lock_pending()?;
        pending.retain(|_, p| p.valid_to > now);
        while pending.len() >= MAX_PENDING {
            let oldest = pending
                .iter()
                .min_by_key(|(_, p)| p.valid_to)
                .map(|(t, _)| t.clone());
            match oldest {
                Some(t) => pending.remove(&t),
                None => break,
            };
        }
        pending.insert(
            token.clone(),
            Pending {
                key_id: info.key_id.clone(),
                wrapping,
                key,
                valid_to,
            },
        );
    }
    Ok(json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "ImportToken": b64(&token),
        "PublicKey": b64(&public_der),
        "ParametersValidTo": epoch(valid_to),
    }))
}

/// Unwraps `wrapped` with the pending import's key.
fn unwrap_material(pending: &Pending, wrapped: &[u8]) -> Result<Secret, KmsError> {
    let refused = || {
        KmsError::bad(
            "InvalidCiphertextException",
            "the encrypted key material could not be unwrapped with the import's wrapping key \
             and algorithm",
        )
    };
    let modulus = pending.key.key_size_bytes();
    let oaep = |ciphertext: &[u8]| -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let mut out = Zeroizing::new(vec![0u8; pending.key.min_output_size()]);
        let n = pending
            .key
            .decrypt(pending.wrapping.oaep(), ciphertext, &mut out, None)
            .map_err(|_| refused())?
            .len();
        out.truncate(n);
        Ok(out)
    };
    match pending.wrapping {
        Wrapping::OaepSha1 | Wrapping::OaepSha256 => {
            let material = oaep(wrapped)?;
            Ok(Secret::new(material.to_vec()))
        }
        Wrapping::AesKeyWrapSha1 | Wrapping::AesKeyWrapSha256 => {
            if wrapped.len() <= modulus {
                return Err(refused());
            }
            let (rsa_part, kwp_part) = wrapped.split_at(modulus);
            let aes_key = oaep(rsa_part)?;
            let algorithm = match aes_key.len() {
                16 => &AES_128,
                32 => &AES_256,
                _ => return Err(refused()),
            };
            let kek = AesKek::new(algorithm, &aes_key).map_err(|_| refused())?;
            let mut out = Zeroizing::new(vec![0u8; kwp_part.len()]);
            let n = kek
                .unwrap_with_padding(kwp_part, &mut out)
                .map_err(|_| refused())?
                .len();
            out.truncate(n);
            Ok(Secret::new(out.to_vec()))
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImportInput {
    key_id: Option<String>,
    import_token: Option<String>,
    encrypted_key_material: Option<String>,
    valid_to: Option<f64>,
    expiration_model: Option<String>,
    import_type: Option<String>,
    key_material_description: Option<String>,
    key_material_id: Option<String>,
}

pub(super) async fn import_key_material(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ImportInput = input(body)?;
    let key_id = required(i.key_id, "KeyId")?;
    let token = blob("ImportToken", i.import_token, 1, 6144)?;
    let wrapped = blob("EncryptedKeyMaterial", i.encrypted_key_material, 1, 6144)?;
    let expires = match i.expiration_model.as_deref() {
        None | Some("KEY_MATERIAL_EXPIRES") => {
            let at = i.valid_to.ok_or_else(|| {
                KmsError::validation(
                    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                )
            })?;
            if !at.is_finite() || at < 0.0 {
                return Err(KmsError::validation("ValidTo is not a date"));
            }
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(at.min(1e11)))
        }
        Some("KEY_MATERIAL_DOES_NOT_EXPIRE") => {
            if i.valid_to.is_some() {
                return Err(KmsError::validation(
                    "ValidTo must be omitted when the ExpirationModel is \
                     KEY_MATERIAL_DOES_NOT_EXPIRE",
                ));
            }
            None
        }
        Some(other) => return Err(kms_enum_of("ExpirationModel", other)),
    };
    if let Some(t) = i.import_type.as_deref()
        && !matches!(t, "NEW_KEY_MATERIAL" | "EXISTING_KEY_MATERIAL")
    {
        return Err(kms_enum_of("ImportType", t));
    }
    if let Some(d) = &i.key_material_description {
        crate::wire::check_len("KeyMaterialDescription", d.chars().count(), 0, 256)?;
    }
    if i.key_material_id.is_some() {
        return Err(KmsError::unsupported(
            "KeyMaterialId: this server keeps one key material per imported key",
        ));
    }
    let (key, info) = resolve(cx, Some(key_id)).await?;
    check_importable(cx, &info)?;
    let material = {
        let pending = lock_pending()?;
        let entry = pending.get(token.as_slice()).ok_or_else(|| {
            KmsError::bad(
                "InvalidImportTokenException",
                "the import token is not one this server issued (or it restarted since)",
            )
        })?;
        if entry.key_id != info.key_id {
            return Err(KmsError::bad(
                "InvalidImportTokenException",
                format!(
                    "the import token was issued for another key than {}",
                    cx.caller.key_arn(&info.key_id)
                ),
            ));
        }
        if entry.valid_to <= SystemTime::now() {
            return Err(KmsError::bad(
                "ExpiredImportTokenException",
                "the import token has expired; call GetParametersForImport again",
            ));
        }
        unwrap_material(entry, &wrapped)?
    };
    cx.backend
        .import_key_material(&key, &material, expires)
        .await
        .map_err(|e| match e {
            keychain::Error::ImportRefused { message, .. } => {
                KmsError::bad("IncorrectKeyMaterialException", message)
            }
            other => other.into(),
        })?;
    Ok(json!({ "KeyId": cx.caller.key_arn(&info.key_id) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteInput {
    key_id: Option<String>,
    key_material_id: Option<String>,
}

pub(super) async fn delete_imported_key_material(
    cx: &Context,
    body: Value,
) -> Result<Value, KmsError> {
    let i: DeleteInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    if i.key_material_id.is_some() {
        return Err(KmsError::unsupported(
            "KeyMaterialId: this server keeps one key material per imported key",
        ));
    }
    check_importable(cx, &info)?;
    cx.backend.delete_imported_key_material(&key).await?;
    Ok(json!({ "KeyId": cx.caller.key_arn(&info.key_id) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_names_are_kms_names() {
        assert_eq!(
            Wrapping::parse("RSAES_OAEP_SHA_256").ok(),
            Some(Wrapping::OaepSha256)
        );
        assert_eq!(
            Wrapping::parse("RSA_AES_KEY_WRAP_SHA_256").ok(),
            Some(Wrapping::AesKeyWrapSha256)
        );
        assert_eq!(
            Wrapping::parse("oaep").err().map(|e| e.code),
            Some("ValidationException")
        );
        assert!(wrapping_key_size("RSA_1024").is_err());
    }
}
