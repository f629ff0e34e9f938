//! Keys in AWS KMS: creation (named by an alias, never retried blindly, no orphan left
//! behind), listing, enabling and disabling, scheduled deletion, and tags.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::types::Tag;

use super::errors::{BACKEND, error_code, import_step_failed, map_sdk_error, no_field};
use super::mapping::{
    key_id_of, key_info_from_metadata, key_spec_to_sdk, key_state_from_sdk, key_usage_to_sdk,
    origin_to_sdk, time_from_sdk,
};
use super::{
    AwsKmsBackend, LIST_CONCURRENCY, NAME_TAG, ORPHAN_DELETION_DAYS, REQUEST_TAG,
    RESERVED_TAG_PREFIX, id_ref, name,
};
use crate::key::{
    CreateKeyRequest, DeletionSchedule, KeyInfo, KeyState, Page, PageRequest, check_pending_window,
    validate_tag,
};
use crate::key_ref::KeyRef;
use crate::{Error, Result};

/// Random bytes for backoff jitter (zeros if the RNG fails: jitter is a nicety).
pub(super) fn jitter_fraction() -> f64 {
    let mut b = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

pub(super) fn check_user_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    for (k, v) in tags {
        validate_tag(k, v)?;
        if k.starts_with(RESERVED_TAG_PREFIX) {
            return Err(Error::invalid_input(format!(
                "tag key {k:?} uses the prefix {RESERVED_TAG_PREFIX}, which keychain reserves"
            )));
        }
    }
    Ok(())
}

pub(super) fn sdk_tag(k: &str, v: &str) -> Result<Tag> {
    Tag::builder()
        .tag_key(k)
        .tag_value(v)
        .build()
        .map_err(|e| Error::invalid_input(format!("tag {k:?}: {e}")))
}

impl AwsKmsBackend {
    /// Sleeps before retry `attempt` (1-based) of a call we retry ourselves: exponential,
    /// with full jitter, capped at 20 s.
    pub(super) async fn backoff(&self, attempt: u32) {
        let base = self.inner.initial_backoff.as_secs_f64() * 2f64.powi(attempt as i32 - 1);
        let delay = base.min(20.0) * jitter_fraction();
        tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    }

