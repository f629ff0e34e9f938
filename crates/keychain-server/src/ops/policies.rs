//! Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies.
//!
//! A key's policy is kept in its key annex `kms-policy` (beside the key in the keystore,
//! written atomically, deleted with the key). A key whose policy was never set has KMS's
//! default key policy, which gives the account the key is seen from every permission: the
//! keystore has no accounts, so the default policy names the caller's. Policies are stored
//! and returned, not enforced.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::errors::KmsError;
use crate::wire::{check_len, check_range, input, required};

/// The key annex holding a key's policy.
const POLICY_ANNEX: &str = "kms-policy";

/// The one policy name KMS has.
const DEFAULT: &str = "default";

/// The longest key policy KMS keeps (32 KiB); longer is LimitExceededException.
const MAX_POLICY_BYTES: usize = 32 * 1024;

/// KMS's default key policy for a key created without one, in KMS's own layout.
pub(crate) fn default_policy(account: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : \
         [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \
         \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n    \
         \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

/// Checks a policy document as KMS does: the model's length, the characters a policy may
/// hold, the 32 KiB quota, and that it is a JSON object.
pub(crate) fn check_policy(policy: &str) -> Result<(), KmsError> {
    check_len("Policy", policy.chars().count(), 1, 131_072)?;
    if let Some(c) = policy
        .chars()
        .find(|c| !matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}'))
    {
        return Err(KmsError::bad(
            "MalformedPolicyDocumentException",
            format!(
                "the policy holds the character U+{:04X}: a key policy holds printable ASCII \
                 and Latin-1 characters, tab, line feed and carriage return only",
                u32::from(c)
            ),
        ));
    }
    if policy.len() > MAX_POLICY_BYTES {
        return Err(KmsError::bad(
            "LimitExceededException",
            format!(
                "the policy is {} bytes; a key policy holds at most {MAX_POLICY_BYTES}",
                policy.len()
            ),
        ));
    }
    match serde_json::from_str::<Value>(policy) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(KmsError::bad(
            "MalformedPolicyDocumentException",
            "the policy is not a JSON policy document",
        )),
    }
}

/// Checks a `PolicyName`: KMS's model (1–128 of `\w`), then the one name there is.
fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    let Some(name) = name else { return Ok(()) };
    check_len("PolicyName", name.chars().count(), 1, 128)?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{}' at 'policyName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\w]+",
            crate::wire::clip(name)
        )));
    }
    if name != DEFAULT {
        return Err(KmsError::not_found(format!(
            "no key policy named {name}: the only key policy name is default"
        )));
    }
    Ok(())
}

/// Stores `policy` (already checked) as the policy of the key `key_id`.
pub(crate) async fn store_policy(
    cx: &Context,
    key_id: &str,
    policy: String,
) -> Result<(), KmsError> {
    let key = keychain::KeyRef::key_id(key_id)?;
    cx.backend
        .update_key_annex(
            &key,
            POLICY_ANNEX,
            Box::new(move |_| Ok(policy.into_bytes())),
        )
        .await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetInput {
    key_id: Option<String>,
    policy_name: Option<String>,
}

pub(super) async fn get_key_policy(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: GetInput = input(body)?;
    let (_, info) = resolve(cx, i.key_id).await?;
    check_policy_name(i.policy_name.as_deref())?;
    let policy = match super::regions::own_here(cx, &info).await? {
        Some(own) => own
            .policy
            .unwrap_or_else(|| default_policy(&cx.caller.account)),
        None => policy_of(cx, &info.key_id).await?,
    };
    Ok(json!({ "Policy": policy, "PolicyName": DEFAULT }))
}

/// The key's policy: the one stored, or KMS's default for the caller's account.
pub(super) async fn policy_of(cx: &Context, key_id: &str) -> Result<String, KmsError> {
    let key = keychain::KeyRef::key_id(key_id)?;
    let stored = cx.backend.read_key_annex(&key, POLICY_ANNEX).await?;
    match stored {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| {
            tracing::error!(key_id = %key_id, "a stored key policy is not UTF-8");
            KmsError::internal("the key store failed; see the server log")
        }),
        None => Ok(default_policy(&cx.caller.account)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutInput {
    key_id: Option<String>,
    policy_name: Option<String>,
    policy: Option<String>,
    #[allow(dead_code)]
    bypass_policy_lockout_safety_check: Option<bool>,
}

pub(super) async fn put_key_policy(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: PutInput = input(body)?;
    let key_id = required(i.key_id, "KeyId")?;
    let policy = required(i.policy, "Policy")?;
    check_policy(&policy)?;
    let (_, info) = resolve(cx, Some(key_id)).await?;
    check_policy_name(i.policy_name.as_deref())?;
    super::refuse_pending_deletion(cx, &info)?;
    let text = policy.clone();
    let replica = super::regions::change_own_here(cx, &info, move |own| {
        own.policy = Some(text);
        Ok(())
    })
    .await?;
    if !replica {
        store_policy(cx, &info.key_id, policy).await?;
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
}

pub(super) async fn list_key_policies(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ListInput = input(body)?;
    if let Some(limit) = i.limit {
        check_range("Limit", limit, 1, 1000)?;
    }
    if let Some(m) = &i.marker {
        check_len("Marker", m.chars().count(), 1, 320)?;
        // The one page there is has no successor.
        return Err(KmsError::bad(
            "InvalidMarkerException",
            "the marker is not valid",
        ));
    }
    resolve(cx, i.key_id).await?;
    Ok(json!({ "PolicyNames": [DEFAULT], "Truncated": false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_json_naming_the_account() {
        let p = default_policy("111122223333");
        let v: Value = serde_json::from_str(&p).unwrap_or_default();
        assert_eq!(
            v["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(v["Statement"][0]["Action"], "kms:*");
        assert!(check_policy(&p).is_ok());
    }

    #[test]
    fn policies_are_checked_as_kms_does() {
        let code = |p: &str| check_policy(p).err().map(|e| e.code);
        assert_eq!(code("not json"), Some("MalformedPolicyDocumentException"));
        assert_eq!(code("[1]"), Some("MalformedPolicyDocumentException"));
        assert_eq!(
            code("{\"a\":\"\u{263a}\"}"),
            Some("MalformedPolicyDocumentException")
        );
        assert_eq!(code(""), Some("ValidationException"));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_POLICY_BYTES));
        assert_eq!(code(&big), Some("LimitExceededException"));
        assert_eq!(code("{\"Version\":\"2012-10-17\"}"), None);
        assert!(check_policy_name(Some("default")).is_ok());
        assert!(check_policy_name(None).is_ok());
        assert_eq!(
            check_policy_name(Some("other")).err().map(|e| e.code),
            Some("NotFoundException")
        );
        assert_eq!(
            check_policy_name(Some("a b")).err().map(|e| e.code),
            Some("ValidationException")
        );
    }
}
