//! Item 9 (issue 15): the PKCS#11 backend on a SoftHSM2 token, against the raw `cryptoki`
//! call and OpenSC's `pkcs11-tool`.
//!
//! - In-process, one caller: `Keychain::sign` (a `Keychain` on the `pkcs11:` URI, a SHA-256
//!   digest) against `C_Sign` through `cryptoki` on its own session of the same token with the
//!   key's handle found once (`CKM_ECDSA` on the digest; `CKM_RSA_PKCS` on DigestInfo ‖
//!   digest) — the call our backend makes, without what it adds around it (the key's
//!   remembered lookup and its checks, a fresh lookup once a second, `block_in_place`, r ‖ s
//!   to DER). A third side looks the key up the raw way before each `C_Sign`: what the
//!   backend paid per call before it remembered lookups.
//! - 16 concurrent callers against one: ours as 16 tokio tasks on one `Keychain`, raw as 16
//!   threads each with its own session.
//! - A process per call: `keychain --backend pkcs11:… sign` against `pkcs11-tool --sign` on the
//!   same token and key (`ECDSA` on the digest: SoftHSM has no `ECDSA-SHA256`;
//!   `SHA256-RSA-PKCS` on the file). Both signatures are checked by `openssl dgst -verify`
//!   first.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when the module is initialised and the harness may not set
//! its own environment, so the item makes a token (the testkit's [`SoftHsm`]) and runs itself
//! again in a child process with that environment; the child measures.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use keychain::pkcs11::Pkcs11Backend;
use keychain::{CreateKeyRequest, Hash, KeySpec, KeyUsage, Keychain};
use keychain_testkit::softhsm::{LABEL, MODULE, PIN, SoftHsm, URI_ENV};
use serde_json::{Value, json};

use crate::cli::{openssl_verify, timed};
use crate::kms::{rotated, side};
use crate::measure::{median, rate, rate_async};
use crate::{Opts, Res, note};

/// The DER prefix of a SHA-256 DigestInfo (RFC 8017, 9.2 note 1): what `CKM_RSA_PKCS` signs
/// before the digest for RSASSA-PKCS1-v1_5 with SHA-256.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Concurrent callers in the concurrency rows.
const TASKS: usize = 16;

/// One key of the benchmark: its label, what pkcs11-tool signs with, and the raw input.
struct BenchKey {
    name: &'static str,
    spec: KeySpec,
    /// `CKM_RSA_PKCS` (on DigestInfo ‖ digest), else `CKM_ECDSA` (on the digest).
    rsa: bool,
    tool_mechanism: &'static str,
    /// Whether pkcs11-tool is given the digest (else the file: the token hashes it).
    tool_signs_digest: bool,
    /// Calls per concurrency measurement, as a share of `--calls` (RSA signs are slower).
    calls_divisor: usize,
}

const KEYS: [BenchKey; 2] = [
    BenchKey {
        name: "bench-p256",
        spec: KeySpec::EccNistP256,
        rsa: false,
        tool_mechanism: "ECDSA",
        tool_signs_digest: true,
        calls_divisor: 1,
    },
    BenchKey {
        name: "bench-rsa2048",
        spec: KeySpec::Rsa2048,
        rsa: true,
        tool_mechanism: "SHA256-RSA-PKCS",
        tool_signs_digest: false,
        calls_divisor: 4,
    },
];

impl BenchKey {
    /// The raw mechanism (built where it is used: a `Mechanism` may not cross threads).
    fn mechanism(&self) -> Mechanism<'static> {
        if self.rsa {
            Mechanism::RsaPkcs
        } else {
            Mechanism::Ecdsa
        }
    }
}

