//! recipient-v1: wrapping age file keys to `age1keychain1…` recipients.

use std::collections::HashSet;
use std::io;

use age_core::format::{FileKey, Stanza};
use age_core::secrecy::ExposeSecret;
use age_plugin::Callbacks;
use age_plugin::recipient::{Error, RecipientPluginV1};
use keychain::{EncryptionAlgorithm, KeyRef, PublicKey};

use crate::encoding::{PLUGIN_NAME, Recipient, Wrapping};
use crate::session::{Session, ask_age, plugin_message};
use crate::stanza::{KeychainStanza, Kind, context};

/// The recipient-v1 half of the plugin.
pub struct WrapPlugin {
    recipients: Vec<Recipient>,
    session: Session,
}

impl WrapPlugin {
    /// A plugin run with no recipient yet.
    pub fn new() -> io::Result<Self> {
        Ok(WrapPlugin {
            recipients: Vec::new(),
            session: Session::new()?,
        })
    }

    /// The stanza wrapping `file_key` to `recipient`.
    fn wrap(
        &mut self,
        recipient: &Recipient,
        file_key: &FileKey,
        callbacks: &mut impl Callbacks<Error>,
    ) -> keychain::Result<Stanza> {
        let file_key = file_key.expose_secret().as_slice();
        let (kind, wrapped) = match &recipient.wrapping {
            // The public key is in the recipient (RSA, ML-KEM): no backend, no credentials.
            Wrapping::RsaOaepSha256 { public_key } => (
                Kind::Rsa,
                PublicKey::from_der(public_key)?
                    .encrypt(file_key, EncryptionAlgorithm::RsaesOaepSha256)?,
            ),
            Wrapping::MlKem { public_key } => (
                Kind::MlKem,
                crate::mlkem::wrap(public_key, &recipient.key, file_key)?,
            ),
            Wrapping::Symmetric => {
                let keychain = self
                    .session
                    .backend(&recipient.backend, &mut |m| ask_age(callbacks, m))?;
                let key = KeyRef::parse(&recipient.key)?;
                let wrapped = self.session.block_on(keychain.backend().encrypt(
                    &key,
                    file_key,
                    EncryptionAlgorithm::SymmetricDefault,
                    &context(),
                ))?;
                (Kind::Symmetric, wrapped)
            }
        };
        Ok(KeychainStanza::new(kind, &recipient.key, wrapped).into_stanza())
    }
}

impl RecipientPluginV1 for WrapPlugin {
    fn add_recipient(
        &mut self,
        index: usize,
        plugin_name: &str,
        bytes: &[u8],
    ) -> Result<(), Error> {
        if plugin_name != PLUGIN_NAME {
            return Err(Error::Recipient {
                index,
                message: format!("not a {PLUGIN_NAME} recipient"),
            });
        }
        let recipient = Recipient::from_bytes(bytes).map_err(|e| Error::Recipient {
            index,
            message: plugin_message(&e),
        })?;
        self.recipients.push(recipient);
        Ok(())
    }

    fn add_identity(
        &mut self,
        index: usize,
        _plugin_name: &str,
        _bytes: &[u8],
    ) -> Result<(), Error> {
        Err(Error::Identity {
            index,
            message: "encrypt to the recipient (keychain age recipient NAME), not to an identity"
                .to_string(),
        })
    }

    fn labels(&mut self) -> HashSet<String> {
        HashSet::new()
    }

    fn wrap_file_keys(
        &mut self,
        file_keys: Vec<FileKey>,
        mut callbacks: impl Callbacks<Error>,
    ) -> io::Result<Result<Vec<Vec<Stanza>>, Vec<Error>>> {
        let recipients = std::mem::take(&mut self.recipients);
        let mut files = Vec::with_capacity(file_keys.len());
        let mut errors = Vec::new();
        for file_key in &file_keys {
            let mut stanzas = Vec::with_capacity(recipients.len());
            for (index, recipient) in recipients.iter().enumerate() {
                match self.wrap(recipient, file_key, &mut callbacks) {
                    Ok(stanza) => stanzas.push(stanza),
                    Err(e) => errors.push(Error::Recipient {
                        index,
                        message: plugin_message(&e),
                    }),
                }
            }
            files.push(stanzas);
        }
        self.session.close();
        Ok(if errors.is_empty() {
            Ok(files)
        } else {
            Err(errors)
        })
    }
}
