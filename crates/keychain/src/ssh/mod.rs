//! SSH from backend keys: OpenSSH public-key lines, SSHSIG file signatures
//! (`ssh-keygen -Y sign` compatible), OpenSSH certificates signed by a CA key in the backend,
//! and an SSH agent that serves backend keys without ever holding their private half.
//!
//! OpenSSH knows Ed25519, ECDSA on P-256/384/521 and RSA; secp256k1 and ML-DSA keys have no
//! OpenSSH encoding and are refused. RSA signs with `rsa-sha2-256` or `rsa-sha2-512`: backends
//! (like AWS KMS) make no SHA-1 signatures, so the legacy `ssh-rsa` signature is never made.
//!
//! The encodings come from the `ssh-key` crate and the agent protocol from `ssh-agent-lib`;
//! this module only maps backend keys and signatures onto them.

mod agent;
mod certificate;
mod public_key;
mod signing;
mod sshsig;

pub use agent::{Agent, MAX_MESSAGE, ServedKey};
pub use certificate::{
    CertificateRequest, CertificateType, DEFAULT_USER_EXTENSIONS, issue_certificate,
};
pub use public_key::{openssh_public_key, ssh_key_data};
pub use signing::{RsaHash, sign_ssh};
pub use sshsig::{SSHSIG_HASH, sign_sshsig};

/// The `ssh-key` crate whose types this module's API uses (the 0.6 line, as `ssh-agent-lib`).
pub use ssh_key;

use crate::Error;

/// An `ssh-key` error as ours: what it says about an encoding is bad input.
pub(crate) fn ssh_error(context: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("{context}: {e}"))
}
