//! Item 7 (issue 12): `keychain serve` against the KMS emulators, all called with aws-sdk-kms.
//!
//! - Sign (ECDSA P-256, DIGEST): sequential latencies (p50) and the throughput of 64
//!   concurrent tasks on one client, `keychain serve` against LocalStack and moto, the order
//!   rotating each round.
//! - Ready to serve: from the spawn of `keychain serve` to its `listening on` line and to
//!   the first successful Sign (a plain socket, the request signed here), for a keystore with
//!   the default KDF (600 000 PBKDF2 iterations) and one key, and for one of 10 000 keys.
//! - Peak RSS (VmHWM) of the server holding 10 000 keys, after the timed load, a listing of
//!   every key and one Sign with every key.
//! - Where a request's time goes, in-process: the raw aws-lc-rs P-256 signature, the
//!   library's Sign on the software backend, the SigV4 signature alone (what the server
//!   recomputes per request), the JSON of a Sign request and answer, `KmsService::handle` of a
//!   whole Sign (SigV4 + JSON + backend, no socket), and of one with a wrong secret (SigV4 and
//!   the error answer only); the rest of the client's p50 is HTTP, the loopback and the SDK.
//!
//! The 10 000-key keystore uses 2048 PBKDF2 iterations so that building it takes seconds.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec as KmsKeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{
    Backend, CreateKeyRequest, Hash, KeyRef, KeySpec, Keychain, Message, SigningAlgorithm,
};
use keychain_server::{Credentials, KmsService};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::keystore::{self, PASSWORD};
use crate::kms::{latencies, raw_client, rotated, side};
use crate::measure::{median, rate, rate_async};
use crate::served::{Served, SignedCall};
use crate::{Opts, Res, moto, note};

/// The p-th percentile (0–100) by nearest rank; NaN for none.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A KMS endpoint with a P-256 signing key made on it through the SDK.
struct Endpoint {
    name: &'static str,
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl Endpoint {
    async fn new(name: &'static str, endpoint: &str) -> Res<Endpoint> {
        let client = raw_client(endpoint).await;
        let key = client
            .create_key()
            .key_spec(KmsKeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await?;
        let key_id = key
            .key_metadata()
            .map(|m| m.key_id().to_string())
            .ok_or("CreateKey answered no metadata")?;
        Ok(Endpoint {
            name,
            client,
            key_id,
        })
    }
}

async fn sign(client: &aws_sdk_kms::Client, key_id: &str, digest: &[u8]) -> Res<()> {
    client
        .sign()
        .key_id(key_id)
        .message(Blob::new(digest))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await?;
    Ok(())
}

/// Signs per second of `tasks` tasks sharing one client, `total` signs in all.
async fn throughput(e: &Endpoint, digest: &[u8], tasks: usize, total: usize) -> Res<f64> {
    let per_task = total.div_ceil(tasks);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (c, id, d) = (e.client.clone(), e.key_id.clone(), digest.to_vec());
        set.spawn(async move {
            for _ in 0..per_task {
                sign(&c, &id, &d).await?;
            }
            Ok::<(), crate::BoxError>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok((per_task * tasks) as f64 / start.elapsed().as_secs_f64())
}

fn sign_body(key_id: &str, digest: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "KeyId": key_id, "Message": B64.encode(digest),
        "MessageType": "DIGEST", "SigningAlgorithm": "ECDSA_SHA_256",
    }))
    .unwrap()
}

/// Spawns a server on `backend`, and times its `listening on` line and its first successful
/// Sign with `key` (sent on a plain socket as soon as the line is read).
fn ready(cli: &Path, backend: &str, key: &str, digest: &[u8]) -> Res<Value> {
    let served = Served::start(cli, backend, &[("KEYCHAIN_PASSWORD", PASSWORD)])?;
    let host = served.addr.to_string();
    let call = SignedCall::new(&host, "Sign", &sign_body(key, digest), "test")?;
    let (status, body) = call.send(served.addr)?;
    let first = served.spawned.elapsed().as_secs_f64();
    if status != 200 {
        return Err(format!("the first Sign got HTTP {status}: {body}").into());
    }
    Ok(json!({"listening": served.listening_s, "first_sign": first}))
}

/// Per-request costs in-process, in seconds per operation.
fn breakdown(
    rt: &Runtime,
    kc: &Keychain,
    key: &str,
    digest: &[u8],
    window: Duration,
) -> Res<Value> {
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)?;
    let raw = 1.0
        / rate(window, || {
            black_box(pair.sign(&rng, digest).unwrap());
        });
    let key_ref = KeyRef::alias(key.trim_start_matches("alias/"))?;
    let alg = SigningAlgorithm::EcdsaSha256;
    let library = 1.0
        / rt.block_on(rate_async(window, || async {
            black_box(
                kc.backend()
                    .sign(&key_ref, Message::Digest(digest), alg)
                    .await
                    .unwrap(),
            );
        }));
    let host = "127.0.0.1:4599";
    let body = sign_body(key, digest);
    let headers: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("content-type".into(), "application/x-amz-json-1.1".into()),
        ("x-amz-target".into(), "TrentService.Sign".into()),
    ];
    let sigv4 = 1.0
        / rate(window, || {
            black_box(
                crate::served::sigv4_headers(
                    host,
                    &headers,
                    &body,
                    "test",
                    std::time::SystemTime::now(),
                )
                .unwrap(),
            );
        });
    let signature = vec![0x30u8; 71];
    let json_cost = 1.0
        / rate(window, || {
            let v: Value = serde_json::from_slice(black_box(&body)).unwrap();
            let m = B64.decode(v["Message"].as_str().unwrap()).unwrap();
            black_box(&m);
            let answer = json!({
                "KeyId": format!("arn:aws:kms:us-east-1:000000000000:key/{}", v["KeyId"].as_str().unwrap()),
                "Signature": B64.encode(&signature),
                "SigningAlgorithm": v["SigningAlgorithm"],
            });
            black_box(serde_json::to_vec(&answer).unwrap());
        });
    let service = KmsService::new(kc, Credentials::loopback_test());
    let good = SignedCall::new(host, "Sign", &body, "test")?;
    let bad = SignedCall::new(host, "Sign", &body, "wrong secret")?;
    let check = rt.block_on(service.handle(good.request()));
    if check.status() != 200 {
        return Err(format!("KmsService answered {} to a good Sign", check.status()).into());
    }
    let handle = 1.0
        / rt.block_on(rate_async(window, || async {
            black_box(service.handle(good.request()).await);
        }));
    let refused = rt.block_on(service.handle(bad.request()));
    if refused.status() != 400 {
        return Err(format!("KmsService answered {} to a wrong secret", refused.status()).into());
    }
    let handle_refused = 1.0
        / rt.block_on(rate_async(window, || async {
            black_box(service.handle(bad.request()).await);
        }));
    Ok(json!({
        "raw_aws_lc": raw, "library_sign": library, "sigv4_sign": sigv4, "json": json_cost,
        "handle_sign": handle, "handle_bad_signature": handle_refused,
    }))
}

