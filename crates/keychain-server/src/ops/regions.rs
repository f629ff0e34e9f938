//! Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and where a multi-Region key is found.
//!
//! The keystore has no regions: a key is one record. A multi-Region key made through this
//! server records in its key annex `kms-regions` the region it was created in (its primary)
//! and the regions it was replicated to, and is found only there: in any other region its id
//! names no key, as in KMS. A replica is the same record seen from another region: it has the
//! primary's key id, material and rotation (as in KMS), and its own description, tags and key
//! policy, kept in the annex (as in KMS); its state and aliases are the primary's (in KMS each
//! replica has its own). Deleting a replica removes that region at once; deleting a primary
//! that has replicas deletes the whole key at the end of its window (KMS first deletes the
//! replicas). A multi-Region key without the annex (made outside this server) is found in every
//! region, its primary being the caller's.

use std::collections::BTreeMap;

use keychain::{CreateKeyRequest, KeyInfo, KeyRef, KeyState, KeyTarget};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Context, resolve};
use crate::arn::Caller;
use crate::errors::KmsError;
use crate::metadata::key_metadata;
use crate::wire::{check_len, input, required};

/// The key annex of a multi-Region key made through this server.
const REGIONS_ANNEX: &str = "kms-regions";

/// Where a multi-Region key is: its primary region, its replicas' regions, and what each
/// replica has of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Regions {
    primary: String,
    replicas: Vec<String>,
    #[serde(default)]
    own: BTreeMap<String, Own>,
}

/// What a replica has of its own: its description, tags and key policy (`None`: KMS's
/// default policy).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Own {
    pub(crate) description: String,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) policy: Option<String>,
}

impl Regions {
    /// Whether the key has replicas.
    pub(crate) fn has_replicas(&self) -> bool {
        !self.replicas.is_empty()
    }

    fn has(&self, region: &str) -> bool {
        self.primary == region || self.replicas.iter().any(|r| r == region)
    }

    /// The regions as this server writes them, from an annex that may have been edited by
    /// hand: a replica region is listed once and is not the primary's, and only replicas have
    /// things of their own (the primary's are the key record's).
    fn normalized(mut self) -> Self {
        let mut seen = std::collections::BTreeSet::new();
        let primary = self.primary.clone();
        self.replicas
            .retain(|r| *r != primary && seen.insert(r.clone()));
        self.own.retain(|region, _| seen.contains(region));
        self
    }

    /// Reads the annex; `None` (and the cause in the server's log) when it is not one.
    fn parse(key_id: &str, bytes: &[u8]) -> Option<Self> {
        match serde_json::from_slice::<Self>(bytes) {
            Ok(r) => Some(r.normalized()),
            Err(e) => {
                tracing::error!(key_id = %key_id, error = %e, "unreadable regions annex");
                None
            }
        }
    }
}

