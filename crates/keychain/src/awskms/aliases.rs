//! Aliases in AWS KMS: create, update, delete and list (every page).

use super::AwsKmsBackend;
use super::errors::{error_code, map_sdk_error};
use crate::key::AliasInfo;
use crate::key_ref::KeyRef;
use crate::{Error, Result};

pub(super) async fn create_alias(kms: &AwsKmsBackend, alias: &str, key: &KeyRef) -> Result<()> {
    let alias_ref = KeyRef::alias(alias)?;
    if let Some(name) = alias_ref.alias_name() {
        // A new name: it must not read as another kind of reference.
        crate::key_ref::validate_key_name(name)?;
    }
    let full = alias_ref.kms_key_id();
    let target = kms.resolve_id(key).await?;
    let res = kms
        .client_for(key)?
        .create_alias()
        .alias_name(&full)
        .target_key_id(&target)
        .send()
        .await;
    kms.clear_cache();
    match res {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("AlreadyExistsException") => {
            Err(Error::AlreadyExists { what: full })
        }
        Err(e) => Err(kms.fail(e, "CreateAlias", key).await),
    }
}

pub(super) async fn update_alias(kms: &AwsKmsBackend, alias: &str, key: &KeyRef) -> Result<()> {
    let alias_ref = KeyRef::alias(alias)?;
    let full = alias_ref.kms_key_id();
    let current = kms.describe_fresh(&alias_ref).await?.0;
    let target = kms.describe_fresh(key).await?.0;
    // An alias moves only to a key of the same spec and usage, so whoever signs or
    // decrypts through it keeps getting a key that does what they expect (KMS itself
    // only requires the same type and usage; keychain's contract is stricter).
    if current.spec != target.spec || current.usage != target.usage {
        return Err(Error::invalid_input(format!(
            "{full} points at a {} {} key; it can only move to a key of the same spec and \
             usage, not to a {} {} key",
            current.spec, current.usage, target.spec, target.usage
        )));
    }
    let res = kms
        .client_for(key)?
        .update_alias()
        .alias_name(&full)
        .target_key_id(&target.key_id)
        .send()
        .await;
    kms.clear_cache();
    match res {
        Ok(_) => Ok(()),
        Err(e) => Err(kms.fail(e, "UpdateAlias", &alias_ref).await),
    }
}

pub(super) async fn delete_alias(kms: &AwsKmsBackend, alias: &str) -> Result<()> {
    let alias_ref = KeyRef::alias(alias)?;
    let full = alias_ref.kms_key_id();
    let res = kms
        .inner
        .clients
        .base()
        .delete_alias()
        .alias_name(&full)
        .send()
        .await;
    kms.clear_cache();
    res.map(|_| ())
        .map_err(|e| map_sdk_error(e, "DeleteAlias", &full))
}

pub(super) async fn list_aliases(
    kms: &AwsKmsBackend,
    key: Option<&KeyRef>,
) -> Result<Vec<AliasInfo>> {
    match key {
        Some(k) => {
            // Described first: ListAliases answers an unknown key id with an empty list
            // on some servers, and a missing key must be NotFound.
            let id = kms.describe_fresh(k).await?.0.key_id;
            let client = kms.client_for(k)?;
            kms.all_aliases(&client, Some(&id)).await
        }
        None => kms.all_aliases(kms.inner.clients.base(), None).await,
    }
}
