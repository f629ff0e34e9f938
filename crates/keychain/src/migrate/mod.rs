//! Moving a key from the software keystore to AWS KMS (feature `aws`) or a PKCS#11 token
//! (feature `pkcs11`) under the same name, with proof.
//!
//! [`migrate`] imports the software key's material into the [`Destination`] under
//! `alias/NAME` — into AWS KMS as a new `EXTERNAL` key (BYOK: the material wrapped locally
//! with the KMS wrapping key), onto a token with `C_CreateObject` (sensitive, never
//! extractable from then on, labelled NAME) — then proves that the new key is the software
//! key (below, "KMS" is whichever destination):
//!
//! | key | what is proven |
//! |---|---|
//! | RSA, EC, Ed25519 signing | the KMS public key equals the software key's; a message signed by KMS verifies with the software key's public key, and one signed by the software key verifies with the KMS public key and with KMS `Verify` (RSA: PKCS#1 v1.5 and PSS) |
//! | RSA encryption | the public keys are equal; OAEP ciphertexts made to either public key decrypt on the other side |
//! | EC key agreement | the public keys are equal; KMS `DeriveSharedSecret` with a fresh peer gives the secret a local ECDH computes with the software key's public key |
//! | HMAC | both sides compute the same MAC of a random message, and each verifies the other's |
//! | symmetric | KMS ciphertexts are opaque, so equality cannot be observed: it follows from importing exactly the exported bytes. What is proven is that KMS encrypts and decrypts with the imported key. |
//!
//! Where KMS refuses the import (a spec it cannot import, a region or policy that does not
//! allow it), the error says so and offers generate-and-switch: [`MigrateOptions::generate`]
//! creates a fresh KMS key of the same spec and usage under the name, tests it, and the
//! report says what must be re-signed or re-encrypted.
//!
//! Nothing is lost on failure: the source key is only read, never modified; a failed import
//! schedules the half-made KMS key for deletion; a failed proof deletes the alias and
//! schedules the new KMS key for deletion ([`PENDING_DAYS`] days, cancellable) — on a token,
//! which has no deletion window, destroys it — and the error says what was done.
//!
//! ```no_run
//! # #[cfg(feature = "aws")]
//! # async fn demo() -> keychain::Result<()> {
//! use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
//! use keychain::migrate::{MigrateOptions, migrate};
//! use keychain::software::{SoftwareBackend, SoftwareConfig};
//!
//! let from = SoftwareBackend::open(SoftwareConfig::new("/var/lib/keychain")).await?;
//! let to = AwsKmsBackend::new(AwsKmsConfig::new().region("us-east-1")).await?;
//! let report = migrate(&from, &to, "api-signing-key", &MigrateOptions::new()).await?;
//! for proof in &report.proofs {
//!     println!("proven: {}", proof.detail);
//! }
//! for step in &report.follow_up {
//!     println!("to do: {step}");
//! }
//! # Ok(()) }
//! ```

mod destination;
mod proof;

pub use self::destination::Destination;
use self::proof::{check_alias, prove_same_key, self_test};
use crate::backend::Backend;
use crate::key::{CreateKeyRequest, KeyFamily, KeyInfo, KeyUsage};
use crate::key_ref::{KeyRef, validate_key_name};
use crate::software::SoftwareBackend;
use crate::{Error, Result};

/// Days after which a KMS key made by a migration that failed its proof is deleted (the KMS
/// minimum; `CancelKeyDeletion` brings it back meanwhile).
pub const PENDING_DAYS: u32 = 7;

/// How to migrate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// Generate-and-switch: create a fresh KMS key of the same spec and usage under the
    /// name instead of importing the software key's material. The new key has other
    /// material: what the old key signed, encrypted or MACed must be redone (the report
    /// says what).
    pub generate: bool,
    /// The KMS key's description (default: the source key's, or one naming the source).
    pub description: Option<String>,
}

impl MigrateOptions {
    /// Import, with the default description.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets generate-and-switch.
    pub fn generate(mut self, generate: bool) -> Self {
        self.generate = generate;
        self
    }

