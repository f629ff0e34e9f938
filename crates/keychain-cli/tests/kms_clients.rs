//! Clients that are not ours (boto3, the AWS CLI, botocore-signed raw requests) against
//! LocalStack: the harness that judges `keychain serve` is itself judged here on an emulator
//! that speaks the same protocol. Every LocalStack defect the scripts find is asserted as a
//! known gap (the step must fail exactly so), never skipped.

#![cfg(feature = "aws")]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain_testkit::fault_proxy::{Canned, FaultPlan, FaultProxy};
use keychain_testkit::kms_clients::{
    Gap, LOCALSTACK_SESSION_GAPS, LOCALSTACK_SIGV4_GAPS, LOCALSTACK_SPECS, awscli_session,
    boto3_session, differential, localstack_deviations, sigv4_attacks,
};
use keychain_testkit::localstack::localstack;

/// The whole boto3 session over every spec LocalStack has: every signature judged by
/// `cryptography`, data keys by AES-GCM, imports by our own key material; LocalStack's known
/// defects fail exactly at their gap.
#[test]
fn boto3_session_against_localstack() {
    let ls = localstack();
    let report = boto3_session(
        ls.endpoint(),
        LOCALSTACK_SPECS,
        LOCALSTACK_SESSION_GAPS,
        false,
    );
    report.assert_passed("the boto3 session against LocalStack");
    assert_eq!(
        report.count("steps", "gap"),
        LOCALSTACK_SESSION_GAPS.len(),
        "every known gap was met"
    );
    // The judges really ran: one signature step per algorithm and message type of each spec.
    let signed = report.json["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|x| {
                    x["outcome"] == "ok"
                        && x["step"].as_str().is_some_and(|n| n.starts_with("sign/"))
                })
                .count()
        })
        .unwrap_or(0);
    assert_eq!(signed, 3 * 12 + 4 * 2, "{}", report.json);
}

/// GAP: LocalStack creates no Ed25519, ML-DSA or ML-KEM key; the session asks for each and
/// records the refusal.
#[test]
fn boto3_session_gap_specs_localstack_lacks() {
    let ls = localstack();
    let lacking = [
        "ECC_NIST_EDWARDS25519",
        "ML_DSA_44",
        "ML_DSA_65",
        "ML_DSA_87",
        "ML_KEM_512",
        "ML_KEM_768",
        "ML_KEM_1024",
    ];
    let gaps: &[Gap] = &[
        (
            "create/ECC_NIST_EDWARDS25519/SIGN_VERIFY",
            "ValidationException",
        ),
        (
            "create/ML_DSA_44/SIGN_VERIFY",
            "KeySpec ML_DSA_44 is not supported",
        ),
        (
            "create/ML_DSA_65/SIGN_VERIFY",
            "KeySpec ML_DSA_65 is not supported",
        ),
        (
            "create/ML_DSA_87/SIGN_VERIFY",
            "KeySpec ML_DSA_87 is not supported",
        ),
        (
            "create/ML_KEM_512/ENCAPSULATE_DECAPSULATE",
            "KeySpec ML_KEM_512 is not supported",
        ),
        (
            "create/ML_KEM_768/ENCAPSULATE_DECAPSULATE",
            "KeySpec ML_KEM_768 is not supported",
        ),
        (
            "create/ML_KEM_1024/ENCAPSULATE_DECAPSULATE",
            "KeySpec ML_KEM_1024 is not supported",
        ),
    ];
    let report = boto3_session(ls.endpoint(), &lacking, gaps, true);
    report.assert_passed("the boto3 session over the specs LocalStack lacks");
    assert_eq!(report.count("steps", "gap"), gaps.len(), "{}", report.json);
}

/// The AWS CLI session: create-key, sign with fileb://, `openssl` verifies, encrypt and decrypt
/// with a context, list-keys, aliases. LocalStack passes it whole.
#[test]
fn awscli_session_against_localstack() {
    let ls = localstack();
    let report = awscli_session(ls.endpoint(), LOCALSTACK_SPECS, &[]);
    report.assert_passed("the AWS CLI session against LocalStack");
    assert!(report.count("steps", "ok") >= 20, "{}", report.json);
}

/// The differential's requests against LocalStack alone: each answer compared with the KMS API
/// reference; LocalStack's deviations are exactly the measured ones (docs/SERVER.md).
#[test]
fn differential_localstack_against_the_api_reference() {
    let ls = localstack();
    let report = differential(
        &[("localstack", ls.endpoint())],
        &localstack_deviations("localstack"),
    );
    report.assert_passed("the differential requests against LocalStack");
}

