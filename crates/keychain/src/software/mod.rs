//! The software backend: the embedded default. Keys live in a local keystore directory as
//! password-encrypted PKCS#8 files (readable by `openssl pkey -passin`), with metadata beside
//! them. See [`OpenMode`] for when a keystore is created; the layout, the durability rules and
//! what is checked before a keystore is trusted are in the (private) `keystore` and `fs` modules.

mod aliases;
mod crypto;
mod fs;
mod imported;
mod keys;
mod keystore;
mod lifecycle;
mod material;
mod passwd;
mod password_file;
mod pbes2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

#[cfg_attr(not(feature = "pkcs11"), allow(unused_imports))]
pub(crate) use self::crypto::check_mac_message;
pub use self::keystore::Clock;
use self::keystore::Keystore;
pub use self::password_file::{
    MAX_PASSWORD_LEN, PASSWORD_FILE_ENV, password_from_env_file, read_password_file,
};
pub use self::pbes2::{DEFAULT_ITERATIONS, MIN_ITERATIONS};
use crate::agreement::KeyAgreementAlgorithm;
use crate::algorithm::{
    DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, OwnedMessage, SigningAlgorithm,
};
use crate::backend::{Backend, Capabilities};
use crate::data_key::{DataKey, EncryptionContext};
use crate::kem::Encapsulation;
use crate::key::{
    AliasInfo, CreateKeyRequest, DeletionSchedule, KeyInfo, KeyMaterial, KeySpec, Page,
    PageRequest, RotationStatus,
};
use crate::key_cache::KeyCache;
use crate::key_ref::KeyRef;
use crate::public_key::PublicKey;
use crate::secret::Secret;
use crate::stream::MessageSource;
use crate::{Error, Result};

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

/// Generates a key pair of an asymmetric `spec` that no keystore holds — a data key pair, as
/// AWS KMS's `GenerateDataKeyPair` hands out: the private key as PKCS#8 DER (zeroized on drop)
/// and its public key. A symmetric or HMAC spec is [`Error::InvalidInput`].
pub fn generate_key_pair(spec: KeySpec) -> Result<(Secret, PublicKey)> {
    if !spec.is_asymmetric() {
        return Err(Error::invalid_input(format!(
            "{spec} is not an asymmetric key spec"
        )));
    }
    let private_key = material::generate(spec)?;
    let public_key = material::Material::load(spec, private_key.expose())?.public_key()?;
    Ok((private_key, public_key))
}

/// The public key of private key material as [`SoftwareBackend::export_key_material`] gives
/// it (checked against `spec`).
#[cfg_attr(not(feature = "pkcs11"), allow(dead_code))]
pub(crate) fn public_key_of_material(spec: KeySpec, material: &[u8]) -> Result<PublicKey> {
    material::Material::load(spec, material)?.public_key()
}

/// Environment variable holding the keystore password.
pub const PASSWORD_ENV: &str = "KEYCHAIN_PASSWORD";
/// Environment variable with the PBKDF2 iteration count for new keystores.
pub const ITERATIONS_ENV: &str = "KEYCHAIN_KDF_ITERATIONS";

/// Whether opening a software keystore may create it.
///
/// Whatever the mode, a keystore is created only where nothing is: at a path that does not
/// exist (its missing parent directories are created too), in an empty directory, or in one
/// holding only the remains of an unfinished creation. A directory holding anything else is
/// refused, and one holding keys but no `keystore.json` is a damaged keystore
/// ([`Error::Corrupted`]): it is never re-initialised. No mode of an existing file or
/// directory is ever changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMode {
    /// Open an existing keystore only; where there is none, [`Error::NoKeystore`]. What the
    /// CLI uses for every command but `keystore init` and `key create`.
    Open,
    /// Open the keystore, creating it if there is none (the default: a program's first run
    /// makes its keystore, as the quickstart does).
    #[default]
    OpenOrCreate,
    /// Create a new keystore; an existing one is [`Error::AlreadyExists`]
    /// (`keychain keystore init`).
    Create,
}

/// The password in `KEYCHAIN_PASSWORD`, as the bytes the environment holds. On Unix a
/// password that is not UTF-8 is used as its raw bytes, exactly as OpenSSL's `-passin env:`
/// and `-passin file:` read it, so the key files stay readable by OpenSSL; elsewhere it is
/// refused with a clear error.
fn password_from_env() -> Result<Secret> {
    let Some(value) = std::env::var_os(PASSWORD_ENV) else {
        return Err(Error::invalid_input(format!(
            "the software keystore needs a password: set {PASSWORD_ENV}"
        )));
    };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Ok(Secret::new(value.into_vec()))
    }
    #[cfg(not(unix))]
    {
        value.into_string().map(|p| Secret::new(p.into_bytes())).map_err(|_| {
            Error::invalid_input(format!(
                "{PASSWORD_ENV} is not valid Unicode; on this system the password must be Unicode text"
            ))
        })
    }
}

