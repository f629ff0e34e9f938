//! A key's life: EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, KeyIdInput, key_ref, resolve};
use crate::errors::KmsError;
use crate::metadata::{epoch, state_name};
use crate::wire::{check_range, input};

pub(super) async fn enable_key(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let key = key_ref(cx, i.key_id).await?;
    cx.backend.enable_key(&key).await?;
    Ok(json!({}))
}

pub(super) async fn disable_key(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let key = key_ref(cx, i.key_id).await?;
    cx.backend.disable_key(&key).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleInput {
    key_id: Option<String>,
    pending_window_in_days: Option<i64>,
}

pub(super) async fn schedule_key_deletion(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ScheduleInput = input(body)?;
    let days = i.pending_window_in_days.unwrap_or(30);
    check_range("PendingWindowInDays", days, 7, 30)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    let days = u32::try_from(days).unwrap_or(30);
    let arn = cx.caller.key_arn(&info.key_id);
    // A replica goes from its region at once (the key stays in the others).
    if super::regions::delete_replica(cx, &info).await?.is_some() {
        let date = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400) * days;
        return Ok(json!({
            "KeyId": arn,
            "KeyState": "PendingDeletion",
            "PendingWindowInDays": days,
            "DeletionDate": epoch(date),
        }));
    }
    let schedule = cx.backend.schedule_key_deletion(&key, days).await?;
    let regions = super::regions::regions_of(cx, &info).await?;
    let mut out = json!({
        "KeyId": arn,
        "KeyState": state_name(schedule.state),
        "PendingWindowInDays": schedule.pending_days,
    });
    // A primary with replicas waits for them: KMS gives that state and no date.
    let waits = regions.is_some_and(|r| r.has_replicas());
    if waits {
        out["KeyState"] = json!("PendingReplicaDeletion");
    } else if let Some(date) = schedule.deletion_date {
        out["DeletionDate"] = json!(epoch(date));
    }
    Ok(out)
}

pub(super) async fn cancel_key_deletion(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: KeyIdInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    cx.backend.cancel_key_deletion(&key).await?;
    Ok(json!({ "KeyId": cx.caller.key_arn(&info.key_id) }))
}
