//! A real OpenSSH server (Debian `openssh-server`), started on a free loopback port with its
//! own configuration, host key and authorized keys: logins through the agent, and with
//! certificates from `keychain ssh cert` under `TrustedUserCAKeys`.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tools::{AgentProcess, private_dir};
use crate::support::{Cli, run_tool};

/// The sshd binary of Debian's `openssh-server` (scripts/test.sh installs it).
const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd, killed when dropped.
pub struct Sshd {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The user the test runs as (sshd, run as this user, lets only this user in).
pub fn user() -> String {
    String::from_utf8(run_tool(Command::new("id").arg("-un")))
        .unwrap()
        .trim()
        .to_string()
}

impl Sshd {
    /// Starts sshd in `dir` with `authorized_keys` and, if given, a user CA file.
    pub fn start(dir: &Path, authorized_keys: &str, user_ca: Option<&Path>) -> Sshd {
        Sshd::start_with(dir, authorized_keys, user_ca, "")
    }

    /// As [`Sshd::start`], with more configuration lines.
    pub fn start_with(
        dir: &Path,
        authorized_keys: &str,
        user_ca: Option<&Path>,
        extra_config: &str,
    ) -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (scripts/test.sh does)"
        );
        let host_key = dir.join("host_ed25519");
        if !host_key.exists() {
            run_tool(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(&host_key),
            );
        }
        let keys = dir.join("authorized_keys");
        fs::write(&keys, authorized_keys).unwrap();
        // Run as root, sshd wants its privilege-separation directory.
        if user() == "root" {
            let _ = fs::create_dir_all("/run/sshd");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile none\n\
             AuthorizedKeysFile {}\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nAllowUsers {}\nLogLevel VERBOSE\n",
            host_key.display(),
            keys.display(),
            user()
        );
        if let Some(ca) = user_ca {
            config.push_str(&format!("TrustedUserCAKeys {}\n", ca.display()));
        }
        config.push_str(extra_config);
        let config_file = dir.join("sshd_config");
        fs::write(&config_file, config).unwrap();
        let log = dir.join("sshd.log");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let sshd = Sshd { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start: {}",
                fs::read_to_string(&sshd.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// `ssh` to this server running `echo logged-in`, with `options`; whether it got in.
    pub fn login(&self, ssh: &mut Command, options: &[&str]) -> bool {
        let out = ssh
            .args(["-F", "/dev/null", "-p", &self.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "PreferredAuthentications=publickey",
            ])
            .args(["-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
            .args(options)
            .arg(format!("{}@127.0.0.1", user()))
            .args(["echo", "logged-in"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let ok = out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "logged-in";
        if !ok {
            eprintln!(
                "ssh: {}\nsshd: {}",
                String::from_utf8_lossy(&out.stderr),
                fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        ok
    }
}

#[test]
fn sshd_accepts_logins_with_agent_keys_of_every_kind() {
    let cli = Cli::new();
    let mut authorized = String::new();
    for (name, spec) in [("ed", "ed25519"), ("p256", "p256"), ("rsa", "rsa-2048")] {
        cli.create(name, spec, &[]);
        authorized.push_str(&cli.ok(["ssh", "pubkey", name]).text());
    }
    cli.create("absent", "ed25519", &[]);
    let dir = private_dir(&cli, "sshd");
    let agent = AgentProcess::start(&cli, &dir.join("agent.sock"), &[]);
    // sshd also offers SHA-1 `ssh-rsa`, so the client's choice decides below.
    let sshd = Sshd::start_with(
        &dir,
        &authorized,
        None,
        "PubkeyAcceptedAlgorithms +ssh-rsa\n",
    );
    for name in ["ed", "p256", "rsa", "absent"] {
        let pubfile = cli.file(
            &format!("{name}.pub"),
            &cli.ok(["ssh", "pubkey", name]).stdout,
        );
        let identity = format!("IdentityFile={}", pubfile.display());
        let agent_opt = format!("IdentityAgent={}", agent.socket.display());
        let ok = sshd.login(
            &mut Command::new("ssh"),
            &["-o", &agent_opt, "-o", &identity],
        );
        // A key in the agent but not in authorized_keys does not get in.
        assert_eq!(ok, name != "absent", "{name}");
    }

    // A client that insists on SHA-1 `ssh-rsa` signatures: the agent refuses them.
    let rsa = cli.file("rsa-only.pub", &cli.ok(["ssh", "pubkey", "rsa"]).stdout);
    let refused = sshd.login(
        &mut Command::new("ssh"),
        &[
            "-o",
            &format!("IdentityAgent={}", agent.socket.display()),
            "-o",
            &format!("IdentityFile={}", rsa.display()),
            "-o",
            "PubkeyAcceptedAlgorithms=ssh-rsa",
        ],
    );
    assert!(!refused, "a SHA-1 ssh-rsa signature is never made");
}
