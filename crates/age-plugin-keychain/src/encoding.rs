//! The recipient (`age1keychain1…`) and identity (`AGE-PLUGIN-KEYCHAIN-1…`) strings.
//!
//! Both are Bech32 as age encodes plugin recipients and identities (BIP-173 without its
//! 90-character limit, so an RSA public key fits). Neither holds a secret. Their data is a
//! version byte, a kind byte and length-prefixed fields (a big-endian `u16` length, then the
//! bytes):
//!
//! - recipient: `0x01`, kind (`0x01` symmetric, `0x02` RSA-OAEP-SHA-256, `0x03` ML-KEM),
//!   backend URI, key reference, and for RSA and ML-KEM the public key (SubjectPublicKeyInfo
//!   DER);
//! - identity: `0x01`, `0x00`, backend URI, key reference.
//!
//! The backend URI is checked as every backend URI is ([`keychain::BackendUri::parse`]: no
//! credentials, no control characters) and the key reference as every key reference is
//! ([`keychain::KeyRef::parse`]), when encoding and again when decoding.

use age_core::primitives::{bech32_decode, bech32_encode};
use bech32::Hrp;
use keychain::{
    BackendUri, Error, KeyRef, PublicKey, PublicKeyKind, Result, is_control_or_invisible,
};

/// The plugin's name: age runs `age-plugin-keychain` for `age1keychain1…` recipients and
/// `AGE-PLUGIN-KEYCHAIN-1…` identities.
pub const PLUGIN_NAME: &str = "keychain";
/// The Bech32 human-readable part of a recipient.
pub const RECIPIENT_HRP: &str = "age1keychain";
/// The Bech32 human-readable part of an identity (age writes identities in upper case).
pub const IDENTITY_HRP: &str = "AGE-PLUGIN-KEYCHAIN-";

/// The version byte every string starts with.
const VERSION: u8 = 1;
/// The longest recipient or identity string accepted, in characters.
pub const MAX_STRING_LEN: usize = 16 * 1024;
/// The longest key reference accepted, in bytes.
const MAX_KEY_REF_LEN: usize = 2048;
/// The longest public key accepted, in bytes (an RSA-4096 SubjectPublicKeyInfo is 550, an
/// ML-KEM-1024 one 1590).
const MAX_PUBLIC_KEY_LEN: usize = 4096;

/// How a recipient wraps the file key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrapping {
    /// The backend encrypts the file key under a symmetric key (KMS `Encrypt`).
    Symmetric,
    /// RSA-OAEP-SHA-256 locally, under this public key (SubjectPublicKeyInfo DER).
    RsaOaepSha256 {
        /// The RSA public key, DER.
        public_key: Vec<u8>,
    },
    /// ML-KEM encapsulation locally, under this public key (SubjectPublicKeyInfo DER), then
    /// HKDF-SHA-256 and ChaCha20-Poly1305 over the file key ([`crate::mlkem`]).
    MlKem {
        /// The ML-KEM public key, DER.
        public_key: Vec<u8>,
    },
}

impl Wrapping {
    fn kind_byte(&self) -> u8 {
        match self {
            Wrapping::Symmetric => 1,
            Wrapping::RsaOaepSha256 { .. } => 2,
            Wrapping::MlKem { .. } => 3,
        }
    }
}

/// What a recipient string holds: where the key is and how to wrap to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The backend URI (no credentials or password).
    pub backend: String,
    /// The key reference (a key ID or ARN).
    pub key: String,
    /// How the file key is wrapped.
    pub wrapping: Wrapping,
}

/// What an identity string holds: where the key is. The key itself stays in the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The backend URI (no credentials or password).
    pub backend: String,
    /// The key reference (a key ID or ARN).
    pub key: String,
}

fn bad(what: &str, message: impl std::fmt::Display) -> Error {
    Error::invalid_input(format!("{what}: {message}"))
}

