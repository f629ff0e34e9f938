//! Item 9 (issue 13): `ssh-keygen -Y sign` through `keychain ssh-agent` against the same
//! through OpenSSH's own `ssh-agent`, whole processes.
//!
//! Our agent serves an Ed25519 and a P-256 key of a software keystore (default PBKDF2 count;
//! the keystore is opened once, when the agent starts); OpenSSH's agent holds an Ed25519 and
//! an ECDSA P-256 key made by `ssh-keygen` and loaded with `ssh-add`. Per round and key type:
//! `calls` consecutive `ssh-keygen -Y sign -U -f KEY.pub -n file` processes (a 1 KiB message
//! on stdin, the signature on stdout) through each agent, in alternating order; then 16
//! processes at once, `waves` times, through each. Every side's signature is checked with
//! `ssh-keygen -Y verify` before anything is timed.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::kms::{rotated, side};
use crate::measure::median;
use crate::{Opts, Res, note};

const PASSWORD: &str = "bench password";
/// Clients at once in the concurrent rows (the 16).
const CONCURRENT: usize = 16;

/// A running agent process, killed when dropped.
struct AgentChild {
    child: Child,
    socket: PathBuf,
}

impl Drop for AgentChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Runs `cmd` to completion; fails with its stderr when it fails.
fn run(cmd: &mut Command) -> Res<Vec<u8>> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(out.stdout)
}

/// `ssh-keygen -Y sign -U` of `message` with the key of `public` held by the agent at
/// `socket`, the signature on stdout.
fn sign_command(socket: &Path, public: &Path, message: &Path) -> Res<Command> {
    let mut c = Command::new("ssh-keygen");
    c.env("SSH_AUTH_SOCK", socket)
        .args(["-q", "-Y", "sign", "-U", "-n", "file", "-f"])
        .arg(public)
        .stdin(std::fs::File::open(message)?)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(c)
}

