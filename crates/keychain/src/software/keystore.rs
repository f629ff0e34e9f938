//! The keystore directory: its layout, opening it, and reading and writing stored keys, their
//! material and their maintenance (due deletions and rotations), synchronously. The
//! operations on keys are beside it: `keys` (create, describe, list), `crypto` (the data
//! path), `aliases` and `lifecycle`. [`super::SoftwareBackend`] runs them on tokio's blocking
//! pool; [`super::fs`] holds the file-system rules (when a keystore may be created, what is
//! checked before it is trusted, locking and atomic writes).
//!
//! ```text
//! ROOT/                      0700
//!   keystore.json            KDF parameters and a password verifier
//!   .lock                    flock(2) taken by every writer
//!   passwd.json              only while the password changes (see `passwd`), with
//!                            keys/ID/*.next beside the files it replaces
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
    FileStamp, HEADER, Kind, LockGuard, SUBDIRS, check_dir_at, io_err, is_read_only, open_checked,
    prepare_new, read_checked, read_header, sync_dir, temp_name, write_atomic, write_new_file,
};
use super::material::{Material, generate};
use super::pbes2::{Kek, LABEL_PRIVATE, LABEL_SECRET};
use crate::key::{KeyInfo, KeySpec, KeyState, RotationStatus, RotationType};
use crate::key_ref::{KeyRef, KeyTarget};
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::{Error, Result};

pub(super) const FORMAT: u32 = 1;
pub(super) const DAY: Duration = Duration::from_secs(86_400);
pub(super) const DEFAULT_ROTATION_DAYS: u32 = 365;

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
pub(super) struct StoredKey {
    pub(super) format: u32,
    pub(super) info: KeyInfo,
    pub(super) rotation: RotationStatus,
    /// Per material version, the [`Kek::file_mac`] of its `vN.pem` (base64), checked on load:
    /// a version without one is refused, so deleting the entry does not skip the check.
    pub(super) file_macs: BTreeMap<u32, String>,
    /// For a key of imported material: the check value of the material imported (see
    /// `imported`), so that only the same material is imported again once deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) material_check: Option<String>,
    /// Per material version after the first, when and how the rotation that made it happened
    /// (absent for versions written before rotations were recorded).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) rotations: BTreeMap<u32, RotationRecord>,
}

/// When and how one rotation happened.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy)]
pub(super) struct RotationRecord {
    /// When it completed (for an automatic rotation applied late, when it was due).
    #[serde(with = "crate::key::unix_seconds")]
    pub(super) at: SystemTime,
    pub(super) kind: RotationType,
}

/// Whether `id` names a key directory: a UUID, or for a multi-Region key `mrk-` and 32
/// lower-case hex digits (KMS's form). Anything else under `keys/` (a staging leftover) is
/// not a key.
pub(super) fn is_key_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok() || mrk_hex(id).is_some()
}