/// Checks the backend URI and key reference both strings carry. The parsers forgive
/// surrounding whitespace; a string written by `keychain age` has none, so any is refused
/// here (with control and invisible characters anywhere).
fn check_location(what: &str, backend: &str, key: &str) -> Result<()> {
    if key.len() > MAX_KEY_REF_LEN {
        return Err(bad(what, "the key reference is too long"));
    }
    for (name, field) in [("backend URI", backend), ("key reference", key)] {
        if let Some(c) = field.chars().find(|&c| is_control_or_invisible(c)) {
            return Err(bad(
                what,
                format!("the {name} holds the control character {c:?}"),
            ));
        }
        if field.trim() != field {
            return Err(bad(what, format!("the {name} has surrounding whitespace")));
        }
    }
    match BackendUri::parse(backend).map_err(|e| bad(what, e))? {
        BackendUri::Software { .. } | BackendUri::AwsKms(_) => {}
        // `keychain age` writes no other kind. A pkcs11 URI would name a shared library
        // to load (module-path): a string handed to the user must never choose code to run.
        _ => {
            return Err(bad(
                what,
                "only software and awskms backends are carried by age recipients and identities",
            ));
        }
    }
    KeyRef::parse(key).map_err(|e| bad(what, e))?;
    Ok(())
}

fn put_field(out: &mut Vec<u8>, field: &[u8]) -> Result<()> {
    let len = u16::try_from(field.len())
        .map_err(|_| Error::invalid_input("a recipient field is longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
    Ok(())
}

/// Reads the fields after the version and kind bytes.
struct Fields<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn next(&mut self, name: &str) -> Result<&'a [u8]> {
        let missing = || bad(self.what, format!("the {name} is missing or cut short"));
        let (len, rest) = self.rest.split_first_chunk::<2>().ok_or_else(missing)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err(missing());
        }
        let (field, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(field)
    }

    fn text(&mut self, name: &str) -> Result<String> {
        let what = self.what;
        let field = self.next(name)?;
        String::from_utf8(field.to_vec()).map_err(|_| bad(what, format!("the {name} is not UTF-8")))
    }

    fn finish(self) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(bad(self.what, "trailing bytes after the last field"))
        }
    }
}

/// Splits `version, kind, fields…` and checks the version.
fn header<'a>(what: &'static str, data: &'a [u8]) -> Result<(u8, Fields<'a>)> {
    match data {
        [VERSION, kind, rest @ ..] => Ok((*kind, Fields { rest, what })),
        [version, _, ..] => Err(bad(
            what,
            format!("version {version} is not supported (this plugin reads version {VERSION})"),
        )),
        _ => Err(bad(what, "too short")),
    }
}

/// Checks that `der` is a public key of the kind the wrapping needs (RSA or ML-KEM, the
/// kinds wrapped locally).
fn check_public_key(what: &str, wrapping: &Wrapping) -> Result<()> {
    let (der, rsa) = match wrapping {
        Wrapping::Symmetric => return Ok(()),
        Wrapping::RsaOaepSha256 { public_key } => (public_key, true),
        Wrapping::MlKem { public_key } => (public_key, false),
    };
    if der.len() > MAX_PUBLIC_KEY_LEN {
        return Err(bad(what, "the public key is too long"));
    }
    match (
        PublicKey::from_der(der).map_err(|e| bad(what, e))?.kind(),
        rsa,
    ) {
        (PublicKeyKind::Rsa { .. }, true) | (PublicKeyKind::MlKem(_), false) => Ok(()),
        (_, true) => Err(bad(what, "the public key is not an RSA key")),
        (_, false) => Err(bad(what, "the public key is not an ML-KEM key")),
    }
}

fn hrp(text: &str) -> Result<Hrp> {
    Hrp::parse(text).map_err(|e| Error::invalid_input(format!("Bech32 prefix {text}: {e}")))
}