/// Configuration of the software backend.
#[derive(Clone)]
pub struct SoftwareConfig {
    /// The keystore directory (see [`OpenMode`] for when it is created; a new one gets mode
    /// 0700).
    pub path: PathBuf,
    /// The keystore password; `None` reads `KEYCHAIN_PASSWORD`.
    pub password: Option<Secret>,
    /// PBKDF2-HMAC-SHA256 iterations for a new keystore (at least 2048, OpenSSL's default;
    /// default 600 000). An existing keystore keeps the count it was made with.
    pub kdf_iterations: Option<u32>,
    /// The clock (tests of scheduled deletion and rotation replace it).
    pub clock: Option<Clock>,
    /// Whether the keystore may be created (default [`OpenMode::OpenOrCreate`]).
    pub mode: OpenMode,
}

impl std::fmt::Debug for SoftwareConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareConfig")
            .field("path", &self.path)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("kdf_iterations", &self.kdf_iterations)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl SoftwareConfig {
    /// A configuration for the keystore at `path`, password from the environment.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SoftwareConfig {
            path: path.into(),
            password: None,
            kdf_iterations: None,
            clock: None,
            mode: OpenMode::default(),
        }
    }

    /// Sets whether the keystore may be created (see [`OpenMode`]).
    pub fn mode(mut self, mode: OpenMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the password.
    pub fn password(mut self, password: impl Into<Vec<u8>>) -> Self {
        self.password = Some(Secret::new(password.into()));
        self
    }

    /// Sets the PBKDF2 iteration count for a new keystore.
    pub fn kdf_iterations(mut self, iterations: u32) -> Self {
        self.kdf_iterations = Some(iterations);
        self
    }

    /// Replaces the clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The configuration a backend URI names: `software:PATH` (also `software://PATH`), or
    /// `software:` for the default keystore ([`default_keystore_path`]). The password
    /// comes from `KEYCHAIN_PASSWORD`.
    pub fn from_uri(uri: &str) -> Result<Self> {
        match crate::backend_uri::BackendUri::parse(uri)? {
            crate::backend_uri::BackendUri::Software { path } => Self::from_parsed(path),
            _ => Err(Error::invalid_input(
                "not a software:PATH backend URI (this needs a software keystore)",
            )),
        }
    }

    /// The configuration of a parsed `software:` URI ([`crate::BackendUri::Software`]): the
    /// keystore at `path`, or the default keystore ([`default_keystore_path`]) when the URI
    /// names none.
    pub fn from_parsed(path: Option<PathBuf>) -> Result<Self> {
        Ok(Self::new(match path {
            Some(path) => path,
            None => default_keystore_path()?,
        }))
    }
}

/// The software backend. Cheap to clone; clones share the open keystore and the cache.
#[derive(Debug, Clone)]
pub struct SoftwareBackend {
    store: Arc<Keystore>,
    /// What [`crate::Keychain`] remembers of keys (metadata, public keys): the keystore's own
    /// reads are fresh, checked against each file's stamp, but a handle's are not, so every
    /// change made here clears it.
    cache: Arc<KeyCache>,
}

impl SoftwareBackend {
    /// Opens the keystore, creating it if the configuration's [`OpenMode`] allows. A wrong
    /// password is [`Error::WrongPassword`]; a keystore that group or others can write to, or
    /// whose `keystore.json` they can read, is [`Error::AccessDenied`] naming the path and its
    /// mode. Opening writes nothing to an existing keystore, so one on a read-only file system
    /// opens and serves every read (sign, verify, decrypt…).
    pub async fn open(config: SoftwareConfig) -> Result<Self> {
        tokio::task::spawn_blocking(move || Self::open_blocking(config))
            .await
            .map_err(|e| Error::crypto(format!("keystore task failed: {e}")))?
    }

    /// [`SoftwareBackend::open`] for synchronous callers.
    pub fn open_blocking(config: SoftwareConfig) -> Result<Self> {
        let password = match config.password {
            Some(p) => p,
            None => password_from_env()?,
        };
        let iterations = match config.kdf_iterations {
            Some(n) => n,
            None => match std::env::var(ITERATIONS_ENV) {
                Ok(s) => s.trim().parse().map_err(|_| {
                    Error::invalid_input(format!("{ITERATIONS_ENV} must be a number, not {s:?}"))
                })?,
                Err(_) => pbes2::DEFAULT_ITERATIONS,
            },
        };
        let clock = config
            .clock
            .unwrap_or_else(|| Arc::new(SystemTime::now) as Clock);
        let store = Keystore::open(config.path, password, iterations, clock, config.mode)?;
        Ok(SoftwareBackend {
            store: Arc::new(store),
            cache: Arc::new(KeyCache::new()),
        })
    }