/// GAP: LocalStack checks no SigV4 signature: every damaged request is served. The attacks
/// are asserted as LocalStack answers them, so a LocalStack that starts checking fails here.
#[test]
fn sigv4_attacks_gap_localstack_checks_no_signature() {
    let ls = localstack();
    let report = sigv4_attacks(ls.endpoint(), LOCALSTACK_SIGV4_GAPS);
    report.assert_passed("the SigV4 attacks against LocalStack");
    assert_eq!(
        report.count("attacks", "gap"),
        LOCALSTACK_SIGV4_GAPS.len(),
        "{}",
        report.json
    );
    assert_eq!(
        report.count("attacks", "ok"),
        1,
        "the valid control request"
    );
}

/// The judges are not fooled: behind a proxy that answers one Sign with a wrong signature and
/// one GenerateDataKey with a plaintext its ciphertext does not hold, the boto3 session fails
/// exactly at those steps, said by `cryptography` and by AES-GCM.
#[test]
fn boto3_session_catches_a_lying_endpoint() {
    let ls = localstack();
    let proxy = FaultProxy::start(ls.endpoint(), 7, FaultPlan::none());
    // A DER ECDSA signature (r = 1, s = 1): well formed, valid under no key.
    proxy.script(
        "Sign",
        [Canned::ok(serde_json::json!({
            "KeyId": "lie", "Signature": "MAYCAQECAQE=", "SigningAlgorithm": "ECDSA_SHA_256"
        }))],
    );
    // A real LocalStack ciphertext of one 32-byte key, sent with another key as Plaintext.
    let blob = ls.boto3(
        "import os\nk = kms.create_key()['KeyMetadata']['KeyId']\n\
         result = base64.b64encode(kms.encrypt(KeyId=k, Plaintext=os.urandom(32), \
         EncryptionContext={'purpose': 'judging', 'tenant': 'a'})['CiphertextBlob']).decode()",
        &serde_json::Value::Null,
    );
    proxy.script(
        "GenerateDataKey",
        [Canned::ok(serde_json::json!({
            "KeyId": "lie", "CiphertextBlob": blob, "Plaintext": B64.encode([7u8; 32])
        }))],
    );
    // LocalStack's gaps, but those of RSA keys, which this session does not make.
    let gaps: Vec<Gap> = LOCALSTACK_SESSION_GAPS
        .iter()
        .copied()
        .filter(|(step, _)| !step.contains("/RSA_"))
        .collect();
    let report = boto3_session(&proxy.endpoint(), &["ECC_NIST_P256"], &gaps, false);
    assert!(!report.passed, "the lies went unnoticed: {}", report.json);
    let failed: Vec<(String, String)> = report.json["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["outcome"] == "failed")
        .map(|s| {
            (
                s["step"].as_str().unwrap_or_default().to_string(),
                s["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].0, "sign/ECC_NIST_P256/ECDSA_SHA_256/RAW");
    assert!(
        failed[0]
            .1
            .contains("the outside judge refuses the signature"),
        "{failed:?}"
    );
    assert_eq!(failed[1].0, "generate-data-key/AES_256");
    assert!(
        failed[1].1.contains("the data key decrypts to another key"),
        "{failed:?}"
    );
}

/// The same for the AWS CLI: a Sign answered with 256 bytes that are no RSA signature is
/// refused by `openssl`.
#[test]
fn awscli_session_catches_a_lying_endpoint() {
    let ls = localstack();
    let proxy = FaultProxy::start(ls.endpoint(), 7, FaultPlan::none());
    proxy.script(
        "Sign",
        [Canned::ok(serde_json::json!({
            "KeyId": "lie",
            "Signature": B64.encode([1u8; 256]),
            "SigningAlgorithm": "RSASSA_PSS_SHA_256"
        }))],
    );
    let report = awscli_session(&proxy.endpoint(), LOCALSTACK_SPECS, &[]);
    assert!(!report.passed, "the lie went unnoticed: {}", report.json);
    let failed: Vec<&serde_json::Value> = report.json["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["outcome"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["step"], "sign/RSA_2048/RSASSA_PSS_SHA_256/RAW");
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("openssl refuses the signature")),
        "{failed:?}"
    );
}
