//! Envelope files: a valid envelope, damaged as the input says (XOR mask, truncation or
//! extension), must decrypt to the original or fail cleanly — never panic, never return other
//! plaintext.
#![no_main]
use std::sync::OnceLock;

use keychain::envelope::{EnvelopeHeader, SealingKey};
use keychain::{Backend, CreateKeyRequest, EncryptionContext, KeyRef, KeySpec};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    backend: SoftwareBackend,
    sealed: Vec<u8>,
    plaintext: Vec<u8>,
    context: EncryptionContext,
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
        let plaintext: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let context: EncryptionContext = [("fuzz".to_string(), "yes".to_string())].into();
        let (backend, sealed) = runtime.block_on(async {
            let backend = SoftwareBackend::open(config).await.expect("keystore");
            backend
                .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("data"))
                .await
                .expect("key");
            let key = KeyRef::parse("data").expect("ref");
            let sealing = SealingKey::generate_with_chunk_size(&backend, &key, &context, 64)
                .await
                .expect("data key");
            let mut sealed = Vec::new();
            sealing.seal(&plaintext[..], &mut sealed).expect("seal");
            (backend, sealed)
        });
        Fixture { runtime, backend, sealed, plaintext, context, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut input = f.sealed.clone();
    if let Some((&len_hi, rest)) = data.split_first() {
        if let Some((&len_lo, mask)) = rest.split_first() {
            let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
            for (b, m) in input.iter_mut().zip(mask) {
                *b ^= m;
            }
            input.resize(len.min(input.len() + 64), 0);
        }
    }
    let result: keychain::Result<Vec<u8>> = f.runtime.block_on(async {
        let mut reader = &input[..];
        let header = EnvelopeHeader::read(&mut reader)?;
        let opening = header.unwrap_key(&f.backend, &f.context).await?;
        let mut out = Vec::new();
        opening.open(reader, &mut out)?;
        Ok(out)
    });
    if let Ok(out) = result {
        assert_eq!(out, f.plaintext, "a damaged envelope decrypted to other plaintext");
    }
});
