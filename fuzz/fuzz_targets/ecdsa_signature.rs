//! ECDSA signature encodings: DER to raw and back is lossless, low-S normalisation is stable.
#![no_main]
use keychain::Curve;
use keychain::signature::{ecdsa_der_to_raw, ecdsa_raw_to_der, normalize_low_s};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
        if let Ok(raw) = ecdsa_der_to_raw(data, curve) {
            let der = ecdsa_raw_to_der(&raw, curve).expect("raw from DER re-encodes");
            assert_eq!(ecdsa_der_to_raw(&der, curve).ok(), Some(raw));
        }
        if let Ok(der) = ecdsa_raw_to_der(data, curve) {
            assert_eq!(ecdsa_der_to_raw(&der, curve).ok().as_deref(), Some(data));
        }
        if let Ok(low) = normalize_low_s(data, curve) {
            assert_eq!(normalize_low_s(&low, curve).ok(), Some(low));
        }
    }
});
