//! What the KMS server needs of the software backend beyond signing and encrypting: a key's
//! description replaced (KMS limits and states kept), the key a symmetric ciphertext names read
//! without decrypting it, and data key pairs (judged by OpenSSL).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keychain::{Backend, CreateKeyRequest, EncryptionAlgorithm, Error, KeyRef, KeySpec};
use keychain_testkit::temp_software_backend;

#[tokio::test]
async fn descriptions_are_replaced_within_kms_limits() {
    let (_dir, backend) = temp_software_backend().await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).description("old"))
        .await
        .unwrap();
    let key = KeyRef::key_id(&info.key_id).unwrap();
    backend.update_key_description(&key, "new").await.unwrap();
    assert_eq!(backend.describe_key(&key).await.unwrap().description, "new");
    assert!(matches!(
        backend
            .update_key_description(&key, &"d".repeat(8193))
            .await,
        Err(Error::InvalidInput { .. })
    ));
    backend.schedule_key_deletion(&key, 7).await.unwrap();
    assert!(matches!(
        backend.update_key_description(&key, "late").await,
        Err(Error::InvalidKeyState { .. })
    ));
    let missing = KeyRef::key_id("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
    assert!(matches!(
        backend.update_key_description(&missing, "x").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_ciphertext_names_its_key() {
    let (_dir, backend) = temp_software_backend().await;
    let info = backend
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault))
        .await
        .unwrap();
    let key = KeyRef::key_id(&info.key_id).unwrap();
    let ct = backend
        .encrypt(
            &key,
            b"x",
            EncryptionAlgorithm::SymmetricDefault,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(backend.ciphertext_key_id(&ct), Some(info.key_id.clone()));
    assert_eq!(backend.ciphertext_key_id(&ct[..10]), None);
    assert_eq!(backend.ciphertext_key_id(&[0u8; 64]), None);
}

#[test]
fn data_key_pairs_are_pairs_openssl_agrees_with() {
    let dir = tempfile::tempdir().unwrap();
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::Rsa2048,
        KeySpec::EccNistEdwards25519,
    ] {
        let (private, public) = keychain::software::generate_key_pair(spec).unwrap();
        assert_eq!(public.key_spec().unwrap(), spec);
        let der = dir.path().join("k.der");
        std::fs::write(&der, private.expose()).unwrap();
        let out = std::process::Command::new("openssl")
            .args([
                "pkey", "-inform", "DER", "-pubout", "-outform", "DER", "-in",
            ])
            .arg(&der)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, public.to_der(), "{spec}");
    }
    for spec in [KeySpec::SymmetricDefault, KeySpec::Hmac256] {
        assert!(matches!(
            keychain::software::generate_key_pair(spec),
            Err(Error::InvalidInput { .. })
        ));
    }
}