    /// The keystore directory.
    pub fn path(&self) -> &Path {
        self.store.root()
    }

    /// Changes the keystore password to `new_password`: every key file is re-encrypted and
    /// the keystore's salt and verifier replaced, all or nothing. A crash (even SIGKILL) at
    /// any moment leaves either the old or the new password working for every key; the next
    /// open finishes or undoes an interrupted change. The iteration count stays.
    ///
    /// This handle, and any other process that has the keystore open, keeps the old
    /// password's key: open the keystore again (with the new password) afterwards.
    pub async fn change_password(&self, new_password: Secret) -> Result<()> {
        self.run(move |s| s.change_password(&new_password)).await
    }

    /// **Dangerous: the private key leaves the keystore in the clear.** The plaintext
    /// material of the key's current version, for moving the key to another backend (a
    /// migration to AWS KMS imports it, see `keychain::migrate`): PKCS#8 DER
    /// (`PrivateKeyInfo`) for RSA, EC and Ed25519 keys, the raw key bytes for symmetric
    /// (32 bytes) and HMAC keys.
    ///
    /// Only the current version is exported (a rotated symmetric key's older versions stay
    /// in the keystore). A disabled key, or one pending deletion, is refused with
    /// [`Error::InvalidKeyState`]: exporting is a use of the key. The returned [`Secret`] is
    /// zeroized when dropped and never printed by `Debug`; drop it as soon as it has been
    /// wrapped for the destination, and never write it anywhere. Each export is logged (key
    /// id and version only) at `warn` level.
    pub async fn export_key_material(&self, key: &KeyRef) -> Result<Secret> {
        let key = key.clone();
        self.run(move |s| s.export_material(&key)).await
    }

    /// Runs a keystore operation on the blocking pool (file I/O, locks and RSA key generation
    /// must not stall the async executor).
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Keystore) -> Result<T> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| Error::crypto(format!("keystore task failed: {e}")))?
    }

    /// Runs a keystore operation that changes a key or an alias, then clears the cache
    /// (whatever the outcome: a failed change may have done part of its work, and an alias
    /// change moves every reference through it).
    async fn change<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Keystore) -> Result<T> + Send + 'static,
    {
        let result = self.run(f).await;
        self.cache.clear();
        result
    }
}

#[async_trait]
impl Backend for SoftwareBackend {
    fn name(&self) -> &str {
        "software"
    }