/// Decodes a Bech32 string whose prefix must be `expected` (compared without case).
fn decode_bech32(what: &'static str, text: &str, expected: &str) -> Result<Vec<u8>> {
    if text.len() > MAX_STRING_LEN {
        return Err(bad(
            what,
            format!(
                "{} characters is too long (at most {MAX_STRING_LEN})",
                text.len()
            ),
        ));
    }
    if let Some(c) = text.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(bad(
            what,
            format!("the character {c:?} is not allowed (Bech32 is printable ASCII)"),
        ));
    }
    bech32_decode(
        text,
        |e| bad(what, format!("not valid Bech32 ({e})")),
        |hrp| {
            if hrp.as_str().eq_ignore_ascii_case(expected) {
                Ok(())
            } else {
                Err(bad(
                    what,
                    format!("the prefix is {}, expected {expected}", hrp.as_str()),
                ))
            }
        },
        |_, bytes| Ok(bytes.collect()),
    )
}

impl Recipient {
    /// A recipient, checked: a parseable backend URI, a key reference, and for RSA and ML-KEM
    /// a public key of that kind.
    pub fn new(
        backend: impl Into<String>,
        key: impl Into<String>,
        wrapping: Wrapping,
    ) -> Result<Self> {
        let recipient = Recipient {
            backend: backend.into(),
            key: key.into(),
            wrapping,
        };
        recipient.check()?;
        Ok(recipient)
    }

    fn check(&self) -> Result<()> {
        check_location("recipient", &self.backend, &self.key)?;
        check_public_key("recipient", &self.wrapping)
    }

    /// The recipient's bytes inside the Bech32 string (without the plugin name).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = vec![VERSION, self.wrapping.kind_byte()];
        put_field(&mut out, self.backend.as_bytes())?;
        put_field(&mut out, self.key.as_bytes())?;
        if let Wrapping::RsaOaepSha256 { public_key } | Wrapping::MlKem { public_key } =
            &self.wrapping
        {
            put_field(&mut out, public_key)?;
        }
        Ok(out)
    }

    /// Parses the bytes age hands the plugin for an `age1keychain1…` recipient.
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        let (kind, mut fields) = header("recipient", data)?;
        let backend = fields.text("backend URI")?;
        let key = fields.text("key reference")?;
        let wrapping = match kind {
            1 => Wrapping::Symmetric,
            2 => Wrapping::RsaOaepSha256 {
                public_key: fields.next("public key")?.to_vec(),
            },
            3 => Wrapping::MlKem {
                public_key: fields.next("public key")?.to_vec(),
            },
            other => return Err(bad("recipient", format!("unknown key kind {other}"))),
        };
        fields.finish()?;
        Recipient::new(backend, key, wrapping)
    }

    /// The `age1keychain1…` string.
    pub fn encode(&self) -> Result<String> {
        Ok(bech32_encode(hrp(RECIPIENT_HRP)?, &self.to_bytes()?))
    }

    /// Parses an `age1keychain1…` string.
    pub fn decode(text: &str) -> Result<Self> {
        Recipient::from_bytes(&decode_bech32("recipient", text, RECIPIENT_HRP)?)
    }

    /// The identity that unwraps what this recipient wraps.
    pub fn identity(&self) -> Identity {
        Identity {
            backend: self.backend.clone(),
            key: self.key.clone(),
        }
    }
}

impl Identity {
    /// An identity, checked: a parseable backend URI and a key reference.
    pub fn new(backend: impl Into<String>, key: impl Into<String>) -> Result<Self> {
        let identity = Identity {
            backend: backend.into(),
            key: key.into(),
        };
        check_location("identity", &identity.backend, &identity.key)?;
        Ok(identity)
    }

