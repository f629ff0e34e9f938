//! Grants: CreateGrant, ListGrants, RevokeGrant, RetireGrant, ListRetirableGrants.
//!
//! A key's grants are kept in its key annex `kms-grants` (a JSON list, rewritten atomically
//! under the keystore lock, deleted with the key). A grant token names the key and the grant
//! and carries a random part recorded with the grant, so RetireGrant by token finds the grant
//! without a KeyId. Grants are stored and listed, not enforced.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keychain::{KeyInfo, KeyState};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::grant_checks::{
    GRANT_OPERATIONS, check_constraints, check_grant_tokens, check_principal, operations_of,
};
use super::{Context, resolve};
use crate::errors::KmsError;
use crate::metadata::epoch;
use crate::wire::{check_len, check_range, clip, dry_run, input, required};

/// The key annex holding a key's grants.
const GRANTS_ANNEX: &str = "kms-grants";

/// The grants a key may have at once (KMS's quota per key).
const MAX_GRANTS_PER_KEY: usize = 50_000;

/// A grant as stored.
#[derive(Serialize, Deserialize, Clone, PartialEq)]
struct StoredGrant {
    grant_id: String,
    name: Option<String>,
    created: f64,
    grantee_principal: Option<String>,
    grantee_service_principal: Option<String>,
    retiring_principal: Option<String>,
    retiring_service_principal: Option<String>,
    issuing_account: String,
    operations: Vec<String>,
    constraints: Option<Value>,
    /// The random part of every token of this grant.
    token_nonce: String,
}

impl StoredGrant {
    /// `GrantListEntry` for the key `key_arn`.
    fn entry(&self, key_arn: &str) -> Value {
        let mut e = json!({
            "KeyId": key_arn,
            "GrantId": self.grant_id,
            "CreationDate": self.created,
            "IssuingAccount": self.issuing_account,
            "Operations": self.operations,
        });
        let optional = [
            ("Name", &self.name),
            ("GranteePrincipal", &self.grantee_principal),
            ("GranteeServicePrincipal", &self.grantee_service_principal),
            ("RetiringPrincipal", &self.retiring_principal),
            ("RetiringServicePrincipal", &self.retiring_service_principal),
        ];
        for (member, value) in optional {
            if let Some(v) = value {
                e[member] = json!(v);
            }
        }
        if let Some(c) = &self.constraints {
            e["Constraints"] = c.clone();
        }
        e
    }

    /// Whether a repeated CreateGrant asks for this very grant (same name and parameters).
    fn same_request(&self, other: &StoredGrant) -> bool {
        self.name == other.name
            && self.grantee_principal == other.grantee_principal
            && self.grantee_service_principal == other.grantee_service_principal
            && self.retiring_principal == other.retiring_principal
            && self.retiring_service_principal == other.retiring_service_principal
            && self.operations == other.operations
            && self.constraints == other.constraints
    }
}

/// Reads the grants of `key`.
async fn read_grants(cx: &Context, key: &keychain::KeyRef) -> Result<Vec<StoredGrant>, KmsError> {
    match cx.backend.read_key_annex(key, GRANTS_ANNEX).await? {
        None => Ok(Vec::new()),
        Some(bytes) => parse_grants(&bytes)
            .map_err(keychain::Error::from)
            .map_err(Into::into),
    }
}

fn parse_grants(bytes: &[u8]) -> Result<Vec<StoredGrant>, StoreDamage> {
    serde_json::from_slice(bytes).map_err(|e| StoreDamage(e.to_string()))
}

/// A grants annex that does not parse: the store's fault, reported as KMSInternalException.
struct StoreDamage(String);

impl From<StoreDamage> for keychain::Error {
    fn from(d: StoreDamage) -> Self {
        keychain::Error::Corrupted {
            what: "a key's grants (kms-grants annex)".into(),
            message: d.0,
        }
    }
}