    fn key_cache(&self) -> Option<Arc<KeyCache>> {
        Some(self.cache.clone())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            key_specs: KeySpec::ALL.to_vec(),
            max_raw_message: None,
            automatic_rotation: true,
            on_demand_rotation: true,
            import: true,
            multi_region: true,
            ed25519ph: true,
        }
    }

    async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
        let request = request.clone();
        self.change(move |s| s.create_key(&request)).await
    }

    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        let key = key.clone();
        self.run(move |s| s.describe_key(&key)).await
    }

    async fn key_metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        // Parsed metadata checked by a stat takes microseconds: a trip through the blocking
        // pool would cost more than the read. A due deletion or rotation takes that trip.
        if let Some(result) = self.store.metadata_if_ready(key) {
            return result;
        }
        self.describe_key(key).await
    }

    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        let page = page.clone();
        self.run(move |s| s.list_keys(&page)).await
    }

    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        // EC and Ed25519 signatures with loaded keys take microseconds: a trip through the
        // blocking pool would cost more than the signature.
        if let Some(result) = self.store.sign_if_ready(key, message, algorithm) {
            return result;
        }
        let (key, message) = (key.clone(), OwnedMessage::new(message));
        self.run(move |s| s.sign(&key, message.borrow(), algorithm))
            .await
    }

    async fn sign_source(
        &self,
        key: &KeyRef,
        source: &mut MessageSource<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        // Loading the material may decrypt it (blocking pool); reading the message streams on
        // this task, as `hash_reader` does, since the source is borrowed.
        let key = key.clone();
        let material = self
            .run(move |s| s.signing_material(&key, algorithm))
            .await?;
        material.sign_source(source, algorithm)
    }

    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        if let Some(result) = self
            .store
            .verify_if_ready(key, message, signature, algorithm)
        {
            return result;
        }
        let (key, message, signature) =
            (key.clone(), OwnedMessage::new(message), signature.to_vec());
        self.run(move |s| s.verify(&key, message.borrow(), &signature, algorithm))
            .await
    }

    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        let key = key.clone();
        self.run(move |s| s.public_key(&key)).await
    }

    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let (key, plaintext, context) = (
            key.clone(),
            Secret::new(plaintext.to_vec()),
            context.clone(),
        );
        self.run(move |s| s.encrypt(&key, plaintext.expose(), algorithm, &context))
            .await
    }

    fn ciphertext_key_id(&self, ciphertext: &[u8]) -> Option<String> {
        Keystore::ciphertext_key_id(ciphertext)
    }

    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        let (key, ciphertext, context) = (key.cloned(), ciphertext.to_vec(), context.clone());
        self.run(move |s| s.decrypt(key.as_ref(), &ciphertext, algorithm, &context))
            .await
    }

    async fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
        let key = key.clone();
        self.run(move |s| s.encapsulate(&key)).await
    }

    async fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        let (key, ciphertext) = (key.clone(), ciphertext.to_vec());
        self.run(move |s| s.decapsulate(&key, &ciphertext)).await
    }

    async fn derive_shared_secret(
        &self,
        key: &KeyRef,
        algorithm: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<Secret> {
        let (key, peer) = (key.clone(), peer_public_key.to_vec());
        self.run(move |s| s.derive_shared_secret(&key, algorithm, &peer))
            .await
    }

    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let (key, context) = (key.clone(), context.clone());
        self.run(move |s| s.generate_data_key(&key, spec, &context))
            .await
    }

    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        let (key, message) = (key.clone(), message.to_vec());
        self.run(move |s| s.generate_mac(&key, &message, algorithm))
            .await
    }

    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        let (key, message, mac) = (key.clone(), message.to_vec(), mac.to_vec());
        self.run(move |s| s.verify_mac(&key, &message, &mac, algorithm))
            .await
    }

    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        let (alias, key) = (alias.to_string(), key.clone());
        self.change(move |s| s.create_alias(&alias, &key)).await
    }

    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        let (alias, key) = (alias.to_string(), key.clone());
        self.change(move |s| s.update_alias(&alias, &key)).await
    }

    async fn delete_alias(&self, alias: &str) -> Result<()> {
        let alias = alias.to_string();
        self.change(move |s| s.delete_alias(&alias)).await
    }

    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        let key = key.cloned();
        self.run(move |s| s.list_aliases(key.as_ref())).await
    }

    async fn enable_key(&self, key: &KeyRef) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.enable_key(&key)).await
    }

    async fn disable_key(&self, key: &KeyRef) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.disable_key(&key)).await
    }

    async fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_days: u32,
    ) -> Result<DeletionSchedule> {
        let key = key.clone();
        self.change(move |s| s.schedule_key_deletion(&key, pending_days))
            .await
    }

    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.cancel_key_deletion(&key)).await
    }

    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.enable_key_rotation(&key, period_days))
            .await
    }

    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.disable_key_rotation(&key)).await
    }

    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        let key = key.clone();
        self.run(move |s| s.key_rotation_status(&key)).await
    }

    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.rotate_key(&key)).await
    }

    async fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<KeyMaterial>> {
        let key = key.clone();
        self.run(move |s| s.list_key_materials(&key)).await
    }

    async fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<()> {
        let (key, description) = (key.clone(), description.to_string());
        self.run(move |s| s.update_key_description(&key, &description))
            .await
    }

    async fn import_key_material(
        &self,
        key: &KeyRef,
        material: &Secret,
        expires: Option<SystemTime>,
    ) -> Result<()> {
        let (key, material) = (key.clone(), material.clone());
        self.change(move |s| s.import_material(&key, &material, expires))
            .await
    }

    async fn delete_imported_key_material(&self, key: &KeyRef) -> Result<()> {
        let key = key.clone();
        self.change(move |s| s.delete_material(&key)).await
    }

    async fn read_key_annex(&self, key: &KeyRef, name: &str) -> Result<Option<Vec<u8>>> {
        let (key, name) = (key.clone(), name.to_string());
        self.run(move |s| s.read_annex(&key, &name)).await
    }

    async fn update_key_annex(
        &self,
        key: &KeyRef,
        name: &str,
        update: crate::backend::AnnexUpdate,
    ) -> Result<()> {
        let (key, name) = (key.clone(), name.to_string());
        self.run(move |s| s.update_annex(&key, &name, update)).await
    }

    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        let (key, tags) = (key.clone(), tags.clone());
        self.change(move |s| s.tag_key(&key, &tags)).await
    }

    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        let (key, tag_keys) = (key.clone(), tag_keys.to_vec());
        self.change(move |s| s.untag_key(&key, &tag_keys)).await
    }
}
