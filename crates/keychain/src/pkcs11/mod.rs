//! The PKCS#11 backend (feature `pkcs11`): keys in an HSM, a smart card or SoftHSM, reached
//! through the module (`.so`) the vendor ships, with the maintained `cryptoki` crate.
//!
//! Open it with a backend URI (RFC 7512 shape, see [`Pkcs11Uri`]):
//! `pkcs11:token=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin`
//! (or `pin-value=…`, or the PIN in `KEYCHAIN_PKCS11_PIN`). Keys are named by `CKA_LABEL`
//! (`NAME`, `alias/NAME` or `pkcs11:object=NAME`) or by `CKA_ID` (a UUID for keys keychain
//! made, `pkcs11:id=%01%02` for any); a name of hex digits that no key has as label is taken as
//! a `CKA_ID`, and one that is one key's label and another's id is refused as ambiguous.
//!
//! The token is the only record; nothing is kept beside it. What PKCS#11 has no place for is
//! refused with [`Error::Unsupported`] rather than faked: descriptions and tags, extra
//! aliases, disabling a key, rotation, Ed25519ph and post-quantum keys. PKCS#11 has no
//! scheduled deletion either: [`Backend::schedule_key_deletion`] is refused, and
//! [`Pkcs11Backend::destroy_key`] (CLI `keychain key delete --now`) destroys a key at once.
//!
//! The pieces: `uri` (the URI), `session` (module, login, session pool), `keys` (objects ⇄
//! keys), `crypto` (the mechanisms and the ciphertext format), `errors` (`CKR_*` ⇄
//! [`Error`]), `paging` (pages of a listing whose keys may share or lack an id).

pub(crate) mod uri;

#[cfg(feature = "pkcs11")]
mod crypto;
#[cfg(feature = "pkcs11")]
mod errors;
#[cfg(feature = "pkcs11")]
mod handles;
#[cfg(feature = "pkcs11")]
mod import;
#[cfg(feature = "pkcs11")]
mod keys;
#[cfg(feature = "pkcs11")]
mod paging;
#[cfg(feature = "pkcs11")]
mod session;

#[cfg(feature = "pkcs11")]
pub use self::uri::{PIN_ENV, PinSource, Pkcs11Uri};

#[cfg(feature = "pkcs11")]
pub use self::imp::Pkcs11Backend;

/// The backend itself; a module only so that one `cfg` covers it.
#[cfg(feature = "pkcs11")]
mod imp {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;

    use super::crypto;
    use super::errors::BACKEND;
    use super::keys::{self, Found};
    use super::session::{CallResult, Token};
    use super::uri::Pkcs11Uri;
    use crate::algorithm::{
        DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, OwnedMessage, SigningAlgorithm,
    };
    use crate::backend::{Backend, Capabilities};
    use crate::data_key::{DataKey, EncryptionContext};
    use crate::kem::Encapsulation;
    use crate::key::{
        AliasInfo, CreateKeyRequest, DeletionSchedule, KeyInfo, KeyOrigin, KeySpec, Page,
        PageRequest,
    };
    use crate::key_cache::KeyCache;
    use crate::key_ref::KeyRef;
    use crate::public_key::PublicKey;
    use crate::secret::Secret;
    use crate::{Error, Result};

    /// The key specs a PKCS#11 token can hold for keychain (secp256k1 where the module
    /// knows the curve: creating it on one that does not is [`Error::Unsupported`]).
    const KEY_SPECS: &[KeySpec] = &[
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
        KeySpec::SymmetricDefault,
        KeySpec::Hmac224,
        KeySpec::Hmac256,
        KeySpec::Hmac384,
        KeySpec::Hmac512,
    ];

    /// The PKCS#11 backend: one token, a pool of sessions, the login shared by the process.
    /// Cheap to clone; clones share the sessions.
    #[derive(Debug, Clone)]
    pub struct Pkcs11Backend {
        token: Arc<Token>,
        cache: Arc<KeyCache>,
        /// Whether the token decrypts each RSA-OAEP algorithm (see `check_oaep_decryptable`).
        oaep: Arc<Mutex<HashMap<EncryptionAlgorithm, bool>>>,
    }

    impl Pkcs11Backend {
        /// How long a key found on the token is used by its handle without looking it up
        /// again: the longest a change another process makes to a key without destroying it
        /// (a second key under its name, a usage flag) goes unseen. A destroyed key is seen
        /// at the next call, and anything done through a backend of this process at once.
        pub const LOOKUP_MAX_AGE: std::time::Duration = super::handles::MAX_AGE;

