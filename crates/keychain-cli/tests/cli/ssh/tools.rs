//! OpenSSH and Python as judges: fingerprints, allowed-signers files, SSHSIG verification.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Cli, run_tool};

/// `ssh-keygen -l -f FILE`: `BITS SHA256:… COMMENT (TYPE)`, trimmed.
pub fn fingerprint(file: &Path) -> String {
    String::from_utf8(run_tool(
        Command::new("ssh-keygen").arg("-l").arg("-f").arg(file),
    ))
    .unwrap()
    .trim()
    .to_string()
}

/// An allowed-signers file trusting `line` for the identity `id`.
pub fn allowed_signers(cli: &Cli, id: &str, line: &str) -> PathBuf {
    cli.file(
        &format!("{id}.allowed"),
        format!("{id} {}\n", line.trim()).as_bytes(),
    )
}

/// `ssh-keygen -Y verify`: whether OpenSSH accepts `sig` over `message` for the first
/// identity of `signers` in `namespace`.
pub fn verify_sshsig(signers: &Path, namespace: &str, sig: &Path, message: &Path) -> bool {
    let text = fs::read_to_string(signers).unwrap();
    let id = text.split(' ').next().unwrap();
    Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(signers)
        .args(["-I", id, "-n", namespace, "-s"])
        .arg(sig)
        .stdin(fs::File::open(message).unwrap())
        .output()
        .unwrap()
        .status
        .success()
}

/// The OpenSSH public-key line Python `cryptography` makes from a PEM public key.
pub fn python_openssh_line(pem: &Path) -> String {
    let python = std::env::var("KEYCHAIN_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let script = "import sys\n\
        from cryptography.hazmat.primitives import serialization as s\n\
        k = s.load_pem_public_key(open(sys.argv[1], 'rb').read())\n\
        print(k.public_bytes(s.Encoding.OpenSSH, s.PublicFormat.OpenSSH).decode())\n";
    String::from_utf8(run_tool(Command::new(python).args(["-c", script]).arg(pem))).unwrap()
}

/// A running `keychain ssh-agent`, killed when dropped.
pub struct AgentProcess {
    pub child: std::process::Child,
    pub socket: PathBuf,
    /// The first line it printed.
    pub startup: String,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl AgentProcess {
    /// Starts the agent on `socket` with `extra` arguments and waits for its startup line.
    pub fn start(cli: &Cli, socket: &Path, extra: &[&str]) -> AgentProcess {
        AgentProcess::spawn(cli.command(), socket, extra)
    }

    /// Starts the agent from a prepared `keychain` command (another backend).
    pub fn spawn(mut command: Command, socket: &Path, extra: &[&str]) -> AgentProcess {
        use std::io::BufRead;
        let mut child = command
            .args(["ssh-agent", "--socket"])
            .arg(socket)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut startup = String::new();
        stdout.read_line(&mut startup).unwrap();
        assert!(
            !startup.is_empty(),
            "the agent printed no startup line: {:?}",
            child
                .wait_with_output()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        );
        AgentProcess {
            child,
            socket: socket.to_path_buf(),
            startup,
            _stdout: stdout,
        }
    }

    /// A command with SSH_AUTH_SOCK set to this agent.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SSH_AUTH_SOCK", &self.socket)
            .env_remove("SSH_ASKPASS")
            .env_remove("DISPLAY")
            .stdin(std::process::Stdio::null());
        c
    }

    /// Sends SIGTERM and waits; returns the exit code.
    pub fn terminate(self) -> Option<i32> {
        self.terminate_with_log().0
    }

    /// Sends SIGTERM and waits; returns the exit code and what it logged on stderr.
    pub fn terminate_with_log(mut self) -> (Option<i32>, String) {
        use std::io::Read;
        run_tool(Command::new("kill").args(["-TERM", &self.child.id().to_string()]));
        let code = self.child.wait().unwrap().code();
        let mut log = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            stderr.read_to_string(&mut log).unwrap();
        }
        (code, log)
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private directory (0700) in the test's directory, for sockets.
pub fn private_dir(cli: &Cli, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = cli.path(name);
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    dir
}
