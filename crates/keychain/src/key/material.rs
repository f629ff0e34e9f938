//! The key materials of a key: the first one and one per rotation, as AWS KMS's
//! ListKeyRotations lists them with `IncludeKeyMaterial=ALL_KEY_MATERIAL`.

use std::time::SystemTime;

use crate::macros::kms_enum;

kms_enum! {
    /// How a key's material was rotated.
    pub enum RotationType {
        /// By automatic rotation, when its period came due.
        Automatic => "AUTOMATIC",
        /// On demand (RotateKeyOnDemand).
        OnDemand => "ON_DEMAND" | "ONDEMAND",
    }
}

/// One key material of a key: the first, or the one a rotation made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyMaterial {
    /// Its place among the key's materials, from 1 (the first) to [`super::KeyInfo::versions`].
    pub version: u32,
    /// Its identifier (AWS KMS `KeyMaterialId`, 64 hex digits): stable, and distinct among the
    /// key's materials. It says nothing about the material itself.
    pub material_id: String,
    /// Whether new ciphertexts are made with it (KMS `CURRENT`); older ones only decrypt.
    pub current: bool,
    /// When the rotation that made it completed; `None` for the first material, and for a
    /// rotation the backend did not record the date of (software keystores written before
    /// rotation dates were kept).
    #[serde(with = "super::info::unix_seconds_opt", default)]
    pub rotation_date: Option<SystemTime>,
    /// Whether that rotation was automatic or on demand; `None` as for `rotation_date`.
    #[serde(default)]
    pub rotation_type: Option<RotationType>,
}
