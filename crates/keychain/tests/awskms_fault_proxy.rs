//! Faults in front of a REAL KMS: the test kit's fault proxy (`keychain_testkit::fault_proxy`)
//! sits between the backend and LocalStack and answers a seeded share of the requests with
//! throttling, HTTP 500/503, resets, silence or delay; everything else reaches LocalStack.
//!
//! `awskms_faults.rs` scripts a fake endpoint to pin down single behaviours (attempt counts,
//! CreateKey never retried after an unknown outcome, request tags). Here the faults are
//! random and the server is real, so what is proven is the whole: a busy backend under a
//! throttling storm completes every operation with nothing duplicated in KMS, a silent server
//! is cut off at the operation deadline and the same backend recovers, throttling beyond the
//! budget surfaces as `Throttled`, resets are retried, a CreateAlias whose answer was lost
//! is not taken for a lost race — and, at TRACE level, no log line carries a credential, a
//! plaintext or a data key.
//!
//! The tests take turns (one lock): the SDK's retry quota is shared by every client of the
//! process for a region, and the deadline test measures time.

#![cfg(feature = "aws")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, DataKeySpec, EncryptionAlgorithm, EncryptionContext, Error, KeyRef,
    KeySpec, Message, PageRequest, PublicKey, SigningAlgorithm,
};
use keychain_testkit::conformance::unique_prefix;
use keychain_testkit::fault_proxy::{Fault, FaultPlan, FaultProxy, Outcome};
use keychain_testkit::localstack::localstack;

/// One test at a time (see the module documentation).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A configuration that reaches LocalStack through `proxy`, without the metadata cache (every
/// operation goes to the server).
fn through(proxy: &FaultProxy) -> AwsKmsConfig {
    localstack()
        .config()
        .endpoint(proxy.endpoint())
        .cache_ttl(Duration::ZERO)
}

async fn backend(config: AwsKmsConfig) -> AwsKmsBackend {
    AwsKmsBackend::new(config)
        .await
        .unwrap_or_else(|e| panic!("backend: {e}"))
}

/// A backend on LocalStack itself, bypassing every proxy.
async fn direct() -> AwsKmsBackend {
    backend(localstack().config()).await
}

fn alias(name: &str) -> KeyRef {
    KeyRef::alias(name).unwrap_or_else(|e| panic!("alias {name}: {e}"))
}

/// Keys to work on, made directly on LocalStack.
struct Fixture {
    sign: KeyRef,
    sign_id: String,
    public_key: PublicKey,
    enc: KeyRef,
    enc_id: String,
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
}

async fn fixture(prefix: &str) -> Fixture {
    let d = direct().await;
    let sign_info = d
        .create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(format!("{prefix}-sign")))
        .await
        .expect("signing key");
    let enc_info = d
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(format!("{prefix}-enc")))
        .await
        .expect("encryption key");
    let sign = alias(&format!("{prefix}-sign"));
    let enc = alias(&format!("{prefix}-enc"));
    let public_key = d.public_key(&sign).await.expect("public key");
    let plaintext = b"fixture plaintext".to_vec();
    let ciphertext = d
        .encrypt(
            &enc,
            &plaintext,
            EncryptionAlgorithm::SymmetricDefault,
            &context(),
        )
        .await
        .expect("fixture ciphertext");
    Fixture {
        sign,
        sign_id: sign_info.key_id,
        public_key,
        enc,
        enc_id: enc_info.key_id,
        plaintext,
        ciphertext,
    }
}

fn context() -> EncryptionContext {
    [("purpose".to_string(), "fault-proxy-test".to_string())].into()
}

