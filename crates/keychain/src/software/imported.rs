//! Keys whose material comes from outside (origin `EXTERNAL`) and key annexes.
//!
//! An `EXTERNAL` key is created without material (`versions` 0, state `PendingImport`); an
//! import writes its material as version 1 and enables it. Deleting the imported material
//! removes the material file and takes the key back to `PendingImport`; the metadata keeps a
//! check value of the material (SHA-256 over a fixed label and the material), so that only the
//! same material can be imported again, as KMS requires: ciphertexts made before stay
//! decryptable, and a public key already handed out stays the key's. Material imported with
//! an expiry is deleted the same way when the key is next read after that time.
//!
//! A key annex (`keys/ID/NAME.annex`) is a small document kept beside a key for a program
//! that serves it, written by rename under the keystore lock and deleted with the key.

use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest::{Context, SHA256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::fs::{Kind, read_checked, sync_dir, write_atomic};
use super::keystore::{Keystore, StoredKey};
use super::material::Material;
use crate::backend::AnnexUpdate;
use crate::key::{KeyOrigin, KeyState};
use crate::key_ref::KeyRef;
use crate::secret::Secret;
use crate::{Error, Result};

/// The longest an imported material may live (KMS: `ValidTo` at most 365 days ahead).
const MAX_MATERIAL_LIFE: Duration = Duration::from_secs(365 * 86_400);

/// The longest annex accepted (a KMS key policy is at most 32 KiB; grants are small).
const MAX_ANNEX: usize = 1 << 20;

/// The check value of imported material: it identifies the material without revealing it.
fn material_check(material: &[u8]) -> String {
    let mut ctx = Context::new(&SHA256);
    ctx.update(b"keychain imported key material check v1\0");
    ctx.update(material);
    B64.encode(ctx.finish().as_ref())
}

/// Refuses an annex name that is not 1–32 of `a-z0-9-` starting with a letter.
fn check_annex_name(name: &str) -> Result<()> {
    let ok = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "{:?} is not a key annex name (1 to 32 of a-z, 0-9 and '-', starting with a letter)",
            name.chars().take(40).collect::<String>()
        )))
    }
}

impl Keystore {
    fn annex_path(&self, id: &str, name: &str) -> PathBuf {
        self.key_dir(id).join(format!("{name}.annex"))
    }

    /// The key annex `name` of `key`, `None` if never written.
    pub(crate) fn read_annex(&self, key: &KeyRef, name: &str) -> Result<Option<Vec<u8>>> {
        check_annex_name(name)?;
        let stored = self.current(key)?;
        read_checked(&self.annex_path(&stored.info.key_id, name), Kind::Public)
    }

    /// Rewrites the key annex `name` of `key` under the keystore lock.
    pub(crate) fn update_annex(&self, key: &KeyRef, name: &str, update: AnnexUpdate) -> Result<()> {
        check_annex_name(name)?;
        let lock = self.lock()?;
        let stored = self.current_locked(key, &lock)?;
        let path = self.annex_path(&stored.info.key_id, name);
        let old = read_checked(&path, Kind::Public)?;
        let new = update(old.as_deref())?;
        if new.len() > MAX_ANNEX {
            return Err(Error::invalid_input(format!(
                "a key annex holds at most {MAX_ANNEX} bytes"
            )));
        }
        write_atomic(&path, &new)?;
        drop(lock);
        Ok(())
    }

    /// Refuses a key that was not made for imported material.
    fn check_external(stored: &StoredKey) -> Result<()> {
        if stored.info.origin != KeyOrigin::External {
            return Err(Error::ImportRefused {
                operation: "ImportKeyMaterial".into(),
                message: format!(
                    "{} was not created for imported key material (origin {})",
                    stored.info.display_name(),
                    stored.info.origin
                ),
            });
        }
        Ok(())
    }

