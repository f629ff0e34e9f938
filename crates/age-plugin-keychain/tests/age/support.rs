//! A test directory with a software keystore, and `age` runs with the plugin on `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use age_plugin_keychain::{identity_for, recipient_for};
use keychain::software::{OpenMode, SoftwareBackend, SoftwareConfig};
use keychain::{BackendUri, CreateKeyRequest, KeyParams, Keychain};
use keychain_testkit::{ITERATIONS, PASSWORD};

/// The directory of the plugin binary under test.
pub fn plugin_dir() -> PathBuf {
    let plugin = Path::new(env!("CARGO_BIN_EXE_age-plugin-keychain"));
    plugin
        .parent()
        .unwrap_or_else(|| panic!("{} has no directory", plugin.display()))
        .to_path_buf()
}

/// `PATH` with `first` in front.
pub fn path_with(first: &Path) -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    format!("{}:{rest}", first.display())
}

/// A temporary directory holding a software keystore.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub uri: String,
}

impl Setup {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let uri = format!("software:{}", dir.path().join("keystore").display());
        Setup { dir, uri }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The keystore, opened (and made on first use) in this process.
    pub async fn keychain(&self) -> Keychain {
        let config = SoftwareConfig::new(self.dir.path().join("keystore"))
            .password(PASSWORD)
            .kdf_iterations(ITERATIONS)
            .mode(OpenMode::OpenOrCreate);
        Keychain::new(
            SoftwareBackend::open(config)
                .await
                .unwrap_or_else(|e| panic!("opening the test keystore: {e}")),
        )
    }

    /// Makes key `name` and returns its recipient and the path of an identity file.
    pub async fn key(&self, name: &str, params: &KeyParams) -> (String, PathBuf) {
        let request = CreateKeyRequest::from_params(name, params)
            .unwrap_or_else(|e| panic!("parameters of {name}: {e}"));
        self.create(name, &request).await
    }

    /// Makes key `name` as `request` (which names it) asks, and returns its recipient and
    /// the path of an identity file.
    pub async fn create(&self, name: &str, request: &CreateKeyRequest) -> (String, PathBuf) {
        let kc = self.keychain().await;
        kc.create_key(request)
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        let strings = strings_for(
            &kc,
            &self.uri,
            name,
            &self.path(&format!("{name}.identity")),
        )
        .await;
        kc.close().await.unwrap_or_else(|e| panic!("closing: {e}"));
        strings
    }

    /// `age` with the plugin on `PATH`, the keystore password in `KEYCHAIN_PASSWORD` and
    /// none of the caller's keychain settings.
    pub fn age(&self) -> Command {
        let mut c = Command::new("age");
        c.current_dir(self.dir.path())
            .env("PATH", path_with(&plugin_dir()))
            .env("KEYCHAIN_PASSWORD", PASSWORD)
            .env_remove("KEYCHAIN_BACKEND")
            .env_remove("KEYCHAIN_HOME");
        c
    }
}

/// The recipient of key `name` and an identity file for it (written to `identity`).
pub async fn strings_for(
    kc: &Keychain,
    uri: &str,
    name: &str,
    identity: &Path,
) -> (String, PathBuf) {
    let backend = BackendUri::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
    let recipient = recipient_for(kc, &backend, name)
        .await
        .and_then(|r| r.encode())
        .unwrap_or_else(|e| panic!("recipient of {name}: {e}"));
    let line = identity_for(kc, &backend, name)
        .await
        .and_then(|i| i.encode())
        .unwrap_or_else(|e| panic!("identity of {name}: {e}"));
    std::fs::write(identity, format!("# {name}\n{line}\n")).unwrap_or_else(|e| panic!("{e}"));
    (recipient, identity.to_path_buf())
}

/// Runs `cmd`, panics if it cannot start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} (is age installed? scripts/test.sh installs it): {e}")
    })
}

/// Panics with age's stderr unless it succeeded.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// age failed, said each of `expected` (case-insensitive), wrote no `output`, and no
/// plugin panicked.
pub fn assert_refused(out: &Output, output: &Path, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "age succeeded; stderr: {stderr}");
    let lower = stderr.to_lowercase();
    for e in expected {
        assert!(
            lower.contains(&e.to_lowercase()),
            "expected {e:?} in: {stderr}"
        );
    }
    assert!(!lower.contains("panic"), "a panic: {stderr}");
    assert!(
        !output.exists(),
        "{} was written after a failure",
        output.display()
    );
}

/// Encrypts `input` to `recipients` into `output`.
pub fn encrypt(setup: &Setup, recipients: &[&str], input: &Path, output: &Path) -> Output {
    let mut cmd = setup.age();
    for r in recipients {
        cmd.arg("-r").arg(r);
    }
    run(cmd.arg("-o").arg(output).arg(input))
}

/// Decrypts `input` with the identity file `identity` into `output`.
pub fn decrypt(setup: &Setup, identity: &Path, input: &Path, output: &Path) -> Output {
    run(setup
        .age()
        .args(["-d", "-i"])
        .arg(identity)
        .arg("-o")
        .arg(output)
        .arg(input))
}

/// Deterministic, not all-equal bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// The stanzas (`(args, body)`) of an age file's header.
pub fn stanzas(file: &Path) -> Vec<(Vec<String>, Vec<u8>)> {
    use base64::Engine;
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{e}"));
    let end = bytes
        .windows(4)
        .position(|w| w == b"\n---")
        .unwrap_or_else(|| panic!("no header end in {}", file.display()));
    let header = String::from_utf8_lossy(&bytes[..end]).to_string();
    let mut out = Vec::new();
    let mut lines = header.lines().skip(1);
    while let Some(line) = lines.next() {
        let args: Vec<String> = line
            .strip_prefix("-> ")
            .unwrap_or_else(|| panic!("not a stanza line: {line}"))
            .split(' ')
            .map(str::to_string)
            .collect();
        let mut body = String::new();
        for l in lines.by_ref() {
            body.push_str(l);
            if l.len() < 64 {
                break;
            }
        }
        let body = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .unwrap_or_else(|e| panic!("stanza body: {e}"));
        out.push((args, body));
    }
    out
}

/// A directory to put first on `PATH`, with a script named like the plugin that runs it
/// under `/usr/bin/time`, which records each run's exit status and peak resident set size.
pub struct Measured {
    dir: PathBuf,
    log: PathBuf,
}

impl Measured {
    pub fn new(setup: &Setup) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = setup.path("measured");
        let log = setup.path("measured.log");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let script = dir.join("age-plugin-keychain");
        let real = plugin_dir().join("age-plugin-keychain");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nexec /usr/bin/time -a -f '%x %M' -o '{}' '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        Measured { dir, log }
    }

    /// `PATH` with the measuring script first.
    pub fn path(&self) -> String {
        path_with(&self.dir)
    }

    /// Each plugin run so far: exit status and peak RSS (KiB).
    pub fn runs(&self) -> Vec<(i32, u64)> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| panic!("no plugin run recorded: {e}"))
            .lines()
            // time(1) adds "Command exited with non-zero status N" before such a run's line.
            .filter(|l| !l.starts_with("Command "))
            .map(|l| {
                let mut parts = l.split_whitespace().map(|p| p.parse::<i64>().ok());
                match (parts.next().flatten(), parts.next().flatten()) {
                    (Some(status), Some(peak)) => (status as i32, peak as u64),
                    _ => panic!("not a run: {l:?}"),
                }
            })
            .collect()
    }
}