/// The 32 hex digits of a multi-Region key id.
pub(super) fn mrk_hex(id: &str) -> Option<&str> {
    let hex = id.strip_prefix("mrk-")?;
    (hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

/// An open keystore.
pub(crate) struct Keystore {
    pub(super) root: PathBuf,
    password: Secret,
    pub(super) kek: Kek,
    clock: Clock,
    pub(super) materials: Mutex<HashMap<(String, u32), Arc<Material>>>,
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

fn alias_file_name(name: &str) -> String {
    name.replace('/', "%2F")
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
        // A password change a killed process left is finished or undone (one stat when there
        // is none), once the directory has passed its checks. Recovery never touches
        // keystore.json, so the header read above stands.
        super::passwd::recover(&root)?;
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

    /// The `keystore.json` of this keystore's format and iteration count for `kek` (a new
    /// salt and verifier), as written.
    pub(super) fn header_for(&self, kek: &Kek) -> Result<Vec<u8>> {
        let file = KeystoreFile {
            format: FORMAT,
            kdf: "pbkdf2-hmac-sha256".into(),
            iterations: kek.iterations(),
            salt: B64.encode(kek.salt()),
            verifier: B64.encode(kek.verifier()),
        };
        serde_json::to_vec_pretty(&file).map_err(Error::crypto)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    /// Takes the writers' lock, then checks that the keystore's password is still the one
    /// this handle opened it with: after `keystore passwd` (in this process or another), a
    /// handle still holding the old password's key would write keys, versions and MACs that
    /// only the old password opens. Every writer goes through here.
    pub(super) fn lock(&self) -> Result<LockGuard> {
        let guard = super::fs::lock(&self.root)?;
        let path = self.root.join(HEADER);
        let bytes = read_checked(&path, Kind::Secret)?.ok_or_else(|| Error::Corrupted {
            what: path.display().to_string(),
            message: "the keystore header is missing".into(),
        })?;
        let header = Self::parse_header(&path, &bytes)?;
        let current = B64.decode(&header.verifier).is_ok_and(|v| {
            self.kek.matches(&v)
                && B64
                    .decode(&header.salt)
                    .is_ok_and(|salt| salt == self.kek.salt())
        });
        if !current {
            return Err(Error::WrongPassword {
                keystore: self.root.display().to_string(),
            }
            .with_note("the keystore's password was changed since it was opened: open it again"));
        }
        Ok(guard)
    }

    pub(super) fn key_dir(&self, id: &str) -> PathBuf {
        self.root.join("keys").join(id)
    }

    pub(super) fn alias_path(&self, name: &str) -> PathBuf {
        self.root.join("aliases").join(alias_file_name(name))
    }

    /// The key id an alias points at, if the alias exists.
    pub(super) fn read_alias(&self, name: &str) -> Result<Option<String>> {
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

    pub(super) fn key_exists(&self, id: &str) -> bool {
        self.key_dir(id).join("meta.json").is_file()
    }

    /// Resolves a reference to a key id.
    pub(super) fn resolve(&self, key: &KeyRef) -> Result<String> {
        let not_found = || Error::NotFound {
            key: key.to_string(),
        };
        let id = match key.target() {
            KeyTarget::Alias(name) => self.read_alias(name)?.ok_or_else(not_found)?,
            KeyTarget::AliasArn(arn) => self.read_alias(&arn.resource)?.ok_or_else(not_found)?,
            KeyTarget::KeyId(id) => id.clone(),
            KeyTarget::KeyArn(arn) => arn.resource.clone(),
        };
        // Ids are the UUIDs and mrk- ids we made; anything else cannot name a key directory.
        if !is_key_id(&id) || !self.key_exists(&id) {
            return Err(not_found());
        }
        Ok(id)
    }

    pub(super) fn read_stored(&self, id: &str) -> Result<StoredKey> {
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

    pub(super) fn write_stored(&self, stored: &StoredKey, _lock: &LockGuard) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(stored).map_err(Error::crypto)?;
        write_atomic(&self.key_dir(&stored.info.key_id).join("meta.json"), &bytes)
    }

    /// Whether time has run out on a pending deletion or an automatic rotation is due.
    pub(super) fn needs_maintenance(&self, stored: &StoredKey) -> bool {
        let now = self.now();
        let expired = stored.info.state == KeyState::PendingDeletion
            && stored.info.deletion_date.is_some_and(|d| d <= now);
        let rotate = stored.rotation.enabled
            && stored.info.state == KeyState::Enabled
            && stored.rotation.next_rotation.is_some_and(|t| t <= now);
        expired || rotate || Self::material_expired(stored, now)
    }

    /// Whether a key's imported material has reached its `valid_to` and is still there.
    fn material_expired(stored: &StoredKey, now: SystemTime) -> bool {
        stored.info.versions > 0 && stored.info.valid_to.is_some_and(|t| t <= now)
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
        if Self::material_expired(&stored, now) {
            self.remove_material(&mut stored)?;
            self.write_stored(&stored, lock)?;
        }
        while stored.rotation.enabled
            && stored.info.state == KeyState::Enabled
            && stored.rotation.next_rotation.is_some_and(|t| t <= now)
        {
            let due = stored.rotation.next_rotation.unwrap_or(now);
            self.add_version(&mut stored, (due, RotationType::Automatic), lock)?;
            let period = DAY * stored.rotation.period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
            stored.rotation.next_rotation = stored.rotation.next_rotation.map(|t| t + period);
            self.write_stored(&stored, lock)?;
        }
        Ok(Some(stored))
    }

    /// Reads a key, applying due deletions and rotations (taking the lock only if needed).
    pub(super) fn current(&self, key: &KeyRef) -> Result<StoredKey> {
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
        let now = self.now();
        let deleted = stored.info.state == KeyState::PendingDeletion
            && stored.info.deletion_date.is_some_and(|d| d <= now);
        if deleted {
            return Err(Error::NotFound {
                key: key.to_string(),
            });
        }
        let mut stored = stored;
        // Expired material stays on a read-only disk, but the key no longer uses it.
        if Self::material_expired(&stored, now) {
            stored.info.versions = 0;
            stored.info.valid_to = None;
            stored.file_macs.clear();
            if stored.info.state != KeyState::PendingDeletion {
                stored.info.state = KeyState::PendingImport;
            }
        }
        Ok(stored)
    }

    /// Reads a key under the held lock, applying due deletions and rotations.
    pub(super) fn current_locked(&self, key: &KeyRef, lock: &LockGuard) -> Result<StoredKey> {
        let id = self.resolve(key)?;
        let stored = self.read_stored(&id)?;
        self.maintain(stored, lock)?.ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })
    }

    /// Read-modify-write of a key's metadata under the lock.
    pub(super) fn update<T>(
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

    pub(super) fn label(spec: KeySpec) -> &'static str {
        if spec.is_asymmetric() {
            LABEL_PRIVATE
        } else {
            LABEL_SECRET
        }
    }

    pub(super) fn version_path(&self, id: &str, version: u32) -> PathBuf {
        self.key_dir(id).join(format!("v{version}.pem"))
    }

    /// Writes a new material version made by a rotation (`made`: when and how) and bumps the
    /// count (the caller writes the metadata).
    pub(super) fn add_version(
        &self,
        stored: &mut StoredKey,
        made: (SystemTime, RotationType),
        _lock: &LockGuard,
    ) -> Result<()> {
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
        let (at, kind) = made;
        stored.rotations.insert(next, RotationRecord { at, kind });
        Ok(())
    }

    pub(super) fn material(&self, stored: &StoredKey, version: u32) -> Result<Arc<Material>> {
        let info = &stored.info;
        if version == 0 {
            // A key of imported material that has none (yet, or any more).
            return Err(Error::InvalidKeyState {
                key: info.display_name(),
                state: info.state.to_string(),
                message: "the key has no key material: import it first".into(),
            });
        }
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
    pub(super) fn read_material(
        &self,
        stored: &StoredKey,
        version: u32,
    ) -> Result<(Secret, String)> {
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
    pub(super) fn live_aliases(&self, info: &KeyInfo) -> Vec<String> {
        info.aliases
            .iter()
            .filter(|a| {
                let name = a.strip_prefix("alias/").unwrap_or(a);
                self.read_alias(name).ok().flatten().as_deref() == Some(info.key_id.as_str())
            })
            .cloned()
            .collect()
    }

    pub(super) fn public_info(&self, stored: &StoredKey) -> KeyInfo {
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
}
