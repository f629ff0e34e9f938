//! The [`Backend`] trait every key store implements, and what it reports about itself.

use std::collections::BTreeMap;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::agreement::KeyAgreementAlgorithm;
use crate::algorithm::{DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, SigningAlgorithm};
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

/// How [`Backend::update_key_annex`] changes an annex: from its current content (`None` when
/// it was never written) to the new one.
pub type AnnexUpdate = Box<dyn FnOnce(Option<&[u8]>) -> Result<Vec<u8>> + Send>;

/// What a backend can do, so callers (and the conformance suite) can adapt without trial and
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Key specs the backend can create.
    pub key_specs: Vec<KeySpec>,
    /// The longest message the backend signs as `Message::Raw`; `None` for no limit. Longer
    /// messages must be hashed by the caller (and pure Ed25519 cannot sign them). Not a limit
    /// for ED25519_PH_SHA_512, where a raw message is signed as its SHA-512 digest.
    pub max_raw_message: Option<usize>,
    /// Whether automatic key rotation can be scheduled.
    pub automatic_rotation: bool,
    /// Whether keys can be rotated on demand.
    pub on_demand_rotation: bool,
    /// Whether key material can be imported.
    pub import: bool,
    /// Whether multi-region keys exist.
    pub multi_region: bool,
    /// Whether Ed25519ph (ED25519_PH_SHA_512) signatures can be made.
    pub ed25519ph: bool,
}