/// What one operation of the mixed run left to check afterwards, directly on LocalStack.
#[derive(Default)]
struct Outputs {
    /// Name → key id, of every key created.
    created: BTreeMap<String, String>,
    /// (plaintext, ciphertext) of every Encrypt.
    encrypted: Vec<(Vec<u8>, Vec<u8>)>,
    /// (plaintext, ciphertext) of every data key.
    data_keys: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Runs operation `i` of the mixed workload; returns its KMS operation name for the tally.
async fn mixed_op(
    i: usize,
    b: &AwsKmsBackend,
    f: &Fixture,
    prefix: &str,
    out: &Mutex<Outputs>,
) -> &'static str {
    let what = |op: &str| format!("operation #{i} ({op})");
    match i % 20 {
        0 | 10 => {
            let name = format!("{prefix}-k{i}");
            let info = b
                .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name))
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("CreateKey")));
            assert_eq!(info.name.as_deref(), Some(name.as_str()));
            let previous = out.lock().unwrap().created.insert(name, info.key_id);
            assert!(previous.is_none(), "name used twice");
            "CreateKey"
        }
        1..=3 => {
            let msg = format!("message {i}");
            let sig = b
                .sign(
                    &f.sign,
                    Message::Raw(msg.as_bytes()),
                    SigningAlgorithm::EcdsaSha256,
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("Sign")));
            let ok = f
                .public_key
                .verify(
                    Message::Raw(msg.as_bytes()),
                    &sig,
                    SigningAlgorithm::EcdsaSha256,
                )
                .expect("local verification");
            assert!(ok, "{}: the signature does not verify", what("Sign"));
            "Sign"
        }
        4 => {
            let msg = b"verified by the backend";
            let sig = b
                .sign(&f.sign, Message::Raw(msg), SigningAlgorithm::EcdsaSha256)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("Sign before Verify")));
            let ok = b
                .verify(
                    &f.sign,
                    Message::Raw(msg),
                    &sig,
                    SigningAlgorithm::EcdsaSha256,
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("Verify")));
            assert!(ok, "{}: KMS rejects its own signature", what("Verify"));
            "Sign+Verify"
        }
        5 | 6 => {
            let pk = b
                .public_key(&f.sign)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("GetPublicKey")));
            assert!(
                pk == f.public_key,
                "{}: another public key",
                what("GetPublicKey")
            );
            "GetPublicKey"
        }
        7 | 8 => {
            let plaintext = format!("plaintext of operation {i}").into_bytes();
            let ct = b
                .encrypt(
                    &f.enc,
                    &plaintext,
                    EncryptionAlgorithm::SymmetricDefault,
                    &context(),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("Encrypt")));
            out.lock().unwrap().encrypted.push((plaintext, ct));
            "Encrypt"
        }
        9 | 11 => {
            let pt = b
                .decrypt(
                    Some(&f.enc),
                    &f.ciphertext,
                    EncryptionAlgorithm::SymmetricDefault,
                    &context(),
                )
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("Decrypt")));
            assert_eq!(pt.expose(), f.plaintext.as_slice());
            "Decrypt"
        }
        12 | 13 => {
            let dk = b
                .generate_data_key(&f.enc, DataKeySpec::Aes256, &context())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("GenerateDataKey")));
            assert_eq!(dk.plaintext.expose().len(), 32);
            assert_eq!(dk.key_id, f.enc_id);
            out.lock()
                .unwrap()
                .data_keys
                .push((dk.plaintext.expose().to_vec(), dk.ciphertext.clone()));
            "GenerateDataKey"
        }
        14 | 15 => {
            let info = b
                .describe_key(&f.sign)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("DescribeKey")));
            assert_eq!(info.key_id, f.sign_id);
            assert_eq!(info.spec, KeySpec::EccNistP256);
            "DescribeKey"
        }
        16 => {
            let page = b
                .list_keys(&PageRequest {
                    limit: Some(3),
                    marker: None,
                })
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("ListKeys")));
            assert!(!page.items.is_empty(), "{}: no keys", what("ListKeys"));
            "ListKeys"
        }
        17 => {
            let aliases = b
                .list_aliases(Some(&f.enc))
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("ListAliases")));
            assert!(
                aliases.iter().any(|a| a.alias.ends_with("-enc")),
                "{}: the alias is missing",
                what("ListAliases")
            );
            "ListAliases"
        }
        _ => {
            let key = KeyRef::key_id(&f.enc_id).expect("key id");
            let info = b
                .describe_key(&key)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", what("DescribeKey by id")));
            assert_eq!(info.spec, KeySpec::SymmetricDefault);
            "DescribeKey"
        }
    }
}

