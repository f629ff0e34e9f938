//! Item 4: envelope encryption throughput and the CLI's peak memory.
//!
//! - In memory: `SealingKey::seal` / `OpeningKey::open` (64 KiB chunks, a data key from a
//!   software keystore) streaming a buffer of `--mib` MiB to a sink, against `openssl speed
//!   -elapsed -bytes 16384 [-decrypt] -evp aes-256-gcm`; the raw aws-lc-rs AES-256-GCM on the
//!   same 16 KiB block size is the reference.
//! - On files: `keychain encrypt` / `keychain decrypt` (the release CLI, a process per run)
//!   against `openssl enc [-d] -aes-256-ctr` on the same file (`openssl enc` has no GCM).
//! - Peak RSS of the CLI encrypting and decrypting a sparse file of `--rss-mib` MiB (and of
//!   `openssl enc` on it), from `/usr/bin/time -v`, else by polling `/proc/PID/status`.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use keychain::envelope::{EnvelopeHeader, SealingKey};
use keychain::software::{SoftwareBackend, SoftwareConfig};
use keychain::{Backend, CreateKeyRequest, EncryptionContext, KeyRef, KeySpec};
use serde_json::{Value, json};

use crate::measure::{peer_first, rate, time};
use crate::openssl;
use crate::{Opts, Res, note};

const BLOCK: usize = 16 * 1024;
const PASSWORD: &str = "bench password";
const KEY_NAME: &str = "bench-data";

fn random_buffer(len: usize) -> Res<Vec<u8>> {
    let mut data = vec![0u8; len];
    for chunk in data.chunks_mut(1 << 20) {
        aws_lc_rs::rand::fill(chunk)?;
    }
    Ok(data)
}

struct InMemory<'a> {
    rt: &'a tokio::runtime::Runtime,
    backend: &'a SoftwareBackend,
    key: &'a KeyRef,
    context: &'a EncryptionContext,
    data: &'a [u8],
    sealed: &'a [u8],
}

impl InMemory<'_> {
    /// Whole streams, repeated until `window` is over: plaintext bytes per second. Each pass
    /// asks the backend for a fresh data key, as every file does.
    fn seal_rate(&self, window: Duration) -> Res<f64> {
        let start = Instant::now();
        let mut bytes = 0u64;
        while start.elapsed() < window {
            let sealing =
                self.rt
                    .block_on(SealingKey::generate(self.backend, self.key, self.context))?;
            bytes += sealing.seal(self.data, std::io::sink())?.plaintext_bytes;
        }
        Ok(bytes as f64 / start.elapsed().as_secs_f64())
    }

    fn open_rate(&self, window: Duration) -> Res<f64> {
        let start = Instant::now();
        let mut bytes = 0u64;
        while start.elapsed() < window {
            let mut input = self.sealed;
            let header = EnvelopeHeader::read(&mut input)?;
            let opening = self
                .rt
                .block_on(header.unwrap_key(self.backend, self.context))?;
            bytes += opening.open(input, std::io::sink())?.plaintext_bytes;
        }
        Ok(bytes as f64 / start.elapsed().as_secs_f64())
    }
}

/// aws-lc-rs AES-256-GCM sealing one 16 KiB block in place, as `openssl speed` does.
fn raw_gcm_rate(window: Duration) -> Res<f64> {
    let key_bytes = random_buffer(32)?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key_bytes)?);
    let mut block = random_buffer(BLOCK)?;
    let mut counter = 0u64;
    let ops = rate(window, || {
        counter += 1;
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&counter.to_be_bytes());
        let tag = key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(n), Aad::empty(), &mut block)
            .unwrap();
        let _ = black_box(tag);
    });
    Ok(ops * BLOCK as f64)
}

fn cli_env<'a>(cmd: &'a mut Command, keystore: &Path) -> &'a mut Command {
    cmd.env(
        "KEYCHAIN_BACKEND",
        format!("software:{}", keystore.display()),
    )
    .env("KEYCHAIN_PASSWORD", PASSWORD)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
}

fn status_ok(cmd: &mut Command) -> Res<()> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Seconds one command takes (wall clock, process start included).
fn timed(cmd: &mut Command) -> Res<f64> {
    let (r, secs) = time(|| status_ok(cmd));
    r?;
    Ok(secs)
}