/// A key store: the operations of AWS KMS, over any backend.
///
/// Every `Keychain` wraps its backend in a tracing layer (`observe.rs`) that forwards each
/// method: a method added here must be forwarded there too, or calls through a `Keychain`
/// would get the provided default.
///
/// The trait is object safe, so a backend can be chosen at run time (`Arc<dyn Backend>`).
/// Operations a backend cannot do return [`Error::Unsupported`] naming the backend and the
/// operation; the provided methods do exactly that.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The backend's short name (`software`, `awskms`).
    fn name(&self) -> &str;

    /// What the backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Creates a key; with a name, also the alias `alias/NAME`. A name in use is
    /// [`Error::AlreadyExists`].
    async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo>;

    /// Describes a key.
    async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo>;

    /// The metadata a data-path call needs (id, spec, usage, state), asked of the backend now.
    /// Unlike [`Backend::describe_key`] it may leave out what costs other calls and other
    /// permissions — aliases, tags, the rotation count (`versions`) — so signing, verifying,
    /// encrypting and reading a public key need no permission beyond their own operation and
    /// reading the key's metadata (on AWS KMS: `kms:DescribeKey`, not `kms:ListAliases`,
    /// `kms:ListResourceTags` or `kms:ListKeyRotations`, which are also not cross-account).
    /// The default describes the key.
    async fn key_metadata(&self, key: &KeyRef) -> Result<KeyInfo> {
        self.describe_key(key).await
    }

    /// The cache of key metadata and public keys this backend keeps current: it drops what
    /// it holds about a key whenever the backend changes that key's state or an alias, and
    /// [`crate::Keychain`] reads and fills the same cache (see [`KeyCache`]). The default,
    /// `None`, leaves the handle to keep a cache of its own.
    fn key_cache(&self) -> Option<Arc<KeyCache>> {
        None
    }

    /// Whether this backend is the tracing wrapper every [`crate::Keychain`] puts around
    /// its backend (so a backend taken from one handle is not wrapped twice by another).
    /// Backends keep the default.
    #[doc(hidden)]
    fn is_traced(&self) -> bool {
        false
    }

    /// Lists keys, one page at a time.
    async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>>;

    /// Signs a digest or a message.
    async fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>>;

    /// Signs the message `source` yields, in constant memory: pure Ed25519 reads it twice (so
    /// the source must be re-readable), ML-DSA once through its μ, digest algorithms hash it
    /// as it streams. A backend that cannot (AWS KMS signs at most 4096 bytes of message) keeps
    /// this provided method, which reads nothing and returns [`Error::Unsupported`];
    /// [`crate::Keychain::sign_reader`] then does what the backend can.
    async fn sign_source(
        &self,
        key: &KeyRef,
        source: &mut MessageSource<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        let _ = (key, source, algorithm);
        Err(Error::unsupported(
            self.name(),
            "signing a streamed message",
        ))
    }

    /// Verifies a signature in the backend. `Ok(false)` means the signature is wrong.
    async fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool>;

    /// The public key of an asymmetric key.
    async fn public_key(&self, key: &KeyRef) -> Result<PublicKey>;

    /// Encrypts with a symmetric key (with `context` as authenticated data) or an RSA key.
    async fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>>;

    /// Decrypts. For symmetric ciphertexts the key may be omitted (the ciphertext names it);
    /// when given it must match.
    async fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret>;

    /// The id of the key a symmetric ciphertext of this backend names, read from the
    /// ciphertext itself without decrypting it; `None` when the backend's ciphertexts do not
    /// say or `ciphertext` is not one of them. The default knows none.
    fn ciphertext_key_id(&self, ciphertext: &[u8]) -> Option<String> {
        let _ = ciphertext;
        None
    }

    /// Generates a data key encrypted under a symmetric key, for envelope encryption.
    async fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey>;

    /// Computes a MAC with an HMAC key over a message of 1 to 4096 bytes (the AWS KMS limit,
    /// which every backend keeps; an empty or longer message is [`Error::InvalidInput`]).
    async fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        let _ = (key, message, algorithm);
        Err(Error::unsupported(self.name(), "GenerateMac"))
    }

    /// Verifies a MAC over a message of 1 to 4096 bytes, as [`Backend::generate_mac`].
    /// `Ok(false)` means the MAC is wrong.
    async fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        let _ = (key, message, mac, algorithm);
        Err(Error::unsupported(self.name(), "VerifyMac"))
    }

    /// Encapsulates a fresh shared secret to an ML-KEM key's public half (KMS `Encapsulate`).
    /// Anyone holding the public key can do the same locally
    /// ([`PublicKey::encapsulate`]); this asks the backend.
    async fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
        let _ = key;
        Err(Error::unsupported(self.name(), "Encapsulate"))
    }

    /// Recovers the shared secret of `ciphertext` with an ML-KEM key's private half (KMS
    /// `Decapsulate`). A ciphertext of the wrong length is [`Error::InvalidInput`]; one of the
    /// right length always yields 32 bytes, a pseudo-random value when it was made for another
    /// key or altered (implicit rejection), so both sides must confirm they agree.
    async fn decapsulate(&self, key: &KeyRef, ciphertext: &[u8]) -> Result<Secret> {
        let _ = (key, ciphertext);
        Err(Error::unsupported(self.name(), "Decapsulate"))
    }

    /// Derives the shared secret of the KEY_AGREEMENT key `key` and a peer's public key (KMS
    /// `DeriveSharedSecret`): `peer_public_key` is the peer's DER SubjectPublicKeyInfo, on
    /// the key's curve. The secret is the raw x-coordinate of the shared point (32, 48 or 66
    /// bytes), to be fed to a key derivation function. A key of another usage is
    /// [`Error::InvalidKeyUsage`]; a malformed public key, or one of another type or curve,
    /// [`Error::InvalidInput`]; a disabled key [`Error::InvalidKeyState`].
    async fn derive_shared_secret(
        &self,
        key: &KeyRef,
        algorithm: KeyAgreementAlgorithm,
        peer_public_key: &[u8],
    ) -> Result<Secret> {
        let _ = (key, algorithm, peer_public_key);
        Err(Error::unsupported(self.name(), "DeriveSharedSecret"))
    }

    /// Creates the alias `alias/NAME` (given with or without the prefix) for a key. `NAME`
    /// must pass [`crate::validate_key_name`], as a new key's name must.
    async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()>;

    /// Points an existing alias at another key.
    async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()>;

    /// Deletes an alias (the key stays).
    async fn delete_alias(&self, alias: &str) -> Result<()>;

    /// Lists aliases, all or those of one key.
    async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>>;

    /// Enables a disabled key.
    async fn enable_key(&self, key: &KeyRef) -> Result<()>;

    /// Disables a key: it refuses cryptographic operations until enabled.
    async fn disable_key(&self, key: &KeyRef) -> Result<()>;

    /// Schedules deletion after `pending_days` (7–30); returns the key's new state and its
    /// deletion date, when the backend reports one (an AWS KMS multi-Region primary with
    /// replicas has none yet: it waits in `PENDING_REPLICA_DELETION`).
    async fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        pending_days: u32,
    ) -> Result<DeletionSchedule>;

    /// Cancels a scheduled deletion; the key comes back disabled, as in KMS.
    async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()>;

    /// Turns on automatic rotation (symmetric keys), every `period_days` (90–2560, default
    /// 365).
    async fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        let _ = (key, period_days);
        Err(Error::unsupported(self.name(), "EnableKeyRotation"))
    }

    /// Turns off automatic rotation.
    async fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        let _ = key;
        Err(Error::unsupported(self.name(), "DisableKeyRotation"))
    }

    /// Whether automatic rotation is on.
    async fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        let _ = key;
        Err(Error::unsupported(self.name(), "GetKeyRotationStatus"))
    }

    /// Rotates the key material now (symmetric keys); old ciphertexts still decrypt.
    async fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        let _ = key;
        Err(Error::unsupported(self.name(), "RotateKeyOnDemand"))
    }

    /// The key's materials, oldest first: the first one and one per rotation, each with its
    /// identifier, whether it is current, and when and how the rotation that made it happened
    /// (KMS ListKeyRotations with `IncludeKeyMaterial=ALL_KEY_MATERIAL`). Only keys that
    /// rotate (symmetric encryption keys) have a list; others are [`Error::Unsupported`].
    async fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<KeyMaterial>> {
        let _ = key;
        Err(Error::unsupported(self.name(), "ListKeyRotations"))
    }

    /// Replaces the key's description (at most 8192 characters, as in KMS).
    async fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<()> {
        let _ = (key, description);
        Err(Error::unsupported(self.name(), "UpdateKeyDescription"))
    }

    /// Adds or replaces tags.
    async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()>;

    /// Removes tags by key.
    async fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()>;

    /// Imports plaintext key material into a key created with origin `EXTERNAL` (symmetric and
    /// HMAC keys: the raw key bytes; asymmetric keys: PKCS#8 DER), which leaves
    /// `PendingImport` for `Enabled`. Material that does not fit the key's spec is
    /// [`Error::ImportRefused`]; a key that already had material takes only the same material
    /// again. `expires` sets when the material is deleted (`None`: it does not expire).
    async fn import_key_material(
        &self,
        key: &KeyRef,
        material: &Secret,
        expires: Option<SystemTime>,
    ) -> Result<()> {
        let _ = (key, material, expires);
        Err(Error::unsupported(self.name(), "ImportKeyMaterial"))
    }

    /// Deletes the imported material of an `EXTERNAL` key: it goes back to `PendingImport`
    /// and can only be used again once the same material is imported.
    async fn delete_imported_key_material(&self, key: &KeyRef) -> Result<()> {
        let _ = key;
        Err(Error::unsupported(self.name(), "DeleteImportedKeyMaterial"))
    }

    /// Reads the key annex `name` of a key: a small document the backend keeps beside the key
    /// for a program that serves it (`keychain serve` keeps a KMS key's policy and grants in
    /// one), deleted with the key. `None` when it was never written. Names are 1 to 32
    /// characters of `a-z`, `0-9` and `-`, starting with a letter.
    async fn read_key_annex(&self, key: &KeyRef, name: &str) -> Result<Option<Vec<u8>>> {
        let _ = (key, name);
        Err(Error::unsupported(self.name(), "key annexes"))
    }

    /// Replaces the key annex `name` with what `update` makes of its current content (`None`
    /// when it was never written), durably and atomically, with no other update of the key in
    /// between. An error from `update` leaves the annex as it was and is returned.
    async fn update_key_annex(&self, key: &KeyRef, name: &str, update: AnnexUpdate) -> Result<()> {
        let _ = (key, name, update);
        Err(Error::unsupported(self.name(), "key annexes"))
    }

    /// Releases the backend's resources. Further calls may fail.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