/// Every key LocalStack holds whose `keychain:name` tag starts with `prefix` (name → key ids
/// and states), and every alias `alias/PREFIX…` (alias → target key ids), asked with boto3,
/// not through our backend.
fn kms_inventory(prefix: &str) -> serde_json::Value {
    localstack().boto3(
        r#"
prefix = data['prefix']
ids = []
for page in kms.get_paginator('list_keys').paginate():
    ids += [k['KeyId'] for k in page['Keys']]
tagged = {}
for k in ids:
    tags = {}
    for page in kms.get_paginator('list_resource_tags').paginate(KeyId=k):
        tags.update({t['TagKey']: t['TagValue'] for t in page['Tags']})
    name = tags.get('keychain:name', '')
    if name.startswith(prefix):
        state = kms.describe_key(KeyId=k)['KeyMetadata']['KeyState']
        tagged.setdefault(name, []).append({'id': k, 'state': state})
aliases = {}
for page in kms.get_paginator('list_aliases').paginate():
    for a in page['Aliases']:
        if a['AliasName'].startswith('alias/' + prefix):
            aliases.setdefault(a['AliasName'], []).append(a.get('TargetKeyId'))
result = {'keys': len(ids), 'tagged': tagged, 'aliases': aliases}
"#,
        &serde_json::json!({ "prefix": prefix }),
    )
}

