//! A `keychain serve` in this process, over a fresh software keystore, on a free loopback
//! port; and clients of it that are not ours (aws-sdk-kms) and ours (the awskms backend).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::software::SoftwareBackend;
use keychain::{
    AliasInfo, Backend, Capabilities, CreateKeyRequest, DataKey, DataKeySpec, DeletionSchedule,
    Encapsulation, EncryptionAlgorithm, EncryptionContext, Error, KeyCache, KeyInfo, KeyRef,
    Keychain, MacAlgorithm, Message, Page, PageRequest, PublicKey, Result, RotationStatus, Secret,
    SigningAlgorithm,
};
use keychain_server::{Server, ServerConfig};
use tokio::sync::oneshot;

/// The region the tests sign for.
pub const REGION: &str = "us-east-1";

/// A running server; stopped (and its keystore removed) when dropped.
pub struct Served {
    pub addr: SocketAddr,
    pub keystore: std::path::PathBuf,
    pub keychain: Keychain,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An aws-sdk-kms client signing as `access_key`/`secret` for `region`.
    pub fn sdk_as(&self, access_key: &str, secret: &str, region: &str) -> aws_sdk_kms::Client {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                access_key, secret, None, None, "test",
            ))
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_kms::Client::from_conf(config)
    }

    /// An aws-sdk-kms client with the test credentials.
    pub fn sdk(&self) -> aws_sdk_kms::Client {
        self.sdk_as("test", "test", REGION)
    }

    /// Stops the server (its keystore stays until `self` is dropped).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Our AWS KMS backend, on this server.
    pub async fn awskms(&self) -> AwsKmsBackend {
        let config = AwsKmsConfig::new()
            .region(REGION)
            .endpoint(self.endpoint())
            .static_credentials("test", "test", None)
            .initial_backoff(Duration::from_millis(20));
        AwsKmsBackend::new(config)
            .await
            .unwrap_or_else(|e| panic!("connecting to keychain serve at {}: {e}", self.addr))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts a server over a new software keystore.
pub async fn serve() -> Served {
    serve_with(|c| c).await
}

/// Starts a server over a new software keystore, its configuration adjusted by `adjust`.
pub async fn serve_with(adjust: impl FnOnce(ServerConfig) -> ServerConfig) -> Served {
    let (dir, config) = keychain_testkit::temp_keystore();
    start(config, dir, adjust).await
}

/// Opens the keystore of `config` and serves it; `dir` is removed when the server is dropped.
async fn start(
    config: keychain::software::SoftwareConfig,
    dir: tempfile::TempDir,
    adjust: impl FnOnce(ServerConfig) -> ServerConfig,
) -> Served {
    let keystore = config.path.clone();
    let backend = SoftwareBackend::open(config)
        .await
        .unwrap_or_else(|e| panic!("opening a test keystore: {e}"));
    let keychain = Keychain::new(backend);
    let listen: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = Server::bind(adjust(ServerConfig::new(listen, keychain.clone())))
        .await
        .unwrap_or_else(|e| panic!("binding the server: {e}"));
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));
    Served {
        addr,
        keystore,
        keychain,
        stop: Some(stop),
        _dir: dir,
    }
}

/// Starts a server over the existing keystore at `keystore` (as a restart over the same
/// directory would): nothing of an earlier server's memory carries over.
pub async fn serve_existing(keystore: &std::path::Path) -> Served {
    let config = keychain::software::SoftwareConfig::new(keystore)
        .password(keychain_testkit::PASSWORD)
        .kdf_iterations(keychain_testkit::ITERATIONS);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    start(config, dir, |c| c).await
}

/// Starts a server over a new software keystore seen through a [`Probe`], which counts the
/// backend calls the server makes and can make Sign fail.
pub async fn serve_probed() -> (Served, Arc<Probe>) {
    let probe: Arc<Mutex<Option<Arc<Probe>>>> = Arc::default();
    let slot = probe.clone();
    let served = serve_with(move |mut config| {
        let inner = config.keychain.backend().clone();
        let p = Arc::new(Probe {
            inner,
            metadata_reads: AtomicUsize::new(0),
            decrypts: AtomicUsize::new(0),
            fail_signing: AtomicBool::new(false),
        });
        *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
        config.keychain = Keychain::from_arc(p);
        config
    })
    .await;
    let probe = probe
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_else(|| panic!("the server was configured without the probe"));
    (served, probe)
}

