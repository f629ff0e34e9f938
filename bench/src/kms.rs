//! Items 1, 2 and 6: the AWS KMS backend against LocalStack (started here, on a free loopback
//! port, by `keychain-testkit`), beside the same calls made with `aws-sdk-kms` directly and
//! with boto3, and against moto.
//!
//! 1. Client overhead: Sign (ECDSA P-256, DIGEST) and GetPublicKey, sequential latencies of
//!    ours, the raw SDK and boto3, alternating; then throughput of 1, 16 and 64 concurrent
//!    tasks on one backend, directly and through a loopback proxy adding `--delay-ms` per
//!    request (a service across a network, where the connection pool has to work).
//! 2. Local verify (`Keychain::verify`, cached public key) against KMS `Verify`.
//! 6. Our Sign against LocalStack and against moto (moto ignores `MessageType=DIGEST` and
//!    signs a hash of the digest: only its timing is used).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_kms::config::{Credentials, Region};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::{
    Backend, CreateKeyRequest, Hash, KeyRef, KeySpec, KeyUsage, Keychain, Message, SigningAlgorithm,
};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

use crate::measure::{median, rate_async};
use crate::{Opts, Res, moto, note, proxy};

const REGION: &str = "us-east-1";
const ALG: SigningAlgorithm = SigningAlgorithm::EcdsaSha256;

/// The boto3 side: `python BOTO3 ENDPOINT KEY_ID OP N` prints the latencies (seconds) of N
/// calls after five warm-up calls, as a JSON list.
const BOTO3: &str = r#"
import hashlib, json, sys, time
import boto3
endpoint, key_id, op, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
digest = hashlib.sha256(b"keychain benchmark").digest()
def call():
    if op == "sign":
        kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST",
                 SigningAlgorithm="ECDSA_SHA_256")
    else:
        kms.get_public_key(KeyId=key_id)
for _ in range(5):
    call()
lat = []
for _ in range(n):
    t = time.perf_counter()
    call()
    lat.append(time.perf_counter() - t)
json.dump(lat, sys.stdout)
"#;

fn config(endpoint: &str) -> AwsKmsConfig {
    AwsKmsConfig::new()
        .region(REGION)
        .endpoint(endpoint)
        .static_credentials("test", "test", None)
}

pub(crate) async fn raw_client(endpoint: &str) -> aws_sdk_kms::Client {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    aws_sdk_kms::Client::new(&conf)
}

/// Latencies (seconds) of `n` sequential awaits of `op`, after three warm-up calls.
pub(crate) async fn latencies<F, Fut>(n: usize, mut op: F) -> Res<Vec<f64>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Res<()>>,
{
    for _ in 0..3 {
        op().await?;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        op().await?;
        out.push(t.elapsed().as_secs_f64());
    }
    Ok(out)
}

/// One emulator and the clients on it.
struct Target {
    endpoint: String,
    ours: AwsKmsBackend,
    raw: aws_sdk_kms::Client,
    key_id: String,
    key: KeyRef,
}

impl Target {
    async fn new(endpoint: &str, name: &str) -> Res<Target> {
        let ours = AwsKmsBackend::new(config(endpoint)).await?;
        let info = ours
            .create_key(
                &CreateKeyRequest::new(KeySpec::EccNistP256)
                    .name(name)
                    .usage(KeyUsage::SignVerify),
            )
            .await?;
        Ok(Target {
            endpoint: endpoint.to_string(),
            raw: raw_client(endpoint).await,
            key: KeyRef::key_id(&info.key_id)?,
            key_id: info.key_id,
            ours,
        })
    }

    async fn ours_sign(&self, backend: &AwsKmsBackend, digest: &[u8]) -> Res<()> {
        backend
            .sign(&self.key, Message::Digest(digest), ALG)
            .await?;
        Ok(())
    }

