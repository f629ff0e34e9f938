//! LocalStack, the AWS KMS emulator, started by the tests themselves.
//!
//! [`localstack()`] starts one LocalStack per test binary on a free loopback port (shared by
//! every test of the binary through a `OnceLock`) and waits until KMS answers. The server
//! runs under a small shell watchdog that kills it, and removes its temporary volume
//! directory, once the test process is gone — however the process ends.
//!
//! The interpreter comes from `KEYCHAIN_LOCALSTACK_PYTHON` (set by `scripts/test.sh`), else
//! the workspace's `.venv-localstack`. Without it the tests FAIL with the command to run:
//! a missing emulator is never a silent skip.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use keychain::awskms::{AwsKmsBackend, AwsKmsConfig};
use keychain::{Keychain, Result};

/// The region the tests use.
pub const REGION: &str = "us-east-1";
/// The account LocalStack reports.
pub const ACCOUNT: &str = "000000000000";
/// How long LocalStack may take to become ready.
const STARTUP: Duration = Duration::from_secs(120);

const HOW_TO_INSTALL: &str = "LocalStack is not installed: run scripts/test.sh (it installs it), \
     or scripts/install-localstack.sh and export \
     KEYCHAIN_LOCALSTACK_PYTHON=$PWD/.venv-localstack/bin/python";

/// The shell watchdog: runs LocalStack in the background, waits while both the test process
/// (`$WATCH`) and the server live, then stops the server (TERM, then KILL after 10 s) and
/// removes its volume directory.
const WATCHDOG: &str = r#"
"$KC_PYTHON" -m localstack.runtime.main >"$KC_LOG" 2>&1 </dev/null &
child=$!
while kill -0 "$WATCH" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill -TERM "$child" 2>/dev/null
i=0
while kill -0 "$child" 2>/dev/null && [ "$i" -lt 10 ]; do sleep 1; i=$((i+1)); done
kill -KILL "$child" 2>/dev/null
wait "$child" 2>/dev/null
rm -rf "$KC_VOLUME"
"#;

/// A running LocalStack.
#[derive(Debug)]
pub struct LocalStack {
    endpoint: String,
    port: u16,
    version: String,
    python: PathBuf,
    log: PathBuf,
    // Kept so the watchdog is not reaped early; it ends by itself after the test process.
    _watchdog: Mutex<Child>,
}

/// The interpreter of the LocalStack venv; panics with the install command when missing.
pub fn localstack_python() -> PathBuf {
    let python = std::env::var_os("KEYCHAIN_LOCALSTACK_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.venv-localstack/bin/python"
            ))
        });
    if !python.exists() {
        panic!("{HOW_TO_INSTALL} (looked for {})", python.display());
    }
    let ok = Command::new(&python)
        .args(["-c", "import localstack, boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        panic!(
            "{HOW_TO_INSTALL} ({} cannot import localstack and boto3)",
            python.display()
        );
    }
    python
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port for LocalStack: {e}"))
}

/// `GET path` on the loopback port; the body, or `None` when nothing answers yet.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.").then(|| body.to_string())
}

/// The shared LocalStack of this test binary, started on first use. Panics (the test
/// fails) when it cannot be installed or started, with the reason and its log.
pub fn localstack() -> &'static LocalStack {
    static INSTANCE: OnceLock<LocalStack> = OnceLock::new();
    INSTANCE.get_or_init(start)
}

