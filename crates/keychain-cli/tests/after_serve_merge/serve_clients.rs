//! Clients that are not ours against `keychain serve`: the boto3 session over every spec (Ed25519,
//! Ed25519ph, ML-DSA and ML-KEM included, which LocalStack cannot judge), the AWS CLI session,
//! the SigV4 attacks (refused as AWS KMS refuses them) and the differential with LocalStack
//! (every disagreement listed in docs/SERVER.md).
//!
//! Not a test target until `keychain serve` exists: enable it with the `[[test]]` entry named
//! `serve_clients` in crates/keychain-cli/Cargo.toml (see the report of the `clients` branch).

#![cfg(feature = "aws")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use keychain_testkit::PASSWORD;
use keychain_testkit::kms_clients::{
    ALL_SPECS, awscli_session, boto3_session, differential, localstack_deviations, sigv4_attacks,
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
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let backend = format!("software:{}", dir.path().join("keystore").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_keychain"))
            .args(["serve", "--listen", "127.0.0.1:0", "--backend", &backend])
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

/// Every SigV4 attack refused with AWS KMS's error; the valid control request served.
#[test]
fn sigv4_attacks_refused_by_keychain_serve() {
    let server = Server::start();
    let report = sigv4_attacks(&server.endpoint, &[]);
    report.assert_passed("the SigV4 attacks against keychain serve");
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
