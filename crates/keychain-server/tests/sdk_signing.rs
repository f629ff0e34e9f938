//! aws-sdk-kms (a client we did not write) against `keychain serve`: keys of every signing
//! spec created, their public keys read, messages and digests signed, and every signature
//! judged by OpenSSL and Python `cryptography`, then checked by the server's Verify (a
//! tampered one refused with KMSInvalidSignatureException).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use keychain::{PublicKey, SigningAlgorithm};
use keychain_testkit::{SignatureCase, openssl_verify, python_verify_batch};

const MESSAGE: &[u8] = b"keychain serve, judged by others";

/// (spec, algorithms signed over the raw message, algorithms signed over a digest)
fn cases() -> Vec<(KeySpec, Vec<SigningAlgorithm>, Vec<SigningAlgorithm>)> {
    use SigningAlgorithm::*;
    vec![
        (
            KeySpec::Rsa2048,
            vec![RsassaPkcs1V15Sha256, RsassaPssSha384],
            vec![RsassaPkcs1V15Sha512, RsassaPssSha256],
        ),
        (KeySpec::EccNistP256, vec![EcdsaSha256], vec![EcdsaSha256]),
        (KeySpec::EccNistP384, vec![EcdsaSha384], vec![EcdsaSha384]),
        (KeySpec::EccNistP521, vec![EcdsaSha512], vec![EcdsaSha512]),
        (KeySpec::EccSecgP256K1, vec![EcdsaSha256], vec![EcdsaSha256]),
        (
            KeySpec::EccNistEdwards25519,
            vec![Ed25519Sha512],
            vec![Ed25519PhSha512],
        ),
        (KeySpec::MlDsa44, vec![MlDsaShake256], vec![]),
        (KeySpec::MlDsa87, vec![MlDsaShake256], vec![]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signing_spec_signs_what_openssl_and_python_accept() {
    let served = support::serve().await;
    let kms = served.sdk();
    let mut judged = Vec::new();
    for (spec, raw, digest) in cases() {
        let created = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateKey {spec}: {e:?}"));
        let meta = created.key_metadata().expect("KeyMetadata");
        assert_eq!(meta.key_spec(), Some(&spec));
        let arn = meta.arn().expect("Arn").to_string();
        assert!(
            arn.starts_with("arn:aws:kms:us-east-1:000000000000:key/"),
            "{arn}"
        );
        let public = kms
            .get_public_key()
            .key_id(&arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetPublicKey {spec}: {e:?}"));
        let der = public.public_key().expect("PublicKey").as_ref().to_vec();
        let pem = PublicKey::from_der(&der)
            .unwrap_or_else(|e| panic!("the public key of {spec} is no SPKI: {e}"))
            .to_pem();
        let signed = raw
            .iter()
            .map(|a| (*a, false))
            .chain(digest.iter().map(|a| (*a, true)));
        for (algorithm, prehashed) in signed {
            let data = if prehashed {
                algorithm.hash().digest(MESSAGE)
            } else {
                MESSAGE.to_vec()
            };
            let kind = if prehashed {
                MessageType::Digest
            } else {
                MessageType::Raw
            };
            let sdk_alg = SigningAlgorithmSpec::from(algorithm.as_str());
            let out = kms
                .sign()
                .key_id(meta.key_id())
                .message(Blob::new(data.clone()))
                .message_type(kind.clone())
                .signing_algorithm(sdk_alg.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("Sign {spec} {algorithm}: {e:?}"));
            assert_eq!(out.key_id(), Some(arn.as_str()));
            let signature = out.signature().expect("Signature").as_ref().to_vec();
            // OpenSSL judges signatures over the message itself.
            if !prehashed && algorithm != SigningAlgorithm::MlDsaShake256 {
                assert!(
                    openssl_verify(&pem, algorithm, MESSAGE, &signature),
                    "OpenSSL rejects the {spec} {algorithm} signature"
                );
            }
            // For ED25519_PH_SHA_512 the judge takes the DIGEST `D` as KMS does: the Ed25519ph
            // message, hashed once more (PyCryptodome's `verify(SHA512.new(D), sig)`).
            judged.push((
                format!("{spec} {algorithm} digest={prehashed}"),
                SignatureCase {
                    public_key_pem: pem.clone(),
                    algorithm,
                    data: data.clone(),
                    prehashed,
                    signature: signature.clone(),
                },
            ));
            let verified = kms
                .verify()
                .key_id(&arn)
                .message(Blob::new(data.clone()))
                .message_type(kind.clone())
                .signature(Blob::new(signature.clone()))
                .signing_algorithm(sdk_alg.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("Verify {spec} {algorithm}: {e:?}"));
            assert!(verified.signature_valid());
            let mut tampered = signature.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            let refused = kms
                .verify()
                .key_id(&arn)
                .message(Blob::new(data))
                .message_type(kind)
                .signature(Blob::new(tampered))
                .signing_algorithm(sdk_alg)
                .send()
                .await
                .expect_err("a tampered signature must be refused");
            assert!(
                refused
                    .as_service_error()
                    .is_some_and(|e| e.is_kms_invalid_signature_exception()),
                "{spec} {algorithm}: {refused:?}"
            );
        }
    }
    let verdicts = python_verify_batch(&judged.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    for ((what, _), ok) in judged.iter().zip(verdicts) {
        assert!(ok, "Python cryptography rejects the {what} signature");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_refusals_carry_kms_exceptions() {
    let served = support::serve().await;
    let kms = served.sdk();
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .expect("CreateKey");
    let id = key.key_metadata().expect("meta").key_id().to_string();
    let sign = |alg: SigningAlgorithmSpec, kind: MessageType, data: Vec<u8>| {
        kms.sign()
            .key_id(&id)
            .message(Blob::new(data))
            .message_type(kind)
            .signing_algorithm(alg)
            .send()
    };
    let code =
        |r: Result<_, aws_sdk_kms::error::SdkError<aws_sdk_kms::operation::sign::SignError, _>>| {
            use aws_sdk_kms::error::ProvideErrorMetadata;
            r.err().and_then(|e| e.code().map(str::to_string))
        };
    // An algorithm the key does not have.
    assert_eq!(
        code(
            sign(
                SigningAlgorithmSpec::EcdsaSha384,
                MessageType::Raw,
                b"m".to_vec()
            )
            .await
        )
        .as_deref(),
        Some("InvalidKeyUsageException")
    );
    // A digest of the wrong length.
    assert_eq!(
        code(
            sign(
                SigningAlgorithmSpec::EcdsaSha256,
                MessageType::Digest,
                vec![0; 20]
            )
            .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    // Over 4096 bytes.
    assert_eq!(
        code(
            sign(
                SigningAlgorithmSpec::EcdsaSha256,
                MessageType::Raw,
                vec![0; 4097]
            )
            .await
        )
        .as_deref(),
        Some("ValidationException")
    );
    // A disabled key, then a key pending deletion.
    kms.disable_key()
        .key_id(&id)
        .send()
        .await
        .expect("DisableKey");
    assert_eq!(
        code(
            sign(
                SigningAlgorithmSpec::EcdsaSha256,
                MessageType::Raw,
                b"m".to_vec()
            )
            .await
        )
        .as_deref(),
        Some("DisabledException")
    );
    kms.schedule_key_deletion()
        .key_id(&id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    assert_eq!(
        code(
            sign(
                SigningAlgorithmSpec::EcdsaSha256,
                MessageType::Raw,
                b"m".to_vec()
            )
            .await
        )
        .as_deref(),
        Some("KMSInvalidStateException")
    );
    // No such key.
    let missing = kms
        .sign()
        .key_id("alias/none")
        .message(Blob::new(b"m".to_vec()))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .expect_err("no such alias");
    assert!(
        missing
            .as_service_error()
            .is_some_and(|e| e.is_not_found_exception())
    );
}

/// KMS's message types beyond RAW and DIGEST: ML-DSA signs a 64-byte external μ (the signature,
/// judged by Python `cryptography`, is ML-DSA's over the message μ stands for), an external μ
/// of another length or for another algorithm is refused, and ED25519_PH_SHA_512 refuses a RAW
/// message as KMS does ("requires KMS MessageType:DIGEST").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_mu_for_ml_dsa_and_ed25519ph_digest_only() {
    use aws_sdk_kms::error::ProvideErrorMetadata;
    let served = support::serve().await;
    let kms = served.sdk();
    let create = |spec: KeySpec| {
        kms.create_key()
            .key_spec(spec)
            .key_usage(KeyUsageType::SignVerify)
            .send()
    };
    let ml_dsa = create(KeySpec::MlDsa65).await.expect("CreateKey ML_DSA_65");
    let id = ml_dsa.key_metadata().expect("meta").key_id().to_string();
    let der = kms
        .get_public_key()
        .key_id(&id)
        .send()
        .await
        .expect("GetPublicKey")
        .public_key()
        .expect("PublicKey")
        .as_ref()
        .to_vec();
    let public = PublicKey::from_der(&der).expect("an ML-DSA public key");
    let mu = public
        .ml_dsa_external_mu(&mut keychain::MessageSource::memory(MESSAGE))
        .expect("μ of the message");
    let sign = |key: String, alg: SigningAlgorithmSpec, kind: MessageType, data: Vec<u8>| {
        kms.sign()
            .key_id(key)
            .message(Blob::new(data))
            .message_type(kind)
            .signing_algorithm(alg)
            .send()
    };
    let signature = sign(
        id.clone(),
        SigningAlgorithmSpec::MlDsaShake256,
        MessageType::ExternalMu,
        mu.to_vec(),
    )
    .await
    .expect("Sign EXTERNAL_MU")
    .signature()
    .expect("Signature")
    .as_ref()
    .to_vec();
    let verified = kms
        .verify()
        .key_id(&id)
        .message(Blob::new(mu.to_vec()))
        .message_type(MessageType::ExternalMu)
        .signature(Blob::new(signature.clone()))
        .signing_algorithm(SigningAlgorithmSpec::MlDsaShake256)
        .send()
        .await
        .expect("Verify EXTERNAL_MU");
    assert!(verified.signature_valid());
    let verdicts = python_verify_batch(&[SignatureCase {
        public_key_pem: public.to_pem(),
        algorithm: SigningAlgorithm::MlDsaShake256,
        data: MESSAGE.to_vec(),
        prehashed: false,
        signature,
    }]);
    assert_eq!(
        verdicts,
        [true],
        "Python cryptography rejects the EXTERNAL_MU signature"
    );
    let short = sign(
        id,
        SigningAlgorithmSpec::MlDsaShake256,
        MessageType::ExternalMu,
        vec![1; 32],
    )
    .await
    .expect_err("a 32-byte μ");
    assert_eq!(short.code(), Some("ValidationException"));
    let p256 = create(KeySpec::EccNistP256).await.expect("CreateKey P-256");
    let not_ml_dsa = sign(
        p256.key_metadata().expect("meta").key_id().to_string(),
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::ExternalMu,
        mu.to_vec(),
    )
    .await
    .expect_err("an external μ for ECDSA");
    assert_eq!(not_ml_dsa.code(), Some("ValidationException"));
    let ed25519 = create(KeySpec::EccNistEdwards25519)
        .await
        .expect("CreateKey Ed25519");
    let raw = sign(
        ed25519.key_metadata().expect("meta").key_id().to_string(),
        SigningAlgorithmSpec::Ed25519PhSha512,
        MessageType::Raw,
        MESSAGE.to_vec(),
    )
    .await
    .expect_err("Ed25519ph over a RAW message");
    assert_eq!(raw.code(), Some("ValidationException"));
}
