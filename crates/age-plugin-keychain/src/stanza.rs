//! The recipient stanzas this plugin writes into an age header:
//!
//! ```text
//! -> keychain aes TAG
//! BASE64(the backend's ciphertext of the 16-byte file key)
//! -> keychain rsa-oaep-sha256 TAG
//! BASE64(RSA-OAEP-SHA-256 of the 16-byte file key)
//! -> keychain mlkem-hkdf-sha256-chacha20poly1305 TAG
//! BASE64(ML-KEM ciphertext || ChaCha20-Poly1305 of the 16-byte file key and its tag)
//! ```
//!
//! `TAG` is the first four bytes of SHA-256 over the key reference, unpadded base64: an
//! identity skips, without a backend call, the stanzas that are not for its key.

use age_core::format::Stanza;
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use keychain::{EncryptionContext, Hash};

/// The stanza tag (the first argument after `->`).
pub const STANZA_TAG: &str = "keychain";
/// The stanza kind of a file key encrypted by the backend under a symmetric key.
pub const KIND_SYMMETRIC: &str = "aes";
/// The stanza kind of a file key wrapped with RSA-OAEP-SHA-256.
pub const KIND_RSA: &str = "rsa-oaep-sha256";
/// The stanza kind of a file key wrapped to an ML-KEM key ([`crate::mlkem`]).
pub const KIND_MLKEM: &str = "mlkem-hkdf-sha256-chacha20poly1305";
/// The encryption context a symmetric key's wrap is bound to: a ciphertext made for
/// another purpose with the same key does not unwrap as an age file key, and this one
/// does not decrypt without the context.
pub const CONTEXT_KEY: &str = "age";
/// The value of [`CONTEXT_KEY`].
pub const CONTEXT_VALUE: &str = "keychain/v1";
/// The length of an age file key.
pub const FILE_KEY_LEN: usize = 16;
/// The longest stanza body accepted (an RSA-16384 ciphertext; KMS ciphertexts and ML-KEM-1024
/// bodies, 1600 bytes, are smaller).
pub const MAX_BODY_LEN: usize = 2048;

/// The encryption context of every symmetric wrap.
pub fn context() -> EncryptionContext {
    [(CONTEXT_KEY.to_string(), CONTEXT_VALUE.to_string())].into()
}

/// The stanza's tag for a key reference.
pub fn key_tag(key: &str) -> String {
    let digest = Hash::Sha256.digest(key.as_bytes());
    STANDARD_NO_PAD.encode(&digest[..4])
}

/// How a stanza's file key was wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// By the backend, under a symmetric key.
    Symmetric,
    /// RSA-OAEP-SHA-256.
    Rsa,
    /// ML-KEM, HKDF-SHA-256 and ChaCha20-Poly1305.
    MlKem,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Symmetric => KIND_SYMMETRIC,
            Kind::Rsa => KIND_RSA,
            Kind::MlKem => KIND_MLKEM,
        }
    }
}

/// A stanza of this plugin, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeychainStanza {
    /// How the file key was wrapped.
    pub kind: Kind,
    /// The tag of the key it was wrapped to.
    pub tag: String,
    /// The wrapped file key.
    pub body: Vec<u8>,
}

impl KeychainStanza {
    /// The stanza for `wrapped` (the file key wrapped to `key`).
    pub fn new(kind: Kind, key: &str, wrapped: Vec<u8>) -> Self {
        KeychainStanza {
            kind,
            tag: key_tag(key),
            body: wrapped,
        }
    }

    /// As age writes it.
    pub fn into_stanza(self) -> Stanza {
        Stanza {
            tag: STANZA_TAG.to_string(),
            args: vec![self.kind.as_str().to_string(), self.tag],
            body: self.body,
        }
    }

    /// `None` for another plugin's stanza (ignored, as every plugin must), an error for a
    /// malformed one of ours.
    pub fn parse(stanza: &Stanza) -> Option<Result<Self, String>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        Some(Self::parse_ours(stanza))
    }

    fn parse_ours(stanza: &Stanza) -> Result<Self, String> {
        let [kind, tag] = stanza.args.as_slice() else {
            return Err(format!(
                "a {STANZA_TAG} stanza has two arguments (kind and key tag), this one has {}",
                stanza.args.len()
            ));
        };
        let kind = match kind.as_str() {
            KIND_SYMMETRIC => Kind::Symmetric,
            KIND_RSA => Kind::Rsa,
            KIND_MLKEM => Kind::MlKem,
            _ => {
                return Err(format!(
                    "unknown {STANZA_TAG} stanza kind (expected {KIND_SYMMETRIC}, {KIND_RSA} or \
                     {KIND_MLKEM})"
                ));
            }
        };
        match STANDARD_NO_PAD.decode(tag) {
            Ok(bytes) if bytes.len() == 4 => {}
            _ => {
                return Err(format!(
                    "the {STANZA_TAG} stanza's key tag is not 4 bytes of base64"
                ));
            }
        }
        if stanza.body.is_empty() || stanza.body.len() > MAX_BODY_LEN {
            return Err(format!(
                "the {STANZA_TAG} stanza's body is {} bytes (expected 1 to {MAX_BODY_LEN})",
                stanza.body.len()
            ));
        }
        Ok(KeychainStanza {
            kind,
            tag: tag.clone(),
            body: stanza.body.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_round_trip_and_malformed_ones_are_errors() {
        let ours = KeychainStanza::new(Kind::Rsa, "key-id", vec![1, 2, 3]);
        let stanza = ours.clone().into_stanza();
        assert_eq!(KeychainStanza::parse(&stanza), Some(Ok(ours)));
        let other = Stanza {
            tag: "X25519".into(),
            args: vec![],
            body: vec![],
        };
        assert_eq!(KeychainStanza::parse(&other), None);
        for args in [
            vec![],
            vec!["aes".to_string()],
            vec!["des".into(), key_tag("k")],
            vec!["aes".into(), "!!".into()],
        ] {
            let bad = Stanza {
                tag: STANZA_TAG.into(),
                args,
                body: vec![1],
            };
            assert!(matches!(KeychainStanza::parse(&bad), Some(Err(_))));
        }
    }
}
