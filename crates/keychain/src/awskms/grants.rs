//! Who may use an AWS KMS key: its key policy (GetKeyPolicy, PutKeyPolicy) and grants
//! (CreateGrant, ListGrants, RevokeGrant).

use std::time::SystemTime;

use aws_sdk_kms::types as sdk;

use super::AwsKmsBackend;
use super::errors::no_field;
use super::mapping::{key_id_of, time_from_sdk};
use crate::key_ref::KeyRef;
use crate::{Error, Result};

/// A grant on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantInfo {
    /// The grant id.
    pub grant_id: String,
    /// The grant's name, if it has one.
    pub name: Option<String>,
    /// The key id.
    pub key_id: String,
    /// Who may use the key.
    pub grantee_principal: Option<String>,
    /// Who may retire the grant.
    pub retiring_principal: Option<String>,
    /// The operations allowed (`Sign`, `Decrypt`…).
    pub operations: Vec<String>,
    /// When the grant was made.
    pub created: Option<SystemTime>,
}

/// A new grant: its id and the token that makes it usable at once.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantToken {
    /// The grant id (to revoke it).
    pub grant_id: String,
    /// The grant token (pass it with requests until the grant has propagated).
    pub token: String,
}

impl std::fmt::Debug for GrantToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantToken")
            .field("grant_id", &self.grant_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AwsKmsBackend {
    /// The key policy (KMS `GetKeyPolicy`, policy `default`), a JSON document.
    pub async fn key_policy(&self, key: &KeyRef) -> Result<String> {
        let id = self.resolve_id(key).await?;
        match self
            .client_for(key)?
            .get_key_policy()
            .key_id(&id)
            .policy_name("default")
            .send()
            .await
        {
            Ok(o) => o
                .policy
                .ok_or_else(|| no_field("GetKeyPolicy", "policy", &id)),
            Err(e) => Err(self.fail(e, "GetKeyPolicy", key).await),
        }
    }

    /// Replaces the key policy (KMS `PutKeyPolicy`). The document must be JSON; KMS checks
    /// the rest (and refuses a policy that would lock the caller out).
    pub async fn put_key_policy(&self, key: &KeyRef, policy: &str) -> Result<()> {
        serde_json::from_str::<serde_json::Value>(policy)
            .map_err(|e| Error::invalid_input(format!("the key policy is not JSON: {e}")))?;
        let id = self.resolve_id(key).await?;
        match self
            .client_for(key)?
            .put_key_policy()
            .key_id(&id)
            .policy_name("default")
            .policy(policy)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "PutKeyPolicy", key).await),
        }
    }

    /// Grants `grantee_principal` (an IAM ARN) the `operations` (`Sign`, `Decrypt`,
    /// `GenerateDataKey`…) on the key (KMS `CreateGrant`).
    pub async fn create_grant(
        &self,
        key: &KeyRef,
        grantee_principal: &str,
        operations: &[&str],
        name: Option<&str>,
    ) -> Result<GrantToken> {
        if operations.is_empty() {
            return Err(Error::invalid_input("a grant needs at least one operation"));
        }
        let mut ops = Vec::new();
        for op in operations {
            let g = sdk::GrantOperation::from(*op);
            if !sdk::GrantOperation::values().contains(op) {
                return Err(Error::invalid_input(format!(
                    "{op:?} is not a grant operation; use one of: {}",
                    sdk::GrantOperation::values().join(", ")
                )));
            }
            ops.push(g);
        }
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .create_grant()
            .set_grant_tokens(self.grant_tokens())
            .key_id(&id)
            .grantee_principal(grantee_principal)
            .set_operations(Some(ops))
            .set_name(name.map(str::to_string))
            .send()
            .await;
        match res {
            Ok(o) => Ok(GrantToken {
                grant_id: o
                    .grant_id
                    .ok_or_else(|| no_field("CreateGrant", "grant id", &id))?,
                token: o.grant_token.unwrap_or_default(),
            }),
            Err(e) => Err(self.fail(e, "CreateGrant", key).await),
        }
    }

    /// The grants on a key (KMS `ListGrants`, every page).
    pub async fn list_grants(&self, key: &KeyRef) -> Result<Vec<GrantInfo>> {
        let id = self.resolve_id(key).await?;
        let client = self.client_for(key)?;
        let mut out = Vec::new();
        let mut grants = client
            .list_grants()
            .key_id(&id)
            .into_paginator()
            .page_size(100)
            .items()
            .send();
        while let Some(grant) = grants.next().await {
            let g = match grant {
                Ok(g) => g,
                Err(e) => return Err(self.fail(e, "ListGrants", key).await),
            };
            out.push(GrantInfo {
                grant_id: g.grant_id().unwrap_or_default().to_string(),
                name: g.name().filter(|n| !n.is_empty()).map(str::to_string),
                key_id: key_id_of(g.key_id().unwrap_or(&id)),
                grantee_principal: g.grantee_principal().map(str::to_string),
                retiring_principal: g.retiring_principal().map(str::to_string),
                operations: g
                    .operations()
                    .iter()
                    .map(|o| o.as_str().to_string())
                    .collect(),
                created: g.creation_date().map(time_from_sdk),
            });
        }
        Ok(out)
    }

    /// Revokes a grant (KMS `RevokeGrant`).
    pub async fn revoke_grant(&self, key: &KeyRef, grant_id: &str) -> Result<()> {
        if grant_id.trim().is_empty() {
            return Err(Error::invalid_input("empty grant id"));
        }
        let id = self.resolve_id(key).await?;
        match self
            .client_for(key)?
            .revoke_grant()
            .key_id(&id)
            .grant_id(grant_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "RevokeGrant", key).await),
        }
    }
}
