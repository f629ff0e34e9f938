//! # age-plugin-keychain
//!
//! An age plugin whose recipients and identities are keychain keys: age's file key is
//! wrapped by a symmetric key in the backend (KMS `Encrypt`, bound to the encryption context
//! `{"age": "keychain/v1"}`), with RSA-OAEP-SHA-256 under an RSA key's public key, or by
//! ML-KEM encapsulation to an ML-KEM key's public key, HKDF-SHA-256 and ChaCha20-Poly1305
//! ([`mlkem`]), and unwrapped by the backend. docs/AGE.md describes the strings, the stanzas and the threat
//! model.
//!
//! - [`encoding`]: the `age1keychain1…` recipient and `AGE-PLUGIN-KEYCHAIN-1…` identity
//!   strings (the `keychain age` commands print them through [`location`]).
//! - [`stanza`]: the stanzas written into an age header.
//! - [`run`]: the plugin's two state machines, driven by the `age-plugin` crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod encoding;
pub mod location;
pub mod mlkem;
mod session;
pub mod stanza;
mod unwrap;
mod wrap;

use std::io;

use age_plugin::PluginHandler;

pub use crate::encoding::{Identity, Recipient, Wrapping};
pub use crate::location::{identity_for, recipient_for};

struct Handler;

impl PluginHandler for Handler {
    type RecipientV1 = wrap::WrapPlugin;
    type IdentityV1 = unwrap::UnwrapPlugin;

    fn recipient_v1(self) -> io::Result<Self::RecipientV1> {
        wrap::WrapPlugin::new()
    }

    fn identity_v1(self) -> io::Result<Self::IdentityV1> {
        unwrap::UnwrapPlugin::new()
    }
}

/// Runs the state machine age asks for (`--age-plugin=recipient-v1` or `identity-v1`)
/// over standard input and output.
pub fn run(state_machine: &str) -> io::Result<()> {
    age_plugin::run_state_machine(state_machine, Handler)
}
