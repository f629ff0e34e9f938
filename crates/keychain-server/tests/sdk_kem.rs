//! aws-sdk-kms against `keychain serve`, shared secrets: ML-KEM keys of the three parameter
//! sets, their public keys, Encapsulate then Decapsulate (the same 32-byte secret), a
//! ciphertext encapsulated locally to the public key KMS gave decapsulated by the server, and
//! the refusals; ECDH keys of the three NIST curves, DeriveSharedSecret judged by Python
//! `cryptography` (which derives the secret from its own private key and the key's public
//! key), and its refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    EncapsulationAlgorithmSpec, KeyAgreementAlgorithmSpec, KeyEncryptionMechanism, KeySpec,
    KeyUsageType, OriginType, RecipientInfo,
};
use keychain::PublicKey;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ml_kem_keys_encapsulate_and_decapsulate() {
    let served = support::serve().await;
    let kms = served.sdk();
    for (spec, ciphertext_len) in [
        (KeySpec::MlKem512, 768),
        (KeySpec::MlKem768, 1088),
        (KeySpec::MlKem1024, 1568),
    ] {
        let created = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::EncapsulateDecapsulate)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateKey {spec}: {e:?}"));
        let id = created.key_metadata().expect("meta").key_id().to_string();
        let public = kms
            .get_public_key()
            .key_id(&id)
            .send()
            .await
            .expect("GetPublicKey");
        assert_eq!(
            public.key_usage(),
            Some(&KeyUsageType::EncapsulateDecapsulate)
        );
        assert_eq!(
            public.encapsulation_algorithms(),
            &[EncapsulationAlgorithmSpec::MlKem]
        );
        let encapsulated = kms
            .encapsulate()
            .key_id(&id)
            .encapsulation_algorithm(EncapsulationAlgorithmSpec::MlKem)
            .send()
            .await
            .unwrap_or_else(|e| panic!("Encapsulate {spec}: {e:?}"));
        let secret = encapsulated.shared_secret().expect("SharedSecret").as_ref();
        let ciphertext = encapsulated
            .shared_secret_ciphertext_blob()
            .expect("SharedSecretCiphertextBlob")
            .as_ref();
        assert_eq!(secret.len(), 32);
        assert_eq!(ciphertext.len(), ciphertext_len, "{spec}");
        let decapsulated = kms
            .decapsulate()
            .key_id(&id)
            .shared_secret_ciphertext_blob(Blob::new(ciphertext.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Decapsulate {spec}: {e:?}"));
        assert_eq!(
            decapsulated.shared_secret().map(|s| s.as_ref()),
            Some(secret)
        );
        // Encapsulated locally to the public key GetPublicKey answered.
        let der = public.public_key().expect("PublicKey").as_ref();
        let local = PublicKey::from_der(der)
            .and_then(|k| k.encapsulate())
            .unwrap_or_else(|e| panic!("encapsulating to the {spec} public key: {e}"));
        let decapsulated = kms
            .decapsulate()
            .key_id(&id)
            .shared_secret_ciphertext_blob(Blob::new(local.ciphertext.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Decapsulate {spec}: {e:?}"));
        assert_eq!(
            decapsulated.shared_secret().map(|s| s.as_ref()),
            Some(local.shared_secret.expose())
        );
        // A ciphertext of another length than the parameter set's.
        let refused = kms
            .decapsulate()
            .key_id(&id)
            .shared_secret_ciphertext_blob(Blob::new(vec![7; 100]))
            .send()
            .await
            .expect_err("a ciphertext of the wrong length");
        assert_eq!(refused.code(), Some("InvalidCiphertextException"));
    }
    // A key that is no ML-KEM key.
    let symmetric = kms.create_key().send().await.expect("CreateKey");
    let refused = kms
        .encapsulate()
        .key_id(symmetric.key_metadata().expect("meta").key_id())
        .send()
        .await
        .expect_err("Encapsulate with a symmetric key");
    assert_eq!(refused.code(), Some("InvalidKeyUsageException"));
    // ML-KEM keys have no other usage.
    let refused = kms
        .create_key()
        .key_spec(KeySpec::MlKem768)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect_err("an ML-KEM key for signing");
    assert_eq!(refused.code(), Some("ValidationException"));
}

/// A KEY_AGREEMENT key of `spec` made through the SDK; its id.
async fn agreement_key(kms: &aws_sdk_kms::Client, spec: KeySpec, usage: KeyUsageType) -> String {
    let created = kms
        .create_key()
        .key_spec(spec.clone())
        .key_usage(usage)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateKey {spec}: {e:?}"));
    created.key_metadata().expect("meta").key_id().to_string()
}

/// Python `cryptography`'s fresh key pair on the curve of `public_key_der`: its public key
/// (DER SPKI) and the secret it derives with that key.
fn judge_agrees(public_key_der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let pem = PublicKey::from_der(public_key_der)
        .expect("the key's public key")
        .to_pem();
    let answer =
        &keychain_testkit::python_ecdh_batch(&[serde_json::json!({"op": "agree", "pem": pem})])[0];
    (
        keychain_testkit::b64_field(answer, "public_key"),
        keychain_testkit::b64_field(answer, "secret"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecdh_keys_derive_the_secret_cryptography_derives() {
    let served = support::serve().await;
    let kms = served.sdk();
    for (spec, secret_len) in [
        (KeySpec::EccNistP256, 32),
        (KeySpec::EccNistP384, 48),
        (KeySpec::EccNistP521, 66),
    ] {
        let id = agreement_key(&kms, spec.clone(), KeyUsageType::KeyAgreement).await;
        let described = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .expect("DescribeKey");
        let meta = described.key_metadata().expect("meta");
        assert_eq!(meta.key_usage(), Some(&KeyUsageType::KeyAgreement));
        assert_eq!(
            meta.key_agreement_algorithms(),
            &[KeyAgreementAlgorithmSpec::Ecdh]
        );
        assert!(meta.signing_algorithms().is_empty(), "{spec}: no signing");
        let public = kms
            .get_public_key()
            .key_id(&id)
            .send()
            .await
            .expect("GetPublicKey");
        assert_eq!(
            public.key_agreement_algorithms(),
            &[KeyAgreementAlgorithmSpec::Ecdh]
        );
        let (peer, expected) = judge_agrees(public.public_key().expect("PublicKey").as_ref());
        let derived = kms
            .derive_shared_secret()
            .key_id(&id)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(Blob::new(peer.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("DeriveSharedSecret {spec}: {e:?}"));
        let secret = derived.shared_secret().expect("SharedSecret").as_ref();
        assert_eq!(secret.len(), secret_len, "{spec}");
        assert_eq!(
            secret,
            expected.as_slice(),
            "{spec}: cryptography disagrees"
        );
        assert_eq!(derived.key_id(), Some(meta.arn().expect("Arn")));
        assert_eq!(
            derived.key_agreement_algorithm(),
            Some(&KeyAgreementAlgorithmSpec::Ecdh)
        );
        assert_eq!(derived.key_origin(), Some(&OriginType::AwsKms));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derive_shared_secret_refusals() {
    let served = support::serve().await;
    let kms = served.sdk();
    let id = agreement_key(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let public = kms
        .get_public_key()
        .key_id(&id)
        .send()
        .await
        .expect("GetPublicKey");
    let (peer, expected) = judge_agrees(public.public_key().expect("PublicKey").as_ref());
    let p384 = keychain_testkit::b64_field(
        &keychain_testkit::python_ecdh_batch(&[
            serde_json::json!({"op": "public_key", "kind": "P-384"}),
        ])[0],
        "public_key",
    );
    let derive = |key: &str, algorithm: KeyAgreementAlgorithmSpec, peer: &[u8]| {
        kms.derive_shared_secret()
            .key_id(key)
            .key_agreement_algorithm(algorithm)
            .public_key(Blob::new(peer.to_vec()))
    };
    let code = |what: &str, e: aws_sdk_kms::error::SdkError<_, _>| {
        let e: aws_sdk_kms::Error = e.into();
        e.code()
            .unwrap_or_else(|| panic!("{what}: no error code in {e:?}"))
            .to_string()
    };
    for (what, bytes, expected_code) in [
        ("a peer key on P-384", p384.clone(), "ValidationException"),
        (
            "a truncated peer key",
            peer[..peer.len() - 1].to_vec(),
            "ValidationException",
        ),
        (
            "a peer key that is no DER",
            b"peer".to_vec(),
            "ValidationException",
        ),
    ] {
        let refused = derive(&id, KeyAgreementAlgorithmSpec::Ecdh, &bytes)
            .send()
            .await
            .expect_err(what);
        assert_eq!(code(what, refused), expected_code, "{what}");
    }
    let refused = derive(&id, KeyAgreementAlgorithmSpec::from("ECDHE"), &peer)
        .send()
        .await
        .expect_err("an algorithm KMS does not have");
    assert_eq!(code("ECDHE", refused), "ValidationException");
    let refused = derive(&id, KeyAgreementAlgorithmSpec::Ecdh, &peer)
        .recipient(
            RecipientInfo::builder()
                .key_encryption_algorithm(KeyEncryptionMechanism::RsaesOaepSha256)
                .attestation_document(Blob::new(vec![0xd2; 64]))
                .build(),
        )
        .send()
        .await
        .expect_err("an attestation document");
    assert_eq!(code("Recipient", refused), "UnsupportedOperationException");
    let refused = derive(&id, KeyAgreementAlgorithmSpec::Ecdh, &peer)
        .dry_run(true)
        .send()
        .await
        .expect_err("DryRun");
    assert_eq!(code("DryRun", refused), "DryRunOperationException");
    let refused = derive(&id, KeyAgreementAlgorithmSpec::Ecdh, &p384)
        .dry_run(true)
        .send()
        .await
        .expect_err("DryRun with a peer on another curve");
    assert_eq!(code("DryRun, P-384", refused), "ValidationException");

    // Keys that do not agree: a signing key of the same curve, a symmetric key, a missing key.
    let signer = agreement_key(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let symmetric = kms.create_key().send().await.expect("CreateKey");
    let symmetric = symmetric.key_metadata().expect("meta").key_id().to_string();
    for (what, key, expected_code) in [
        (
            "a SIGN_VERIFY key",
            signer.as_str(),
            "InvalidKeyUsageException",
        ),
        (
            "a symmetric key",
            symmetric.as_str(),
            "InvalidKeyUsageException",
        ),
        ("a missing key", "alias/no-such-key", "NotFoundException"),
    ] {
        let refused = derive(key, KeyAgreementAlgorithmSpec::Ecdh, &peer)
            .send()
            .await
            .expect_err(what);
        assert_eq!(code(what, refused), expected_code, "{what}");
    }
    // secp256k1 keys sign only.
    let refused = kms
        .create_key()
        .key_spec(KeySpec::EccSecgP256K1)
        .key_usage(KeyUsageType::KeyAgreement)
        .send()
        .await
        .expect_err("a secp256k1 key for KEY_AGREEMENT");
    assert_eq!(refused.code(), Some("ValidationException"));

    // Disabled: DisabledException; enabled again, the same secret.
    kms.disable_key()
        .key_id(&id)
        .send()
        .await
        .expect("DisableKey");
    let refused = derive(&id, KeyAgreementAlgorithmSpec::Ecdh, &peer)
        .send()
        .await
        .expect_err("a disabled key");
    assert_eq!(code("disabled", refused), "DisabledException");
    kms.enable_key()
        .key_id(&id)
        .send()
        .await
        .expect("EnableKey");
    let derived = derive(&id, KeyAgreementAlgorithmSpec::Ecdh, &peer)
        .send()
        .await
        .expect("DeriveSharedSecret, enabled again");
    assert_eq!(
        derived.shared_secret().map(|s| s.as_ref()),
        Some(expected.as_slice())
    );
}
