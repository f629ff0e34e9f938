//! Who may call the server: access keys, their secrets and the account each acts as.

use std::collections::HashMap;
use std::path::Path;

use aws_credential_types::Credentials as AwsCredentials;
use aws_smithy_runtime_api::client::identity::Identity;
use keychain::{Error, Result};
use zeroize::Zeroizing;

/// The access key the server accepts when no credentials are configured.
pub const TEST_ACCESS_KEY: &str = "test";
/// Its secret.
const TEST_SECRET: &str = "test";
/// The account it acts as.
pub const TEST_ACCOUNT: &str = "000000000000";

/// One caller: an access key id, its secret and its 12-digit account.
#[derive(Clone, serde::Deserialize)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key (never shown by `Debug`).
    pub secret_access_key: Zeroizing<String>,
    /// The 12-digit account id the caller's keys belong to.
    pub account_id: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// The callers a server accepts, by access key id.
#[derive(Debug, Clone)]
pub struct Credentials {
    by_access_key: HashMap<String, Accepted>,
    test_only: bool,
}

/// An accepted caller and the SigV4 signing identity made from its secret, built once when
/// the credentials are loaded rather than for every request checked.
#[derive(Clone)]
pub(crate) struct Accepted {
    pub(crate) credential: Credential,
    pub(crate) identity: Identity,
}

impl Accepted {
    fn new(credential: Credential) -> Self {
        let identity = AwsCredentials::new(
            &credential.access_key_id,
            credential.secret_access_key.as_str(),
            None,
            None,
            "keychain-server",
        )
        .into();
        Accepted {
            credential,
            identity,
        }
    }
}

impl std::fmt::Debug for Accepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The identity holds the secret: only the credential's redacted form is shown.
        self.credential.fmt(f)
    }
}

impl Credentials {
    /// `test`/`test` as account `000000000000`: what local emulators accept, and what the
    /// server accepts by default — on a loopback address only.
    pub fn loopback_test() -> Self {
        let test = Credential {
            access_key_id: TEST_ACCESS_KEY.to_string(),
            secret_access_key: Zeroizing::new(TEST_SECRET.to_string()),
            account_id: TEST_ACCOUNT.to_string(),
        };
        Credentials {
            by_access_key: HashMap::from([(test.access_key_id.clone(), Accepted::new(test))]),
            test_only: true,
        }
    }

    /// The given callers. Each access key id must be unique and non-empty, each secret
    /// non-empty and each account 12 digits.
    pub fn new(list: Vec<Credential>) -> Result<Self> {
        if list.is_empty() {
            return Err(Error::invalid_input("the credentials list is empty"));
        }
        let mut by_access_key = HashMap::new();
        for c in list {
            if c.access_key_id.is_empty()
                || !c.access_key_id.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(Error::invalid_input(format!(
                    "access key id {:?} must be non-empty letters and digits",
                    c.access_key_id
                )));
            }
            if c.secret_access_key.is_empty() {
                return Err(Error::invalid_input(format!(
                    "the secret of access key {} is empty",
                    c.access_key_id
                )));
            }
            if c.account_id.len() != 12 || !c.account_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid_input(format!(
                    "account id {:?} of access key {} is not 12 digits",
                    c.account_id, c.access_key_id
                )));
            }
            let id = c.access_key_id.clone();
            if by_access_key.insert(id.clone(), Accepted::new(c)).is_some() {
                return Err(Error::invalid_input(format!(
                    "access key id {id} is listed twice"
                )));
            }
        }
        Ok(Credentials {
            by_access_key,
            test_only: false,
        })
    }

    /// Reads a JSON list of `{"access_key_id", "secret_access_key", "account_id"}`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Error::io(format!("reading credentials {}", path.display()), e))?,
        );
        let list: Vec<Credential> = serde_json::from_str(&text).map_err(|e| {
            Error::invalid_input(format!(
                "credentials {}: expected a JSON list of {{\"access_key_id\", \
                 \"secret_access_key\", \"account_id\"}} (line {}, column {})",
                path.display(),
                e.line(),
                e.column()
            ))
        })?;
        Self::new(list)
    }

    /// Whether these are the default test credentials.
    pub fn is_test_only(&self) -> bool {
        self.test_only
    }

    pub(crate) fn get(&self, access_key_id: &str) -> Option<&Accepted> {
        self.by_access_key.get(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lists_are_refused() {
        let c = |id: &str, secret: &str, account: &str| Credential {
            access_key_id: id.into(),
            secret_access_key: Zeroizing::new(secret.into()),
            account_id: account.into(),
        };
        assert!(Credentials::new(vec![]).is_err());
        assert!(Credentials::new(vec![c("AK", "s", "1234")]).is_err());
        assert!(Credentials::new(vec![c("AK", "", "123456789012")]).is_err());
        assert!(Credentials::new(vec![c("A K", "s", "123456789012")]).is_err());
        assert!(
            Credentials::new(vec![
                c("AK", "s", "123456789012"),
                c("AK", "t", "123456789012")
            ])
            .is_err()
        );
        let ok = Credentials::new(vec![c("AK", "s", "123456789012")]);
        assert!(ok.is_ok_and(|c| c.get("AK").is_some() && !c.is_test_only()));
        assert!(!format!("{:?}", c("AK", "hunter2", "123456789012")).contains("hunter2"));
    }
}
