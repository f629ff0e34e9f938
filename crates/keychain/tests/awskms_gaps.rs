//! Where LocalStack differs from AWS KMS: each gap is asserted as LocalStack actually
//! behaves (so a LocalStack that changes makes the test fail and the gap gets re-examined),
//! and what can still be tested around it is tested. A gap is never a silent pass.
//!
//! Also here: what the conformance checks stopped at a gap could not reach (MACs of every
//! HMAC spec, rotation after a period change, on-demand rotation, AES-128 data keys, ECDH with
//! a key pending deletion).

#![cfg(feature = "aws")]

use std::time::SystemTime;

use keychain::awskms::AwsKmsBackend;
use keychain::{
    Backend, CreateKeyRequest, DataKeySpec, EncryptionAlgorithm, EncryptionContext, Error, Hash,
    KeyAgreementAlgorithm, KeyRef, KeySpec, KeyUsage, MacAlgorithm, Message, PublicKey,
    SigningAlgorithm,
};
use keychain_testkit::conformance::{Must, unique_prefix};
use keychain_testkit::context as ctx;
use keychain_testkit::days;
use keychain_testkit::localstack::{ACCOUNT, REGION, localstack, named};

async fn backend() -> AwsKmsBackend {
    localstack().connect().await
}

/// GAP: LocalStack has no ECC_NIST_EDWARDS25519 keys. The backend sends the spec (AWS KMS
/// has Ed25519) and reports LocalStack's refusal as InvalidInput naming it; no key and no
/// alias are left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_ed25519_keys_are_refused_by_localstack() {
    let b = backend().await;
    let name = unique_prefix("ed25519");
    let err = b
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistEdwards25519).name(&name))
        .await
        .expect_err_or_panic("LocalStack created an Ed25519 key: the gap is gone");
    assert!(
        matches!(&err, Error::InvalidInput { message } if message.contains("ECC_NIST_EDWARDS25519")
            && message.contains("ValidationException")),
        "{err:?}"
    );
    assert!(matches!(
        b.describe_key(&KeyRef::parse(&name).must("ref")).await,
        Err(Error::NotFound { .. })
    ));
}

/// GAP: LocalStack has no ML-DSA keys. The backend sends the spec (AWS KMS has ML_DSA_44/65/87)
/// and reports LocalStack's UnsupportedOperationException as `Unsupported` naming the spec; no
/// key and no alias are left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_ml_dsa_keys_are_refused_by_localstack() {
    let b = backend().await;
    for spec in [KeySpec::MlDsa44, KeySpec::MlDsa65, KeySpec::MlDsa87] {
        let name = unique_prefix(&format!("{spec}").to_ascii_lowercase().replace('_', "-"));
        let err = b
            .create_key(&CreateKeyRequest::new(spec).name(&name))
            .await
            .expect_err_or_panic("LocalStack created an ML-DSA key: the gap is gone");
        assert!(
            matches!(&err, Error::Unsupported { operation, .. }
                if operation.contains(&format!("KeySpec {spec} is not supported"))),
            "{err:?}"
        );
        assert!(matches!(
            b.describe_key(&KeyRef::parse(&name).must("ref")).await,
            Err(Error::NotFound { .. })
        ));
    }
}

/// GAP: LocalStack has no ML-KEM keys. The backend sends the spec and usage (AWS KMS has
/// ML_KEM_512/768/1024 with ENCAPSULATE_DECAPSULATE) and reports LocalStack's
/// UnsupportedOperationException as `Unsupported` naming the spec; no key and no alias are left behind. The wire format of Encapsulate and
/// Decapsulate is tested against canned KMS answers (`awskms_post_quantum.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_ml_kem_keys_are_refused_by_localstack() {
    let b = backend().await;
    for spec in [KeySpec::MlKem512, KeySpec::MlKem768, KeySpec::MlKem1024] {
        let name = unique_prefix(&format!("{spec}").to_ascii_lowercase().replace('_', "-"));
        let err = b
            .create_key(&CreateKeyRequest::new(spec).name(&name))
            .await
            .expect_err_or_panic("LocalStack created an ML-KEM key: the gap is gone");
        assert!(
            matches!(&err, Error::Unsupported { operation, .. }
                if operation.contains(&format!("KeySpec {spec} is not supported"))),
            "{err:?}"
        );
        assert!(matches!(
            b.describe_key(&KeyRef::parse(&name).must("ref")).await,
            Err(Error::NotFound { .. })
        ));
    }
}

