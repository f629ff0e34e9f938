//! The age plugin's hostile inputs: the bytes age hands the plugin for a recipient or an
//! identity, the Bech32 strings themselves, and stanzas from a file's header. Each parses or
//! is refused with `InvalidInput`, never a panic; what parses encodes back to the same bytes
//! and holds no control character.
#![no_main]
use age_core::format::Stanza;
use age_plugin_keychain::stanza::KeychainStanza;
use age_plugin_keychain::{Identity, Recipient};
use libfuzzer_sys::fuzz_target;

fn refused(error: keychain::Error) {
    match error {
        keychain::Error::InvalidInput { message } => {
            assert!(!message.chars().any(char::is_control), "{message:?}");
        }
        other => panic!("not InvalidInput: {other}"),
    }
}

fn clean(text: &str) {
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

fuzz_target!(|data: &[u8]| {
    match Recipient::from_bytes(data) {
        Ok(r) => {
            assert_eq!(r.to_bytes().ok().as_deref(), Some(data));
            clean(&r.backend);
            clean(&r.key);
            let text = r.encode().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(Recipient::decode(&text).ok(), Some(r));
        }
        Err(e) => refused(e),
    }
    match Identity::from_bytes(data) {
        Ok(i) => {
            assert_eq!(i.to_bytes().ok().as_deref(), Some(data));
            clean(&i.backend);
            clean(&i.key);
        }
        Err(e) => refused(e),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = Recipient::decode(text) {
            refused(e);
        }
        if let Err(e) = Identity::decode(text) {
            refused(e);
        }
        let mut words = text.split(' ').map(str::to_string);
        let stanza = Stanza {
            tag: words.next().unwrap_or_default(),
            args: words.collect(),
            body: data.to_vec(),
        };
        let _ = KeychainStanza::parse(&stanza);
    }
});
