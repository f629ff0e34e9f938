//! Changing the keystore password, all or nothing, crash-safe.
//!
//! Every key file (`keys/ID/vN.pem`, PBES2 under the password), every `meta.json` (which holds
//! a MAC of each key file under a key derived from the password) and `keystore.json` (salt
//! and verifier) change together. A process killed at any moment must leave either the old
//! password or the new one working for every key — never a keystore where some keys open
//! with one and some with the other. The change runs under the keystore lock in three steps:
//!
//! 1. **Journal.** `passwd.json` is written (atomically) holding the new `keystore.json`.
//!    Its presence says a change is under way.
//! 2. **Prepare.** Beside every file that changes, its new version is written as
//!    `NAME.next` (fsynced): each key file re-encrypted under the new password, each
//!    `meta.json` with the new MACs. The originals are untouched.
//! 3. **Commit.** `keystore.json` is replaced by the journal's copy (one atomic rename: the
//!    moment the new password takes over), then every `NAME.next` is renamed over `NAME` and
//!    the journal removed.
//!
//! Opening a keystore that has a journal finishes or undoes the change first (under the
//! lock, so it waits for a change still running): if `keystore.json` is the journal's copy
//! the commit happened, and the `.next` files are renamed into place; otherwise the change
//! never took effect and they are removed. Neither needs the password.

use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::fs::{HEADER, Kind, LockGuard, read_checked, sync_dir, write_atomic, write_new_file};
use super::keystore::{Keystore, StoredKey};
use super::pbes2::Kek;
use crate::random::random_bytes;
use crate::secret::Secret;
use crate::{Error, Result};

/// The journal of a password change under way.
pub(super) const JOURNAL: &str = "passwd.json";
/// The suffix of a file's replacement while a change is prepared.
const NEXT: &str = ".next";

/// The files of the keystore a change replaces: each key directory's `meta.json` and
/// `vN.pem` files.
fn key_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let keys = root.join("keys");
    let entries = match fs::read_dir(&keys) {
        Ok(entries) => entries,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("listing {}", keys.display()), e)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", keys.display()), e))?;
        let name = entry.file_name();
        // Key directories are named by key id; anything else (a staging leftover) is not a key.
        if name.to_str().is_some_and(super::keystore::is_key_id) {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The `.next` files in a key directory.
fn next_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(NEXT))
        {
            found.push(entry.path());
        }
    }
    Ok(found)
}

/// `NAME.next` → `NAME`.
fn base_of(next: &Path) -> Option<PathBuf> {
    let name = next.file_name()?.to_str()?.strip_suffix(NEXT)?;
    Some(next.with_file_name(name))
}

fn next_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(NEXT);
    path.with_file_name(name)
}

/// Finishes or undoes a password change a dead process left (see the module's text). Called
/// when a keystore opens; a no-op (one `stat`) when there is no journal.
pub(super) fn recover(root: &Path) -> Result<()> {
    let journal = root.join(JOURNAL);
    if !journal.exists() {
        return Ok(());
    }
    let lock = super::fs::lock(root)?;
    recover_locked(root, &lock)
}

fn recover_locked(root: &Path, _lock: &LockGuard) -> Result<()> {
    let journal = root.join(JOURNAL);
    // Re-read under the lock: the process that held it may have finished meanwhile.
    let Some(planned) = read_checked(&journal, Kind::Secret)? else {
        return Ok(());
    };
    let header = read_checked(&root.join(HEADER), Kind::Secret)?;
    let committed = header.as_deref() == Some(planned.as_slice());
    for dir in key_dirs(root)? {
        for next in next_files(&dir)? {
            let Some(base) = base_of(&next) else { continue };
            let done = if committed {
                fs::rename(&next, &base)
            } else {
                fs::remove_file(&next)
            };
            done.map_err(|e| Error::io(format!("recovering {}", next.display()), e))?;
        }
        sync_dir(&dir)?;
    }
    fs::remove_file(&journal)
        .map_err(|e| Error::io(format!("removing {}", journal.display()), e))?;
    sync_dir(root)
}

impl Keystore {
    /// Re-encrypts every key under `new_password` (see the module's text for how a crash at
    /// any point leaves one password working). The iteration count stays; the salt is new.
    pub(super) fn change_password(&self, new_password: &Secret) -> Result<()> {
        if new_password.is_empty() {
            return Err(Error::invalid_input("the new password is empty"));
        }
        let lock = self.lock()?;
        // A change a dead process left is settled first.
        recover_locked(&self.root, &lock)?;
        let salt = random_bytes(16)?;
        let new_kek = Kek::derive(new_password, &salt, self.kek.iterations())?;
        let header = self.header_for(&new_kek)?;

        // 1. The journal.
        write_atomic(&self.root.join(JOURNAL), &header)?;
        // 2. Every replacement beside its original.
        if let Err(e) = self.prepare_all(&new_kek, &lock) {
            // Nothing took effect: recovery sees keystore.json is not the journal's copy and
            // removes every .next file, then the journal.
            let undone = recover_locked(&self.root, &lock);
            return Err(match undone {
                Ok(()) => e,
                Err(_) => {
                    e.with_note("the half-made change is undone when the keystore next opens")
                }
            });
        }
        // 3. The commit: from this rename on, the new password is the keystore's.
        write_atomic(&self.root.join(HEADER), &header)?;
        recover_locked(&self.root, &lock).map_err(|e| {
            e.with_note(
                "the new password is in force; the next open of the keystore finishes the change",
            )
        })
    }

    /// Writes `NAME.next` beside every file that changes.
    fn prepare_all(&self, new_kek: &Kek, _lock: &LockGuard) -> Result<()> {
        for dir in key_dirs(&self.root)? {
            let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            let mut stored: StoredKey = self.read_stored(&id)?;
            let label = Self::label(stored.info.spec);
            let versions: Vec<u32> = stored.file_macs.keys().copied().collect();
            for version in versions {
                let (plain, _) = self.read_material(&stored, version)?;
                let pem = new_kek.seal_pem(plain.expose(), label)?;
                let path = self.version_path(&id, version);
                let next = next_of(&path);
                write_fresh(&next, pem.as_bytes())?;
                let mac = new_kek.file_mac(&id, version, pem.as_bytes());
                stored.file_macs.insert(version, B64.encode(mac));
            }
            let meta = serde_json::to_vec_pretty(&stored).map_err(Error::crypto)?;
            let next = next_of(&dir.join("meta.json"));
            write_fresh(&next, &meta)?;
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

/// Writes a new file (0600, fsynced), replacing a leftover of an earlier attempt.
fn write_fresh(path: &Path, bytes: &[u8]) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == IoKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("replacing {}", path.display()), e)),
    }
    write_new_file(path, bytes)
}
