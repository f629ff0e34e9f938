//! The AWS KMS backend (feature `aws`, on by default), through the official `aws-sdk-kms`.
//!
//! KMS is the source of truth: the backend keeps no state but a cache. A key's name is its
//! alias `alias/NAME` (and the tag `keychain:name`, so an orphaned key can be traced to the
//! name it was made for); a fresh process, or any other AWS client, sees the same keys.
//!
//! ```no_run
//! # async fn demo() -> keychain::Result<()> {
//! use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
//! use keychain::{Hash, KeyParams, Keychain};
//!
//! // IAM role, profile or environment credentials: only the region is needed.
//! let backend = AwsKmsBackend::new(AwsKmsConfig::new().region("us-east-1")).await?;
//! let kc = Keychain::new(backend);
//! kc.generate_key("api-signing-key", &KeyParams::rsa(2048)).await?;
//! let digest = Hash::Sha256.digest(b"Hello, AWS KMS!");
//! let signature = kc.sign("api-signing-key", &digest, Hash::Sha256).await?;
//! # let _ = signature;
//! # Ok(()) }
//! ```
//!
//! The pieces: [`AwsKmsConfig`] (the seed's `Config`), `client` (one SDK client per backend
//! with explicit retries and timeouts), `errors` (every KMS exception as an [`Error`]),
//! `mapping` (our enums ⇄ the SDK's), [`AwsKmsBackend`] (the [`Backend`] trait, plus the
//! KMS-only operations: replicas, policies, grants, data key pairs, re-encryption, random
//! bytes, ECDH and key import).

mod client;
pub mod config;
mod errors;
mod extras;
mod mapping;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, Tag};

use self::client::Clients;
pub use self::config::AwsKmsConfig;
use self::errors::{BACKEND, error_code, map_sdk_error};
pub use self::extras::{
    DataKeyPair, GrantInfo, GrantToken, ImportParameters, WrappingAlgorithm, WrappingKeySpec,
    public_key_of_pkcs8, wrap_key_material,
};
use self::mapping::{
    data_key_spec_to_sdk, encryption_to_sdk, key_id_of, key_info_from_metadata, key_spec_to_sdk,
    key_usage_to_sdk, mac_to_sdk, origin_to_sdk, signing_to_sdk, time_from_sdk,
};
use crate::algorithm::{DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, SigningAlgorithm};
use crate::backend::{Backend, Capabilities};
use crate::backend_uri::{AwsKmsUri, BackendUri};
use crate::data_key::{DataKey, EncryptionContext};
use crate::key::{
    AliasInfo, CreateKeyRequest, Curve, KeyFamily, KeyInfo, KeySpec, KeyState, Page, PageRequest,
    RotationStatus, check_pending_window, check_rotation_period, validate_tag,
};
use crate::key_ref::{KeyRef, KeyTarget};
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::signature::normalize_low_s;
use crate::{Error, Result};

/// The longest message KMS signs as `MessageType=RAW`; longer ones are hashed locally.
pub const MAX_RAW_MESSAGE: usize = 4096;
/// The longest plaintext KMS encrypts directly with a symmetric key.
pub const MAX_SYMMETRIC_PLAINTEXT: usize = 4096;
/// Tag recording the name a key was created under (`alias/NAME`).
pub const NAME_TAG: &str = "keychain:name";
/// Tag recording the id of the create request, to trace a key whose creation outcome was
/// unknown (a timeout after the request was sent).
pub const REQUEST_TAG: &str = "keychain:request";
/// Prefix of the tags keychain manages; callers cannot set them, and [`KeyInfo::tags`] does
/// not show them.
pub const RESERVED_TAG_PREFIX: &str = "keychain:";
/// Keys created for a name that turned out to be taken are scheduled for deletion after this
/// many days (the KMS minimum).
pub const ORPHAN_DELETION_DAYS: i32 = 7;
/// The automatic rotation period when none is given, as in KMS.
pub const DEFAULT_ROTATION_DAYS: u32 = 365;
/// How many DescribeKey/ListResourceTags calls `list_keys` runs at once.
const LIST_CONCURRENCY: usize = 8;

#[derive(Default)]
struct CacheEntry {
    info: Option<(KeyInfo, Instant)>,
    public_key: Option<(PublicKey, Instant)>,
}

struct Inner {
    clients: Clients,
    cache: Mutex<HashMap<KeyRef, CacheEntry>>,
    cache_ttl: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    /// Set once the server answered ListKeyRotations with 501 (LocalStack).
    no_list_key_rotations: std::sync::atomic::AtomicBool,
}