fn start() -> LocalStack {
    let python = localstack_python();
    let volume = tempfile::Builder::new()
        .prefix("keychain-localstack-")
        .tempdir()
        .unwrap_or_else(|e| panic!("tempdir for LocalStack: {e}"))
        .keep();
    let log = volume.join("localstack.log");
    let port = free_port();
    let started = Instant::now();
    let mut watchdog = Command::new("sh")
        .args(["-c", WATCHDOG])
        .env("KC_PYTHON", &python)
        .env("KC_LOG", &log)
        .env("KC_VOLUME", &volume)
        .env("WATCH", std::process::id().to_string())
        .env("DNS_ADDRESS", "0")
        .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("SERVICES", "kms")
        .env("EAGER_SERVICE_LOADING", "1")
        .env("LOCALSTACK_VOLUME_DIR", &volume)
        .env("PERSISTENCE", "0")
        .env("SKIP_SSL_CERT_DOWNLOAD", "1")
        .env("DISABLE_EVENTS", "1")
        .env("LS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the LocalStack watchdog (sh): {e}"));
    let log_tail = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    loop {
        if let Some(body) = http_get(port, "/_localstack/health") {
            let health: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let kms = health["services"]["kms"].as_str().unwrap_or_default();
            if kms == "running" || kms == "available" {
                let version = health["version"].as_str().unwrap_or("unknown").to_string();
                eprintln!(
                    "LocalStack {version} ready on 127.0.0.1:{port} in {:.1?}",
                    started.elapsed()
                );
                return LocalStack {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    port,
                    version,
                    python,
                    log,
                    _watchdog: Mutex::new(watchdog),
                };
            }
        }
        if let Ok(Some(status)) = watchdog.try_wait() {
            panic!(
                "LocalStack exited during startup ({status}); its log:\n{}",
                log_tail()
            );
        }
        if started.elapsed() > STARTUP {
            panic!(
                "LocalStack did not become ready on port {port} within {STARTUP:?}; its log:\n{}",
                log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl LocalStack {
    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// LocalStack's version, as its health endpoint reports it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The server log (for failure messages).
    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    /// A backend configuration for this server: region [`REGION`], dummy static
    /// credentials, quick retries.
    pub fn config(&self) -> AwsKmsConfig {
        AwsKmsConfig::new()
            .region(REGION)
            .endpoint(&self.endpoint)
            .static_credentials("test", "test", None)
            .initial_backoff(Duration::from_millis(20))
    }

    /// A backend on this server.
    pub async fn backend(&self) -> Result<AwsKmsBackend> {
        AwsKmsBackend::new(self.config()).await
    }

    /// A backend on this server; panics with the endpoint when it cannot connect.
    pub async fn connect(&self) -> AwsKmsBackend {
        match self.backend().await {
            Ok(b) => b,
            Err(e) => panic!("connecting to LocalStack at {}: {e}", self.endpoint),
        }
    }

    /// A `Keychain` on this server.
    pub async fn keychain(&self) -> Keychain {
        match self.backend().await {
            Ok(b) => Keychain::new(b),
            Err(e) => panic!("connecting to LocalStack at {}: {e}", self.endpoint),
        }
    }

    /// Runs Python `code` with boto3 (an AWS client independent of ours) against this
    /// server: `kms` is a ready boto3 KMS client and `data` the parsed JSON of `input`; the
    /// code sets `result`, printed back as JSON. Panics when the script fails.
    pub fn boto3(&self, code: &str, input: &serde_json::Value) -> serde_json::Value {
        let script = format!(
            "import json, sys, base64\nimport boto3\n\
             kms = boto3.client('kms', endpoint_url={endpoint:?}, region_name={REGION:?}, \
             aws_access_key_id='test', aws_secret_access_key='test')\n\
             data = json.load(sys.stdin)\nresult = None\n{code}\n\
             json.dump(result, sys.stdout, default=str)\n",
            endpoint = self.endpoint,
        );
        let out = crate::run_with_stdin(
            Command::new(&self.python).args(["-c", &script]),
            serde_json::to_vec(input).unwrap_or_default().as_slice(),
        );
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("the boto3 script printed no JSON ({e})"))
    }
}

/// Creates a key named `name` (alias `alias/NAME`) of `spec` and `usage` in `backend` and
/// returns its reference; panics with the backend's error.
pub async fn named(
    backend: &AwsKmsBackend,
    name: &str,
    spec: keychain::KeySpec,
    usage: keychain::KeyUsage,
) -> keychain::KeyRef {
    use keychain::Backend;
    let request = keychain::CreateKeyRequest::new(spec)
        .name(name)
        .usage(usage);
    if let Err(e) = backend.create_key(&request).await {
        panic!("creating {name}: {e}");
    }
    keychain::KeyRef::parse(name).unwrap_or_else(|e| panic!("{name} is not a key name: {e}"))
}