/// Under 30 % throttling, 4 % server errors and 2 % slow answers, 1 000 mixed operations from 16 tasks on ONE
/// backend all succeed, and KMS holds exactly one key and one alias per created name.
///
/// CreateKey is spared the server errors (it can still be throttled): after a 5xx its outcome
/// is unknown, and the backend rightly does not retry it (`awskms_faults.rs` proves that);
/// here the question is whether everything retryable is retried without duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_throttling_storm_loses_and_duplicates_nothing() {
    const OPERATIONS: usize = 1_000;
    const TASKS: usize = 16;
    let _turn = SERIAL.lock().await;
    let prefix = unique_prefix("storm");
    let f = Arc::new(fixture(&prefix).await);
    let proxy = FaultProxy::start(
        localstack().endpoint(),
        0x5707,
        FaultPlan::none()
            .throttle(0.30)
            .server_errors(0.02, 0.02)
            .slow(0.02, Duration::from_millis(250))
            .spare(["CreateKey"]),
    );
    let b = backend(through(&proxy).max_attempts(15)).await;
    let next = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new(Outputs::default()));
    let tally = Arc::new(Mutex::new(BTreeMap::<&'static str, usize>::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (b, f, next, out, tally, prefix) = (
            b.clone(),
            f.clone(),
            next.clone(),
            out.clone(),
            tally.clone(),
            prefix.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= OPERATIONS {
                    break;
                }
                let op = mixed_op(i, &b, &f, &prefix, &out).await;
                *tally.lock().unwrap().entry(op).or_insert(0) += 1;
            }
        }));
    }
    for t in tasks {
        t.await.expect("a task failed");
    }
    let elapsed = started.elapsed();
    let stats = proxy.stats();
    let tally = tally.lock().unwrap().clone();
    let done: usize = tally.values().sum();
    eprintln!(
        "{done} operations from {TASKS} tasks in {elapsed:.1?}: {tally:?}\nfault proxy: {stats}"
    );
    assert_eq!(done, OPERATIONS);
    assert!(
        stats.injected(Fault::Throttle) >= 200,
        "too few throttles to prove anything: {stats}"
    );
    assert!(
        stats.injected(Fault::InternalError) + stats.injected(Fault::Unavailable) >= 20,
        "too few server errors: {stats}"
    );
    assert!(
        stats.injected(Fault::Slow) > 0,
        "nothing was slowed: {stats}"
    );
    assert!(
        stats.of("CreateKey", Outcome::Injected(Fault::Throttle)) > 0,
        "CreateKey was never throttled: {stats}"
    );
    assert_eq!(stats.total(Outcome::UpstreamError), 0, "{stats}");

    // What KMS holds, asked around the proxy and around our code.
    let out = std::mem::take(&mut *out.lock().unwrap());
    assert_eq!(out.created.len(), OPERATIONS / 10);
    let inventory = kms_inventory(&format!("{prefix}-k"));
    let tagged = inventory["tagged"].as_object().expect("tagged keys");
    let aliases = inventory["aliases"].as_object().expect("aliases");
    let names: BTreeSet<&String> = out.created.keys().collect();
    let tagged_names: BTreeSet<&String> = tagged.keys().collect();
    assert_eq!(
        tagged_names, names,
        "keys tagged for names nobody created, or created names without a key"
    );
    for (name, key_id) in &out.created {
        let keys = tagged[name].as_array().expect("keys of a name");
        assert_eq!(
            keys.len(),
            1,
            "{name}: {} keys carry its name tag (a retried CreateKey?): {keys:?}",
            keys.len()
        );
        assert_eq!(keys[0]["id"], key_id.as_str(), "{name}");
        assert_eq!(keys[0]["state"], "Enabled", "{name}: {keys:?}");
        let targets = aliases
            .get(&format!("alias/{name}"))
            .and_then(|t| t.as_array())
            .unwrap_or_else(|| panic!("{name}: no alias"));
        assert_eq!(targets.len(), 1, "{name}: aliases {targets:?}");
        assert_eq!(
            targets[0],
            key_id.as_str(),
            "{name}: the alias points elsewhere"
        );
    }
    let pointing: usize = aliases
        .values()
        .map(|t| t.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(pointing, out.created.len(), "extra aliases: {aliases:?}");

    // What went through the storm decrypts, directly.
    let d = direct().await;
    for (plaintext, ct) in out.encrypted.iter().chain(&out.data_keys) {
        let pt = d
            .decrypt(
                Some(&f.enc),
                ct,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .expect("decrypting what was encrypted during the storm");
        assert_eq!(pt.expose(), plaintext.as_slice());
    }
    eprintln!(
        "checked: {} keys (one key and one alias per name among {} keys in LocalStack), \
         {} ciphertexts, {} data keys",
        out.created.len(),
        inventory["keys"],
        out.encrypted.len(),
        out.data_keys.len()
    );
}

/// Runs a call and measures it.
async fn timed(
    name: &'static str,
    call: impl Future<Output = keychain::Result<()>>,
) -> (&'static str, Duration, keychain::Result<()>) {
    let started = Instant::now();
    let result = call.await;
    (name, started.elapsed(), result)
}

/// A server that never answers: every call fails with `Timeout` by the operation deadline,
/// although the retry budget (10 attempts of 800 ms) would take far longer; then the proxy
/// forwards again and the SAME backend works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_cut_off_at_the_deadline_and_the_backend_recovers() {
    const DEADLINE: Duration = Duration::from_secs(2);
    const MARGIN: Duration = Duration::from_secs(3);
    let _turn = SERIAL.lock().await;
    let prefix = unique_prefix("silent");
    let f = fixture(&prefix).await;
    let proxy = FaultProxy::start(localstack().endpoint(), 0x51e7, FaultPlan::none().hang(1.0));
    let b = backend(
        through(&proxy)
            .max_attempts(10)
            .attempt_timeout(Duration::from_millis(800))
            .operation_timeout(DEADLINE),
    )
    .await;

    let enc_id = KeyRef::key_id(&f.enc_id).expect("key id");
    let results = tokio::join!(
        timed("DescribeKey", async {
            b.describe_key(&enc_id).await.map(|_| ())
        }),
        timed("Sign", async {
            b.sign(&f.sign, Message::Raw(b"x"), SigningAlgorithm::EcdsaSha256)
                .await
                .map(|_| ())
        }),
        timed("Encrypt", async {
            b.encrypt(
                &f.enc,
                b"x",
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .map(|_| ())
        }),
        timed("GenerateDataKey", async {
            b.generate_data_key(&f.enc, DataKeySpec::Aes256, &context())
                .await
                .map(|_| ())
        }),
        timed("ListKeys", async {
            b.list_keys(&PageRequest::default()).await.map(|_| ())
        }),
        timed("CreateKey", async {
            b.create_key(
                &CreateKeyRequest::new(KeySpec::SymmetricDefault).name(format!("{prefix}-never")),
            )
            .await
            .map(|_| ())
        }),
    );
    let results = [
        results.0, results.1, results.2, results.3, results.4, results.5,
    ];
    let stats = proxy.stats();
    for (name, elapsed, result) in &results {
        eprintln!("{name}: {result:?} after {elapsed:.2?}");
    }
    eprintln!("fault proxy: {stats}");
    for (name, elapsed, result) in &results {
        assert!(
            matches!(result, Err(Error::Timeout { .. })),
            "{name}: {result:?}"
        );
        assert!(
            *elapsed < DEADLINE + MARGIN,
            "{name}: the deadline was {DEADLINE:?}, the call took {elapsed:.2?}"
        );
    }
    assert_eq!(stats.total(Outcome::Forwarded), 0, "{stats}");
    assert!(
        stats.injected(Fault::Hang) >= 2 * results.len() as u64,
        "attempts that time out are retried until the deadline: {stats}"
    );

    // The server answers again: the same backend works.
    proxy.set_plan(FaultPlan::none());
    let info = b
        .describe_key(&enc_id)
        .await
        .expect("describe after the outage");
    assert_eq!(info.spec, KeySpec::SymmetricDefault);
    let sig = b
        .sign(&f.sign, Message::Raw(b"x"), SigningAlgorithm::EcdsaSha256)
        .await
        .expect("sign after the outage");
    assert!(
        f.public_key
            .verify(Message::Raw(b"x"), &sig, SigningAlgorithm::EcdsaSha256)
            .expect("verify")
    );
    assert!(proxy.stats().total(Outcome::Forwarded) >= 2);
    // Nothing was created for the name while the server was silent.
    assert!(matches!(
        direct()
            .await
            .describe_key(&alias(&format!("{prefix}-never")))
            .await,
        Err(Error::NotFound { .. })
    ));
}

/// Throttling that outlasts the budget: `Throttled`, retryable, after exactly the configured
/// attempts — through the SDK's retries (Sign) and the backend's own CreateKey loop.
#[tokio::test]
async fn throttling_beyond_the_budget_is_reported_after_exactly_the_budget() {
    const ATTEMPTS: u32 = 4;
    let _turn = SERIAL.lock().await;
    let prefix = unique_prefix("budget");
    let f = fixture(&prefix).await;
    let proxy = FaultProxy::start(
        localstack().endpoint(),
        0xb0d9,
        FaultPlan::none().throttle(1.0).only(["Sign", "CreateKey"]),
    );
    let b = backend(through(&proxy).max_attempts(ATTEMPTS)).await;

    let err = b
        .sign(&f.sign, Message::Raw(b"m"), SigningAlgorithm::EcdsaSha256)
        .await
        .err();
    let stats = proxy.stats();
    eprintln!("Sign: {err:?}\nfault proxy: {stats}");
    assert!(
        matches!(&err, Some(Error::Throttled { operation, .. }) if operation.contains("Sign")),
        "{err:?}"
    );
    assert!(err.as_ref().is_some_and(Error::is_retryable), "{err:?}");
    assert_eq!(
        stats.of("Sign", Outcome::Injected(Fault::Throttle)),
        u64::from(ATTEMPTS),
        "{stats}"
    );
    assert_eq!(stats.requests_of("Sign"), u64::from(ATTEMPTS), "{stats}");

    proxy.reset_stats();
    let name = format!("{prefix}-throttled");
    let err = b
        .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name))
        .await
        .err();
    let stats = proxy.stats();
    eprintln!("CreateKey: {err:?}\nfault proxy: {stats}");
    assert!(
        matches!(&err, Some(Error::Throttled { operation, .. }) if operation.contains("CreateKey")),
        "{err:?}"
    );
    assert!(err.as_ref().is_some_and(Error::is_retryable), "{err:?}");
    assert_eq!(
        stats.requests_of("CreateKey"),
        u64::from(ATTEMPTS),
        "{stats}"
    );
    assert_eq!(stats.requests_of("CreateAlias"), 0, "{stats}");
    assert!(matches!(
        direct().await.describe_key(&alias(&name)).await,
        Err(Error::NotFound { .. })
    ));
}