/// Runs item 9: in the first process, makes the token and runs the child.
pub fn run(opts: &Opts) -> Res<Value> {
    if std::env::var_os(URI_ENV).is_some() {
        return measure(opts);
    }
    if !Path::new(MODULE).exists() {
        return Err(format!("SoftHSM2 is missing ({MODULE}): apt-get install softhsm2").into());
    }
    note!("pkcs11: initialising a SoftHSM2 token");
    let hsm = SoftHsm::new();
    let exe = std::env::current_exe()?;
    let out = hsm
        .command(&exe.to_string_lossy())
        .args(std::env::args().skip(1))
        .env(URI_ENV, hsm.uri())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("the measuring child failed ({})", out.status).into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The raw side: the module through `cryptoki` alone, logged in to the same token.
struct Raw {
    context: Pkcs11,
    slot: Slot,
}

impl Raw {
    fn open() -> Res<Raw> {
        let context = Pkcs11::new(MODULE)?;
        // Our backend in this process initialised the module already.
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut slot = None;
        for s in context.get_slots_with_token()? {
            if context.get_token_info(s)?.label().trim_end() == LABEL {
                slot = Some(s);
            }
        }
        let slot = slot.ok_or_else(|| format!("no SoftHSM token labelled {LABEL}"))?;
        Ok(Raw { context, slot })
    }

    fn session(&self) -> Res<Session> {
        let session = self.context.open_rw_session(self.slot)?;
        match session.login(UserType::User, Some(&AuthPin::new(PIN.into()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
            Err(e) => Err(e.into()),
        }
    }

    /// What our backend asks the token before each call, done the raw way: the keys
    /// labelled `name` among private and secret keys, then the attributes it reads to check
    /// the key (type, size, usage, protection). The private key's handle.
    fn lookup(&self, session: &Session, name: &str) -> Res<ObjectHandle> {
        let label = Attribute::Label(name.as_bytes().to_vec());
        let mut found = Vec::new();
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::SECRET_KEY] {
            found.extend(session.find_objects(&[Attribute::Class(class), label.clone()])?);
        }
        let [handle] = found.as_slice() else {
            return Err(format!("{} keys labelled {name}", found.len()).into());
        };
        session.get_attributes(
            *handle,
            &[
                AttributeType::Class,
                AttributeType::KeyType,
                AttributeType::Id,
                AttributeType::Label,
                AttributeType::Modulus,
                AttributeType::EcParams,
                AttributeType::ValueLen,
                AttributeType::Sign,
                AttributeType::Decrypt,
                AttributeType::Derive,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )?;
        Ok(*handle)
    }

    /// The private key labelled `name` and its CKA_ID in hex.
    fn key(&self, session: &Session, name: &str) -> Res<(ObjectHandle, String)> {
        let found = session.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(name.as_bytes().to_vec()),
        ])?;
        let [handle] = found.as_slice() else {
            return Err(format!("{} private keys labelled {name}", found.len()).into());
        };
        let id = session
            .get_attributes(*handle, &[AttributeType::Id])?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(id) => Some(id),
                _ => None,
            })
            .ok_or("the key has no CKA_ID")?;
        let hex = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok((*handle, hex))
    }
}

