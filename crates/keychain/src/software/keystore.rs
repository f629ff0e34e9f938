//! The keystore directory: layout and every operation, synchronously.
//! [`super::SoftwareBackend`] runs these on tokio's blocking pool; [`super::fs`] holds the
//! file-system rules (when a keystore may be created, what is checked before it is trusted,
//! locking and atomic writes).
//!
//! ```text
//! ROOT/                      0700
//!   keystore.json            KDF parameters and a password verifier
//!   .lock                    flock(2) taken by every writer
//!   keys/ID/meta.json        KeyInfo, rotation state, a MAC of each material file
//!   keys/ID/vN.pem           key material version N, password-encrypted PKCS#8
//!   aliases/NAME             the key id an alias points at ('/' in NAME stored as %2F)
//!   tmp/                     staging area; a new key is built here and renamed into keys/
//!                            (emptied by each writer: what is there was left by a dead one)
//! ```
//!
//! Readers take no lock: every file is replaced by rename, so a reader sees the old or the new
//! version, never a mix. Writers hold the keystore lock for the read-modify-write.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::OpenMode;
use super::fs::{
    FileStamp, HEADER, Kind, LockGuard, SUBDIRS, Staging, check_dir_at, io_err, is_read_only,
    open_checked, prepare_new, read_checked, read_header, sync_dir, temp_name, write_atomic,
    write_new_file,
};
use super::material::{Material, generate};
use super::pbes2::{Kek, LABEL_PRIVATE, LABEL_SECRET};
use crate::algorithm::{
    DataKeySpec, EncryptionAlgorithm, MacAlgorithm, Message, SignatureScheme, SigningAlgorithm,
};
use crate::data_key::{DataKey, EncryptionContext, encode_context};
use crate::key::{
    AliasInfo, CreateKeyRequest, DeletionSchedule, KeyInfo, KeyOrigin, KeySpec, KeyState, Page,
    PageRequest, RotationStatus, check_pending_window, check_rotation_period, validate_tag,
};
use crate::key_ref::{KeyRef, KeyTarget, validate_alias_name, validate_key_name};
use crate::public_key::PublicKey;
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::{Error, Result};

const FORMAT: u32 = 1;
const CIPHERTEXT_MAGIC: &[u8; 4] = b"KCS\x01";
const DAY: Duration = Duration::from_secs(86_400);
const DEFAULT_ROTATION_DAYS: u32 = 365;
/// The longest message a MAC is computed over (the AWS KMS limit).
const MAX_MAC_MESSAGE: usize = 4096;

/// The source of the current time (replaceable in tests of scheduled deletion and rotation).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

#[derive(serde::Serialize, serde::Deserialize)]
struct KeystoreFile {
    format: u32,
    kdf: String,
    iterations: u32,
    salt: String,
    verifier: String,
}

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct StoredKey {
    format: u32,
    info: KeyInfo,
    rotation: RotationStatus,
    /// Per material version, the [`Kek::file_mac`] of its `vN.pem` (base64), checked on load:
    /// a version without one is refused, so deleting the entry does not skip the check.
    file_macs: BTreeMap<u32, String>,
}

/// An open keystore.
pub(crate) struct Keystore {
    root: PathBuf,
    password: Secret,
    kek: Kek,
    clock: Clock,
    materials: Mutex<HashMap<(String, u32), Arc<Material>>>,
    /// Parsed `meta.json` per key id, with the stamp of the file it was read from: a file
    /// replaced by rename (every write here) or rewritten gets a new stamp and is read again.
    metadata: Mutex<HashMap<String, (FileStamp, StoredKey)>>,
    /// The key id per alias name, with the stamp of the alias file it was read from.
    aliases: Mutex<HashMap<String, (FileStamp, String)>>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// MAC messages are 1 to [`MAX_MAC_MESSAGE`] bytes, as in AWS KMS: the software backend
/// mirrors KMS, so what works here works there.
fn check_mac_message(message: &[u8]) -> Result<()> {
    if message.is_empty() || message.len() > MAX_MAC_MESSAGE {
        return Err(Error::invalid_input(format!(
            "MACs are computed over 1 to {MAX_MAC_MESSAGE} bytes (as in AWS KMS), not {}",
            message.len()
        )));
    }
    Ok(())
}

fn alias_file_name(name: &str) -> String {
    name.replace('/', "%2F")
}

fn alias_from_file_name(file: &str) -> String {
    file.replace("%2F", "/")
}

fn strip_alias(alias: &str) -> Result<&str> {
    let name = alias.strip_prefix("alias/").unwrap_or(alias);
    validate_alias_name(name)?;
    Ok(name)
}

impl Keystore {
    /// Opens the keystore at `root`, creating it if `mode` allows (see [`super::fs`] for the
    /// rules: what may be created where, and what is checked before anything is trusted).
    pub(crate) fn open(
        root: PathBuf,
        password: Secret,
        new_iterations: u32,
        clock: Clock,
        mode: OpenMode,
    ) -> Result<Self> {
        if password.is_empty() {
            return Err(Error::invalid_input(
                "the keystore needs a password: set KEYCHAIN_PASSWORD or SoftwareConfig::password",
            ));
        }
        let meta_path = root.join(HEADER);
        let exists = || Error::AlreadyExists {
            what: format!("a keystore at {}", root.display()),
        };
        let file = match read_header(&root)? {
            Some(_) if mode == OpenMode::Create => return Err(exists()),
            Some(bytes) => Self::parse_header(&meta_path, &bytes)?,
            None => {
                let _lock = prepare_new(&root, mode)?;
                match read_checked(&meta_path, Kind::Secret)? {
                    // Another process created it meanwhile.
                    Some(_) if mode == OpenMode::Create => return Err(exists()),
                    Some(bytes) => Self::parse_header(&meta_path, &bytes)?,
                    None => Self::initialise(&root, &password, new_iterations)?,
                }
            }
        };
        if file.format != FORMAT || file.kdf != "pbkdf2-hmac-sha256" {
            return Err(Error::Corrupted {
                what: meta_path.display().to_string(),
                message: format!("unknown keystore format {} / kdf {}", file.format, file.kdf),
            });
        }
        let decode = |s: &str| {
            B64.decode(s).map_err(|e| Error::Corrupted {
                what: meta_path.display().to_string(),
                message: e.to_string(),
            })
        };
        let kek = Kek::derive(&password, &decode(&file.salt)?, file.iterations)?;
        if !kek.matches(&decode(&file.verifier)?) {
            return Err(Error::WrongPassword {
                keystore: root.display().to_string(),
            });
        }
        for sub in SUBDIRS {
            let dir = root.join(sub);
            if dir.exists() {
                check_dir_at(&dir)?;
            }
        }
        Ok(Keystore {
            root,
            password,
            kek,
            clock,
            materials: Mutex::new(HashMap::new()),
            metadata: Mutex::new(HashMap::new()),
            aliases: Mutex::new(HashMap::new()),
        })
    }

