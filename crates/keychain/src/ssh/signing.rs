//! SSH signatures made by the backend: the algorithm OpenSSH names for each key type, and the
//! backend's signature re-encoded as an SSH signature blob (RFC 4253 §6.6, RFC 5656 §3.1.2,
//! RFC 8332, RFC 8709).

use ssh_encoding::Encode;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, Mpint, Signature};

use super::ssh_error;
use crate::signature::ecdsa_der_to_raw;
use crate::{Curve, Error, Keychain, Message, Result, SigningAlgorithm};

/// The hash of an RSA SSH signature: `rsa-sha2-256` or `rsa-sha2-512` (RFC 8332). SHA-1
/// (`ssh-rsa` signatures) is not offered: backends such as AWS KMS do not make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaHash {
    /// `rsa-sha2-256`: RSASSA-PKCS1-v1_5 with SHA-256.
    Sha256,
    /// `rsa-sha2-512`: RSASSA-PKCS1-v1_5 with SHA-512 (what `ssh-keygen -Y sign` uses).
    Sha512,
}

/// The backend algorithm and the SSH algorithm for a key of this OpenSSH type.
fn algorithms(key_data: &KeyData, rsa: RsaHash) -> Result<(SigningAlgorithm, Algorithm)> {
    Ok(match key_data {
        KeyData::Ed25519(_) => (SigningAlgorithm::Ed25519Sha512, Algorithm::Ed25519),
        KeyData::Ecdsa(point) => {
            let curve = point.curve();
            let algorithm = match curve {
                EcdsaCurve::NistP256 => SigningAlgorithm::EcdsaSha256,
                EcdsaCurve::NistP384 => SigningAlgorithm::EcdsaSha384,
                EcdsaCurve::NistP521 => SigningAlgorithm::EcdsaSha512,
            };
            (algorithm, Algorithm::Ecdsa { curve })
        }
        KeyData::Rsa(_) => match rsa {
            RsaHash::Sha256 => (
                SigningAlgorithm::RsassaPkcs1V15Sha256,
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256),
                },
            ),
            RsaHash::Sha512 => (
                SigningAlgorithm::RsassaPkcs1V15Sha512,
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512),
                },
            ),
        },
        other => {
            return Err(Error::unsupported(
                "SSH signing",
                format!("{} keys", other.algorithm()),
            ));
        }
    })
}

/// The curve of an OpenSSH ECDSA key type, in our vocabulary.
fn curve(curve: EcdsaCurve) -> Curve {
    match curve {
        EcdsaCurve::NistP256 => Curve::P256,
        EcdsaCurve::NistP384 => Curve::P384,
        EcdsaCurve::NistP521 => Curve::P521,
    }
}

/// Signs `data` (the bytes SSH signs: a session's authentication request, SSHSIG's signed
/// data, a certificate's body) with the backend key `key`, whose OpenSSH public key is
/// `key_data`. The backend hashes `data` itself (or, for Ed25519, signs it whole).
pub async fn sign_ssh(
    keychain: &Keychain,
    key: &str,
    key_data: &KeyData,
    data: &[u8],
    rsa: RsaHash,
) -> Result<Signature> {
    let (algorithm, ssh_algorithm) = algorithms(key_data, rsa)?;
    let signature = keychain
        .sign_with(key, Message::Raw(data), algorithm)
        .await?;
    let blob = match ssh_algorithm {
        // The SSH ECDSA blob is two mpints, r and s (RFC 5656 §3.1.2).
        Algorithm::Ecdsa { curve: c } => {
            let raw = ecdsa_der_to_raw(&signature, curve(c))?;
            let (r, s) = raw.split_at(raw.len() / 2);
            let mut blob = Vec::with_capacity(raw.len() + 10);
            for half in [r, s] {
                Mpint::from_positive_bytes(half)
                    .and_then(|m| m.encode(&mut blob).map_err(Into::into))
                    .map_err(|e| ssh_error("encoding the ECDSA signature", e))?;
            }
            blob
        }
        // Ed25519 and RSA signatures are carried as they are.
        _ => signature,
    };
    Signature::new(ssh_algorithm, blob).map_err(|e| ssh_error("the SSH signature", e))
}
