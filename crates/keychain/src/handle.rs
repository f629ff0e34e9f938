//! [`Keychain`], the handle applications hold. It wraps any [`Backend`], takes keys by any reference
//! string, picks the natural algorithm, caches public keys and verifies locally.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::algorithm::{EncryptionAlgorithm, Hash, Message, SigningAlgorithm};
use crate::backend::Backend;
use crate::data_key::EncryptionContext;
use crate::key::{CreateKeyRequest, KeyFamily, KeyInfo, KeyParams, KeyUsage};
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::software::{SoftwareBackend, SoftwareConfig};
use crate::{Error, Result};

mod streaming;

/// Environment variable naming the backend URI (`software:PATH`, `awskms:…`).
pub const BACKEND_ENV: &str = "KEYCHAIN_BACKEND";
/// Environment variable naming the default software keystore directory.
pub const HOME_ENV: &str = "KEYCHAIN_HOME";

/// The default software keystore: `$KEYCHAIN_HOME`, else `$XDG_DATA_HOME/keychain`, else
/// `~/.local/share/keychain`.
pub fn default_keystore_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(HOME_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_DATA_HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p).join("keychain"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(home).join(".local/share/keychain"));
    }
    Err(Error::invalid_input(format!(
        "no keystore location: set {HOME_ENV} or pass --backend software:PATH"
    )))
}

/// A signature and how it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signature bytes (DER for ECDSA, as KMS and OpenSSL produce).
    pub signature: Vec<u8>,
    /// The algorithm used.
    pub algorithm: SigningAlgorithm,
    /// Why the algorithm differs from the one asked for, if it does (for example pure
    /// Ed25519 falling back to Ed25519ph on a backend that signs short messages only).
    pub note: Option<String>,
}

struct Cached {
    info: KeyInfo,
    public_key: Option<PublicKey>,
    at: Instant,
}

