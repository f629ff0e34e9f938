//! Key agreement (ECDH), as AWS KMS `DeriveSharedSecret` does it: the algorithm, the checks a
//! peer's public key must pass before any private key is touched, and the computation on
//! aws-lc for the backends that hold the private half.
//!
//! The shared secret is the raw output of the Elliptic Curve Cryptography Cofactor
//! Diffie-Hellman primitive (NIST SP 800-56A): the x-coordinate of the shared point, as many
//! bytes as the curve's field elements (32, 48 or 66). It is no key yet: both sides feed it to
//! a key derivation function (NIST SP 800-56C) before using it.

use aws_lc_rs::agreement::{self as lc, ECDH_P256, ECDH_P384, ECDH_P521, UnparsedPublicKey};

use crate::key::{Curve, KeyInfo};
use crate::macros::kms_enum;
use crate::public_key::{PublicKey, PublicKeyKind};
use crate::secret::Secret;
use crate::{Error, Result};

kms_enum! {
    /// A key agreement algorithm, in the AWS KMS vocabulary.
    pub enum KeyAgreementAlgorithm {
        /// Elliptic Curve Cryptography Cofactor Diffie-Hellman (NIST SP 800-56A): the raw
        /// x-coordinate of the shared point.
        Ecdh => "ECDH",
    }
}

/// The curves a KEY_AGREEMENT key can be on: the NIST curves (AWS KMS keeps secp256k1 for
/// signing).
pub(crate) fn ecdh_algorithm(curve: Curve) -> Result<&'static lc::Algorithm> {
    match curve {
        Curve::P256 => Ok(&ECDH_P256),
        Curve::P384 => Ok(&ECDH_P384),
        Curve::P521 => Ok(&ECDH_P521),
        Curve::Secp256k1 | Curve::Ed25519 => Err(Error::invalid_input(format!(
            "{} keys do not do key agreement; only P-256, P-384 and P-521 keys do",
            curve.jose_name()
        ))),
    }
}

/// The peer's public key `der` (a DER SubjectPublicKeyInfo), parsed and checked against the
/// key `info` it is to meet, which is on `curve`: a malformed SPKI, a point off its curve, a
/// key of another type or on another curve is [`Error::InvalidInput`] naming what is wrong.
pub(crate) fn peer_public_key(info: &KeyInfo, curve: Curve, der: &[u8]) -> Result<PublicKey> {
    let peer = PublicKey::from_der(der).map_err(|e| match e {
        Error::InvalidInput { message } => {
            Error::invalid_input(match message.strip_prefix("invalid public key: ") {
                Some(why) => format!("invalid peer public key: {why}"),
                None => format!("the peer's public key: {message}"),
            })
        }
        other => other,
    })?;
    check_peer(info, curve, &peer)?;
    Ok(peer)
}

/// Checks that the parsed public key `peer` is on `curve`, the curve of the key `info`.
pub(crate) fn check_peer(info: &KeyInfo, curve: Curve, peer: &PublicKey) -> Result<()> {
    match peer.kind() {
        PublicKeyKind::Ec(peer_curve) if peer_curve == curve => Ok(()),
        PublicKeyKind::Ec(peer_curve) => Err(Error::invalid_input(format!(
            "the peer's public key is on {}, the key {} on {}: both must be on the same curve",
            peer_curve.jose_name(),
            info.display_name(),
            curve.jose_name()
        ))),
        _ => Err(Error::invalid_input(format!(
            "the peer's public key is not an EC key; ECDH with {} needs a {} public key",
            info.display_name(),
            curve.jose_name()
        ))),
    }
}

/// ECDH of `private` (on `curve`) with `peer` (checked to be on the same curve): the raw
/// x-coordinate, zeroized on drop.
pub(crate) fn agree(private: &lc::PrivateKey, curve: Curve, peer: &PublicKey) -> Result<Secret> {
    let algorithm = ecdh_algorithm(curve)?;
    let secret = lc::agree(
        private,
        UnparsedPublicKey::new(algorithm, peer.raw_key()),
        Error::crypto(format!("ECDH on {} failed", curve.jose_name())),
        |shared| Ok(Secret::new(shared.to_vec())),
    )?;
    if secret.len() != curve.field_len() {
        return Err(Error::crypto(format!(
            "ECDH on {} gave {} bytes, not {}",
            curve.jose_name(),
            secret.len(),
            curve.field_len()
        )));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{KeySpec, KeyUsage};
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};

    fn pair(curve: Curve) -> (lc::PrivateKey, PublicKey) {
        let private = lc::PrivateKey::generate(ecdh_algorithm(curve).unwrap()).unwrap();
        let der: PublicKeyX509Der<'static> =
            private.compute_public_key().unwrap().as_der().unwrap();
        (private, PublicKey::from_der(der.as_ref()).unwrap())
    }

    #[test]
    fn both_sides_agree_on_the_x_coordinate() {
        for curve in [Curve::P256, Curve::P384, Curve::P521] {
            let (a, a_pub) = pair(curve);
            let (b, b_pub) = pair(curve);
            let ab = agree(&a, curve, &b_pub).unwrap();
            let ba = agree(&b, curve, &a_pub).unwrap();
            assert_eq!(ab.expose(), ba.expose(), "{curve}");
            assert_eq!(ab.len(), curve.field_len(), "{curve}");
        }
    }

    #[test]
    fn peers_on_other_curves_or_malformed_are_refused() {
        let info = KeyInfo::new("k", KeySpec::EccNistP256, KeyUsage::KeyAgreement);
        let (_, p384) = pair(Curve::P384);
        let err = peer_public_key(&info, Curve::P256, p384.to_der()).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains("P-384"), "{err}");
        let (_, p256) = pair(Curve::P256);
        let der = p256.to_der();
        assert!(peer_public_key(&info, Curve::P256, der).is_ok());
        let err = peer_public_key(&info, Curve::P256, &der[..der.len() - 1]).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
        assert!(err.to_string().contains("peer public key"), "{err}");
        // The point's last byte changed: off the curve.
        let mut off = der.to_vec();
        if let Some(b) = off.last_mut() {
            *b ^= 1;
        }
        assert!(matches!(
            peer_public_key(&info, Curve::P256, &off),
            Err(Error::InvalidInput { .. })
        ));
        assert!(ecdh_algorithm(Curve::Secp256k1).is_err());
    }
}
