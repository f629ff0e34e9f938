//! SPKI public keys in DER or PEM: parse, export, verify (an external μ too) and ML-KEM
//! encapsulation never panic.
#![no_main]
use keychain::{Message, PublicKey, SigningAlgorithm};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(key) = PublicKey::parse(data) else {
        return;
    };
    let _ = key.to_jwk();
    let _ = key.jwk_thumbprint();
    let _ = key.to_pem();
    assert_eq!(PublicKey::from_der(key.to_der()).ok().as_ref(), Some(&key));
    for &alg in SigningAlgorithm::ALL {
        let digest = vec![0u8; alg.hash().digest_len()];
        let _ = key.verify(Message::Digest(&digest), data, alg);
        let _ = key.verify(Message::Raw(data), data, alg);
        let _ = key.verify(Message::ExternalMu(&[0u8; 64]), data, alg);
    }
    let _ = key.encapsulate();
});