    /// CreateKey without SDK retries: CreateKey is not idempotent, so a retry after a lost
    /// response could make a second key. Throttling (the request was refused, nothing was
    /// made) is retried here with backoff; an unknown outcome is reported with the request
    /// tag that identifies a key it may have made.
    pub(super) async fn create_key_once(
        &self,
        request: &CreateKeyRequest,
        request_id: &str,
    ) -> Result<aws_sdk_kms::types::KeyMetadata> {
        let what = match &request.name {
            Some(n) => format!("alias/{n}"),
            None => "(unnamed key)".to_string(),
        };
        let mut tags = Vec::new();
        for (k, v) in &request.tags {
            tags.push(sdk_tag(k, v)?);
        }
        if let Some(n) = &request.name {
            tags.push(sdk_tag(NAME_TAG, n)?);
        }
        tags.push(sdk_tag(REQUEST_TAG, request_id)?);
        let client = self.inner.clients.base();
        let mut attempt = 1;
        loop {
            let res = client
                .create_key()
                .key_spec(key_spec_to_sdk(request.spec))
                .key_usage(key_usage_to_sdk(request.usage))
                .description(request.description.clone())
                .set_tags(Some(tags.clone()))
                .multi_region(request.multi_region)
                .origin(origin_to_sdk(request.origin))
                .customize()
                .config_override(
                    aws_sdk_kms::config::Builder::default().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            match res {
                Ok(out) => {
                    return out.key_metadata().cloned().ok_or_else(|| Error::Backend {
                        backend: BACKEND.into(),
                        operation: "CreateKey".into(),
                        code: "EmptyResponse".into(),
                        message: format!(
                            "no key metadata for {what}; a key may exist with tag \
                             {REQUEST_TAG}={request_id}"
                        ),
                        retryable: false,
                    });
                }
                Err(e) => {
                    let code = error_code(&e).map(str::to_string);
                    let mut err = map_sdk_error(e, "CreateKey", &what);
                    if request.origin == crate::key::KeyOrigin::External {
                        err = import_step_failed(err, "CreateKey");
                    }
                    let refused =
                        matches!(code.as_deref(), Some("ThrottlingException" | "Throttling"));
                    if refused && attempt < self.inner.max_attempts {
                        self.backoff(attempt).await;
                        attempt += 1;
                        continue;
                    }
                    // Service errors other than 5xx mean the key was not made; timeouts,
                    // dispatch failures after sending and 5xx leave the outcome unknown.
                    let unknown_outcome = match &err {
                        Error::Timeout { .. } => true,
                        Error::Backend { retryable, .. } => *retryable,
                        _ => false,
                    };
                    if unknown_outcome {
                        return Err(err.with_note(&format!(
                            "not retried, CreateKey is not idempotent; if a key was made \
                                 it carries the tag {REQUEST_TAG}={request_id}"
                        )));
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Schedules deletion of a key made for a name that turned out to be unusable, and says so
    /// in the error.
    pub(super) async fn discard_orphan(&self, key_id: &str, err: Error) -> Error {
        let res = self
            .inner
            .clients
            .base()
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(ORPHAN_DELETION_DAYS)
            .send()
            .await;
        let note = match res {
            Ok(_) => format!(
                "the key {key_id} created meanwhile is scheduled for deletion in \
                 {ORPHAN_DELETION_DAYS} days"
            ),
            Err(e) => format!(
                "the key {key_id} created meanwhile could NOT be scheduled for deletion ({}); \
                 delete it by hand",
                map_sdk_error(e, "ScheduleKeyDeletion", key_id)
            ),
        };
        tracing::warn!(key_id, "{note}");
        err.with_note(&note)
    }
}

pub(super) async fn create_key(kms: &AwsKmsBackend, request: &CreateKeyRequest) -> Result<KeyInfo> {
    request.validate()?;
    check_user_tags(&request.tags)?;
    if let Some(n) = &request.name {
        // The name must be free BEFORE a key is made for it.
        let alias = KeyRef::alias(n)?;
        match kms.describe_fresh(&alias).await {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    what: format!("alias/{n}"),
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let meta = kms.create_key_once(request, &request_id).await?;
    let mut info = key_info_from_metadata(&meta)?;
    info.tags = request.tags.clone();
    if let Some(n) = &request.name {
        let alias = format!("alias/{n}");
        let res = kms
            .inner
            .clients
            .base()
            .create_alias()
            .alias_name(&alias)
            .target_key_id(&info.key_id)
            .send()
            .await;
        if let Err(e) = res {
            let err = map_sdk_error(e, "CreateAlias", &alias);
            if let Error::AlreadyExists { .. } = err {
                // CreateAlias is retried, so "exists" may answer the retry of an attempt
                // whose answer was lost: then the alias is ours, and so is the name.
                match kms.describe_fresh(&KeyRef::alias(n)?).await {
                    Ok((holder, _)) if holder.key_id == info.key_id => {
                        info.name = Some(n.clone());
                        info.aliases = vec![alias];
                        return Ok(info);
                    }
                    Ok(_) => {}
                    Err(check) => {
                        // Not knowing whom the alias names, delete nothing.
                        return Err(err.with_note(&format!(
                            "the key {} created meanwhile may be the one it names \
                                 ({check}); it was not deleted",
                            info.key_id
                        )));
                    }
                }
            }
            // Lost a race for the name (or could not name the key at all): never leave
            // the unnamed key behind silently.
            return Err(kms.discard_orphan(&info.key_id, err).await);
        }
        info.name = Some(n.clone());
        info.aliases = vec![alias];
    }
    Ok(info)
}

pub(super) async fn list_keys(kms: &AwsKmsBackend, page: &PageRequest) -> Result<Page<KeyInfo>> {
    let limit = page.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid_input(format!(
            "page limit must be 1 to 1000, not {limit}"
        )));
    }
    let client = kms.inner.clients.base().clone();
    let res = client
        .list_keys()
        .limit(limit as i32)
        .set_marker(page.marker.clone())
        .send()
        .await
        .map_err(|e| map_sdk_error(e, "ListKeys", "-"))?;
    let ids: Vec<String> = res
        .keys()
        .iter()
        .filter_map(|k| k.key_id().map(str::to_string))
        .collect();
    let next_marker = match res.next_marker() {
        Some(m) if res.truncated() && !m.is_empty() => Some(m.to_string()),
        _ => None,
    };
    if ids.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_marker,
        });
    }
    let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
    for a in kms.all_aliases(&client, None).await? {
        if let Some(id) = a.key_id {
            by_key.entry(id).or_default().push(a.alias);
        }
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(LIST_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let (this, client, sem, id) = (kms.clone(), client.clone(), sem.clone(), id.clone());
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let key = id_ref(&id)?;
            let (info, aws_managed) = match this.describe_fresh(&key).await {
                Ok(v) => v,
                // Deleted between ListKeys and DescribeKey: not part of the listing.
                Err(Error::NotFound { .. }) => return Ok((i, None)),
                Err(e) => return Err(e),
            };
            let tags = if aws_managed {
                BTreeMap::new()
            } else {
                match this.all_tags(&client, &id).await {
                    Ok(t) => t,
                    Err(Error::NotFound { .. }) => return Ok((i, None)),
                    Err(e) => return Err(e),
                }
            };
            Ok::<_, Error>((i, Some((info, tags))))
        });
    }
    let mut found: Vec<(usize, KeyInfo, BTreeMap<String, String>)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, item) = joined.map_err(|e| Error::Backend {
            backend: BACKEND.into(),
            operation: "ListKeys".into(),
            code: "TaskFailed".into(),
            message: e.to_string(),
            retryable: false,
        })??;
        if let Some((info, tags)) = item {
            found.push((i, info, tags));
        }
    }
    found.sort_by_key(|(i, _, _)| *i);
    let items = found
        .into_iter()
        .map(|(_, info, tags)| {
            let aliases = by_key.remove(&info.key_id).unwrap_or_default();
            AwsKmsBackend::complete(info, aliases, tags)
        })
        .collect();
    Ok(Page { items, next_marker })
}

