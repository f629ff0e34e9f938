//! `keychain serve` as a process: the one ready line on stdout, keys shared with the keystore
//! both ways (the CLI's own AWS KMS backend as the server's client), a clean exit 0 on
//! SIGTERM and SIGINT, and the test credentials refused on a non-loopback address.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use crate::support::{Cli, Run, assert_one_error_line};

/// A running `keychain serve` over the test's keystore (the age tests serve their keys with it
/// too).
pub struct Serving {
    child: Child,
    endpoint: String,
}

impl Serving {
    pub fn start(cli: &Cli) -> Self {
        let mut child = cli
            .command()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting keychain serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the ready line");
        let addr = line
            .strip_prefix("listening on http://")
            .map(str::trim)
            .unwrap_or_else(|| panic!("no ready line: {line:?}"))
            .to_string();
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "{addr}"
        );
        Serving {
            child,
            endpoint: addr,
        }
    }

    /// The AWS KMS backend URI of this server.
    pub fn uri(&self) -> String {
        format!("awskms://{}/?region=us-east-1", self.endpoint)
    }

    /// Sends `signal` and waits: the exit status and what the server wrote on stderr.
    pub fn stop(mut self, signal: &str) -> (Option<i32>, String) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("waiting for keychain serve");
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (exit.code(), err)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary as a client of the server: our AWS KMS backend with the test credentials.
pub fn client(cli: &Cli, serving: &Serving, args: &[&str]) -> Run {
    let mut c = cli.command();
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", cli.path("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cli.path("no-aws-credentials"),
        );
    for var in [
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
    ] {
        c.env_remove(var);
    }
    let uri = serving.uri();
    let mut all = vec!["--backend", uri.as_str()];
    all.extend_from_slice(args);
    cli.run_with(c, &all)
}

#[test]
fn keys_are_shared_with_the_keystore_both_ways_and_sigterm_stops_cleanly() {
    let cli = Cli::new();
    let before = cli.create("made-before", "p256", &[]);
    let serving = Serving::start(&cli);

    // The key made in the keystore is served.
    let listed = client(&cli, &serving, &["key", "show", &before]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.text().contains(&before), "{}", listed.text());

    // A key made through the server, and a signature the server makes with it, verified by
    // OpenSSL against the public key the server gives.
    let made = client(
        &cli,
        &serving,
        &[
            "--json",
            "key",
            "create",
            "made-served",
            "--spec",
            "ed25519",
        ],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).expect("JSON");
    let served_id = made["key_id"].as_str().expect("key_id").to_string();
    let message = cli.file("message.txt", b"served and judged");
    let sig = cli.path("message.sig");
    let signed = client(
        &cli,
        &serving,
        &[
            "sign",
            "made-served",
            "--in",
            message.to_str().unwrap(),
            "--out",
            sig.to_str().unwrap(),
        ],
    );
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let pem = client(&cli, &serving, &["pubkey", "made-served"]);
    assert_eq!(pem.code, 0, "{}", pem.stderr);
    let pem_path = cli.file("served.pem", &pem.stdout);
    let openssl = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&pem_path)
        .arg("-rawin")
        .arg("-in")
        .arg(&message)
        .arg("-sigfile")
        .arg(&sig)
        .output()
        .expect("openssl");
    assert!(
        openssl.status.success(),
        "OpenSSL rejects the served signature: {}",
        String::from_utf8_lossy(&openssl.stderr)
    );

    let (code, stderr) = serving.stop("TERM");
    assert_eq!(code, Some(0), "SIGTERM exits 0: {stderr}");

    // The key made through the server is a key of the keystore.
    let local = cli.ok(["key", "list"]).text();
    assert!(local.contains(&served_id), "{local}");
    assert!(local.contains(&before), "{local}");
    let shown = cli.ok(["key", "show", "made-served"]).text();
    assert!(shown.contains("ECC_NIST_EDWARDS25519"), "{shown}");
}

#[test]
fn sigint_stops_cleanly_and_stdout_holds_only_the_ready_line() {
    let cli = Cli::new();
    let mut child = cli
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting keychain serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("ready line");
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}"
    );
    let status = Command::new("kill")
        .args(["-INT".to_string(), child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest of stdout");
    assert_eq!(exit.code(), Some(0));
    assert_eq!(rest, "", "nothing after the ready line");
}

#[test]
fn the_test_credentials_are_refused_off_loopback() {
    let cli = Cli::new();
    let run = cli.run(["serve", "--listen", "0.0.0.0:0"]);
    assert_one_error_line(&run, 4, "serve on 0.0.0.0");
    assert!(run.stderr.contains("loopback"), "{}", run.stderr);
    let run = cli.run(["serve", "--listen", "localhost"]);
    assert_one_error_line(&run, 4, "serve on a bad address");
    let creds = cli.file(
        "creds.json",
        br#"[{"access_key_id": "AK", "secret_access_key": "", "account_id": "123456789012"}]"#,
    );
    let run = cli.run([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--credentials",
        creds.to_str().unwrap(),
    ]);
    assert_one_error_line(&run, 4, "serve with an empty secret");
}
