//! Our vocabulary ⇄ the SDK's: key specs, usages, states, origins, algorithms, and
//! `KeyMetadata` → [`KeyInfo`].
//!
//! Our enums spell their values exactly as KMS does, so every conversion to the SDK is an
//! explicit match (the compiler checks that the SDK knows each value) and every conversion
//! back is checked against our table; a value KMS added after this release is a clear
//! [`Error::Unsupported`], never a silent substitute.

use std::time::SystemTime;

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types as sdk;

use crate::algorithm::{DataKeySpec, EncryptionAlgorithm, MacAlgorithm, SigningAlgorithm};
use crate::key::{KeyInfo, KeyOrigin, KeySpec, KeyState, KeyUsage};
use crate::{Error, Result};

use super::errors::BACKEND;

fn unknown(what: &str, value: &str) -> Error {
    Error::unsupported(
        BACKEND,
        format!("the {what} {value:?} (unknown to this version of keychain)"),
    )
}

/// Our key spec as the SDK's.
pub(crate) fn key_spec_to_sdk(spec: KeySpec) -> sdk::KeySpec {
    match spec {
        KeySpec::Rsa2048 => sdk::KeySpec::Rsa2048,
        KeySpec::Rsa3072 => sdk::KeySpec::Rsa3072,
        KeySpec::Rsa4096 => sdk::KeySpec::Rsa4096,
        KeySpec::EccNistP256 => sdk::KeySpec::EccNistP256,
        KeySpec::EccNistP384 => sdk::KeySpec::EccNistP384,
        KeySpec::EccNistP521 => sdk::KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1 => sdk::KeySpec::EccSecgP256K1,
        KeySpec::EccNistEdwards25519 => sdk::KeySpec::EccNistEdwards25519,
        KeySpec::MlDsa44 => sdk::KeySpec::MlDsa44,
        KeySpec::MlDsa65 => sdk::KeySpec::MlDsa65,
        KeySpec::MlDsa87 => sdk::KeySpec::MlDsa87,
        KeySpec::MlKem512 => sdk::KeySpec::MlKem512,
        KeySpec::MlKem768 => sdk::KeySpec::MlKem768,
        KeySpec::MlKem1024 => sdk::KeySpec::MlKem1024,
        KeySpec::SymmetricDefault => sdk::KeySpec::SymmetricDefault,
        KeySpec::Hmac224 => sdk::KeySpec::Hmac224,
        KeySpec::Hmac256 => sdk::KeySpec::Hmac256,
        KeySpec::Hmac384 => sdk::KeySpec::Hmac384,
        KeySpec::Hmac512 => sdk::KeySpec::Hmac512,
    }
}

/// The SDK's key spec as ours.
pub(crate) fn key_spec_from_sdk(spec: &sdk::KeySpec) -> Result<KeySpec> {
    let s = spec.as_str();
    let ours: KeySpec = s.parse().map_err(|_| unknown("key spec", s))?;
    // Guard against a friendly alias matching a KMS name it is not.
    if ours.as_str() == s {
        Ok(ours)
    } else {
        Err(unknown("key spec", s))
    }
}

/// Our key usage as the SDK's.
pub(crate) fn key_usage_to_sdk(usage: KeyUsage) -> sdk::KeyUsageType {
    match usage {
        KeyUsage::SignVerify => sdk::KeyUsageType::SignVerify,
        KeyUsage::EncryptDecrypt => sdk::KeyUsageType::EncryptDecrypt,
        KeyUsage::GenerateVerifyMac => sdk::KeyUsageType::GenerateVerifyMac,
        KeyUsage::KeyAgreement => sdk::KeyUsageType::KeyAgreement,
        KeyUsage::EncapsulateDecapsulate => sdk::KeyUsageType::EncapsulateDecapsulate,
    }
}

/// The SDK's key usage as ours.
pub(crate) fn key_usage_from_sdk(usage: &sdk::KeyUsageType) -> Result<KeyUsage> {
    Ok(match usage {
        sdk::KeyUsageType::SignVerify => KeyUsage::SignVerify,
        sdk::KeyUsageType::EncryptDecrypt => KeyUsage::EncryptDecrypt,
        sdk::KeyUsageType::GenerateVerifyMac => KeyUsage::GenerateVerifyMac,
        sdk::KeyUsageType::KeyAgreement => KeyUsage::KeyAgreement,
        sdk::KeyUsageType::EncapsulateDecapsulate => KeyUsage::EncapsulateDecapsulate,
        other => return Err(unknown("key usage", other.as_str())),
    })
}

