//! Running the built `keychain` binary against a throwaway keystore, and independent helpers
//! (OpenSSL) for what the tests check.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

pub use keychain_testkit::PASSWORD;

/// A temporary directory with a keystore at `ks/`, and the binary pointed at it.
pub struct Cli {
    dir: tempfile::TempDir,
    password: String,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// Stdout as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// A path as the `&str` argument the binary gets.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

impl Cli {
    pub fn new() -> Self {
        Cli {
            dir: tempfile::tempdir().expect("tempdir"),
            password: PASSWORD.to_string(),
        }
    }

    /// The keystore directory.
    pub fn keystore(&self) -> PathBuf {
        self.dir.path().join("ks")
    }

    /// A path in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the test's directory.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("writing a test file");
        p
    }

    /// The binary with this test's environment (and none of the caller's keychain settings).
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keychain"));
        c.env(
            "KEYCHAIN_BACKEND",
            format!("software:{}", self.keystore().display()),
        )
        .env("KEYCHAIN_PASSWORD", &self.password)
        .env("KEYCHAIN_KDF_ITERATIONS", "2048")
        .env_remove("KEYCHAIN_HOME")
        // The caller's password file and log filters are not this test's.
        .env_remove("KEYCHAIN_PASSWORD_FILE")
        .env_remove("KEYCHAIN_LOG")
        .env_remove("RUST_LOG")
        // A panic would print a backtrace with this set: the tests check that none happens.
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
        c
    }

    /// Runs the binary with `args` and this test's password.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_with(self.command(), args)
    }

    /// Runs a prepared command with `args`.
    pub fn run_with<I, S>(&self, mut cmd: Command, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = cmd.args(args).output().expect("running keychain");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts success.
    pub fn ok<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let run = self.run(&args);
        assert_eq!(
            run.code,
            0,
            "keychain {args:?} failed: {}\n{}",
            run.stderr,
            run.text()
        );
        run
    }

    /// Runs with `--json`, asserts success and parses the object printed.
    pub fn json<I, S>(&self, args: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all = vec![std::ffi::OsString::from("--json")];
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        let run = self.ok(&all);
        let v: Value = serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("keychain {all:?} printed no JSON ({e}): {}", run.text()));
        assert!(v.is_object(), "JSON output is an object: {v}");
        v
    }

    /// Creates a key and returns its id.
    pub fn create(&self, name: &str, spec: &str, extra: &[&str]) -> String {
        let mut args = vec!["key", "create", name, "--spec", spec];
        args.extend_from_slice(extra);
        let v = self.json(&args);
        v["key_id"].as_str().expect("key_id").to_string()
    }

    /// The PEM public key as `keychain pubkey` prints it.
    pub fn pubkey_pem(&self, name: &str) -> String {
        self.ok(["pubkey", name]).text()
    }

    /// Runs, expecting failure with `code`: exactly one stderr line, `keychain: error: …`,
    /// nothing on stdout, no panic. Returns the line.
    pub fn fails<I, S>(&self, args: I, code: i32) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let run = self.run(&args);
        assert_one_error_line(&run, code, &format!("{args:?}"));
        run.stderr.trim_end().to_string()
    }
}

/// Asserts a run failed with `code`, one `keychain: error:` line and nothing else.
pub fn assert_one_error_line(run: &Run, code: i32, what: &str) {
    assert_eq!(
        run.code, code,
        "keychain {what}: expected exit {code}, stderr: {}",
        run.stderr
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "keychain {what}: one stderr line: {lines:?}"
    );
    assert!(
        lines[0].starts_with("keychain: error: "),
        "keychain {what}: {lines:?}"
    );
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        assert!(!run.stderr.contains(bad), "keychain {what}: {}", run.stderr);
    }
    assert!(
        run.stdout.is_empty(),
        "keychain {what}: nothing on stdout: {}",
        run.text()
    );
}

/// Runs a command that must succeed and returns its stdout.
pub fn run_tool(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `openssl dgst -<hash> -binary FILE`: a digest computed by OpenSSL, not by us.
pub fn openssl_digest(hash: &str, file: &Path) -> Vec<u8> {
    run_tool(
        Command::new("openssl")
            .args(["dgst", &format!("-{hash}"), "-binary"])
            .arg(file),
    )
}
