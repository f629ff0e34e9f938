//! One cache of key metadata and public keys between the `Keychain` handle and its backend
//! (`keychain::KeyCache`): a change made through the backend (a key disabled, an alias
//! pointed at another key) is seen by the handle's next call, whatever the handle's TTL. The
//! round trips the shared cache saves are counted against AWS KMS in `awskms_semantics.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use keychain::{
    CreateKeyRequest, ErrorKind, Hash, KeyRef, KeySpec, Keychain, Message, SigningAlgorithm,
};
use keychain_testkit::temp_software_backend;

async fn p256(kc: &Keychain, name: &str) -> KeyRef {
    let info = kc
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(name))
        .await
        .unwrap();
    KeyRef::key_id(&info.key_id).unwrap()
}

#[tokio::test]
async fn a_key_disabled_through_the_backend_is_refused_by_the_handle_at_once() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    let key = p256(&kc, "cached").await;
    let digest = Hash::Sha256.digest(b"cached state");
    let algorithm = SigningAlgorithm::EcdsaSha256;
    let signature = kc.sign("cached", &digest, Hash::Sha256).await.unwrap();
    assert!(
        kc.verify("cached", Message::Digest(&digest), &signature, algorithm)
            .await
            .unwrap()
    );

    kc.backend().disable_key(&key).await.unwrap();
    let err = kc
        .verify("cached", Message::Digest(&digest), &signature, algorithm)
        .await
        .expect_err("verify with a key disabled through the backend");
    assert_eq!(err.kind(), ErrorKind::InvalidKeyState, "{err}");
    let err = kc
        .verification_key("cached")
        .await
        .expect_err("the verification key of a disabled key");
    assert_eq!(err.kind(), ErrorKind::InvalidKeyState, "{err}");

    kc.backend().enable_key(&key).await.unwrap();
    assert!(
        kc.verify("cached", Message::Digest(&digest), &signature, algorithm)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_alias_pointed_elsewhere_through_the_backend_names_the_new_key_at_once() {
    let (_dir, backend) = temp_software_backend().await;
    let kc = Keychain::new(backend);
    let first = p256(&kc, "first").await;
    let second = p256(&kc, "second").await;
    kc.backend().create_alias("live", &first).await.unwrap();
    let before = kc.public_key("alias/live").await.unwrap();
    assert_eq!(before, kc.public_key("first").await.unwrap());
    assert_eq!(
        kc.metadata("alias/live").await.unwrap().key_id,
        first.key_id_str().unwrap()
    );

    kc.backend().update_alias("live", &second).await.unwrap();
    let after = kc.public_key("alias/live").await.unwrap();
    assert_eq!(after, kc.public_key("second").await.unwrap());
    assert_ne!(after, before);
    assert_eq!(
        kc.metadata("alias/live").await.unwrap().key_id,
        second.key_id_str().unwrap()
    );
    let signed = kc
        .sign_digest("alias/live", &Hash::Sha256.digest(b"x"), None)
        .await
        .unwrap();
    assert_eq!(Some(signed.key_id.as_str()), second.key_id_str());
}