    fn parse_header(path: &Path, bytes: &[u8]) -> Result<KeystoreFile> {
        serde_json::from_slice(bytes).map_err(|e| Error::Corrupted {
            what: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Writes `keystore.json` for a new keystore (under the lock; the hard link never replaces
    /// a header that exists).
    fn initialise(root: &Path, password: &Secret, iterations: u32) -> Result<KeystoreFile> {
        let salt = random_bytes(16)?;
        let kek = Kek::derive(password, &salt, iterations)?;
        let file = KeystoreFile {
            format: FORMAT,
            kdf: "pbkdf2-hmac-sha256".into(),
            iterations,
            salt: B64.encode(&salt),
            verifier: B64.encode(kek.verifier()),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(Error::crypto)?;
        let tmp = temp_name(root)?;
        write_new_file(&tmp, &bytes)?;
        let target = root.join(HEADER);
        let linked = fs::hard_link(&tmp, &target);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(root)?;
                Ok(file)
            }
            Err(e) => Err(Error::io(format!("creating {}", target.display()), e)),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn now(&self) -> SystemTime {
        (self.clock)()
    }

    fn lock(&self) -> Result<LockGuard> {
        super::fs::lock(&self.root)
    }

    fn key_dir(&self, id: &str) -> PathBuf {
        self.root.join("keys").join(id)
    }

    fn alias_path(&self, name: &str) -> PathBuf {
        self.root.join("aliases").join(alias_file_name(name))
    }

    /// The key id an alias points at, if the alias exists.
    fn read_alias(&self, name: &str) -> Result<Option<String>> {
        let path = self.alias_path(name);
        let io = |e| Error::io(format!("reading alias/{name}"), e);
        // A stat is enough when the alias file is the one read last time (aliases are
        // replaced by rename, so a changed alias is a new inode).
        let stamp = match fs::metadata(&path) {
            Ok(m) => FileStamp::of(&m),
            Err(e) if e.kind() == IoKind::NotFound => {
                if let Ok(mut cache) = self.aliases.lock() {
                    cache.remove(name);
                }
                return Ok(None);
            }
            Err(e) => return Err(io(e)),
        };
        if let Some((_, id)) = self
            .aliases
            .lock()
            .ok()
            .and_then(|c| c.get(name).cloned())
            .filter(|(cached, _)| *cached == stamp)
        {
            return Ok(Some(id));
        }
        let Some((mut file, meta)) = open_checked(&path, Kind::Public)? else {
            return Ok(None);
        };
        let stamp = FileStamp::of(&meta);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(io)?;
        let id = text.trim().to_string();
        if let Ok(mut cache) = self.aliases.lock() {
            cache.insert(name.to_string(), (stamp, id.clone()));
        }
        Ok(Some(id))
    }

    fn key_exists(&self, id: &str) -> bool {
        self.key_dir(id).join("meta.json").is_file()
    }

    /// Resolves a reference to a key id.
    fn resolve(&self, key: &KeyRef) -> Result<String> {
        let not_found = || Error::NotFound {
            key: key.to_string(),
        };
        let id = match key.target() {
            KeyTarget::Alias(name) => self.read_alias(name)?.ok_or_else(not_found)?,
            KeyTarget::AliasArn(arn) => self.read_alias(&arn.resource)?.ok_or_else(not_found)?,
            KeyTarget::KeyId(id) => id.clone(),
            KeyTarget::KeyArn(arn) => arn.resource.clone(),
        };
        // Ids are UUIDs we made; anything else cannot name a key directory.
        if uuid::Uuid::parse_str(&id).is_err() || !self.key_exists(&id) {
            return Err(not_found());
        }
        Ok(id)
    }

    fn read_stored(&self, id: &str) -> Result<StoredKey> {
        use std::io::Read;
        let path = self.key_dir(id).join("meta.json");
        let not_found = || {
            if let Ok(mut cache) = self.metadata.lock() {
                cache.remove(id);
            }
            Error::NotFound {
                key: id.to_string(),
            }
        };
        // Every write here replaces the file by rename (a new inode); the size and times
        // catch in-place edits made by anything else. A stat decides whether the parsed copy
        // is still the file's.
        match fs::metadata(&path) {
            Ok(m) => {
                let stamp = FileStamp::of(&m);
                if let Some((_, cached)) = self
                    .metadata
                    .lock()
                    .ok()
                    .and_then(|c| c.get(id).cloned())
                    .filter(|(cached_stamp, _)| *cached_stamp == stamp)
                {
                    return Ok(cached);
                }
            }
            Err(e) if e.kind() == IoKind::NotFound => return Err(not_found()),
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        }
        check_dir_at(&self.key_dir(id))?;
        let Some((mut file, meta)) = open_checked(&path, Kind::Public)? else {
            return Err(not_found());
        };
        // The stamp recorded is the opened file's own, so a replacement between the stat and
        // the open cannot be cached under the old file's stamp.
        let stamp = FileStamp::of(&meta);
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let stored: StoredKey = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupted {
            what: path.display().to_string(),
            message: format!("unreadable key metadata: {e}"),
        })?;
        if stored.format != FORMAT || stored.info.key_id != id {
            return Err(Error::Corrupted {
                what: path.display().to_string(),
                message: "key metadata does not belong to this key".into(),
            });
        }
        if let Ok(mut cache) = self.metadata.lock() {
            cache.insert(id.to_string(), (stamp, stored.clone()));
        }
        Ok(stored)
    }

    fn write_stored(&self, stored: &StoredKey, _lock: &LockGuard) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(stored).map_err(Error::crypto)?;
        write_atomic(&self.key_dir(&stored.info.key_id).join("meta.json"), &bytes)
    }

    /// Whether time has run out on a pending deletion or an automatic rotation is due.
    fn needs_maintenance(&self, stored: &StoredKey) -> bool {
        let now = self.now();
        let expired = stored.info.state == KeyState::PendingDeletion
            && stored.info.deletion_date.is_some_and(|d| d <= now);
        let rotate = stored.rotation.enabled
            && stored.info.state == KeyState::Enabled
            && stored.rotation.next_rotation.is_some_and(|t| t <= now);
        expired || rotate
    }

    /// Applies due deletions and rotations; `Ok(None)` when the key was deleted.
    fn maintain(&self, stored: StoredKey, lock: &LockGuard) -> Result<Option<StoredKey>> {
        let mut stored = stored;
        let now = self.now();
        if stored.info.state == KeyState::PendingDeletion
            && stored.info.deletion_date.is_some_and(|d| d <= now)
        {
            self.purge(&stored, lock)?;
            return Ok(None);
        }
        while stored.rotation.enabled
            && stored.info.state == KeyState::Enabled
            && stored.rotation.next_rotation.is_some_and(|t| t <= now)
        {
            self.add_version(&mut stored, lock)?;
            let period = DAY * stored.rotation.period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
            stored.rotation.next_rotation = stored.rotation.next_rotation.map(|t| t + period);
            self.write_stored(&stored, lock)?;
        }
        Ok(Some(stored))
    }

    /// Reads a key, applying due deletions and rotations (taking the lock only if needed).
    fn current(&self, key: &KeyRef) -> Result<StoredKey> {
        let id = self.resolve(key)?;
        let stored = self.read_stored(&id)?;
        if !self.needs_maintenance(&stored) {
            return Ok(stored);
        }
        let lock = match self.lock() {
            Ok(lock) => lock,
            // A read-only keystore cannot apply what has come due; readers see its effect.
            Err(Error::Io { source, .. }) if is_read_only(&source) => {
                return self.read_only_view(stored, key);
            }
            Err(e) => return Err(e),
        };
        let stored = self.read_stored(&id)?;
        self.maintain(stored, &lock)?
            .ok_or_else(|| Error::NotFound {
                key: key.to_string(),
            })
    }

    /// A key as it is once due maintenance is applied, on a keystore that cannot be written: a
    /// key whose deletion date has passed is gone; a due rotation waits (the current version
    /// still decrypts and signs) until the keystore is writable.
    fn read_only_view(&self, stored: StoredKey, key: &KeyRef) -> Result<StoredKey> {
        let deleted = stored.info.state == KeyState::PendingDeletion
            && stored.info.deletion_date.is_some_and(|d| d <= self.now());
        if deleted {
            return Err(Error::NotFound {
                key: key.to_string(),
            });
        }
        Ok(stored)
    }

    /// Reads a key under the held lock, applying due deletions and rotations.
    fn current_locked(&self, key: &KeyRef, lock: &LockGuard) -> Result<StoredKey> {
        let id = self.resolve(key)?;
        let stored = self.read_stored(&id)?;
        self.maintain(stored, lock)?.ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })
    }

    /// Read-modify-write of a key's metadata under the lock.
    fn update<T>(
        &self,
        key: &KeyRef,
        f: impl FnOnce(&mut StoredKey, &LockGuard) -> Result<T>,
    ) -> Result<T> {
        let lock = self.lock()?;
        let mut stored = self.current_locked(key, &lock)?;
        let out = f(&mut stored, &lock)?;
        self.write_stored(&stored, &lock)?;
        Ok(out)
    }

    fn purge(&self, stored: &StoredKey, _lock: &LockGuard) -> Result<()> {
        let id = &stored.info.key_id;
        for alias in &stored.info.aliases {
            let name = alias.strip_prefix("alias/").unwrap_or(alias);
            if self.read_alias(name)?.as_deref() == Some(id.as_str()) {
                fs::remove_file(self.alias_path(name))
                    .map_err(io_err(format!("deleting {alias}")))?;
            }
        }
        let grave = self.root.join("tmp").join(format!("deleted-{id}"));
        fs::rename(self.key_dir(id), &grave).map_err(io_err(format!("deleting key {id}")))?;
        sync_dir(&self.root.join("keys"))?;
        fs::remove_dir_all(&grave).map_err(io_err(format!("removing {}", grave.display())))?;
        if let Ok(mut m) = self.materials.lock() {
            m.retain(|(k, _), _| k != id);
        }
        Ok(())
    }

    fn label(spec: KeySpec) -> &'static str {
        if spec.is_asymmetric() {
            LABEL_PRIVATE
        } else {
            LABEL_SECRET
        }
    }

