//! Key and alias ARNs: the caller's account and region (from the SigV4 scope) name every key
//! the server answers about, and a `KeyId` in any of KMS's forms becomes a [`KeyRef`].

use keychain::{KeyRef, KeyTarget};

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

    /// A `KeyId` member as KMS takes it: a key id, a key ARN, `alias/NAME` or an alias ARN,
    /// read by keychain's own reference parser. An ARN of another account or region names no
    /// key here; the reference handed to the backend is the plain id or alias.
    pub(crate) fn key_ref(&self, key_id: &str) -> Result<KeyRef, KmsError> {
        check_len("KeyId", key_id.chars().count(), 1, 2048)?;
        let parsed = KeyRef::parse_kms_key_id(key_id).map_err(|e| {
            if key_id.starts_with("arn:") {
                KmsError::bad(
                    "InvalidArnException",
                    format!("'{}' is not a valid KMS ARN: {e}", clip(key_id)),
                )
            } else {
                KmsError::not_found(format!("Invalid keyId '{}'", clip(key_id)))
            }
        })?;
        let arn = match parsed.target() {
            KeyTarget::KeyArn(arn) | KeyTarget::AliasArn(arn) => arn,
            _ => return Ok(parsed),
        };
        if arn.region != self.region || arn.account != self.account {
            return Err(KmsError::not_found(format!(
                "Key '{}' does not exist",
                clip(key_id)
            )));
        }
        let plain = match parsed.target() {
            KeyTarget::AliasArn(arn) => KeyRef::alias(&arn.resource),
            _ => KeyRef::key_id(&arn.resource),
        };
        plain.map_err(KmsError::from)
    }
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
        // The library's rules: an ARN's partition is aws…, a bare name is no KMS reference,
        // and a key id is matched without regard to case.
        let foreign =
            "arn:nope:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            c.key_ref(foreign).map_err(|e| e.code),
            Err("InvalidArnException")
        );
        assert_eq!(
            c.key_ref(&id.to_ascii_uppercase())
                .ok()
                .and_then(|k| k.key_id_str().map(str::to_string)),
            Some(id.to_string())
        );
    }
}
