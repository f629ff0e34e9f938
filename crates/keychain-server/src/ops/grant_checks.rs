//! What CreateGrant checks before a grant is made: principals, operations (KMS's set, and
//! those the key's type supports), grant constraints and grant tokens.

use keychain::{KeyInfo, KeySpec, KeyUsage};
use serde_json::Value;

use crate::errors::KmsError;
use crate::wire::{check_len, clip};

/// The operations a grant may allow (KMS's `GrantOperation`).
pub(super) const GRANT_OPERATIONS: &[&str] = &[
    "CreateGrant",
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "DescribeKey",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GetPublicKey",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// A principal member: 1–256 of KMS's principal characters.
pub(super) fn check_principal(member: &str, value: &str) -> Result<(), KmsError> {
    check_len(member, value.chars().count(), 1, 256)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c);
    if !value.chars().all(allowed) {
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
            clip(value),
            crate::wire::camel(member)
        )));
    }
    Ok(())
}

/// `GrantTokens`: at most 10, each 1–8192 characters (accepted and, as in KMS for a grant
/// already in effect, not needed).
pub(super) fn check_grant_tokens(tokens: Option<&[String]>) -> Result<(), KmsError> {
    let Some(tokens) = tokens else { return Ok(()) };
    check_len("GrantTokens", tokens.len(), 0, 10)?;
    for t in tokens {
        check_len("GrantTokens.member", t.chars().count(), 1, 8192)?;
    }
    Ok(())
}

/// The operations a key's type supports, beyond CreateGrant, DescribeKey and RetireGrant.
pub(super) fn operations_of(info: &KeyInfo) -> &'static [&'static str] {
    match info.usage {
        KeyUsage::EncryptDecrypt if info.spec == KeySpec::SymmetricDefault => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
        ],
        KeyUsage::EncryptDecrypt => &[
            "Decrypt",
            "Encrypt",
            "GetPublicKey",
            "ReEncryptFrom",
            "ReEncryptTo",
        ],
        KeyUsage::SignVerify => &["GetPublicKey", "Sign", "Verify"],
        KeyUsage::GenerateVerifyMac => &["GenerateMac", "VerifyMac"],
        KeyUsage::KeyAgreement => &["DeriveSharedSecret", "GetPublicKey"],
        KeyUsage::EncapsulateDecapsulate => &["Decapsulate", "Encapsulate", "GetPublicKey"],
    }
}

/// An encryption context constraint: at most 8 pairs, values of at most 384 characters.
fn check_context_constraint(member: &str, value: &Value) -> Result<(), KmsError> {
    let Some(map) = value.as_object() else {
        return Err(KmsError::serialization(format!(
            "'{member}' is not a map of strings"
        )));
    };
    if map.len() > 8 {
        return Err(KmsError::validation(format!(
            "{member} holds {} encryption context pairs; a grant constraint holds at most 8",
            map.len()
        )));
    }
    for (k, v) in map {
        let Some(v) = v.as_str() else {
            return Err(KmsError::serialization(format!(
                "'{member}' is not a map of strings"
            )));
        };
        if k.is_empty() || k.chars().count() > 384 || v.chars().count() > 384 {
            return Err(KmsError::validation(format!(
                "{member}: an encryption context key is 1 to 384 characters and a value at \
                 most 384"
            )));
        }
    }
    Ok(())
}

/// Checks `Constraints` against the key: encryption context constraints only where the
/// operations take an encryption context (symmetric encryption keys).
pub(super) fn check_constraints(constraints: &Value, info: &KeyInfo) -> Result<(), KmsError> {
    let Some(map) = constraints.as_object() else {
        return Err(KmsError::serialization("'constraints' is not a structure"));
    };
    for (member, value) in map {
        match member.as_str() {
            "EncryptionContextSubset" | "EncryptionContextEquals" => {
                check_context_constraint(member, value)?;
                if info.spec != KeySpec::SymmetricDefault {
                    return Err(KmsError::validation(format!(
                        "encryption context grant constraints are for symmetric encryption \
                         keys; {} is {}",
                        info.key_id, info.spec
                    )));
                }
            }
            "SourceArn" => {
                let arn = value
                    .as_str()
                    .ok_or_else(|| KmsError::serialization("'SourceArn' is not a string"))?;
                check_len("SourceArn", arn.chars().count(), 1, 2048)?;
            }
            other => {
                return Err(KmsError::serialization(format!(
                    "unknown grant constraint {}",
                    clip(other)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn principals_are_checked() {
        assert!(check_principal("GranteePrincipal", "arn:aws:iam::1:role/x").is_ok());
        assert!(check_principal("GranteePrincipal", "a b").is_err());
        assert!(check_principal("GranteePrincipal", "").is_err());
    }

    #[test]
    fn constraints_only_on_symmetric_keys() {
        let sym = KeyInfo::new("k", KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt);
        let ec = KeyInfo::new("k", KeySpec::EccNistP256, KeyUsage::SignVerify);
        let c = json!({"EncryptionContextSubset": {"a": "b"}});
        assert!(check_constraints(&c, &sym).is_ok());
        assert!(check_constraints(&c, &ec).is_err());
        let nine: serde_json::Map<String, Value> =
            (0..9).map(|n| (n.to_string(), json!("v"))).collect();
        assert!(check_constraints(&json!({"EncryptionContextEquals": nine}), &sym).is_err());
        assert!(check_constraints(&json!({"Other": 1}), &sym).is_err());
    }

    #[test]
    fn usage_decides_the_operations() {
        let ec = KeyInfo::new("k", KeySpec::EccNistP256, KeyUsage::SignVerify);
        assert!(operations_of(&ec).contains(&"Sign"));
        assert!(!operations_of(&ec).contains(&"Decrypt"));
    }
}
