//! OpenSSH certificates (`PROTOCOL.certkeys`) signed by a CA key in the backend, built with
//! `ssh-key`'s certificate builder.
//!
//! The builder signs through a synchronous `Signer`, and backends sign asynchronously; so the
//! certificate is built twice from the same fields and nonce: the first build hands over the
//! bytes to sign, the backend signs them, the second build takes that signature. The result
//! is then verified against the CA's public key before it is returned.

use std::sync::Mutex;

use ssh_key::certificate::{Builder, CertType};
use ssh_key::public::KeyData;
use ssh_key::{Certificate, Signature};
use ssh_signature::Signer;

use super::{RsaHash, sign_ssh, ssh_error, ssh_key_data};
use crate::{Error, Keychain, Result};

/// Whether a certificate identifies a user or a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateType {
    /// A user certificate, for `TrustedUserCAKeys`.
    User,
    /// A host certificate, for `@cert-authority` in `known_hosts`.
    Host,
}

/// The extensions OpenSSH's `ssh-keygen -s` gives a user certificate unless told otherwise.
pub const DEFAULT_USER_EXTENSIONS: [&str; 5] = [
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// What a certificate says.
#[derive(Debug, Clone)]
pub struct CertificateRequest {
    /// The subject's public key.
    pub public_key: KeyData,
    /// The key identity (logged by sshd, shown by `ssh-keygen -L`).
    pub key_id: String,
    /// The user names (or host names) it is valid for; at least one.
    pub principals: Vec<String>,
    /// User or host.
    pub cert_type: CertificateType,
    /// Valid from this Unix time (seconds).
    pub valid_after: u64,
    /// Valid until this Unix time (seconds).
    pub valid_before: u64,
    /// The serial number.
    pub serial: u64,
    /// Critical options (`force-command`, `source-address`…), name and value.
    pub critical_options: Vec<(String, String)>,
    /// Extensions (`permit-pty`…), name and value (empty for flags).
    pub extensions: Vec<(String, String)>,
    /// The certificate's comment (after it on its line).
    pub comment: String,
}

impl CertificateRequest {
    /// The builder for these fields with `nonce`.
    fn builder(&self, nonce: &[u8]) -> Result<Builder> {
        let bad = |e: ssh_key::Error| ssh_error("the certificate", e);
        if self.principals.is_empty() {
            return Err(Error::invalid_input(
                "a certificate needs at least one principal (a certificate for every principal \
                 is not issued)",
            ));
        }
        let mut builder = Builder::new(
            nonce.to_vec(),
            self.public_key.clone(),
            self.valid_after,
            self.valid_before,
        )
        .map_err(bad)?;
        builder.serial(self.serial).map_err(bad)?;
        builder
            .cert_type(match self.cert_type {
                CertificateType::User => CertType::User,
                CertificateType::Host => CertType::Host,
            })
            .map_err(bad)?;
        builder.key_id(self.key_id.clone()).map_err(bad)?;
        for principal in &self.principals {
            builder.valid_principal(principal.clone()).map_err(bad)?;
        }
        for (name, value) in &self.critical_options {
            builder
                .critical_option(name.clone(), value.clone())
                .map_err(bad)?;
        }
        for (name, value) in &self.extensions {
            builder
                .extension(name.clone(), value.clone())
                .map_err(bad)?;
        }
        builder.comment(self.comment.clone()).map_err(bad)?;
        Ok(builder)
    }
}

/// The first build's signer: keeps the bytes to sign and refuses to sign them.
struct Capture {
    ca: KeyData,
    to_sign: Mutex<Option<Vec<u8>>>,
}

impl Signer<Signature> for Capture {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Signature, ssh_signature::Error> {
        if let Ok(mut slot) = self.to_sign.lock() {
            *slot = Some(msg.to_vec());
        }
        Err(ssh_signature::Error::new())
    }
}

impl From<&Capture> for KeyData {
    fn from(signer: &Capture) -> KeyData {
        signer.ca.clone()
    }
}

/// The second build's signer: the backend's signature over exactly the captured bytes.
struct Signed {
    ca: KeyData,
    signed: Vec<u8>,
    signature: Signature,
}

impl Signer<Signature> for Signed {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Signature, ssh_signature::Error> {
        if msg == self.signed.as_slice() {
            Ok(self.signature.clone())
        } else {
            Err(ssh_signature::Error::new())
        }
    }
}

impl From<&Signed> for KeyData {
    fn from(signer: &Signed) -> KeyData {
        signer.ca.clone()
    }
}

/// Issues the certificate `request` describes, signed by the backend key `ca_key` (RSA CA
/// keys sign with `rsa-sha2-512`, as `ssh-keygen` does), with a fresh random nonce.
pub async fn issue_certificate(
    keychain: &Keychain,
    ca_key: &str,
    request: &CertificateRequest,
) -> Result<Certificate> {
    let ca = ssh_key_data(&keychain.public_key(ca_key).await?)?;
    let nonce = crate::random::random_bytes(Builder::RECOMMENDED_NONCE_SIZE * 2)?;

    let capture = Capture {
        ca: ca.clone(),
        to_sign: Mutex::new(None),
    };
    // The first build always stops at the signature; what matters is what it captured.
    let first = request.builder(&nonce)?.sign(&capture);
    let to_sign = capture
        .to_sign
        .lock()
        .ok()
        .and_then(|mut slot| slot.take())
        .ok_or_else(|| match first {
            Err(e) => ssh_error("the certificate", e),
            Ok(_) => Error::crypto("the certificate builder signed nothing"),
        })?;

    let signature = sign_ssh(keychain, ca_key, &ca, &to_sign, RsaHash::Sha512).await?;
    let signer = Signed {
        ca,
        signed: to_sign,
        signature,
    };
    let certificate = request
        .builder(&nonce)?
        .sign(&signer)
        .map_err(|e| ssh_error("the certificate", e))?;
    certificate.verify_signature().map_err(|e| {
        Error::crypto(format!(
            "the CA's certificate signature does not verify: {e}"
        ))
    })?;
    Ok(certificate)
}
