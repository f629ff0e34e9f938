//! Ed25519ph (RFC 8032 HashEdDSA with SHA-512, KMS `ED25519_PH_SHA_512`), which aws-lc does
//! not offer, in AWS KMS's meaning: what is signed is a 64-byte SHA-512 digest `D` of the
//! caller's message, and `D` is the HashEdDSA *message* — the signature's own prehash is
//! SHA-512(D). KMS hashes a `DIGEST` input again for this algorithm ("the input is hashed
//! twice: once by you and once by KMS"), so every backend and every verifier here does the
//! same, and a signature made by one verifies with all of them and with any RFC 8032
//! Ed25519ph verifier given `D` as the message.
//!
//! ed25519-dalek does the curve arithmetic; the prehash SHA-512(D) is computed here and handed
//! over through a "hash" that already holds its output.

use digest::consts::U64;
use digest::{FixedOutput, HashMarker, Output, OutputSizeUser, Update};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::{Error, Hash, Result};

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

/// The HashEdDSA prehash of a 64-byte digest `D`: SHA-512(D), as KMS computes it. Any other
/// length is refused: KMS takes only 64 bytes with `MessageType=DIGEST` here.
fn prehash(digest: &[u8]) -> Result<PrecomputedSha512> {
    if digest.len() != 64 {
        return Err(Error::invalid_input(format!(
            "ED25519_PH_SHA_512 needs a 64-byte SHA-512 digest, not {} bytes",
            digest.len()
        )));
    }
    let bytes: [u8; 64] = Hash::Sha512
        .digest(digest)
        .try_into()
        .map_err(|_| Error::crypto("SHA-512 output is not 64 bytes"))?;
    Ok(PrecomputedSha512(bytes))
}

/// Signs the 64-byte digest `D` with the Ed25519 key whose 32-byte seed is given: the
/// Ed25519ph signature of the message `D` (its prehash is SHA-512(D)).
pub(crate) fn sign(seed: &[u8; 32], digest: &[u8]) -> Result<Vec<u8>> {
    sign_prehash(seed, prehash(digest)?)
}

fn sign_prehash(seed: &[u8; 32], prehash: PrecomputedSha512) -> Result<Vec<u8>> {
    let key = SigningKey::from_bytes(seed);
    let signature = key
        .sign_prehashed(prehash, None)
        .map_err(|_| Error::crypto("Ed25519ph signing failed"))?;
    Ok(signature.to_bytes().to_vec())
}

/// Verifies an Ed25519ph signature of the message `D`, a 64-byte digest (prehash
/// SHA-512(D)). `Ok(false)` for a wrong signature (or a signature of the wrong length); `Err`
/// for a malformed public key or a digest that is not 64 bytes.
pub(crate) fn verify(public_key: &[u8], digest: &[u8], signature: &[u8]) -> Result<bool> {
    let prehash = prehash(digest)?;
    verify_prehash(public_key, prehash, signature)
}

fn verify_prehash(public_key: &[u8], prehash: PrecomputedSha512, signature: &[u8]) -> Result<bool> {
    let key_bytes: &[u8; 32] = public_key
        .try_into()
        .map_err(|_| Error::invalid_input("Ed25519 public keys are 32 bytes"))?;
    let key = VerifyingKey::from_bytes(key_bytes)
        .map_err(|_| Error::invalid_input("not an Ed25519 public key"))?;
    let Ok(signature) = Signature::from_slice(signature) else {
        return Ok(false);
    };
    Ok(key
        .verify_prehashed_strict(prehash, None, &signature)
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

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8032, section 7.3: the Ed25519ph test vector (message "abc"), through the
    /// primitive that takes the prehash itself.
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
        let prehash = || PrecomputedSha512(Hash::Sha512.digest(b"abc").try_into().unwrap());
        let signature = sign_prehash(&seed, prehash()).unwrap();
        assert_eq!(signature, expected);
        assert!(verify_prehash(&public, prehash(), &signature).unwrap());
        let mut bad = signature.clone();
        bad[10] ^= 1;
        assert!(!verify_prehash(&public, prehash(), &bad).unwrap());
        assert!(!verify_prehash(&public, prehash(), &signature[..63]).unwrap());
    }

    /// A 64-byte digest `D` is the HashEdDSA message: the prehash signed is SHA-512(D), never
    /// `D` itself (KMS hashes a DIGEST input again for ED25519_PH_SHA_512).
    #[test]
    fn a_digest_is_the_message_and_is_hashed_again() {
        let seed: [u8; 32] =
            unhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
                .try_into()
                .unwrap();
        let public = unhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
        let digest = Hash::Sha512.digest(b"abc");
        let as_message = || PrecomputedSha512(Hash::Sha512.digest(&digest).try_into().unwrap());
        let as_prehash = || PrecomputedSha512(digest.clone().try_into().unwrap());
        let signature = sign(&seed, &digest).unwrap();
        assert_eq!(signature, sign_prehash(&seed, as_message()).unwrap());
        assert_ne!(signature, sign_prehash(&seed, as_prehash()).unwrap());
        assert!(verify(&public, &digest, &signature).unwrap());
        assert!(verify_prehash(&public, as_message(), &signature).unwrap());
        assert!(!verify_prehash(&public, as_prehash(), &signature).unwrap());
        // The RFC 8032 signature of "abc" has SHA-512("abc") as its prehash: in KMS's
        // meaning it is not a signature of the digest SHA-512("abc").
        let rfc = sign_prehash(&seed, as_prehash()).unwrap();
        assert!(!verify(&public, &digest, &rfc).unwrap());
        assert!(!verify(&public, &Hash::Sha512.digest(b"abd"), &signature).unwrap());
        assert!(verify(&public, &digest[..32], &signature).is_err());
        assert!(sign(&seed, &digest[..63]).is_err());
        assert!(!verify(&public, &digest, &signature[..63]).unwrap());
    }
}
