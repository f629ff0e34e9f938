//! Where a migration can put a key: what [`super::migrate`] needs of a backend beyond the
//! [`Backend`] trait — importing material, undoing a failed migration, and how the place is
//! named in messages. AWS KMS (feature `aws`) and PKCS#11 tokens (feature `pkcs11`) are
//! destinations.

use async_trait::async_trait;

use crate::Result;
use crate::algorithm::EncryptionAlgorithm;
use crate::backend::Backend;
use crate::key::{CreateKeyRequest, KeyInfo};
use crate::key_ref::KeyRef;
use crate::secret::Secret;

/// A backend a software key can be migrated into.
#[async_trait]
pub trait Destination: Backend {
    /// How messages name the place (`KMS`, `the PKCS#11 token`).
    fn place(&self) -> &'static str;

    /// Creates the key `request` describes with `material` as its key material (as
    /// [`crate::software::SoftwareBackend::export_key_material`] gives it).
    async fn import_material(
        &self,
        request: &CreateKeyRequest,
        material: &Secret,
    ) -> Result<KeyInfo>;

    /// Undoes a migration whose proof failed: the new key (id `key_id`, named `alias`) is
    /// made unusable as far as the place allows. Returns what was done, in a sentence.
    async fn discard(&self, alias: &str, key_id: &str) -> String;

    /// Whether keys there keep a description and tags.
    fn keeps_descriptions_and_tags(&self) -> bool {
        true
    }

    /// A tag prefix the place reserves (tags with it are not copied).
    fn reserved_tag_prefix(&self) -> Option<&'static str> {
        None
    }

    /// The RSA-OAEP variant the proof of an RSA encryption key uses.
    fn oaep_proof_algorithm(&self) -> EncryptionAlgorithm {
        EncryptionAlgorithm::RsaesOaepSha256
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl Destination for crate::awskms::AwsKmsBackend {
    fn place(&self) -> &'static str {
        "KMS"
    }

    async fn import_material(
        &self,
        request: &CreateKeyRequest,
        material: &Secret,
    ) -> Result<KeyInfo> {
        self.import_key(request, material, None).await
    }

    async fn discard(&self, alias: &str, key_id: &str) -> String {
        let alias_note = match self.delete_alias(alias).await {
            Ok(()) => format!("{alias} was deleted"),
            Err(e) => format!("{alias} could NOT be deleted ({e}); delete it by hand"),
        };
        let days = super::PENDING_DAYS;
        let key_note = match KeyRef::key_id(key_id) {
            Ok(k) => match self.schedule_key_deletion(&k, days).await {
                Ok(_) => {
                    format!("the new KMS key {key_id} is scheduled for deletion in {days} days")
                }
                Err(e) => format!(
                    "the new KMS key {key_id} could NOT be scheduled for deletion ({e}); \
                     delete it by hand"
                ),
            },
            Err(e) => format!("the new KMS key {key_id:?} is unusable as a reference ({e})"),
        };
        format!("{alias_note}, {key_note}")
    }

    fn reserved_tag_prefix(&self) -> Option<&'static str> {
        Some(crate::awskms::RESERVED_TAG_PREFIX)
    }
}

#[cfg(feature = "pkcs11")]
#[async_trait]
impl Destination for crate::pkcs11::Pkcs11Backend {
    fn place(&self) -> &'static str {
        "the PKCS#11 token"
    }

    async fn import_material(
        &self,
        request: &CreateKeyRequest,
        material: &Secret,
    ) -> Result<KeyInfo> {
        self.import_key(request, material).await
    }

    async fn discard(&self, alias: &str, key_id: &str) -> String {
        match KeyRef::key_id(key_id) {
            Ok(k) => match self.destroy_key(&k).await {
                Ok(()) => format!("the new key {alias} ({key_id}) was destroyed on the token"),
                Err(e) => format!(
                    "the new key {alias} ({key_id}) could NOT be destroyed ({e}); destroy it \
                     by hand (keychain key delete --now)"
                ),
            },
            Err(e) => format!("the new key {key_id:?} is unusable as a reference ({e})"),
        }
    }

    fn keeps_descriptions_and_tags(&self) -> bool {
        false
    }

    /// OAEP with SHA-1: what every token decrypts (SoftHSM 2.6 decrypts no other).
    fn oaep_proof_algorithm(&self) -> EncryptionAlgorithm {
        EncryptionAlgorithm::RsaesOaepSha1
    }
}