    /// The identity's bytes inside the Bech32 string (without the plugin name).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = vec![VERSION, 0];
        put_field(&mut out, self.backend.as_bytes())?;
        put_field(&mut out, self.key.as_bytes())?;
        Ok(out)
    }

    /// Parses the bytes age hands the plugin for an `AGE-PLUGIN-KEYCHAIN-1…` identity.
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        let (kind, mut fields) = header("identity", data)?;
        if kind != 0 {
            return Err(bad("identity", format!("unknown identity kind {kind}")));
        }
        let backend = fields.text("backend URI")?;
        let key = fields.text("key reference")?;
        fields.finish()?;
        Identity::new(backend, key)
    }

    /// The `AGE-PLUGIN-KEYCHAIN-1…` string (upper case, as age writes identities).
    pub fn encode(&self) -> Result<String> {
        Ok(bech32_encode(hrp(IDENTITY_HRP)?, &self.to_bytes()?).to_uppercase())
    }

    /// Parses an `AGE-PLUGIN-KEYCHAIN-1…` string.
    pub fn decode(text: &str) -> Result<Self> {
        Identity::from_bytes(&decode_bech32("identity", text, IDENTITY_HRP)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0b7c5a7e-1d2f-4c3b-9a8e-123456789abc";

    #[test]
    fn symmetric_recipient_and_identity_round_trip() {
        let recipient = Recipient::new("software:/tmp/ks", KEY, Wrapping::Symmetric).unwrap();
        let text = recipient.encode().unwrap();
        assert!(text.starts_with("age1keychain1"), "{text}");
        assert_eq!(Recipient::decode(&text).unwrap(), recipient);
        let identity = recipient.identity().encode().unwrap();
        assert!(identity.starts_with("AGE-PLUGIN-KEYCHAIN-1"), "{identity}");
        assert_eq!(Identity::decode(&identity).unwrap(), recipient.identity());
    }

    #[test]
    fn a_pkcs11_location_is_refused_so_no_string_chooses_a_library_to_load() {
        let backend = "pkcs11:token=t?module-path=/tmp/planted.so&pin-value=1";
        // Built by hand, as an attacker would: `new` itself refuses it.
        let recipient = Recipient {
            backend: backend.to_string(),
            key: KEY.to_string(),
            wrapping: Wrapping::Symmetric,
        };
        let text = recipient.encode().unwrap();
        let e = Recipient::decode(&text).unwrap_err().to_string();
        assert!(e.contains("only software and awskms"), "{e}");
        let identity = recipient.identity().encode().unwrap();
        assert!(Identity::decode(&identity).is_err());
        assert!(Identity::new(backend, KEY).is_err());
    }

    #[test]
    fn credentials_and_control_characters_are_refused() {
        for backend in ["awskms://user:secret@host:4566/", "software:/tmp/a\u{7}b"] {
            assert!(
                Recipient::new(backend, KEY, Wrapping::Symmetric).is_err(),
                "{backend}"
            );
        }
        assert!(Identity::new("software:/tmp/ks", "bad\nkey").is_err());
        // Found by the fuzz target: the key parser forgives a trailing CR, the strings do not.
        assert!(Identity::new("software:/tmp/ks", "_wsofsobtsof\r").is_err());
        assert!(Identity::new(" software:/tmp/ks", KEY).is_err());
    }

    #[test]
    fn a_changed_character_is_refused() {
        let text = Recipient::new("software:/tmp/ks", KEY, Wrapping::Symmetric)
            .unwrap()
            .encode()
            .unwrap();
        let mut bytes = text.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'q' { b'p' } else { b'q' };
        let tampered = String::from_utf8(bytes).unwrap();
        let message = Recipient::decode(&tampered).unwrap_err().to_string();
        assert!(message.contains("not valid Bech32"), "{message}");
    }

    #[test]
    fn truncated_and_oversized_data_is_refused() {
        let bytes = Identity::new("software:/tmp/ks", KEY)
            .unwrap()
            .to_bytes()
            .unwrap();
        for cut in 0..bytes.len() {
            assert!(Identity::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(Identity::from_bytes(&long).is_err());
        let huge = "A".repeat(MAX_STRING_LEN + 1);
        assert!(
            Identity::decode(&huge)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }

    #[test]
    fn rsa_recipient_needs_an_rsa_public_key() {
        assert!(
            Recipient::new(
                "software:/tmp/ks",
                KEY,
                Wrapping::RsaOaepSha256 {
                    public_key: vec![0x30, 0x00]
                }
            )
            .is_err()
        );
    }

    #[test]
    fn mlkem_recipient_needs_an_mlkem_public_key() {
        assert!(
            Recipient::new(
                "software:/tmp/ks",
                KEY,
                Wrapping::MlKem {
                    public_key: vec![0x30, 0x00]
                }
            )
            .is_err()
        );
    }
}
