//! A key as KMS describes it: `KeyMetadata`, with KMS's state names and the algorithms its
//! spec allows.

use std::time::{SystemTime, UNIX_EPOCH};

use keychain::{KeyInfo, KeyOrigin, KeySpec, KeyState, KeyUsage};
use serde_json::{Value, json};

use crate::arn::Caller;

/// KMS's spelling of a key state (`Enabled`, `PendingDeletion`…).
pub(crate) fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
        KeyState::Creating => "Creating",
        KeyState::Updating => "Updating",
        KeyState::Unavailable => "Unavailable",
        KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
    }
}

/// A time as the JSON protocol sends it: seconds since the epoch.
pub(crate) fn epoch(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The member naming the algorithms a key of `spec` and `usage` does, and its list:
/// `SigningAlgorithms`, `EncryptionAlgorithms`, `MacAlgorithms`, `KeyAgreementAlgorithms` or
/// `EncapsulationAlgorithms`, as DescribeKey and GetPublicKey both answer them.
pub(crate) fn algorithms(spec: KeySpec, usage: KeyUsage) -> (&'static str, Value) {
    fn names<T: Copy>(items: &[T], name: fn(T) -> &'static str) -> Value {
        Value::Array(items.iter().map(|a| Value::from(name(*a))).collect())
    }
    match usage {
        KeyUsage::SignVerify => (
            "SigningAlgorithms",
            names(spec.signing_algorithms(), |a| a.as_str()),
        ),
        KeyUsage::EncryptDecrypt => (
            "EncryptionAlgorithms",
            names(spec.encryption_algorithms(), |a| a.as_str()),
        ),
        KeyUsage::GenerateVerifyMac => (
            "MacAlgorithms",
            names(spec.mac_algorithms(), |a| a.as_str()),
        ),
        KeyUsage::KeyAgreement => ("KeyAgreementAlgorithms", json!(["ECDH"])),
        KeyUsage::EncapsulateDecapsulate => ("EncapsulationAlgorithms", json!(["ML_KEM"])),
    }
}

/// `KeyMetadata` for `info`, its ARN in the caller's account and region.
pub(crate) fn key_metadata(caller: &Caller, info: &KeyInfo) -> Value {
    let mut m = json!({
        "AWSAccountId": caller.account,
        "KeyId": info.key_id,
        "Arn": caller.key_arn(&info.key_id),
        "CreationDate": epoch(info.created),
        "Enabled": info.state == KeyState::Enabled,
        "Description": info.description,
        "KeyUsage": info.usage.as_str(),
        "KeyState": state_name(info.state),
        "Origin": info.origin.as_str(),
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": info.spec.as_str(),
        "KeySpec": info.spec.as_str(),
        "MultiRegion": info.multi_region,
    });
    if let Some(date) = info.deletion_date {
        m["DeletionDate"] = json!(epoch(date));
    }
    if info.origin == KeyOrigin::External {
        expiration(&mut m, info);
    }
    let (member, list) = algorithms(info.spec, info.usage);
    m[member] = list;
    m
}

/// `ExpirationModel` and, for material that expires, `ValidTo`: what KMS gives for keys of
/// imported material (in `KeyMetadata` and in ListKeyRotations entries).
pub(crate) fn expiration(out: &mut Value, info: &KeyInfo) {
    match info.valid_to {
        Some(t) => {
            out["ExpirationModel"] = json!("KEY_MATERIAL_EXPIRES");
            out["ValidTo"] = json!(epoch(t));
        }
        None => out["ExpirationModel"] = json!("KEY_MATERIAL_DOES_NOT_EXPIRE"),
    }
}
