//! A key as KMS describes it: `KeyMetadata`, with KMS's state names and the algorithms its
//! spec allows.

use std::time::{SystemTime, UNIX_EPOCH};

use keychain::{KeyInfo, KeyOrigin, KeySpec, KeyState, KeyUsage, SigningAlgorithm};
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
/// `EncapsulationAlgorithms`, as DescribeKey and GetPublicKey both answer them. `ed25519ph`
/// is whether the backend signs Ed25519ph (`Capabilities::ed25519ph`): the spec allows it
/// for every Ed25519 key, but a key on a backend that refuses it (PKCS#11) must not list it.
pub(crate) fn algorithms(spec: KeySpec, usage: KeyUsage, ed25519ph: bool) -> (&'static str, Value) {
    fn names<T: Copy>(items: &[T], name: fn(T) -> &'static str) -> Value {
        Value::Array(items.iter().map(|a| Value::from(name(*a))).collect())
    }
    match usage {
        KeyUsage::SignVerify => {
            let signing: Vec<SigningAlgorithm> = spec
                .signing_algorithms()
                .iter()
                .copied()
                .filter(|a| ed25519ph || *a != SigningAlgorithm::Ed25519PhSha512)
                .collect();
            ("SigningAlgorithms", names(&signing, |a| a.as_str()))
        }
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

/// `KeyMetadata` for `info`, its ARN in the caller's account and region; `ed25519ph` as
/// [`algorithms`] takes it.
pub(crate) fn key_metadata(caller: &Caller, info: &KeyInfo, ed25519ph: bool) -> Value {
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
    let (member, list) = algorithms(info.spec, info.usage, ed25519ph);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn signing(spec: KeySpec, ed25519ph: bool) -> Value {
        let (member, list) = algorithms(spec, KeyUsage::SignVerify, ed25519ph);
        assert_eq!(member, "SigningAlgorithms");
        list
    }

    #[test]
    fn ed25519ph_is_listed_only_where_the_backend_signs_it() {
        assert_eq!(
            signing(KeySpec::EccNistEdwards25519, true),
            json!(["ED25519_SHA_512", "ED25519_PH_SHA_512"])
        );
        assert_eq!(
            signing(KeySpec::EccNistEdwards25519, false),
            json!(["ED25519_SHA_512"])
        );
        assert_eq!(
            signing(KeySpec::EccNistP256, false),
            signing(KeySpec::EccNistP256, true)
        );
    }
}