/// GAP: LocalStack's GenerateDataKey returns 32 bytes for KeySpec AES_128. The backend
/// refuses to hand out a key of the wrong size; AES_256 data keys are right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_aes_128_data_keys_have_the_wrong_size() {
    let b = backend().await;
    let key = named(
        &b,
        &unique_prefix("dk128"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let c = ctx(&[("object", "a")]);
    let dk = b
        .generate_data_key(&key, DataKeySpec::Aes256, &c)
        .await
        .must("AES_256");
    assert_eq!(dk.plaintext.len(), 32);
    let back = b
        .decrypt(
            None,
            &dk.ciphertext,
            EncryptionAlgorithm::SymmetricDefault,
            &c,
        )
        .await
        .must("decrypt");
    assert_eq!(back.expose(), dk.plaintext.expose());
    match b.generate_data_key(&key, DataKeySpec::Aes128, &c).await {
        Err(Error::Backend {
            code,
            message,
            retryable: false,
            ..
        }) => {
            assert_eq!(code, "InvalidResponse");
            assert!(message.contains("got 32 bytes"), "{message}");
        }
        other => panic!("LocalStack's AES_128 data key gap changed: {other:?}"),
    }
}

/// GAP: LocalStack decrypts its own RSAES_OAEP_SHA_1 ciphertexts but not a standard one made
/// elsewhere (it answers InternalError, HTTP 500): its SHA-1 OAEP is not the standard's.
/// RSAES_OAEP_SHA_256 is standard (see awskms_algorithms.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_oaep_sha1_is_not_standard_in_localstack() {
    let b = backend().await;
    let key = named(
        &b,
        &unique_prefix("oaep1"),
        KeySpec::Rsa2048,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let alg = EncryptionAlgorithm::RsaesOaepSha1;
    let none = EncryptionContext::new();
    let own = b.encrypt(&key, b"sha-1", alg, &none).await.must("Encrypt");
    assert_eq!(
        b.decrypt(Some(&key), &own, alg, &none)
            .await
            .must("Decrypt")
            .expose(),
        b"sha-1"
    );
    let pk = b.public_key(&key).await.must("public key");
    let standard = pk.encrypt(b"sha-1", alg).must("local OAEP SHA-1");
    match b.decrypt(Some(&key), &standard, alg, &none).await {
        Err(Error::Backend {
            code,
            retryable: true,
            ..
        }) => assert_eq!(code, "InternalError"),
        other => panic!("LocalStack's OAEP SHA-1 gap changed: {other:?}"),
    }
    // And LocalStack's own SHA-1 ciphertext is not standard OAEP SHA-1 … but is it SHA-256?
    assert_eq!(
        b.decrypt(
            Some(&key),
            &own,
            EncryptionAlgorithm::RsaesOaepSha256,
            &none
        )
        .await
        .must("decrypting LocalStack's 'SHA-1' ciphertext as SHA-256")
        .expose(),
        b"sha-1",
        "LocalStack's RSAES_OAEP_SHA_1 is really OAEP SHA-256"
    );
}

/// Contract: AWS KMS computes MACs over 1 to 4096 bytes. An empty message is refused before
/// the call (LocalStack would MAC it, AWS would not). Everything else of MACs, for every
/// HMAC spec: length, determinism, verification, tampering, other algorithms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macs_for_every_hmac_spec_and_the_empty_message_limit() {
    let b = backend().await;
    let prefix = unique_prefix("mac");
    for (spec, alg, len) in [
        (KeySpec::Hmac224, MacAlgorithm::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithm::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithm::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithm::HmacSha512, 64),
    ] {
        let key = named(
            &b,
            &format!("{prefix}-{len}"),
            spec,
            KeyUsage::GenerateVerifyMac,
        )
        .await;
        let m = b"a message to authenticate".to_vec();
        let mac = b.generate_mac(&key, &m, alg).await.must("GenerateMac");
        assert_eq!(mac.len(), len, "{spec}");
        assert_eq!(b.generate_mac(&key, &m, alg).await.must("again"), mac);
        assert!(b.verify_mac(&key, &m, &mac, alg).await.must("VerifyMac"));
        let mut bad = mac.clone();
        bad[0] ^= 1;
        assert!(!b.verify_mac(&key, &m, &bad, alg).await.must("VerifyMac"));
        assert!(
            !b.verify_mac(&key, &m, &mac[..len - 1], alg)
                .await
                .must("VerifyMac")
        );
        assert!(
            !b.verify_mac(&key, b"another", &mac, alg)
                .await
                .must("VerifyMac")
        );
        assert!(matches!(
            b.generate_mac(&key, b"", alg).await,
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            b.generate_mac(&key, &[0u8; 4097], alg).await,
            Err(Error::InvalidInput { .. })
        ));
        b.generate_mac(&key, &[0u8; 4096], alg)
            .await
            .must("4096 bytes");
        for &other in MacAlgorithm::ALL {
            if other != alg {
                assert!(matches!(
                    b.generate_mac(&key, &m, other).await,
                    Err(Error::InvalidKeyUsage { .. })
                ));
            }
        }
    }
}