        /// Opens the token a parsed `pkcs11:` URI names and logs in: a missing module path,
        /// a library that is not a PKCS#11 module, a token that is not there and a wrong PIN
        /// are each one clear error here, before any key is touched.
        pub async fn open(uri: Pkcs11Uri) -> Result<Self> {
            let token = tokio::task::spawn_blocking(move || Token::open(&uri))
                .await
                .map_err(|e| Error::crypto(format!("PKCS#11 task failed: {e}")))??;
            Ok(Pkcs11Backend {
                token: Arc::new(token),
                cache: Arc::new(KeyCache::new()),
                oaep: Arc::new(Mutex::new(HashMap::new())),
            })
        }

        /// Opens the token a `pkcs11:` backend URI string names.
        pub async fn open_uri(uri: &str) -> Result<Self> {
            match crate::backend_uri::BackendUri::parse(uri)? {
                crate::backend_uri::BackendUri::Pkcs11(parsed) => Self::open(parsed).await,
                _ => Err(Error::invalid_input(
                    "not a pkcs11: backend URI (this needs a PKCS#11 token)",
                )),
            }
        }

        /// The token's label.
        pub fn token_label(&self) -> &str {
            self.token.label()
        }

        /// Destroys a key now: its private or secret object and its public object. PKCS#11
        /// has no scheduled deletion and no undo; this is the only way a key leaves the
        /// token through keychain.
        pub async fn destroy_key(&self, key: &KeyRef) -> Result<()> {
            // Looked up afresh, never from a remembered handle: what is destroyed is the key
            // the name leads to now.
            let key = key.clone();
            let shown = key.to_string();
            let result = self
                .blocking("C_DestroyObject", Some(shown), move |s| {
                    keys::destroy(s, &keys::find(s, &key)?)
                })
                .await;
            self.forget_all();
            result
        }

        /// Creates a key from key material (a migration from the software keystore, see
        /// `keychain::migrate`): PKCS#8 DER for RSA, EC and Ed25519 keys, the raw bytes for
        /// AES and HMAC keys, as `SoftwareBackend::export_key_material` gives them. The key is
        /// created with `C_CreateObject`, sensitive and never extractable from then on;
        /// `request` names it and gives its spec and usage.
        pub async fn import_key(
            &self,
            request: &CreateKeyRequest,
            material: &Secret,
        ) -> Result<KeyInfo> {
            request.validate()?;
            let request = request.clone();
            let material = material.clone();
            let shown = request.name.clone();
            let result = self
                .creating("C_CreateObject", shown, move |s| {
                    super::import::import(s, &request, &material).map(|f| f.info)
                })
                .await;
            self.forget_all();
            result
        }

        /// Runs a blocking token call on the blocking pool.
        async fn blocking<T: Send + 'static>(
            &self,
            operation: &'static str,
            key: Option<String>,
            f: impl Fn(&cryptoki::session::Session) -> CallResult<T> + Send + 'static,
        ) -> Result<T> {
            let token = self.token.clone();
            off_executor(move || token.run(operation, key.as_deref(), f)).await
        }

