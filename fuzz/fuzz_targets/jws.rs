//! Compact JWS/JWT parsing and verification: a valid token damaged as the input says (XOR
//! mask, truncation, extension), or arbitrary text, never panics, and a damaged token never
//! verifies to a different header or payload. Also JWK parsing of arbitrary JSON.
#![no_main]
use std::sync::OnceLock;

use keychain::jwt::{JwtSigner, public_key_from_jwk, verify, verify_jws};
use keychain::{Curve, KeyParams, Keychain, PublicKey};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    tokens: Vec<(String, PublicKey)>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let config = SoftwareConfig::new(dir.path().join("ks"))
            .password("fuzz")
            .kdf_iterations(2048);
        let tokens = runtime.block_on(async {
            let kc = Keychain::new(SoftwareBackend::open(config).await.expect("keystore"));
            let mut tokens = Vec::new();
            for (name, params) in [
                ("p256", KeyParams::ecdsa(Curve::P256)),
                ("ed", KeyParams::ed25519()),
                ("rsa", KeyParams::rsa(2048)),
            ] {
                kc.generate_key(name, &params).await.expect("key");
                let signer = JwtSigner::from_key(&kc, name, None).await.expect("signer");
                let claims = serde_json::json!({"sub": "fuzz", "n": 1});
                let token = signer.sign(&claims).await.expect("token");
                tokens.push((token, signer.public_key().clone()));
            }
            tokens
        });
        Fixture { tokens, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (token, key) = &f.tokens[usize::from(which) % f.tokens.len()];
    // Arbitrary text as a token.
    if let Ok(text) = std::str::from_utf8(rest) {
        let _ = verify(text, key, &Default::default());
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(text) {
            let _ = public_key_from_jwk(&json);
        }
    }
    // The valid token, damaged.
    let mut bytes = token.as_bytes().to_vec();
    for (b, m) in bytes.iter_mut().zip(rest) {
        *b ^= m;
    }
    if rest.len() > bytes.len() {
        bytes.extend_from_slice(&rest[bytes.len()..]);
    }
    let Ok(damaged) = String::from_utf8(bytes) else {
        return;
    };
    if let Ok(v) = verify_jws(&damaged, key, &[], 1 << 16) {
        let original = verify_jws(token, key, &[], 1 << 16).expect("the fixture verifies");
        assert_eq!(v.payload, original.payload, "a damaged token verified to another payload");
        assert_eq!(v.header, original.header, "a damaged token verified to another header");
    }
});
