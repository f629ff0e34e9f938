//! The AWS KMS backend (cargo feature `aws`), through the official `aws-sdk-kms`.
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
//! The pieces, a file each: [`AwsKmsConfig`] in `config` (region, endpoint, credentials,
//! retries, timeouts), `client` (one SDK client per backend, per region on demand), `errors`
//! (every KMS exception as an [`Error`]), `mapping` (our enums ⇄ the SDK's), `cache` (the
//! DescribeKey/alias/tag lookups and the shared [`KeyCache`] they fill), and the
//! operations behind the thin [`Backend`] impl below: `keys` (create, list, enable, disable,
//! delete, tags), `crypto` (sign, verify, encrypt, decrypt, data keys, MACs), `aliases`,
//! `rotation`, `kem` (ML-KEM), `agreement` (ECDH). Operations KMS has beyond the trait are
//! inherent methods of [`AwsKmsBackend`]: `replicas`, `grants` (policies and grants),
//! `data_keys` (data key pairs, re-encryption, random bytes) and `import` (BYOK).

mod agreement;
mod aliases;
mod cache;
mod client;
mod config;
mod crypto;
mod data_keys;
mod errors;
mod grants;
mod import;
mod kem;
mod keys;
mod mapping;
mod replicas;
mod rotation;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::Client;

use self::client::Clients;
pub use self::config::{
    ATTEMPT_TIMEOUT_ENV, AwsKmsConfig, CACHE_TTL_ENV, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CACHE_TTL,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_OPERATION_TIMEOUT, MAX_ATTEMPTS_ENV, OPERATION_TIMEOUT_ENV,
};
pub use self::data_keys::DataKeyPair;
use self::errors::BACKEND;
pub use self::grants::{GrantInfo, GrantToken};
pub use self::import::{
    ImportParameters, WrappingAlgorithm, WrappingKeySpec, public_key_of_pkcs8, wrap_key_material,
};
use crate::algorithm::{DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, SigningAlgorithm};
use crate::backend::{Backend, Capabilities};
use crate::backend_uri::{AwsKmsUri, BackendUri};
use crate::data_key::{DataKey, EncryptionContext};
use crate::key::{
    AliasInfo, CreateKeyRequest, DeletionSchedule, KeyInfo, KeyMaterial, KeySpec, Page,
    PageRequest, RotationStatus,
};
use crate::key_cache::KeyCache;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::{Error, Result};

/// The longest message KMS takes as `MessageType=RAW` (Sign, Verify). The backend refuses a
/// longer raw message with [`Error::InvalidInput`] and does not hash it itself, since the
/// digest would change what is signed; callers hash it and pass the digest, as
/// [`crate::Keychain::sign_reader`] does (see [`Capabilities::max_raw_message`]). The one
/// exception is ED25519_PH_SHA_512, which KMS takes as `DIGEST` only: a raw message for it, of
/// any length, is hashed with SHA-512 and sent as that digest — what a raw message means for
/// that algorithm on every backend.
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

struct Inner {
    clients: Clients,
    /// Key metadata and public keys, shared with every `Keychain` on this backend.
    cache: Arc<KeyCache>,
    cache_ttl: Duration,
    max_attempts: u32,
    initial_backoff: Duration,
    /// Set once the server answered ListKeyRotations with 501 (LocalStack).
    no_list_key_rotations: std::sync::atomic::AtomicBool,
    grant_tokens: Option<Vec<String>>,
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
                cache: Arc::new(KeyCache::new()),
                cache_ttl: config.cache_ttl,
                max_attempts: config.max_attempts,
                initial_backoff: config.initial_backoff,
                no_list_key_rotations: std::sync::atomic::AtomicBool::new(false),
                grant_tokens: (!config.grant_tokens.is_empty())
                    .then(|| config.grant_tokens.clone()),
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
        self.inner.cache.clear();
    }

    /// The client for calls about `key`: a key ARN of another region gets that region's.
    /// The configured grant tokens, for every call that takes them.
    fn grant_tokens(&self) -> Option<Vec<String>> {
        self.inner.grant_tokens.clone()
    }

    fn client_for(&self, key: &KeyRef) -> Result<Client> {
        self.inner.clients.for_key(key)
    }
}

#[async_trait]
impl Backend for AwsKmsBackend {
    fn name(&self) -> &str {
        BACKEND
    }

    fn key_cache(&self) -> Option<Arc<KeyCache>> {
        Some(self.inner.cache.clone())
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
        keys::create_key(self, request).await
    }

    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.describe_full(key).await
    }

    async fn key_metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.describe_data_path(key).await
    }

    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        keys::list_keys(self, page).await
    }

    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        crypto::sign(self, key, message, algorithm).await
    }

    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        crypto::verify(self, key, message, signature, algorithm).await
    }

    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        crypto::public_key(self, key).await
    }

    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        crypto::encrypt(self, key, plaintext, algorithm, context).await
    }

    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        crypto::decrypt(self, key, ciphertext, algorithm, context).await
    }

    async fn encapsulate(&self, key: &KeyRef) -> Result<crate::kem::Encapsulation> {
        kem::encapsulate(self, key).await
    }

    async fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        kem::decapsulate(self, key, ciphertext).await
    }

    async fn derive_shared_secret(
        &self,
        key: &KeyRef,
        algorithm: crate::agreement::KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<Secret> {
        agreement::derive_shared_secret(self, key, algorithm, peer_public_key).await
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        crypto::generate_data_key(self, key, spec, context).await
    }

    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        crypto::generate_mac(self, key, message, algorithm).await
    }

    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        crypto::verify_mac(self, key, message, mac, algorithm).await
    }

    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        aliases::create_alias(self, alias, key).await
    }

    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        aliases::update_alias(self, alias, key).await
    }

    async fn delete_alias(&self, alias: &str) -> Result<()> {
        aliases::delete_alias(self, alias).await
    }

    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        aliases::list_aliases(self, key).await
    }

    async fn enable_key(&self, key: &KeyRef) -> Result<()> {
        keys::enable_key(self, key).await
    }

    async fn disable_key(&self, key: &KeyRef) -> Result<()> {
        keys::disable_key(self, key).await
    }

    async fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_days: u32,
    ) -> Result<DeletionSchedule> {
        keys::schedule_key_deletion(self, key, pending_days).await
    }

    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        keys::cancel_key_deletion(self, key).await
    }

    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        rotation::enable_key_rotation(self, key, period_days).await
    }

    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        rotation::disable_key_rotation(self, key).await
    }

    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        rotation::key_rotation_status(self, key).await
    }

    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        rotation::rotate_key(self, key).await
    }

    async fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<KeyMaterial>> {
        self.key_materials(key).await
    }

    async fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<()> {
        keys::update_key_description(self, key, description).await
    }

    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        keys::tag_key(self, key, tags).await
    }

    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        keys::untag_key(self, key, tag_keys).await
    }

    async fn import_key_material(
        &self,
        key: &KeyRef,
        material: &Secret,
        expires: Option<std::time::SystemTime>,
    ) -> Result<()> {
        AwsKmsBackend::import_key_material(self, key, material, expires).await
    }

    async fn delete_imported_key_material(&self, key: &KeyRef) -> Result<()> {
        AwsKmsBackend::delete_imported_key_material(self, key).await
    }

    async fn close(&self) -> Result<()> {
        self.clear_cache();
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