    fn version_path(&self, id: &str, version: u32) -> PathBuf {
        self.key_dir(id).join(format!("v{version}.pem"))
    }

    /// Writes a new material version and bumps the count (the caller writes the metadata).
    fn add_version(&self, stored: &mut StoredKey, _lock: &LockGuard) -> Result<()> {
        let spec = stored.info.spec;
        let material = generate(spec)?;
        let pem = self.kek.seal_pem(material.expose(), Self::label(spec))?;
        let next = stored.info.versions + 1;
        let mac = self.kek.file_mac(&stored.info.key_id, next, pem.as_bytes());
        write_atomic(
            &self.version_path(&stored.info.key_id, next),
            pem.as_bytes(),
        )?;
        stored.info.versions = next;
        stored.file_macs.insert(next, B64.encode(mac));
        Ok(())
    }

    fn material(&self, stored: &StoredKey, version: u32) -> Result<Arc<Material>> {
        let info = &stored.info;
        let cache_key = (info.key_id.clone(), version);
        if let Some(m) = self
            .materials
            .lock()
            .ok()
            .and_then(|m| m.get(&cache_key).cloned())
        {
            return Ok(m);
        }
        let (plain, what) = self.read_material(stored, version)?;
        let material =
            Arc::new(
                Material::load(info.spec, plain.expose()).map_err(|e| Error::Corrupted {
                    what: what.clone(),
                    message: e.to_string(),
                })?,
            );
        if let Ok(mut m) = self.materials.lock() {
            m.insert(cache_key, material.clone());
        }
        Ok(material)
    }