/// The AWS KMS backend. Cheap to clone; clones share the client (and its connection pool)
/// and the cache.
#[derive(Clone)]
pub struct AwsKmsBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AwsKmsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKmsBackend")
            .field("region", &self.inner.clients.region())
            .field("cache_ttl", &self.inner.cache_ttl)
            .field("max_attempts", &self.inner.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Owned copy of a reference for error messages.
fn name(key: &KeyRef) -> String {
    key.to_string()
}

/// A key reference for a key id returned by KMS.
fn id_ref(id: &str) -> Result<KeyRef> {
    KeyRef::key_id(id)
}

/// Random bytes for backoff jitter (zeros if the RNG fails: jitter is a nicety).
fn jitter_fraction() -> f64 {
    let mut b = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

/// `info` with the state set to Enabled, to check usage and algorithm against cached
/// metadata without trusting a cached state (KMS checks the live state on every call).
fn ignoring_state(info: &KeyInfo) -> KeyInfo {
    let mut i = info.clone();
    i.state = KeyState::Enabled;
    i
}

fn check_user_tags(tags: &BTreeMap<String, String>) -> Result<()> {
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

fn sdk_tag(k: &str, v: &str) -> Result<Tag> {
    Tag::builder()
        .tag_key(k)
        .tag_value(v)
        .build()
        .map_err(|e| Error::invalid_input(format!("tag {k:?}: {e}")))
}

fn context_map(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| {
        context
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// The name of a key: the `keychain:name` tag when `alias/NAME` still points at the key,
/// else the key's only alias (a key made by another tool), else none.
fn name_of(tags: &BTreeMap<String, String>, aliases: &[String]) -> Option<String> {
    if let Some(n) = tags.get(NAME_TAG) {
        return aliases.contains(&format!("alias/{n}")).then(|| n.clone());
    }
    match aliases {
        [only] => only.strip_prefix("alias/").map(str::to_string),
        _ => None,
    }
}

/// The message type and bytes KMS gets: a digest as `DIGEST`, a message as `RAW` (at most
/// [`MAX_RAW_MESSAGE`] bytes; longer messages are for the caller to hash, as
/// [`Capabilities::max_raw_message`] says).
fn message_for_kms<'a>(
    message: Message<'a>,
    algorithm: SigningAlgorithm,
) -> Result<(MessageType, &'a [u8])> {
    match message {
        Message::Digest(d) => Ok((MessageType::Digest, d)),
        Message::Raw(m) if m.len() <= MAX_RAW_MESSAGE => Ok((MessageType::Raw, m)),
        Message::Raw(m) => Err(Error::invalid_input(format!(
            "AWS KMS takes at most {MAX_RAW_MESSAGE} bytes of message with {algorithm}, and \
             this one is {} bytes; {}",
            m.len(),
            match algorithm {
                SigningAlgorithm::MlDsaShake256 => {
                    "keychain cannot sign longer ML-DSA messages (it has no external-μ support)"
                }
                a if a.accepts_digest() => "hash it and pass the digest",
                _ => "hash it and pass the digest with ED25519_PH_SHA_512",
            }
        ))),
    }
}

/// Adds a note to the message of an error (for the orphan clean-up of `create_key`).
fn annotate(err: Error, note: &str) -> Error {
    match err {
        Error::AccessDenied { operation, message } => Error::AccessDenied {
            operation,
            message: format!("{message} ({note})"),
        },
        Error::Throttled { operation, message } => Error::Throttled {
            operation,
            message: format!("{message} ({note})"),
        },
        Error::Timeout { operation } => Error::Timeout {
            operation: format!("{operation} ({note})"),
        },
        Error::InvalidInput { message } => Error::InvalidInput {
            message: format!("{message} ({note})"),
        },
        Error::Backend {
            backend,
            operation,
            code,
            message,
            retryable,
        } => Error::Backend {
            backend,
            operation,
            code,
            message: format!("{message} ({note})"),
            retryable,
        },
        Error::AlreadyExists { what } => Error::AlreadyExists {
            what: format!("{what} ({note})"),
        },
        other => other,
    }
}

impl AwsKmsBackend {
    /// Connects: builds the SDK client from `config`. A missing region is
    /// [`Error::InvalidInput`] here, not a failure at the first call.
    pub async fn new(config: AwsKmsConfig) -> Result<Self> {
        let (client, region, sdk_config) = client::build_client(&config).await?;
        let endpoint = if config.client.is_some() {
            None
        } else {
            config.endpoint.clone().or_else(|| {
                std::env::var("AWS_ENDPOINT_URL_KMS")
                    .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                    .ok()
                    .filter(|s| !s.trim().is_empty())
            })
        };
        Ok(AwsKmsBackend {
            inner: Arc::new(Inner {
                clients: Clients::new(client, sdk_config, region, endpoint),
                cache: Mutex::new(HashMap::new()),
                cache_ttl: config.cache_ttl,
                max_attempts: config.max_attempts,
                initial_backoff: config.initial_backoff,
                no_list_key_rotations: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Connects with [`AwsKmsConfig::from_env`].
    pub async fn from_env() -> Result<Self> {
        Self::new(AwsKmsConfig::from_env()?).await
    }

    /// The SDK client, for KMS operations keychain does not wrap.
    pub fn client(&self) -> &Client {
        self.inner.clients.base()
    }

    /// The region keys are created in.
    pub fn region(&self) -> &str {
        self.inner.clients.region()
    }

    /// Forgets cached metadata and public keys.
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.inner.cache.lock() {
            c.clear();
        }
    }

    fn client_for(&self, key: &KeyRef) -> Result<Client> {
        self.inner.clients.for_key(key)
    }

    // ---- cache ------------------------------------------------------------------------

    fn cached_info(&self, key: &KeyRef) -> Option<KeyInfo> {
        let cache = self.inner.cache.lock().ok()?;
        let (info, at) = cache.get(key)?.info.as_ref()?;
        (at.elapsed() < self.inner.cache_ttl).then(|| info.clone())
    }

    fn remember_info(&self, key: &KeyRef, info: &KeyInfo) {
        if self.inner.cache_ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.entry(key.clone()).or_default().info = Some((info.clone(), Instant::now()));
        }
    }

    fn cached_public_key(&self, key: &KeyRef) -> Option<PublicKey> {
        let cache = self.inner.cache.lock().ok()?;
        let (pk, at) = cache.get(key)?.public_key.as_ref()?;
        (at.elapsed() < self.inner.cache_ttl).then(|| pk.clone())
    }

    fn remember_public_key(&self, key: &KeyRef, pk: &PublicKey) {
        if self.inner.cache_ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.entry(key.clone()).or_default().public_key = Some((pk.clone(), Instant::now()));
        }
    }

    /// Drops cached entries of one key (all references that resolved to it).
    fn forget_key(&self, key_id: &str) {
        if let Ok(mut cache) = self.inner.cache.lock() {
            cache.retain(|k, e| {
                k.key_id_str() != Some(key_id)
                    && e.info.as_ref().is_none_or(|(i, _)| i.key_id != key_id)
            });
        }
    }

    // ---- lookups ----------------------------------------------------------------------

    /// DescribeKey, uncached; refreshes the cache. Returns the info and whether AWS manages
    /// the key.
    async fn describe_fresh(&self, key: &KeyRef) -> Result<(KeyInfo, bool)> {
        let out = self
            .client_for(key)?
            .describe_key()
            .key_id(key.kms_key_id())
            .send()
            .await
            .map_err(|e| map_sdk_error(e, "DescribeKey", &name(key)))?;
        let meta = out.key_metadata().ok_or_else(|| Error::Backend {
            backend: BACKEND.into(),
            operation: "DescribeKey".into(),
            code: "EmptyResponse".into(),
            message: format!("no key metadata for {key}"),
            retryable: false,
        })?;
        let info = key_info_from_metadata(meta)?;
        let aws_managed = matches!(
            meta.key_manager(),
            Some(aws_sdk_kms::types::KeyManagerType::Aws)
        );
        self.remember_info(key, &info);
        Ok((info, aws_managed))
    }

    /// Key metadata for choosing and checking algorithms, from the cache when fresh. The
    /// spec and usage of a key never change; its state is not trusted from here.
    async fn metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        if let Some(info) = self.cached_info(key) {
            return Ok(info);
        }
        Ok(self.describe_fresh(key).await?.0)
    }

    /// The key id for operations that take no alias (EnableKey, TagResource…): the id or ARN
    /// as given, or the key an alias points at now (never from the cache).
    async fn resolve_id(&self, key: &KeyRef) -> Result<String> {
        match key.target() {
            KeyTarget::KeyId(id) => Ok(id.clone()),
            KeyTarget::KeyArn(arn) => Ok(arn.arn.clone()),
            _ => Ok(self.describe_fresh(key).await?.0.key_id),
        }
    }

    /// Replaces a guessed state in an InvalidKeyState error by the key's real state.
    async fn with_real_state(&self, err: Error, key: &KeyRef) -> Error {
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

    async fn fail<E>(
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
    async fn all_aliases(&self, client: &Client, key_id: Option<&str>) -> Result<Vec<AliasInfo>> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let res = client
                .list_aliases()
                .set_key_id(key_id.map(str::to_string))
                .limit(100)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| map_sdk_error(e, "ListAliases", key_id.unwrap_or("-")))?;
            for a in res.aliases() {
                if let Some(alias) = a.alias_name() {
                    out.push(AliasInfo {
                        alias: alias.to_string(),
                        key_id: a.target_key_id().map(str::to_string),
                    });
                }
            }
            match res.next_marker() {
                Some(m) if res.truncated() && !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(out)
    }

    /// All tags of a key, following ListResourceTags pages.
    async fn all_tags(&self, client: &Client, key_id: &str) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let res = client
                .list_resource_tags()
                .key_id(key_id)
                .limit(50)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| map_sdk_error(e, "ListResourceTags", key_id))?;
            for t in res.tags() {
                out.insert(t.tag_key().to_string(), t.tag_value().to_string());
            }
            match res.next_marker() {
                Some(m) if res.truncated() && !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Fills in name, aliases and tags of a described key.
    fn complete(
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

    /// DescribeKey + its aliases and tags.
    async fn describe_full(&self, key: &KeyRef) -> Result<KeyInfo> {
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

    /// How many times the key material was rotated (ListKeyRotations), or `None` when the
    /// server does not implement ListKeyRotations (then it is not asked again).
    async fn rotation_count(&self, client: &Client, key_id: &str) -> Result<Option<u32>> {
        if self
            .inner
            .no_list_key_rotations
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(None);
        }
        let mut count: u32 = 0;
        let mut marker: Option<String> = None;
        loop {
            let res = client
                .list_key_rotations()
                .key_id(key_id)
                .limit(1000)
                .set_marker(marker.take())
                .send()
                .await;
            let out = match res {
                Ok(o) => o,
                Err(e) => {
                    let not_implemented =
                        e.raw_response().is_some_and(|r| r.status().as_u16() == 501);
                    if not_implemented {
                        tracing::warn!(
                            "this AWS KMS endpoint does not implement ListKeyRotations; \
                             key versions are reported as 1"
                        );
                        self.inner
                            .no_list_key_rotations
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                        return Ok(None);
                    }
                    return Err(map_sdk_error(e, "ListKeyRotations", key_id));
                }
            };
            count = count.saturating_add(out.rotations().len() as u32);
            match out.next_marker() {
                Some(m) if out.truncated() && !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(Some(count))
    }

    /// Sleeps before retry `attempt` (1-based) of a call we retry ourselves: exponential,
    /// with full jitter, capped at 20 s.
    async fn backoff(&self, attempt: u32) {
        let base = self.inner.initial_backoff.as_secs_f64() * 2f64.powi(attempt as i32 - 1);
        let delay = base.min(20.0) * jitter_fraction();
        tokio::time::sleep(Duration::from_secs_f64(delay)).await;
    }

    /// CreateKey without SDK retries: CreateKey is not idempotent, so a retry after a lost
    /// response could make a second key. Throttling (the request was refused, nothing was
    /// made) is retried here with backoff; an unknown outcome is reported with the request
    /// tag that identifies a key it may have made.
    async fn create_key_once(
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
                    let err = map_sdk_error(e, "CreateKey", &what);
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
                        return Err(annotate(
                            err,
                            &format!(
                                "not retried, CreateKey is not idempotent; if a key was made \
                                 it carries the tag {REQUEST_TAG}={request_id}"
                            ),
                        ));
                    }
                    return Err(err);
                }
            }
        }
    }

    /// Schedules deletion of a key made for a name that turned out to be unusable, and says so
    /// in the error.
    async fn discard_orphan(&self, key_id: &str, err: Error) -> Error {
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
        annotate(err, &note)
    }
}

#[async_trait]
impl Backend for AwsKmsBackend {
    fn name(&self) -> &str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            key_specs: KeySpec::ALL.to_vec(),
            max_raw_message: Some(MAX_RAW_MESSAGE),
            automatic_rotation: true,
            on_demand_rotation: true,
            import: true,
            multi_region: true,
            ed25519ph: true,
        }
    }

    async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
        request.validate()?;
        check_user_tags(&request.tags)?;
        if let Some(n) = &request.name {
            // The name must be free BEFORE a key is made for it.
            let alias = KeyRef::alias(n)?;
            match self.describe_fresh(&alias).await {
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
        let meta = self.create_key_once(request, &request_id).await?;
        let mut info = key_info_from_metadata(&meta)?;
        info.tags = request.tags.clone();
        if let Some(n) = &request.name {
            let alias = format!("alias/{n}");
            let res = self
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
                    match self.describe_fresh(&KeyRef::alias(n)?).await {
                        Ok((holder, _)) if holder.key_id == info.key_id => {
                            info.name = Some(n.clone());
                            info.aliases = vec![alias];
                            return Ok(info);
                        }
                        Ok(_) => {}
                        Err(check) => {
                            // Not knowing whom the alias names, delete nothing.
                            return Err(annotate(
                                err,
                                &format!(
                                    "the key {} created meanwhile may be the one it names \
                                     ({check}); it was not deleted",
                                    info.key_id
                                ),
                            ));
                        }
                    }
                }
                // Lost a race for the name (or could not name the key at all): never leave
                // the unnamed key behind silently.
                return Err(self.discard_orphan(&info.key_id, err).await);
            }
            info.name = Some(n.clone());
            info.aliases = vec![alias];
        }
        Ok(info)
    }

    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.describe_full(key).await
    }

    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        let limit = page.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid_input(format!(
                "page limit must be 1 to 1000, not {limit}"
            )));
        }
        let client = self.inner.clients.base().clone();
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
        for a in self.all_aliases(&client, None).await? {
            if let Some(id) = a.key_id {
                by_key.entry(id).or_default().push(a.alias);
            }
        }
        let sem = Arc::new(tokio::sync::Semaphore::new(LIST_CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, id) in ids.iter().enumerate() {
            let (this, client, sem, id) = (self.clone(), client.clone(), sem.clone(), id.clone());
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
                Self::complete(info, aliases, tags)
            })
            .collect();
        Ok(Page { items, next_marker })
    }

    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        message.check(algorithm)?;
        let info = self.metadata(key).await?;
        ignoring_state(&info).check_signing(algorithm)?;
        let (kind, bytes) = message_for_kms(message, algorithm)?;
        let out = self
            .client_for(key)?
            .sign()
            .key_id(key.kms_key_id())
            .message(Blob::new(bytes))
            .message_type(kind)
            .signing_algorithm(signing_to_sdk(algorithm))
            .send()
            .await;
        let signature = match out {
            Ok(o) => o
                .signature
                .map(Blob::into_inner)
                .ok_or_else(|| Error::crypto(format!("AWS KMS returned no signature for {key}")))?,
            Err(e) => return Err(self.fail(e, "Sign", key).await),
        };
        match info.spec.family() {
            // KMS makes high-S secp256k1 signatures half of the time; Bitcoin and Ethereum
            // accept only the low-S twin, which verifies the same under ECDSA.
            KeyFamily::Ec(curve @ Curve::Secp256k1) => normalize_low_s(&signature, curve),
            _ => Ok(signature),
        }
    }

    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        message.check(algorithm)?;
        let info = self.metadata(key).await?;
        ignoring_state(&info).check_signing(algorithm)?;
        if signature.is_empty() {
            return Ok(false);
        }
        let (kind, bytes) = message_for_kms(message, algorithm)?;
        let out = self
            .client_for(key)?
            .verify()
            .key_id(key.kms_key_id())
            .message(Blob::new(bytes))
            .message_type(kind)
            .signature(Blob::new(signature))
            .signing_algorithm(signing_to_sdk(algorithm))
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.signature_valid()),
            Err(e) if error_code(&e) == Some("KMSInvalidSignatureException") => Ok(false),
            Err(e) => Err(self.fail(e, "Verify", key).await),
        }
    }

    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        if let Some(pk) = self.cached_public_key(key) {
            return Ok(pk);
        }
        let info = self.metadata(key).await?;
        if !info.spec.is_asymmetric() {
            return Err(Error::key_usage(
                info.display_name(),
                format!("{} keys have no public key", info.spec),
            ));
        }
        let out = match self
            .client_for(key)?
            .get_public_key()
            .key_id(key.kms_key_id())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => return Err(self.fail(e, "GetPublicKey", key).await),
        };
        let der = out
            .public_key()
            .ok_or_else(|| Error::crypto(format!("AWS KMS returned no public key for {key}")))?;
        let pk = PublicKey::from_der(der.as_ref())?;
        self.remember_public_key(key, &pk);
        Ok(pk)
    }

    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let info = self.metadata(key).await?;
        ignoring_state(&info).check_encryption(algorithm)?;
        match algorithm {
            EncryptionAlgorithm::SymmetricDefault => {
                if plaintext.len() > MAX_SYMMETRIC_PLAINTEXT {
                    return Err(Error::invalid_input(format!(
                        "plaintext is {} bytes; direct encryption takes at most \
                         {MAX_SYMMETRIC_PLAINTEXT} (use envelope encryption for more)",
                        plaintext.len()
                    )));
                }
            }
            EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => {
                if !context.is_empty() {
                    return Err(Error::invalid_input(
                        "RSA encryption takes no encryption context",
                    ));
                }
                if let KeyFamily::Rsa(bits) = info.spec.family() {
                    let h = if algorithm == EncryptionAlgorithm::RsaesOaepSha1 {
                        20
                    } else {
                        32
                    };
                    let max = (bits as usize / 8).saturating_sub(2 * h + 2);
                    if plaintext.len() > max {
                        return Err(Error::invalid_input(format!(
                            "plaintext is {} bytes; {algorithm} with a {} key takes at most {max}",
                            plaintext.len(),
                            info.spec
                        )));
                    }
                }
            }
        }
        let out = self
            .client_for(key)?
            .encrypt()
            .key_id(key.kms_key_id())
            .plaintext(Blob::new(plaintext))
            .set_encryption_context(context_map(context))
            .encryption_algorithm(encryption_to_sdk(algorithm))
            .send()
            .await;
        match out {
            Ok(o) => o
                .ciphertext_blob()
                .map(|c| c.as_ref().to_vec())
                .ok_or_else(|| Error::crypto(format!("AWS KMS returned no ciphertext for {key}"))),
            Err(e) => Err(self.fail(e, "Encrypt", key).await),
        }
    }

    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        if algorithm != EncryptionAlgorithm::SymmetricDefault {
            if key.is_none() {
                return Err(Error::invalid_input(
                    "RSA ciphertexts need the key to be named",
                ));
            }
            if !context.is_empty() {
                return Err(Error::invalid_input(
                    "RSA decryption takes no encryption context",
                ));
            }
        }
        if ciphertext.is_empty() {
            return Err(Error::invalid_input("empty ciphertext"));
        }
        if let Some(k) = key {
            let info = self.metadata(k).await?;
            ignoring_state(&info).check_encryption(algorithm)?;
        }
        let client = match key {
            Some(k) => self.client_for(k)?,
            None => self.inner.clients.base().clone(),
        };
        let out = client
            .decrypt()
            .set_key_id(key.map(KeyRef::kms_key_id))
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(context_map(context))
            .encryption_algorithm(encryption_to_sdk(algorithm))
            .send()
            .await;
        match out {
            Ok(o) => {
                let plaintext = o
                    .plaintext
                    .ok_or_else(|| Error::crypto("AWS KMS returned no plaintext"))?;
                Ok(Secret::new(plaintext.into_inner()))
            }
            Err(e) => Err(match key {
                Some(k) => self.fail(e, "Decrypt", k).await,
                None => map_sdk_error(e, "Decrypt", "(the key named in the ciphertext)"),
            }),
        }
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let info = self.metadata(key).await?;
        ignoring_state(&info).check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        let out = self
            .client_for(key)?
            .generate_data_key()
            .key_id(key.kms_key_id())
            .key_spec(data_key_spec_to_sdk(spec))
            .set_encryption_context(context_map(context))
            .send()
            .await;
        match out {
            Ok(o) => {
                let ciphertext = o
                    .ciphertext_blob
                    .map(Blob::into_inner)
                    .ok_or_else(|| Error::crypto("AWS KMS returned no encrypted data key"))?;
                let plaintext = Secret::new(
                    o.plaintext
                        .map(Blob::into_inner)
                        .ok_or_else(|| Error::crypto("AWS KMS returned no data key"))?,
                );
                // Never hand out a key of another size than asked: an AES-128 caller given
                // 32 bytes would silently use a different key than the one stored.
                if plaintext.len() != spec.len() {
                    return Err(Error::Backend {
                        backend: BACKEND.into(),
                        operation: format!("GenerateDataKey on {key}"),
                        code: "InvalidResponse".into(),
                        message: format!(
                            "asked for a {spec} data key ({} bytes), got {} bytes",
                            spec.len(),
                            plaintext.len()
                        ),
                        retryable: false,
                    });
                }
                Ok(DataKey {
                    key_id: key_id_of(o.key_id.as_deref().unwrap_or(&info.key_id)),
                    plaintext,
                    ciphertext,
                })
            }
            Err(e) => Err(self.fail(e, "GenerateDataKey", key).await),
        }
    }

    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        let info = self.metadata(key).await?;
        ignoring_state(&info).check_mac(algorithm)?;
        if message.is_empty() || message.len() > MAX_RAW_MESSAGE {
            return Err(Error::invalid_input(format!(
                "AWS KMS computes MACs over 1 to {MAX_RAW_MESSAGE} bytes, not {}",
                message.len()
            )));
        }
        let out = self
            .client_for(key)?
            .generate_mac()
            .key_id(key.kms_key_id())
            .message(Blob::new(message))
            .mac_algorithm(mac_to_sdk(algorithm))
            .send()
            .await;
        match out {
            Ok(o) => o
                .mac()
                .map(|m| m.as_ref().to_vec())
                .ok_or_else(|| Error::crypto(format!("AWS KMS returned no MAC for {key}"))),
            Err(e) => Err(self.fail(e, "GenerateMac", key).await),
        }
    }

    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        let info = self.metadata(key).await?;
        ignoring_state(&info).check_mac(algorithm)?;
        if message.is_empty() || message.len() > MAX_RAW_MESSAGE {
            return Err(Error::invalid_input(format!(
                "AWS KMS verifies MACs over 1 to {MAX_RAW_MESSAGE} bytes, not {}",
                message.len()
            )));
        }
        if mac.is_empty() {
            return Ok(false);
        }
        let out = self
            .client_for(key)?
            .verify_mac()
            .key_id(key.kms_key_id())
            .message(Blob::new(message))
            .mac(Blob::new(mac))
            .mac_algorithm(mac_to_sdk(algorithm))
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.mac_valid()),
            Err(e) if error_code(&e) == Some("KMSInvalidMacException") => Ok(false),
            Err(e) => Err(self.fail(e, "VerifyMac", key).await),
        }
    }

    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        let alias_ref = KeyRef::alias(alias)?;
        let full = alias_ref.kms_key_id();
        let target = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .create_alias()
            .alias_name(&full)
            .target_key_id(&target)
            .send()
            .await;
        self.clear_cache();
        match res {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("AlreadyExistsException") => {
                Err(Error::AlreadyExists { what: full })
            }
            Err(e) => Err(self.fail(e, "CreateAlias", key).await),
        }
    }

    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        let alias_ref = KeyRef::alias(alias)?;
        let full = alias_ref.kms_key_id();
        let current = self.describe_fresh(&alias_ref).await?.0;
        let target = self.describe_fresh(key).await?.0;
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
        let res = self
            .client_for(key)?
            .update_alias()
            .alias_name(&full)
            .target_key_id(&target.key_id)
            .send()
            .await;
        self.clear_cache();
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "UpdateAlias", &alias_ref).await),
        }
    }

    async fn delete_alias(&self, alias: &str) -> Result<()> {
        let alias_ref = KeyRef::alias(alias)?;
        let full = alias_ref.kms_key_id();
        let res = self
            .inner
            .clients
            .base()
            .delete_alias()
            .alias_name(&full)
            .send()
            .await;
        self.clear_cache();
        res.map(|_| ())
            .map_err(|e| map_sdk_error(e, "DeleteAlias", &full))
    }

    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        match key {
            Some(k) => {
                // Described first: ListAliases answers an unknown key id with an empty list
                // on some servers, and a missing key must be NotFound.
                let id = self.describe_fresh(k).await?.0.key_id;
                let client = self.client_for(k)?;
                self.all_aliases(&client, Some(&id)).await
            }
            None => self.all_aliases(self.inner.clients.base(), None).await,
        }
    }

    async fn enable_key(&self, key: &KeyRef) -> Result<()> {
        let id = self.resolve_id(key).await?;
        let res = self.client_for(key)?.enable_key().key_id(&id).send().await;
        self.forget_key(&key_id_of(&id));
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "EnableKey", key).await),
        }
    }

    async fn disable_key(&self, key: &KeyRef) -> Result<()> {
        let id = self.resolve_id(key).await?;
        let res = self.client_for(key)?.disable_key().key_id(&id).send().await;
        self.forget_key(&key_id_of(&id));
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "DisableKey", key).await),
        }
    }

    async fn schedule_key_deletion(&self, key: &KeyRef, pending_days: u32) -> Result<SystemTime> {
        check_pending_window(pending_days)?;
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .schedule_key_deletion()
            .key_id(&id)
            .pending_window_in_days(pending_days as i32)
            .send()
            .await;
        self.forget_key(&key_id_of(&id));
        match res {
            Ok(o) => Ok(match o.deletion_date() {
                Some(d) => time_from_sdk(d),
                None => SystemTime::now() + Duration::from_secs(86_400 * u64::from(pending_days)),
            }),
            Err(e) => Err(self.fail(e, "ScheduleKeyDeletion", key).await),
        }
    }

    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .cancel_key_deletion()
            .key_id(&id)
            .send()
            .await;
        self.forget_key(&key_id_of(&id));
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "CancelKeyDeletion", key).await),
        }
    }

    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        // No period means the default, 365 days, even when rotation was on with another
        // period (sent explicitly: servers differ on whether an omitted period resets it).
        let period = period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
        check_rotation_period(period)?;
        self.check_rotatable(key).await?;
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .enable_key_rotation()
            .key_id(&id)
            .rotation_period_in_days(period as i32)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "EnableKeyRotation", key).await),
        }
    }

    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        self.check_rotatable(key).await?;
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .disable_key_rotation()
            .key_id(&id)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "DisableKeyRotation", key).await),
        }
    }

    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        self.check_rotatable(key).await?;
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .get_key_rotation_status()
            .key_id(&id)
            .send()
            .await;
        match res {
            Ok(o) => {
                let enabled = o.key_rotation_enabled();
                Ok(RotationStatus {
                    enabled,
                    period_days: if enabled {
                        o.rotation_period_in_days()
                            .and_then(|d| u32::try_from(d).ok())
                    } else {
                        None
                    },
                    next_rotation: if enabled {
                        o.next_rotation_date().map(time_from_sdk)
                    } else {
                        None
                    },
                })
            }
            Err(e) => Err(self.fail(e, "GetKeyRotationStatus", key).await),
        }
    }

    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        self.check_rotatable(key).await?;
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .rotate_key_on_demand()
            .key_id(&id)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "RotateKeyOnDemand", key).await),
        }
    }

    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        check_user_tags(tags)?;
        if tags.is_empty() {
            return Ok(());
        }
        let mut sdk_tags = Vec::new();
        for (k, v) in tags {
            sdk_tags.push(sdk_tag(k, v)?);
        }
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .tag_resource()
            .key_id(&id)
            .set_tags(Some(sdk_tags))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "TagResource", key).await),
        }
    }

    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        if let Some(k) = tag_keys.iter().find(|k| k.starts_with(RESERVED_TAG_PREFIX)) {
            return Err(Error::invalid_input(format!(
                "tag key {k:?} uses the prefix {RESERVED_TAG_PREFIX}, which keychain reserves"
            )));
        }
        if tag_keys.is_empty() {
            return Ok(());
        }
        let id = self.resolve_id(key).await?;
        let res = self
            .client_for(key)?
            .untag_resource()
            .key_id(&id)
            .set_tag_keys(Some(tag_keys.to_vec()))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail(e, "UntagResource", key).await),
        }
    }

    async fn close(&self) -> Result<()> {
        self.clear_cache();
        Ok(())
    }
}

