//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, key_ref};
use crate::errors::KmsError;
use crate::wire::{check_len, clip, input, page, required};

/// An `AliasName` member: `alias/NAME`, not one of AWS's reserved `alias/aws/…`.
fn alias_name(value: Option<String>) -> Result<String, KmsError> {
    let alias = required(value, "AliasName")?;
    check_len("AliasName", alias.chars().count(), 1, 256)?;
    let Some(name) = alias.strip_prefix("alias/") else {
        return Err(KmsError::validation(format!(
            "Alias must start with the prefix \"alias/\": '{}'",
            clip(&alias)
        )));
    };
    if name.starts_with("aws/") {
        return Err(KmsError::bad(
            "NotAuthorizedException",
            "Cannot create, update or delete aliases with the reserved prefix alias/aws/",
        ));
    }
    keychain::validate_alias_name(name)
        .map_err(|e| KmsError::bad("InvalidAliasNameException", e.to_string()))?;
    Ok(alias)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    alias_name: Option<String>,
    target_key_id: Option<String>,
}

/// A `TargetKeyId`: a key id or key ARN, never an alias.
async fn target(cx: &Context, value: Option<String>) -> Result<keychain::KeyRef, KmsError> {
    let key = key_ref(cx, value).await?;
    if key.alias_name().is_some() {
        return Err(KmsError::validation(
            "TargetKeyId must be a key id or key ARN, not an alias",
        ));
    }
    Ok(key)
}

pub(super) async fn create_alias(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: AliasInput = input(body)?;
    let alias = alias_name(i.alias_name)?;
    let key = target(cx, i.target_key_id).await?;
    cx.backend.create_alias(&alias, &key).await?;
    Ok(json!({}))
}

pub(super) async fn update_alias(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: AliasInput = input(body)?;
    let alias = alias_name(i.alias_name)?;
    let key = target(cx, i.target_key_id).await?;
    cx.backend.update_alias(&alias, &key).await?;
    Ok(json!({}))
}

pub(super) async fn delete_alias(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: AliasInput = input(body)?;
    let alias = alias_name(i.alias_name)?;
    cx.backend.delete_alias(&alias).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAliasesInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

pub(super) async fn list_aliases(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ListAliasesInput = input(body)?;
    let key = match i.key_id {
        Some(k) => Some(key_ref(cx, Some(k)).await?),
        None => None,
    };
    let all = cx.backend.list_aliases(key.as_ref()).await?;
    let (items, next) = page(&all, i.limit, i.marker.as_deref(), 50, 100)?;
    let aliases: Vec<Value> = items
        .iter()
        .map(|a| {
            let alias = if a.alias.starts_with("alias/") {
                a.alias.clone()
            } else {
                format!("alias/{}", a.alias)
            };
            let mut v = json!({ "AliasName": alias, "AliasArn": cx.caller.alias_arn(&alias) });
            if let Some(id) = &a.key_id {
                v["TargetKeyId"] = json!(id);
            }
            v
        })
        .collect();
    let mut out = json!({ "Aliases": aliases, "Truncated": next.is_some() });
    if let Some(m) = next {
        out["NextMarker"] = json!(m);
    }
    Ok(out)
}
