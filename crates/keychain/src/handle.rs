//! [`Keychain`], the handle applications hold. It wraps any [`Backend`], takes keys by any reference
//! string, picks the natural algorithm, caches public keys and verifies locally.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::algorithm::{EncryptionAlgorithm, Hash, Message, SigningAlgorithm};
use crate::backend::Backend;
use crate::backend_uri::BackendUri;
use crate::data_key::EncryptionContext;
use crate::key::{CreateKeyRequest, KeyFamily, KeyInfo, KeyParams, KeyUsage};
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::software::{OpenMode, SoftwareBackend, SoftwareConfig};
use crate::{Error, Result};

/// Environment variable naming the backend URI (`software:PATH`, `awskms:…`).
pub(crate) const BACKEND_ENV: &str = "KEYCHAIN_BACKEND";
/// Environment variable naming the default software keystore directory.
pub(crate) const HOME_ENV: &str = "KEYCHAIN_HOME";

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
    /// `awskms::config_from_uri`). Every component is checked first ([`BackendUri::parse`]).
    ///
    /// A software keystore that does not exist is created (see [`Keychain::open_with`]).
    pub async fn open(uri: &str) -> Result<Self> {
        Self::open_with(uri, OpenMode::default()).await
    }

    /// [`Keychain::open`], saying whether a software keystore may be created:
    /// [`OpenMode::Open`] opens an existing one only (a mistyped path is
    /// [`Error::NoKeystore`], and nothing is created). Other backends have nothing to create
    /// and ignore `mode`.
    pub async fn open_with(uri: &str, mode: OpenMode) -> Result<Self> {
        match BackendUri::parse(uri)? {
            BackendUri::Software { path } => {
                let path = match path {
                    Some(p) => p,
                    None => default_keystore_path()?,
                };
                Ok(Self::new(
                    SoftwareBackend::open(SoftwareConfig::new(path).mode(mode)).await?,
                ))
            }
            #[cfg(feature = "aws")]
            BackendUri::AwsKms(parsed) => {
                let config = crate::awskms::config_from_parsed(parsed)?;
                let ttl = config.cache_ttl;
                let backend = crate::awskms::AwsKmsBackend::new(config).await?;
                Ok(Self::new(backend).with_cache_ttl(ttl))
            }
            #[cfg(not(feature = "aws"))]
            BackendUri::AwsKms(_) => Err(Error::unsupported(
                "keychain",
                "the awskms backend in this build (compiled without the `aws` feature)",
            )),
        }
    }

    /// Opens the backend named by `KEYCHAIN_BACKEND`, else (unset or empty) the default
    /// software keystore. A value that is not UTF-8 is [`Error::InvalidInput`].
    pub async fn from_env() -> Result<Self> {
        match backend_from_env(std::env::var(BACKEND_ENV))? {
            Some(uri) => Self::open(&uri).await,
            None => Self::open("software:").await,
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
        let algorithm = self.info(&key).await?.signing_algorithm_for_hash(hash)?;
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

    /// Signs everything `reader` yields, hashing it as it streams (constant memory), with
    /// `algorithm` or the key's default. Pure Ed25519 needs the whole message: it is read
    /// into memory when the backend signs messages of any length, and otherwise falls back to
    /// Ed25519ph (the note says so). ML-DSA is read the same way, but has no fallback: input
    /// over the backend's raw-message limit is an error.
    pub async fn sign_reader(
        &self,
        key: &str,
        mut reader: impl Read,
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Signed> {
        let algorithm = match algorithm {
            Some(a) => a,
            None => self.default_signing_algorithm(key).await?,
        };
        if !algorithm.accepts_digest() {
            let mut data = Vec::new();
            reader
                .read_to_end(&mut data)
                .map_err(|e| Error::io("reading the input", e))?;
            let limit = self.backend.capabilities().max_raw_message;
            if limit.is_none_or(|max| data.len() <= max) {
                let signature = self.sign_with(key, Message::Raw(&data), algorithm).await?;
                return Ok(Signed {
                    signature,
                    algorithm,
                    note: None,
                });
            }
            if algorithm != SigningAlgorithm::Ed25519Sha512 {
                // ML-DSA has no digest form keychain can use (no external μ).
                return Err(Error::invalid_input(format!(
                    "{algorithm} signs the message itself and the {} backend signs at most \
                     {} bytes; this input is {} bytes",
                    self.backend.name(),
                    limit.unwrap_or_default(),
                    data.len()
                )));
            }
            let fallback = SigningAlgorithm::Ed25519PhSha512;
            let digest = Hash::Sha512.digest(&data);
            let signature = self
                .sign_with(key, Message::Digest(&digest), fallback)
                .await?;
            return Ok(Signed {
                signature,
                algorithm: fallback,
                note: Some(format!(
                    "the {} backend signs at most {} bytes with pure Ed25519; signed the \
                     SHA-512 digest with ED25519_PH_SHA_512 instead",
                    self.backend.name(),
                    limit.unwrap_or_default()
                )),
            });
        }
        let digest = hash_reader(algorithm.hash(), reader)?;
        let signature = self
            .sign_with(key, Message::Digest(&digest), algorithm)
            .await?;
        Ok(Signed {
            signature,
            algorithm,
            note: None,
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
    ///
    /// The key's usage, algorithm and state are checked first, as AWS KMS checks them for
    /// `Verify`: a key that is disabled or pending deletion is [`Error::InvalidKeyState`] on
    /// every backend, whether the signature is then checked locally or by the backend. The
    /// state is read from key metadata no older than the cache TTL ([`Keychain::with_cache_ttl`];
    /// zero checks it at every call). To check a signature whatever the key's state, verify
    /// with its public key ([`PublicKey::verify`]).
    pub async fn verify(
        &self,
        key: &str,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let key = KeyRef::parse(key)?;
        message.check(algorithm)?;
        let info = self.info(&key).await?;
        // Usage, algorithm and state as the backend checks them (AWS KMS refuses Verify with a
        // disabled key or one pending deletion): the same answer on every backend, local or not.
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
        info.check_enabled()?;
        let pk = self.public_key_of(&key).await?;
        match pk.verify(message, signature, algorithm) {
            Err(Error::Unsupported { .. }) => {
                self.backend
                    .verify(&key, message, signature, algorithm)
                    .await
            }
            other => other,
        }
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

    /// Verifies a signature over everything `reader` yields (see [`Keychain::sign_reader`]).
    pub async fn verify_reader(
        &self,
        key: &str,
        mut reader: impl Read,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        if !algorithm.accepts_digest() {
            let mut data = Vec::new();
            reader
                .read_to_end(&mut data)
                .map_err(|e| Error::io("reading the input", e))?;
            return self
                .verify(key, Message::Raw(&data), signature, algorithm)
                .await;
        }
        let digest = hash_reader(algorithm.hash(), reader)?;
        self.verify(key, Message::Digest(&digest), signature, algorithm)
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

/// The backend URI a `KEYCHAIN_BACKEND` value names: `None` when unset or blank (the default
/// keystore), an error when it is not UTF-8 (it names something, just not a URI we can read;
/// falling back to the default keystore would act on the wrong keys).
fn backend_from_env(
    value: std::result::Result<String, std::env::VarError>,
) -> Result<Option<String>> {
    match value {
        Ok(uri) if !uri.trim().is_empty() => Ok(Some(uri)),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::invalid_input(format!(
            "{BACKEND_ENV} is not valid UTF-8, so it names no backend URI"
        ))),
        _ => Ok(None),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::env::VarError;

    #[test]
    fn a_backend_variable_that_is_not_utf8_is_refused_not_the_default() {
        assert!(matches!(
            backend_from_env(Err(VarError::NotUnicode(std::ffi::OsString::from("x")))),
            Err(Error::InvalidInput { .. })
        ));
        assert_eq!(backend_from_env(Err(VarError::NotPresent)).ok(), Some(None));
        assert_eq!(backend_from_env(Ok("  ".into())).ok(), Some(None));
        assert_eq!(
            backend_from_env(Ok("awskms".into())).ok(),
            Some(Some("awskms".to_string()))
        );
    }
}
