//! Keys: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, GetPublicKey.

use std::collections::BTreeMap;

use keychain::{CreateKeyRequest, KeyInfo, KeyOrigin, KeySpec, KeyUsage, PageRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::tags::{TagEntry, tag_error, tags_map};
use super::{Context, KeyIdInput, key_ref, resolve};
use crate::errors::KmsError;
use crate::metadata::algorithms;
use crate::wire::{b64, check_len, check_range, input, opt_enum, required};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyInput {
    policy: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    customer_master_key_spec: Option<String>,
    key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    #[allow(dead_code)]
    bypass_policy_lockout_safety_check: Option<bool>,
    tags: Option<Vec<TagEntry>>,
    multi_region: Option<bool>,
    xks_key_id: Option<String>,
}

pub(super) async fn create_key(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: CreateKeyInput = input(body)?;
    if let Some(policy) = &i.policy {
        super::policies::check_policy(policy)?;
    }
    let description = i.description.unwrap_or_default();
    check_len("Description", description.chars().count(), 0, 8192)?;
    if i.key_spec.is_some() && i.customer_master_key_spec.is_some() {
        return Err(KmsError::validation(
            "KeySpec and CustomerMasterKeySpec cannot both be given; use KeySpec",
        ));
    }
    let spec: KeySpec = opt_enum(
        "KeySpec",
        i.key_spec.or(i.customer_master_key_spec).as_deref(),
    )?
    .unwrap_or(KeySpec::SymmetricDefault);
    // As in KMS, the usage defaults to ENCRYPT_DECRYPT whatever the spec.
    let usage: KeyUsage =
        opt_enum("KeyUsage", i.key_usage.as_deref())?.unwrap_or(KeyUsage::EncryptDecrypt);
    if !spec.usages().contains(&usage) {
        return Err(KmsError::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        )));
    }
    let origin = match i.origin.as_deref() {
        None | Some("AWS_KMS") => KeyOrigin::Generated,
        Some("EXTERNAL") => KeyOrigin::External,
        Some("AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE") => {
            return Err(KmsError::unsupported(
                "this server has no custom key stores",
            ));
        }
        Some(other) => {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '{}' at 'origin' failed to satisfy \
                 constraint: Member must satisfy enum value set",
                crate::wire::clip(other)
            )));
        }
    };
    if i.custom_key_store_id.is_some() || i.xks_key_id.is_some() {
        return Err(KmsError::unsupported(
            "this server has no custom key stores",
        ));
    }
    let tags: BTreeMap<String, String> = tags_map(i.tags.unwrap_or_default())?;
    let mut request = CreateKeyRequest::new(spec)
        .usage(usage)
        .description(description);
    request.tags = tags;
    request.multi_region = i.multi_region.unwrap_or(false);
    request.origin = origin;
    request.validate().map_err(tag_error)?;
    let info = cx.backend.create_key(&request).await.map_err(tag_error)?;
    if let Some(policy) = i.policy {
        super::policies::store_policy(cx, &info.key_id, policy).await?;
    }
    super::regions::record_primary(cx, &info).await?;
    Ok(json!({ "KeyMetadata": metadata(cx, &info).await? }))
}

pub(super) async fn describe_key(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let key = key_ref(cx, i.key_id).await?;
    let info = cx.backend.describe_key(&key).await?;
    Ok(json!({ "KeyMetadata": metadata(cx, &info).await? }))
}

/// `KeyMetadata` as CreateKey and DescribeKey answer it: seen from the caller's region (a
/// multi-Region key's configuration), with the current key material of a key that rotates.
async fn metadata(cx: &Context, info: &KeyInfo) -> Result<Value, KmsError> {
    let regions = super::regions::regions_of(cx, info).await?;
    let ed25519ph = cx.backend.capabilities().ed25519ph;
    let mut m = super::regions::metadata_in(&cx.caller, info, regions.as_ref(), ed25519ph);
    super::rotation::add_current_material(cx, info, &mut m).await;
    Ok(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    limit: Option<i64>,
    marker: Option<String>,
}

/// The most backend pages one ListKeys answer reads.
const MAX_LIST_READS: usize = 32;

pub(super) async fn list_keys(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ListInput = input(body)?;
    let limit = i.limit.unwrap_or(100);
    check_range("Limit", limit, 1, 1000)?;
    if let Some(m) = &i.marker {
        check_len("Marker", m.chars().count(), 1, 1024)?;
    }
    let limit = usize::try_from(limit).unwrap_or(100);
    // A multi-Region key is listed only in its primary's and replicas' regions. The backend's
    // pages are read on until this one is full or the keys end, so that hidden keys do not
    // leave a page empty (or short) while it says more follow; but at most
    // MAX_LIST_READS of them, so that one call does not read a whole keystore of hidden keys.
    let mut keys: Vec<Value> = Vec::with_capacity(limit);
    let mut marker = i.marker;
    let mut reads = 0;
    let next_marker = loop {
        reads += 1;
        let want = limit.saturating_sub(keys.len());
        let page = cx
            .backend
            .list_keys(&PageRequest {
                limit: u32::try_from(want).ok(),
                marker: marker.clone(),
            })
            .await
            .map_err(|e| match e {
                keychain::Error::InvalidInput { message } => {
                    KmsError::bad("InvalidMarkerException", message)
                }
                other => other.into(),
            })?;
        for k in &page.items {
            if k.multi_region && super::regions::check_visible(cx, k).await.is_err() {
                continue;
            }
            keys.push(json!({ "KeyId": k.key_id, "KeyArn": cx.caller.key_arn(&k.key_id) }));
        }
        match page.next_marker {
            // A backend page that does not move on ends the loop rather than spinning.
            Some(next)
                if keys.len() < limit
                    && reads < MAX_LIST_READS
                    && !page.items.is_empty()
                    && Some(&next) != marker.as_ref() =>
            {
                marker = Some(next);
            }
            other => break other,
        }
    };
    let mut out = json!({ "Keys": keys, "Truncated": next_marker.is_some() });
    if let Some(m) = next_marker {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateDescriptionInput {
    key_id: Option<String>,
    description: Option<String>,
}

pub(super) async fn update_key_description(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: UpdateDescriptionInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    let description = required(i.description, "Description")?;
    check_len("Description", description.chars().count(), 0, 8192)?;
    let text = description.clone();
    let replica = super::regions::change_own_here(cx, &info, move |own| {
        own.description = text;
        Ok(())
    })
    .await?;
    if !replica {
        cx.backend
            .update_key_description(&key, &description)
            .await?;
    }
    Ok(json!({}))
}

pub(super) async fn get_public_key(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    if !info.spec.is_asymmetric() {
        return Err(KmsError::unsupported(format!(
            "{} is a {} key, which has no public key",
            info.key_id, info.spec
        )));
    }
    info.check_enabled()?;
    let public = cx.backend.public_key(&key).await?;
    let mut out = json!({
        "KeyId": cx.caller.key_arn(&info.key_id),
        "PublicKey": b64(public.to_der()),
        "CustomerMasterKeySpec": info.spec.as_str(),
        "KeySpec": info.spec.as_str(),
        "KeyUsage": info.usage.as_str(),
    });
    // An asymmetric key's usage is never GENERATE_VERIFY_MAC, so a MAC list never shows.
    let ed25519ph = cx.backend.capabilities().ed25519ph;
    let (member, list) = algorithms(info.spec, info.usage, ed25519ph);
    out[member] = list;
    Ok(out)
}
