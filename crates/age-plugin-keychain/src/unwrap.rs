//! identity-v1: unwrapping age file keys with `AGE-PLUGIN-KEYCHAIN-1…` identities. Every
//! unwrap goes to the backend, which holds the key.

use std::collections::HashMap;
use std::io;

use age_core::format::{FileKey, Stanza};
use age_plugin::Callbacks;
use age_plugin::identity::{Error, IdentityPluginV1};
use keychain::{EncryptionAlgorithm, EncryptionContext, KeyRef};

use crate::encoding::{Identity, PLUGIN_NAME};
use crate::mlkem;
use crate::session::{Session, ask_age, plugin_message};
use crate::stanza::{FILE_KEY_LEN, KeychainStanza, Kind, context, key_tag};

/// The identity-v1 half of the plugin.
pub struct UnwrapPlugin {
    identities: Vec<(Identity, String)>,
    session: Session,
}

/// The age file key of an unwrapped plaintext, which must be [`FILE_KEY_LEN`] bytes.
fn file_key_from(plaintext: &[u8]) -> keychain::Result<FileKey> {
    FileKey::try_init_with_mut(|file_key| {
        if plaintext.len() == FILE_KEY_LEN {
            file_key.copy_from_slice(plaintext);
            Ok(())
        } else {
            Err(keychain::Error::crypto(format!(
                "the unwrapped file key is {} bytes, not {FILE_KEY_LEN}",
                plaintext.len()
            )))
        }
    })
}

impl UnwrapPlugin {
    /// A plugin run with no identity yet.
    pub fn new() -> io::Result<Self> {
        Ok(UnwrapPlugin {
            identities: Vec::new(),
            session: Session::new()?,
        })
    }

    /// The file key in `stanza`, unwrapped by the backend with `identity`'s key.
    fn unwrap(
        &mut self,
        identity: &Identity,
        stanza: &KeychainStanza,
        callbacks: &mut impl Callbacks<Error>,
    ) -> keychain::Result<FileKey> {
        let keychain = self
            .session
            .backend(&identity.backend, &mut |m| ask_age(callbacks, m))?;
        let key = KeyRef::parse(&identity.key)?;
        let (algorithm, context) = match stanza.kind {
            Kind::Symmetric => (EncryptionAlgorithm::SymmetricDefault, context()),
            Kind::Rsa => (
                EncryptionAlgorithm::RsaesOaepSha256,
                EncryptionContext::new(),
            ),
            Kind::MlKem => {
                // The backend decapsulates (checking the key is an enabled ML-KEM key and the
                // ciphertext's length); the file key is opened here with the secret.
                let (ciphertext, sealed) = mlkem::split_body(&stanza.body)?;
                let secret = self
                    .session
                    .block_on(keychain.decapsulate(&identity.key, ciphertext))?;
                let plaintext = mlkem::unseal(&secret, ciphertext, sealed, &identity.key)?;
                return file_key_from(&plaintext);
            }
        };
        let plaintext = self.session.block_on(keychain.backend().decrypt(
            Some(&key),
            &stanza.body,
            algorithm,
            &context,
        ))?;
        file_key_from(plaintext.expose())
    }

    /// The file key of one file, or the errors of every stanza of ours that was tried;
    /// `None` when no stanza is for one of our identities.
    fn unwrap_file(
        &mut self,
        file_index: usize,
        stanzas: &[Stanza],
        callbacks: &mut impl Callbacks<Error>,
    ) -> Option<Result<FileKey, Vec<Error>>> {
        let identities = self.identities.clone();
        let mut errors = Vec::new();
        for (stanza_index, stanza) in stanzas.iter().enumerate() {
            // Other recipients' stanzas (X25519, other plugins) are skipped, not the end.
            let Some(parsed) = KeychainStanza::parse(stanza) else {
                continue;
            };
            let ours = match parsed {
                Ok(ours) => ours,
                Err(message) => {
                    errors.push(Error::Stanza {
                        file_index,
                        stanza_index,
                        message,
                    });
                    continue;
                }
            };
            for (index, (identity, tag)) in identities.iter().enumerate() {
                if *tag != ours.tag {
                    continue;
                }
                match self.unwrap(identity, &ours, callbacks) {
                    Ok(file_key) => return Some(Ok(file_key)),
                    Err(e) => errors.push(Error::Identity {
                        index,
                        message: plugin_message(&e),
                    }),
                }
            }
        }
        (!errors.is_empty()).then_some(Err(errors))
    }
}

impl IdentityPluginV1 for UnwrapPlugin {
    fn add_identity(&mut self, index: usize, plugin_name: &str, bytes: &[u8]) -> Result<(), Error> {
        if plugin_name != PLUGIN_NAME {
            return Err(Error::Identity {
                index,
                message: format!("not a {PLUGIN_NAME} identity"),
            });
        }
        let identity = Identity::from_bytes(bytes).map_err(|e| Error::Identity {
            index,
            message: plugin_message(&e),
        })?;
        let tag = key_tag(&identity.key);
        self.identities.push((identity, tag));
        Ok(())
    }

    fn unwrap_file_keys(
        &mut self,
        files: Vec<Vec<Stanza>>,
        mut callbacks: impl Callbacks<Error>,
    ) -> io::Result<HashMap<usize, Result<FileKey, Vec<Error>>>> {
        let mut file_keys = HashMap::with_capacity(files.len());
        for (file_index, stanzas) in files.iter().enumerate() {
            if let Some(result) = self.unwrap_file(file_index, stanzas, &mut callbacks) {
                file_keys.insert(file_index, result);
            }
        }
        self.session.close();
        Ok(file_keys)
    }
}