    /// The plaintext of material version `version` (PKCS#8 DER or raw key bytes) and the path
    /// it was read from, after checking the file against the MAC recorded in the metadata.
    fn read_material(&self, stored: &StoredKey, version: u32) -> Result<(Secret, String)> {
        let info = &stored.info;
        let path = self.version_path(&info.key_id, version);
        let what = path.display().to_string();
        let pem = read_checked(&path, Kind::Secret)?.ok_or_else(|| Error::Corrupted {
            what: what.clone(),
            message: format!("key material version {version} is missing"),
        })?;
        {
            let matches = stored.file_macs.get(&version).is_some_and(|mac| {
                B64.decode(mac)
                    .is_ok_and(|mac| self.kek.file_mac_matches(&info.key_id, version, &pem, &mac))
            });
            if !matches {
                return Err(Error::Corrupted {
                    what,
                    message: "the key file does not match the MAC recorded in meta.json: it \
                              was damaged or replaced"
                        .into(),
                });
            }
        }
        let plain = self
            .kek
            .open_pem(&pem, Self::label(info.spec), &self.password, &what)?;
        Ok((plain, what))
    }

    /// The plaintext material of the key's current version, for a migration (see
    /// [`super::SoftwareBackend::export_key_material`]). Only an enabled key is exported,
    /// and only after its material has loaded as a key of its spec.
    pub(crate) fn export_material(&self, key: &KeyRef) -> Result<Secret> {
        let stored = self.current(key)?;
        stored.info.check_enabled()?;
        let version = stored.info.versions;
        let (plain, what) = self.read_material(&stored, version)?;
        Material::load(stored.info.spec, plain.expose()).map_err(|e| Error::Corrupted {
            what,
            message: e.to_string(),
        })?;
        tracing::warn!(
            key_id = %stored.info.key_id,
            version,
            "plaintext key material exported from the software keystore (migration)"
        );
        Ok(plain)
    }

