//! What the real AWS KMS answers and LocalStack does not: quotas (`LimitExceededException`),
//! rotation conflicts, request ids, multi-Region deletion without a date, the on-demand
//! rotation start date, Ed25519 data key pairs and a caller allowed only the data-path
//! operations. The fault proxy (`keychain_testkit::fault_proxy`) sits in front of LocalStack
//! and answers chosen operations itself, in the documented KMS JSON shape (status,
//! `x-amzn-RequestId`, `x-amzn-ErrorType`, `{"__type","message"}`); every other request
//! reaches LocalStack.

#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::{
    Backend, CreateKeyRequest, EncryptionContext, Error, ErrorKind, Hash, KeyRef, KeySpec,
    KeyState, Keychain, Message, PublicKeyKind, SigningAlgorithm,
};
use keychain_testkit::conformance::{Must, unique_prefix};
use keychain_testkit::fault_proxy::{Canned, FaultPlan, FaultProxy, Outcome};
use keychain_testkit::localstack::localstack;

fn proxy() -> FaultProxy {
    FaultProxy::start(localstack().endpoint(), 11, FaultPlan::none())
}

/// A configuration that reaches LocalStack through `proxy`, without the metadata cache.
fn through(proxy: &FaultProxy) -> AwsKmsConfig {
    localstack()
        .config()
        .endpoint(proxy.endpoint())
        .cache_ttl(Duration::ZERO)
        .max_attempts(3)
}

async fn backend(config: AwsKmsConfig) -> AwsKmsBackend {
    AwsKmsBackend::new(config).await.must("backend")
}

async fn symmetric_key(b: &AwsKmsBackend, prefix: &str) -> (KeyRef, String) {
    let name = format!("{prefix}-sym");
    let info = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name))
        .await
        .must("CreateKey");
    (KeyRef::parse(&name).must("alias"), info.key_id)
}

/// A quota or length limit is not throttling: the first `LimitExceededException` is the
/// answer (one request, no retry), the error is not retryable, and it carries the request id
/// the server sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_exceeded_is_answered_once_and_not_retried() {
    let p = proxy();
    let b = backend(through(&p)).await;
    let (key, _) = symmetric_key(&b, &unique_prefix("limit")).await;
    p.script(
        "CreateAlias",
        [Canned::error(
            400,
            "LimitExceededException",
            "Too many aliases in the account",
        )
        .request_id("7f0c1d1e-limit-4000-8000-000000000001")],
    );
    p.reset_stats();
    let err = b
        .create_alias(&format!("{}-second", unique_prefix("limit")), &key)
        .await
        .expect_err("the quota refuses the alias");
    let stats = p.stats();
    assert_eq!(
        stats.requests_of("CreateAlias"),
        1,
        "a quota is not retried:\n{stats}"
    );
    assert_eq!(stats.of("CreateAlias", Outcome::Scripted), 1, "{stats}");
    assert!(!err.is_retryable(), "{err}");
    assert_ne!(err.kind(), ErrorKind::Throttled, "{err}");
    assert!(
        matches!(&err, Error::Backend { code, .. } if code == "LimitExceededException"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("7f0c1d1e-limit-4000-8000-000000000001"),
        "the request id is shown: {text}"
    );
    // Throttling, by contrast, is still retried.
    p.script(
        "CreateAlias",
        [Canned::error(400, "ThrottlingException", "Rate exceeded")],
    );
    p.reset_stats();
    let alias = format!("{}-third", unique_prefix("limit"));
    b.create_alias(&alias, &key)
        .await
        .must("throttled once, then created");
    assert_eq!(p.stats().requests_of("CreateAlias"), 2, "{}", p.stats());
}

/// Every error of an answered call carries the request id, also those LocalStack makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_the_aws_request_id() {
    let b = localstack().connect().await;
    let missing = KeyRef::parse(&unique_prefix("no-such-key")).must("ref");
    let err = b.describe_key(&missing).await.expect_err("no such key");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("AWS request id "), "{err}");
}

/// RotateKeyOnDemand refused with `ConflictException` (a rotation is in progress) is retried
/// and succeeds; the error itself is retryable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_conflict_is_retried() {
    let p = proxy();
    let b = backend(through(&p)).await;
    let (key, key_id) = symmetric_key(&b, &unique_prefix("conflict")).await;
    p.script(
        "RotateKeyOnDemand",
        [
            Canned::error(
                400,
                "ConflictException",
                "An automatic rotation of this key is in progress",
            ),
            Canned::ok(serde_json::json!({ "KeyId": key_id })),
        ],
    );
    p.reset_stats();
    b.rotate_key(&key).await.must("rotated after one conflict");
    let stats = p.stats();
    assert_eq!(
        stats.of("RotateKeyOnDemand", Outcome::Scripted),
        2,
        "{stats}"
    );
    // Conflicts beyond the attempts: a retryable error naming the exception.
    p.script(
        "RotateKeyOnDemand",
        (0..3).map(|_| Canned::error(400, "ConflictException", "rotation in progress")),
    );
    let err = b.rotate_key(&key).await.expect_err("still conflicting");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("ConflictException"), "{err}");
}