struct Files<'a> {
    cli: &'a Path,
    keystore: &'a Path,
    dir: &'a Path,
    hex_key: String,
    hex_iv: String,
}

impl Files<'_> {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn cli(&self, args: &[&str], input: &str, output: &str) -> Command {
        let mut cmd = Command::new(self.cli);
        cli_env(&mut cmd, self.keystore)
            .args(args)
            .arg("--in")
            .arg(self.path(input))
            .arg("--out")
            .arg(self.path(output));
        cmd
    }

    fn openssl(&self, decrypt: bool, input: &str, output: &str) -> Command {
        let mut cmd = Command::new("openssl");
        cmd.arg("enc");
        if decrypt {
            cmd.arg("-d");
        }
        cmd.args(["-aes-256-ctr", "-K", &self.hex_key, "-iv", &self.hex_iv])
            .arg("-in")
            .arg(self.path(input))
            .arg("-out")
            .arg(self.path(output))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        cmd
    }
}

/// Peak RSS (KiB) of a command: `/usr/bin/time -v`'s "Maximum resident set size", else the
/// last `VmHWM` seen while polling `/proc/PID/status`.
fn peak_rss_kib(cmd: Command) -> Res<(u64, &'static str)> {
    let time_bin = Path::new("/usr/bin/time");
    if time_bin.exists() {
        let mut wrapped = Command::new(time_bin);
        wrapped
            .arg("-v")
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                wrapped.env(k, v);
            }
        }
        let out = wrapped
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!("{wrapped:?} failed: {err}").into());
        }
        let kib = err
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .ok_or_else(|| format!("no maximum RSS in /usr/bin/time output: {err}"))?
            .trim()
            .parse()?;
        return Ok((kib, "/usr/bin/time -v"));
    }
    let mut cmd = cmd;
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path)
            && let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            let kib: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                return Err(format!("{cmd:?} failed ({status})").into());
            }
            return Ok((peak, "polling VmHWM in /proc/PID/status"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs item 4.
pub fn run(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 3)?;
    let seconds: u32 = opts.get("seconds", 1)?;
    let mib: usize = opts.get("mib", 256)?;
    let rss_mib: u64 = opts.get("rss-mib", 1024)?;
    let window = Duration::from_secs(u64::from(seconds));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = tempfile::Builder::new()
        .prefix("keychain-bench-envelope-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let keystore = dir.path().join("keystore");
    let backend = rt.block_on(SoftwareBackend::open(
        SoftwareConfig::new(&keystore)
            .password(PASSWORD)
            .kdf_iterations(2048),
    ))?;
    let info = rt.block_on(
        backend.create_key(&CreateKeyRequest::new(KeySpec::SymmetricDefault).name(KEY_NAME)),
    )?;
    let key = KeyRef::key_id(&info.key_id)?;
    let context = EncryptionContext::from([("purpose".to_string(), "benchmark".to_string())]);

    // ---- in memory -------------------------------------------------------------------
    note!("envelope: {mib} MiB of random data in memory");
    let data = random_buffer(mib << 20)?;
    let mut sealed = Vec::with_capacity(data.len() + data.len() / 1024 + 4096);
    rt.block_on(SealingKey::generate(&backend, &key, &context))?
        .seal(&data[..], &mut sealed)?;
    let m = InMemory {
        rt: &rt,
        backend: &backend,
        key: &key,
        context: &context,
        data: &data,
        sealed: &sealed,
    };
    let mut memory = Vec::new();
    for round in 0..rounds {
        note!("envelope: in-memory round {}/{rounds}", round + 1);
        let peer = || -> Res<(f64, f64)> {
            Ok((
                openssl::speed_cipher("aes-256-gcm", BLOCK, seconds, false)?,
                openssl::speed_cipher("aes-256-gcm", BLOCK, seconds, true)?,
            ))
        };
        let ours = || -> Res<(f64, f64, f64)> {
            Ok((
                m.seal_rate(window)?,
                m.open_rate(window)?,
                raw_gcm_rate(window)?,
            ))
        };
        let ((seal, open, raw), (peer_enc, peer_dec)) = if peer_first(round) {
            let p = peer()?;
            (ours()?, p)
        } else {
            let o = ours()?;
            (o, peer()?)
        };
        memory.push(json!({
            "seal": seal, "open": open, "raw_gcm_16k": raw,
            "openssl_gcm_16k_encrypt": peer_enc, "openssl_gcm_16k_decrypt": peer_dec,
        }));
    }
    drop(sealed);
    drop(data);

    let mut out = json!({
        "item": "envelope",
        "rounds": rounds,
        "seconds": seconds,
        "mib": mib,
        "chunk_size": keychain::envelope::DEFAULT_CHUNK_SIZE,
        "openssl": openssl::version(),
        "memory": memory,
    });

    // ---- files and peak RSS through the CLI ----------------------------------------------
    let Some(cli) = opts.str("cli").map(PathBuf::from) else {
        out["files_skipped"] = json!("no --cli given");
        return Ok(out);
    };
    let files_dir = dir.path().join("files");
    std::fs::create_dir(&files_dir)?;
    let f = Files {
        cli: &cli,
        keystore: &keystore,
        dir: &files_dir,
        hex_key: hex(&random_buffer(32)?),
        hex_iv: hex(&random_buffer(16)?),
    };
    note!("envelope: writing a {mib} MiB file");
    File::create(f.path("plain"))?.write_all(&random_buffer(mib << 20)?)?;
    let mut file_rounds = Vec::new();
    for round in 0..rounds {
        note!("envelope: file round {}/{rounds}", round + 1);
        let ours = || -> Res<(f64, f64)> {
            let enc = timed(&mut f.cli(&["encrypt", KEY_NAME], "plain", "ours.kce"))?;
            let dec = timed(&mut f.cli(&["decrypt"], "ours.kce", "ours.out"))?;
            if round == 0 && std::fs::read(f.path("ours.out"))? != std::fs::read(f.path("plain"))? {
                return Err("the CLI's round trip changed the file".into());
            }
            Ok((enc, dec))
        };
        let peer = || -> Res<(f64, f64)> {
            let enc = timed(&mut f.openssl(false, "plain", "peer.enc"))?;
            let dec = timed(&mut f.openssl(true, "peer.enc", "peer.out"))?;
            Ok((enc, dec))
        };
        let ((enc, dec), (penc, pdec)) = if peer_first(round) {
            let p = peer()?;
            (ours()?, p)
        } else {
            let o = ours()?;
            (o, peer()?)
        };
        let bytes = (mib << 20) as f64;
        file_rounds.push(json!({
            "cli_encrypt": bytes / enc, "cli_decrypt": bytes / dec,
            "openssl_enc": bytes / penc, "openssl_dec": bytes / pdec,
        }));
        for name in ["ours.kce", "ours.out", "peer.enc", "peer.out"] {
            let _ = std::fs::remove_file(f.path(name));
        }
    }
    std::fs::remove_file(f.path("plain"))?;
    out["files"] = json!(file_rounds);

    note!("envelope: peak RSS on a sparse {rss_mib} MiB file");
    File::create(f.path("sparse"))?.set_len(rss_mib << 20)?;
    let (enc_rss, how) = peak_rss_kib(f.cli(&["encrypt", KEY_NAME], "sparse", "sparse.kce"))?;
    let (dec_rss, _) = peak_rss_kib(f.cli(&["decrypt"], "sparse.kce", "sparse.out"))?;
    let plain_len = std::fs::metadata(f.path("sparse.out"))?.len();
    if plain_len != rss_mib << 20 {
        return Err(format!("the CLI decrypted {plain_len} bytes, not {}", rss_mib << 20).into());
    }
    let _ = std::fs::remove_file(f.path("sparse.out"));
    let (peer_rss, _) = peak_rss_kib(f.openssl(false, "sparse", "sparse.enc"))?;
    for name in ["sparse", "sparse.kce", "sparse.enc"] {
        let _ = std::fs::remove_file(f.path(name));
    }
    out["rss"] = json!({
        "file_mib": rss_mib,
        "how": how,
        "cli_encrypt_kib": enc_rss,
        "cli_decrypt_kib": dec_rss,
        "openssl_enc_kib": peer_rss,
    });
    rt.block_on(backend.close())?;
    Ok(out)
}
