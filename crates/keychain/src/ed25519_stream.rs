//! Pure Ed25519 (RFC 8032) over a streamed message, which aws-lc cannot do: signing reads the
//! message twice through ed25519-dalek's `raw_sign_byupdate`, verifying once through its
//! `verify_stream`. The curve arithmetic is ed25519-dalek's; the key is expanded from the seed
//! exactly as RFC 8032 says, so signatures are the same bytes aws-lc makes.
//!
//! Reading a file twice has one hazard: if it changes between the passes, the nonce
//! `r = H(prefix ‖ M)` of one message would be combined with the challenge of another, and two
//! such signatures reveal the private key. Each pass therefore also hashes the message with
//! SHA-256, and the second pass must see exactly the first pass's bytes, or no signature is made.

use aws_lc_rs::digest::{Context, SHA256};
use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign_byupdate};
use ed25519_dalek::{Sha512, Signature, SignatureError, SigningKey, VerifyingKey};
use std::cell::RefCell;

use crate::stream::MessageSource;
use crate::{Error, Result};

/// Signs the message `source` yields (read twice) with the Ed25519 key whose seed is given.
pub(crate) fn sign(seed: &[u8; 32], source: &mut MessageSource<'_>) -> Result<Vec<u8>> {
    let public = SigningKey::from_bytes(seed).verifying_key();
    let expanded = ExpandedSecretKey::from(seed);
    let source = RefCell::new(source);
    // The SHA-256 and length of the first pass, then the first failure.
    let first: RefCell<Option<(Vec<u8>, u64)>> = RefCell::new(None);
    let failure: RefCell<Option<Error>> = RefCell::new(None);
    let update = |h: &mut Sha512| -> std::result::Result<(), SignatureError> {
        let mut check = Context::new(&SHA256);
        let read = source.borrow_mut().pass(&mut |chunk| {
            digest::Update::update(h, chunk);
            check.update(chunk);
        });
        let fail = |e: Error| {
            *failure.borrow_mut() = Some(e);
            SignatureError::new()
        };
        let len = read.map_err(fail)?;
        let seen = (check.finish().as_ref().to_vec(), len);
        let mut first = first.borrow_mut();
        match first.as_ref() {
            None => *first = Some(seen),
            Some(expected) if *expected == seen => {}
            Some(_) => {
                return Err(fail(Error::invalid_input(
                    "the input changed while it was being signed (pure Ed25519 reads it twice); \
                     no signature was made",
                )));
            }
        }
        Ok(())
    };
    let signature = raw_sign_byupdate::<Sha512, _>(&expanded, update, &public);
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    let signature = signature.map_err(|_| Error::crypto("Ed25519 signing failed"))?;
    Ok(signature.to_bytes().to_vec())
}

/// Verifies a pure Ed25519 signature over the message `source` yields (read once).
/// `Ok(false)` for a wrong signature (or one of the wrong length); `Err` for a malformed
/// public key or a read error.
pub(crate) fn verify(
    public_key: &[u8],
    source: &mut MessageSource<'_>,
    signature: &[u8],
) -> Result<bool> {
    let key_bytes: &[u8; 32] = public_key
        .try_into()
        .map_err(|_| Error::invalid_input("Ed25519 public keys are 32 bytes"))?;
    let key = VerifyingKey::from_bytes(key_bytes)
        .map_err(|_| Error::invalid_input("not an Ed25519 public key"))?;
    let Ok(signature) = Signature::from_slice(signature) else {
        return Ok(false);
    };
    // A signature whose scalar is out of range is simply wrong; the message is still read,
    // so that a read error is reported as one.
    let mut verifier = key.verify_stream(&signature).ok();
    source.pass(&mut |chunk| {
        if let Some(v) = verifier.as_mut() {
            v.update(chunk);
        }
    })?;
    Ok(verifier.is_some_and(|v| v.finalize_and_verify().is_ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

    /// The streamed signature is the very signature aws-lc makes over the whole message, and
    /// each verifier accepts what the other signs.
    #[test]
    fn streamed_signatures_equal_aws_lc_signatures() {
        let seed = [7u8; 32];
        let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let public = key.public_key().as_ref().to_vec();
        for len in [0usize, 1, 65_535, 65_536, 200_001] {
            let message: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut cursor = std::io::Cursor::new(&message);
            let mut source = MessageSource::seekable(&mut cursor).unwrap();
            let streamed = sign(&seed, &mut source).unwrap();
            assert_eq!(streamed, key.sign(&message).as_ref(), "length {len}");
            let mut once = &message[..];
            assert!(verify(&public, &mut MessageSource::once(&mut once), &streamed).unwrap());
            assert!(
                UnparsedPublicKey::new(&ED25519, &public)
                    .verify(&message, &streamed)
                    .is_ok()
            );
            let mut bad = streamed.clone();
            bad[3] ^= 1;
            assert!(!verify(&public, &mut MessageSource::memory(&message), &bad).unwrap());
        }
    }

    /// A source that yields other bytes on its second pass gets no signature.
    #[test]
    fn an_input_that_changes_between_the_passes_is_not_signed() {
        struct Shifting {
            passes: u32,
            pos: u64,
        }
        impl std::io::Read for Shifting {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.pos >= 1000 {
                    return Ok(0);
                }
                let n = buf.len().min((1000 - self.pos) as usize);
                buf[..n].fill(self.passes as u8);
                self.pos += n as u64;
                Ok(n)
            }
        }
        impl std::io::Seek for Shifting {
            fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
                if to == std::io::SeekFrom::Start(0) {
                    self.passes += 1;
                }
                self.pos = 0;
                Ok(0)
            }
        }
        let mut shifting = Shifting { passes: 0, pos: 0 };
        let mut source = MessageSource::seekable(&mut shifting).unwrap();
        let err = sign(&[9u8; 32], &mut source).unwrap_err();
        assert!(err.to_string().contains("changed while"), "{err}");
        // A stream read once cannot give the second pass: an error, not a signature.
        let mut once: &[u8] = b"abc";
        let err = sign(&[9u8; 32], &mut MessageSource::once(&mut once)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    }
}
