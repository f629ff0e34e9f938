//! ML-KEM and ML-DSA's external μ on AWS KMS, which LocalStack lacks
//! (`awskms_gaps::gap_ml_kem_keys_are_refused_by_localstack`, `gap_ml_dsa_keys_…`): the fault
//! proxy answers CreateKey, DescribeKey, GetPublicKey, Encapsulate, Decapsulate and Sign in
//! the documented KMS JSON shape, and each request our backend sends is read back. The
//! private key behind the canned answers is a real one (a software keystore key), so a
//! ciphertext made with the public key KMS "returned" decapsulates to the same secret, and
//! the μ sent for a large ML-DSA message is checked against the one Python computes.

#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::awskms::AwsKmsBackend;
use keychain::{
    Backend, CreateKeyRequest, ErrorKind, KeyRef, KeySpec, KeyUsage, Keychain, Message,
    PublicKeyKind, SigningAlgorithm,
};
use keychain_testkit::conformance::{Must, unique_prefix};
use keychain_testkit::fault_proxy::{Canned, FaultPlan, FaultProxy, Outcome};
use keychain_testkit::localstack::{ACCOUNT, REGION, localstack};
use keychain_testkit::temp_software_backend;
use serde_json::{Value, json};

const KEY_ID: &str = "7f3c9a52-1d4e-4b8a-9c61-0e2f3a4b5c6d";

fn arn() -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}")
}

fn metadata(state: &str) -> Value {
    key_metadata(state, "ML_KEM_768", "ENCAPSULATE_DECAPSULATE")
}

fn key_metadata(state: &str, spec: &str, usage: &str) -> Value {
    let mut m = json!({
        "KeyMetadata": {
            "AWSAccountId": ACCOUNT,
            "KeyId": KEY_ID,
            "Arn": arn(),
            "CreationDate": 1_800_000_000.0,
            "Enabled": state == "Enabled",
            "Description": "",
            "KeyUsage": usage,
            "KeyState": state,
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "KeySpec": spec,
            "MultiRegion": false
        }
    });
    let algorithms = if usage == "SIGN_VERIFY" {
        ("SigningAlgorithms", "ML_DSA_SHAKE_256")
    } else {
        ("EncapsulationAlgorithms", "ML_KEM")
    };
    m["KeyMetadata"][algorithms.0] = json!([algorithms.1]);
    m
}

/// A backend that reaches LocalStack through `proxy`, caching metadata and public keys for
/// `cache_ttl` (so one scripted DescribeKey answers every call of a test that wants it).
async fn through(proxy: &FaultProxy, cache_ttl: Duration) -> AwsKmsBackend {
    let config = localstack()
        .config()
        .endpoint(proxy.endpoint())
        .cache_ttl(cache_ttl)
        .max_attempts(1);
    AwsKmsBackend::new(config).await.must("backend")
}

fn body(proxy: &FaultProxy, operation: &str) -> Value {
    let text = proxy
        .last_body(operation)
        .unwrap_or_else(|| panic!("no {operation} request reached the proxy"));
    serde_json::from_str(&text).unwrap()
}

/// CreateKey sends the spec and usage KMS documents for ML-KEM keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_sends_ml_kem_spec_and_usage() {
    let p = FaultProxy::start(localstack().endpoint(), 5, FaultPlan::none());
    let b = through(&p, Duration::ZERO).await;
    let name = unique_prefix("kem-create");
    p.script("CreateKey", [Canned::ok(metadata("Enabled"))]);
    p.script("CreateAlias", [Canned::ok(json!({}))]);
    let info = b
        .create_key(&CreateKeyRequest::new(KeySpec::MlKem768).name(&name))
        .await
        .must("CreateKey ML_KEM_768");
    let sent = body(&p, "CreateKey");
    assert_eq!(sent["KeySpec"], "ML_KEM_768", "{sent}");
    assert_eq!(sent["KeyUsage"], "ENCAPSULATE_DECAPSULATE", "{sent}");
    assert_eq!(info.spec, KeySpec::MlKem768);
    assert_eq!(info.usage, KeyUsage::EncapsulateDecapsulate);
    let alias = body(&p, "CreateAlias");
    assert_eq!(alias["TargetKeyId"], KEY_ID, "{alias}");
}

