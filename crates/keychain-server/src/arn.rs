//! Key and alias ARNs: the caller's account and region (from the SigV4 scope) name every key
//! the server answers about, and a `KeyId` in any of KMS's forms becomes a [`KeyRef`].

use keychain::KeyRef;

use crate::errors::KmsError;
use crate::wire::{check_len, clip};

/// Who called, as the signature proved it: the account of the access key and the region of
/// the credential scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub(crate) account: String,
    pub(crate) region: String,
}

impl Caller {
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub(crate) fn key_arn(&self, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account)
    }

    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME` for `alias/NAME`.
    pub(crate) fn alias_arn(&self, alias: &str) -> String {
        format!("arn:aws:kms:{}:{}:{alias}", self.region, self.account)
    }

    /// A `KeyId` member as KMS takes it: a key id, a key ARN, `alias/NAME` or an alias ARN.
    /// An ARN of another account or region names no key here.
    pub(crate) fn key_ref(&self, key_id: &str) -> Result<KeyRef, KmsError> {
        check_len("KeyId", key_id.chars().count(), 1, 2048)?;
        let invalid = || KmsError::not_found(format!("Invalid keyId '{}'", clip(key_id)));
        if let Some(rest) = key_id.strip_prefix("arn:") {
            let mut parts = rest.splitn(5, ':');
            let (Some(_partition), Some(service), Some(region), Some(account), Some(resource)) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                return Err(KmsError::bad(
                    "InvalidArnException",
                    format!("'{}' is not a valid ARN", clip(key_id)),
                ));
            };
            if service != "kms" {
                return Err(KmsError::bad(
                    "InvalidArnException",
                    format!("'{}' is not a KMS ARN", clip(key_id)),
                ));
            }
            if region != self.region || account != self.account {
                return Err(KmsError::not_found(format!(
                    "Key '{}' does not exist",
                    clip(key_id)
                )));
            }
            return self.plain_ref(resource, true).ok_or_else(invalid);
        }
        self.plain_ref(key_id, false).ok_or_else(invalid)
    }

    /// `key/ID` (in an ARN), `ID`, or `alias/NAME`.
    fn plain_ref(&self, resource: &str, in_arn: bool) -> Option<KeyRef> {
        if let Some(name) = resource.strip_prefix("alias/") {
            return KeyRef::alias(name).ok();
        }
        let id = if in_arn {
            resource.strip_prefix("key/")?
        } else {
            resource
        };
        is_key_id(id).then(|| KeyRef::key_id(id).ok()).flatten()
    }
}

/// A key id: a UUID, or `mrk-` and 32 hex digits.
pub(crate) fn is_key_id(id: &str) -> bool {
    if let Some(hex) = id.strip_prefix("mrk-") {
        return hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    uuid::Uuid::try_parse(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            account: "000000000000".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn every_kms_form_is_a_reference() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let c = caller();
        for form in [
            id.to_string(),
            c.key_arn(id),
            "alias/app".to_string(),
            c.alias_arn("alias/app"),
        ] {
            assert!(c.key_ref(&form).is_ok(), "{form}");
        }
        assert_eq!(
            c.key_ref("app").map_err(|e| e.code),
            Err("NotFoundException")
        );
        let other = "arn:aws:kms:eu-west-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            c.key_ref(other).map_err(|e| e.code),
            Err("NotFoundException")
        );
        assert_eq!(
            c.key_ref("arn:aws:s3:::bucket").map_err(|e| e.code),
            Err("InvalidArnException")
        );
        assert_eq!(
            c.key_ref("").map_err(|e| e.code),
            Err("ValidationException")
        );
    }
}
