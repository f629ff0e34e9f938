//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
//! ListKeyRotations, and the current key material's id in `KeyMetadata`.

use keychain::{KeyInfo, KeyRef};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, KeyIdInput, key_ref, resolve};
use crate::errors::KmsError;
use crate::metadata::epoch;
use crate::wire::{check_range, input, page};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnableInput {
    key_id: Option<String>,
    rotation_period_in_days: Option<i64>,
}

pub(super) async fn enable_key_rotation(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: EnableInput = input(body)?;
    if let Some(days) = i.rotation_period_in_days {
        check_range("RotationPeriodInDays", days, 90, 2560)?;
    }
    let (key, info) = resolve(cx, i.key_id).await?;
    super::regions::check_primary_here(cx, &info, "EnableKeyRotation").await?;
    let days = i
        .rotation_period_in_days
        .and_then(|d| u32::try_from(d).ok());
    cx.backend.enable_key_rotation(&key, days).await?;
    Ok(json!({}))
}

pub(super) async fn disable_key_rotation(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    super::regions::check_primary_here(cx, &info, "DisableKeyRotation").await?;
    cx.backend.disable_key_rotation(&key).await?;
    Ok(json!({}))
}

pub(super) async fn get_key_rotation_status(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let key = key_ref(cx, i.key_id).await?;
    // A key id or key ARN (what KMS takes here) names the key without a lookup: the backend
    // reads the key once, for its rotation status. An alias, which this server also takes,
    // is resolved first for the id the answer names.
    let (key, key_id) = match key.key_id_str() {
        Some(id) => {
            let id = id.to_string();
            (key, id)
        }
        None => {
            let info = cx.backend.key_metadata(&key).await?;
            (keychain::KeyRef::key_id(&info.key_id)?, info.key_id)
        }
    };
    let status = cx.backend.key_rotation_status(&key).await?;
    let mut out = json!({
        "KeyId": cx.caller.key_arn(&key_id),
        "KeyRotationEnabled": status.enabled,
    });
    if let Some(days) = status.period_days {
        out["RotationPeriodInDays"] = json!(days);
    }
    if let Some(next) = status.next_rotation {
        out["NextRotationDate"] = json!(epoch(next));
    }
    if let Some(start) = status.on_demand_rotation_start {
        out["OnDemandRotationStartDate"] = json!(epoch(start));
    }
    Ok(out)
}

pub(super) async fn rotate_key_on_demand(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    super::regions::check_primary_here(cx, &info, "RotateKeyOnDemand").await?;
    cx.backend.rotate_key(&key).await?;
    Ok(json!({ "KeyId": cx.caller.key_arn(&info.key_id) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListRotationsInput {
    key_id: Option<String>,
    include_key_material: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

/// The key's materials: by default one entry per rotation (the materials after the first);
/// with `IncludeKeyMaterial=ALL_KEY_MATERIAL` the first material too. Each names its
/// material, whether it is current, and when and how its rotation happened.
pub(super) async fn list_key_rotations(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ListRotationsInput = input(body)?;
    let include_first = match i.include_key_material.as_deref() {
        None | Some("ROTATIONS_ONLY") => false,
        Some("ALL_KEY_MATERIAL") => true,
        Some(other) => {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '{}' at 'includeKeyMaterial' failed to \
                 satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, \
                 ROTATIONS_ONLY]",
                crate::wire::clip(other)
            )));
        }
    };
    let (key, _) = resolve(cx, i.key_id).await?;
    let info = cx.backend.describe_key(&key).await?;
    if info.spec != keychain::KeySpec::SymmetricDefault {
        return Err(KmsError::unsupported(format!(
            "{} keys are not rotated",
            info.spec
        )));
    }
    let arn = cx.caller.key_arn(&info.key_id);
    let materials = cx.backend.list_key_materials(&key).await?;
    let all: Vec<Value> = materials
        .iter()
        .filter(|m| include_first || m.version > 1)
        .map(|m| {
            let mut entry = json!({
                "KeyId": arn,
                "KeyMaterialId": m.material_id,
                "KeyMaterialState": if m.current { "CURRENT" } else { "NON_CURRENT" },
            });
            if let Some(date) = m.rotation_date {
                entry["RotationDate"] = json!(epoch(date));
            }
            if let Some(kind) = m.rotation_type {
                entry["RotationType"] = json!(kind.as_str());
            }
            // A key whose imported material was deleted (or expired) lists none, so every
            // material listed is imported.
            if info.origin == keychain::KeyOrigin::External {
                entry["ImportState"] = json!("IMPORTED");
                crate::metadata::expiration(&mut entry, &info);
            }
            entry
        })
        .collect();
    let (items, next) = page(&all, i.limit, i.marker.as_deref(), 100, 1000)?;
    let mut out = json!({ "Rotations": items, "Truncated": next.is_some() });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}

/// Adds `CurrentKeyMaterialId` to `metadata`, which KMS gives for the keys that rotate
/// (symmetric encryption keys) once they have material. A backend that cannot list a key's
/// materials leaves it out.
pub(super) async fn add_current_material(cx: &Context, info: &KeyInfo, metadata: &mut Value) {
    if info.spec == keychain::KeySpec::SymmetricDefault && info.versions > 0 {
        let key = KeyRef::key_id(&info.key_id).ok();
        if let Some(key) = key
            && let Ok(materials) = cx.backend.list_key_materials(&key).await
            && let Some(current) = materials.iter().find(|m| m.current)
        {
            metadata["CurrentKeyMaterialId"] = json!(current.material_id);
        }
    }
}
