//! Aliases in the software keystore: one file per alias under `aliases/` holding the key id
//! it points at; created, moved (only between keys of the same spec and usage) and deleted
//! under the keystore lock, and listed.

use std::fs;

use super::fs::{io_err, sync_dir, write_atomic};
use super::keystore::Keystore;
use crate::key::AliasInfo;
use crate::key_ref::{KeyRef, validate_alias_name, validate_key_name};
use crate::{Error, Result};

fn alias_from_file_name(file: &str) -> String {
    file.replace("%2F", "/")
}

fn strip_alias(alias: &str) -> Result<&str> {
    let name = alias.strip_prefix("alias/").unwrap_or(alias);
    validate_alias_name(name)?;
    Ok(name)
}

impl Keystore {
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
}