/// Runs item 7.
pub fn run(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 3)?;
    let calls: usize = opts.get("calls", 200)?;
    let conc_calls: usize = opts.get("concurrent-calls", 640)?;
    let keys: usize = opts.get("keys", 10_000)?;
    let window = Duration::from_secs(opts.get("seconds", 1)?);
    let cli = PathBuf::from(
        opts.str("cli")
            .ok_or("--cli PATH (the keychain binary) is needed")?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let work = tempfile::Builder::new()
        .prefix("keychain-bench-serve-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let digest = Hash::Sha256.digest(b"keychain serve benchmark");

    note!("serve: creating {keys} P-256 keys (2048 PBKDF2 iterations)");
    let big = work.path().join("keys-many");
    let started = Instant::now();
    let many = rt.block_on(SoftwareBackend::open(keystore::config(&big)))?;
    keystore::fill(&rt, &many, 0, keys)?;
    let fill_s = started.elapsed().as_secs_f64();
    let kc = Keychain::new(many);
    let small = work.path().join("keys-default-kdf");
    let one = rt.block_on(SoftwareBackend::open(
        SoftwareConfig::new(&small).password(PASSWORD),
    ))?;
    rt.block_on(one.create_key(&CreateKeyRequest::new(KeySpec::EccNistP256).name("bench")))?;
    drop(one);
    let big_uri = format!("software:{}", big.display());
    let small_uri = format!("software:{}", small.display());

    note!("serve: starting keychain serve, LocalStack and moto");
    let served = Served::start(&cli, &big_uri, &[("KEYCHAIN_PASSWORD", PASSWORD)])?;
    let ls = keychain_testkit::localstack::localstack();
    let moto_server = match opts.str("moto-python") {
        Some(p) => Some(moto::start(Path::new(p), work.path())?),
        None => None,
    };
    let mut endpoints = vec![rt.block_on(Endpoint::new("serve", &served.endpoint))?];
    endpoints.push(rt.block_on(Endpoint::new("localstack", ls.endpoint()))?);
    if let Some(m) = &moto_server {
        endpoints.push(rt.block_on(Endpoint::new("moto", &m.endpoint))?);
    }
    // Warm each client's pool with 64 connections.
    for e in &endpoints {
        rt.block_on(throughput(e, &digest, 64, 64))?;
    }

    // References for the `move` closures of the rotated sides.
    let (rtr, dg): (&Runtime, &[u8]) = (&rt, &digest);
    let mut sequential = Vec::new();
    let mut concurrent = Vec::new();
    let mut readiness = Vec::new();
    let mut costs = Vec::new();
    for round in 0..rounds {
        note!("serve: round {}/{rounds}: sequential Sign", round + 1);
        let lat = rotated(
            round,
            endpoints
                .iter()
                .map(|e| {
                    side(move || rtr.block_on(latencies(calls, || sign(&e.client, &e.key_id, dg))))
                })
                .collect(),
        )?;
        let mut seq = serde_json::Map::new();
        for (e, l) in endpoints.iter().zip(&lat) {
            seq.insert(
                e.name.into(),
                json!({"p50": median(l), "p99": percentile(l, 99.0)}),
            );
        }
        sequential.push(Value::Object(seq));

        note!("serve: round {}/{rounds}: 64 concurrent tasks", round + 1);
        let tp = rotated(
            round,
            endpoints
                .iter()
                .map(|e| side(move || rtr.block_on(throughput(e, dg, 64, conc_calls))))
                .collect(),
        )?;
        let mut conc = serde_json::Map::new();
        for (e, t) in endpoints.iter().zip(&tp) {
            conc.insert(e.name.into(), json!(t));
        }
        concurrent.push(Value::Object(conc));

        note!("serve: round {}/{rounds}: ready to serve", round + 1);
        readiness.push(json!({
            "default_kdf_1_key": ready(&cli, &small_uri, "alias/bench", &digest)?,
            "many_keys": ready(&cli, &big_uri, "alias/k000000", &digest)?,
        }));

        note!(
            "serve: round {}/{rounds}: where a request's time goes",
            round + 1
        );
        costs.push(breakdown(&rt, &kc, "alias/k000000", &digest, window)?);
    }

    note!("serve: listing all keys and signing once with each, then the peak RSS");
    let serve_ep = &endpoints[0];
    let listed = rt.block_on(async {
        let mut n = 0usize;
        let mut marker: Option<String> = None;
        loop {
            let page = serve_ep
                .client
                .list_keys()
                .limit(1000)
                .set_marker(marker.clone())
                .send()
                .await?;
            n += page.keys().len();
            marker = page.next_marker().map(str::to_string);
            if !page.truncated() || marker.is_none() {
                return Ok::<usize, crate::BoxError>(n);
            }
        }
    })?;
    let started = Instant::now();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for t in 0..64usize {
            let c = serve_ep.client.clone();
            let d = digest.to_vec();
            set.spawn(async move {
                for i in (t..keys).step_by(64) {
                    sign(&c, &format!("alias/{}", keystore::key_name(i)), &d).await?;
                }
                Ok::<(), crate::BoxError>(())
            });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        Ok::<(), crate::BoxError>(())
    })?;
    let sign_all_s = started.elapsed().as_secs_f64();
    let peak_rss_kib = served.peak_rss_kib()?;

    let mut out = json!({
        "item": "serve",
        "rounds": rounds,
        "calls": calls,
        "concurrent_calls": conc_calls,
        "tasks": 64,
        "keys": keys,
        "keys_listed": listed,
        "fill_s": fill_s,
        "sign_every_key_s": sign_all_s,
        "peak_rss_kib": peak_rss_kib,
        "localstack": ls.version(),
        "sequential": sequential,
        "concurrent": concurrent,
        "ready": readiness,
        "breakdown": costs,
    });
    match &moto_server {
        Some(m) => out["moto"] = json!(m.version),
        None => out["moto_skipped"] = json!("no --moto-python given"),
    }
    Ok(out)
}