pub(super) async fn enable_key(kms: &AwsKmsBackend, key: &KeyRef) -> Result<()> {
    let id = kms.resolve_id(key).await?;
    let res = kms.client_for(key)?.enable_key().key_id(&id).send().await;
    kms.forget_key(&key_id_of(&id));
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "EnableKey", key).await),
    }
}

pub(super) async fn disable_key(kms: &AwsKmsBackend, key: &KeyRef) -> Result<()> {
    let id = kms.resolve_id(key).await?;
    let res = kms.client_for(key)?.disable_key().key_id(&id).send().await;
    kms.forget_key(&key_id_of(&id));
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "DisableKey", key).await),
    }
}

pub(super) async fn schedule_key_deletion(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    pending_days: u32,
) -> Result<DeletionSchedule> {
    check_pending_window(pending_days)?;
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(pending_days as i32)
        .send()
        .await;
    kms.forget_key(&key_id_of(&id));
    match res {
        // A multi-Region primary with replicas answers PendingReplicaDeletion and no date:
        // its waiting period starts only when the last replica is deleted.
        Ok(o) => Ok(DeletionSchedule {
            state: match o.key_state() {
                Some(s) => key_state_from_sdk(s)?,
                None if o.deletion_date().is_some() => KeyState::PendingDeletion,
                None => return Err(no_field("ScheduleKeyDeletion", "KeyState", &name(key))),
            },
            deletion_date: o.deletion_date().map(time_from_sdk),
            pending_days: o
                .pending_window_in_days()
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(pending_days),
        }),
        Err(e) => Err(kms.fail(e, "ScheduleKeyDeletion", key).await),
    }
}

pub(super) async fn cancel_key_deletion(kms: &AwsKmsBackend, key: &KeyRef) -> Result<()> {
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .cancel_key_deletion()
        .key_id(&id)
        .send()
        .await;
    kms.forget_key(&key_id_of(&id));
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "CancelKeyDeletion", key).await),
    }
}

pub(super) async fn tag_key(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    check_user_tags(tags)?;
    if tags.is_empty() {
        return Ok(());
    }
    let mut sdk_tags = Vec::new();
    for (k, v) in tags {
        sdk_tags.push(sdk_tag(k, v)?);
    }
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .tag_resource()
        .key_id(&id)
        .set_tags(Some(sdk_tags))
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "TagResource", key).await),
    }
}

pub(super) async fn update_key_description(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    description: &str,
) -> Result<()> {
    crate::key::validate_description(description)?;
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .update_key_description()
        .key_id(&id)
        .description(description)
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "UpdateKeyDescription", key).await),
    }
}

pub(super) async fn untag_key(
    kms: &AwsKmsBackend,
    key: &KeyRef,
    tag_keys: &[String],
) -> Result<()> {
    if let Some(k) = tag_keys.iter().find(|k| k.starts_with(RESERVED_TAG_PREFIX)) {
        return Err(Error::invalid_input(format!(
            "tag key {k:?} uses the prefix {RESERVED_TAG_PREFIX}, which keychain reserves"
        )));
    }
    if tag_keys.is_empty() {
        return Ok(());
    }
    let id = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .untag_resource()
        .key_id(&id)
        .set_tag_keys(Some(tag_keys.to_vec()))
        .send()
        .await;
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "UntagResource", key).await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_tags_are_refused() {
        let tags: BTreeMap<String, String> = [(NAME_TAG.to_string(), "x".to_string())].into();
        assert!(matches!(
            check_user_tags(&tags),
            Err(Error::InvalidInput { .. })
        ));
    }
}