/// GAP: LocalStack keeps the first NextRotationDate when the period changes (AWS
/// recomputes it). The period itself, enabling, disabling, the disabled-key and HMAC
/// refusals all behave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_rotation_period_change_keeps_the_old_date() {
    let b = backend().await;
    let prefix = unique_prefix("rot");
    let key = named(
        &b,
        &prefix,
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    assert!(!b.key_rotation_status(&key).await.must("status").enabled);
    let now = SystemTime::now();
    b.enable_key_rotation(&key, Some(90))
        .await
        .must("enable 90");
    let first = b.key_rotation_status(&key).await.must("status");
    assert_eq!(first.period_days, Some(90));
    let next = first.next_rotation.must_some("next rotation");
    assert!(next > now + days(89) && next < now + days(91), "{next:?}");
    b.enable_key_rotation(&key, None)
        .await
        .must("enable default");
    let second = b.key_rotation_status(&key).await.must("status");
    assert_eq!(
        second.period_days,
        Some(365),
        "the default period is 365 days"
    );
    assert_eq!(
        second.next_rotation, first.next_rotation,
        "LocalStack now recomputes the next rotation date: the gap is gone"
    );
    b.disable_key_rotation(&key).await.must("disable");
    let off = b.key_rotation_status(&key).await.must("status");
    assert!(!off.enabled && off.period_days.is_none() && off.next_rotation.is_none());
    for bad in [0, 89, 2561] {
        assert!(matches!(
            b.enable_key_rotation(&key, Some(bad)).await,
            Err(Error::InvalidInput { .. })
        ));
    }
    b.disable_key(&key).await.must("disable key");
    assert!(matches!(
        b.enable_key_rotation(&key, Some(90)).await,
        Err(Error::InvalidKeyState { .. })
    ));
    let hmac = named(
        &b,
        &format!("{prefix}-hmac"),
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
    )
    .await;
    assert!(matches!(
        b.enable_key_rotation(&hmac, None).await,
        Err(Error::Unsupported { .. })
    ));
}

/// GAP: LocalStack does not implement ListKeyRotations (HTTP 501), so the backend cannot
/// count versions there and reports 1. Rotation itself works: older ciphertexts and data
/// keys still decrypt, a disabled key cannot rotate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_on_demand_rotation_without_list_key_rotations() {
    let b = backend().await;
    let key = named(
        &b,
        &unique_prefix("ondemand"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let raw = b
        .client()
        .list_key_rotations()
        .key_id(b.describe_key(&key).await.must("describe").key_id)
        .send()
        .await;
    let status = raw
        .as_ref()
        .err()
        .and_then(|e| e.raw_response())
        .map(|r| r.status().as_u16());
    assert_eq!(
        status,
        Some(501),
        "LocalStack now implements ListKeyRotations: {raw:?}"
    );

    let alg = EncryptionAlgorithm::SymmetricDefault;
    let c = ctx(&[("rotation", "on-demand")]);
    let mut made = Vec::new();
    for round in 0..2 {
        let ct = b
            .encrypt(&key, format!("r{round}").as_bytes(), alg, &c)
            .await
            .must("Encrypt");
        made.push((ct, format!("r{round}").into_bytes()));
        b.rotate_key(&key).await.must("RotateKeyOnDemand");
        assert_eq!(
            b.describe_key(&key).await.must("describe").versions,
            1,
            "gap: versions"
        );
        for (ct, p) in &made {
            assert_eq!(
                b.decrypt(None, ct, alg, &c).await.must("Decrypt").expose(),
                &p[..]
            );
        }
    }
    b.disable_key(&key).await.must("DisableKey");
    assert!(matches!(
        b.rotate_key(&key).await,
        Err(Error::InvalidKeyState { .. })
    ));
}

/// GAP: LocalStack's DeriveSharedSecret derives with a disabled key (AWS KMS answers
/// DisabledException). What `agreement_disabled_key` could not reach there: the handle, which
/// reads the key's state first, refuses; a key pending deletion is refused by LocalStack too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_disabled_key_agreement_keys_derive_on_localstack() {
    use aws_lc_rs::agreement::{ECDH_P256, PrivateKey};
    use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
    let b = backend().await;
    let prefix = unique_prefix("ecdh-disabled");
    let key = named(&b, &prefix, KeySpec::EccNistP256, KeyUsage::KeyAgreement).await;
    let peer = PrivateKey::generate(&ECDH_P256).unwrap_or_else(|e| panic!("{e}"));
    let peer_der: PublicKeyX509Der<'static> = peer
        .compute_public_key()
        .unwrap_or_else(|e| panic!("{e}"))
        .as_der()
        .unwrap_or_else(|e| panic!("{e}"));
    let peer_public = PublicKey::from_der(peer_der.as_ref()).must("peer");
    let ecdh = KeyAgreementAlgorithm::Ecdh;
    let enabled = b
        .derive_shared_secret(&key, ecdh, peer_der.as_ref())
        .await
        .must("DeriveSharedSecret");
    b.disable_key(&key).await.must("DisableKey");
    let disabled = b
        .derive_shared_secret(&key, ecdh, peer_der.as_ref())
        .await
        .unwrap_or_else(|e| {
            panic!("LocalStack now refuses DeriveSharedSecret with a disabled key: {e:?}")
        });
    assert_eq!(disabled.expose(), enabled.expose());
    let kc = keychain::Keychain::new(b.clone());
    assert!(matches!(
        kc.derive_shared_secret(&prefix, ecdh, &peer_public).await,
        Err(Error::InvalidKeyState { .. })
    ));
    b.schedule_key_deletion(&key, 7)
        .await
        .must("ScheduleKeyDeletion");
    assert!(matches!(
        b.derive_shared_secret(&key, ecdh, peer_der.as_ref()).await,
        Err(Error::InvalidKeyState { .. })
    ));
}

