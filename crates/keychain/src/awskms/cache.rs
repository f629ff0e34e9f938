//! How the AWS KMS backend reads and fills the shared [`crate::KeyCache`] (with its configured
//! TTL), and the lookups behind it: DescribeKey, a key's aliases and tags, and the mapping of
//! SDK failures to errors that carry the key's real state.

use std::collections::BTreeMap;

use aws_sdk_kms::Client;

use super::errors::{map_sdk_error, no_field};
use super::mapping::key_info_from_metadata;
use super::{AwsKmsBackend, NAME_TAG, RESERVED_TAG_PREFIX, name};
use crate::key::{AliasInfo, KeyInfo, KeySpec};
use crate::key_ref::{KeyRef, KeyTarget};
use crate::public_key::PublicKey;
use crate::{Error, Result};

/// The name of a key: the `keychain:name` tag when `alias/NAME` still points at the key,
/// else the key's only alias (a key made by another tool), else none.
pub(super) fn name_of(tags: &BTreeMap<String, String>, aliases: &[String]) -> Option<String> {
    if let Some(n) = tags.get(NAME_TAG) {
        return aliases.contains(&format!("alias/{n}")).then(|| n.clone());
    }
    match aliases {
        [only] => only.strip_prefix("alias/").map(str::to_string),
        _ => None,
    }
}

impl AwsKmsBackend {
    /// Metadata of `key` from the shared cache, if younger than the configured TTL.
    pub(super) fn cached_info(&self, key: &KeyRef) -> Option<KeyInfo> {
        self.inner.cache.info(key, self.inner.cache_ttl)
    }

    /// The public key of `key` from the shared cache, if younger than the configured TTL.
    pub(super) fn cached_public_key(&self, key: &KeyRef) -> Option<PublicKey> {
        self.inner.cache.public_key(key, self.inner.cache_ttl)
    }

    pub(super) fn remember_public_key(&self, key: &KeyRef, pk: &PublicKey) {
        self.inner.cache.remember_public_key(key, pk);
    }

    /// Drops cached entries of one key (all references that resolved to it).
    pub(super) fn forget_key(&self, key_id: &str) {
        self.inner.cache.forget_key(key_id);
    }

    /// DescribeKey, uncached; refreshes the cache. Returns the info and whether AWS manages
    /// the key. A key named by `alias/NAME` is reported under that name: the alias points at
    /// it (DescribeKey alone says nothing of aliases).
    pub(super) async fn describe_fresh(&self, key: &KeyRef) -> Result<(KeyInfo, bool)> {
        let out = self
            .client_for(key)?
            .describe_key()
            .set_grant_tokens(self.grant_tokens())
            .key_id(key.kms_key_id())
            .send()
            .await
            .map_err(|e| map_sdk_error(e, "DescribeKey", &name(key)))?;
        let meta = out
            .key_metadata()
            .ok_or_else(|| no_field("DescribeKey", "key metadata", &name(key)))?;
        let mut info = key_info_from_metadata(meta)?;
        if let KeyTarget::Alias(alias) = key.target() {
            info.name = Some(alias.clone());
            info.aliases = vec![format!("alias/{alias}")];
        }
        let aws_managed = matches!(
            meta.key_manager(),
            Some(aws_sdk_kms::types::KeyManagerType::Aws)
        );
        self.inner.cache.remember_info(key, &info);
        Ok((info, aws_managed))
    }