impl AwsKmsBackend {
    /// KMS rotates symmetric encryption keys only; say so before the call, whatever an
    /// emulator would accept.
    async fn check_rotatable(&self, key: &KeyRef) -> Result<()> {
        let info = self.metadata(key).await?;
        if info.spec != KeySpec::SymmetricDefault {
            return Err(Error::unsupported(
                BACKEND,
                format!(
                    "rotation of {} keys (AWS KMS rotates symmetric encryption keys only); \
                     key {}",
                    info.spec,
                    info.display_name()
                ),
            ));
        }
        Ok(())
    }
}

/// Parses a backend URI into a configuration: `awskms` or `awskms:` (everything from the
/// environment and the SDK's default chain), `awskms://HOST:PORT/?region=R` (an emulator at
/// `http://HOST:PORT`), `awskms:?endpoint=URL&region=R`. Query attributes: `region`,
/// `endpoint`, `profile`, `max_attempts`, `cache_ttl` (seconds). Credentials never go in a
/// URI. Every component is checked by [`BackendUri::parse`].
pub fn config_from_uri(uri: &str) -> Result<AwsKmsConfig> {
    let BackendUri::AwsKms(parsed) = BackendUri::parse(uri)? else {
        return Err(Error::invalid_input(
            "not an awskms: backend URI (this needs AWS KMS)",
        ));
    };
    config_from_parsed(parsed)
}

