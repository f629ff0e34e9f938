//! Key specs, usages, states and metadata, and the one table of which algorithm each spec
//! allows: `spec` (specs, families, curves, usages and the table), `info` (what a backend
//! reports about a key), `material` (a key's materials and rotations), `params` (what creating one takes) and `validation` (the KMS limits
//! on tags and periods).

mod info;
pub(crate) use self::info::unix_seconds;
mod material;
mod params;
mod spec;
mod validation;

pub use self::info::{
    AliasInfo, DeletionSchedule, KeyInfo, KeyOrigin, KeyState, Page, PageRequest, RotationStatus,
};
pub use self::material::{KeyMaterial, RotationType};
pub use self::params::{CreateKeyRequest, KeyParams, KeyType};
pub use self::spec::{Curve, KeyFamily, KeySpec, KeyUsage};
pub(crate) use self::validation::{
    check_pending_window, check_rotation_period, check_tag_count, validate_description,
    validate_tag,
};