/// One signature through the agent, checked by `ssh-keygen -Y verify`.
fn check(dir: &Path, socket: &Path, public: &Path, message: &Path, label: &str) -> Res<()> {
    let out = sign_command(socket, public, message)?.output()?;
    if !out.status.success() {
        return Err(format!(
            "{label}: ssh-keygen -Y sign failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let sig = dir.join(format!("{label}.sig"));
    std::fs::write(&sig, &out.stdout)?;
    let signers = dir.join(format!("{label}.allowed"));
    let line = std::fs::read_to_string(public)?;
    std::fs::write(&signers, format!("bench {}\n", line.trim()))?;
    let ok = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(&signers)
        .args(["-I", "bench", "-n", "file", "-s"])
        .arg(&sig)
        .stdin(std::fs::File::open(message)?)
        .output()?
        .status
        .success();
    if !ok {
        return Err(format!("{label}: ssh-keygen -Y verify rejects the signature").into());
    }
    Ok(())
}

/// Seconds of `calls` consecutive signing processes.
fn consecutive(calls: usize, socket: &Path, public: &Path, message: &Path) -> Res<f64> {
    let start = Instant::now();
    for _ in 0..calls {
        let out = sign_command(socket, public, message)?.output()?;
        if !out.status.success() {
            return Err(format!(
                "ssh-keygen -Y sign failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Seconds of `waves` waves of [`CONCURRENT`] signing processes started at once.
fn concurrent(waves: usize, socket: &Path, public: &Path, message: &Path) -> Res<f64> {
    let start = Instant::now();
    for _ in 0..waves {
        let children = (0..CONCURRENT)
            .map(|_| {
                sign_command(socket, public, message)?
                    .spawn()
                    .map_err(Into::into)
            })
            .collect::<Res<Vec<_>>>()?;
        for child in children {
            let out = child.wait_with_output()?;
            if !out.status.success() || out.stdout.is_empty() {
                return Err(format!(
                    "a concurrent ssh-keygen -Y sign failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )
                .into());
            }
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Waits until `socket` exists (the agent listens), at most 30 s.
fn wait_for(socket: &Path, child: &mut Child) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        if let Some(status) = child.try_wait()? {
            return Err(format!("the agent exited before listening ({status})").into());
        }
        if Instant::now() > deadline {
            return Err(format!("no socket at {} after 30 s", socket.display()).into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Starts `keychain ssh-agent` on the keystore `backend`; returns once its startup line is
/// printed (it listens then).
fn start_ours(cli: &Path, backend: &str, socket: &Path) -> Res<AgentChild> {
    let mut child = Command::new(cli)
        .arg("--backend")
        .arg(backend)
        .args(["ssh-agent", "--socket"])
        .arg(socket)
        .env("KEYCHAIN_PASSWORD", PASSWORD)
        .env_remove("KEYCHAIN_PASSWORD_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        std::io::BufReader::new(stdout).read_line(&mut line)?;
    }
    let mut agent = AgentChild {
        child,
        socket: socket.to_path_buf(),
    };
    if !line.starts_with("SSH_AUTH_SOCK=") {
        return Err(format!("keychain ssh-agent printed {line:?}, not its startup line").into());
    }
    wait_for(socket, &mut agent.child)?;
    Ok(agent)
}

/// Starts OpenSSH's `ssh-agent -D` (foreground) and loads `keys` into it.
fn start_openssh(socket: &Path, keys: &[&Path]) -> Res<AgentChild> {
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let mut agent = AgentChild {
        child,
        socket: socket.to_path_buf(),
    };
    wait_for(socket, &mut agent.child)?;
    for key in keys {
        run(Command::new("ssh-add")
            .env("SSH_AUTH_SOCK", socket)
            .arg("-q")
            .arg(key))?;
    }
    Ok(agent)
}

/// The first line a tool prints on stdout or stderr (`ssh -V` prints on stderr).
fn version(program: &str, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Runs item 9.
pub fn run_item(opts: &Opts) -> Res<Value> {
    let rounds: usize = opts.get("rounds", 5)?;
    let calls: usize = opts.get("calls", 50)?;
    let waves: usize = opts.get("waves", 4)?;
    let cli = PathBuf::from(
        opts.str("cli")
            .ok_or("--cli PATH (the keychain binary) is needed")?,
    );
    // Both agents' sockets live here: private (0700), as our agent requires.
    let work = tempfile::Builder::new()
        .prefix("kc-ssh-")
        .tempdir_in(opts.str("tmp").unwrap_or("/tmp"))?;
    let dir = work.path();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let message = dir.join("message.txt");
    std::fs::write(&message, vec![b's'; 1024])?;

    note!("ssh: a keystore with an Ed25519 and a P-256 key (default KDF)");
    let backend = format!("software:{}", dir.join("keystore").display());
    let keychain = |args: &[&str]| {
        let mut c = Command::new(&cli);
        c.arg("--backend")
            .arg(&backend)
            .args(args)
            .env("KEYCHAIN_PASSWORD", PASSWORD)
            .env_remove("KEYCHAIN_PASSWORD_FILE")
            .env_remove("KEYCHAIN_KDF_ITERATIONS");
        c
    };
    // (label, our key's spec, ssh-keygen's -t and -b)
    let types = [
        ("Ed25519", "ed25519", ["-t", "ed25519"]),
        ("P-256", "p256", ["-t", "ecdsa"]),
    ];
    let mut ours_pub = Vec::new();
    let mut theirs_pub = Vec::new();
    let mut theirs_key = Vec::new();
    for (label, spec, keygen) in &types {
        let name = format!("bench-{spec}");
        run(&mut keychain(&["key", "create", &name, "--spec", spec]))?;
        let ours = dir.join(format!("{spec}.ours.pub"));
        run(&mut keychain(&[
            "ssh",
            "pubkey",
            &name,
            "--out",
            ours.to_str().ok_or("non-UTF-8 path")?,
        ]))?;
        ours_pub.push(ours);
        let key = dir.join(format!("{spec}.openssh"));
        let mut c = Command::new("ssh-keygen");
        c.args(["-q", "-N", ""]).args(keygen);
        if *label == "P-256" {
            c.args(["-b", "256"]);
        }
        run(c.arg("-f").arg(&key))?;
        // ssh-keygen writes KEY.pub next to KEY.
        theirs_pub.push(dir.join(format!("{spec}.openssh.pub")));
        theirs_key.push(key);
    }

    note!("ssh: starting keychain ssh-agent and OpenSSH's ssh-agent");
    let ours_sock = dir.join("ours.sock");
    let theirs_sock = dir.join("openssh.sock");
    let _ours = start_ours(&cli, &backend, &ours_sock)?;
    let keys: Vec<&Path> = theirs_key.iter().map(PathBuf::as_path).collect();
    let _theirs = start_openssh(&theirs_sock, &keys)?;
    for (i, (label, _, _)) in types.iter().enumerate() {
        check(
            dir,
            &ours_sock,
            &ours_pub[i],
            &message,
            &format!("{label}-ours"),
        )?;
        check(
            dir,
            &theirs_sock,
            &theirs_pub[i],
            &message,
            &format!("{label}-openssh"),
        )?;
    }
    // One unmeasured warm-up process per side (page cache, the agents' first connection).
    for (i, _) in types.iter().enumerate() {
        consecutive(2, &ours_sock, &ours_pub[i], &message)?;
        consecutive(2, &theirs_sock, &theirs_pub[i], &message)?;
    }

    let mut results = serde_json::Map::new();
    for (i, (label, _, _)) in types.iter().enumerate() {
        let mut sequential = Vec::new();
        let mut parallel = Vec::new();
        for round in 0..rounds {
            note!(
                "ssh: {label}, round {}/{rounds}: {calls} consecutive signs and {waves} × \
                 {CONCURRENT} at once, through each agent",
                round + 1
            );
            let r = rotated(
                round,
                vec![
                    side(|| consecutive(calls, &ours_sock, &ours_pub[i], &message)),
                    side(|| consecutive(calls, &theirs_sock, &theirs_pub[i], &message)),
                ],
            )?;
            sequential.push(json!({"ours": r[0], "openssh": r[1]}));
            let r = rotated(
                round,
                vec![
                    side(|| concurrent(waves, &ours_sock, &ours_pub[i], &message)),
                    side(|| concurrent(waves, &theirs_sock, &theirs_pub[i], &message)),
                ],
            )?;
            parallel.push(json!({"ours": r[0], "openssh": r[1]}));
        }
        let per_call = |v: &[Value], side: &str| {
            median(
                &v.iter()
                    .filter_map(|r| r[side].as_f64())
                    .map(|t| t / calls as f64)
                    .collect::<Vec<_>>(),
            )
        };
        results.insert(
            (*label).to_string(),
            json!({
                "sequential": sequential,
                "concurrent": parallel,
                "per_call": {
                    "ours": per_call(&sequential, "ours"),
                    "openssh": per_call(&sequential, "openssh"),
                },
            }),
        );
    }
    Ok(json!({
        "item": "ssh",
        "rounds": rounds,
        "calls": calls,
        "waves": waves,
        "concurrent_clients": CONCURRENT,
        "message_bytes": 1024,
        "openssh": version("ssh", "-V"),
        "keys": results,
    }))
}