    /// Aliases of a key that really point at it (the metadata's list is a hint kept in step
    /// under the lock; the alias files are the truth).
    fn live_aliases(&self, info: &KeyInfo) -> Vec<String> {
        info.aliases
            .iter()
            .filter(|a| {
                let name = a.strip_prefix("alias/").unwrap_or(a);
                self.read_alias(name).ok().flatten().as_deref() == Some(info.key_id.as_str())
            })
            .cloned()
            .collect()
    }

    fn public_info(&self, stored: &StoredKey) -> KeyInfo {
        let mut info = stored.info.clone();
        info.aliases = self.live_aliases(&info);
        if info
            .name
            .as_ref()
            .is_some_and(|n| !info.aliases.contains(&format!("alias/{n}")))
        {
            info.name = None;
        }
        info
    }

    // ---- operations -------------------------------------------------------------------

    pub(crate) fn create_key(&self, req: &CreateKeyRequest) -> Result<KeyInfo> {
        req.validate()?;
        if req.origin != KeyOrigin::Generated {
            return Err(Error::unsupported("software", "creating keys for import"));
        }
        if req.multi_region {
            return Err(Error::unsupported("software", "multi-region keys"));
        }
        // Generate before taking the lock: RSA-4096 generation can take a while.
        let material = generate(req.spec)?;
        let pem = self
            .kek
            .seal_pem(material.expose(), Self::label(req.spec))?;
        let id = uuid::Uuid::new_v4().to_string();
        let mac = self.kek.file_mac(&id, 1, pem.as_bytes());
        let mut info = KeyInfo::new(id.clone(), req.spec, req.usage);
        info.description = req.description.clone();
        info.tags = req.tags.clone();
        info.created = self.now();
        if let Some(name) = &req.name {
            info.name = Some(name.clone());
            info.aliases = vec![format!("alias/{name}")];
        }
        let stored = StoredKey {
            format: FORMAT,
            info,
            rotation: RotationStatus {
                enabled: false,
                period_days: None,
                next_rotation: None,
                on_demand_rotation_start: None,
            },
            file_macs: BTreeMap::from([(1, B64.encode(mac))]),
        };

        let lock = self.lock()?;
        if let Some(name) = &req.name
            && let Some(existing) = self.read_alias(name)?
            && self.key_exists(&existing)
        {
            return Err(Error::AlreadyExists {
                what: format!("alias/{name}"),
            });
        }
        // Build the key in tmp/, point the alias at it, then rename it into keys/: until the
        // rename nothing of the key is visible, and an alias left by a crash before the rename
        // points at nothing and is reclaimed by the next create.
        // A failure (a full disk) removes the staging directory with what it holds.
        let staging = Staging::create(self.root.join("tmp").join(&id))?;
        let meta = serde_json::to_vec_pretty(&stored).map_err(Error::crypto)?;
        write_new_file(&staging.path().join("meta.json"), &meta)?;
        write_new_file(&staging.path().join("v1.pem"), pem.as_bytes())?;
        sync_dir(staging.path())?;
        if let Some(name) = &req.name {
            write_atomic(&self.alias_path(name), id.as_bytes())?;
        }
        fs::rename(staging.path(), self.key_dir(&id))
            .map_err(io_err(format!("storing key {id}")))?;
        staging.keep();
        sync_dir(&self.root.join("keys"))?;
        drop(lock);
        Ok(stored.info)
    }

    pub(crate) fn describe_key(&self, key: &KeyRef) -> Result<KeyInfo> {
        let stored = self.current(key)?;
        Ok(self.public_info(&stored))
    }

