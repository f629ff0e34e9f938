//! moto's KMS server, the second emulator: started on a free loopback port under a small
//! shell watchdog that stops it once the harness process is gone (as the LocalStack helper of
//! `keychain-testkit` does).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Res;

const WATCHDOG: &str = r#"
"$KC_PYTHON" -m moto.server -H 127.0.0.1 -p "$KC_PORT" >"$KC_LOG" 2>&1 </dev/null &
child=$!
while kill -0 "$WATCH" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
kill -TERM "$child" 2>/dev/null
i=0
while kill -0 "$child" 2>/dev/null && [ "$i" -lt 10 ]; do sleep 1; i=$((i+1)); done
kill -KILL "$child" 2>/dev/null
wait "$child" 2>/dev/null
"#;

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// moto's version.
    pub version: String,
    _watchdog: Child,
}

fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_millis(300),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// Starts moto with `python` (a venv with `moto[server]`); fails with its log when it does not
/// come up within a minute.
pub fn start(python: &Path, log_dir: &Path) -> Res<Moto> {
    let version = Command::new(python)
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !version.status.success() {
        return Err(format!(
            "{} cannot import moto: {}",
            python.display(),
            String::from_utf8_lossy(&version.stderr)
        )
        .into());
    }
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    let log: PathBuf = log_dir.join("moto.log");
    let mut watchdog = Command::new("sh")
        .args(["-c", WATCHDOG])
        .env("KC_PYTHON", python)
        .env("KC_PORT", port.to_string())
        .env("KC_LOG", &log)
        .env("WATCH", std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    loop {
        if answers(port) {
            return Ok(Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
                version,
                _watchdog: watchdog,
            });
        }
        if watchdog.try_wait()?.is_some() || started.elapsed() > Duration::from_secs(60) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("moto did not start on port {port}; its log:\n{text}").into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
