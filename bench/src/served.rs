//! A `keychain serve` child process, and KMS requests signed here with AWS's own signer
//! (`aws-sigv4`), to send over a plain socket or hand to `KmsService` in-process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::Full;

use crate::Res;

/// A running `keychain serve`, killed when dropped.
pub struct Served {
    child: Child,
    /// The address it printed.
    pub addr: SocketAddr,
    /// `http://ADDR`.
    pub endpoint: String,
    /// When it was spawned.
    pub spawned: Instant,
    /// Seconds from the spawn to its `listening on` line.
    pub listening_s: f64,
}

impl Served {
    /// Spawns `cli --backend BACKEND serve --listen 127.0.0.1:0` with `env`, and waits for its
    /// `listening on http://ADDR` line.
    pub fn start(cli: &Path, backend: &str, env: &[(&str, &str)]) -> Res<Served> {
        let mut cmd = Command::new(cli);
        cmd.args(["--backend", backend, "serve", "--listen", "127.0.0.1:0"])
            .env_remove("KEYCHAIN_KDF_ITERATIONS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let listening_s = spawned.elapsed().as_secs_f64();
        let Some(addr) = line.trim().strip_prefix("listening on http://") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("keychain serve printed {line:?}, not its address").into());
        };
        let addr: SocketAddr = addr.parse()?;
        Ok(Served {
            child,
            addr,
            endpoint: format!("http://{addr}"),
            spawned,
            listening_s,
        })
    }

    /// The process's peak resident set (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Res<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmHWM in /proc/PID/status".into())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A KMS JSON 1.1 request, signed for `host` with `secret` (access key `test`, us-east-1).
pub struct SignedCall {
    /// The headers, the SigV4 ones included.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Bytes,
}

impl SignedCall {
    /// Signs `TrentService.{operation}` with `body` now.
    pub fn new(host: &str, operation: &str, body: &[u8], secret: &str) -> Res<SignedCall> {
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host.into()),
            ("content-type".into(), "application/x-amz-json-1.1".into()),
            ("x-amz-target".into(), format!("TrentService.{operation}")),
        ];
        let extra = sigv4_headers(host, &headers, body, secret, SystemTime::now())?;
        headers.extend(extra);
        Ok(SignedCall {
            headers,
            body: Bytes::copy_from_slice(body),
        })
    }

    /// The request as `KmsService::handle` takes it.
    pub fn request(&self) -> http::Request<Full<Bytes>> {
        let mut b = http::Request::builder().method("POST").uri("/");
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Full::new(self.body.clone())).unwrap()
    }

    /// Sends it on a fresh connection to `addr`; the HTTP status and the body.
    pub fn send(&self, addr: SocketAddr) -> Res<(u16, String)> {
        let mut req = String::from("POST / HTTP/1.1\r\n");
        for (k, v) in &self.headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(req.as_bytes())?;
        s.write_all(&self.body)?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        let status = answer
            .get(9..12)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {answer:?}"))?;
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }
}

/// The `x-amz-date` and `authorization` headers AWS's signer adds to `headers` and `body`.
pub fn sigv4_headers(
    host: &str,
    headers: &[(String, String)],
    body: &[u8],
    secret: &str,
    time: SystemTime,
) -> Res<Vec<(String, String)>> {
    let identity: Identity = Credentials::new("test", secret, None, None, "bench").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kms")
        .time(time)
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        "POST",
        format!("http://{host}/"),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )?;
    let (instructions, _) = sign(signable, &params)?.into_parts();
    let (extra, _) = instructions.into_parts();
    Ok(extra
        .into_iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect())
}