/// Encapsulating through the handle is local, with the public key GetPublicKey returned;
/// Decapsulate and Encapsulate send the key, the ciphertext and `ML_KEM`, and their answers
/// are read back (a shared secret of the wrong length is an error, not a secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encapsulate_and_decapsulate_speak_the_kms_wire_format() {
    // The private key behind the canned answers.
    let (_dir, holder) = temp_software_backend().await;
    holder
        .create_key(&CreateKeyRequest::new(KeySpec::MlKem768).name("kms-side"))
        .await
        .unwrap();
    let held = KeyRef::parse("kms-side").unwrap();
    let public = holder.public_key(&held).await.unwrap();

    let p = FaultProxy::start(localstack().endpoint(), 6, FaultPlan::none());
    let ttl = Duration::from_secs(600);
    let kc = Keychain::new(through(&p, ttl).await).with_cache_ttl(ttl);
    let key = format!("alias/{}", unique_prefix("kem-wire"));
    p.script("DescribeKey", [Canned::ok(metadata("Enabled"))]);
    p.script(
        "GetPublicKey",
        [Canned::ok(json!({
            "KeyId": arn(),
            "PublicKey": B64.encode(public.to_der()),
            "KeySpec": "ML_KEM_768",
            "KeyUsage": "ENCAPSULATE_DECAPSULATE",
            "EncapsulationAlgorithms": ["ML_KEM"]
        }))],
    );
    p.reset_stats();

    // Local encapsulation: no Encapsulate request; the holder decapsulates our ciphertext.
    let sent = kc.encapsulate(&key).await.must("encapsulate");
    assert_eq!(
        p.stats().requests_of("Encapsulate"),
        0,
        "encapsulation is local"
    );
    assert_eq!(
        kc.public_key(&key).await.unwrap().kind(),
        PublicKeyKind::MlKem(768)
    );
    let recovered = holder.decapsulate(&held, &sent.ciphertext).await.unwrap();
    assert_eq!(recovered.expose(), sent.shared_secret.expose());

    // Decapsulate: the request carries the ciphertext; the answer is the secret.
    let theirs = public.encapsulate().unwrap();
    p.script(
        "Decapsulate",
        [Canned::ok(json!({
            "KeyId": arn(),
            "SharedSecret": B64.encode(theirs.shared_secret.expose()),
            "EncapsulationAlgorithm": "ML_KEM"
        }))],
    );
    let secret = kc
        .decapsulate(&key, &theirs.ciphertext)
        .await
        .must("decapsulate");
    assert_eq!(secret.expose(), theirs.shared_secret.expose());
    assert_eq!(p.stats().of("Decapsulate", Outcome::Scripted), 1);
    let request = body(&p, "Decapsulate");
    assert_eq!(request["KeyId"], key.as_str(), "{request}");
    assert_eq!(request["EncapsulationAlgorithm"], "ML_KEM", "{request}");
    assert_eq!(
        request["SharedSecretCiphertextBlob"],
        B64.encode(&theirs.ciphertext),
        "{request}"
    );

    // Encapsulate in KMS (`Backend::encapsulate`): the answer's ciphertext and secret.
    let made = public.encapsulate().unwrap();
    p.script(
        "Encapsulate",
        [Canned::ok(json!({
            "KeyId": arn(),
            "SharedSecret": B64.encode(made.shared_secret.expose()),
            "SharedSecretCiphertextBlob": B64.encode(&made.ciphertext),
            "EncapsulationAlgorithm": "ML_KEM"
        }))],
    );
    let kms_key = KeyRef::parse(&key).unwrap();
    let remote = kc.backend().encapsulate(&kms_key).await.must("Encapsulate");
    assert_eq!(remote.ciphertext, made.ciphertext);
    assert_eq!(remote.shared_secret.expose(), made.shared_secret.expose());
    let request = body(&p, "Encapsulate");
    assert_eq!(request["KeyId"], key.as_str(), "{request}");
    assert_eq!(request["EncapsulationAlgorithm"], "ML_KEM", "{request}");

    // Answers out of shape are errors.
    p.script(
        "Decapsulate",
        [Canned::ok(json!({
            "KeyId": arn(),
            "SharedSecret": B64.encode([0u8; 31]),
            "EncapsulationAlgorithm": "ML_KEM"
        }))],
    );
    let err = kc.decapsulate(&key, &theirs.ciphertext).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto, "{err}");
    p.script(
        "Encapsulate",
        [Canned::ok(json!({
            "KeyId": arn(),
            "SharedSecret": B64.encode(made.shared_secret.expose()),
            "SharedSecretCiphertextBlob": B64.encode(&made.ciphertext[1..]),
            "EncapsulationAlgorithm": "ML_KEM"
        }))],
    );
    let err = kc.backend().encapsulate(&kms_key).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto, "{err}");

    // KMS's refusals keep their meaning and request id.
    p.script(
        "Decapsulate",
        [Canned::error(
            400,
            "InvalidCiphertextException",
            "The ciphertext is invalid.",
        )
        .request_id("11111111-2222-4333-8444-555555555555")],
    );
    let err = kc.decapsulate(&key, &theirs.ciphertext).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto, "{err}");
    assert!(
        err.to_string()
            .contains("11111111-2222-4333-8444-555555555555"),
        "{err}"
    );

    // A ciphertext of the wrong length never reaches KMS.
    p.reset_stats();
    let err = kc
        .decapsulate(&key, &theirs.ciphertext[..1000])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(p.stats().requests_of("Decapsulate"), 0);
}