/// The configuration of a parsed `awskms` URI: the environment's, overridden by what the URI
/// names.
pub fn config_from_parsed(uri: AwsKmsUri) -> Result<AwsKmsConfig> {
    let mut config = AwsKmsConfig::from_env()?;
    if let Some(endpoint) = uri.endpoint {
        config.endpoint = Some(endpoint);
    }
    if let Some(region) = uri.region {
        config.region = Some(region);
    }
    if let Some(profile) = uri.profile {
        config.profile = Some(profile);
    }
    if let Some(n) = uri.max_attempts {
        config.max_attempts = n;
    }
    if let Some(ttl) = uri.cache_ttl {
        config.cache_ttl = ttl;
    }
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_uris() {
        let c = config_from_uri("awskms://localhost:4566/?region=eu-west-1")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.endpoint.as_deref(), Some("http://localhost:4566"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        let c = config_from_uri("awskms:?endpoint=http%3A%2F%2F127.0.0.1%3A4566&region=us-east-2")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(c.region.as_deref(), Some("us-east-2"));
        let c = config_from_uri("awskms:?endpoint=http://127.0.0.1:4566&region=us-east-2")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:4566"));
        let c = config_from_uri("awskms:region=ap-southeast-1;profile=prod")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.region.as_deref(), Some("ap-southeast-1"));
        assert_eq!(c.profile.as_deref(), Some("prod"));
        assert!(config_from_uri("awskms").is_ok());
        assert!(config_from_uri("awskms:").is_ok());
        for bad in [
            "awskms:?secret_access_key=x",
            "awskms:?colour=blue",
            "awskms://localhost:4566/alias/x",
            "awskms:?region",
            "awskms:?endpoint=ftp://x",
        ] {
            assert!(
                matches!(config_from_uri(bad), Err(Error::InvalidInput { .. })),
                "{bad}"
            );
        }
    }

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

    #[test]
    fn reserved_tags_are_refused() {
        let tags: BTreeMap<String, String> = [(NAME_TAG.to_string(), "x".to_string())].into();
        assert!(matches!(
            check_user_tags(&tags),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[tokio::test]
    async fn missing_region_is_a_clear_error_at_construction() {
        let client = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::Config::builder()
                .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
                .build(),
        );
        let Err(err) = AwsKmsBackend::new(AwsKmsConfig::new().client(client)).await else {
            panic!("a client without a region was accepted");
        };
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("region"), "{err}");
    }
}