/// The software keystore as the server sees it through this probe: every call is passed on,
/// metadata reads and decryptions are counted, and Sign fails with a cryptographic error
/// (a key that cannot sign) while `fail_signing` is set.
#[derive(Debug)]
pub struct Probe {
    inner: Arc<dyn Backend>,
    /// DescribeKey and key-metadata reads.
    pub metadata_reads: AtomicUsize,
    /// Decryptions.
    pub decrypts: AtomicUsize,
    /// Whether Sign fails with `Error::Crypto`.
    pub fail_signing: AtomicBool,
}

impl Probe {
    /// The metadata reads so far, and the counter reset.
    pub fn take_metadata_reads(&self) -> usize {
        self.metadata_reads.swap(0, Ordering::SeqCst)
    }

    /// The decryptions so far, and the counter reset.
    pub fn take_decrypts(&self) -> usize {
        self.decrypts.swap(0, Ordering::SeqCst)
    }
}

#[async_trait]
impl Backend for Probe {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn key_cache(&self) -> Option<Arc<KeyCache>> {
        self.inner.key_cache()
    }
    async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
        self.inner.create_key(request).await
    }
    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.metadata_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.describe_key(key).await
    }
    async fn key_metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.metadata_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.key_metadata(key).await
    }
    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        self.inner.list_keys(page).await
    }
    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        if self.fail_signing.load(Ordering::SeqCst) {
            return Err(Error::crypto("the probe's signer failed"));
        }
        self.inner.sign(key, message, algorithm).await
    }
    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        self.inner.verify(key, message, signature, algorithm).await
    }
    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        self.inner.public_key(key).await
    }
    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        self.inner.encrypt(key, plaintext, algorithm, context).await
    }
    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        self.decrypts.fetch_add(1, Ordering::SeqCst);
        self.inner
            .decrypt(key, ciphertext, algorithm, context)
            .await
    }
    fn ciphertext_key_id(&self, ciphertext: &[u8]) -> Option<String> {
        self.inner.ciphertext_key_id(ciphertext)
    }
    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        self.inner.generate_data_key(key, spec, context).await
    }
    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        self.inner.generate_mac(key, message, algorithm).await
    }
    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        self.inner.verify_mac(key, message, mac, algorithm).await
    }
    async fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
        self.inner.encapsulate(key).await
    }
    async fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        self.inner.decapsulate(key, ciphertext).await
    }
    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        self.inner.create_alias(alias, key).await
    }
    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        self.inner.update_alias(alias, key).await
    }
    async fn delete_alias(&self, alias: &str) -> Result<()> {
        self.inner.delete_alias(alias).await
    }
    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        self.inner.list_aliases(key).await
    }
    async fn enable_key(&self, key: &KeyRef) -> Result<()> {
        self.inner.enable_key(key).await
    }
    async fn disable_key(&self, key: &KeyRef) -> Result<()> {
        self.inner.disable_key(key).await
    }
    async fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_days: u32,
    ) -> Result<DeletionSchedule> {
        self.inner.schedule_key_deletion(key, pending_days).await
    }
    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        self.inner.cancel_key_deletion(key).await
    }
    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        self.inner.enable_key_rotation(key, period_days).await
    }
    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        self.inner.disable_key_rotation(key).await
    }
    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        self.inner.key_rotation_status(key).await
    }
    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        self.inner.rotate_key(key).await
    }
    async fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<keychain::KeyMaterial>> {
        self.inner.list_key_materials(key).await
    }
    async fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<()> {
        self.inner.update_key_description(key, description).await
    }
    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        self.inner.tag_key(key, tags).await
    }
    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        self.inner.untag_key(key, tag_keys).await
    }
}