    /// Sets the KMS key's description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// How the KMS key got its material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationMethod {
    /// The software key's material was imported: the KMS key is the same key.
    Imported,
    /// A fresh key was generated in KMS (generate-and-switch): a different key.
    Generated,
}

impl MigrationMethod {
    /// `imported` or `generated`.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationMethod::Imported => "imported",
            MigrationMethod::Generated => "generated",
        }
    }
}

impl std::fmt::Display for MigrationMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check a migration passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// A stable identifier: `alias`, `public-key`, `signature`, `mac`, `oaep`, `ecdh`,
    /// `round-trip`.
    pub check: &'static str,
    /// What was shown, in a sentence.
    pub detail: String,
}

/// What [`migrate`] did and proved.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The key name (`alias/NAME` in both backends).
    pub name: String,
    /// Imported or generated.
    pub method: MigrationMethod,
    /// The software key, as it was (it is not modified).
    pub source: KeyInfo,
    /// The new KMS key.
    pub destination: KeyInfo,
    /// The checks passed.
    pub proofs: Vec<Proof>,
    /// What the proofs cannot show, and other remarks.
    pub notes: Vec<String>,
    /// What the user must still do.
    pub follow_up: Vec<String>,
}

/// Moves the software key `name` (`NAME` or `alias/NAME`) to AWS KMS under the same name and
/// proves the result (see the [module documentation](self)).
///
/// Errors: the source key missing is [`Error::NotFound`]; disabled or pending deletion,
/// [`Error::InvalidKeyState`]; the name taken in KMS, [`Error::AlreadyExists`]; an import
/// KMS refuses keeps its kind and says that `generate` is the way out; a failed proof is
/// [`Error::Crypto`] (the new key's alias deleted and the key scheduled for deletion, as the
/// message says).
pub async fn migrate(
    from: &SoftwareBackend,
    to: &dyn Destination,
    name: &str,
    options: &MigrateOptions,
) -> Result<MigrationReport> {
    let place = to.place();
    let name = name.trim();
    let name = name.strip_prefix("alias/").unwrap_or(name);
    validate_key_name(name)?;
    let alias = format!("alias/{name}");
    let src = KeyRef::alias(name)?;

    let source = from.describe_key(&src).await?;
    source.check_enabled()?;
    let spec = source.spec;
    if !to.capabilities().key_specs.contains(&spec) {
        return Err(Error::unsupported(
            to.name(),
            format!("{spec} keys, so {alias} cannot move there"),
        ));
    }
    match to.describe_key(&src).await {
        Ok(existing) => {
            return Err(Error::AlreadyExists {
                what: format!(
                    "{alias} in {place} (key {}); a migration never replaces a key: delete \
                     that alias or migrate under another name",
                    existing.key_id
                ),
            });
        }
        Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }

    let mut notes = Vec::new();
    let mut request = CreateKeyRequest::new(spec).name(name).usage(source.usage);
    if to.keeps_descriptions_and_tags() {
        request = request.description(match &options.description {
            Some(d) => d.clone(),
            None if !source.description.is_empty() => source.description.clone(),
            None => format!(
                "migrated from the keychain software keystore (key {})",
                source.key_id
            ),
        });
        for (k, v) in &source.tags {
            match to.reserved_tag_prefix() {
                Some(prefix) if k.starts_with(prefix) => notes.push(format!(
                    "tag {k} not copied: the prefix {prefix} is reserved in {place}"
                )),
                _ => request = request.tag(k, v),
            }
        }
    } else {
        if options.description.is_some() {
            return Err(Error::unsupported(
                to.name(),
                "descriptions (a migrated key keeps none there)",
            ));
        }
        if !source.description.is_empty() || !source.tags.is_empty() {
            notes.push(format!(
                "the description and tags of the software key were not copied: {place} \
                 has no place for them"
            ));
        }
    }

    let method = if options.generate {
        MigrationMethod::Generated
    } else {
        MigrationMethod::Imported
    };
    let created = match method {
        MigrationMethod::Generated => to.create_key(&request).await?,
        MigrationMethod::Imported => {
            let material = from.export_key_material(&src).await?;
            let imported = to.import_material(&request, &material).await;
            drop(material);
            imported.map_err(|e| offer_generate(e, &alias, place))?
        }
    };
    let dst = KeyRef::key_id(&created.key_id)?;

    let proven = async {
        let mut proofs = vec![check_alias(to, &src, &created.key_id).await?];
        let mut extra = match method {
            MigrationMethod::Imported => prove_same_key(from, &src, to, &dst, &source).await?,
            MigrationMethod::Generated => self_test(to, &dst, &source).await?,
        };
        proofs.append(&mut extra.0);
        notes.append(&mut extra.1);
        Ok::<_, Error>(proofs)
    }
    .await;
    let proofs = match proven {
        Ok(p) => p,
        Err(e) => return Err(discard(to, &alias, &created.key_id, e).await),
    };
    let destination = to.describe_key(&dst).await?;
    let follow_up = follow_up(&source, &alias, method, place);
    Ok(MigrationReport {
        name: name.to_string(),
        method,
        source,
        destination,
        proofs,
        notes,
        follow_up,
    })
}