/// The regions of `info` when it is a multi-Region key: recorded, or (no record, or a
/// backend without annexes) its primary in the caller's region and no replicas.
pub(crate) async fn regions_of(cx: &Context, info: &KeyInfo) -> Result<Option<Regions>, KmsError> {
    if !info.multi_region {
        return Ok(None);
    }
    let key = KeyRef::key_id(&info.key_id)?;
    let recorded = match cx.backend.read_key_annex(&key, REGIONS_ANNEX).await {
        Ok(bytes) => bytes,
        Err(keychain::Error::Unsupported { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    match recorded {
        // The keystore's damage is the server's fault, told in its log, not in the answer.
        Some(bytes) => Regions::parse(&info.key_id, &bytes)
            .map(Some)
            .ok_or_else(|| KmsError::internal("the key store failed; see the server log")),
        None => Ok(Some(Regions {
            primary: cx.caller.region.clone(),
            replicas: Vec::new(),
            own: BTreeMap::new(),
        })),
    }
}

/// NotFoundException when `info` is a multi-Region key that is not in the caller's region.
pub(crate) async fn check_visible(cx: &Context, info: &KeyInfo) -> Result<(), KmsError> {
    match regions_of(cx, info).await? {
        Some(r) if !r.has(&cx.caller.region) => Err(not_here(&cx.caller, &info.key_id)),
        _ => Ok(()),
    }
}

/// As [`check_visible`] for a reference not yet resolved. A key id that is not a
/// multi-Region key id (`mrk-…`) cannot name a key absent from a region, so it costs nothing;
/// an alias can name any key (aliases are seen from every region), so it is looked up.
pub(crate) async fn check_ref_visible(cx: &Context, key: &KeyRef) -> Result<(), KmsError> {
    let id = match key.target() {
        KeyTarget::KeyId(id) => Some(id),
        KeyTarget::KeyArn(arn) => Some(&arn.resource),
        _ => None,
    };
    if id.is_some_and(|id| !id.starts_with("mrk-")) {
        return Ok(());
    }
    let info = cx.backend.key_metadata(key).await?;
    check_visible(cx, &info).await
}

/// UnsupportedOperationException when `info` is a multi-Region key that is a replica in the
/// caller's region: what the primary decides for every region (its rotation) is asked of the
/// primary, in its region, as KMS requires.
pub(crate) async fn check_primary_here(
    cx: &Context,
    info: &KeyInfo,
    operation: &str,
) -> Result<(), KmsError> {
    match regions_of(cx, info).await? {
        Some(r) if r.primary != cx.caller.region => Err(KmsError::unsupported(format!(
            "{operation}: {} is a replica key; call it on its primary key, in {}",
            cx.caller.key_arn(&info.key_id),
            r.primary
        ))),
        _ => Ok(()),
    }
}

fn not_here(caller: &Caller, key_id: &str) -> KmsError {
    KmsError::not_found(format!("Key '{}' does not exist", caller.key_arn(key_id)))
}

/// `KeyMetadata` of `info` as seen from `caller`'s region, with its `MultiRegionConfiguration`
/// when it is a multi-Region key (and, for a primary waiting for its replicas' deletion, the
/// state KMS gives it).
pub(crate) fn metadata_in(
    caller: &Caller,
    info: &KeyInfo,
    regions: Option<&Regions>,
    ed25519ph: bool,
) -> Value {
    let mut m = key_metadata(caller, info, ed25519ph);
    let Some(r) = regions else { return m };
    let arn = |region: &str| {
        format!(
            "arn:aws:kms:{region}:{}:key/{}",
            caller.account, info.key_id
        )
    };
    let is_primary = r.primary == caller.region;
    if let Some(own) = r.own.get(&caller.region) {
        m["Description"] = json!(own.description);
    }
    m["MultiRegionConfiguration"] = json!({
        "MultiRegionKeyType": if is_primary { "PRIMARY" } else { "REPLICA" },
        "PrimaryKey": { "Arn": arn(&r.primary), "Region": r.primary },
        "ReplicaKeys": r.replicas.iter()
            .map(|region| json!({ "Arn": arn(region), "Region": region }))
            .collect::<Vec<_>>(),
    });
    if is_primary && !r.replicas.is_empty() && info.state == KeyState::PendingDeletion {
        m["KeyState"] = json!("PendingReplicaDeletion");
        if let Some(o) = m.as_object_mut() {
            o.remove("DeletionDate");
        }
    }
    m
}

/// Records the caller's region as the primary of a multi-Region key just created.
pub(crate) async fn record_primary(cx: &Context, info: &KeyInfo) -> Result<(), KmsError> {
    if !info.multi_region {
        return Ok(());
    }
    let regions = Regions {
        primary: cx.caller.region.clone(),
        replicas: Vec::new(),
        own: BTreeMap::new(),
    };
    write(cx, info, move |_| Ok(regions)).await
}

/// Rewrites the regions of `info` under the keystore lock: `change` gets the recorded ones
/// (or `None`) and returns the new ones.
async fn write(
    cx: &Context,
    info: &KeyInfo,
    change: impl FnOnce(Option<Regions>) -> keychain::Result<Regions> + Send + 'static,
) -> Result<(), KmsError> {
    let key = KeyRef::key_id(&info.key_id)?;
    let key_id = info.key_id.clone();
    cx.backend
        .update_key_annex(
            &key,
            REGIONS_ANNEX,
            Box::new(move |old| {
                let old = match old {
                    Some(bytes) => Some(Regions::parse(&key_id, bytes).ok_or_else(|| {
                        keychain::Error::Corrupted {
                            what: format!("the {REGIONS_ANNEX} annex of {key_id}"),
                            message: "unreadable".into(),
                        }
                    })?),
                    None => None,
                };
                let new = change(old)?;
                serde_json::to_vec(&new)
                    .map_err(|e| keychain::Error::invalid_input(format!("regions: {e}")))
            }),
        )
        .await?;
    Ok(())
}

/// A region member (`ReplicaRegion`, `PrimaryRegion`): KMS's length, then the shape of an
/// AWS region.
fn check_region(member: &str, region: &str) -> Result<(), KmsError> {
    check_len(member, region.chars().count(), 1, 32)?;
    if !crate::auth::valid_region(region) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
             Member must be the name of an AWS Region",
            crate::wire::clip(region),
            crate::wire::camel(member)
        )));
    }
    Ok(())
}