/// Calls per second of `tasks` tokio tasks signing through `kc`, `total` calls in all.
async fn ours_throughput(
    kc: &Keychain,
    name: &str,
    digest: &[u8],
    tasks: usize,
    total: usize,
) -> Res<f64> {
    let per_task = total.div_ceil(tasks);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (kc, name, digest) = (kc.clone(), name.to_string(), digest.to_vec());
        set.spawn(async move {
            for _ in 0..per_task {
                kc.sign(&name, &digest, Hash::Sha256).await?;
            }
            Ok::<(), keychain::Error>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    Ok((per_task * tasks) as f64 / start.elapsed().as_secs_f64())
}

/// Calls per second of `threads` threads calling `C_Sign`, each on its own session.
fn raw_throughput(
    raw: &Raw,
    key: &BenchKey,
    input: &[u8],
    threads: usize,
    total: usize,
) -> Res<f64> {
    let per_thread = total.div_ceil(threads);
    let sessions: Vec<(Session, ObjectHandle)> = (0..threads)
        .map(|_| {
            let s = raw.session()?;
            let (h, _) = raw.key(&s, key.name)?;
            Ok((s, h))
        })
        .collect::<Res<_>>()?;
    let start = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .into_iter()
            .map(|(s, h)| {
                scope.spawn(move || -> Result<(), CkError> {
                    let mechanism = key.mechanism();
                    for _ in 0..per_thread {
                        s.sign(&mechanism, h, input)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "a signing thread panicked")??;
        }
        Ok::<(), crate::BoxError>(())
    })?;
    Ok((per_thread * threads) as f64 / start.elapsed().as_secs_f64())
}

/// Measures, in the child that has the token in its environment.
fn measure(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 4)?;
    let window = Duration::from_secs_f64(opts.get("seconds", 1.0)?);
    let calls: usize = opts.get("calls", 800)?;
    let cli_calls: usize = opts.get("cli-calls", 20)?;
    let cli = opts
        .str("cli")
        .ok_or("--cli PATH (the keychain binary) is needed")?
        .to_string();
    let uri = std::env::var(URI_ENV)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let work = tempfile::Builder::new()
        .prefix("keychain-bench-pkcs11-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let file = work.path().join("message.txt");
    std::fs::write(&file, vec![b'k'; 1024])?;
    let digest = Hash::Sha256.digest(&std::fs::read(&file)?);
    let digest_file = work.path().join("message.sha256");
    std::fs::write(&digest_file, &digest)?;

    let kc = rt.block_on(async {
        let kc = Keychain::new(Pkcs11Backend::open_uri(&uri).await?);
        for key in &KEYS {
            note!("pkcs11: creating {} on the token", key.name);
            kc.create_key(
                &CreateKeyRequest::new(key.spec)
                    .name(key.name)
                    .usage(KeyUsage::SignVerify),
            )
            .await?;
        }
        Ok::<_, keychain::Error>(kc)
    })?;
    let raw = Raw::open()?;
    let raw_session = raw.session()?;

    let mut results = serde_json::Map::new();
    for key in &KEYS {
        let (handle, id) = raw.key(&raw_session, key.name)?;
        let input = if key.rsa {
            [&SHA256_DIGEST_INFO[..], &digest].concat()
        } else {
            digest.clone()
        };
        let mechanism = key.mechanism();

        // In-process, one caller.
        let mut sequential = Vec::new();
        for round in 0..rounds {
            note!(
                "pkcs11: {} round {}/{rounds}: one caller, ours and raw C_Sign",
                key.name,
                round + 1
            );
            let r = rotated(
                round,
                vec![
                    side(|| {
                        let (kc, digest) = (&kc, &digest);
                        Ok(rt.block_on(rate_async(window, || async move {
                            kc.sign(key.name, digest, Hash::Sha256).await.unwrap();
                        })))
                    }),
                    side(|| {
                        Ok(rate(window, || {
                            raw_session.sign(&mechanism, handle, &input).unwrap();
                        }))
                    }),
                    side(|| {
                        Ok(rate(window, || {
                            let h = raw.lookup(&raw_session, key.name).unwrap();
                            raw_session.sign(&mechanism, h, &input).unwrap();
                        }))
                    }),
                ],
            )?;
            sequential.push(json!({"ours": r[0], "raw": r[1], "raw_lookup": r[2]}));
        }

        // 16 callers against one.
        let total = (calls / key.calls_divisor).max(TASKS);
        let mut concurrent = Vec::new();
        for round in 0..rounds {
            note!(
                "pkcs11: {} round {}/{rounds}: {TASKS} callers and one, {total} calls each",
                key.name,
                round + 1
            );
            let r = rotated(
                round,
                vec![
                    side(|| rt.block_on(ours_throughput(&kc, key.name, &digest, 1, total))),
                    side(|| rt.block_on(ours_throughput(&kc, key.name, &digest, TASKS, total))),
                    side(|| raw_throughput(&raw, key, &input, 1, total)),
                    side(|| raw_throughput(&raw, key, &input, TASKS, total)),
                ],
            )?;
            concurrent
                .push(json!({"ours_1": r[0], "ours_16": r[1], "raw_1": r[2], "raw_16": r[3]}));
        }

        // A process per call.
        let public = work.path().join(format!("{}.pem", key.name));
        let ours_sig = work.path().join(format!("{}-ours.sig", key.name));
        let tool_sig = work.path().join(format!("{}-tool.sig", key.name));
        let p = |p: &Path| p.to_string_lossy().into_owned();
        let ours_cmd = || {
            let mut c = Command::new(&cli);
            c.args([
                "--backend",
                &uri,
                "sign",
                key.name,
                "--in",
                &p(&file),
                "--out",
                &p(&ours_sig),
            ]);
            c
        };
        let tool_cmd = || {
            let mut c = Command::new("pkcs11-tool");
            let input = if key.tool_signs_digest {
                &digest_file
            } else {
                &file
            };
            c.args([
                "--module",
                MODULE,
                "--token-label",
                LABEL,
                "--login",
                "--pin",
                PIN,
            ])
            .args(["--sign", "--mechanism", key.tool_mechanism, "--id", &id])
            .args(["--signature-format", "openssl", "--input-file", &p(input)])
            .args(["--output-file", &p(&tool_sig)]);
            c
        };
        timed(Command::new(&cli).args([
            "--backend",
            &uri,
            "pubkey",
            key.name,
            "--out",
            &p(&public),
        ]))?;
        timed(&mut ours_cmd())?;
        openssl_verify(&public, &ours_sig, &file)?;
        timed(&mut tool_cmd())
            .map_err(|e| format!("pkcs11-tool (Debian opensc) cannot sign: {e}"))?;
        openssl_verify(&public, &tool_sig, &file)
            .map_err(|e| format!("pkcs11-tool's signature: {e}"))?;
        let mut processes = Vec::new();
        for round in 0..rounds {
            note!(
                "pkcs11: {} round {}/{rounds}: {cli_calls} processes each, keychain and pkcs11-tool",
                key.name,
                round + 1
            );
            let r = rotated(
                round,
                vec![
                    side(|| {
                        (0..cli_calls)
                            .map(|_| timed(&mut ours_cmd()))
                            .collect::<Res<Vec<f64>>>()
                    }),
                    side(|| {
                        (0..cli_calls)
                            .map(|_| timed(&mut tool_cmd()))
                            .collect::<Res<Vec<f64>>>()
                    }),
                ],
            )?;
            processes.push(json!({
                "ours": {"total": r[0].iter().sum::<f64>(), "p50": median(&r[0])},
                "tool": {"total": r[1].iter().sum::<f64>(), "p50": median(&r[1])},
            }));
        }
        results.insert(
            key.name.into(),
            json!({
                "sequential": sequential,
                "concurrent": concurrent,
                "calls": total,
                "processes": processes,
            }),
        );
    }
    // The Debian package's version (pkcs11-tool has no --version).
    let version = |package: &str| {
        Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", package])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let info = raw.context.get_library_info()?;
    Ok(json!({
        "item": "pkcs11",
        "rounds": rounds,
        "window_s": window.as_secs_f64(),
        "tasks": TASKS,
        "cli_calls": cli_calls,
        "file_bytes": 1024,
        "module": format!("{} {}.{}", info.library_description().trim_end(),
            info.library_version().major(), info.library_version().minor()),
        "opensc": version("opensc"),
        "softhsm2": version("softhsm2"),
        "keys": results,
    }))
}
