//! Rotation of AWS KMS keys: automatic rotation on or off, its status, on-demand rotation,
//! counting rotations for a key's version number, and listing its materials.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{IncludeKeyMaterial, KeyMaterialState, RotationType as SdkRotationType};

use super::errors::{BACKEND, map_sdk_error};
use super::mapping::time_from_sdk;
use super::{AwsKmsBackend, DEFAULT_ROTATION_DAYS};
use crate::key::{KeyMaterial, KeySpec, RotationStatus, RotationType, check_rotation_period};
use crate::key_ref::KeyRef;
use crate::{Error, Result};

impl AwsKmsBackend {
    /// How many times the key material was rotated (ListKeyRotations), or `None` when the
    /// server does not implement ListKeyRotations (then it is not asked again).
    pub(super) async fn rotation_count(
        &self,
        client: &Client,
        key_id: &str,
    ) -> Result<Option<u32>> {
        if self
            .inner
            .no_list_key_rotations
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(None);
        }
        let mut count: u32 = 0;
        let mut pages = client
            .list_key_rotations()
            .key_id(key_id)
            .into_paginator()
            .page_size(1000)
            .send();
        while let Some(page) = pages.next().await {
            let out = match page {
                Ok(o) => o,
                Err(e) => {
                    let not_implemented =
                        e.raw_response().is_some_and(|r| r.status().as_u16() == 501);
                    if not_implemented {
                        tracing::warn!(
                            "this AWS KMS endpoint does not implement ListKeyRotations; \
                             key versions are reported as 1"
                        );
                        self.inner
                            .no_list_key_rotations
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        return Ok(None);
                    }
                    return Err(map_sdk_error(e, "ListKeyRotations", key_id));
                }
            };
            count = count.saturating_add(out.rotations().len() as u32);
        }
        Ok(Some(count))
    }

    /// The key's materials (ListKeyRotations with `IncludeKeyMaterial=ALL_KEY_MATERIAL`),
    /// oldest first: the first material (no rotation date), then by rotation date. Imported
    /// material waiting for its rotation is not a version yet and is left out.
    pub(super) async fn key_materials(&self, key: &KeyRef) -> Result<Vec<KeyMaterial>> {
        self.check_rotatable(key).await?;
        if self
            .inner
            .no_list_key_rotations
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Error::unsupported(
                BACKEND,
                "ListKeyRotations (this endpoint does not implement it)",
            ));
        }
        let id = self.resolve_id(key).await?;
        let client = self.client_for(key)?;
        let mut pages = client
            .list_key_rotations()
            .key_id(&id)
            .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
            .into_paginator()
            .page_size(1000)
            .send();
        let mut entries = Vec::new();
        while let Some(page) = pages.next().await {
            let out = match page {
                Ok(o) => o,
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 501) => {
                    return Err(Error::unsupported(
                        BACKEND,
                        "ListKeyRotations (this endpoint does not implement it)",
                    ));
                }
                Err(e) => return Err(self.fail(e, "ListKeyRotations", key).await),
            };
            for r in out.rotations() {
                let pending = matches!(
                    r.key_material_state(),
                    Some(
                        KeyMaterialState::PendingRotation
                            | KeyMaterialState::PendingMultiRegionImportAndRotation
                    )
                );
                if !pending {
                    entries.push(r.clone());
                }
            }
        }
        // The first material has no rotation date; the rest follow in rotation order.
        entries.sort_by_key(|r| r.rotation_date().map(time_from_sdk));
        let last = entries.len();
        Ok(entries
            .iter()
            .enumerate()
            .map(|(i, r)| KeyMaterial {
                version: u32::try_from(i + 1).unwrap_or(u32::MAX),
                material_id: r.key_material_id().unwrap_or_default().to_string(),
                current: match r.key_material_state() {
                    Some(state) => *state == KeyMaterialState::Current,
                    None => i + 1 == last,
                },
                rotation_date: r.rotation_date().map(time_from_sdk),
                rotation_type: r.rotation_type().and_then(|t| match t {
                    SdkRotationType::Automatic => Some(RotationType::Automatic),
                    SdkRotationType::OnDemand => Some(RotationType::OnDemand),
                    _ => None,
                }),
            })
            .collect())
    }

    /// KMS rotates symmetric encryption keys only; say so before the call, whatever an
    /// emulator would accept.
    pub(super) async fn check_rotatable(&self, key: &KeyRef) -> Result<()> {
        let info = self.metadata(key).await?;
        if info.spec != KeySpec::SymmetricDefault {
            return Err(Error::unsupported(
                BACKEND,
                format!(
                    "rotation of {} keys (AWS KMS rotates symmetric encryption keys only); \
                     key {}",
                    info.spec,
                    info.display_name()
                ),
            ));
        }
        Ok(())
    }
}

pub(super) async fn enable_key_rotation(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    period_days: Option<u32>,
) -> Result<()> {
    // No period means the default, 365 days, even when rotation was on with another
    // period (sent explicitly: servers differ on whether an omitted period resets it).
    let period = period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
    check_rotation_period(period)?;
    kms.check_rotatable(key).await?;
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .enable_key_rotation()
        .key_id(&id)
        .rotation_period_in_days(period as i32)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "EnableKeyRotation", key).await),
    }
}

pub(super) async fn disable_key_rotation(kms: &AwsKmsBackend, key: &KeyRef) -> Result<()> {
    kms.check_rotatable(key).await?;
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .disable_key_rotation()
        .key_id(&id)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "DisableKeyRotation", key).await),
    }
}

pub(super) async fn key_rotation_status(
    kms: &AwsKmsBackend,
    key: &KeyRef,
) -> Result<RotationStatus> {
    kms.check_rotatable(key).await?;
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await;
    match res {
        Ok(o) => {
            let enabled = o.key_rotation_enabled();
            Ok(RotationStatus {
                enabled,
                period_days: if enabled {
                    o.rotation_period_in_days()
                        .and_then(|d| u32::try_from(d).ok())
                } else {
                    None
                },
                next_rotation: if enabled {
                    o.next_rotation_date().map(time_from_sdk)
                } else {
                    None
                },
                // Reported whether automatic rotation is on or not.
                on_demand_rotation_start: o.on_demand_rotation_start_date().map(time_from_sdk),
            })
        }
        Err(e) => Err(kms.fail(e, "GetKeyRotationStatus", key).await),
    }
}

pub(super) async fn rotate_key(kms: &AwsKmsBackend, key: &KeyRef) -> Result<()> {
    kms.check_rotatable(key).await?;
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "RotateKeyOnDemand", key).await),
    }
}