/// A disabled ML-KEM key: KMS answers DisabledException, which is InvalidKeyState.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_is_invalid_key_state() {
    let p = FaultProxy::start(localstack().endpoint(), 7, FaultPlan::none());
    let b = through(&p, Duration::ZERO).await;
    let key = KeyRef::parse(&format!("alias/{}", unique_prefix("kem-off"))).unwrap();
    p.script(
        "DescribeKey",
        [
            Canned::ok(metadata("Enabled")),
            Canned::ok(metadata("Disabled")),
        ],
    );
    p.script(
        "Decapsulate",
        [Canned::error(
            400,
            "DisabledException",
            &format!("{} is disabled.", arn()),
        )],
    );
    let err = b.decapsulate(&key, &[0u8; 1088]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKeyState, "{err}");
}

/// An ML-DSA message longer than KMS's 4096 bytes is signed through `sign_reader` as
/// `EXTERNAL_MU`: one Sign request carrying the 64-byte μ Python computes for the message and
/// the public key GetPublicKey returned; the signature KMS answers is returned as is, and
/// Python `cryptography` verifies it over the whole message. A message within the limit is
/// still sent RAW.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ml_dsa_messages_are_signed_as_external_mu() {
    let (_dir, holder) = temp_software_backend().await;
    holder
        .create_key(&CreateKeyRequest::new(KeySpec::MlDsa65).name("kms-side"))
        .await
        .unwrap();
    let held = KeyRef::parse("kms-side").unwrap();
    let public = holder.public_key(&held).await.unwrap();
    let message: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let by_holder = holder
        .sign(
            &held,
            Message::Raw(&message),
            SigningAlgorithm::MlDsaShake256,
        )
        .await
        .unwrap();

    let p = FaultProxy::start(localstack().endpoint(), 8, FaultPlan::none());
    let ttl = Duration::from_secs(600);
    let kc = Keychain::new(through(&p, ttl).await).with_cache_ttl(ttl);
    let key = format!("alias/{}", unique_prefix("mldsa-mu"));
    p.script(
        "DescribeKey",
        [Canned::ok(key_metadata(
            "Enabled",
            "ML_DSA_65",
            "SIGN_VERIFY",
        ))],
    );
    p.script(
        "GetPublicKey",
        [Canned::ok(json!({
            "KeyId": arn(),
            "PublicKey": B64.encode(public.to_der()),
            "KeySpec": "ML_DSA_65",
            "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": ["ML_DSA_SHAKE_256"]
        }))],
    );
    p.script(
        "Sign",
        [Canned::ok(json!({
            "KeyId": arn(),
            "Signature": B64.encode(&by_holder),
            "SigningAlgorithm": "ML_DSA_SHAKE_256"
        }))],
    );
    p.reset_stats();
    let signed = kc
        .sign_reader(&key, message.as_slice(), None)
        .await
        .must("sign_reader of 100 000 bytes with ML-DSA on KMS");
    assert_eq!(signed.algorithm, SigningAlgorithm::MlDsaShake256);
    assert_eq!(signed.signature, by_holder);
    assert!(
        signed
            .note
            .as_deref()
            .is_some_and(|n| n.contains("external μ")),
        "{:?}",
        signed.note
    );
    assert_eq!(p.stats().requests_of("Sign"), 1);
    let request = body(&p, "Sign");
    assert_eq!(request["MessageType"], "EXTERNAL_MU", "{request}");
    assert_eq!(request["SigningAlgorithm"], "ML_DSA_SHAKE_256", "{request}");
    let expected_mu = keychain_testkit::python_ml_dsa_external_mu(&public.to_pem(), &message);
    assert_eq!(
        request["Message"],
        B64.encode(&expected_mu),
        "the μ sent is the one FIPS 204 defines (computed by Python)"
    );
    let verdicts = keychain_testkit::python_verify_batch(&[keychain_testkit::SignatureCase {
        public_key_pem: public.to_pem(),
        algorithm: SigningAlgorithm::MlDsaShake256,
        data: message.clone(),
        prehashed: false,
        signature: signed.signature.clone(),
    }]);
    assert_eq!(verdicts, [true]);

    // Within the limit: RAW, the message itself.
    p.script(
        "Sign",
        [Canned::ok(json!({
            "KeyId": arn(),
            "Signature": B64.encode(&by_holder),
            "SigningAlgorithm": "ML_DSA_SHAKE_256"
        }))],
    );
    let short = &message[..4096];
    kc.sign_reader(&key, short, None).await.must("4096 bytes");
    let request = body(&p, "Sign");
    assert_eq!(request["MessageType"], "RAW", "{request}");
    assert_eq!(request["Message"], B64.encode(short));
}