/// GAP: LocalStack accepts EnableKeyRotation on an asymmetric key (AWS refuses with
/// UnsupportedOperationException) and answers a signing algorithm the key cannot use with
/// HTTP 500. The backend checks both against the key's metadata before the call, so it
/// gives AWS's answers on either server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_checks_the_backend_makes_before_the_call() {
    let b = backend().await;
    let name = unique_prefix("precheck");
    let key = named(&b, &name, KeySpec::EccNistP256, KeyUsage::SignVerify).await;
    let id = b.describe_key(&key).await.must("describe").key_id;
    // LocalStack itself:
    b.client()
        .enable_key_rotation()
        .key_id(&id)
        .send()
        .await
        .map(|_| ())
        .unwrap_or_else(|e| panic!("LocalStack now refuses asymmetric rotation: {e:?}"));
    let wrong = b
        .client()
        .sign()
        .key_id(&id)
        .message(aws_sdk_kms::primitives::Blob::new(vec![0u8; 32]))
        .message_type(aws_sdk_kms::types::MessageType::Digest)
        .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::RsassaPssSha256)
        .customize()
        .config_override(
            aws_sdk_kms::config::Builder::default()
                .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled()),
        )
        .send()
        .await;
    let status = wrong
        .as_ref()
        .err()
        .and_then(|e| e.raw_response())
        .map(|r| r.status().as_u16());
    assert_eq!(
        status,
        Some(500),
        "LocalStack's wrong-algorithm answer changed: {wrong:?}"
    );
    // The backend:
    assert!(matches!(
        b.enable_key_rotation(&key, None).await,
        Err(Error::Unsupported { .. })
    ));
    let digest = Hash::Sha256.digest(b"x");
    assert!(matches!(
        b.sign(
            &key,
            Message::Digest(&digest),
            SigningAlgorithm::RsassaPssSha256
        )
        .await,
        Err(Error::InvalidKeyUsage { .. })
    ));
}

