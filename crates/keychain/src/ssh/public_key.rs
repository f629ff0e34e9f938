//! Backend public keys as OpenSSH public keys: `ssh-ed25519`, `ecdsa-sha2-nistp256/384/521`
//! and `ssh-rsa` key blobs, and the one-line `authorized_keys` form.

use der::Decode;
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData, RsaPublicKey};
use ssh_key::{Mpint, PublicKey as SshPublicKey};

use super::ssh_error;
use crate::public_key::RsaPublicKeyDer;
use crate::{Curve, Error, PublicKey, PublicKeyKind, Result};

/// The OpenSSH key blob of a public key. Keys OpenSSH has no encoding for (secp256k1,
/// ML-DSA) are [`Error::Unsupported`].
pub fn ssh_key_data(public_key: &PublicKey) -> Result<KeyData> {
    let raw = public_key.raw_key();
    match public_key.kind() {
        PublicKeyKind::Ed25519 => {
            let bytes: [u8; 32] = raw
                .try_into()
                .map_err(|_| Error::invalid_input("an Ed25519 public key is 32 bytes"))?;
            Ok(KeyData::Ed25519(Ed25519PublicKey(bytes)))
        }
        PublicKeyKind::Ec(Curve::P256 | Curve::P384 | Curve::P521) => {
            let point = EcdsaPublicKey::from_sec1_bytes(raw)
                .map_err(|e| ssh_error("the EC public key", e))?;
            Ok(KeyData::Ecdsa(point))
        }
        PublicKeyKind::Rsa { .. } => {
            let rsa = RsaPublicKeyDer::from_der(raw)
                .map_err(|e| Error::invalid_input(format!("the RSA public key: {e}")))?;
            let mpint = |bytes: &[u8]| {
                Mpint::from_positive_bytes(bytes).map_err(|e| ssh_error("the RSA public key", e))
            };
            Ok(KeyData::Rsa(RsaPublicKey {
                e: mpint(rsa.public_exponent.as_bytes())?,
                n: mpint(rsa.modulus.as_bytes())?,
            }))
        }
        other => Err(Error::unsupported(
            "OpenSSH",
            format!(
                "{} keys (SSH has Ed25519, ECDSA P-256/384/521 and RSA)",
                kind_name(other)
            ),
        )),
    }
}

/// The name of a key type in messages.
fn kind_name(kind: PublicKeyKind) -> String {
    match kind {
        PublicKeyKind::Rsa { bits } => format!("RSA-{bits}"),
        PublicKeyKind::Ec(curve) => curve.to_string(),
        PublicKeyKind::Ed25519 => "Ed25519".to_string(),
        PublicKeyKind::MlDsa(level) => format!("ML-DSA-{level}"),
        PublicKeyKind::MlKem(level) => format!("ML-KEM-{level}"),
    }
}

/// The OpenSSH public-key line (`ssh-ed25519 AAAA… comment`), without a line break. The
/// comment is the key's name; control characters (a line break would make two lines of
/// `authorized_keys` out of one) are refused.
pub fn openssh_public_key(public_key: &PublicKey, comment: &str) -> Result<String> {
    if comment.chars().any(crate::is_control_or_invisible) {
        return Err(Error::invalid_input(
            "an OpenSSH public-key comment may not hold control characters",
        ));
    }
    SshPublicKey::new(ssh_key_data(public_key)?, comment)
        .to_openssh()
        .map_err(|e| ssh_error("encoding the OpenSSH public key", e))
}