    async fn raw_sign(&self, client: &aws_sdk_kms::Client, digest: &[u8]) -> Res<()> {
        client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(digest))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await?;
        Ok(())
    }

    async fn raw_public_key(&self) -> Res<()> {
        self.raw
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await?;
        Ok(())
    }
}

fn boto3(python: &Path, script: &Path, t: &Target, op: &str, n: usize) -> Res<Vec<f64>> {
    let out = Command::new(python)
        .arg(script)
        .args([&t.endpoint, &t.key_id, op, &n.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "boto3 {op} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn python_version_of(python: &Path, module: &str) -> String {
    Command::new(python)
        .args([
            "-c",
            &format!("import {module}; print({module}.__version__)"),
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// One side of a comparison, run when its turn comes.
pub(crate) type Side<'a, T> = Box<dyn FnOnce() -> Res<T> + 'a>;

pub(crate) fn side<'a, T>(f: impl FnOnce() -> Res<T> + 'a) -> Side<'a, T> {
    Box::new(f)
}

/// Runs `sides` in the order of the round (rotated), returning their results in the given
/// order.
pub(crate) fn rotated<T>(round: usize, sides: Vec<Side<'_, T>>) -> Res<Vec<T>> {
    let n = sides.len();
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut sides: Vec<Option<_>> = sides.into_iter().map(Some).collect();
    for k in 0..n {
        let i = (round + k) % n;
        if let Some(side) = sides[i].take() {
            slots[i] = Some(side()?);
        }
    }
    Ok(slots.into_iter().map(|s| s.unwrap()).collect())
}

/// Calls per second of `tasks` tasks sharing one backend, `total` calls in all.
async fn throughput_ours(
    t: &Target,
    backend: &AwsKmsBackend,
    digest: &[u8],
    tasks: usize,
    total: usize,
) -> Res<f64> {
    let per_task = total.div_ceil(tasks);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (b, key, d) = (backend.clone(), t.key.clone(), digest.to_vec());
        set.spawn(async move {
            for _ in 0..per_task {
                b.sign(&key, Message::Digest(&d), ALG).await?;
            }
            Ok::<(), keychain::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok((per_task * tasks) as f64 / start.elapsed().as_secs_f64())
}

async fn throughput_raw(
    t: &Target,
    client: &aws_sdk_kms::Client,
    digest: &[u8],
    tasks: usize,
    total: usize,
) -> Res<f64> {
    let per_task = total.div_ceil(tasks);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (c, id, d) = (client.clone(), t.key_id.clone(), digest.to_vec());
        set.spawn(async move {
            for _ in 0..per_task {
                c.sign()
                    .key_id(&id)
                    .message(Blob::new(d.clone()))
                    .message_type(MessageType::Digest)
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send()
                    .await?;
            }
            Ok::<(), crate::BoxError>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok((per_task * tasks) as f64 / start.elapsed().as_secs_f64())
}

#[allow(clippy::too_many_arguments)]
/// Throughput at 1, 16 and 64 tasks for ours and the raw SDK, on `endpoint` (LocalStack or
/// the proxy in front of it), with `seq_calls` sequential calls and `conc_calls` per
/// concurrent run.
fn concurrency(
    rt: &Runtime,
    t: &Target,
    ours: &AwsKmsBackend,
    raw: &aws_sdk_kms::Client,
    digest: &[u8],
    seq_calls: usize,
    conc_calls: usize,
    round: usize,
) -> Res<Value> {
    let mut out = serde_json::Map::new();
    for tasks in [1usize, 16, 64] {
        let calls = if tasks == 1 { seq_calls } else { conc_calls };
        let r = rotated(
            round,
            vec![
                side(|| rt.block_on(throughput_ours(t, ours, digest, tasks, calls))),
                side(|| rt.block_on(throughput_raw(t, raw, digest, tasks, calls))),
            ],
        )?;
        out.insert(tasks.to_string(), json!({"ours": r[0], "raw": r[1]}));
    }
    Ok(Value::Object(out))
}

/// Runs items 1, 2 and 6.
pub fn run(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 3)?;
    let calls: usize = opts.get("calls", 200)?;
    let conc_calls: usize = opts.get("concurrent-calls", 640)?;
    let delay = Duration::from_millis(opts.get("delay-ms", 20)?);
    let verify_window = Duration::from_secs(opts.get("seconds", 1)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let work = tempfile::Builder::new()
        .prefix("keychain-bench-kms-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;

    note!("kms: starting LocalStack");
    let ls = keychain_testkit::localstack::localstack();
    let ls_python = keychain_testkit::localstack::localstack_python();
    let python: PathBuf = opts
        .str("bench-python")
        .map(PathBuf::from)
        .unwrap_or_else(|| ls_python.clone());
    let script = work.path().join("boto3_bench.py");
    std::fs::write(&script, BOTO3)?;
    let digest = Hash::Sha256.digest(b"keychain benchmark");

    let t = rt.block_on(Target::new(ls.endpoint(), "bench-sign"))?;
    let uncached = rt.block_on(AwsKmsBackend::new(
        config(ls.endpoint()).cache_ttl(Duration::ZERO),
    ))?;
    let upstream: SocketAddr = format!("127.0.0.1:{}", ls.port()).parse()?;
    let delayed = proxy::start(upstream, delay)?;
    let ours_delayed = rt.block_on(AwsKmsBackend::new(config(&delayed.endpoint)))?;
    let raw_delayed = rt.block_on(raw_client(&delayed.endpoint));
    let kc = Keychain::new(t.ours.clone());
    let kc_delayed = Keychain::new(ours_delayed.clone());
    let sig = rt.block_on(t.ours.sign(&t.key, Message::Digest(&digest), ALG))?;
    let key_id = t.key_id.as_str();
    if !rt.block_on(kc.verify(key_id, Message::Digest(&digest), &sig, ALG))? {
        return Err("the signature made through LocalStack does not verify locally".into());
    }
    // Warm the pools: 64 connections each, so the first timed run does not pay for them.
    rt.block_on(throughput_ours(&t, &t.ours, &digest, 64, 64))?;
    rt.block_on(throughput_ours(&t, &ours_delayed, &digest, 64, 64))?;
    rt.block_on(throughput_raw(&t, &t.raw, &digest, 64, 64))?;
    rt.block_on(throughput_raw(&t, &raw_delayed, &digest, 64, 64))?;

    let moto_python = opts.str("moto-python").map(PathBuf::from);
    let moto_target = match &moto_python {
        Some(p) => {
            note!("kms: starting moto");
            let m = moto::start(p, work.path())?;
            let target = rt.block_on(Target::new(&m.endpoint, "bench-sign"))?;
            Some((m, target))
        }
        None => None,
    };

    let mut sequential = Vec::new();
    let mut conc = Vec::new();
    let mut verify = Vec::new();
    let mut emulators = Vec::new();
    for round in 0..rounds {
        note!(
            "kms: round {}/{rounds}: sequential Sign and GetPublicKey",
            round + 1
        );
        let sign = rotated(
            round,
            vec![
                side(|| rt.block_on(latencies(calls, || t.ours_sign(&t.ours, &digest)))),
                side(|| rt.block_on(latencies(calls, || t.raw_sign(&t.raw, &digest)))),
                side(|| boto3(&python, &script, &t, "sign", calls)),
            ],
        )?;
        let gpk = rotated(
            round,
            vec![
                side(|| {
                    rt.block_on(latencies(calls, || async {
                        t.ours.public_key(&t.key).await?;
                        Ok::<(), crate::BoxError>(())
                    }))
                }),
                side(|| {
                    rt.block_on(latencies(calls, || async {
                        uncached.public_key(&t.key).await?;
                        Ok::<(), crate::BoxError>(())
                    }))
                }),
                side(|| rt.block_on(latencies(calls, || t.raw_public_key()))),
                side(|| boto3(&python, &script, &t, "get_public_key", calls)),
            ],
        )?;
        sequential.push(json!({
            "sign": {"ours": median(&sign[0]), "raw": median(&sign[1]), "boto3": median(&sign[2])},
            "get_public_key": {
                "ours_cached": median(&gpk[0]), "ours_uncached": median(&gpk[1]),
                "raw": median(&gpk[2]), "boto3": median(&gpk[3]),
            },
        }));

        note!("kms: round {}/{rounds}: concurrency", round + 1);
        let direct = concurrency(&rt, &t, &t.ours, &t.raw, &digest, calls, conc_calls, round)?;
        // Through the proxy each sequential call costs the delay: fewer calls, same precision.
        let seq_delayed = (calls / 4).max(20);
        let via_proxy = concurrency(
            &rt,
            &t,
            &ours_delayed,
            &raw_delayed,
            &digest,
            seq_delayed,
            conc_calls,
            round,
        )?;
        conc.push(json!({"direct": direct, "proxy": via_proxy}));

        note!(
            "kms: round {}/{rounds}: local verify against KMS Verify",
            round + 1
        );
        let v = rotated(
            round,
            vec![
                side(|| {
                    Ok(vec![
                        1.0 / rt.block_on(rate_async(verify_window, || async {
                            let ok = kc
                                .verify(key_id, Message::Digest(&digest), &sig, ALG)
                                .await
                                .unwrap();
                            assert!(ok);
                        })),
                    ])
                }),
                side(|| {
                    rt.block_on(latencies(calls, || async {
                        let ok = kc
                            .verify_remote(key_id, Message::Digest(&digest), &sig, ALG)
                            .await?;
                        if !ok {
                            return Err::<(), crate::BoxError>("KMS Verify said no".into());
                        }
                        Ok(())
                    }))
                }),
                side(|| {
                    rt.block_on(latencies(seq_delayed, || async {
                        kc_delayed
                            .verify_remote(key_id, Message::Digest(&digest), &sig, ALG)
                            .await?;
                        Ok::<(), crate::BoxError>(())
                    }))
                }),
            ],
        )?;
        verify.push(json!({
            "local": v[0][0], "remote": median(&v[1]), "remote_proxy": median(&v[2]),
        }));

        if let Some((_, mt)) = &moto_target {
            note!("kms: round {}/{rounds}: LocalStack against moto", round + 1);
            let e = rotated(
                round,
                vec![
                    side(|| rt.block_on(latencies(calls, || t.ours_sign(&t.ours, &digest)))),
                    side(|| rt.block_on(latencies(calls, || mt.ours_sign(&mt.ours, &digest)))),
                    side(|| rt.block_on(latencies(calls, || t.raw_sign(&t.raw, &digest)))),
                    side(|| rt.block_on(latencies(calls, || mt.raw_sign(&mt.raw, &digest)))),
                    side(|| boto3(&python, &script, &t, "sign", calls)),
                    side(|| boto3(&python, &script, mt, "sign", calls)),
                ],
            )?;
            emulators.push(json!({
                "localstack": {"ours": median(&e[0]), "raw": median(&e[2]), "boto3": median(&e[4])},
                "moto": {"ours": median(&e[1]), "raw": median(&e[3]), "boto3": median(&e[5])},
            }));
        }
    }

    let mut out = json!({
        "item": "kms",
        "rounds": rounds,
        "calls": calls,
        "concurrent_calls": conc_calls,
        "delay_ms": delay.as_millis() as u64,
        "localstack": ls.version(),
        "boto3": python_version_of(&python, "boto3"),
        "sequential": sequential,
        "concurrency": conc,
        "verify": verify,
    });
    match &moto_target {
        Some((m, _)) => {
            out["moto"] = json!(m.version);
            out["emulators"] = json!(emulators);
        }
        None => out["moto_skipped"] = json!("no --moto-python given"),
    }
    Ok(out)
}
