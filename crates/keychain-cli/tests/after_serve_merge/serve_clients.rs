//! Clients that are not ours against `keychain serve`: the boto3 session over every spec (Ed25519,
//! Ed25519ph, ML-DSA and ML-KEM included, which LocalStack cannot judge), the AWS CLI session,
//! the SigV4 attacks (refused as AWS KMS refuses them) and the differential with LocalStack
//! (every disagreement listed in docs/SERVER.md).
//!
//! Not a test target until `keychain serve` exists (a directory under `tests/` without
//! `main.rs` is not discovered by cargo). Once it does, enable it in
//! crates/keychain-cli/Cargo.toml:
//!
//! ```toml
//! [[test]]
//! name = "serve_clients"
//! path = "tests/after_serve_merge/serve_clients.rs"
//! ```

#![cfg(feature = "aws")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use keychain_testkit::PASSWORD;
use keychain_testkit::kms_clients::{
    ALL_SPECS, Gap, awscli_session, boto3_session, differential, localstack_deviations,
    sigv4_attacks_with,
};
use keychain_testkit::localstack::localstack;

/// How long `keychain serve` may take to print its `listening on` line.
const STARTUP: Duration = Duration::from_secs(60);

/// A `keychain serve` on a free loopback port over a fresh software keystore; stopped with
/// SIGTERM when dropped.
struct Server {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// With the default `test`/`test` credentials (account 000000000000).
    fn start() -> Server {
        Server::start_with(&[])
    }

    /// With a `--credentials` file listing `credentials`
    /// (`(access_key_id, secret_access_key, account_id)`).
    fn start_with(credentials: &[(&str, &str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let backend = format!("software:{}", dir.path().join("keystore").display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_keychain"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--backend", &backend]);
        if !credentials.is_empty() {
            let list: Vec<serde_json::Value> = credentials
                .iter()
                .map(|(id, secret, account)| {
                    serde_json::json!({
                        "access_key_id": id, "secret_access_key": secret, "account_id": account
                    })
                })
                .collect();
            let file = dir.path().join("credentials.json");
            std::fs::write(&file, serde_json::Value::Array(list).to_string())
                .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
            command.arg("--credentials").arg(&file);
        }
        let mut child = command
            .env("KEYCHAIN_PASSWORD", PASSWORD)
            .env("KEYCHAIN_KDF_ITERATIONS", "2048")
            .env_remove("KEYCHAIN_BACKEND")
            .env_remove("KEYCHAIN_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start keychain serve: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("keychain serve has no stdout"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(read.map(|_| line));
        });
        let line = match rx.recv_timeout(STARTUP) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => panic!("reading keychain serve's stdout: {e}"),
            Err(_) => {
                let _ = child.kill();
                panic!("keychain serve printed no line within {STARTUP:?}")
            }
        };
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .filter(|url| url.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| {
                let exited = child.try_wait().ok().flatten();
                let _ = child.kill();
                panic!(
                    "keychain serve's first line is not `listening on http://127.0.0.1:PORT`: \
                     {line:?} (exited: {exited:?})"
                )
            })
            .to_string();
        Server {
            child,
            endpoint,
            _dir: dir,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole boto3 session over every KMS spec: every signature judged by `cryptography` or
/// PyCryptodome (Ed25519ph with KMS's double hash), ML-KEM by `cryptography`'s encapsulation,
/// no gap.
#[test]
fn boto3_session_against_keychain_serve() {
    let server = Server::start();
    let report = boto3_session(&server.endpoint, ALL_SPECS, &[], false);
    report.assert_passed("the boto3 session against keychain serve");
    assert_eq!(report.count("steps", "gap"), 0);
}

/// The AWS CLI session, Ed25519 included, every signature judged by `openssl`.
#[test]
fn awscli_session_against_keychain_serve() {
    let server = Server::start();
    let report = awscli_session(&server.endpoint, ALL_SPECS, &[]);
    report.assert_passed("the AWS CLI session against keychain serve");
}

/// The one attack `keychain serve` answers otherwise than a regional AWS endpoint: it serves
/// every region from one endpoint (the region comes from the signature's scope), so a request
/// correctly signed for another region is served there (docs/SERVER.md, "SigV4").
const SERVE_SIGV4_DIFFERENCES: &[Gap] = &[("scope-other-region", "200/None")];

/// Every SigV4 attack refused with AWS KMS's error; the valid control requests served, a key
/// created in account 000000000000.
#[test]
fn sigv4_attacks_refused_by_keychain_serve() {
    let server = Server::start();
    let report = sigv4_attacks_with(
        &server.endpoint,
        &["--account", "000000000000"],
        SERVE_SIGV4_DIFFERENCES,
    );
    report.assert_passed("the SigV4 attacks against keychain serve");
}

/// With a `--credentials` file: its access key works (its account in the ARNs), `test`/`test`
/// is an unknown access key, and every attack is refused as KMS refuses it.
#[test]
fn sigv4_attacks_with_a_credentials_file() {
    let (id, secret, account) = (
        "AKIAKEYCHAINJUDGE001",
        "judge-secret-not-a-secret-0123456789abcd",
        "111122223333",
    );
    let server = Server::start_with(&[(id, secret, account)]);
    let report = sigv4_attacks_with(
        &server.endpoint,
        &[
            "--access-key",
            id,
            "--secret-key",
            secret,
            "--account",
            account,
            "--refuse-test-credentials",
        ],
        SERVE_SIGV4_DIFFERENCES,
    );
    report.assert_passed("the SigV4 attacks against keychain serve --credentials");
}

/// The differential: `keychain serve` answers every documented case as the KMS API reference
/// says; LocalStack deviates exactly where measured; every disagreement between the two is
/// listed in docs/SERVER.md.
#[test]
fn differential_keychain_serve_and_localstack() {
    let server = Server::start();
    let ls = localstack();
    let report = differential(
        &[
            ("localstack", ls.endpoint()),
            ("keychain", &server.endpoint),
        ],
        &localstack_deviations("localstack"),
    );
    report.assert_passed("the differential of keychain serve and LocalStack");
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/SERVER.md");
    let doc =
        std::fs::read_to_string(doc_path).unwrap_or_else(|e| panic!("reading docs/SERVER.md: {e}"));
    let undocumented: Vec<&str> = report.json["disagreements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_str())
        .filter(|case| !doc.contains(&format!("`{case}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "disagreements with LocalStack not listed in docs/SERVER.md: {undocumented:?}\n{}",
        report.stderr
    );
}