/// A multi-Region primary with replicas: KMS answers `PendingReplicaDeletion` and no
/// DeletionDate (the primary's waiting period starts once its replicas are gone); no date is
/// made up. LocalStack's own answer for a real primary with a replica is reported as given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_multi_region_primary_reports_no_invented_date() {
    let direct = localstack().connect().await;
    let name = unique_prefix("mrk-del");
    let mut request = CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name);
    request.multi_region = true;
    let primary = direct.create_key(&request).await.must("CreateKey");
    let key = KeyRef::parse(&name).must("ref");
    direct
        .replicate_key(&key, "eu-west-1", None)
        .await
        .must("ReplicateKey");
    let arn = primary.arn.clone().unwrap_or_default();

    // LocalStack: whatever it answers, a date only when it gives one.
    let seen = direct
        .schedule_key_deletion(&key, 7)
        .await
        .must("ScheduleKeyDeletion on LocalStack");
    assert!(
        seen.deletion_date.is_some() || seen.state == KeyState::PendingReplicaDeletion,
        "{seen:?}"
    );
    eprintln!("LocalStack answers a primary with a replica: {seen:?}");

    // The documented answer of KMS.
    let p = proxy();
    let b = backend(through(&p)).await;
    p.script(
        "ScheduleKeyDeletion",
        [Canned::ok(serde_json::json!({
            "KeyId": arn,
            "KeyState": "PendingReplicaDeletion",
            "PendingWindowInDays": 7
        }))],
    );
    let id = KeyRef::key_id(&primary.key_id).must("id");
    let schedule = b
        .schedule_key_deletion(&id, 7)
        .await
        .must("ScheduleKeyDeletion");
    assert_eq!(schedule.state, KeyState::PendingReplicaDeletion);
    assert_eq!(schedule.deletion_date, None, "no invented date");
    assert_eq!(schedule.pending_days, 7);
}

/// GetKeyRotationStatus reports when an on-demand rotation in progress started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_status_reports_the_on_demand_start() {
    let p = proxy();
    let b = backend(through(&p)).await;
    let (key, key_id) = symmetric_key(&b, &unique_prefix("od-start")).await;
    p.script(
        "GetKeyRotationStatus",
        [Canned::ok(serde_json::json!({
            "KeyId": key_id,
            "KeyRotationEnabled": true,
            "RotationPeriodInDays": 90,
            "NextRotationDate": 1_900_000_000.0,
            "OnDemandRotationStartDate": 1_800_000_000.0
        }))],
    );
    let status = b.key_rotation_status(&key).await.must("status");
    assert!(status.enabled);
    assert_eq!(status.period_days, Some(90));
    assert_eq!(
        status.on_demand_rotation_start,
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
    );
}

/// Ed25519 is a DataKeyPairSpec of the API: the request is sent, and the answer's public key
/// is read as Ed25519.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_data_key_pairs_are_asked_of_kms() {
    let p = proxy();
    let b = backend(through(&p)).await;
    let (key, key_id) = symmetric_key(&b, &unique_prefix("dkp-ed")).await;
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new()).expect("Ed25519 key");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("parse");
    let spki: PublicKeyX509Der = pair.public_key().as_der().expect("SPKI");
    p.script(
        "GenerateDataKeyPair",
        [Canned::ok(serde_json::json!({
            "KeyId": key_id,
            "KeyPairSpec": "ECC_NIST_EDWARDS25519",
            "PublicKey": B64.encode(spki.as_ref()),
            "PrivateKeyPlaintext": B64.encode(pkcs8.as_ref()),
            "PrivateKeyCiphertextBlob": B64.encode(b"opaque ciphertext of the private key"),
        }))],
    );
    p.reset_stats();
    let pair = b
        .generate_data_key_pair(
            &key,
            KeySpec::EccNistEdwards25519,
            &EncryptionContext::new(),
        )
        .await
        .must("GenerateDataKeyPair ECC_NIST_EDWARDS25519");
    assert_eq!(p.stats().of("GenerateDataKeyPair", Outcome::Scripted), 1);
    assert!(
        matches!(pair.public_key.kind(), PublicKeyKind::Ed25519),
        "{:?}",
        pair.public_key.kind()
    );
}

