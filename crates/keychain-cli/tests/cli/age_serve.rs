//! age with keys that live behind `keychain serve`, reached over the AWS KMS protocol: the
//! recipients and identities `keychain age` prints name an `awskms://127.0.0.1:PORT/?region=…`
//! backend, and Debian's age with the plugin opens what it sealed. ML-KEM keys of every
//! parameter set are here because LocalStack has no ML-KEM (the plugin's LocalStack test
//! covers symmetric and RSA keys; they are served here too). A disabled key, a key pending
//! deletion and a stopped server each fail with one plugin line and nothing written.

#![cfg(feature = "aws")]

use std::path::Path;
use std::process::{Command, Output};

use age_plugin_keychain::location::canonical_backend;
use age_plugin_keychain::{Identity, Recipient, Wrapping};
use keychain::BackendUri;

use crate::age::plugin_dir;
use crate::serve::{Serving, client};
use crate::support::{Cli, Run, arg};

/// Empty, one byte, and around age's 64 KiB payload chunk.
const SIZES: [usize; 5] = [0, 1, 65535, 65536, 65537];

/// The ML-KEM stanza's kind, as docs/AGE.md names it.
const MLKEM_STANZA: &str = "-> keychain mlkem-hkdf-sha256-chacha20poly1305 ";

/// Deterministic, not all-equal bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31) ^ (i >> 8)) as u8).collect()
}

/// The binary as the server's client; the run must succeed.
fn served(cli: &Cli, serving: &Serving, args: &[&str]) -> Run {
    let run = client(cli, serving, args);
    assert_eq!(run.code, 0, "keychain {args:?} (served): {}", run.stderr);
    run
}

/// `age` with the plugin on `PATH`, none of the caller's keychain or AWS settings, and the
/// server's test credentials only when `credentials` (wrapping to an ML-KEM or RSA key needs
/// none: the public key is in the recipient).
fn age(cli: &Cli, credentials: bool) -> Command {
    let path = format!(
        "{}:{}",
        plugin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("age");
    c.env("PATH", path).env("AWS_EC2_METADATA_DISABLED", "true");
    c.env("AWS_CONFIG_FILE", cli.path("no-aws-config")).env(
        "AWS_SHARED_CREDENTIALS_FILE",
        cli.path("no-aws-credentials"),
    );
    for var in [
        "KEYCHAIN_BACKEND",
        "KEYCHAIN_HOME",
        "KEYCHAIN_PASSWORD",
        "KEYCHAIN_PASSWORD_FILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
    ] {
        c.env_remove(var);
    }
    if credentials {
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
    }
    c
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is age installed?): {e}"))
}

