//! Where a key is: the backend URI written into recipients and identities, and the key
//! reference, for a key the `keychain age` commands are given by name.

use keychain::{BackendUri, Error, KeyFamily, KeyInfo, KeyUsage, Keychain, Result};

use crate::encoding::{Identity, Recipient, Wrapping};

/// The backend URI recipients and identities carry: the default keystore spelled out as an
/// absolute path (so a later `KEYCHAIN_HOME` does not move it), and an AWS KMS URI reduced
/// to its endpoint, region and profile (credentials never appear in one).
pub fn canonical_backend(uri: &BackendUri) -> Result<String> {
    match uri {
        BackendUri::Software { path } => {
            let path = match path {
                Some(path) => path.clone(),
                None => keychain::default_keystore_path()?,
            };
            let path = std::path::absolute(&path)
                .map_err(|e| Error::io("resolving the keystore path", e))?;
            BackendUri::Software { path: Some(path) }.to_uri()
        }
        BackendUri::AwsKms(kms) => {
            // Only where the keys are: retries and caching are the reader's own settings.
            let mut location = kms.clone();
            location.max_attempts = None;
            location.cache_ttl = None;
            Ok(location.to_uri())
        }
        _ => Err(Error::unsupported(
            "age-plugin-keychain",
            "recipients for this kind of backend",
        )),
    }
}

/// How age wraps a file key to a key: by the backend, or locally under its public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WrappingKind {
    Symmetric,
    Rsa,
    MlKem,
}

/// How age wraps a file key to this key, or why it cannot.
fn wrapping_kind(info: &KeyInfo) -> Result<WrappingKind> {
    let name = info.display_name();
    match (info.spec.family(), info.usage) {
        (KeyFamily::Symmetric, _) => Ok(WrappingKind::Symmetric),
        (KeyFamily::Rsa(_), KeyUsage::EncryptDecrypt) => Ok(WrappingKind::Rsa),
        (KeyFamily::MlKem(_), _) => Ok(WrappingKind::MlKem),
        (KeyFamily::Rsa(_), usage) => Err(Error::key_usage(
            name,
            format!(
                "this RSA key is for {usage}; an age recipient needs an ENCRYPT_DECRYPT key \
                 (SYMMETRIC_DEFAULT or RSA) or an ML-KEM key"
            ),
        )),
        _ => Err(Error::key_usage(
            name,
            format!(
                "{} keys cannot wrap age file keys; an age recipient needs an ENCRYPT_DECRYPT \
                 key (SYMMETRIC_DEFAULT or RSA) or an ML-KEM key",
                info.spec
            ),
        )),
    }
}

/// The key reference written into the strings: the ARN where the backend has one, else the
/// key ID (an alias could later point elsewhere; these do not).
fn key_reference(info: &KeyInfo) -> String {
    info.arn.clone().unwrap_or_else(|| info.key_id.clone())
}

/// The `age1keychain1…` recipient of key `name` in `keychain` (opened from `backend`).
/// Refused for keys that do not encrypt and for disabled or deleted keys.
pub async fn recipient_for(
    keychain: &Keychain,
    backend: &BackendUri,
    name: &str,
) -> Result<Recipient> {
    let info = keychain.describe(name).await?;
    let kind = wrapping_kind(&info)?;
    info.check_enabled()?;
    let wrapping = match kind {
        WrappingKind::Symmetric => Wrapping::Symmetric,
        WrappingKind::Rsa => Wrapping::RsaOaepSha256 {
            public_key: keychain.public_key(name).await?.to_der().to_vec(),
        },
        WrappingKind::MlKem => Wrapping::MlKem {
            public_key: keychain.public_key(name).await?.to_der().to_vec(),
        },
    };
    Recipient::new(canonical_backend(backend)?, key_reference(&info), wrapping)
}

/// The `AGE-PLUGIN-KEYCHAIN-1…` identity of key `name` in `keychain` (opened from
/// `backend`), with the same checks as [`recipient_for`].
pub async fn identity_for(
    keychain: &Keychain,
    backend: &BackendUri,
    name: &str,
) -> Result<Identity> {
    let info = keychain.describe(name).await?;
    wrapping_kind(&info)?;
    info.check_enabled()?;
    Identity::new(canonical_backend(backend)?, key_reference(&info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_awskms_uris_parse_back() {
        let parsed =
            BackendUri::parse("awskms://127.0.0.1:4566/?region=eu-west-1&profile=a%26b").unwrap();
        let canonical = canonical_backend(&parsed).unwrap();
        assert_eq!(
            canonical,
            "awskms:?endpoint=http://127.0.0.1:4566&region=eu-west-1&profile=a%26b"
        );
        assert_eq!(BackendUri::parse(&canonical).unwrap(), parsed);
        assert_eq!(
            canonical_backend(&BackendUri::parse("awskms").unwrap()).unwrap(),
            "awskms:"
        );
    }
}