/// The multi-Region key `key_id` names, in the caller's region, with its regions.
async fn multi_region_key(
    cx: &Context,
    key_id: Option<String>,
) -> Result<(KeyInfo, Regions), KmsError> {
    let (_, info) = resolve(cx, key_id).await?;
    let regions = regions_of(cx, &info).await?.ok_or_else(|| {
        KmsError::unsupported(format!(
            "{} is not a multi-Region key",
            cx.caller.key_arn(&info.key_id)
        ))
    })?;
    super::refuse_pending_deletion(cx, &info)?;
    Ok((info, regions))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReplicateInput {
    key_id: Option<String>,
    replica_region: Option<String>,
    policy: Option<String>,
    bypass_policy_lockout_safety_check: Option<bool>,
    description: Option<String>,
    tags: Option<Vec<super::tags::TagEntry>>,
}

/// ReplicateKey: the key becomes present in `ReplicaRegion` too, as a replica.
pub(super) async fn replicate_key(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: ReplicateInput = input(body)?;
    let region = required(i.replica_region, "ReplicaRegion")?;
    check_region("ReplicaRegion", &region)?;
    let _ = i.bypass_policy_lockout_safety_check;
    let (info, regions) = multi_region_key(cx, i.key_id).await?;
    if regions.primary != cx.caller.region {
        return Err(KmsError::unsupported(format!(
            "{} is a replica key: only its primary key, in {}, can be replicated",
            cx.caller.key_arn(&info.key_id),
            regions.primary
        )));
    }
    if regions.has(&region) {
        return Err(KmsError::bad(
            "AlreadyExistsException",
            format!("{} already has a key in {region}", info.key_id),
        ));
    }
    // What KMS lets a replica have of its own: by default no description, no tags and the
    // default key policy.
    let mut own = Own::default();
    if let Some(policy) = i.policy {
        super::policies::check_policy(&policy)?;
        own.policy = Some(policy);
    }
    if let Some(d) = i.description {
        check_len("Description", d.chars().count(), 0, 8192)?;
        own.description = d;
    }
    if let Some(tags) = i.tags {
        own.tags = checked_tags(super::tags::tags_map(tags)?)?;
    }
    let replica_policy = own
        .policy
        .clone()
        .unwrap_or_else(|| super::policies::default_policy(&cx.caller.account));
    let replica_tags: Vec<Value> = own
        .tags
        .iter()
        .map(|(k, v)| json!({ "TagKey": k, "TagValue": v }))
        .collect();
    let added = region.clone();
    let primary = regions.primary.clone();
    write(cx, &info, move |old| {
        let mut r = old.unwrap_or(Regions {
            primary,
            replicas: Vec::new(),
            own: BTreeMap::new(),
        });
        if r.has(&added) {
            return Err(keychain::Error::AlreadyExists {
                what: format!("a replica in {added}"),
            });
        }
        r.own.insert(added.clone(), own);
        r.replicas.push(added);
        Ok(r)
    })
    .await?;
    let regions = regions_of(cx, &info).await?;
    let there = Caller {
        account: cx.caller.account.clone(),
        region,
    };
    Ok(json!({
        "ReplicaKeyMetadata": metadata_in(
            &there,
            &info,
            regions.as_ref(),
            cx.backend.capabilities().ed25519ph
        ),
        "ReplicaPolicy": replica_policy,
        "ReplicaTags": replica_tags,
    }))
}

/// Tags checked as CreateKey checks them (lengths, reserved prefixes, count).
fn checked_tags(tags: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, KmsError> {
    let mut probe = CreateKeyRequest::new(keychain::KeySpec::SymmetricDefault);
    probe.tags = tags;
    probe.validate().map_err(super::tags::tag_error)?;
    Ok(probe.tags)
}

/// What the replica in the caller's region has of its own, if the key is a replica there.
pub(crate) async fn own_here(cx: &Context, info: &KeyInfo) -> Result<Option<Own>, KmsError> {
    let Some(r) = regions_of(cx, info).await? else {
        return Ok(None);
    };
    if !r.replicas.contains(&cx.caller.region) {
        return Ok(None);
    }
    Ok(Some(
        r.own.get(&cx.caller.region).cloned().unwrap_or_default(),
    ))
}

/// Changes what the replica in the caller's region has of its own; `false` (nothing done)
/// when the key is not a replica there.
pub(crate) async fn change_own_here(
    cx: &Context,
    info: &KeyInfo,
    change: impl FnOnce(&mut Own) -> Result<(), KmsError> + Send + 'static,
) -> Result<bool, KmsError> {
    let Some(regions) = regions_of(cx, info).await? else {
        return Ok(false);
    };
    if !regions.replicas.contains(&cx.caller.region) {
        return Ok(false);
    }
    // As the keystore refuses for the primary: a key pending deletion keeps what it has.
    super::refuse_pending_deletion(cx, info)?;
    let region = cx.caller.region.clone();
    let mut own = regions.own.get(&region).cloned().unwrap_or_default();
    change(&mut own)?;
    checked_tags(own.tags.clone())?;
    write(cx, info, move |old| {
        let mut r = old.unwrap_or(regions);
        r.own.insert(region, own);
        Ok(r)
    })
    .await?;
    Ok(true)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdatePrimaryInput {
    key_id: Option<String>,
    primary_region: Option<String>,
}

/// UpdatePrimaryRegion: the replica in `PrimaryRegion` becomes the primary, the primary a
/// replica.
pub(super) async fn update_primary_region(cx: &Context, body: Value) -> Result<Value, KmsError> {
    let i: UpdatePrimaryInput = input(body)?;
    let region = required(i.primary_region, "PrimaryRegion")?;
    check_region("PrimaryRegion", &region)?;
    let (info, regions) = multi_region_key(cx, i.key_id).await?;
    // KeyId names the current primary key: in any other region the key is a replica.
    if regions.primary != cx.caller.region {
        return Err(KmsError::unsupported(format!(
            "{} is a replica key: its primary key, in {}, changes the primary region",
            cx.caller.key_arn(&info.key_id),
            regions.primary
        )));
    }
    if regions.primary == region {
        return Ok(json!({}));
    }
    if !regions.replicas.contains(&region) {
        return Err(KmsError::not_found(format!(
            "{} has no replica in {region}",
            cx.caller.key_arn(&info.key_id)
        )));
    }
    // The key record holds the primary's own description, tags and policy: the new primary's
    // go into it, the old primary's into the annex.
    let old_primary_own = Own {
        description: info.description.clone(),
        tags: info.tags.clone(),
        policy: Some(super::policies::policy_of(cx, &info.key_id).await?),
    };
    let new_primary_own = regions.own.get(&region).cloned().unwrap_or_default();
    let fallback = regions;
    let moved = region.clone();
    let (from, key_id) = (cx.caller.region.clone(), info.key_id.clone());
    write(cx, &info, move |old| {
        let mut r = old.unwrap_or(fallback);
        // Read again under the lock: another move may have gone first, and what was read
        // above (the old primary's own things) is then no longer the primary's.
        if r.primary != from {
            return Err(keychain::Error::InvalidKeyState {
                key: key_id,
                state: "Updating".into(),
                message: format!("its primary region changed meanwhile, to {}", r.primary),
            });
        }
        let Some(at) = r.replicas.iter().position(|x| *x == moved) else {
            return Err(keychain::Error::NotFound {
                key: format!("{key_id} in {moved}"),
            });
        };
        let old_primary = std::mem::replace(&mut r.primary, moved.clone());
        r.own.remove(&moved);
        r.own.insert(old_primary.clone(), old_primary_own);
        r.replicas[at] = old_primary;
        Ok(r)
    })
    .await?;
    let key = KeyRef::key_id(&info.key_id)?;
    cx.backend
        .update_key_description(&key, &new_primary_own.description)
        .await?;
    let gone: Vec<String> = info
        .tags
        .keys()
        .filter(|k| !new_primary_own.tags.contains_key(*k))
        .cloned()
        .collect();
    if !gone.is_empty() {
        cx.backend.untag_key(&key, &gone).await?;
    }
    if !new_primary_own.tags.is_empty() {
        cx.backend.tag_key(&key, &new_primary_own.tags).await?;
    }
    let policy = new_primary_own
        .policy
        .unwrap_or_else(|| super::policies::default_policy(&cx.caller.account));
    super::policies::store_policy(cx, &info.key_id, policy).await?;
    Ok(json!({}))
}

/// ScheduleKeyDeletion of a multi-Region key seen from a replica's region: that region is
/// removed (the key stays in the others). `None` when the key is not a replica here.
pub(super) async fn delete_replica(cx: &Context, info: &KeyInfo) -> Result<Option<()>, KmsError> {
    let Some(regions) = regions_of(cx, info).await? else {
        return Ok(None);
    };
    if regions.primary == cx.caller.region || !regions.replicas.contains(&cx.caller.region) {
        return Ok(None);
    }
    let gone = cx.caller.region.clone();
    write(cx, info, move |old| {
        let mut r = old.unwrap_or(regions);
        r.replicas.retain(|x| *x != gone);
        r.own.remove(&gone);
        Ok(r)
    })
    .await?;
    Ok(Some(()))
}