/// `keychain-bench serve-handle`: `--calls N` Sign requests (P-256, DIGEST, by alias, each
/// signed with SigV4 here beforehand) through `KmsService::handle` on a current-thread
/// runtime, after one warm-up call, and nothing else: the loop to run under
/// `valgrind --tool=callgrind`, whose instruction counts do not depend on the machine's load.
/// The difference between two runs with different `--calls`, divided by the difference in
/// calls, is the count per request.
pub fn handle_only(opts: &Opts) -> Res<Value> {
    let calls: usize = opts.get("calls", 1000)?;
    let keys: usize = opts.get("keys", 10)?;
    let work = tempfile::Builder::new()
        .prefix("keychain-bench-handle-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let backend = rt.block_on(SoftwareBackend::open(keystore::config(work.path())))?;
    keystore::fill(&rt, &backend, 0, keys)?;
    let kc = Keychain::new(backend);
    let service = KmsService::new(&kc, Credentials::loopback_test());
    let digest = Hash::Sha256.digest(b"keychain serve benchmark");
    let host = "127.0.0.1:4599";
    let body = sign_body(&format!("alias/{}", keystore::key_name(0)), &digest);
    let call = SignedCall::new(host, "Sign", &body, "test")?;
    let requests: Vec<_> = (0..=calls).map(|_| call.request()).collect();
    let started = Instant::now();
    let mut ok = 0usize;
    rt.block_on(async {
        for request in requests {
            if service.handle(request).await.status() == 200 {
                ok += 1;
            }
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    if ok != calls + 1 {
        return Err(format!("{} of {} Sign requests failed", calls + 1 - ok, calls + 1).into());
    }
    Ok(json!({"calls": calls, "seconds_per_call": elapsed / (calls + 1) as f64}))
}