/// Rewrites the grants of `key` with `change`, atomically; what `change` returns is kept.
async fn change_grants<T: Send + 'static>(
    cx: &Context,
    key: &keychain::KeyRef,
    change: impl FnOnce(&mut Vec<StoredGrant>) -> Result<T, KmsError> + Send + 'static,
) -> Result<T, KmsError> {
    let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = outcome.clone();
    let update: keychain::AnnexUpdate = Box::new(move |old| {
        let mut grants = match old {
            Some(bytes) => parse_grants(bytes)?,
            None => Vec::new(),
        };
        let result = change(&mut grants);
        let keep = result.is_ok();
        let bytes = serde_json::to_vec(&grants).map_err(|e| StoreDamage(e.to_string()));
        if let Ok(mut s) = slot.lock() {
            *s = Some(result);
        }
        if !keep {
            // The caller's error is in the slot; this one only stops the write.
            return Err(keychain::Error::invalid_input("grant change refused"));
        }
        Ok(bytes?)
    });
    let written = cx.backend.update_key_annex(key, GRANTS_ANNEX, update).await;
    let result = outcome.lock().ok().and_then(|mut s| s.take());
    match (written, result) {
        (_, Some(Err(e))) => Err(e),
        (Ok(()), Some(Ok(v))) => Ok(v),
        (Err(e), _) => Err(e.into()),
        (Ok(()), None) => Err(KmsError::internal("the grant change did not run")),
    }
}

/// A grant token: the key id, the grant id and the grant's random part.
fn grant_token(key_id: &str, grant: &StoredGrant) -> String {
    STANDARD.encode(format!(
        "kcgt1:{key_id}:{}:{}",
        grant.grant_id, grant.token_nonce
    ))
}

/// The key id, grant id and random part a token carries.
fn parse_token(token: &str) -> Option<(String, String, String)> {
    let text = String::from_utf8(STANDARD.decode(token).ok()?).ok()?;
    let mut parts = text.split(':');
    let (tag, key, grant, nonce) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (tag == "kcgt1" && parts.next().is_none())
        .then(|| (key.to_string(), grant.to_string(), nonce.to_string()))
}

