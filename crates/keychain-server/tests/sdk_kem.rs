//! aws-sdk-kms against `keychain serve`: ML-KEM keys of the three parameter sets, their public
//! keys, Encapsulate then Decapsulate (the same 32-byte secret), a ciphertext encapsulated
//! locally to the public key KMS gave decapsulated by the server, and the refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{EncapsulationAlgorithmSpec, KeySpec, KeyUsageType};
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
