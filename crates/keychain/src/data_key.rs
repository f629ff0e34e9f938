//! Data keys and encryption contexts.

use std::collections::BTreeMap;

use crate::secret::Secret;

/// Non-secret key/value pairs bound to a ciphertext as authenticated data: decryption needs
/// exactly the same pairs. Ordered, so its encoding is canonical.
pub type EncryptionContext = BTreeMap<String, String>;

/// Canonical bytes of an encryption context: for each pair in key order, the key and the value
/// each as a 4-byte big-endian length and the UTF-8 bytes.
pub(crate) fn encode_context(context: &EncryptionContext) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in context {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// A data key: the plaintext to encrypt with locally (zeroized on drop) and the same key
/// encrypted under a backend key, to store beside the data.
#[derive(Debug, Clone)]
pub struct DataKey {
    /// The key id of the backend key that encrypted the data key.
    pub key_id: String,
    /// The plaintext data key.
    pub plaintext: Secret,
    /// The data key encrypted under the backend key.
    pub ciphertext: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_encoding_is_unambiguous() {
        let a: EncryptionContext = [("ab".to_string(), "c".to_string())].into();
        let b: EncryptionContext = [("a".to_string(), "bc".to_string())].into();
        assert_ne!(encode_context(&a), encode_context(&b));
        assert!(encode_context(&EncryptionContext::new()).is_empty());
    }
}
