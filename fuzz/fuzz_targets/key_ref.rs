//! Key references and URIs: any string parses or is refused, and what parses round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = keychain::KeyRef::parse(text) {
        let again = keychain::KeyRef::parse(&key.to_string())
            .unwrap_or_else(|e| panic!("{key} does not re-parse: {e}"));
        assert_eq!(again.kms_key_id(), key.kms_key_id());
    }
});