/// The SDK's key state as ours.
pub(crate) fn key_state_from_sdk(state: &sdk::KeyState) -> Result<KeyState> {
    Ok(match state {
        sdk::KeyState::Enabled => KeyState::Enabled,
        sdk::KeyState::Disabled => KeyState::Disabled,
        sdk::KeyState::PendingDeletion => KeyState::PendingDeletion,
        sdk::KeyState::PendingImport => KeyState::PendingImport,
        sdk::KeyState::Creating => KeyState::Creating,
        sdk::KeyState::Updating => KeyState::Updating,
        sdk::KeyState::Unavailable => KeyState::Unavailable,
        sdk::KeyState::PendingReplicaDeletion => KeyState::PendingReplicaDeletion,
        other => return Err(unknown("key state", other.as_str())),
    })
}

/// Our origin as the SDK's.
pub(crate) fn origin_to_sdk(origin: KeyOrigin) -> sdk::OriginType {
    match origin {
        KeyOrigin::Generated => sdk::OriginType::AwsKms,
        KeyOrigin::External => sdk::OriginType::External,
        KeyOrigin::CloudHsm => sdk::OriginType::AwsCloudhsm,
        KeyOrigin::ExternalKeyStore => sdk::OriginType::ExternalKeyStore,
    }
}

/// The SDK's origin as ours.
pub(crate) fn origin_from_sdk(origin: &sdk::OriginType) -> Result<KeyOrigin> {
    Ok(match origin {
        sdk::OriginType::AwsKms => KeyOrigin::Generated,
        sdk::OriginType::External => KeyOrigin::External,
        sdk::OriginType::AwsCloudhsm => KeyOrigin::CloudHsm,
        sdk::OriginType::ExternalKeyStore => KeyOrigin::ExternalKeyStore,
        other => return Err(unknown("key origin", other.as_str())),
    })
}

/// Our signing algorithm as the SDK's.
pub(crate) fn signing_to_sdk(alg: SigningAlgorithm) -> sdk::SigningAlgorithmSpec {
    use SigningAlgorithm::*;
    match alg {
        RsassaPssSha256 => sdk::SigningAlgorithmSpec::RsassaPssSha256,
        RsassaPssSha384 => sdk::SigningAlgorithmSpec::RsassaPssSha384,
        RsassaPssSha512 => sdk::SigningAlgorithmSpec::RsassaPssSha512,
        RsassaPkcs1V15Sha256 => sdk::SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
        RsassaPkcs1V15Sha384 => sdk::SigningAlgorithmSpec::RsassaPkcs1V15Sha384,
        RsassaPkcs1V15Sha512 => sdk::SigningAlgorithmSpec::RsassaPkcs1V15Sha512,
        EcdsaSha256 => sdk::SigningAlgorithmSpec::EcdsaSha256,
        EcdsaSha384 => sdk::SigningAlgorithmSpec::EcdsaSha384,
        EcdsaSha512 => sdk::SigningAlgorithmSpec::EcdsaSha512,
        Ed25519Sha512 => sdk::SigningAlgorithmSpec::Ed25519Sha512,
        Ed25519PhSha512 => sdk::SigningAlgorithmSpec::Ed25519PhSha512,
        MlDsaShake256 => sdk::SigningAlgorithmSpec::MlDsaShake256,
    }
}

/// Our encryption algorithm as the SDK's.
pub(crate) fn encryption_to_sdk(alg: EncryptionAlgorithm) -> sdk::EncryptionAlgorithmSpec {
    match alg {
        EncryptionAlgorithm::SymmetricDefault => sdk::EncryptionAlgorithmSpec::SymmetricDefault,
        EncryptionAlgorithm::RsaesOaepSha1 => sdk::EncryptionAlgorithmSpec::RsaesOaepSha1,
        EncryptionAlgorithm::RsaesOaepSha256 => sdk::EncryptionAlgorithmSpec::RsaesOaepSha256,
    }
}

/// Our MAC algorithm as the SDK's.
pub(crate) fn mac_to_sdk(alg: MacAlgorithm) -> sdk::MacAlgorithmSpec {
    match alg {
        MacAlgorithm::HmacSha224 => sdk::MacAlgorithmSpec::HmacSha224,
        MacAlgorithm::HmacSha256 => sdk::MacAlgorithmSpec::HmacSha256,
        MacAlgorithm::HmacSha384 => sdk::MacAlgorithmSpec::HmacSha384,
        MacAlgorithm::HmacSha512 => sdk::MacAlgorithmSpec::HmacSha512,
    }
}