/// age (with the test credentials when `credentials`) refused to decrypt `sealed` into `out`:
/// it failed, printed exactly one line from the plugin and that line says `expected`, nothing
/// panicked, and `out` was not written.
fn assert_refused_once(
    cli: &Cli,
    credentials: bool,
    (identity, sealed, out): (&Path, &Path, &Path),
    expected: &str,
) {
    let result = output(
        age(cli, credentials)
            .args(["-d", "-i", arg(identity), "-o", arg(out)])
            .arg(sealed),
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!result.status.success(), "age -d succeeded: {stderr}");
    // Besides age's own "report unexpected or unhelpful errors" line, one line: the plugin's.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("age: report "))
        .collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    assert!(
        lines[0].starts_with("age: error: keychain plugin: "),
        "{stderr}"
    );
    assert!(
        lines[0].to_lowercase().contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(!stderr.to_lowercase().contains("panic"), "{stderr}");
    assert!(
        !out.exists(),
        "{} was written after a failure",
        out.display()
    );
}

#[test]
fn keys_behind_keychain_serve_round_trip_through_age() {
    let cli = Cli::new();
    let serving = Serving::start(&cli);
    let backend = canonical_backend(&BackendUri::parse(&serving.uri()).unwrap()).unwrap();
    let keys: [(&str, &[&str]); 5] = [
        ("kem512", &["--spec", "ML_KEM_512"]),
        ("kem768", &["--spec", "ML_KEM_768"]),
        ("kem1024", &["--spec", "ML_KEM_1024"]),
        ("sym", &["--spec", "SYMMETRIC_DEFAULT"]),
        ("rsa", &["--spec", "RSA_2048", "--usage", "ENCRYPT_DECRYPT"]),
    ];
    for (name, spec) in keys {
        let mut create = vec!["key", "create", name];
        create.extend_from_slice(spec);
        served(&cli, &serving, &create);
        let line = served(&cli, &serving, &["age", "recipient", name]).text();
        let recipient = line.trim();
        let identity = cli.path(&format!("{name}.identity"));
        served(
            &cli,
            &serving,
            &["age", "identity", name, "--out", arg(&identity)],
        );

        // The strings name the server and the key's ARN, never the keystore behind it.
        let decoded = Recipient::decode(recipient).unwrap();
        assert_eq!(decoded.backend, backend, "{name}");
        assert!(
            decoded.key.starts_with("arn:aws:kms:us-east-1:"),
            "{name}: {}",
            decoded.key
        );
        let identity_line = std::fs::read_to_string(&identity).unwrap();
        assert_eq!(
            Identity::decode(identity_line.trim()).unwrap(),
            decoded.identity()
        );
        let mlkem = name.starts_with("kem");
        match (&decoded.wrapping, name) {
            (Wrapping::MlKem { .. }, _) if mlkem => {}
            (Wrapping::Symmetric, "sym") | (Wrapping::RsaOaepSha256 { .. }, "rsa") => {}
            (other, _) => panic!("{name}: {other:?}"),
        }

        for size in SIZES {
            let input = cli.file(&format!("{name}-{size}"), &pattern(size));
            let sealed = cli.path(&format!("{name}-{size}.age"));
            // Only the symmetric key wraps in the backend (KMS Encrypt); ML-KEM and RSA wrap
            // under the public key in the recipient, with no credentials at all.
            let sealing = output(
                age(&cli, name == "sym")
                    .args(["-r", recipient, "-o", arg(&sealed)])
                    .arg(&input),
            );
            assert!(
                sealing.status.success(),
                "age -e {name} {size}: {}",
                String::from_utf8_lossy(&sealing.stderr)
            );
            if mlkem {
                let header = String::from_utf8_lossy(&std::fs::read(&sealed).unwrap()).to_string();
                assert!(header.contains(MLKEM_STANZA), "{name}: {header:.200}");
            }
            // To standard output: age writes no `-o` file for an empty plaintext.
            let opened = output(
                age(&cli, true)
                    .args(["-d", "-i", arg(&identity)])
                    .arg(&sealed),
            );
            assert!(
                opened.status.success(),
                "age -d {name} {size}: {}",
                String::from_utf8_lossy(&opened.stderr)
            );
            assert!(
                opened.stdout == pattern(size),
                "{name}: {size} bytes did not round trip"
            );
        }
    }

    // Unwrapping is the server's: without credentials it cannot happen.
    assert_refused_once(
        &cli,
        false,
        (
            &cli.path("kem768.identity"),
            &cli.path("kem768-1.age"),
            &cli.path("kem768.nocreds"),
        ),
        "credentials",
    );

    // A disabled key and a key pending deletion: the server refuses the unwrap, and age
    // prints the plugin's one line.
    for name in ["kem768", "sym"] {
        served(&cli, &serving, &["key", "disable", name]);
        assert_refused_once(
            &cli,
            true,
            (
                &cli.path(&format!("{name}.identity")),
                &cli.path(&format!("{name}-65537.age")),
                &cli.path(&format!("{name}.disabled")),
            ),
            "disabled",
        );
    }
    for name in ["kem1024", "rsa"] {
        served(
            &cli,
            &serving,
            &["key", "delete", name, "--pending-days", "7"],
        );
        assert_refused_once(
            &cli,
            true,
            (
                &cli.path(&format!("{name}.identity")),
                &cli.path(&format!("{name}-65537.age")),
                &cli.path(&format!("{name}.pending")),
            ),
            "pending",
        );
    }

    // The one key still enabled opens its file until the server stops; then it cannot.
    let opened = output(
        age(&cli, true)
            .args(["-d", "-i", arg(&cli.path("kem512.identity"))])
            .arg(cli.path("kem512-1.age")),
    );
    assert!(opened.status.success(), "{opened:?}");
    assert_eq!(opened.stdout, pattern(1));
    let (code, stderr) = serving.stop("TERM");
    assert_eq!(code, Some(0), "{stderr}");
    assert_refused_once(
        &cli,
        true,
        (
            &cli.path("kem512.identity"),
            &cli.path("kem512-1.age"),
            &cli.path("kem512.stopped"),
        ),
        "could not reach",
    );
}
