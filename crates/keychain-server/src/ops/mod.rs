//! The operations, a file per area, and the one table from `X-Amz-Target` to them.

mod agreement;
mod aliases;
mod crypto;
mod data_keys;
mod grant_checks;
mod grants;
mod import;
mod kem;
mod keys;
mod lifecycle;
mod policies;
mod regions;
mod rotation;
mod signing;
mod tags;

use std::sync::Arc;

use serde_json::Value;

use crate::arn::Caller;
use crate::errors::KmsError;

/// One call: who made it and the backend it runs on.
pub(crate) struct Context {
    pub(crate) caller: Caller,
    pub(crate) backend: Arc<dyn keychain::Backend>,
}

/// The input of the operations that take a `KeyId` only.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyIdInput {
    pub(crate) key_id: Option<String>,
}

/// Custom key store operations: this server has no custom key stores.
const KEY_STORES: &[&str] = &[
    "CreateCustomKeyStore",
    "DescribeCustomKeyStores",
    "UpdateCustomKeyStore",
    "DeleteCustomKeyStore",
    "ConnectCustomKeyStore",
    "DisconnectCustomKeyStore",
];

/// The operations that change a multi-Region key's regions or what a region has of its own
/// (description, tags, policy). Each reads the regions, then writes the annex and the key
/// record in separate steps, so two at once could each work from what the other is
/// changing (a tag added in a replica's region while that replica becomes the primary was
/// lost): they run one at a time in this process. They are management calls, few and short.
const REGION_CHANGES: &[&str] = &[
    "ReplicateKey",
    "UpdatePrimaryRegion",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateKeyDescription",
    "PutKeyPolicy",
];

/// Held while one of [`REGION_CHANGES`] runs.
static CHANGING_REGIONS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `operation` (the part of `X-Amz-Target` after `TrentService.`).
pub(crate) async fn dispatch(
    cx: &Context,
    operation: &str,
    input: Value,
) -> Result<Value, KmsError> {
    let _one_at_a_time = if REGION_CHANGES.contains(&operation) {
        Some(CHANGING_REGIONS.lock().await)
    } else {
        None
    };
    match operation {
        "CreateKey" => keys::create_key(cx, input).await,
        "DescribeKey" => keys::describe_key(cx, input).await,
        "ListKeys" => keys::list_keys(cx, input).await,
        "UpdateKeyDescription" => keys::update_key_description(cx, input).await,
        "GetPublicKey" => keys::get_public_key(cx, input).await,
        "CreateAlias" => aliases::create_alias(cx, input).await,
        "UpdateAlias" => aliases::update_alias(cx, input).await,
        "DeleteAlias" => aliases::delete_alias(cx, input).await,
        "ListAliases" => aliases::list_aliases(cx, input).await,
        "TagResource" => tags::tag_resource(cx, input).await,
        "UntagResource" => tags::untag_resource(cx, input).await,
        "ListResourceTags" => tags::list_resource_tags(cx, input).await,
        "EnableKey" => lifecycle::enable_key(cx, input).await,
        "DisableKey" => lifecycle::disable_key(cx, input).await,
        "ScheduleKeyDeletion" => lifecycle::schedule_key_deletion(cx, input).await,
        "CancelKeyDeletion" => lifecycle::cancel_key_deletion(cx, input).await,
        "EnableKeyRotation" => rotation::enable_key_rotation(cx, input).await,
        "DisableKeyRotation" => rotation::disable_key_rotation(cx, input).await,
        "GetKeyRotationStatus" => rotation::get_key_rotation_status(cx, input).await,
        "RotateKeyOnDemand" => rotation::rotate_key_on_demand(cx, input).await,
        "ListKeyRotations" => rotation::list_key_rotations(cx, input).await,
        "Sign" => signing::sign(cx, input).await,
        "Verify" => signing::verify(cx, input).await,
        "GenerateMac" => signing::generate_mac(cx, input).await,
        "VerifyMac" => signing::verify_mac(cx, input).await,
        "Encrypt" => crypto::encrypt(cx, input).await,
        "Decrypt" => crypto::decrypt(cx, input).await,
        "ReEncrypt" => crypto::re_encrypt(cx, input).await,
        "GenerateDataKey" => data_keys::generate_data_key(cx, input, true).await,
        "GenerateDataKeyWithoutPlaintext" => data_keys::generate_data_key(cx, input, false).await,
        "GenerateDataKeyPair" => data_keys::generate_data_key_pair(cx, input, true).await,
        "GenerateDataKeyPairWithoutPlaintext" => {
            data_keys::generate_data_key_pair(cx, input, false).await
        }
        "Encapsulate" => kem::encapsulate(cx, input).await,
        "Decapsulate" => kem::decapsulate(cx, input).await,
        "DeriveSharedSecret" => agreement::derive_shared_secret(cx, input).await,
        "GenerateRandom" => data_keys::generate_random(cx, input).await,
        "GetKeyPolicy" => policies::get_key_policy(cx, input).await,
        "PutKeyPolicy" => policies::put_key_policy(cx, input).await,
        "ListKeyPolicies" => policies::list_key_policies(cx, input).await,
        "CreateGrant" => grants::create_grant(cx, input).await,
        "ListGrants" => grants::list_grants(cx, input).await,
        "RevokeGrant" => grants::revoke_grant(cx, input).await,
        "RetireGrant" => grants::retire_grant(cx, input).await,
        "ListRetirableGrants" => grants::list_retirable_grants(cx, input).await,
        "GetParametersForImport" => import::get_parameters_for_import(cx, input).await,
        "ImportKeyMaterial" => import::import_key_material(cx, input).await,
        "DeleteImportedKeyMaterial" => import::delete_imported_key_material(cx, input).await,
        "ReplicateKey" => regions::replicate_key(cx, input).await,
        "UpdatePrimaryRegion" => regions::update_primary_region(cx, input).await,
        op if KEY_STORES.contains(&op) => Err(KmsError::unsupported(format!(
            "{op}: this server has no custom key stores"
        ))),
        op => Err(KmsError::bad(
            "UnknownOperationException",
            format!("unknown operation {}", crate::wire::clip(op)),
        )),
    }
}