/// GAP: ReEncrypt without SourceKeyId gives HTTP 500 on LocalStack (AWS reads the key from
/// the ciphertext). With the source key named it works, and the result decrypts under the
/// destination key only with the destination context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_re_encrypt_needs_the_source_key_on_localstack() {
    let b = backend().await;
    let prefix = unique_prefix("reenc");
    let src = named(
        &b,
        &format!("{prefix}-a"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let dst = named(
        &b,
        &format!("{prefix}-b"),
        KeySpec::SymmetricDefault,
        KeyUsage::EncryptDecrypt,
    )
    .await;
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let (c1, c2) = (ctx(&[("stage", "one")]), ctx(&[("stage", "two")]));
    let ct = b.encrypt(&src, b"moving", alg, &c1).await.must("Encrypt");
    match b.re_encrypt(&ct, None, alg, &c1, &dst, alg, &c2).await {
        Err(Error::Backend {
            retryable: true, ..
        }) => {}
        other => panic!("LocalStack's ReEncrypt-without-source gap changed: {other:?}"),
    }
    let moved = b
        .re_encrypt(&ct, Some(&src), alg, &c1, &dst, alg, &c2)
        .await
        .must("ReEncrypt");
    assert_eq!(
        b.decrypt(Some(&dst), &moved, alg, &c2)
            .await
            .must("Decrypt")
            .expose(),
        b"moving"
    );
    assert!(matches!(
        b.decrypt(None, &moved, alg, &c1).await,
        Err(Error::Crypto { .. })
    ));
}

/// GAP: after DeleteImportedKeyMaterial, LocalStack accepts a re-import (the key is Enabled
/// again) but then fails every Encrypt and Decrypt with HTTP 500 ("key must be
/// bytes-like"). On AWS the same material brings the key back, old ciphertexts included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_reimported_key_material_is_unusable() {
    let b = backend().await;
    let name = unique_prefix("reimport");
    let mut request = CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name);
    request.origin = keychain::KeyOrigin::External;
    b.create_key(&request).await.must("CreateKey EXTERNAL");
    let key = KeyRef::parse(&name).must("ref");
    let material = keychain::Secret::new(vec![0x5c; 32]);
    let alg = EncryptionAlgorithm::SymmetricDefault;
    let c = ctx(&[("reimport", "yes")]);
    b.import_key_material(&key, &material, None)
        .await
        .must("first import");
    let ct = b.encrypt(&key, b"before", alg, &c).await.must("Encrypt");
    b.delete_imported_key_material(&key)
        .await
        .must("DeleteImportedKeyMaterial");
    b.import_key_material(&key, &material, None)
        .await
        .must("second import");
    assert_eq!(
        b.describe_key(&key).await.must("describe").state,
        keychain::KeyState::Enabled
    );
    match b.decrypt(None, &ct, alg, &c).await {
        Err(Error::Backend {
            code,
            message,
            retryable: true,
            ..
        }) => {
            assert_eq!(code, "InternalError");
            assert!(message.contains("bytes-like"), "{message}");
        }
        other => panic!("LocalStack's re-import gap changed: {other:?}"),
    }
}

/// NOT a gap any more (older LocalStack releases had one): LocalStack 2026.3 resolves alias ARNs. Every
/// reference form reaches the same key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_form_reaches_the_key() {
    let b = backend().await;
    let name = unique_prefix("forms");
    let key = named(&b, &name, KeySpec::EccNistP256, KeyUsage::SignVerify).await;
    let info = b.describe_key(&key).await.must("describe");
    let arn = info.arn.clone().must_some("key ARN");
    let ep = localstack()
        .endpoint()
        .trim_start_matches("http://")
        .to_string();
    for reference in [
        name.clone(),
        format!("alias/{name}"),
        info.key_id.clone(),
        arn.clone(),
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/{name}"),
        format!("awskms:///alias/{name}"),
        format!("awskms://{ep}/alias/{name}"),
        format!("awskms:key-id={};region={REGION}", info.key_id),
    ] {
        let r = KeyRef::parse(&reference).must(&reference);
        assert_eq!(
            b.describe_key(&r).await.must(&reference).key_id,
            info.key_id,
            "{reference}"
        );
        let digest = Hash::Sha256.digest(reference.as_bytes());
        b.sign(&r, Message::Digest(&digest), SigningAlgorithm::EcdsaSha256)
            .await
            .must(&format!("signing through {reference}"));
    }
    // A key URI naming another endpoint is refused, not silently sent elsewhere.
    let elsewhere = KeyRef::parse(&format!("awskms://127.0.0.1:1/alias/{name}")).must("ref");
    assert!(matches!(
        b.describe_key(&elsewhere).await,
        Err(Error::InvalidInput { .. })
    ));
}

trait MustSome<T> {
    fn must_some(self, what: &str) -> T;
}

impl<T> MustSome<T> for Option<T> {
    fn must_some(self, what: &str) -> T {
        self.unwrap_or_else(|| panic!("{what}: missing"))
    }
}

trait ExpectErr<T, E> {
    fn expect_err_or_panic(self, what: &str) -> E;
}

impl<T: std::fmt::Debug, E> ExpectErr<T, E> for Result<T, E> {
    fn expect_err_or_panic(self, what: &str) -> E {
        match self {
            Ok(v) => panic!("{what}: {v:?}"),
            Err(e) => e,
        }
    }
}
