//! SoftHSM2 tokens for the PKCS#11 backend's tests: each in its own temporary directory,
//! reached through its own `SOFTHSM2_CONF`.
//!
//! SoftHSM reads `SOFTHSM2_CONF` once, when the module is initialised, and a process loads a
//! module once; our code may not change its own environment (`set_var` is unsafe). So a test
//! runs twice: the first run ([`run_isolated`] returns `true` there) makes a token and runs
//! the same test again in a child process of the test binary with `SOFTHSM2_CONF` and the
//! backend URI in its environment, and fails if the child fails; the child
//! ([`run_isolated`] returns `false`) does the work against that token ([`child_uri`]).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The SoftHSM2 module Debian's `softhsm2` installs.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The label of test tokens.
pub const LABEL: &str = "keychain-test";
/// The user PIN of test tokens.
pub const PIN: &str = "4321-user";
/// The security officer PIN of test tokens.
pub const SO_PIN: &str = "8765-so";
/// The variable that hands the child its backend URI (its presence marks the child).
pub const URI_ENV: &str = "KEYCHAIN_TEST_PKCS11_URI";

/// A SoftHSM2 token in a temporary directory (removed when dropped).
pub struct SoftHsm {
    dir: tempfile::TempDir,
}

impl SoftHsm {
    /// Writes a configuration and initialises one token ([`LABEL`], [`PIN`]) with
    /// `softhsm2-util --init-token`.
    pub fn new() -> SoftHsm {
        assert!(
            Path::new(MODULE).exists(),
            "SoftHSM2 is missing ({MODULE}); scripts/test.sh installs Debian's softhsm2"
        );
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap_or_else(|e| panic!("{e}"));
        let hsm = SoftHsm { dir };
        std::fs::write(
            hsm.conf(),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n\
                 slots.removable = false\n",
                tokens.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        hsm.init_token(LABEL);
        hsm
    }

    /// Initialises another token in the next free slot.
    pub fn init_token(&self, label: &str) {
        let out = self
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--pin", PIN])
            .args(["--so-pin", SO_PIN])
            .output()
            .unwrap_or_else(|e| panic!("softhsm2-util (Debian softhsm2) cannot run: {e}"));
        assert!(
            out.status.success(),
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The configuration file (`SOFTHSM2_CONF`).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// The token directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `program` with `SOFTHSM2_CONF` pointing at this token's configuration.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", self.conf());
        c
    }

    /// The backend URI of the test token (with the PIN in it).
    pub fn uri(&self) -> String {
        uri_for(LABEL)
    }
}

impl Default for SoftHsm {
    fn default() -> Self {
        Self::new()
    }
}

/// The backend URI of a test token labelled `label` (PIN [`PIN`]).
pub fn uri_for(label: &str) -> String {
    format!("pkcs11:token={label}?module-path={MODULE}&pin-value={PIN}")
}

/// In the first run of a test: makes a token, runs the test `name` (its full path in the test
/// binary, without the crate name) in a child with the token's environment, asserts that it
/// passed, and returns `true` (the caller returns). In the child: returns `false`.
pub fn run_isolated(name: &str) -> bool {
    if std::env::var_os(URI_ENV).is_some() {
        return false;
    }
    let hsm = SoftHsm::new();
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let out = hsm
        .command(&exe.to_string_lossy())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(URI_ENV, hsm.uri())
        .output()
        .unwrap_or_else(|e| panic!("running {name} again against SoftHSM: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} against SoftHSM failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in the child (a wrong test name?):\n{stdout}"
    );
    true
}

/// In the child: the backend URI of its token.
pub fn child_uri() -> String {
    std::env::var(URI_ENV).unwrap_or_else(|_| panic!("{URI_ENV} is not set: not a child run"))
}