/// Connection resets on 30 % of the requests: every operation still succeeds within the
/// budget. (CreateKey is spared: a reset leaves its outcome unknown, see above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_are_retried() {
    const OPERATIONS: usize = 200;
    const TASKS: usize = 4;
    let _turn = SERIAL.lock().await;
    let prefix = unique_prefix("reset");
    let f = Arc::new(fixture(&prefix).await);
    let proxy = FaultProxy::start(
        localstack().endpoint(),
        0x4e5e7,
        FaultPlan::none().reset(0.30).spare(["CreateKey"]),
    );
    let b = backend(through(&proxy).max_attempts(15)).await;
    let next = Arc::new(AtomicUsize::new(0));
    let out = Arc::new(Mutex::new(Outputs::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (b, f, next, out, done, prefix) = (
            b.clone(),
            f.clone(),
            next.clone(),
            out.clone(),
            done.clone(),
            prefix.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= OPERATIONS {
                    break;
                }
                mixed_op(i, &b, &f, &prefix, &out).await;
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.expect("a task failed");
    }
    let stats = proxy.stats();
    eprintln!(
        "{} operations under resets\nfault proxy: {stats}",
        done.load(Ordering::SeqCst)
    );
    assert_eq!(done.load(Ordering::SeqCst), OPERATIONS);
    assert!(
        stats.injected(Fault::Reset) >= 60,
        "too few resets to prove anything: {stats}"
    );
    let out = std::mem::take(&mut *out.lock().unwrap());
    let d = direct().await;
    for (name, key_id) in &out.created {
        let info = d.describe_key(&alias(name)).await.expect("created key");
        assert_eq!(&info.key_id, key_id);
    }
}

/// The answer to CreateAlias is lost on its way back (the alias WAS made) half of the time:
/// the SDK retries, KMS says the alias exists — and it is ours. Every `create_key` succeeds
/// with one key and one alias per name; no key is discarded as an orphan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_create_alias_answer_is_not_a_lost_race() {
    const KEYS: usize = 12;
    let _turn = SERIAL.lock().await;
    let prefix = unique_prefix("lost");
    let proxy = FaultProxy::start(
        localstack().endpoint(),
        0x1057,
        FaultPlan::none().lose_answer(0.5).only(["CreateAlias"]),
    );
    let b = backend(through(&proxy).max_attempts(15)).await;
    let mut created = BTreeMap::new();
    let mut failures = Vec::new();
    for i in 0..KEYS {
        let name = format!("{prefix}-k{i}");
        match b
            .create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(&name))
            .await
        {
            Ok(info) => {
                created.insert(name, info.key_id);
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    let stats = proxy.stats();
    eprintln!("fault proxy: {stats}");
    assert!(
        stats.injected(Fault::LoseAnswer) >= 3,
        "too few lost answers to prove anything: {stats}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let inventory = kms_inventory(&format!("{prefix}-k"));
    for (name, key_id) in &created {
        let keys = inventory["tagged"][name]
            .as_array()
            .expect("keys of a name");
        assert_eq!(keys.len(), 1, "{name}: {keys:?}");
        assert_eq!(keys[0]["id"], key_id.as_str(), "{name}");
        assert_eq!(keys[0]["state"], "Enabled", "{name}: its key was discarded");
        let targets = inventory["aliases"][format!("alias/{name}")].clone();
        assert_eq!(targets, serde_json::json!([key_id]), "{name}");
    }
}

// ---- log secrecy ------------------------------------------------------------------------

/// A `MakeWriter` appending every formatted line to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const LOG_SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/LOGSECRETqZ8vT3nKx";
const LOG_SESSION_TOKEN: &str = "FwoGZXIvYXdzELOGSESSIONTOKENx9Qm2LrPw7";
const LOG_PASSWORD: &str = "log-password horse battery 9f2c";
/// 33 bytes: its base64 has no padding and stands alone in the request body.
const LOG_PLAINTEXT: &[u8] = b"PLAINTEXT-MARKER-5b7e1d-do-not-log";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every form in which `bytes` might show up in a log line.
fn forms(label: &str, bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = vec![
        (format!("{label} (base64)"), B64.encode(bytes)),
        (format!("{label} (hex)"), hex(bytes)),
        (format!("{label} (HEX)"), hex(bytes).to_uppercase()),
        (format!("{label} (Debug bytes)"), format!("{bytes:?}")),
    ];
    if let Ok(text) = std::str::from_utf8(bytes) {
        out.push((label.to_string(), text.to_string()));
    }
    out
}

/// Error messages and `tracing` logs at every level (TRACE included) carry no credential,
/// password, plaintext or data key, on the AWS backend (the SDK logs requests and responses
/// at TRACE) and on the software backend.
#[test]
fn no_secret_reaches_the_logs_or_the_errors() {
    let _turn = SERIAL.blocking_lock();
    // The SDK prints bodies only when asked to with these (a deliberate opt-in).
    for opt_in in ["LOG_SIGNABLE_BODY", "LOG_SENSITIVE_BODIES"] {
        assert!(
            std::env::var_os(opt_in).is_none(),
            "unset {opt_in}: it tells the AWS SDK to log request and response bodies"
        );
    }
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(capture.clone())
        .finish();
    // Thread-local, so a current-thread runtime keeps every task under it.
    let guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut secrets: Vec<(String, String)> = vec![
        ("secret access key".into(), LOG_SECRET_KEY.into()),
        ("session token".into(), LOG_SESSION_TOKEN.into()),
        ("password".into(), LOG_PASSWORD.into()),
    ];
    secrets.extend(forms("plaintext", LOG_PLAINTEXT));
    let (errors, data_keys) = runtime.block_on(async {
        let mut errors: Vec<String> = Vec::new();
        let mut data_keys: Vec<Vec<u8>> = Vec::new();
        let prefix = unique_prefix("logs");

        // AWS KMS on LocalStack, distinctive credentials (LocalStack accepts any).
        let config = AwsKmsConfig::new()
            .region(keychain_testkit::localstack::REGION)
            .endpoint(localstack().endpoint())
            .static_credentials(
                "AKIALOGTESTKEYID0001",
                LOG_SECRET_KEY,
                Some(LOG_SESSION_TOKEN.to_string()),
            )
            .cache_ttl(Duration::ZERO);
        let b = backend(config).await;
        let enc = alias(&format!("{prefix}-enc"));
        let sign = alias(&format!("{prefix}-sign"));
        b.create_key(
            &CreateKeyRequest::new(KeySpec::SymmetricDefault).name(format!("{prefix}-enc")),
        )
        .await
        .expect("create");
        b.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name(format!("{prefix}-sign")))
            .await
            .expect("create");
        let ct = b
            .encrypt(
                &enc,
                LOG_PLAINTEXT,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .expect("encrypt");
        let pt = b
            .decrypt(
                Some(&enc),
                &ct,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .expect("decrypt");
        assert_eq!(pt.expose(), LOG_PLAINTEXT);
        let dk = b
            .generate_data_key(&enc, DataKeySpec::Aes256, &context())
            .await
            .expect("data key");
        data_keys.push(dk.plaintext.expose().to_vec());
        let dk_pt = b
            .decrypt(
                Some(&enc),
                &dk.ciphertext,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .expect("decrypt the data key");
        assert_eq!(dk_pt.expose(), dk.plaintext.expose());
        b.sign(
            &sign,
            Message::Raw(LOG_PLAINTEXT),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .expect("sign");
        // Failures: a tampered ciphertext, an unknown key.
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        for e in [
            b.decrypt(
                Some(&enc),
                &bad,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .err(),
            b.describe_key(&alias(&format!("{prefix}-missing")))
                .await
                .err(),
        ]
        .into_iter()
        .flatten()
        {
            errors.push(format!("{e} / {e:?}"));
        }
        errors.push(format!("{b:?}"));

        // The software backend, with a distinctive password.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = dir.path().join("keystore");
        let config = SoftwareConfig::new(&store)
            .password(LOG_PASSWORD)
            .kdf_iterations(keychain_testkit::ITERATIONS);
        let s = SoftwareBackend::open(config.clone())
            .await
            .expect("keystore");
        let key = alias("sym");
        s.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name("sym"))
            .await
            .expect("create");
        s.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("ec"))
            .await
            .expect("create");
        let ct = s
            .encrypt(
                &key,
                LOG_PLAINTEXT,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .expect("encrypt");
        let pt = s
            .decrypt(
                Some(&key),
                &ct,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
            .expect("decrypt");
        assert_eq!(pt.expose(), LOG_PLAINTEXT);
        let dk = s
            .generate_data_key(&key, DataKeySpec::Aes256, &context())
            .await
            .expect("data key");
        data_keys.push(dk.plaintext.expose().to_vec());
        s.sign(
            &alias("ec"),
            Message::Raw(LOG_PLAINTEXT),
            SigningAlgorithm::EcdsaSha256,
        )
        .await
        .expect("sign");
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        if let Err(e) = s
            .decrypt(
                Some(&key),
                &bad,
                EncryptionAlgorithm::SymmetricDefault,
                &context(),
            )
            .await
        {
            errors.push(format!("{e} / {e:?}"));
        }
        errors.push(format!("{s:?} / {config:?}"));
        drop(s);
        // The wrong password.
        let wrong = SoftwareConfig::new(&store)
            .password("not the password")
            .kdf_iterations(keychain_testkit::ITERATIONS);
        match SoftwareBackend::open(wrong).await {
            Ok(s) => {
                let r = s
                    .decrypt(
                        Some(&key),
                        &ct,
                        EncryptionAlgorithm::SymmetricDefault,
                        &context(),
                    )
                    .await;
                errors.push(format!("{r:?}"));
                assert!(r.is_err(), "the wrong password decrypts");
            }
            Err(e) => errors.push(format!("{e} / {e:?}")),
        }
        (errors, data_keys)
    });
    drop(runtime);
    drop(guard);

    for (i, key) in data_keys.iter().enumerate() {
        secrets.extend(forms(&format!("data key {i}"), key));
    }
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).to_string();
    let lines = logs.lines().count();
    eprintln!(
        "captured {lines} log lines ({} bytes), {} at TRACE, {} at DEBUG; {} error texts",
        logs.len(),
        logs.lines().filter(|l| l.contains(" TRACE ")).count(),
        logs.lines().filter(|l| l.contains(" DEBUG ")).count(),
        errors.len()
    );
    assert!(
        logs.lines()
            .any(|l| l.contains(" TRACE ") && l.contains("aws_smithy")),
        "no TRACE line from the AWS SDK was captured: the test would prove nothing"
    );
    assert!(
        logs.contains("transmitting request"),
        "the SDK's request log is missing: the test would prove nothing"
    );
    assert!(
        logs.contains("x-amz-security-token"),
        "the session token's header never reached the logs: the test would prove nothing"
    );
    assert!(errors.len() >= 5, "{errors:?}");
    let mut leaks = Vec::new();
    for (what, secret) in &secrets {
        for line in logs.lines().filter(|l| l.contains(secret.as_str())) {
            leaks.push(format!("log: {what}: {line}"));
        }
        for e in errors.iter().filter(|e| e.contains(secret.as_str())) {
            leaks.push(format!("error: {what}: {e}"));
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