    /// Key metadata for choosing and checking algorithms, from the cache when fresh. The
    /// spec and usage of a key never change; its state is not trusted from here.
    pub(super) async fn metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        if let Some(info) = self.cached_info(key) {
            return Ok(info);
        }
        Ok(self.describe_fresh(key).await?.0)
    }

    /// The key id for operations that take no alias (EnableKey, TagResource…): the id or ARN
    /// as given, or the key an alias points at now (never from the cache).
    pub(super) async fn resolve_id(&self, key: &KeyRef) -> Result<String> {
        match key.target() {
            KeyTarget::KeyId(id) => Ok(id.clone()),
            KeyTarget::KeyArn(arn) => Ok(arn.arn.clone()),
            _ => Ok(self.describe_fresh(key).await?.0.key_id),
        }
    }

    /// Replaces a guessed state in an InvalidKeyState error by the key's real state.
    pub(super) async fn with_real_state(&self, err: Error, key: &KeyRef) -> Error {
        match err {
            Error::InvalidKeyState {
                key: k,
                state,
                message,
            } => {
                let state = match self.describe_fresh(key).await {
                    Ok((info, _)) => info.state.to_string(),
                    Err(_) => state,
                };
                Error::InvalidKeyState {
                    key: k,
                    state,
                    message,
                }
            }
            other => other,
        }
    }

    pub(super) async fn fail<E>(
        &self,
        err: aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
        operation: &str,
        key: &KeyRef,
    ) -> Error
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let e = map_sdk_error(err, operation, &name(key));
        self.with_real_state(e, key).await
    }

    /// All aliases (or those of one key id), following ListAliases pages.
    pub(super) async fn all_aliases(
        &self,
        client: &Client,
        key_id: Option<&str>,
    ) -> Result<Vec<AliasInfo>> {
        let entries = client
            .list_aliases()
            .set_key_id(key_id.map(str::to_string))
            .into_paginator()
            .page_size(100)
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| map_sdk_error(e, "ListAliases", key_id.unwrap_or("-")))?;
        let mut out: Vec<AliasInfo> = entries
            .into_iter()
            .filter_map(|a| {
                Some(AliasInfo {
                    alias: a.alias_name()?.to_string(),
                    key_id: a.target_key_id().map(str::to_string),
                })
            })
            .collect();
        out.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(out)
    }

    /// All tags of a key, following ListResourceTags pages.
    pub(super) async fn all_tags(
        &self,
        client: &Client,
        key_id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut pages = client
            .list_resource_tags()
            .key_id(key_id)
            .into_paginator()
            .page_size(50)
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_sdk_error(e, "ListResourceTags", key_id))?;
            for t in page.tags() {
                out.insert(t.tag_key().to_string(), t.tag_value().to_string());
            }
        }
        Ok(out)
    }

    /// Fills in name, aliases and tags of a described key.
    pub(super) fn complete(
        mut info: KeyInfo,
        aliases: Vec<String>,
        all_tags: BTreeMap<String, String>,
    ) -> KeyInfo {
        info.name = name_of(&all_tags, &aliases);
        info.aliases = aliases;
        info.tags = all_tags
            .into_iter()
            .filter(|(k, _)| !k.starts_with(RESERVED_TAG_PREFIX))
            .collect();
        info
    }

    /// DescribeKey alone, for the data path (see [`crate::Backend::key_metadata`]).
    pub(super) async fn describe_data_path(&self, key: &KeyRef) -> Result<KeyInfo> {
        Ok(self.describe_fresh(key).await?.0)
    }

    /// DescribeKey + its aliases and tags.
    pub(super) async fn describe_full(&self, key: &KeyRef) -> Result<KeyInfo> {
        let (info, aws_managed) = self.describe_fresh(key).await?;
        let client = self.client_for(key)?;
        let (aliases, tags) = tokio::join!(self.all_aliases(&client, Some(&info.key_id)), async {
            if aws_managed {
                Ok(BTreeMap::new())
            } else {
                self.all_tags(&client, &info.key_id).await
            }
        });
        let aliases = aliases?.into_iter().map(|a| a.alias).collect();
        let mut info = Self::complete(info, aliases, tags?);
        if info.spec == KeySpec::SymmetricDefault
            && !aws_managed
            && let Some(rotations) = self.rotation_count(&client, &info.key_id).await?
        {
            info.versions = rotations.saturating_add(1);
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn names_come_from_the_tag_or_the_only_alias() {
        let tags: BTreeMap<String, String> = [(NAME_TAG.to_string(), "app".to_string())].into();
        assert_eq!(
            name_of(&tags, &["alias/app".into(), "alias/other".into()]),
            Some("app".into())
        );
        assert_eq!(name_of(&tags, &["alias/other".into()]), None);
        assert_eq!(
            name_of(&BTreeMap::new(), &["alias/foreign".into()]),
            Some("foreign".into())
        );
        assert_eq!(
            name_of(&BTreeMap::new(), &["alias/a".into(), "alias/b".into()]),
            None
        );
    }
}
