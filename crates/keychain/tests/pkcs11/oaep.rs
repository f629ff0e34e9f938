//! RSA-OAEP encryption runs locally with the public key; a ciphertext the backend hands out
//! must decrypt on the same token, or the encryption is refused up front.

use keychain::{
    CreateKeyRequest, EncryptionAlgorithm, EncryptionContext, ErrorKind, KeyRef, KeySpec, KeyUsage,
};
use keychain_testkit::softhsm::run_isolated;

use super::interop::open;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_oaep_ciphertext_we_make_decrypts_on_the_token() {
    if run_isolated("pkcs11::oaep::every_oaep_ciphertext_we_make_decrypts_on_the_token") {
        return;
    }
    let kc = open().await;
    let backend = kc.backend();
    backend
        .create_key(
            &CreateKeyRequest::new(KeySpec::Rsa2048)
                .name("rsa-enc")
                .usage(KeyUsage::EncryptDecrypt),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let key = KeyRef::parse("rsa-enc").unwrap_or_else(|e| panic!("{e}"));
    let none = EncryptionContext::new();
    let mut worked = Vec::new();
    // Twice each: the second answer comes from what the first one learnt.
    for algorithm in [
        EncryptionAlgorithm::RsaesOaepSha256,
        EncryptionAlgorithm::RsaesOaepSha1,
        EncryptionAlgorithm::RsaesOaepSha256,
        EncryptionAlgorithm::RsaesOaepSha1,
    ] {
        match backend
            .encrypt(&key, b"must come back", algorithm, &none)
            .await
        {
            Ok(ciphertext) => {
                let back = backend
                    .decrypt(Some(&key), &ciphertext, algorithm, &none)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{algorithm}: the backend made a ciphertext it cannot decrypt: {e}")
                    });
                assert_eq!(back.expose(), b"must come back", "{algorithm}");
                worked.push(algorithm);
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Unsupported, "{algorithm}: {e}");
                assert!(e.to_string().contains("cannot decrypt"), "{e}");
            }
        }
    }
    // OAEP with SHA-1 is what every token (SoftHSM too) decrypts.
    assert!(
        worked.contains(&EncryptionAlgorithm::RsaesOaepSha1),
        "{worked:?}"
    );
}