fn random_hex(n: usize) -> Result<String, KmsError> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| KmsError::internal("no random bytes for the grant"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn invalid_state(cx: &Context, info: &KeyInfo) -> KmsError {
    KmsError::bad(
        "KMSInvalidStateException",
        format!(
            "{} is {}",
            cx.caller.key_arn(&info.key_id),
            crate::metadata::state_name(info.state)
        ),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateGrantInput {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    grantee_service_principal: Option<String>,
    retiring_principal: Option<String>,
    retiring_service_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<Value>,
    grant_tokens: Option<Vec<String>>,
    name: Option<String>,
    dry_run: Option<bool>,
}

pub(super) async fn create_grant(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: CreateGrantInput = input(body)?;
    let key_id = required(i.key_id, "KeyId")?;
    let operations = required(i.operations, "Operations")?;
    match (&i.grantee_principal, &i.grantee_service_principal) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(KmsError::validation(
                "specify either GranteePrincipal or GranteeServicePrincipal, not both",
            ));
        }
        _ => {}
    }
    if i.retiring_principal.is_some() && i.retiring_service_principal.is_some() {
        return Err(KmsError::validation(
            "specify either RetiringPrincipal or RetiringServicePrincipal, not both",
        ));
    }
    let principals = [
        ("GranteePrincipal", &i.grantee_principal),
        ("GranteeServicePrincipal", &i.grantee_service_principal),
        ("RetiringPrincipal", &i.retiring_principal),
        ("RetiringServicePrincipal", &i.retiring_service_principal),
    ];
    for (member, value) in principals {
        if let Some(v) = value {
            check_principal(member, v)?;
        }
    }
    check_len("Operations", operations.len(), 1, GRANT_OPERATIONS.len())?;
    for op in &operations {
        if !GRANT_OPERATIONS.contains(&op.as_str()) {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '[{}]' at 'operations' failed to satisfy \
                 constraint: Member must satisfy constraint: [Member must satisfy enum value \
                 set: [{}]]",
                clip(op),
                GRANT_OPERATIONS.join(", ")
            )));
        }
    }
    if let Some(name) = &i.name {
        check_len("Name", name.chars().count(), 1, 256)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":/_-".contains(c))
        {
            return Err(KmsError::validation(format!(
                "1 validation error detected: Value '{}' at 'name' failed to satisfy \
                 constraint: Member must satisfy regular expression pattern: \
                 ^[a-zA-Z0-9:/_-]+$",
                clip(name)
            )));
        }
    }
    check_grant_tokens(i.grant_tokens.as_deref())?;
    let (key, info) = resolve(cx, Some(key_id)).await?;
    if matches!(
        info.state,
        KeyState::PendingDeletion | KeyState::PendingReplicaDeletion
    ) {
        return Err(invalid_state(cx, &info));
    }
    let supported = operations_of(&info);
    if let Some(op) = operations.iter().find(|op| {
        !matches!(op.as_str(), "CreateGrant" | "DescribeKey" | "RetireGrant")
            && !supported.contains(&op.as_str())
    }) {
        return Err(KmsError::validation(format!(
            "a grant for {} ({} {}) cannot allow {op}",
            info.key_id, info.spec, info.usage
        )));
    }
    if let Some(c) = &i.constraints {
        check_constraints(c, &info)?;
    }
    dry_run(i.dry_run)?;
    let mut operations = operations;
    operations.sort();
    operations.dedup();
    let grant = StoredGrant {
        grant_id: random_hex(32)?,
        name: i.name,
        created: epoch(std::time::SystemTime::now()),
        grantee_principal: i.grantee_principal,
        grantee_service_principal: i.grantee_service_principal,
        retiring_principal: i.retiring_principal,
        retiring_service_principal: i.retiring_service_principal,
        issuing_account: format!("arn:aws:iam::{}:root", cx.caller.account),
        operations,
        constraints: i
            .constraints
            .filter(|c| c.as_object().is_some_and(|m| !m.is_empty())),
        token_nonce: random_hex(16)?,
    };
    let stored = change_grants(cx, &key, move |grants| {
        // A repeated request with the same name and parameters is the same grant.
        if grant.name.is_some()
            && let Some(existing) = grants.iter().find(|g| g.same_request(&grant))
        {
            return Ok(existing.clone());
        }
        if grants.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::bad(
                "LimitExceededException",
                format!("a key has at most {MAX_GRANTS_PER_KEY} grants"),
            ));
        }
        grants.push(grant.clone());
        Ok(grant)
    })
    .await?;
    Ok(json!({
        "GrantId": stored.grant_id,
        "GrantToken": grant_token(&info.key_id, &stored),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListGrantsInput {
    key_id: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
    grant_id: Option<String>,
    grantee_principal: Option<String>,
    grantee_service_principal: Option<String>,
}

/// One page of grant entries; the marker is the id of the last grant of the previous page.
fn grant_page(
    entries: Vec<(String, Value)>,
    limit: Option<i64>,
    marker: Option<&str>,
) -> Result<Value, KmsError> {
    let limit = limit.unwrap_or(50);
    check_range("Limit", limit, 1, 100)?;
    let start = match marker {
        None => 0,
        Some(m) => {
            check_len("Marker", m.chars().count(), 1, 1024)?;
            entries
                .iter()
                .position(|(id, _)| id == m)
                .map(|p| p + 1)
                .ok_or_else(|| KmsError::bad("InvalidMarkerException", "the marker is not valid"))?
        }
    };
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
        .min(entries.len());
    let page: Vec<Value> = entries[start..end].iter().map(|(_, e)| e.clone()).collect();
    let mut out = json!({ "Grants": page, "Truncated": end < entries.len() });
    if end < entries.len()
        && let Some((id, _)) = entries.get(end.saturating_sub(1))
    {
        out["NextMarker"] = json!(id);
    }
    Ok(out)
}

pub(super) async fn list_grants(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ListGrantsInput = input(body)?;
    if let Some(limit) = i.limit {
        check_range("Limit", limit, 1, 100)?;
    }
    if let Some(g) = &i.grant_id {
        check_len("GrantId", g.chars().count(), 1, 128)?;
    }
    for (member, value) in [
        ("GranteePrincipal", &i.grantee_principal),
        ("GranteeServicePrincipal", &i.grantee_service_principal),
    ] {
        if let Some(v) = value {
            check_principal(member, v)?;
        }
    }
    let (key, info) = resolve(cx, i.key_id).await?;
    let grants = read_grants(cx, &key).await?;
    if let Some(g) = &i.grant_id
        && !grants.iter().any(|x| &x.grant_id == g)
    {
        return Err(KmsError::bad(
            "InvalidGrantIdException",
            format!("no grant {} on {}", clip(g), info.key_id),
        ));
    }
    let arn = cx.caller.key_arn(&info.key_id);
    let entries = grants
        .iter()
        .filter(|g| i.grant_id.as_ref().is_none_or(|id| *id == g.grant_id))
        .filter(|g| i.grantee_principal.is_none() || g.grantee_principal == i.grantee_principal)
        .filter(|g| {
            i.grantee_service_principal.is_none()
                || g.grantee_service_principal == i.grantee_service_principal
        })
        .map(|g| (g.grant_id.clone(), g.entry(&arn)))
        .collect();
    grant_page(entries, i.limit, i.marker.as_deref())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RevokeInput {
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

/// Deletes the grant `grant_id` of `key` (and, with `nonce`, only if a token of it).
async fn delete_grant(
    cx: &Context,
    key: &keychain::KeyRef,
    grant_id: String,
    nonce: Option<String>,
    dry: Option<bool>,
) -> Result<(), KmsError> {
    let unknown = || {
        KmsError::bad(
            "InvalidGrantIdException",
            format!("no grant {} on the key", clip(&grant_id)),
        )
    };
    let grants = read_grants(cx, key).await?;
    let found = grants
        .iter()
        .any(|g| g.grant_id == grant_id && nonce.as_ref().is_none_or(|n| *n == g.token_nonce));
    if !found {
        return Err(match nonce {
            Some(_) => KmsError::not_found("no grant has this grant token"),
            None => unknown(),
        });
    }
    dry_run(dry)?;
    change_grants(cx, key, move |grants| {
        // Gone meanwhile (another call retired it): nothing left to delete.
        grants.retain(|g| g.grant_id != grant_id);
        Ok(())
    })
    .await
}

pub(super) async fn revoke_grant(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: RevokeInput = input(body)?;
    let key_id = required(i.key_id, "KeyId")?;
    let grant_id = required(i.grant_id, "GrantId")?;
    check_len("GrantId", grant_id.chars().count(), 1, 128)?;
    let (key, _) = resolve(cx, Some(key_id)).await?;
    delete_grant(cx, &key, grant_id, None, i.dry_run).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetireInput {
    grant_token: Option<String>,
    key_id: Option<String>,
    grant_id: Option<String>,
    dry_run: Option<bool>,
}

pub(super) async fn retire_grant(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: RetireInput = input(body)?;
    if let Some(t) = &i.grant_token {
        check_len("GrantToken", t.chars().count(), 1, 8192)?;
    }
    if let Some(g) = &i.grant_id {
        check_len("GrantId", g.chars().count(), 1, 128)?;
    }
    match (i.grant_token, i.key_id, i.grant_id) {
        (Some(token), key_id, grant_id) => {
            let (token_key, token_grant, nonce) = parse_token(&token).ok_or_else(|| {
                KmsError::bad("InvalidGrantTokenException", "the grant token is not valid")
            })?;
            if grant_id.as_ref().is_some_and(|g| *g != token_grant) {
                return Err(KmsError::bad(
                    "InvalidGrantIdException",
                    "the GrantId is not the grant of the grant token",
                ));
            }
            let (key, info) = resolve(cx, Some(key_id.unwrap_or(token_key.clone()))).await?;
            if info.key_id != token_key {
                return Err(KmsError::validation(format!(
                    "the grant token is not for key {}",
                    info.key_id
                )));
            }
            delete_grant(cx, &key, token_grant, Some(nonce), i.dry_run).await?;
        }
        (None, Some(key_id), Some(grant_id)) => {
            let (key, _) = resolve(cx, Some(key_id)).await?;
            delete_grant(cx, &key, grant_id, None, i.dry_run).await?;
        }
        _ => {
            return Err(KmsError::validation(
                "specify a GrantToken, or both a KeyId and a GrantId",
            ));
        }
    }
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RetirableInput {
    limit: Option<i64>,
    marker: Option<String>,
    retiring_principal: Option<String>,
    retiring_service_principal: Option<String>,
}

pub(super) async fn list_retirable_grants(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: RetirableInput = input(body)?;
    if let Some(limit) = i.limit {
        check_range("Limit", limit, 1, 100)?;
    }
    let principal = match (i.retiring_principal, i.retiring_service_principal) {
        (Some(p), None) => {
            check_principal("RetiringPrincipal", &p)?;
            (Some(p), None)
        }
        (None, Some(p)) => {
            check_principal("RetiringServicePrincipal", &p)?;
            (None, Some(p))
        }
        (None, None) => {
            return Err(required(None::<String>, "RetiringPrincipal")
                .err()
                .unwrap_or_else(|| KmsError::validation("RetiringPrincipal is required")));
        }
        (Some(_), Some(_)) => {
            return Err(KmsError::validation(
                "specify either RetiringPrincipal or RetiringServicePrincipal, not both",
            ));
        }
    };
    // Every key's grants, in key id order then grant order: a stable order for the marker.
    let mut entries = Vec::new();
    let mut marker = None;
    loop {
        let page = cx
            .backend
            .list_keys(&keychain::PageRequest {
                limit: Some(1000),
                marker: marker.take(),
            })
            .await?;
        for info in &page.items {
            let key = keychain::KeyRef::key_id(&info.key_id)?;
            let grants = match read_grants(cx, &key).await {
                Ok(g) => g,
                // Deleted meanwhile.
                Err(e) if e.code == "NotFoundException" => continue,
                Err(e) => return Err(e),
            };
            let arn = cx.caller.key_arn(&info.key_id);
            for g in grants {
                if (
                    g.retiring_principal.clone(),
                    g.retiring_service_principal.clone(),
                ) == principal
                {
                    entries.push((g.grant_id.clone(), g.entry(&arn)));
                }
            }
        }
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    grant_page(entries, i.limit, i.marker.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_the_same_grant() {
        assert!(grant(Some("n")).same_request(&grant(Some("n"))));
        assert!(!grant(Some("n")).same_request(&grant(Some("m"))));
    }

    fn grant(name: Option<&str>) -> StoredGrant {
        StoredGrant {
            grant_id: "g".repeat(64),
            name: name.map(str::to_string),
            created: 0.0,
            grantee_principal: Some("arn:aws:iam::000000000000:role/r".into()),
            grantee_service_principal: None,
            retiring_principal: None,
            retiring_service_principal: None,
            issuing_account: "arn:aws:iam::000000000000:root".into(),
            operations: vec!["Decrypt".into()],
            constraints: None,
            token_nonce: "n".into(),
        }
    }

    #[test]
    fn tokens_name_key_and_grant() {
        let g = grant(None);
        let t = grant_token("k-1", &g);
        assert_eq!(
            parse_token(&t),
            Some(("k-1".into(), g.grant_id.clone(), "n".into()))
        );
        assert_eq!(parse_token("not a token"), None);
        assert_eq!(parse_token(&STANDARD.encode("kcgt1:a:b")), None);
    }

    #[test]
    fn pages_follow_the_marker() {
        let entries: Vec<(String, Value)> = (0..5).map(|n| (n.to_string(), json!(n))).collect();
        let first = grant_page(entries.clone(), Some(2), None).unwrap_or_default();
        assert_eq!(first["Grants"], json!([0, 1]));
        assert_eq!(first["Truncated"], json!(true));
        assert_eq!(first["NextMarker"], json!("1"));
        let last = grant_page(entries.clone(), Some(3), Some("1")).unwrap_or_default();
        assert_eq!(last["Grants"], json!([2, 3, 4]));
        assert_eq!(last["Truncated"], json!(false));
        assert!(last.get("NextMarker").is_none());
        assert!(grant_page(entries.clone(), Some(101), None).is_err());
        assert!(grant_page(entries, None, Some("x")).is_err());
    }
}