/// A handle on keys in one backend.
///
/// ```
/// # async fn demo() -> keychain::Result<()> {
/// use keychain::{Hash, Keychain, KeyParams};
/// let dir = tempfile::tempdir().map_err(|e| keychain::Error::io("tempdir", e))?;
/// # unsafe { std::env::set_var("KEYCHAIN_KDF_ITERATIONS", "2048"); }
/// # unsafe { std::env::set_var("KEYCHAIN_PASSWORD", "correct horse battery staple"); }
/// let kc = Keychain::open(&format!("software:{}", dir.path().display())).await?;
/// kc.generate_key("api-signing-key", &KeyParams::rsa(2048)).await?;
/// let digest = Hash::Sha256.digest(b"Hello, keychain!");
/// let signature = kc.sign("api-signing-key", &digest, Hash::Sha256).await?;
/// let ok = kc
///     .verify("alias/api-signing-key", keychain::Message::Digest(&digest), &signature,
///             keychain::SigningAlgorithm::RsassaPkcs1V15Sha256)
///     .await?;
/// assert!(ok);
/// kc.close().await?;
/// # Ok(()) }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct Keychain {
    backend: Arc<dyn Backend>,
    cache: Arc<Mutex<HashMap<String, Cached>>>,
    cache_ttl: Duration,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keychain")
            .field("backend", &self.backend)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl Keychain {
    /// Wraps a backend.
    pub fn new(backend: impl Backend + 'static) -> Self {
        Self::from_arc(Arc::new(backend))
    }

    /// Wraps a shared backend.
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        Keychain {
            backend,
            cache: Arc::new(Mutex::new(HashMap::new())),
            cache_ttl: Duration::from_secs(300),
        }
    }

    /// Sets how long public keys and key metadata are cached (default five minutes; zero
    /// disables the cache).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Opens the backend a URI names: `software:PATH` (or `software:` for the default
    /// keystore, see [`default_keystore_path`]; the password comes from `KEYCHAIN_PASSWORD`),
    /// or AWS KMS: `awskms` / `awskms:` (region, credentials and endpoint from the
    /// environment and the SDK's default chain: `AWS_REGION`, `AWS_PROFILE`,
    /// `AWS_ENDPOINT_URL`…), `awskms://HOST:PORT/?region=R` (an emulator at
    /// `http://HOST:PORT`) or `awskms:?endpoint=URL&region=R` (see
    /// `awskms::config_from_uri`).
    pub async fn open(uri: &str) -> Result<Self> {
        let uri = uri.trim();
        if uri.starts_with("software:") {
            return Ok(Self::new(
                SoftwareBackend::open(SoftwareConfig::from_uri(uri)?).await?,
            ));
        }
        if uri == "awskms" || uri.starts_with("awskms:") {
            #[cfg(feature = "aws")]
            {
                let config = crate::awskms::config_from_uri(uri)?;
                let ttl = config.cache_ttl;
                let backend = crate::awskms::AwsKmsBackend::new(config).await?;
                return Ok(Self::new(backend).with_cache_ttl(ttl));
            }
            #[cfg(not(feature = "aws"))]
            return Err(Error::unsupported(
                "keychain",
                "the awskms backend in this build (compiled without the `aws` feature)",
            ));
        }
        Err(Error::invalid_input(format!(
            "unknown backend URI {uri:?}: expected software:PATH or awskms:…"
        )))
    }

    /// Opens the backend named by `KEYCHAIN_BACKEND`, else the default software keystore.
    pub async fn from_env() -> Result<Self> {
        match std::env::var(BACKEND_ENV) {
            Ok(uri) if !uri.trim().is_empty() => Self::open(&uri).await,
            _ => Self::open("software:").await,
        }
    }

    /// The backend, for the operations this handle does not wrap (aliases, rotation, tags…).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn cached(&self, key: &KeyRef) -> Option<(KeyInfo, Option<PublicKey>)> {
        let cache = self.cache.lock().ok()?;
        let c = cache.get(&key.to_string())?;
        (c.at.elapsed() < self.cache_ttl).then(|| (c.info.clone(), c.public_key.clone()))
    }

    fn remember(&self, key: &KeyRef, info: KeyInfo, public_key: Option<PublicKey>) {
        if self.cache_ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(
                key.to_string(),
                Cached {
                    info,
                    public_key,
                    at: Instant::now(),
                },
            );
        }
    }

    /// Forgets cached metadata and public keys (all of them).
    pub fn clear_cache(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// Key metadata, from the cache when fresh. The spec and usage never change for a key,
    /// so this is safe for choosing algorithms; for the current state use
    /// [`Keychain::describe`].
    async fn info(&self, key: &KeyRef) -> Result<KeyInfo> {
        if let Some((info, _)) = self.cached(key) {
            return Ok(info);
        }
        let info = self.backend.describe_key(key).await?;
        self.remember(key, info.clone(), None);
        Ok(info)
    }

    /// Creates a key named `name` (alias `alias/NAME`) with the seed-shaped parameters.
    pub async fn generate_key(&self, name: &str, params: &KeyParams) -> Result<KeyInfo> {
        self.create_key(&CreateKeyRequest::from_params(name, params)?)
            .await
    }

    /// Creates a key.
    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
        request.validate()?;
        self.backend.create_key(request).await
    }

    /// Describes a key (always asks the backend).
    pub async fn describe(&self, key: &str) -> Result<KeyInfo> {
        let key = KeyRef::parse(key)?;
        let info = self.backend.describe_key(&key).await?;
        self.remember(&key, info.clone(), None);
        Ok(info)
    }

    /// Signs a digest made with `hash`, choosing the natural algorithm for the key:
    /// PKCS#1 v1.5 for RSA, ECDSA for EC keys, Ed25519ph for Ed25519 with SHA-512.
    pub async fn sign(&self, key: &str, digest: &[u8], hash: Hash) -> Result<Vec<u8>> {
        let key = KeyRef::parse(key)?;
        hash.check_digest(digest)?;
        let info = self.info(&key).await?;
        // A hash the key's spec cannot sign with is a usage error of that key, as the backend
        // reports an algorithm outside the spec's table.
        let algorithm = info
            .spec
            .signing_algorithm_for_hash(hash)
            .map_err(|e| match e {
                Error::InvalidInput { message } => Error::key_usage(info.display_name(), message),
                other => other,
            })?;
        self.backend
            .sign(&key, Message::Digest(digest), algorithm)
            .await
    }

    /// Signs a digest or message with an explicit algorithm.
    pub async fn sign_with(
        &self,
        key: &str,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        let key = KeyRef::parse(key)?;
        message.check(algorithm)?;
        self.backend.sign(&key, message, algorithm).await
    }

    /// The algorithm to use for `key` when the caller gives none: the spec's default.
    pub async fn default_signing_algorithm(&self, key: &str) -> Result<SigningAlgorithm> {
        let key = KeyRef::parse(key)?;
        let info = self.info(&key).await?;
        info.spec.default_signing_algorithm().ok_or_else(|| {
            Error::key_usage(
                info.display_name(),
                format!("{} keys do not sign", info.spec),
            )
        })
    }

    /// The public key, cached.
    pub async fn public_key(&self, key: &str) -> Result<PublicKey> {
        let key = KeyRef::parse(key)?;
        self.public_key_of(&key).await
    }

    async fn public_key_of(&self, key: &KeyRef) -> Result<PublicKey> {
        if let Some((_, Some(pk))) = self.cached(key) {
            return Ok(pk);
        }
        let info = self.info(key).await?;
        let pk = self.backend.public_key(key).await?;
        self.remember(key, info, Some(pk.clone()));
        Ok(pk)
    }

    /// Verifies a signature locally with the (cached) public key; falls back to the backend
    /// for what cannot be verified locally. `Ok(false)` means the signature is wrong.
    pub async fn verify(
        &self,
        key: &str,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let key = KeyRef::parse(key)?;
        message.check(algorithm)?;
        let pk = self.verifying_key(&key, algorithm).await?;
        match pk.verify(message, signature, algorithm) {
            Err(Error::Unsupported { .. }) => {
                self.backend
                    .verify(&key, message, signature, algorithm)
                    .await
            }
            other => other,
        }
    }

    /// The public key that verifies `key`'s signatures made with `algorithm`, after the checks
    /// of usage and algorithm the backend would make.
    async fn verifying_key(&self, key: &KeyRef, algorithm: SigningAlgorithm) -> Result<PublicKey> {
        let info = self.info(key).await?;
        // Usage and algorithm as the backend would check them; the state is not: a signature
        // stays valid (or not) whatever the key's state, and the public key is public.
        if info.usage != KeyUsage::SignVerify {
            return Err(Error::key_usage(
                info.display_name(),
                format!("usage is {}, verifying needs SIGN_VERIFY", info.usage),
            ));
        }
        if !info.spec.signing_algorithms().contains(&algorithm) {
            return Err(Error::key_usage(
                info.display_name(),
                format!("{} keys cannot use {algorithm}", info.spec),
            ));
        }
        self.public_key_of(key).await
    }

    /// Verifies with the backend (KMS `Verify`), never locally.
    pub async fn verify_remote(
        &self,
        key: &str,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let key = KeyRef::parse(key)?;
        self.backend
            .verify(&key, message, signature, algorithm)
            .await
    }

    /// The encryption algorithm a key uses by default: SYMMETRIC_DEFAULT for symmetric keys,
    /// RSAES_OAEP_SHA_256 for RSA.
    pub async fn default_encryption_algorithm(&self, key: &str) -> Result<EncryptionAlgorithm> {
        let key = KeyRef::parse(key)?;
        let info = self.info(&key).await?;
        match info.spec.family() {
            KeyFamily::Symmetric => Ok(EncryptionAlgorithm::SymmetricDefault),
            KeyFamily::Rsa(_) => Ok(EncryptionAlgorithm::RsaesOaepSha256),
            _ => Err(Error::key_usage(
                info.display_name(),
                format!("{} keys do not encrypt", info.spec),
            )),
        }
    }

    /// Encrypts a small plaintext directly under the key (symmetric keys with `context`,
    /// RSA keys with OAEP SHA-256).
    pub async fn encrypt(
        &self,
        key: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let algorithm = self.default_encryption_algorithm(key).await?;
        self.backend
            .encrypt(&KeyRef::parse(key)?, plaintext, algorithm, context)
            .await
    }

    /// Decrypts a symmetric ciphertext (the ciphertext names its key).
    pub async fn decrypt(&self, ciphertext: &[u8], context: &EncryptionContext) -> Result<Secret> {
        self.backend
            .decrypt(
                None,
                ciphertext,
                EncryptionAlgorithm::SymmetricDefault,
                context,
            )
            .await
    }

    /// Releases the backend.
    pub async fn close(&self) -> Result<()> {
        self.clear_cache();
        self.backend.close().await
    }
}

/// Hashes a stream in 64 KiB chunks.
pub fn hash_reader(hash: Hash, mut reader: impl Read) -> Result<Vec<u8>> {
    let mut hasher = hash.hasher();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading the input", e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}
