//! Wrapping a file key to an ML-KEM key: encapsulate to the public key carried in the
//! recipient, derive a ChaCha20-Poly1305 key from the shared secret with HKDF-SHA-256, and
//! seal the 16-byte file key under it. The stanza body is the KEM ciphertext followed by the
//! sealed file key (16 bytes and a 16-byte tag).
//!
//! HKDF's salt is the KEM ciphertext and its info is [`LABEL`], a zero byte and the key
//! reference, so the derived key is bound to this stanza's encapsulation and to the key it
//! was made for. The AEAD nonce is all zeros, as in age's own X25519 stanza: every
//! encapsulation yields a fresh shared secret, so no key ever seals twice. The tag is what
//! tells a right decapsulation from a wrong one: ML-KEM's implicit rejection turns a
//! tampered ciphertext into a pseudo-random secret, never an error.

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use keychain::{Error, PublicKey, Result, Secret};
use zeroize::Zeroizing;

use crate::stanza::FILE_KEY_LEN;

/// The HKDF info label: the purpose and version of the derived key.
pub const LABEL: &str = "age-plugin-keychain/mlkem/v1";
/// The ChaCha20-Poly1305 tag length.
const TAG_LEN: usize = 16;
/// The length of the sealed file key at the end of the body.
pub const SEALED_LEN: usize = FILE_KEY_LEN + TAG_LEN;
/// The ML-KEM ciphertext lengths of ML-KEM-512, -768 and -1024 (FIPS 203, table 3).
const CIPHERTEXT_LENS: [usize; 3] = [768, 1088, 1568];

/// The AEAD key of one encapsulation, bound to its ciphertext and the key reference.
fn aead_key(shared_secret: &[u8], ciphertext: &[u8], key: &str) -> Result<LessSafeKey> {
    let info = [LABEL.as_bytes(), &[0], key.as_bytes()];
    let prk = Salt::new(HKDF_SHA256, ciphertext).extract(shared_secret);
    let okm = prk
        .expand(&info, &CHACHA20_POLY1305)
        .map_err(|_| Error::crypto("HKDF-SHA-256 could not derive the ML-KEM wrapping key"))?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

/// The stanza body wrapping `file_key` to the ML-KEM public key `public_key` (DER) of the
/// key `key`: the KEM ciphertext, then the sealed file key.
pub fn wrap(public_key: &[u8], key: &str, file_key: &[u8]) -> Result<Vec<u8>> {
    let encapsulation = PublicKey::from_der(public_key)?.encapsulate()?;
    let aead = aead_key(
        encapsulation.shared_secret.expose(),
        &encapsulation.ciphertext,
        key,
    )?;
    let mut sealed = file_key.to_vec();
    aead.seal_in_place_append_tag(
        Nonce::assume_unique_for_key([0; 12]),
        Aad::empty(),
        &mut sealed,
    )
    .map_err(|_| Error::crypto("ChaCha20-Poly1305 could not seal the file key"))?;
    let mut body = encapsulation.ciphertext;
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// Splits a stanza body into the KEM ciphertext and the sealed file key; refused unless the
/// ciphertext has an ML-KEM length.
pub fn split_body(body: &[u8]) -> Result<(&[u8], &[u8])> {
    let ciphertext_len = body.len().checked_sub(SEALED_LEN);
    match ciphertext_len {
        Some(len) if CIPHERTEXT_LENS.contains(&len) => Ok(body.split_at(len)),
        _ => Err(Error::invalid_input(format!(
            "the ML-KEM stanza's body is {} bytes (expected an ML-KEM ciphertext of 768, 1088 \
             or 1568 bytes and {SEALED_LEN} more)",
            body.len()
        ))),
    }
}

/// The file key sealed in `sealed`, opened with the shared secret the backend decapsulated
/// from `ciphertext` for the key `key`.
pub fn unseal(
    shared_secret: &Secret,
    ciphertext: &[u8],
    sealed: &[u8],
    key: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let aead = aead_key(shared_secret.expose(), ciphertext, key)?;
    let mut buffer = Zeroizing::new(sealed.to_vec());
    let opened = aead
        .open_in_place(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::empty(),
            &mut buffer,
        )
        .map_err(|_| {
            Error::crypto(
                "the ML-KEM stanza does not open with this key (its body was altered, or it \
                 was wrapped to another key)",
            )
        })?;
    Ok(Zeroizing::new(opened.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_odd_bodies_are_refused() {
        for len in [0, SEALED_LEN, 768, 768 + SEALED_LEN - 1, 1000 + SEALED_LEN] {
            assert!(split_body(&vec![0; len]).is_err(), "{len}");
        }
        for len in CIPHERTEXT_LENS {
            let body = vec![0; len + SEALED_LEN];
            let (ciphertext, sealed) = split_body(&body).unwrap();
            assert_eq!((ciphertext.len(), sealed.len()), (len, SEALED_LEN));
        }
    }

    #[test]
    fn a_wrong_secret_or_key_reference_does_not_open() {
        let ciphertext = [7u8; 768];
        let secret = Secret::new(vec![1; 32]);
        let aead = aead_key(secret.expose(), &ciphertext, "k").unwrap();
        let mut sealed = vec![9u8; FILE_KEY_LEN];
        aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::empty(),
            &mut sealed,
        )
        .unwrap();
        assert_eq!(
            unseal(&secret, &ciphertext, &sealed, "k")
                .unwrap()
                .as_slice(),
            [9u8; FILE_KEY_LEN]
        );
        assert!(unseal(&secret, &ciphertext, &sealed, "other").is_err());
        assert!(unseal(&Secret::new(vec![2; 32]), &ciphertext, &sealed, "k").is_err());
        assert!(unseal(&secret, &[8u8; 768], &sealed, "k").is_err());
    }
}