/// A caller whose policy allows only the data-path operations (and DescribeKey,
/// GetPublicKey) signs, verifies, reads the public key, encrypts and decrypts through the
/// `Keychain` handle: no ListAliases, ListResourceTags or ListKeyRotations is sent.
/// `describe` (which reads aliases and tags) is refused, so the deny list is in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_path_needs_only_its_own_permissions() {
    let prefix = unique_prefix("least");
    let direct = localstack().connect().await;
    direct
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(format!("{prefix}-sign")))
        .await
        .must("signing key");
    direct
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(format!("{prefix}-enc")))
        .await
        .must("encryption key");
    let p = proxy();
    p.deny_all_but([
        "Sign",
        "Verify",
        "GetPublicKey",
        "DescribeKey",
        "Encrypt",
        "Decrypt",
    ]);
    let kc = Keychain::new(backend(through(&p)).await).with_cache_ttl(Duration::ZERO);
    let signer = format!("{prefix}-sign");
    let digest = Hash::Sha256.digest(b"least privilege");
    let signature = kc
        .sign(&signer, &digest, Hash::Sha256)
        .await
        .must("sign with kms:Sign + kms:DescribeKey");
    let ok = kc
        .verify(
            &signer,
            Message::Digest(&digest),
            &signature,
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .must("verify");
    assert!(ok);
    kc.public_key(&signer).await.must("public key");
    let context: EncryptionContext = [("app".to_string(), "least".to_string())].into();
    let ciphertext = kc
        .encrypt(&format!("{prefix}-enc"), b"secret", &context)
        .await
        .must("encrypt");
    let plaintext = kc.decrypt(&ciphertext, &context).await.must("decrypt");
    assert_eq!(plaintext.expose(), b"secret");
    let stats = p.stats();
    assert_eq!(stats.total(Outcome::Denied), 0, "{stats}");
    // `describe` reads aliases and tags: refused under this policy.
    let err = kc.describe(&signer).await.expect_err("ListAliases denied");
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(p.stats().total(Outcome::Denied) >= 1);
}

/// A key of another account, by its ARN: the data path works across accounts (LocalStack
/// takes a 12-digit access key id as the account).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_account_signs_by_arn() {
    let other = backend(
        localstack()
            .config()
            .static_credentials("111122223333", "test", None),
    )
    .await;
    let info = other
        .create_key(
            &CreateKeyRequest::new(KeySpec::EccNistP256).name(unique_prefix("other-account")),
        )
        .await
        .must("CreateKey in account 111122223333");
    let arn = info.arn.clone().unwrap_or_default();
    assert!(arn.contains(":111122223333:key/"), "{arn}");
    let kc = Keychain::new(localstack().connect().await).with_cache_ttl(Duration::ZERO);
    let digest = Hash::Sha256.digest(b"cross-account");
    let signature = kc
        .sign(&arn, &digest, Hash::Sha256)
        .await
        .must("sign with another account's key ARN");
    let pk = kc.public_key(&arn).await.must("public key by ARN");
    assert!(
        pk.verify(
            Message::Digest(&digest),
            &signature,
            SigningAlgorithm::EcdsaSha256
        )
        .must("verify")
    );
}

