//! Tags: TagResource, UntagResource, ListResourceTags.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, key_ref, resolve};
use crate::errors::KmsError;
use crate::wire::{check_len, input, page, required};

/// A tag as KMS sends it.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagEntry {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

/// A list of tags as a map; a tag without its key or value is a ValidationException.
pub(super) fn tags_map(tags: Vec<TagEntry>) -> Result<BTreeMap<String, String>, KmsError> {
    let mut map = BTreeMap::new();
    for t in tags {
        let k = required(t.tag_key, "TagKey")?;
        let v = required(t.tag_value, "TagValue")?;
        map.insert(k, v);
    }
    Ok(map)
}

/// A tag the backend refuses (length, reserved prefix, count) is KMS's TagException.
pub(super) fn tag_error(e: keychain::Error) -> KmsError {
    match e {
        keychain::Error::InvalidInput { message } if message.contains("tag") => {
            KmsError::bad("TagException", message)
        }
        other => other.into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    key_id: Option<String>,
    tags: Option<Vec<TagEntry>>,
}

pub(super) async fn tag_resource(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: TagInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    let tags = tags_map(required(i.tags, "Tags")?)?;
    let added = tags.clone();
    let replica = super::regions::change_own_here(cx, &info, move |own| {
        own.tags.extend(added);
        Ok(())
    })
    .await?;
    if !replica {
        cx.backend.tag_key(&key, &tags).await.map_err(tag_error)?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UntagInput {
    key_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub(super) async fn untag_resource(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: UntagInput = input(body)?;
    let (key, info) = resolve(cx, i.key_id).await?;
    let tag_keys = required(i.tag_keys, "TagKeys")?;
    for k in &tag_keys {
        check_len("TagKeys", k.chars().count(), 1, 128)?;
    }
    let removed = tag_keys.clone();
    let replica = super::regions::change_own_here(cx, &info, move |own| {
        own.tags.retain(|k, _| !removed.contains(k));
        Ok(())
    })
    .await?;
    if !replica {
        cx.backend
            .untag_key(&key, &tag_keys)
            .await
            .map_err(tag_error)?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTagsInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

pub(super) async fn list_resource_tags(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ListTagsInput = input(body)?;
    let key = key_ref(cx, i.key_id).await?;
    let info = cx.backend.describe_key(&key).await?;
    let tags = match super::regions::own_here(cx, &info).await? {
        Some(own) => own.tags,
        None => info.tags,
    };
    let all: Vec<(String, String)> = tags.into_iter().collect();
    let (items, next) = page(&all, i.limit, i.marker.as_deref(), 50, 50)?;
    let tags: Vec<Value> = items
        .iter()
        .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
        .collect();
    let mut out = json!({ "Tags": tags, "Truncated": next.is_some() });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}
