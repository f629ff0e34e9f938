//! Keys in the software keystore: creation (built in `tmp/` and renamed into `keys/`, so a
//! crash leaves no half-made key visible), describing and listing.

use std::collections::BTreeMap;
use std::fs;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::fs::{Staging, io_err, sync_dir, write_atomic, write_new_file};
use super::keystore::{FORMAT, Keystore, StoredKey, is_key_id};
use super::material::generate;
use crate::key::{CreateKeyRequest, KeyInfo, KeyOrigin, Page, PageRequest, RotationStatus};
use crate::key_ref::KeyRef;
use crate::{Error, Result};

impl Keystore {
    pub(crate) fn create_key(&self, req: &CreateKeyRequest) -> Result<KeyInfo> {
        req.validate()?;
        let external = match req.origin {
            KeyOrigin::Generated => false,
            KeyOrigin::External => true,
            other => {
                return Err(Error::unsupported(
                    "software",
                    format!("keys of origin {other}"),
                ));
            }
        };
        // A multi-Region key has KMS's form of id, `mrk-` and 32 hex digits.
        let id = if req.multi_region {
            format!("mrk-{}", uuid::Uuid::new_v4().simple())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        // Generate before taking the lock: RSA-4096 generation can take a while. A key for
        // imported material has none until the import.
        let pem = if external {
            None
        } else {
            let material = generate(req.spec)?;
            Some(
                self.kek
                    .seal_pem(material.expose(), Self::label(req.spec))?,
            )
        };
        let mut info = KeyInfo::new(id.clone(), req.spec, req.usage);
        info.multi_region = req.multi_region;
        let mut file_macs = BTreeMap::new();
        if let Some(pem) = &pem {
            let mac = self.kek.file_mac(&id, 1, pem.as_bytes());
            file_macs.insert(1, B64.encode(mac));
        } else {
            info.origin = KeyOrigin::External;
            info.state = crate::key::KeyState::PendingImport;
            info.versions = 0;
        }
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
            file_macs,
            material_check: None,
            rotations: BTreeMap::new(),
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
        if let Some(pem) = &pem {
            write_new_file(&staging.path().join("v1.pem"), pem.as_bytes())?;
        }
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
            .filter(|n| is_key_id(n))
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
}
