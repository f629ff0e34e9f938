//! Signature bundles: any JSON parses or is refused; verifying any parsed bundle never panics.
#![no_main]
use keychain::codesign::SignatureBundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = SignatureBundle::from_json(data) {
        let _ = bundle.verify(&b"artifact"[..], &[]);
        let _ = bundle.to_json();
    }
});