    pub(crate) fn list_keys(&self, page: &PageRequest) -> Result<Page<KeyInfo>> {
        let limit = page.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid_input(format!(
                "page limit must be 1 to 1000, not {limit}"
            )));
        }
        let dir = self.root.join("keys");
        let mut ids: Vec<String> = fs::read_dir(&dir)
            .map_err(io_err(format!("listing {}", dir.display())))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| uuid::Uuid::parse_str(n).is_ok())
            .collect();
        ids.sort();
        let start = match &page.marker {
            Some(m) => ids.partition_point(|id| id.as_str() <= m.as_str()),
            None => 0,
        };
        let mut items = Vec::new();
        let mut last = None;
        for id in &ids[start..] {
            if items.len() == limit as usize {
                break;
            }
            last = Some(id.clone());
            let key = KeyRef::key_id(id)?;
            match self.current(&key) {
                Ok(stored) => items.push(self.public_info(&stored)),
                // Deleted meanwhile (by us or another process): not part of the listing.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let more = last
            .as_ref()
            .is_some_and(|l| ids.last().is_some_and(|end| end > l));
        Ok(Page {
            items,
            next_marker: if more { last } else { None },
        })
    }

    pub(crate) fn sign(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Result<Vec<u8>> {
        let stored = self.current(key)?;
        stored.info.check_signing(algorithm)?;
        message.check(algorithm)?;
        self.material(&stored, stored.info.versions)?
            .sign(message, algorithm)
    }

    /// Signs without touching the lock and without loading key material: `None` when the
    /// key's material is not loaded yet, maintenance (a due deletion or rotation) is pending,
    /// or the algorithm is slow (RSA), so the caller takes the blocking path. What this does
    /// is a few small reads of files that were just read and one EC or Ed25519 signature:
    /// tens of microseconds, cheap enough to run on an async task.
    pub(crate) fn sign_if_ready(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        algorithm: SigningAlgorithm,
    ) -> Option<Result<Vec<u8>>> {
        if !matches!(
            algorithm.scheme(),
            SignatureScheme::Ecdsa | SignatureScheme::Ed25519 | SignatureScheme::Ed25519Ph
        ) {
            return None;
        }
        let material = self.ready_material(key)?;
        Some(material.and_then(|(stored, material)| {
            stored.info.check_signing(algorithm)?;
            message.check(algorithm)?;
            material.sign(message, algorithm)
        }))
    }

    /// Verifies on the fast path (see [`Keystore::sign_if_ready`]); verification is cheap
    /// for every algorithm.
    pub(crate) fn verify_if_ready(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Option<Result<bool>> {
        let material = self.ready_material(key)?;
        Some(material.and_then(|(stored, material)| {
            stored.info.check_signing(algorithm)?;
            material.public_key()?.verify(message, signature, algorithm)
        }))
    }

    /// The key and its already-loaded current material, if no lock or decryption is needed.
    fn ready_material(&self, key: &KeyRef) -> Option<Result<(StoredKey, Arc<Material>)>> {
        let id = match self.resolve(key) {
            Ok(id) => id,
            Err(e) => return Some(Err(e)),
        };
        let stored = match self.read_stored(&id) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        if self.needs_maintenance(&stored) {
            return None;
        }
        let material = self
            .materials
            .lock()
            .ok()?
            .get(&(id, stored.info.versions))
            .cloned()?;
        Some(Ok((stored, material)))
    }

    pub(crate) fn public_key(&self, key: &KeyRef) -> Result<PublicKey> {
        let stored = self.current(key)?;
        if !stored.info.spec.is_asymmetric() {
            return Err(Error::key_usage(
                stored.info.display_name(),
                format!("{} keys have no public key", stored.info.spec),
            ));
        }
        self.material(&stored, stored.info.versions)?.public_key()
    }

    pub(crate) fn verify(
        &self,
        key: &KeyRef,
        message: Message<'_>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
    ) -> Result<bool> {
        let stored = self.current(key)?;
        stored.info.check_signing(algorithm)?;
        self.material(&stored, stored.info.versions)?
            .public_key()?
            .verify(message, signature, algorithm)
    }

    fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
        let mut aad = header.to_vec();
        aad.extend(encode_context(context));
        aad
    }

    fn seal_symmetric(
        &self,
        stored: &StoredKey,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let info = &stored.info;
        let uuid = uuid::Uuid::parse_str(&info.key_id).map_err(Error::crypto)?;
        let mut header = CIPHERTEXT_MAGIC.to_vec();
        header.extend_from_slice(uuid.as_bytes());
        header.extend_from_slice(&info.versions.to_be_bytes());
        let sealed = self
            .material(stored, info.versions)?
            .seal(plaintext, &Self::aad(&header, context))?;
        header.extend(sealed);
        Ok(header)
    }

    pub(crate) fn encrypt(
        &self,
        key: &KeyRef,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        let stored = self.current(key)?;
        stored.info.check_encryption(algorithm)?;
        match algorithm {
            EncryptionAlgorithm::SymmetricDefault => {
                if plaintext.len() > 4096 {
                    return Err(Error::invalid_input(format!(
                        "plaintext is {} bytes; direct encryption takes at most 4096 \
                         (use envelope encryption for more)",
                        plaintext.len()
                    )));
                }
                self.seal_symmetric(&stored, plaintext, context)
            }
            EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => {
                if !context.is_empty() {
                    return Err(Error::invalid_input(
                        "RSA encryption takes no encryption context",
                    ));
                }
                self.material(&stored, stored.info.versions)?
                    .public_key()?
                    .encrypt(plaintext, algorithm)
            }
        }
    }

    pub(crate) fn decrypt(
        &self,
        key: Option<&KeyRef>,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &EncryptionContext,
    ) -> Result<Secret> {
        match algorithm {
            EncryptionAlgorithm::SymmetricDefault => {
                let bad = || Error::invalid_input("not a ciphertext of this keystore (bad header)");
                if ciphertext.len() < 24 || &ciphertext[..4] != CIPHERTEXT_MAGIC {
                    return Err(bad());
                }
                let uuid = uuid::Uuid::from_slice(&ciphertext[4..20]).map_err(|_| bad())?;
                let version = u32::from_be_bytes(ciphertext[20..24].try_into().map_err(|_| bad())?);
                let blob_key = KeyRef::key_id(&uuid.to_string())?;
                let stored = self.current(&blob_key)?;
                if let Some(k) = key {
                    let wanted = self.resolve(k)?;
                    if wanted != stored.info.key_id {
                        return Err(Error::invalid_input(format!(
                            "the ciphertext was encrypted under key {}, not {k}",
                            stored.info.key_id
                        )));
                    }
                }
                stored.info.check_encryption(algorithm)?;
                if version == 0 || version > stored.info.versions {
                    return Err(Error::crypto("ciphertext names an unknown key version"));
                }
                let aad = Self::aad(&ciphertext[..24], context);
                self.material(&stored, version)?
                    .open(&ciphertext[24..], &aad)
            }
            EncryptionAlgorithm::RsaesOaepSha1 | EncryptionAlgorithm::RsaesOaepSha256 => {
                let key = key.ok_or_else(|| {
                    Error::invalid_input("RSA ciphertexts need the key to be named")
                })?;
                let stored = self.current(key)?;
                stored.info.check_encryption(algorithm)?;
                self.material(&stored, stored.info.versions)?
                    .decrypt_oaep(ciphertext, algorithm)
            }
        }
    }

    pub(crate) fn generate_data_key(
        &self,
        key: &KeyRef,
        spec: DataKeySpec,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let stored = self.current(key)?;
        stored
            .info
            .check_encryption(EncryptionAlgorithm::SymmetricDefault)?;
        let plaintext = Secret::new(random_bytes(spec.len())?);
        let ciphertext = self.seal_symmetric(&stored, plaintext.expose(), context)?;
        Ok(DataKey {
            key_id: stored.info.key_id.clone(),
            plaintext,
            ciphertext,
        })
    }

    pub(crate) fn generate_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<Vec<u8>> {
        let stored = self.current(key)?;
        stored.info.check_mac(algorithm)?;
        check_mac_message(message)?;
        self.material(&stored, stored.info.versions)?.mac(message)
    }

    pub(crate) fn verify_mac(
        &self,
        key: &KeyRef,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
    ) -> Result<bool> {
        let stored = self.current(key)?;
        stored.info.check_mac(algorithm)?;
        check_mac_message(message)?;
        self.material(&stored, stored.info.versions)?
            .verify_mac(message, mac)
    }

    // ---- aliases ----------------------------------------------------------------------

    fn set_alias(&self, alias: &str, key: &KeyRef, must_exist: bool) -> Result<()> {
        let name = strip_alias(alias)?.to_string();
        if !must_exist {
            // A new name: it must not read as another kind of reference.
            validate_key_name(&name)?;
        }
        let lock = self.lock()?;
        let mut target = self.current_locked(key, &lock)?;
        let previous = self.read_alias(&name)?.filter(|id| self.key_exists(id));
        match (&previous, must_exist) {
            (Some(_), false) => {
                return Err(Error::AlreadyExists {
                    what: format!("alias/{name}"),
                });
            }
            (None, true) => {
                return Err(Error::NotFound {
                    key: format!("alias/{name}"),
                });
            }
            _ => {}
        }
        if let Some(prev) = &previous {
            let prev_stored = self.read_stored(prev)?;
            if prev_stored.info.spec != target.info.spec
                || prev_stored.info.usage != target.info.usage
            {
                return Err(Error::invalid_input(format!(
                    "alias/{name} points at a {} {} key; it can only move to a key of the same \
                     spec and usage",
                    prev_stored.info.spec, prev_stored.info.usage
                )));
            }
        }
        let full = format!("alias/{name}");
        if !target.info.aliases.contains(&full) {
            target.info.aliases.push(full.clone());
            self.write_stored(&target, &lock)?;
        }
        write_atomic(&self.alias_path(&name), target.info.key_id.as_bytes())?;
        if let Some(prev) = previous.filter(|p| *p != target.info.key_id) {
            let mut prev_stored = self.read_stored(&prev)?;
            prev_stored.info.aliases.retain(|a| *a != full);
            self.write_stored(&prev_stored, &lock)?;
        }
        Ok(())
    }

    pub(crate) fn create_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        self.set_alias(alias, key, false)
    }

    pub(crate) fn update_alias(&self, alias: &str, key: &KeyRef) -> Result<()> {
        self.set_alias(alias, key, true)
    }

    pub(crate) fn delete_alias(&self, alias: &str) -> Result<()> {
        let name = strip_alias(alias)?.to_string();
        let lock = self.lock()?;
        let Some(id) = self.read_alias(&name)? else {
            return Err(Error::NotFound {
                key: format!("alias/{name}"),
            });
        };
        fs::remove_file(self.alias_path(&name))
            .map_err(io_err(format!("deleting alias/{name}")))?;
        sync_dir(&self.root.join("aliases"))?;
        if let Ok(mut stored) = self.read_stored(&id) {
            let full = format!("alias/{name}");
            stored.info.aliases.retain(|a| *a != full);
            self.write_stored(&stored, &lock)?;
        }
        Ok(())
    }

    pub(crate) fn list_aliases(&self, key: Option<&KeyRef>) -> Result<Vec<AliasInfo>> {
        if let Some(k) = key {
            let stored = self.current(k)?;
            return Ok(self
                .live_aliases(&stored.info)
                .into_iter()
                .map(|alias| AliasInfo {
                    alias,
                    key_id: Some(stored.info.key_id.clone()),
                })
                .collect());
        }
        let dir = self.root.join("aliases");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(format!("listing {}", dir.display())))? {
            let entry = entry.map_err(io_err(format!("listing {}", dir.display())))?;
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            if file.starts_with('.') {
                continue;
            }
            let name = alias_from_file_name(&file);
            let Some(id) = self.read_alias(&name)?.filter(|id| self.key_exists(id)) else {
                continue;
            };
            // Reading the key applies a deletion that has come due (so its aliases go too).
            match self.current(&KeyRef::key_id(&id)?) {
                Ok(_) => out.push(AliasInfo {
                    alias: format!("alias/{name}"),
                    key_id: Some(id),
                }),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(out)
    }

    // ---- lifecycle --------------------------------------------------------------------

    fn state_error(info: &KeyInfo, message: &str) -> Error {
        Error::InvalidKeyState {
            key: info.display_name(),
            state: info.state.to_string(),
            message: message.to_string(),
        }
    }

    pub(crate) fn enable_key(&self, key: &KeyRef) -> Result<()> {
        self.update(key, |s, _| match s.info.state {
            KeyState::Enabled | KeyState::Disabled => {
                s.info.state = KeyState::Enabled;
                Ok(())
            }
            _ => Err(Self::state_error(
                &s.info,
                "only a disabled key can be enabled",
            )),
        })
    }

    pub(crate) fn disable_key(&self, key: &KeyRef) -> Result<()> {
        self.update(key, |s, _| match s.info.state {
            KeyState::Enabled | KeyState::Disabled => {
                s.info.state = KeyState::Disabled;
                Ok(())
            }
            _ => Err(Self::state_error(
                &s.info,
                "only an enabled key can be disabled",
            )),
        })
    }

    pub(crate) fn schedule_key_deletion(
        &self,
        key: &KeyRef,
        days: u32,
    ) -> Result<DeletionSchedule> {
        check_pending_window(days)?;
        let when = self.now() + DAY * days;
        self.update(key, |s, _| {
            if s.info.state == KeyState::PendingDeletion {
                return Err(Self::state_error(
                    &s.info,
                    "the key is already pending deletion",
                ));
            }
            s.info.state = KeyState::PendingDeletion;
            s.info.deletion_date = Some(when);
            Ok(DeletionSchedule {
                state: KeyState::PendingDeletion,
                deletion_date: Some(when),
                pending_days: days,
            })
        })
    }

    pub(crate) fn cancel_key_deletion(&self, key: &KeyRef) -> Result<()> {
        self.update(key, |s, _| {
            if s.info.state != KeyState::PendingDeletion {
                return Err(Self::state_error(
                    &s.info,
                    "the key is not pending deletion",
                ));
            }
            s.info.state = KeyState::Disabled;
            s.info.deletion_date = None;
            Ok(())
        })
    }

    fn check_rotatable(info: &KeyInfo) -> Result<()> {
        if info.spec != KeySpec::SymmetricDefault {
            return Err(Error::unsupported(
                "software",
                format!(
                    "rotation of {} keys (only symmetric encryption keys rotate)",
                    info.spec
                ),
            ));
        }
        match info.state {
            KeyState::Enabled => Ok(()),
            _ => Err(Self::state_error(
                info,
                "only an enabled key can be rotated",
            )),
        }
    }

    pub(crate) fn enable_key_rotation(&self, key: &KeyRef, period_days: Option<u32>) -> Result<()> {
        let days = period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
        check_rotation_period(days)?;
        let now = self.now();
        self.update(key, |s, _| {
            Self::check_rotatable(&s.info)?;
            s.rotation = RotationStatus {
                enabled: true,
                period_days: Some(days),
                next_rotation: Some(now + DAY * days),
                on_demand_rotation_start: None,
            };
            Ok(())
        })
    }

    pub(crate) fn disable_key_rotation(&self, key: &KeyRef) -> Result<()> {
        self.update(key, |s, _| {
            Self::check_rotatable(&s.info)?;
            s.rotation = RotationStatus {
                enabled: false,
                period_days: None,
                next_rotation: None,
                on_demand_rotation_start: None,
            };
            Ok(())
        })
    }

    pub(crate) fn key_rotation_status(&self, key: &KeyRef) -> Result<RotationStatus> {
        let stored = self.current(key)?;
        if stored.info.spec != KeySpec::SymmetricDefault {
            return Err(Error::unsupported(
                "software",
                format!(
                    "rotation of {} keys (only symmetric encryption keys rotate)",
                    stored.info.spec
                ),
            ));
        }
        Ok(stored.rotation)
    }

    pub(crate) fn rotate_key(&self, key: &KeyRef) -> Result<()> {
        self.update(key, |s, lock| {
            Self::check_rotatable(&s.info)?;
            self.add_version(s, lock)
        })
    }

    pub(crate) fn tag_key(&self, key: &KeyRef, tags: &BTreeMap<String, String>) -> Result<()> {
        for (k, v) in tags {
            validate_tag(k, v)?;
        }
        self.update(key, |s, _| {
            if s.info.state == KeyState::PendingDeletion {
                return Err(Self::state_error(
                    &s.info,
                    "a key pending deletion cannot be tagged",
                ));
            }
            s.info.tags.extend(tags.clone());
            Ok(())
        })
    }

    pub(crate) fn untag_key(&self, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        self.update(key, |s, _| {
            if s.info.state == KeyState::PendingDeletion {
                return Err(Self::state_error(
                    &s.info,
                    "a key pending deletion cannot be untagged",
                ));
            }
            for k in tag_keys {
                s.info.tags.remove(k);
            }
            Ok(())
        })
    }
}