/// Our data key spec as the SDK's.
pub(crate) fn data_key_spec_to_sdk(spec: DataKeySpec) -> sdk::DataKeySpec {
    match spec {
        DataKeySpec::Aes256 => sdk::DataKeySpec::Aes256,
        DataKeySpec::Aes128 => sdk::DataKeySpec::Aes128,
    }
}

/// A KMS timestamp as a `SystemTime` (the epoch if it is out of range).
pub(crate) fn time_from_sdk(t: &DateTime) -> SystemTime {
    SystemTime::try_from(*t).unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The key id inside a key ARN (`arn:…:key/ID` → `ID`); anything else is returned unchanged.
pub(crate) fn key_id_of(arn_or_id: &str) -> String {
    match arn_or_id.rsplit_once(":key/") {
        Some((_, id)) => id.to_string(),
        None => arn_or_id.to_string(),
    }
}

/// `KeyMetadata` as a [`KeyInfo`], without aliases, name or tags (other calls give those).
pub(crate) fn key_info_from_metadata(m: &sdk::KeyMetadata) -> Result<KeyInfo> {
    // KMS always sends KeySpec now; keys from before it existed are symmetric.
    let spec = match m.key_spec() {
        Some(s) => key_spec_from_sdk(s)?,
        None => KeySpec::SymmetricDefault,
    };
    let usage = match m.key_usage() {
        Some(u) => key_usage_from_sdk(u)?,
        None => spec.default_usage(),
    };
    let mut info = KeyInfo::new(m.key_id(), spec, usage);
    info.arn = m.arn().map(str::to_string);
    info.state = match m.key_state() {
        Some(s) => key_state_from_sdk(s)?,
        None if m.enabled() => KeyState::Enabled,
        None => KeyState::Disabled,
    };
    info.description = m.description().unwrap_or_default().to_string();
    info.origin = match m.origin() {
        Some(o) => origin_from_sdk(o)?,
        None => KeyOrigin::Generated,
    };
    info.created = m
        .creation_date()
        .map(time_from_sdk)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    info.deletion_date = m.deletion_date().map(time_from_sdk);
    info.multi_region = m.multi_region().unwrap_or(false);
    info.valid_to = m.valid_to().map(time_from_sdk);
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_round_trips() {
        for &spec in KeySpec::ALL {
            let sdk = key_spec_to_sdk(spec);
            assert_eq!(sdk.as_str(), spec.as_str());
            assert_eq!(key_spec_from_sdk(&sdk).ok(), Some(spec));
        }
        assert!(matches!(
            key_spec_from_sdk(&sdk::KeySpec::from("SM2")),
            Err(Error::Unsupported { .. })
        ));
    }

    #[test]
    fn algorithms_keep_their_kms_names() {
        for &a in SigningAlgorithm::ALL {
            assert_eq!(signing_to_sdk(a).as_str(), a.as_str());
        }
        for &a in EncryptionAlgorithm::ALL {
            assert_eq!(encryption_to_sdk(a).as_str(), a.as_str());
        }
        for &a in MacAlgorithm::ALL {
            assert_eq!(mac_to_sdk(a).as_str(), a.as_str());
        }
        for &u in KeyUsage::ALL {
            assert_eq!(key_usage_from_sdk(&key_usage_to_sdk(u)).ok(), Some(u));
        }
        for &o in KeyOrigin::ALL {
            assert_eq!(origin_from_sdk(&origin_to_sdk(o)).ok(), Some(o));
        }
    }

    #[test]
    fn metadata_becomes_key_info() {
        let m = sdk::KeyMetadata::builder()
            .key_id("1234abcd-12ab-34cd-56ef-1234567890ab")
            .arn("arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab")
            .key_spec(sdk::KeySpec::EccNistP384)
            .key_usage(sdk::KeyUsageType::SignVerify)
            .key_state(sdk::KeyState::PendingDeletion)
            .deletion_date(DateTime::from_secs(1_900_000_000))
            .creation_date(DateTime::from_secs(1_800_000_000))
            .origin(sdk::OriginType::External)
            .multi_region(true)
            .description("d")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let info = key_info_from_metadata(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.spec, KeySpec::EccNistP384);
        assert_eq!(info.state, KeyState::PendingDeletion);
        assert_eq!(info.origin, KeyOrigin::External);
        assert!(info.multi_region);
        assert!(info.deletion_date.is_some());
        assert_eq!(
            key_id_of(info.arn.as_deref().unwrap_or_default()),
            info.key_id
        );
    }
}