/// Whether KMS refused the import itself (so generating a key there may still work).
fn import_refused(err: &Error) -> bool {
    match err {
        Error::Unsupported { .. } | Error::ImportRefused { .. } => true,
        Error::AccessDenied { operation, .. } => {
            operation.contains("Import") || operation.contains("CreateKey")
        }
        _ => false,
    }
}

/// Adds the generate-and-switch offer to an import the destination refused.
fn offer_generate(err: Error, alias: &str, place: &str) -> Error {
    if !import_refused(&err) {
        return err;
    }
    err.with_note(&format!(
        "importing the software key's material into {place} is not possible here; to \
             switch anyway, migrate with generate (CLI: --generate): a fresh key of the \
             same spec under {alias}, whose signatures, ciphertexts and MACs differ from the \
             old key's, so those must be redone"
    ))
}

/// Undoes a migration whose proof failed ([`Destination::discard`]); the error says what
/// happened.
async fn discard(to: &dyn Destination, alias: &str, key_id: &str, err: Error) -> Error {
    let note = to.discard(alias, key_id).await;
    tracing::warn!(key_id, alias, "migration proof failed: {note}");
    err.with_note(&format!(
        "the migration is undone: {note}; the software key is unchanged"
    ))
}

/// What the user must still do.
fn follow_up(source: &KeyInfo, alias: &str, method: MigrationMethod, place: &str) -> Vec<String> {
    let mut steps = Vec::new();
    let symmetric = source.spec.family() == KeyFamily::Symmetric;
    match method {
        MigrationMethod::Imported if symmetric => {
            steps.push(format!(
                "ciphertexts made by the software keystore (including `keychain encrypt` \
                 files) are in keychain's own format and do not decrypt in {place}, even \
                 with the same key material: decrypt them with the software keystore and \
                 encrypt them again under {alias} in {place}"
            ));
            if source.versions > 1 {
                steps.push(format!(
                    "only the current version ({}) of the software key was imported; what \
                     older versions encrypted decrypts only with the software keystore",
                    source.versions
                ));
            }
        }
        MigrationMethod::Imported => {}
        MigrationMethod::Generated => match source.usage {
            KeyUsage::SignVerify => {
                steps.push(format!(
                    "the new key has a new public key: publish it (`keychain pubkey {alias}`) \
                     to every verifier"
                ));
                steps.push(
                    "signatures made by the software key do not verify with the new key: \
                     re-sign what must verify with it (certificates, tokens, artifacts) and \
                     keep trusting the old public key until they are replaced"
                        .into(),
                );
            }
            KeyUsage::EncryptDecrypt if symmetric => steps.push(format!(
                "data encrypted under the software key does not decrypt with the new key: \
                 decrypt it with the software keystore and encrypt it again under {alias} in \
                 {place}"
            )),
            KeyUsage::EncryptDecrypt => steps.push(format!(
                "senders must encrypt to the new public key (`keychain pubkey {alias}`); \
                 what was encrypted to the old public key decrypts only with the software \
                 key"
            )),
            KeyUsage::GenerateVerifyMac => steps.push(
                "MACs made by the software key do not verify with the new key: compute them \
                 again with the new key"
                    .into(),
            ),
            KeyUsage::KeyAgreement => steps.push(format!(
                "peers must use the new public key (`keychain pubkey {alias}`); secrets \
                 agreed with the old key cannot be derived with the new one"
            )),
            KeyUsage::EncapsulateDecapsulate => steps.push(format!(
                "senders must encapsulate to the new public key (`keychain pubkey {alias}`); \
                 ciphertexts made to the old public key decapsulate only with the software \
                 key"
            )),
        },
    }
    steps.push(format!(
        "point users of {alias} at {place} (its backend URI, or KEYCHAIN_BACKEND)"
    ));
    steps.push(format!(
        "the software key is unchanged{}: once nothing uses it, disable it and schedule its \
         deletion in the software keystore",
        if method == MigrationMethod::Imported {
            " and holds a second copy of the key material"
        } else {
            ""
        }
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeySpec;

    #[test]
    fn refused_imports_offer_generate_and_others_do_not() {
        let refused = Error::ImportRefused {
            operation: "CreateKey".into(),
            message: "CreateKey on alias/x rejected by AWS KMS (ValidationException): bad spec"
                .into(),
        };
        let e = offer_generate(refused, "alias/x", "AWS KMS");
        assert!(matches!(e, Error::ImportRefused { .. }));
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("--generate"), "{e}");
        // A message that merely reads like a refusal is not one: only the typed error is.
        let lookalike = Error::invalid_input(
            "CreateKey on alias/x rejected by AWS KMS (ValidationException): bad spec",
        );
        assert!(
            !offer_generate(lookalike, "alias/x", "AWS KMS")
                .to_string()
                .contains("generate")
        );
        let e = offer_generate(
            Error::unsupported("awskms", "ImportKeyMaterial on alias/x"),
            "alias/x",
            "AWS KMS",
        );
        assert!(e.to_string().contains("generate"), "{e}");
        let taken = Error::AlreadyExists {
            what: "alias/x".into(),
        };
        assert!(
            !offer_generate(taken, "alias/x", "AWS KMS")
                .to_string()
                .contains("generate")
        );
        let local = Error::invalid_input("the key material is not a P-256 PKCS#8 private key");
        assert!(
            !offer_generate(local, "alias/x", "AWS KMS")
                .to_string()
                .contains("generate")
        );
    }

    #[test]
    fn notes_keep_the_error_kind() {
        let e = Error::crypto("mismatch").with_note("undone");
        assert!(matches!(e, Error::Crypto { .. }));
        assert_eq!(e.to_string(), "cryptographic failure: mismatch (undone)");
    }

    #[test]
    fn follow_up_says_what_to_redo() {
        let mut info = KeyInfo::new("id", KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt);
        info.versions = 3;
        let steps = follow_up(&info, "alias/k", MigrationMethod::Imported, "AWS KMS").join("\n");
        assert!(steps.contains("encrypt them again"), "{steps}");
        assert!(steps.contains("version (3)"), "{steps}");
        let info = KeyInfo::new("id", KeySpec::EccNistP256, KeyUsage::SignVerify);
        let steps = follow_up(&info, "alias/k", MigrationMethod::Generated, "AWS KMS").join("\n");
        assert!(steps.contains("re-sign"), "{steps}");
        let steps = follow_up(&info, "alias/k", MigrationMethod::Imported, "AWS KMS").join("\n");
        assert!(!steps.contains("re-sign"), "{steps}");
        assert!(steps.contains("second copy"), "{steps}");
    }
}
