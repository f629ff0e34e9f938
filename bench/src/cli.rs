//! Item 8 (issue 16): what one `keychain` process costs.
//!
//! - 100 consecutive `keychain sign` (P-256, a 1 KiB file): cold (each process opens the
//!   keystore, PBKDF2 with the default 600 000 iterations), through a session (one
//!   `keychain serve` on loopback, the CLI on `--backend awskms://ADDR/?region=us-east-1`),
//!   and `openssl dgst -sha256 -sign` with an unencrypted PEM key; the order rotates each
//!   round. Both of our signatures are checked by `openssl dgst -verify` first.
//! - `keychain --version` (the process alone), `pubkey`, `verify`, `key list` and `sign`,
//!   each cold on a keystore with the default KDF and on one with 2048 iterations, and
//!   through the session: the difference between the two keystores is the KDF.
//! - The first and second use of aws-lc's random generator in a fresh process
//!   (`keychain-bench rng`): the seeding cost any command pays when it draws randomness.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kms::{rotated, side};
use crate::measure::median;
use crate::served::Served;
use crate::{Opts, Res, note};

const PASSWORD: &str = "bench password";

/// Runs `cmd` to completion; its wall-clock seconds. Fails with its stderr when it fails.
pub(crate) fn timed(cmd: &mut Command) -> Res<f64> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output()?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(secs)
}

/// How to run the keychain CLI against one backend.
struct Cli<'a> {
    bin: &'a Path,
    backend: String,
    env: Vec<(&'static str, String)>,
}

impl Cli<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin);
        c.arg("--backend").arg(&self.backend).args(args);
        for v in [
            "KEYCHAIN_PASSWORD",
            "KEYCHAIN_KDF_ITERATIONS",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
        ] {
            c.env_remove(v);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// Median seconds of `runs` runs of `cli ARGS`.
fn median_of(runs: usize, cli: &Cli<'_>, args: &[&str]) -> Res<f64> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        t.push(timed(&mut cli.cmd(args))?);
    }
    Ok(median(&t))
}

/// Seconds of each of `calls` consecutive runs of `make()`.
fn consecutive(calls: usize, mut make: impl FnMut() -> Command) -> Res<Vec<f64>> {
    (0..calls).map(|_| timed(&mut make())).collect()
}

pub(crate) fn openssl_verify(public: &Path, signature: &Path, file: &Path) -> Res<()> {
    let mut c = Command::new("openssl");
    c.args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(signature)
        .arg(file);
    timed(&mut c)
        .map(|_| ())
        .map_err(|e| format!("OpenSSL rejects our signature: {e}").into())
}

