//! Ed25519ph (RFC 8032 HashEdDSA with SHA-512, KMS `ED25519_PH_SHA_512`): signing and
//! verifying a precomputed SHA-512 digest, which aws-lc does not offer. ed25519-dalek does the
//! curve arithmetic; the digest arrives as bytes, so it is handed over through a "hash" that
//! already holds its output.

use digest::consts::U64;
use digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// A SHA-512 digest computed elsewhere, presented as a finished hash.
#[derive(Clone)]
struct PrecomputedSha512([u8; 64]);

impl Default for PrecomputedSha512 {
    fn default() -> Self {
        PrecomputedSha512([0u8; 64])
    }
}

impl OutputSizeUser for PrecomputedSha512 {
    type OutputSize = U64;
}

impl Update for PrecomputedSha512 {
    // ed25519-dalek only finalises the prehash it is given; it never feeds it more input.
    fn update(&mut self, _data: &[u8]) {}
}

impl FixedOutput for PrecomputedSha512 {
    fn finalize_into(self, out: &mut Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

impl HashMarker for PrecomputedSha512 {}

fn prehash(digest: &[u8]) -> Result<PrecomputedSha512> {
    let bytes: [u8; 64] = digest.try_into().map_err(|_| {
        Error::invalid_input(format!(
            "ED25519_PH_SHA_512 needs a 64-byte SHA-512 digest, not {} bytes",
            digest.len()
        ))
    })?;
    Ok(PrecomputedSha512(bytes))
}

/// Signs a SHA-512 digest with the Ed25519 key whose 32-byte seed is given.
pub(crate) fn sign(seed: &[u8; 32], digest: &[u8]) -> Result<Vec<u8>> {
    let key = SigningKey::from_bytes(seed);
    let signature = key
        .sign_prehashed(prehash(digest)?, None)
        .map_err(|_| Error::crypto("Ed25519ph signing failed"))?;
    Ok(signature.to_bytes().to_vec())
}

/// Verifies an Ed25519ph signature over a SHA-512 digest. `Ok(false)` for a wrong signature
/// (or a signature of the wrong length); `Err` for a malformed public key or digest.
pub(crate) fn verify(public_key: &[u8], digest: &[u8], signature: &[u8]) -> Result<bool> {
    let key_bytes: &[u8; 32] = public_key
        .try_into()
        .map_err(|_| Error::invalid_input("Ed25519 public keys are 32 bytes"))?;
    let key = VerifyingKey::from_bytes(key_bytes)
        .map_err(|_| Error::invalid_input("not an Ed25519 public key"))?;
    let Ok(signature) = Signature::from_slice(signature) else {
        return Ok(false);
    };
    Ok(key
        .verify_prehashed_strict(prehash(digest)?, None, &signature)
        .is_ok())
}

/// Extracts the 32-byte seed from an Ed25519 PKCS#8 (v1 or v2) private key.
pub(crate) fn seed_from_pkcs8(der: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    use der::Decode;
    let info = pkcs8::PrivateKeyInfoRef::try_from(der)
        .map_err(|e| Error::crypto(format!("not a PKCS#8 Ed25519 key: {e}")))?;
    // The privateKey field holds a CurvePrivateKey: an OCTET STRING of the 32-byte seed.
    let inner = <&der::asn1::OctetStringRef>::from_der(info.private_key.as_bytes())
        .map_err(|e| Error::crypto(format!("not an Ed25519 private key: {e}")))?;
    let seed: [u8; 32] = inner
        .as_bytes()
        .try_into()
        .map_err(|_| Error::crypto("an Ed25519 seed is 32 bytes"))?;
    Ok(Zeroizing::new(seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hash;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032, section 7.3: the Ed25519ph test vector (message "abc").
    #[test]
    fn rfc8032_test_vector() {
        let seed: [u8; 32] =
            unhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
                .try_into()
                .unwrap();
        let public = unhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
        let expected = unhex(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
        );
        let digest = Hash::Sha512.digest(b"abc");
        let signature = sign(&seed, &digest).unwrap();
        assert_eq!(signature, expected);
        assert!(verify(&public, &digest, &signature).unwrap());
        let mut bad = signature.clone();
        bad[10] ^= 1;
        assert!(!verify(&public, &digest, &bad).unwrap());
        assert!(!verify(&public, &Hash::Sha512.digest(b"abd"), &signature).unwrap());
        assert!(verify(&public, &digest[..32], &signature).is_err());
        assert!(!verify(&public, &digest, &signature[..63]).unwrap());
    }
}