/// Grant tokens of the configuration go with every operation that takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_tokens_are_sent_with_every_operation_that_takes_them() {
    let p = proxy();
    let token = "AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM4Mzc0MWFiYjc5ZjQ";
    let b = backend(through(&p).grant_token(token)).await;
    let prefix = unique_prefix("grant-tok");
    b.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(format!("{prefix}-sign")))
        .await
        .must("signing key");
    let (enc, _) = symmetric_key(&b, &prefix).await;
    let signer = KeyRef::parse(&format!("{prefix}-sign")).must("ref");
    let digest = Hash::Sha256.digest(b"grant tokens");
    let signature = b
        .sign(
            &signer,
            Message::Digest(&digest),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .must("sign");
    b.verify(
        &signer,
        Message::Digest(&digest),
        &signature,
        SigningAlgorithm::EcdsaSha256,
    )
    .await
    .must("verify");
    b.public_key(&signer).await.must("public key");
    let context = EncryptionContext::new();
    let ct = b
        .encrypt(
            &enc,
            b"x",
            keychain::EncryptionAlgorithm::SymmetricDefault,
            &context,
        )
        .await
        .must("encrypt");
    b.decrypt(
        Some(&enc),
        &ct,
        keychain::EncryptionAlgorithm::SymmetricDefault,
        &context,
    )
    .await
    .must("decrypt");
    b.generate_data_key(&enc, keychain::DataKeySpec::Aes256, &context)
        .await
        .must("data key");
    for op in [
        "DescribeKey",
        "Sign",
        "Verify",
        "GetPublicKey",
        "Encrypt",
        "Decrypt",
        "GenerateDataKey",
    ] {
        let body = p.last_body(op).unwrap_or_default();
        assert!(
            body.contains(&format!(r#""GrantTokens":["{token}"]"#)),
            "{op} without the grant token: {body}"
        );
    }
    // Operations that take none get none.
    let body = p.last_body("CreateKey").unwrap_or_default();
    assert!(!body.contains("GrantTokens"), "{body}");
    // More than the API allows is refused before any call.
    let mut config = through(&p);
    for i in 0..11 {
        config = config.grant_token(format!("t{i}"));
    }
    let err = AwsKmsBackend::new(config).await.expect_err("11 tokens");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

/// No wasted round trips: what `keychain sign KEY --digest HEX --encoding raw --json` asks
/// of the library (the algorithm for the digest, the signature, the key's curve for the raw
/// encoding, its id for the JSON) costs one DescribeKey and one Sign, with the default cache
/// (the handle's and the backend's lookups share what DescribeKey answered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_a_digest_costs_one_describe_key() {
    let name = p256_key("trips").await;
    let p = proxy();
    let config = localstack().config().endpoint(p.endpoint());
    let kc = Keychain::new(backend(config).await);
    let digest = Hash::Sha256.digest(b"round trips");
    let algorithm = kc
        .digest_signing_algorithm(&name, &digest)
        .await
        .must("algorithm");
    kc.sign_with(&name, Message::Digest(&digest), algorithm)
        .await
        .must("Sign");
    let info = kc.metadata(&name).await.must("curve");
    let again = kc.metadata(&name).await.must("key id");
    assert_eq!(info.key_id, again.key_id);
    let stats = p.stats();
    assert_eq!(stats.requests_of("Sign"), 1, "{stats}");
    assert_eq!(stats.requests_of("DescribeKey"), 1, "{stats}");
    assert_eq!(stats.requests(), 2, "nothing else is asked: {stats}");
}

/// One cache between the handle and the backend (`KeyCache`): what either read is what the
/// other uses, across repeated operations, and a change made through the backend is seen by
/// the handle's next call whatever its TTL. Counted through the fault proxy: one DescribeKey
/// and one GetPublicKey for the key's whole life in this handle, one Sign per signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handle_and_the_backend_share_one_cache() {
    let name = p256_key("one-cache").await;
    let p = proxy();
    let backend = std::sync::Arc::new(backend(localstack().config().endpoint(p.endpoint())).await);
    let kc = Keychain::from_arc(backend.clone());
    let key = KeyRef::alias(&name).must("alias");
    let digest = Hash::Sha256.digest(b"one cache");
    let algorithm = SigningAlgorithm::EcdsaSha256;

    // The backend reads the key first; the handle then asks nothing but Sign.
    backend
        .sign(&key, Message::Digest(&digest), algorithm)
        .await
        .must("Sign through the backend");
    let from_backend = backend.public_key(&key).await.must("GetPublicKey");
    let signature = kc.sign(&name, &digest, Hash::Sha256).await.must("sign");
    let from_handle = kc.public_key(&name).await.must("public key");
    assert_eq!(from_handle, from_backend);
    for _ in 0..2 {
        let signed = kc
            .sign_reader(&name, &b"one cache, twice"[..], None)
            .await
            .must("sign_reader");
        assert_eq!(signed.key_id, cached_key_id(&kc, &name).await);
    }
    let ok = kc
        .verify(&name, Message::Digest(&digest), &signature, algorithm)
        .await
        .must("verify");
    assert!(ok);
    let stats = p.stats();
    assert_eq!(stats.requests_of("DescribeKey"), 1, "{stats}");
    assert_eq!(stats.requests_of("GetPublicKey"), 1, "{stats}");
    assert_eq!(stats.requests_of("Sign"), 4, "{stats}");
    assert_eq!(stats.requests(), 6, "nothing else is asked: {stats}");

    // Disabled through the backend: the handle (five-minute TTL) refuses at once.
    backend.disable_key(&key).await.must("DisableKey");
    let err = kc
        .verify(&name, Message::Digest(&digest), &signature, algorithm)
        .await
        .expect_err("verify with a disabled key");
    assert_eq!(err.kind(), ErrorKind::InvalidKeyState, "{err}");
    backend.enable_key(&key).await.must("EnableKey");
    assert!(
        kc.verify(&name, Message::Digest(&digest), &signature, algorithm)
            .await
            .must("verify after enabling")
    );
}

/// A new P-256 key named after `prefix`, made directly (not through a proxy): its name.
async fn p256_key(prefix: &str) -> String {
    let name = format!("{}-p256", unique_prefix(prefix));
    localstack()
        .connect()
        .await
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(&name))
        .await
        .must("CreateKey");
    name
}

/// The key id the handle reports for `name`, read from the cache (no request).
async fn cached_key_id(kc: &Keychain, name: &str) -> String {
    kc.metadata(name).await.must("metadata").key_id
}