        /// Runs a blocking call that creates a key under a name: one at a time per process
        /// and module, so that two tasks cannot both find the name free (see
        /// `keys::check_name_free` for what holds across processes).
        async fn creating<T: Send + 'static>(
            &self,
            operation: &'static str,
            key: Option<String>,
            f: impl Fn(&cryptoki::session::Session) -> CallResult<T> + Send + 'static,
        ) -> Result<T> {
            let token = self.token.clone();
            off_executor(move || token.run_creating(operation, key.as_deref(), f)).await
        }

        /// Runs `f` on the key `key` leads to: the remembered lookup when there is a young
        /// one, else the key found on the token now (see `handles` for when a remembered
        /// handle is dropped or looked up again).
        async fn call<T: Send + 'static>(
            &self,
            operation: &'static str,
            key: &KeyRef,
            f: impl Fn(&cryptoki::session::Session, &Found) -> CallResult<T> + Send + 'static,
        ) -> Result<T> {
            let key = key.clone();
            let shown = key.to_string();
            let handles = self.token.handles().clone();
            self.blocking(operation, Some(shown), move |s| {
                handles.with_key(s, &key, |found| f(s, found))
            })
            .await
        }

        /// Forgets what is known about keys after a write (create, import, destroy): the
        /// metadata cache of this backend and the remembered lookups of every backend of
        /// the process on this token. Done whether the write succeeded or not (a failed
        /// one may have changed the token half-way).
        fn forget_all(&self) {
            self.cache.clear();
            self.token.handles().clear();
        }

        /// Refuses RSA-OAEP encryption with `algorithm` when the token cannot decrypt it:
        /// encryption runs locally with the public key, so without this a token that
        /// decrypts OAEP with SHA-1 only (SoftHSM 2.6) would hand out ciphertexts nothing can
        /// decrypt. The first encryption with an algorithm decrypts a probe on the token
        /// with this key; the answer is kept for the backend's life (it is the token's
        /// mechanism support, the same for every key).
        async fn check_oaep_decryptable(
            &self,
            key: &KeyRef,
            public: &PublicKey,
            algorithm: EncryptionAlgorithm,
        ) -> Result<()> {
            let known = super::session::lock(&self.oaep).get(&algorithm).copied();
            let decryptable = match known {
                Some(known) => known,
                None => {
                    let probe = b"keychain OAEP probe";
                    let ciphertext = public.encrypt(probe, algorithm)?;
                    let outcome = self
                        .decrypt(Some(key), &ciphertext, algorithm, &EncryptionContext::new())
                        .await;
                    let decryptable = match outcome {
                        Ok(back) if back.expose() == probe => true,
                        Ok(_) => {
                            return Err(Error::crypto(format!(
                                "the token decrypted an {algorithm} probe to the wrong bytes"
                            )));
                        }
                        Err(Error::Unsupported { .. }) => false,
                        Err(e) => return Err(e),
                    };
                    super::session::lock(&self.oaep).insert(algorithm, decryptable);
                    decryptable
                }
            };
            if decryptable {
                return Ok(());
            }
            Err(self.unsupported(&format!(
                "{algorithm} encryption (this token cannot decrypt it, so the ciphertext would \
                 be unusable; RSAES_OAEP_SHA_1 works)"
            )))
        }

        fn unsupported(&self, what: &str) -> Error {
            Error::unsupported(BACKEND, what)
        }
    }

    /// Runs a blocking token call without holding up the async executor's other tasks. On a
    /// multi-thread runtime the call runs right here in `block_in_place`, which hands this
    /// worker's other tasks to another thread: that costs no thread switch on the call's own
    /// path (a `spawn_blocking` hop, two switches, cost about 20 µs a call in the benchmark,
    /// close to half a SoftHSM P-256 signature). A
    /// current-thread runtime cannot give its tasks away, so there the call goes to the
    /// blocking pool.
    async fn off_executor<T: Send + 'static>(
        call: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let multi_thread =
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        if multi_thread {
            return tokio::task::block_in_place(call);
        }
        tokio::task::spawn_blocking(call)
            .await
            .map_err(|e| Error::crypto(format!("PKCS#11 task failed: {e}")))?
    }

    #[async_trait]
    impl Backend for Pkcs11Backend {
        fn name(&self) -> &str {
            BACKEND
        }

        fn key_cache(&self) -> Option<Arc<KeyCache>> {
            Some(self.cache.clone())
        }

        fn capabilities(&self) -> Capabilities {
            Capabilities {
                key_specs: KEY_SPECS.to_vec(),
                max_raw_message: None,
                automatic_rotation: false,
                on_demand_rotation: false,
                import: false,
                multi_region: false,
                ed25519ph: false,
            }
        }

        async fn create_key(&self, request: &CreateKeyRequest) -> Result<KeyInfo> {
            request.validate()?;
            if !KEY_SPECS.contains(&request.spec) {
                return Err(self.unsupported(&format!("{} keys", request.spec)));
            }
            if request.multi_region {
                return Err(self.unsupported("multi-region keys"));
            }
            if request.origin != KeyOrigin::Generated {
                return Err(self.unsupported("keys awaiting imported material"));
            }
            if !request.description.is_empty() || !request.tags.is_empty() {
                return Err(self.unsupported(
                    "descriptions and tags (a PKCS#11 object has no place for them)",
                ));
            }
            let request = request.clone();
            let shown = request.name.clone();
            let result = self
                .creating("C_GenerateKey", shown, move |s| {
                    keys::create(s, &request).map(|f| f.info)
                })
                .await;
            self.forget_all();
            result
        }

        async fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
            self.call("C_GetAttributeValue", key, |_, found| {
                Ok(found.info.clone())
            })
            .await
        }

        async fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
            let limit = page.limit.unwrap_or(100);
            if !(1..=1000).contains(&limit) {
                return Err(Error::invalid_input(format!(
                    "page limit must be 1 to 1000, not {limit}"
                )));
            }
            let all = self.blocking("C_FindObjects", None, keys::list).await?;
            super::paging::page(all, page.marker.as_deref(), limit as usize)
        }

        async fn sign(
            &self,
            key: &KeyRef,
            message: Message<'_>,
            algorithm: SigningAlgorithm,
        ) -> Result<Vec<u8>> {
            message.check(algorithm)?;
            let message = OwnedMessage::new(message);
            self.call("C_Sign", key, move |s, found| {
                found.check_protected()?;
                found.info.check_signing(algorithm)?;
                crypto::sign(s, found, message.borrow(), algorithm)
            })
            .await
        }

        async fn verify(
            &self,
            key: &KeyRef,
            message: Message<'_>,
            signature: &[u8],
            algorithm: SigningAlgorithm,
        ) -> Result<bool> {
            let info = self.describe_key(key).await?;
            info.check_signing(algorithm)?;
            self.public_key(key)
                .await?
                .verify(message, signature, algorithm)
        }

        async fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
            self.call("C_GetAttributeValue", key, |s, found| {
                keys::public_key(s, found)
            })
            .await
        }

        async fn encrypt(
            &self,
            key: &KeyRef,
            plaintext: &[u8],
            algorithm: EncryptionAlgorithm,
            context: &EncryptionContext,
        ) -> Result<Vec<u8>> {
            if algorithm != EncryptionAlgorithm::SymmetricDefault {
                if !context.is_empty() {
                    return Err(Error::invalid_input(
                        "an encryption context applies to symmetric keys only",
                    ));
                }
                let info = self.describe_key(key).await?;
                info.check_encryption(algorithm)?;
                let public = self.public_key(key).await?;
                self.check_oaep_decryptable(key, &public, algorithm).await?;
                return public.encrypt(plaintext, algorithm);
            }
            let plaintext = Secret::new(plaintext.to_vec());
            let context = context.clone();
            self.call("C_Encrypt", key, move |s, found| {
                found.check_protected()?;
                found.info.check_encryption(algorithm)?;
                crypto::check_sealable(found)?;
                crypto::seal(s, found, plaintext.expose(), &context)
            })
            .await
        }

        async fn decrypt(
            &self,
            key: Option<&KeyRef>,
            ciphertext: &[u8],
            algorithm: EncryptionAlgorithm,
            context: &EncryptionContext,
        ) -> Result<Secret> {
            let ciphertext = ciphertext.to_vec();
            if algorithm != EncryptionAlgorithm::SymmetricDefault {
                let key = key.ok_or_else(|| {
                    Error::invalid_input("decrypting an RSA ciphertext needs the key")
                })?;
                if !context.is_empty() {
                    return Err(Error::invalid_input(
                        "an encryption context applies to symmetric keys only",
                    ));
                }
                return self
                    .call("C_Decrypt", key, move |s, found| {
                        found.check_protected()?;
                        found.info.check_encryption(algorithm)?;
                        crypto::rsa_decrypt(s, found, &ciphertext, algorithm).map(Secret::new)
                    })
                    .await;
            }
            let sealed = crypto::parse_sealed(&ciphertext).ok_or_else(|| {
                Error::crypto("not a pkcs11 backend ciphertext (or it is cut short)")
            })?;
            let named = KeyRef::key_id(&keys::id_string(sealed.id))?;
            let wanted = key.cloned();
            let context = context.clone();
            let handles = self.token.handles().clone();
            self.call("C_Decrypt", &named, move |s, found| {
                if let Some(wanted) = &wanted {
                    let (given, _) = handles.resolve(s, wanted)?;
                    if given.id != found.id {
                        return Err(Error::invalid_input(format!(
                            "the ciphertext was made with key {}, not {wanted}",
                            found.info.key_id
                        ))
                        .into());
                    }
                }
                found.check_protected()?;
                found.info.check_encryption(algorithm)?;
                let sealed = crypto::parse_sealed(&ciphertext).ok_or_else(|| {
                    Error::crypto("not a pkcs11 backend ciphertext (or it is cut short)")
                })?;
                crypto::open(s, found, &sealed, &context).map(Secret::new)
            })
            .await
        }

        fn ciphertext_key_id(&self, ciphertext: &[u8]) -> Option<String> {
            crypto::parse_sealed(ciphertext).map(|s| keys::id_string(s.id))
        }

        async fn generate_data_key(
            &self,
            key: &KeyRef,
            spec: DataKeySpec,
            context: &EncryptionContext,
        ) -> Result<DataKey> {
            let context = context.clone();
            self.call("C_Encrypt", key, move |s, found| {
                found.check_protected()?;
                found
                    .info
                    .check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
                crypto::check_sealable(found)?;
                let plaintext = Secret::new(s.generate_random_vec(spec.len() as u32)?);
                let ciphertext = crypto::seal(s, found, plaintext.expose(), &context)?;
                Ok(DataKey {
                    key_id: found.info.key_id.clone(),
                    plaintext,
                    ciphertext,
                })
            })
            .await
        }

        async fn generate_mac(
            &self,
            key: &KeyRef,
            message: &[u8],
            algorithm: MacAlgorithm,
        ) -> Result<Vec<u8>> {
            let message = message.to_vec();
            self.call("C_Sign", key, move |s, found| {
                found.check_protected()?;
                found.info.check_mac(algorithm)?;
                crypto::mac(s, found, &message, algorithm)
            })
            .await
        }

        async fn verify_mac(
            &self,
            key: &KeyRef,
            message: &[u8],
            mac: &[u8],
            algorithm: MacAlgorithm,
        ) -> Result<bool> {
            let expected = self.generate_mac(key, message, algorithm).await?;
            Ok(aws_lc_rs::constant_time::verify_slices_are_equal(&expected, mac).is_ok())
        }

        async fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
            // Refused as any backend would first (a bad name, a name in use, no such key),
            // then as a gap: a PKCS#11 object has one label.
            let name = alias.strip_prefix("alias/").unwrap_or(alias);
            crate::key_ref::validate_key_name(name)?;
            let named = KeyRef::alias(name)?;
            match self.describe_key(&named).await {
                Ok(_) => {
                    return Err(Error::AlreadyExists {
                        what: format!("alias/{name}"),
                    });
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            self.describe_key(key).await?;
            Err(self.unsupported("aliases beyond the key's name (CKA_LABEL)"))
        }

        async fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
            self.describe_key(&KeyRef::alias(alias)?).await?;
            self.describe_key(key).await?;
            Err(self.unsupported("aliases beyond the key's name (CKA_LABEL)"))
        }

        async fn delete_alias(&self, alias: &str) -> Result<()> {
            self.describe_key(&KeyRef::alias(alias)?).await?;
            Err(self.unsupported("aliases beyond the key's name (CKA_LABEL)"))
        }

        async fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
            let keys = match key {
                Some(k) => vec![self.describe_key(k).await?],
                None => self.blocking("C_FindObjects", None, keys::list).await?,
            };
            Ok(keys
                .into_iter()
                .filter_map(|k| {
                    k.name.map(|n| AliasInfo {
                        alias: format!("alias/{n}"),
                        key_id: Some(k.key_id),
                    })
                })
                .collect())
        }

        async fn enable_key(&self, key: &KeyRef) -> Result<()> {
            self.describe_key(key).await?;
            Err(self.unsupported("EnableKey (PKCS#11 keys have no disabled state)"))
        }

        async fn disable_key(&self, key: &KeyRef) -> Result<()> {
            self.describe_key(key).await?;
            Err(self.unsupported("DisableKey (PKCS#11 keys have no disabled state)"))
        }

        async fn schedule_key_deletion(
            &self,
            key: &KeyRef,
            pending_days: u32,
        ) -> Result<DeletionSchedule> {
            crate::key::check_pending_window(pending_days)?;
            self.describe_key(key).await?;
            Err(self.unsupported(
                "ScheduleKeyDeletion (PKCS#11 has no deletion window; destroy the key at \
                 once with `keychain key delete --now`)",
            ))
        }

        async fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
            self.describe_key(key).await?;
            Err(self.unsupported("CancelKeyDeletion (PKCS#11 has no deletion window)"))
        }

        async fn encapsulate(&self, key: &KeyRef) -> Result<Encapsulation> {
            self.describe_key(key).await?.check_kem()?;
            Err(self.unsupported("Encapsulate"))
        }

        async fn decapsulate(&self, key: &KeyRef, _ciphertext: &[u8]) -> Result<Secret> {
            self.describe_key(key).await?.check_kem()?;
            Err(self.unsupported("Decapsulate"))
        }

        async fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
            for (k, v) in tags {
                crate::key::validate_tag(k, v)?;
            }
            self.describe_key(key).await?;
            Err(self.unsupported("tags (a PKCS#11 object has no place for them)"))
        }

        async fn untag_key(&self, key: &KeyRef, _tag_keys: &[String]) -> Result<()> {
            self.describe_key(key).await?;
            Err(self.unsupported("tags (a PKCS#11 object has no place for them)"))
        }

        async fn close(&self) -> Result<()> {
            self.token.close();
            Ok(())
        }
    }
}