/// Runs item 8.
pub fn run(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 2)?;
    let calls: usize = opts.get("calls", 100)?;
    let runs: usize = opts.get("runs", 10)?;
    let bin = PathBuf::from(
        opts.str("cli")
            .ok_or("--cli PATH (the keychain binary) is needed")?,
    );
    let work = tempfile::Builder::new()
        .prefix("keychain-bench-cli-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let dir = work.path();
    let file = dir.join("message.txt");
    std::fs::write(&file, vec![b'k'; 1024])?;
    let f = file.to_str().ok_or("non-UTF-8 path")?;

    let store = |name: &str, iterations: Option<&str>| {
        let mut env = vec![("KEYCHAIN_PASSWORD", PASSWORD.to_string())];
        if let Some(i) = iterations {
            env.push(("KEYCHAIN_KDF_ITERATIONS", i.to_string()));
        }
        Cli {
            bin: &bin,
            backend: format!("software:{}", dir.join(name).display()),
            env,
        }
    };
    let default_kdf = store("keystore-default", None);
    let fast_kdf = store("keystore-2048", Some("2048"));
    note!("cli: creating the keystores (default KDF and 2048 iterations)");
    for cli in [&default_kdf, &fast_kdf] {
        timed(&mut cli.cmd(&["key", "create", "bench", "--spec", "p256"]))?;
    }
    let public = dir.join("public.pem");
    let sig_cold = dir.join("cold.der");
    let sig_session = dir.join("session.der");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    timed(&mut default_kdf.cmd(&["pubkey", "bench", "--out", &p(&public)]))?;
    timed(&mut default_kdf.cmd(&["sign", "bench", "--in", f, "--out", &p(&sig_cold)]))?;
    openssl_verify(&public, &sig_cold, &file)?;
    // The 2048-iteration keystore has its own key: its own signature to verify.
    let sig_fast = dir.join("fast.der");
    timed(&mut fast_kdf.cmd(&["sign", "bench", "--in", f, "--out", &p(&sig_fast)]))?;

    note!("cli: starting the session (keychain serve on loopback)");
    let served = Served::start(
        &bin,
        &default_kdf.backend,
        &[("KEYCHAIN_PASSWORD", PASSWORD)],
    )?;
    let session = Cli {
        bin: &bin,
        backend: format!("awskms://{}/?region=us-east-1", served.addr),
        env: vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ],
    };
    timed(&mut session.cmd(&["sign", "bench", "--in", f, "--out", &p(&sig_session)]))?;
    openssl_verify(&public, &sig_session, &file)?;

    let key_pem = dir.join("openssl-key.pem");
    timed(
        Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&key_pem),
    )?;
    let openssl_sig = dir.join("openssl.der");
    let openssl_sign = || {
        let mut c = Command::new("openssl");
        c.args(["dgst", "-sha256", "-sign"])
            .arg(&key_pem)
            .arg("-out")
            .arg(&openssl_sig)
            .arg(&file);
        c
    };

    let mut signs = Vec::new();
    for round in 0..rounds {
        note!(
            "cli: round {}/{rounds}: {calls} consecutive signs, three ways",
            round + 1
        );
        let r = rotated(
            round,
            vec![
                side(|| {
                    consecutive(calls, || {
                        default_kdf.cmd(&["sign", "bench", "--in", f, "--out", &p(&sig_cold)])
                    })
                }),
                side(|| {
                    consecutive(calls, || {
                        session.cmd(&["sign", "bench", "--in", f, "--out", &p(&sig_session)])
                    })
                }),
                side(|| consecutive(calls, openssl_sign)),
            ],
        )?;
        let total = |v: &Vec<f64>| v.iter().sum::<f64>();
        signs.push(json!({
            "cold": {"total": total(&r[0]), "p50": median(&r[0])},
            "session": {"total": total(&r[1]), "p50": median(&r[1])},
            "openssl": {"total": total(&r[2]), "p50": median(&r[2])},
        }));
    }

    note!("cli: single commands, cold and through the session ({runs} runs each)");
    let commands = |signature: &Path| -> [(&'static str, Vec<String>); 5] {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        [
            ("--version", s(&["--version"])),
            ("pubkey", s(&["pubkey", "bench", "--out", "/dev/null"])),
            (
                "verify",
                s(&["verify", "bench", "--in", f, "--signature", &p(signature)]),
            ),
            ("key list", s(&["key", "list"])),
            (
                "sign",
                s(&["sign", "bench", "--in", f, "--out", "/dev/null"]),
            ),
        ]
    };
    let mut single = serde_json::Map::new();
    let cold_cmds = commands(&sig_cold);
    let fast_cmds = commands(&sig_fast);
    for (i, (name, args)) in cold_cmds.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let fast: Vec<&str> = fast_cmds[i].1.iter().map(String::as_str).collect();
        single.insert(
            (*name).into(),
            json!({
                "default_kdf": median_of(runs, &default_kdf, &args)?,
                "kdf_2048": median_of(runs, &fast_kdf, &fast)?,
                "session": median_of(runs, &session, &args)?,
            }),
        );
    }
    drop(served);

    note!("cli: the random generator's first use in a fresh process");
    let me = std::env::current_exe()?;
    let mut first = Vec::new();
    let mut second = Vec::new();
    for _ in 0..runs {
        let out = Command::new(&me).arg("rng").output()?;
        let v: Value = serde_json::from_slice(&out.stdout)?;
        first.push(v["first"].as_f64().unwrap_or(f64::NAN));
        second.push(v["second"].as_f64().unwrap_or(f64::NAN));
    }
    let openssl_version = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Ok(json!({
        "item": "cli",
        "rounds": rounds,
        "calls": calls,
        "runs": runs,
        "file_bytes": 1024,
        "openssl": openssl_version,
        "signs": signs,
        "commands": single,
        "rng": {"first": median(&first), "second": median(&second)},
    }))
}

/// `keychain-bench rng`: seconds of the first and the second 32-byte draw from aws-lc's
/// generator in this process, as JSON.
pub fn rng_first_use() -> Res<Value> {
    let mut buf = [0u8; 32];
    let t = Instant::now();
    aws_lc_rs::rand::fill(&mut buf)?;
    let first = t.elapsed();
    let t = Instant::now();
    aws_lc_rs::rand::fill(&mut buf)?;
    let second = t.elapsed();
    let s = |d: Duration| d.as_secs_f64();
    Ok(json!({"first": s(first), "second": s(second)}))
}
