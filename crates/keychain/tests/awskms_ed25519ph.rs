//! ED25519_PH_SHA_512 on the AWS backend, at the wire: KMS takes it with `MessageType=DIGEST`
//! only and hashes that 64-byte input again, so a raw message is hashed locally with SHA-512
//! and sent as `DIGEST`, and a digest is sent as it is. LocalStack has no Ed25519 keys: the
//! fault proxy answers DescribeKey, GetPublicKey, Sign and Verify for an Ed25519 key itself,
//! in the documented KMS JSON shape, with signatures PyCryptodome makes as KMS does
//! (`eddsa.new(key, 'rfc8032').sign(SHA512.new(D))`). The request bodies are read back from
//! the proxy.

#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::awskms::AwsKmsBackend;
use keychain::{Backend, Hash, KeyRef, Keychain, Message, PublicKey, SigningAlgorithm};
use keychain_testkit::conformance::Must;
use keychain_testkit::fault_proxy::{Canned, FaultPlan, FaultProxy, Outcome};
use keychain_testkit::localstack::localstack;
use keychain_testkit::python_ed25519ph_sign_batch;

const PH: SigningAlgorithm = SigningAlgorithm::Ed25519PhSha512;
const KEY_ID: &str = "0b3c5e2a-8f1d-4c6b-9a7e-2d4f6a8b0c1e";

fn arn() -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{KEY_ID}")
}

/// DescribeKey's answer for an enabled Ed25519 signing key, as KMS gives it.
fn ed25519_metadata() -> Canned {
    Canned::ok(serde_json::json!({
        "KeyMetadata": {
            "KeyId": KEY_ID,
            "Arn": arn(),
            "AWSAccountId": "000000000000",
            "CreationDate": 1_767_225_600.0,
            "Enabled": true,
            "KeyState": "Enabled",
            "KeyUsage": "SIGN_VERIFY",
            "KeySpec": "ECC_NIST_EDWARDS25519",
            "CustomerMasterKeySpec": "ECC_NIST_EDWARDS25519",
            "SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "MultiRegion": false,
        }
    }))
}

fn sign_answer(signature: &[u8]) -> Canned {
    Canned::ok(serde_json::json!({
        "KeyId": arn(),
        "Signature": B64.encode(signature),
        "SigningAlgorithm": "ED25519_PH_SHA_512",
    }))
}

/// A proxy that answers for the Ed25519 key (every other request would reach LocalStack and
/// fail: it has no such key), and a backend through it without caches.
async fn kms() -> (FaultProxy, AwsKmsBackend) {
    let p = FaultProxy::start(localstack().endpoint(), 23, FaultPlan::none());
    p.script("DescribeKey", (0..20).map(|_| ed25519_metadata()));
    let config = localstack()
        .config()
        .endpoint(p.endpoint())
        .cache_ttl(Duration::ZERO)
        .max_attempts(1);
    let b = AwsKmsBackend::new(config).await.must("backend");
    (p, b)
}

/// The `MessageType` and decoded `Message` of the last request of `operation`.
fn sent(p: &FaultProxy, operation: &str) -> (String, Vec<u8>, String) {
    let body = p
        .last_body(operation)
        .unwrap_or_else(|| panic!("no {operation} request reached the proxy"));
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    let message = B64
        .decode(v["Message"].as_str().unwrap_or_default())
        .expect("base64 Message");
    (
        v["MessageType"].as_str().unwrap_or_default().to_string(),
        message,
        v["SigningAlgorithm"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// A raw message of any length (here past KMS's 4096-byte raw limit, and a short one) is sent
/// as `DIGEST` of its SHA-512; a digest is sent unchanged. Sign and Verify alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519ph_sends_the_sha512_of_a_message_as_digest() {
    let (p, b) = kms().await;
    let key = KeyRef::parse(KEY_ID).must("key id");
    let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    for message in [&long[..], b"short"] {
        let d = Hash::Sha512.digest(message);
        p.script("Sign", [sign_answer(&[7u8; 64]), sign_answer(&[7u8; 64])]);
        b.sign(&key, Message::Raw(message), PH)
            .await
            .must("Sign a message");
        assert_eq!(
            sent(&p, "Sign"),
            (
                "DIGEST".to_string(),
                d.clone(),
                "ED25519_PH_SHA_512".to_string()
            ),
            "a {}-byte message",
            message.len()
        );
        b.sign(&key, Message::Digest(&d), PH)
            .await
            .must("Sign a digest");
        assert_eq!(
            sent(&p, "Sign"),
            (
                "DIGEST".to_string(),
                d.clone(),
                "ED25519_PH_SHA_512".to_string()
            )
        );
        p.script(
            "Verify",
            [Canned::ok(serde_json::json!({
                "KeyId": arn(),
                "SignatureValid": true,
                "SigningAlgorithm": "ED25519_PH_SHA_512",
            }))],
        );
        assert!(
            b.verify(&key, Message::Raw(message), &[7u8; 64], PH)
                .await
                .must("Verify a message")
        );
        assert_eq!(
            sent(&p, "Verify"),
            ("DIGEST".to_string(), d, "ED25519_PH_SHA_512".to_string())
        );
    }
    let stats = p.stats();
    assert_eq!(stats.of("Sign", Outcome::Scripted), 4, "{stats}");
    assert_eq!(stats.of("Verify", Outcome::Scripted), 2, "{stats}");
}

/// What KMS signs over the DIGEST keychain sends (PyCryptodome standing in for KMS, with
/// `D = SHA-512(m)` as the Ed25519ph message) verifies locally, through the handle, as the
/// message `m`, as the digest `D` and streamed; the same signature is refused for another
/// message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kms_ed25519ph_signature_verifies_locally() {
    let (p, b) = kms().await;
    let message: Vec<u8> = (0..10_000u32).map(|i| (i * 3 % 251) as u8).collect();
    let d = Hash::Sha512.digest(&message);
    let signed = python_ed25519ph_sign_batch(std::slice::from_ref(&d));
    let (pem, kms_signature) = &signed[0];
    let public_key = PublicKey::from_pem(pem).must("PyCryptodome's public key");
    p.script(
        "GetPublicKey",
        [Canned::ok(serde_json::json!({
            "KeyId": arn(),
            "PublicKey": B64.encode(public_key.to_der()),
            "KeySpec": "ECC_NIST_EDWARDS25519",
            "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
        }))],
    );
    p.script("Sign", [sign_answer(kms_signature)]);
    let kc = Keychain::new(b);
    let signature = kc
        .sign_reader(KEY_ID, &message[..], Some(PH))
        .await
        .must("sign_reader");
    assert_eq!(&signature.signature, kms_signature);
    assert_eq!(sent(&p, "Sign").1, d, "the stream's SHA-512 is sent");
    for (what, m) in [
        ("message", Message::Raw(&message)),
        ("digest", Message::Digest(&d)),
    ] {
        assert!(
            kc.verify(KEY_ID, m, kms_signature, PH).await.must(what),
            "{what}"
        );
    }
    assert!(
        kc.verify_reader(KEY_ID, &message[..], kms_signature, PH)
            .await
            .must("verify_reader")
    );
    assert!(
        !kc.verify(KEY_ID, Message::Raw(&message[1..]), kms_signature, PH)
            .await
            .must("another message")
    );
    let stats = p.stats();
    assert_eq!(stats.requests_of("Verify"), 0, "verified locally: {stats}");
    assert_eq!(stats.of("GetPublicKey", Outcome::Scripted), 1, "{stats}");
}
