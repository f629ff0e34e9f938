//! The life of a software key: enabling and disabling, scheduled deletion (applied when a
//! key is next read after its date), rotation of symmetric keys, and tags.

use std::collections::BTreeMap;

use super::keystore::{DAY, DEFAULT_ROTATION_DAYS, Keystore};
use crate::key::{
    DeletionSchedule, KeyInfo, KeyMaterial, KeySpec, KeyState, RotationStatus, RotationType,
    check_pending_window, check_rotation_period, check_tag_count, validate_description,
    validate_tag,
};
use crate::key_ref::KeyRef;
use crate::{Error, Result};

impl Keystore {
    pub(super) fn state_error(info: &KeyInfo, message: &str) -> Error {
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
            // A key of imported material that has none waits for it again.
            s.info.state = if s.info.versions == 0 {
                KeyState::PendingImport
            } else {
                KeyState::Disabled
            };
            s.info.deletion_date = None;
            Ok(())
        })
    }

    fn check_rotatable(info: &KeyInfo) -> Result<()> {
        // Imported material rotates only by importing new material, which this keystore
        // does not do: a new version would be generated, not imported.
        if info.origin == crate::key::KeyOrigin::External {
            return Err(Error::unsupported(
                "software",
                "rotation of keys with imported key material",
            ));
        }
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
            self.add_version(s, (self.now(), RotationType::OnDemand), lock)
        })
    }

    /// The key's materials, oldest first (see [`crate::Backend::list_key_materials`]).
    pub(crate) fn list_key_materials(&self, key: &KeyRef) -> Result<Vec<KeyMaterial>> {
        let stored = self.current(key)?;
        let info = &stored.info;
        if info.spec != KeySpec::SymmetricDefault {
            return Err(Error::unsupported(
                "software",
                format!(
                    "listing the rotations of {} keys (only symmetric encryption keys rotate)",
                    info.spec
                ),
            ));
        }
        Ok((1..=info.versions)
            .map(|version| {
                let record = stored.rotations.get(&version);
                KeyMaterial {
                    version,
                    material_id: material_id(&info.key_id, version),
                    current: version == info.versions,
                    rotation_date: record.map(|r| r.at),
                    rotation_type: record.map(|r| r.kind),
                }
            })
            .collect())
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
            let mut merged = s.info.tags.clone();
            merged.extend(tags.clone());
            check_tag_count(merged.len())?;
            s.info.tags = merged;
            Ok(())
        })
    }

    pub(crate) fn update_key_description(&self, key: &KeyRef, description: &str) -> Result<()> {
        validate_description(description)?;
        self.update(key, |s, _| {
            if s.info.state == KeyState::PendingDeletion {
                return Err(Self::state_error(
                    &s.info,
                    "the description of a key pending deletion cannot change",
                ));
            }
            s.info.description = description.to_string();
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

/// A key material's identifier: a hash of the key id and version, so it is stable, distinct per
/// material, and tells nothing about the material.
fn material_id(key_id: &str, version: u32) -> String {
    let mut input = Vec::with_capacity(key_id.len() + 32);
    input.extend_from_slice(b"keychain key material\0");
    input.extend_from_slice(key_id.as_bytes());
    input.extend_from_slice(&version.to_be_bytes());
    crate::text::hex_lower(&crate::algorithm::Hash::Sha256.digest(&input))
}