/// KMSInvalidStateException for a key pending deletion, which keeps what it has: the
/// management calls that change a key refuse it (as the keystore does for its own fields).
pub(crate) fn refuse_pending_deletion(
    cx: &Context,
    info: &keychain::KeyInfo,
) -> Result<(), KmsError> {
    if matches!(
        info.state,
        keychain::KeyState::PendingDeletion | keychain::KeyState::PendingReplicaDeletion
    ) {
        return Err(KmsError::bad(
            "KMSInvalidStateException",
            format!("{} is pending deletion", cx.caller.key_arn(&info.key_id)),
        ));
    }
    Ok(())
}

/// The key a `KeyId` member names, resolved to the backend's id, and its metadata: KMS answers
/// name keys by id and ARN even when asked by alias.
pub(crate) async fn resolve(
    cx: &Context,
    key_id: Option<String>,
) -> Result<(keychain::KeyRef, keychain::KeyInfo), KmsError> {
    let key_id = crate::wire::required(key_id, "KeyId")?;
    let key = cx.caller.key_ref(&key_id)?;
    let info = cx.backend.key_metadata(&key).await?;
    regions::check_visible(cx, &info).await?;
    Ok((key, info))
}

/// The key a `KeyId` member names, asking the backend only when a multi-Region key id may
/// name a key that is not in the caller's region.
pub(crate) async fn key_ref(
    cx: &Context,
    key_id: Option<String>,
) -> Result<keychain::KeyRef, KmsError> {
    let key_id = crate::wire::required(key_id, "KeyId")?;
    let key = cx.caller.key_ref(&key_id)?;
    regions::check_ref_visible(cx, &key).await?;
    Ok(key)
}
