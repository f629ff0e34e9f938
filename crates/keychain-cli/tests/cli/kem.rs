//! `keychain kem encapsulate` / `keychain kem decapsulate`, judged by Python `cryptography`:
//! it encapsulates to the PEM `keychain pubkey` prints and `kem decapsulate` recovers its
//! secret; it opens the keystore's key file and decapsulates what `kem encapsulate` wrote.

use std::fs;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::support::{Cli, PASSWORD, arg};

#[test]
fn python_cryptography_and_the_cli_agree_on_shared_secrets() {
    let cli = Cli::new();
    let id = cli.create("kem", "ML_KEM_768", &[]);
    let show = cli.json(["key", "show", "kem"]);
    assert_eq!(show["usage"], "ENCAPSULATE_DECAPSULATE", "{show}");
    assert_eq!(show["spec"], "ML_KEM_768", "{show}");
    let pem = cli.pubkey_pem("kem");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");

    // Ours: the ciphertext to send and the secret (0600).
    let ciphertext = cli.path("ct.bin");
    let secret = cli.path("secret.bin");
    cli.ok([
        "kem",
        "encapsulate",
        "kem",
        "--ciphertext-out",
        arg(&ciphertext),
        "--secret-out",
        arg(&secret),
    ]);
    assert_eq!(fs::read(&ciphertext).unwrap().len(), 1088);
    assert_eq!(fs::read(&secret).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the secret is the owner's only");
    }

    let key_file = cli.keystore().join("keys").join(&id).join("v1.pem");
    let answers = keychain_testkit::python_kem_batch(&[
        json!({"op": "encapsulate", "pem": pem}),
        json!({
            "op": "decapsulate",
            "key_file": fs::read_to_string(&key_file).unwrap(),
            "password": PASSWORD,
            "ciphertext": STANDARD.encode(fs::read(&ciphertext).unwrap()),
        }),
    ]);
    assert_eq!(
        keychain_testkit::b64_field(&answers[1], "secret"),
        fs::read(&secret).unwrap(),
        "cryptography decapsulates our ciphertext to our secret"
    );

    // Theirs: decapsulated by the CLI, to a file and to stdout.
    let theirs = cli.file(
        "theirs.ct",
        &keychain_testkit::b64_field(&answers[0], "ciphertext"),
    );
    let recovered = cli.path("recovered.bin");
    let v = cli.json([
        "kem",
        "decapsulate",
        "kem",
        "--in",
        arg(&theirs),
        "--out",
        arg(&recovered),
    ]);
    assert_eq!(v["secret_bytes"], 32, "{v}");
    let expected = keychain_testkit::b64_field(&answers[0], "secret");
    assert_eq!(fs::read(&recovered).unwrap(), expected);
    let printed = cli.ok([
        "kem",
        "decapsulate",
        "kem",
        "--in",
        arg(&theirs),
        "--out",
        "-",
    ]);
    assert_eq!(printed.stdout, expected);

    // --remote asks the backend to encapsulate; its ciphertext decapsulates to its secret.
    let remote_ct = cli.path("remote.ct");
    let remote_secret = cli.path("remote.secret");
    let v = cli.json([
        "kem",
        "encapsulate",
        "kem",
        "--remote",
        "--ciphertext-out",
        arg(&remote_ct),
        "--secret-out",
        arg(&remote_secret),
    ]);
    assert_eq!(v["ciphertext_bytes"], 1088, "{v}");
    assert_eq!(v["key_spec"], "ML_KEM_768", "{v}");
    let again = cli.ok([
        "kem",
        "decapsulate",
        "kem",
        "--in",
        arg(&remote_ct),
        "--out",
        "-",
    ]);
    assert_eq!(again.stdout, fs::read(&remote_secret).unwrap());

    // The JWK is the draft "AKP" form.
    let jwk = cli.ok(["pubkey", "kem", "--format", "jwk"]).text();
    let jwk: serde_json::Value = serde_json::from_str(&jwk).unwrap();
    assert_eq!(jwk["kty"], "AKP");
    assert_eq!(jwk["alg"], "ML-KEM-768");
}

/// Each bad input: one error line and its exit code; no output file is left behind.
#[test]
fn bad_kem_inputs_fail_with_their_exit_codes() {
    let cli = Cli::new();
    cli.create("kem", "ML_KEM_1024", &[]);
    cli.create("ec", "p256", &[]);
    let secret = cli.path("s");
    let ciphertext = cli.path("c");
    // Not an ML-KEM key: invalid usage (5), before anything is written.
    cli.fails(
        [
            "kem",
            "encapsulate",
            "ec",
            "--ciphertext-out",
            arg(&ciphertext),
            "--secret-out",
            arg(&secret),
        ],
        5,
    );
    assert!(!secret.exists() && !ciphertext.exists());
    // A ciphertext of the wrong length for ML-KEM-1024: invalid input (4).
    let short = cli.file("short", &[7u8; 1088]);
    let line = cli.fails(
        [
            "kem",
            "decapsulate",
            "kem",
            "--in",
            arg(&short),
            "--out",
            arg(&secret),
        ],
        4,
    );
    assert!(line.contains("1568"), "{line}");
    assert!(!secret.exists());
    let big = cli.file("big", &[7u8; 5000]);
    cli.fails(
        [
            "kem",
            "decapsulate",
            "kem",
            "--in",
            arg(&big),
            "--out",
            arg(&secret),
        ],
        4,
    );
    // One file for both outputs, or an output that is the input: invalid input (4).
    cli.fails(
        [
            "kem",
            "encapsulate",
            "kem",
            "--ciphertext-out",
            arg(&secret),
            "--secret-out",
            arg(&secret),
        ],
        4,
    );
    cli.fails(
        [
            "kem",
            "decapsulate",
            "kem",
            "--in",
            arg(&short),
            "--out",
            arg(&short),
        ],
        4,
    );
    // A key that does not exist (3); a disabled key (6).
    cli.fails(
        [
            "kem",
            "decapsulate",
            "nope",
            "--in",
            arg(&short),
            "--out",
            arg(&secret),
        ],
        3,
    );
    cli.ok(["key", "disable", "kem"]);
    cli.fails(
        [
            "kem",
            "encapsulate",
            "kem",
            "--ciphertext-out",
            arg(&ciphertext),
            "--secret-out",
            arg(&secret),
        ],
        6,
    );
    // An ML-KEM key does not sign, and cannot be made to (4: the usage is not allowed).
    cli.fails(
        [
            "key",
            "create",
            "k2",
            "--spec",
            "ML_KEM_512",
            "--usage",
            "SIGN_VERIFY",
        ],
        4,
    );
}
