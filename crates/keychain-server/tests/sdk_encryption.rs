//! aws-sdk-kms against `keychain serve`: encryption with a context, Decrypt without a KeyId,
//! ReEncrypt, data keys, RSA-OAEP (ciphertexts made by Python `cryptography` decrypted by the
//! server), and the refusals KMS makes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, IncludeKeyMaterial, KeyMaterialState, KeySpec,
    KeyUsageType, RotationType,
};
use keychain::{EncryptionAlgorithm, PublicKey};
use keychain_testkit::python_oaep_encrypt_batch;

fn context(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn code<E: ProvideErrorMetadata, T>(r: Result<T, E>) -> Option<String> {
    r.err().and_then(|e| e.code().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_encryption_is_bound_to_key_and_context() {
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms.create_key().send().await.expect("CreateKey");
    let meta = key.key_metadata().expect("meta");
    assert_eq!(meta.key_spec(), Some(&KeySpec::SymmetricDefault));
    let id = meta.key_id().to_string();
    let arn = meta.arn().expect("arn").to_string();
    let other = kms.create_key().send().await.expect("CreateKey");
    let other_id = other.key_metadata().expect("meta").key_id().to_string();
    let ctx = context(&[("purpose", "test"), ("tenant", "a")]);

    let encrypted = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"attack at dawn".to_vec()))
        .set_encryption_context(Some(ctx.clone()))
        .send()
        .await
        .expect("Encrypt");
    assert_eq!(encrypted.key_id(), Some(arn.as_str()));
    let blob = encrypted.ciphertext_blob().expect("blob").clone();

    // Decrypt needs no KeyId: the ciphertext names its key.
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(blob.clone())
        .set_encryption_context(Some(ctx.clone()))
        .send()
        .await
        .expect("Decrypt without KeyId");
    assert_eq!(
        decrypted.plaintext().map(|p| p.as_ref()),
        Some(&b"attack at dawn"[..])
    );
    assert_eq!(decrypted.key_id(), Some(arn.as_str()));

    // The context is bound.
    for wrong in [
        context(&[]),
        context(&[("purpose", "test")]),
        context(&[("purpose", "test"), ("tenant", "b")]),
    ] {
        assert_eq!(
            code(
                kms.decrypt()
                    .ciphertext_blob(blob.clone())
                    .set_encryption_context(Some(wrong))
                    .send()
                    .await
            )
            .as_deref(),
            Some("InvalidCiphertextException")
        );
    }
    // The key is named: another key is IncorrectKeyException.
    assert_eq!(
        code(
            kms.decrypt()
                .ciphertext_blob(blob.clone())
                .key_id(&other_id)
                .set_encryption_context(Some(ctx.clone()))
                .send()
                .await
        )
        .as_deref(),
        Some("IncorrectKeyException")
    );
    // A tampered ciphertext.
    let mut tampered = blob.as_ref().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(
        code(
            kms.decrypt()
                .ciphertext_blob(Blob::new(tampered))
                .set_encryption_context(Some(ctx.clone()))
                .send()
                .await
        )
        .as_deref(),
        Some("InvalidCiphertextException")
    );
    assert_eq!(
        code(
            kms.decrypt()
                .ciphertext_blob(Blob::new(vec![7; 40]))
                .send()
                .await
        )
        .as_deref(),
        Some("InvalidCiphertextException")
    );

    // ReEncrypt to the other key, under a new context.
    let ctx2 = context(&[("moved", "yes")]);
    let re = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .set_source_encryption_context(Some(ctx.clone()))
        .destination_key_id(&other_id)
        .set_destination_encryption_context(Some(ctx2.clone()))
        .send()
        .await
        .expect("ReEncrypt");
    assert_eq!(re.source_key_id(), Some(arn.as_str()));
    let back = kms
        .decrypt()
        .ciphertext_blob(re.ciphertext_blob().expect("blob").clone())
        .set_encryption_context(Some(ctx2))
        .send()
        .await
        .expect("Decrypt the re-encrypted blob");
    assert_eq!(
        back.plaintext().map(|p| p.as_ref()),
        Some(&b"attack at dawn"[..])
    );
    assert!(back.key_id().is_some_and(|k| k.ends_with(&other_id)));

    // Limits: 4096 bytes of plaintext.
    assert!(
        kms.encrypt()
            .key_id(&id)
            .plaintext(Blob::new(vec![1; 4096]))
            .send()
            .await
            .is_ok()
    );
    assert_eq!(
        code(
            kms.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(vec![1; 4097]))
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );

    // Old ciphertexts still decrypt after a rotation.
    kms.rotate_key_on_demand()
        .key_id(&id)
        .send()
        .await
        .expect("RotateKeyOnDemand");
    let after = kms
        .decrypt()
        .ciphertext_blob(blob)
        .set_encryption_context(Some(ctx))
        .send()
        .await
        .expect("Decrypt after rotation");
    assert_eq!(
        after.plaintext().map(|p| p.as_ref()),
        Some(&b"attack at dawn"[..])
    );
    let rotations = kms
        .list_key_rotations()
        .key_id(&id)
        .send()
        .await
        .expect("ListKeyRotations");
    assert_eq!(rotations.rotations().len(), 1);
    let rotation = &rotations.rotations()[0];
    assert_eq!(rotation.rotation_type(), Some(&RotationType::OnDemand));
    assert_eq!(
        rotation.key_material_state(),
        Some(&KeyMaterialState::Current)
    );
    assert!(rotation.rotation_date().is_some(), "{rotation:?}");
    let all = kms
        .list_key_rotations()
        .key_id(&id)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .send()
        .await
        .expect("ListKeyRotations ALL_KEY_MATERIAL");
    let ids: Vec<Option<&str>> = all
        .rotations()
        .iter()
        .map(|r| r.key_material_id())
        .collect();
    assert_eq!(ids.len(), 2, "{all:?}");
    assert_eq!(ids[1], rotation.key_material_id());
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        all.rotations()[0].rotation_type(),
        None,
        "the first material"
    );
    assert_eq!(
        all.rotations()[0].key_material_state(),
        Some(&KeyMaterialState::NonCurrent)
    );
    let described = kms
        .describe_key()
        .key_id(&id)
        .send()
        .await
        .expect("DescribeKey");
    assert_eq!(
        described
            .key_metadata()
            .and_then(|m| m.current_key_material_id()),
        ids[1]
    );
    assert_eq!(
        code(
            kms.list_key_rotations()
                .key_id(&id)
                .include_key_material(IncludeKeyMaterial::from("EVERYTHING"))
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_and_random_bytes() {
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms.create_key().send().await.expect("CreateKey");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    let ctx = context(&[("file", "x")]);
    for (spec, len) in [
        (Some(DataKeySpec::Aes256), 32),
        (Some(DataKeySpec::Aes128), 16),
        (None, 7),
    ] {
        let mut request = kms
            .generate_data_key()
            .key_id(&id)
            .set_encryption_context(Some(ctx.clone()));
        request = match spec {
            Some(s) => request.key_spec(s),
            None => request.number_of_bytes(len as i32),
        };
        let dk = request.send().await.expect("GenerateDataKey");
        let plaintext = dk.plaintext().expect("plaintext").as_ref().to_vec();
        assert_eq!(plaintext.len(), len);
        let opened = kms
            .decrypt()
            .ciphertext_blob(dk.ciphertext_blob().expect("blob").clone())
            .set_encryption_context(Some(ctx.clone()))
            .send()
            .await
            .expect("Decrypt the data key");
        assert_eq!(
            opened.plaintext().map(|p| p.as_ref().to_vec()),
            Some(plaintext)
        );
    }
    let without = kms
        .generate_data_key_without_plaintext()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .expect("GenerateDataKeyWithoutPlaintext");
    let opened = kms
        .decrypt()
        .ciphertext_blob(without.ciphertext_blob().expect("blob").clone())
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(opened.plaintext().map(|p| p.as_ref().len()), Some(32));
    // Neither or both of KeySpec and NumberOfBytes.
    assert_eq!(
        code(kms.generate_data_key().key_id(&id).send().await).as_deref(),
        Some("ValidationException")
    );
    assert_eq!(
        code(
            kms.generate_data_key()
                .key_id(&id)
                .key_spec(DataKeySpec::Aes256)
                .number_of_bytes(32)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    assert_eq!(
        code(
            kms.generate_data_key()
                .key_id(&id)
                .number_of_bytes(1025)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    // Random bytes: the length asked, and two draws differ.
    let a = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateRandom");
    let b = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .expect("GenerateRandom");
    let (a, b) = (
        a.plaintext().expect("a").as_ref().to_vec(),
        b.plaintext().expect("b").as_ref().to_vec(),
    );
    assert_eq!((a.len(), b.len()), (32, 32));
    assert_ne!(a, b);
    for bad in [0, 1025] {
        assert_eq!(
            code(kms.generate_random().number_of_bytes(bad).send().await).as_deref(),
            Some("ValidationException")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_oaep_decrypts_what_python_encrypts() {
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms
        .create_key()
        .key_spec(KeySpec::Rsa2048)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .expect("CreateKey RSA_2048");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    let der = kms
        .get_public_key()
        .key_id(&id)
        .send()
        .await
        .expect("GetPublicKey");
    let pem = PublicKey::from_der(der.public_key().expect("pk").as_ref())
        .expect("SPKI")
        .to_pem();
    let cases = vec![
        (
            pem.clone(),
            EncryptionAlgorithm::RsaesOaepSha256,
            b"oaep sha-256".to_vec(),
        ),
        (
            pem.clone(),
            EncryptionAlgorithm::RsaesOaepSha1,
            b"oaep sha-1".to_vec(),
        ),
    ];
    let ciphertexts = python_oaep_encrypt_batch(&cases);
    for ((_, algorithm, plaintext), ciphertext) in cases.iter().zip(ciphertexts) {
        let out = kms
            .decrypt()
            .key_id(&id)
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_algorithm(EncryptionAlgorithmSpec::from(algorithm.as_str()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Decrypt {algorithm}: {e:?}"));
        assert_eq!(
            out.plaintext().map(|p| p.as_ref()),
            Some(plaintext.as_slice())
        );
    }
    // The server's own OAEP ciphertexts round-trip; RSA needs the KeyId to decrypt.
    let ct = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .expect("Encrypt RSA");
    let blob = ct.ciphertext_blob().expect("blob").clone();
    assert_eq!(
        code(
            kms.decrypt()
                .ciphertext_blob(blob.clone())
                .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    let out = kms
        .decrypt()
        .key_id(&id)
        .ciphertext_blob(blob)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .expect("Decrypt RSA");
    assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(&b"x"[..]));
    // Symmetric encryption with an RSA key is the wrong algorithm for the key.
    assert_eq!(
        code(
            kms.encrypt()
                .key_id(&id)
                .plaintext(Blob::new(b"x".to_vec()))
                .send()
                .await
        )
        .as_deref(),
        Some("InvalidKeyUsageException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_key_pairs_are_real_key_pairs_judged_by_openssl() {
    use aws_sdk_kms::types::DataKeyPairSpec;
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms.create_key().send().await.expect("CreateKey");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    let ctx = context(&[("pair", "yes")]);
    let dir = tempfile::tempdir().expect("tempdir");
    for spec in [
        DataKeyPairSpec::EccNistP256,
        DataKeyPairSpec::Rsa2048,
        DataKeyPairSpec::EccSecgP256K1,
    ] {
        let pair = kms
            .generate_data_key_pair()
            .key_id(&id)
            .key_pair_spec(spec.clone())
            .set_encryption_context(Some(ctx.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GenerateDataKeyPair {spec}: {e:?}"));
        assert_eq!(pair.key_pair_spec(), Some(&spec));
        let private = pair
            .private_key_plaintext()
            .expect("private")
            .as_ref()
            .to_vec();
        let public = pair.public_key().expect("public").as_ref().to_vec();
        // OpenSSL derives the public key from the private one: it must be the one returned.
        let der = dir.path().join("private.der");
        std::fs::write(&der, &private).expect("write");
        let derived = std::process::Command::new("openssl")
            .args([
                "pkey", "-inform", "DER", "-pubout", "-outform", "DER", "-in",
            ])
            .arg(&der)
            .output()
            .expect("openssl");
        assert!(
            derived.status.success(),
            "OpenSSL cannot read the {spec} private key: {}",
            String::from_utf8_lossy(&derived.stderr)
        );
        assert_eq!(
            derived.stdout, public,
            "{spec}: the public key is not the private key's"
        );
        // The encrypted private key decrypts to the same key, under the context only.
        let opened = kms
            .decrypt()
            .ciphertext_blob(pair.private_key_ciphertext_blob().expect("blob").clone())
            .set_encryption_context(Some(ctx.clone()))
            .send()
            .await
            .expect("Decrypt the private key");
        assert_eq!(
            opened.plaintext().map(|p| p.as_ref().to_vec()),
            Some(private)
        );
    }
    let without = kms
        .generate_data_key_pair_without_plaintext()
        .key_id(&id)
        .key_pair_spec(DataKeyPairSpec::EccNistP384)
        .send()
        .await
        .expect("GenerateDataKeyPairWithoutPlaintext");
    assert!(without.public_key().is_some() && without.private_key_ciphertext_blob().is_some());
    assert_eq!(
        code(
            kms.generate_data_key_pair()
                .key_id(&id)
                .key_pair_spec(DataKeyPairSpec::Sm2)
                .send()
                .await
        )
        .as_deref(),
        Some("ValidationException")
    );
}

/// The encryption context limit (8192 bytes of keys and values) holds for every operation
/// that takes a context, data keys and data key pairs included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_encryption_contexts_are_refused_for_data_keys_too() {
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms.create_key().send().await.expect("CreateKey");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    let big = "v".repeat(8192);
    let huge = context(&[("k", big.as_str())]);
    let encrypt = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"x".to_vec()))
        .set_encryption_context(Some(huge.clone()))
        .send()
        .await;
    assert_eq!(code(encrypt).as_deref(), Some("ValidationException"));
    let data_key = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(huge.clone()))
        .send()
        .await;
    assert_eq!(code(data_key).as_deref(), Some("ValidationException"));
    let by_count = kms
        .generate_data_key_without_plaintext()
        .key_id(&id)
        .number_of_bytes(16)
        .set_encryption_context(Some(huge.clone()))
        .send()
        .await;
    assert_eq!(code(by_count).as_deref(), Some("ValidationException"));
    let pair = kms
        .generate_data_key_pair()
        .key_id(&id)
        .key_pair_spec(aws_sdk_kms::types::DataKeyPairSpec::EccNistP256)
        .set_encryption_context(Some(huge))
        .send()
        .await;
    assert_eq!(code(pair).as_deref(), Some("ValidationException"));
    // At the limit it is accepted.
    let fits = "v".repeat(8191);
    let ok = kms
        .generate_data_key()
        .key_id(&id)
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(context(&[("k", fits.as_str())])))
        .send()
        .await;
    assert!(ok.is_ok(), "{:?}", code(ok));
}

/// Decrypt naming its key, and GetKeyRotationStatus, read the key's metadata once per
/// request, not twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_metadata_read_per_request() {
    let (served, probe) = support::serve_probed().await;
    let kms = served.sdk();
    let key = kms.create_key().send().await.expect("CreateKey");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    let ciphertext = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new(b"once".to_vec()))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("blob")
        .clone();
    probe.take_metadata_reads();
    let plain = kms
        .decrypt()
        .key_id(&id)
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(plain.plaintext().map(|p| p.as_ref()), Some(&b"once"[..]));
    assert_eq!(probe.take_metadata_reads(), 1, "Decrypt with KeyId");
    kms.decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .expect("Decrypt");
    assert_eq!(probe.take_metadata_reads(), 1, "Decrypt without KeyId");
    let status = kms
        .get_key_rotation_status()
        .key_id(&id)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());
    assert_eq!(
        status.key_id(),
        key.key_metadata().map(|m| m.arn().unwrap_or(""))
    );
    // The rotation status is the one read of the key.
    assert_eq!(probe.take_metadata_reads(), 0, "GetKeyRotationStatus");
}

/// ReEncrypt with DryRun checks both keys and the ciphertext's shape, and decrypts
/// nothing; with DryRunModifiers IGNORE_CIPHERTEXT the ciphertext may be left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_encrypt_dry_run_decrypts_nothing() {
    let (served, probe) = support::serve_probed().await;
    let kms = served.sdk();
    let source = kms.create_key().send().await.expect("CreateKey");
    let source = source.key_metadata().expect("meta").key_id().to_string();
    let destination = kms.create_key().send().await.expect("CreateKey");
    let destination = destination
        .key_metadata()
        .expect("meta")
        .key_id()
        .to_string();
    let ciphertext = kms
        .encrypt()
        .key_id(&source)
        .plaintext(Blob::new(b"moved".to_vec()))
        .set_encryption_context(Some(context(&[("a", "b")])))
        .send()
        .await
        .expect("Encrypt")
        .ciphertext_blob()
        .expect("blob")
        .clone();
    probe.take_decrypts();
    let dry = kms
        .re_encrypt()
        .ciphertext_blob(ciphertext.clone())
        .source_encryption_context("a", "b")
        .destination_key_id(&destination)
        .dry_run(true)
        .send()
        .await;
    assert_eq!(code(dry).as_deref(), Some("DryRunOperationException"));
    assert_eq!(probe.take_decrypts(), 0, "a dry run decrypted");
    let ignoring = kms
        .re_encrypt()
        .source_key_id(&source)
        .destination_key_id(&destination)
        .dry_run(true)
        .dry_run_modifiers(aws_sdk_kms::types::DryRunModifierType::IgnoreCiphertext)
        .send()
        .await;
    assert_eq!(code(ignoring).as_deref(), Some("DryRunOperationException"));
    // The keys are still checked: a destination that cannot encrypt fails the dry run.
    let signing = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey");
    let signing = signing.key_metadata().expect("meta").key_id().to_string();
    let wrong = kms
        .re_encrypt()
        .ciphertext_blob(ciphertext.clone())
        .source_encryption_context("a", "b")
        .destination_key_id(&signing)
        .dry_run(true)
        .send()
        .await;
    assert_eq!(code(wrong).as_deref(), Some("InvalidKeyUsageException"));
    assert_eq!(probe.take_decrypts(), 0, "a dry run decrypted");
    // Without DryRun the same request decrypts once and re-encrypts.
    let done = kms
        .re_encrypt()
        .ciphertext_blob(ciphertext)
        .source_encryption_context("a", "b")
        .destination_key_id(&destination)
        .send()
        .await
        .expect("ReEncrypt");
    assert!(done.key_id().is_some_and(|k| k.ends_with(&destination)));
    assert_eq!(probe.take_decrypts(), 1);
}