    /// Imports `material` into an `EXTERNAL` key: version 1, and the key enabled if it was
    /// waiting for it. With `expires` (in the future, at most 365 days ahead, as in KMS) the
    /// material is deleted once that time comes; without, it stays.
    pub(crate) fn import_material(
        &self,
        key: &KeyRef,
        material: &Secret,
        expires: Option<SystemTime>,
    ) -> Result<()> {
        if let Some(at) = expires {
            let now = self.now();
            if at <= now || at > now + MAX_MATERIAL_LIFE {
                return Err(Error::invalid_input(
                    "imported key material must expire in the future and at most 365 days \
                     from now",
                ));
            }
        }
        let probe = self.current(key)?;
        Self::check_external(&probe)?;
        let spec = probe.info.spec;
        Material::load(spec, material.expose()).map_err(|e| Error::ImportRefused {
            operation: "ImportKeyMaterial".into(),
            message: format!("the key material is not a {spec} key: {e}"),
        })?;
        let check = material_check(material.expose());
        let pem = self.kek.seal_pem(material.expose(), Self::label(spec))?;
        self.update(key, |stored, _lock| {
            Self::check_external(stored)?;
            match stored.info.state {
                KeyState::PendingImport | KeyState::Enabled | KeyState::Disabled => {}
                _ => {
                    return Err(Self::state_error(
                        &stored.info,
                        "key material can be imported only into a key pending import, enabled \
                         or disabled",
                    ));
                }
            }
            if stored.material_check.as_ref().is_some_and(|c| *c != check) {
                return Err(Error::ImportRefused {
                    operation: "ImportKeyMaterial".into(),
                    message: format!(
                        "{} had other key material: only the same material can be imported \
                         again",
                        stored.info.display_name()
                    ),
                });
            }
            let id = stored.info.key_id.clone();
            let mac = self.kek.file_mac(&id, 1, pem.as_bytes());
            write_atomic(&self.version_path(&id, 1), pem.as_bytes())?;
            stored.file_macs.insert(1, B64.encode(mac));
            stored.info.versions = 1;
            stored.info.valid_to = expires;
            stored.material_check = Some(check.clone());
            if stored.info.state == KeyState::PendingImport {
                stored.info.state = KeyState::Enabled;
            }
            Ok(())
        })?;
        self.forget_materials(&probe.info.key_id);
        Ok(())
    }

    /// Deletes the imported material of an `EXTERNAL` key: back to `PendingImport`.
    pub(crate) fn delete_material(&self, key: &KeyRef) -> Result<()> {
        let id = self.update(key, |stored, _lock| {
            Self::check_external(stored).map_err(|_| {
                Error::unsupported(
                    "software",
                    format!(
                        "deleting the material of {}: it was not imported (origin {})",
                        stored.info.display_name(),
                        stored.info.origin
                    ),
                )
            })?;
            match stored.info.state {
                KeyState::PendingImport | KeyState::Enabled | KeyState::Disabled => {}
                _ => {
                    return Err(Self::state_error(
                        &stored.info,
                        "key material can be deleted only from an enabled or disabled key",
                    ));
                }
            }
            self.remove_material(stored)?;
            Ok(stored.info.key_id.clone())
        })?;
        // Again after the metadata is written: a reader may have loaded it meanwhile.
        self.forget_materials(&id);
        Ok(())
    }

    /// Removes the material files of an imported key and takes it back to `PendingImport`
    /// (a key pending deletion stays so); the caller writes the metadata, after the files
    /// go: a crash in between leaves a key whose metadata names a missing file, refused as
    /// damaged rather than served.
    pub(super) fn remove_material(&self, stored: &mut StoredKey) -> Result<()> {
        let id = stored.info.key_id.clone();
        for version in 1..=stored.info.versions {
            match fs::remove_file(self.version_path(&id, version)) {
                Err(e) if e.kind() != IoKind::NotFound => {
                    return Err(Error::io(format!("deleting material of {id}"), e));
                }
                _ => {}
            }
        }
        sync_dir(&self.key_dir(&id))?;
        stored.file_macs.clear();
        stored.info.versions = 0;
        stored.info.valid_to = None;
        if stored.info.state != KeyState::PendingDeletion {
            stored.info.state = KeyState::PendingImport;
        }
        self.forget_materials(&id);
        Ok(())
    }

    /// Drops the loaded material of a key from the cache.
    fn forget_materials(&self, id: &str) {
        if let Ok(mut m) = self.materials.lock() {
            m.retain(|(k, _), _| k != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annex_names_are_plain() {
        assert!(check_annex_name("kms-access").is_ok());
        for bad in ["", "../x", "A", "1abc", "a.b", &"a".repeat(33)] {
            assert!(check_annex_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn material_checks_differ_by_material() {
        assert_eq!(material_check(b"a"), material_check(b"a"));
        assert_ne!(material_check(b"a"), material_check(b"b"));
    }
}
