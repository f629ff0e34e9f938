//! [`Keychain`], the handle applications hold. It wraps any [`Backend`], takes keys by any reference
//! string, picks the natural algorithm, caches public keys and verifies locally.
//!
//! Each public method parses the caller's reference once ([`KeyRef::parse`]) and hands the
//! parsed [`KeyRef`] to the private methods and the backend below it. Metadata and public keys
//! come from the backend's [`KeyCache`], the one cache between caller and backend.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use crate::algorithm::{EncryptionAlgorithm, Hash, Message, SigningAlgorithm};
use crate::backend::Backend;
use crate::backend_uri::BackendUri;
use crate::data_key::EncryptionContext;
use crate::key::{CreateKeyRequest, KeyFamily, KeyInfo, KeyParams};
use crate::key_cache::KeyCache;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::software::{OpenMode, SoftwareBackend, SoftwareConfig};
use crate::{Error, Result};

mod agreement;
mod kem;
mod streaming;

/// Environment variable naming the backend URI (`software:PATH`, `awskms:…`).
pub(crate) const BACKEND_ENV: &str = "KEYCHAIN_BACKEND";
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
    /// The id of the key that signed ([`KeyInfo::key_id`]), whatever reference named it: the
    /// key the algorithm was checked against, so a caller reporting it asks nothing more.
    pub key_id: String,
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
    /// The backend's cache ([`Backend::key_cache`]), or the handle's own when it has none.
    cache: Arc<KeyCache>,
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

    /// Wraps a shared backend. The handle reads and fills the backend's cache
    /// ([`Backend::key_cache`]), so handles and the backend itself share what one of them
    /// read; a backend without a cache gets one of the handle's own.
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        // Every operation gets a tracing span (see `observe`).
        let backend = crate::observe::Traced::wrap(backend);
        let cache = backend.key_cache().unwrap_or_default();
        Keychain {
            backend,
            cache,
            cache_ttl: Duration::from_secs(300),
        }
    }

    /// Sets how old cached public keys and key metadata this handle accepts (default five
    /// minutes; zero asks the backend at every call). Changes made through the backend clear
    /// what the cache holds about the key whatever the TTL (see [`KeyCache`]).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Opens the backend a URI names: `software:PATH` (or `software:` for the default
    /// keystore, see [`crate::default_keystore_path`]; the password comes from `KEYCHAIN_PASSWORD`),
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
        Self::open_parsed(BackendUri::parse(uri)?, mode).await
    }

    /// [`Keychain::open_with`] for a URI already parsed (and perhaps adjusted, as the CLI
    /// does with `--region`: [`crate::AwsKmsUri::with_overrides`]).
    pub async fn open_parsed(uri: BackendUri, mode: OpenMode) -> Result<Self> {
        match uri {
            BackendUri::Software { path } => {
                let config = SoftwareConfig::from_parsed(path)?.mode(mode);
                Ok(Self::new(SoftwareBackend::open(config).await?))
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
            #[cfg(feature = "pkcs11")]
            BackendUri::Pkcs11(parsed) => {
                Ok(Self::new(crate::pkcs11::Pkcs11Backend::open(parsed).await?))
            }
            #[cfg(not(feature = "pkcs11"))]
            BackendUri::Pkcs11(_) => Err(Error::unsupported(
                "keychain",
                "the pkcs11 backend in this build (compiled without the `pkcs11` feature)",
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

    /// Forgets cached metadata and public keys (all of them, for every handle on the backend).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Key metadata, from the cache when fresh. The spec and usage never change for a key,
    /// so this is safe for choosing algorithms; for the current state use
    /// [`Keychain::describe`].
    async fn info(&self, key: &KeyRef) -> Result<KeyInfo> {
        if let Some(info) = self.cache.info(key, self.cache_ttl) {
            return Ok(info);
        }
        // Only the metadata the data path needs: no aliases, tags or rotations (least
        // privilege; see `Backend::key_metadata`).
        let info = self.backend.key_metadata(key).await?;
        self.cache.remember_info(key, &info);
        Ok(info)
    }

    /// Creates a key named `name` (alias `alias/NAME`) from simple parameters (an algorithm
    /// family and a size or curve, [`KeyParams`]).
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
        self.cache.remember_info(&key, &info);
        Ok(info)
    }

    /// The key's metadata as the data path needs it (id, spec, usage, state), from the cache
    /// when fresh: unlike [`Keychain::describe`] it asks for no aliases, tags or rotations, so
    /// a caller allowed only the key's data-path operations can read it (see
    /// [`Backend::key_metadata`]).
    pub async fn metadata(&self, key: &str) -> Result<KeyInfo> {
        self.info(&KeyRef::parse(key)?).await
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

    /// Signs a digest with `algorithm`, or when `None` with the key's natural algorithm for
    /// the hash the digest's length implies (as [`Keychain::digest_signing_algorithm`]
    /// chooses it). The [`Signed`] names the key that signed, from the metadata the algorithm
    /// was checked against: reporting it costs no further request.
    pub async fn sign_digest(
        &self,
        key: &str,
        digest: &[u8],
        algorithm: Option<SigningAlgorithm>,
    ) -> Result<Signed> {
        let key = KeyRef::parse(key)?;
        let info = self.info(&key).await?;
        let algorithm = match algorithm {
            Some(a) => a,
            None => info.signing_algorithm_for_hash(Hash::for_digest(digest)?)?,
        };
        self.signed(&key, &info, Message::Digest(digest), algorithm)
            .await
    }

    /// Signs `message` with `key`, whose metadata is `info`, into a [`Signed`].
    async fn signed(
        &self,
        key: &KeyRef,
        info: &KeyInfo,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Signed> {
        message.check(algorithm)?;
        let signature = self.backend.sign(key, message, algorithm).await?;
        Ok(Signed {
            signature,
            algorithm,
            note: None,
            key_id: info.key_id.clone(),
        })
    }

    /// The algorithm for signing (or verifying) `digest` with `key` when the caller names
    /// none: the key's natural algorithm for the hash the digest's length implies. A length
    /// no hash has is [`Error::InvalidInput`]; a hash the key cannot sign with is
    /// [`Error::InvalidKeyUsage`], as in [`Keychain::sign`].
    pub async fn digest_signing_algorithm(
        &self,
        key: &str,
        digest: &[u8],
    ) -> Result<SigningAlgorithm> {
        let hash = Hash::for_digest(digest)?;
        let key = KeyRef::parse(key)?;
        self.info(&key).await?.signing_algorithm_for_hash(hash)
    }

    /// The algorithm to use for `key` when the caller gives none: the spec's default.
    pub async fn default_signing_algorithm(&self, key: &str) -> Result<SigningAlgorithm> {
        let key = KeyRef::parse(key)?;
        default_signing_algorithm_of(&self.info(&key).await?)
    }

    /// The public key, cached.
    pub async fn public_key(&self, key: &str) -> Result<PublicKey> {
        let key = KeyRef::parse(key)?;
        self.public_key_of(&key).await
    }

    async fn public_key_of(&self, key: &KeyRef) -> Result<PublicKey> {
        if let Some(pk) = self.cache.public_key(key, self.cache_ttl) {
            return Ok(pk);
        }
        let pk = self.backend.public_key(key).await?;
        self.cache.remember_public_key(key, &pk);
        Ok(pk)
    }

    /// Verifies a signature locally with the (cached) public key; falls back to the backend
    /// for what cannot be verified locally. `Ok(false)` means the signature is wrong.
    ///
    /// The key's usage, algorithm and state are checked first, as AWS KMS checks them for
    /// `Verify`: a key that is disabled or pending deletion is [`Error::InvalidKeyState`] on
    /// every backend, whether the signature is then checked locally or by the backend. The
    /// state is read from key metadata no older than the cache TTL ([`Keychain::with_cache_ttl`];
    /// zero checks it at every call; a change made through the backend is seen at once). To
    /// check a signature whatever the key's state, verify with its public key
    /// ([`PublicKey::verify`]).
    pub async fn verify(
        &self,
        key: &str,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let key = KeyRef::parse(key)?;
        self.verify_ref(&key, message, signature, algorithm).await
    }

    async fn verify_ref(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        message.check(algorithm)?;
        let pk = self.verifying_key(key, algorithm).await?;
        match pk.verify(message, signature, algorithm) {
            Err(Error::Unsupported { .. }) => {
                self.backend
                    .verify(key, message, signature, algorithm)
                    .await
            }
            other => other,
        }
    }

    /// The public key to verify `key`'s signatures with outside the backend (a JWT, a
    /// certificate chain), under the rule [`Keychain::verify`] follows: a key that does not
    /// sign, or that is disabled or pending deletion, is refused ([`Error::InvalidKeyUsage`],
    /// [`Error::InvalidKeyState`]), as AWS KMS refuses Verify with it. For the key whatever
    /// its state, use [`Keychain::public_key`].
    pub async fn verification_key(&self, key: &str) -> Result<PublicKey> {
        let key = KeyRef::parse(key)?;
        let info = self.info(&key).await?;
        info.check_sign_verify_usage()?;
        info.check_enabled()?;
        self.public_key_of(&key).await
    }

    /// The public key that verifies `key`'s signatures made with `algorithm`, after the checks
    /// the backend would make: usage, algorithm and state (AWS KMS refuses Verify with a
    /// disabled key or one pending deletion), so every backend answers the same, local or not.
    async fn verifying_key(&self, key: &KeyRef, algorithm: SigningAlgorithm) -> Result<PublicKey> {
        self.info(key).await?.check_signing(algorithm)?;
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
        self.encryption_algorithm_of(&key).await
    }

    async fn encryption_algorithm_of(&self, key: &KeyRef) -> Result<EncryptionAlgorithm> {
        let info = self.info(key).await?;
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
        let key = KeyRef::parse(key)?;
        let algorithm = self.encryption_algorithm_of(&key).await?;
        self.backend
            .encrypt(&key, plaintext, algorithm, context)
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

/// The spec's default signing algorithm; a key that does not sign is
/// [`Error::InvalidKeyUsage`].
fn default_signing_algorithm_of(info: &KeyInfo) -> Result<SigningAlgorithm> {
    info.spec.default_signing_algorithm().ok_or_else(|| {
        Error::key_usage(
            info.display_name(),
            format!("{} keys do not sign", info.spec),
        )
    })
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
