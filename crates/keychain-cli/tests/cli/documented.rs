//! The "bad input" rows of `docs/ERRORS.md`, run: each case below finds its row by the start of
//! the row's input cell and checks that the binary exits with the code the row documents, so
//! the document and the binary cannot disagree. (The exit-code table itself is checked against
//! the code in the binary's `exit` tests.)

use crate::support::{Cli, arg, assert_one_error_line};

const ERRORS_MD: &str = include_str!("../../../../docs/ERRORS.md");

/// The exit code documented by the bad-input row whose input cell starts with `input`.
fn documented_exit(input: &str) -> i32 {
    let section = ERRORS_MD
        .split("\n## ")
        .find(|s| s.starts_with("Bad input"))
        .expect("docs/ERRORS.md has a \"## Bad input\" section");
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|l| l.starts_with('|'))
        .map(|l| l.trim().trim_matches('|').split(" | ").collect())
        .filter(|cells: &Vec<&str>| cells.first().is_some_and(|c| c.trim().starts_with(input)))
        .collect();
    assert_eq!(
        rows.len(),
        1,
        "exactly one row of docs/ERRORS.md starts with {input:?}"
    );
    let exit = rows[0].get(2).map(|c| c.trim()).unwrap_or_default();
    exit.parse()
        .unwrap_or_else(|_| panic!("the row {input:?} documents exit {exit:?}, not one code"))
}

/// Runs `args` and checks the exit code against the row, with one error line.
fn check(cli: &Cli, row: &str, args: &[&str]) {
    let code = documented_exit(row);
    let run = cli.run(args);
    assert_one_error_line(&run, code, &format!("{row:?}: keychain {args:?}"));
}

/// A keystore with a P-256 signing key `k`, a message and a signature of it.
fn keystore() -> (Cli, String, String) {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let msg = arg(&cli.file("msg", b"message")).to_string();
    let sig = arg(&cli.path("msg.sig")).to_string();
    cli.ok(["sign", "k", "--in", &msg, "--out", &sig]);
    (cli, msg, sig)
}

#[test]
fn kem_rows_exit_as_documented() {
    let cli = Cli::new();
    cli.create("kem", "ML_KEM_768", &[]);
    cli.create("ec", "p256", &[]);
    let short = arg(&cli.file("short", &[1u8; 1568])).to_string();
    let out = arg(&cli.path("secret")).to_string();
    check(
        &cli,
        "an ML-KEM ciphertext of the wrong length",
        &["kem", "decapsulate", "kem", "--in", &short, "--out", &out],
    );
    check(
        &cli,
        "`kem encapsulate`/`decapsulate` with a key that is not ML-KEM",
        &["kem", "decapsulate", "ec", "--in", &short, "--out", &out],
    );
}

#[test]
fn agreement_rows_exit_as_documented() {
    let cli = Cli::new();
    cli.create("ecdh", "p256", &["--usage", "key-agreement"]);
    cli.create("ec", "p256", &[]);
    let peers = keychain_testkit::python_ecdh_batch(&[
        serde_json::json!({"op": "public_key", "kind": "P-384"}),
        serde_json::json!({"op": "public_key", "kind": "P-256"}),
    ]);
    let p384 = cli.file(
        "p384",
        &keychain_testkit::b64_field(&peers[0], "public_key"),
    );
    let p256 = cli.file(
        "p256",
        &keychain_testkit::b64_field(&peers[1], "public_key"),
    );
    let out = arg(&cli.path("secret")).to_string();
    check(
        &cli,
        "a peer public key for `derive-shared-secret`",
        &[
            "derive-shared-secret",
            "ecdh",
            "--peer-public-key",
            arg(&p384),
            "--out",
            &out,
        ],
    );
    check(
        &cli,
        "`derive-shared-secret` with a key that is not KEY_AGREEMENT",
        &[
            "derive-shared-secret",
            "ec",
            "--peer-public-key",
            arg(&p256),
            "--out",
            &out,
        ],
    );
}

#[test]
fn key_and_argument_rows_exit_as_documented() {
    let (cli, msg, _) = keystore();
    let d32 = "ab".repeat(32);
    let d48 = "ab".repeat(48);
    let d20 = "ab".repeat(20);
    check(
        &cli,
        "unknown key, alias or id",
        &["sign", "nope", "--in", &msg],
    );
    // A 48-byte digest is a SHA-384 digest, which a P-256 key cannot sign: the key's usage.
    check(
        &cli,
        "an algorithm the key's spec does not allow",
        &["sign", "k", "--digest", &d48],
    );
    check(
        &cli,
        "an algorithm the key's spec does not allow",
        &["sign", "k", "--in", &msg, "--algorithm", "ECDSA_SHA_384"],
    );
    check(
        &cli,
        "unknown algorithm or spec name",
        &["sign", "k", "--in", &msg, "--algorithm", "RSA_MD5"],
    );
    check(
        &cli,
        "digest of the wrong length",
        &["sign", "k", "--digest", &d20],
    );
    check(
        &cli,
        "digest of the wrong length",
        &["sign", "k", "--digest", "not hex"],
    );
    check(
        &cli,
        "digest of the wrong length",
        &[
            "sign",
            "k",
            "--digest",
            &d48,
            "--algorithm",
            "ECDSA_SHA_256",
        ],
    );
    check(
        &cli,
        "malformed key reference",
        &["sign", "has space", "--digest", &d32],
    );
    check(
        &cli,
        "malformed key reference",
        &["sign", "alias/aws/x", "--digest", &d32],
    );
    check(
        &cli,
        "unknown backend URI",
        &["--backend", "gopher://x", "key", "list"],
    );
    check(
        &cli,
        "creating a name that exists",
        &["key", "create", "k", "--spec", "p256"],
    );
    check(
        &cli,
        "a new key or alias name that reads as another reference",
        &[
            "key",
            "create",
            "mrk-0123456789abcdef0123456789abcdef",
            "--spec",
            "p256",
        ],
    );
    check(
        &cli,
        "deletion waiting period outside 7–30 days",
        &["key", "delete", "k", "--pending-days", "3"],
    );
    let missing = arg(&cli.path("no-such-file")).to_string();
    check(&cli, "missing input file", &["sign", "k", "--in", &missing]);
    check(
        &cli,
        "malformed command line",
        &["sign", "k", "--bogus-flag"],
    );
    check(
        &cli,
        "a file that is not a signature bundle",
        &["verify-bundle", &msg, "--in", &msg],
    );

    let mut cmd = cli.command();
    cmd.env("KEYCHAIN_PASSWORD", "not the password");
    let run = cli.run_with(cmd, ["sign", "k", "--in", &msg]);
    assert_one_error_line(
        &run,
        documented_exit("wrong keystore password"),
        "wrong password",
    );
    let mut cmd = cli.command();
    cmd.env_remove("KEYCHAIN_PASSWORD");
    let run = cli.run_with(cmd, ["sign", "k", "--in", &msg]);
    assert_one_error_line(&run, documented_exit("no keystore password"), "no password");
}

#[test]
fn key_state_rows_exit_as_documented() {
    let (cli, msg, sig) = keystore();
    cli.ok(["key", "disable", "k"]);
    check(&cli, "disabled key", &["sign", "k", "--in", &msg]);
    check(
        &cli,
        "disabled key",
        &["verify", "k", "--in", &msg, "--signature", &sig],
    );
    cli.ok(["key", "enable", "k"]);
    cli.ok(["key", "delete", "k", "--pending-days", "7"]);
    check(&cli, "key pending deletion", &["sign", "k", "--in", &msg]);
    check(
        &cli,
        "key pending deletion",
        &["verify", "k", "--in", &msg, "--signature", &sig],
    );
}

/// Every single-bit change of an envelope's header — the version byte, chunk size, nonce
/// prefix, key id, wrapped data key and context — exits as the envelope row says (an
/// integrity failure), never "not found" or "invalid input"; only a change of the five bytes
/// that mark a file as an envelope makes it "not a ciphertext".
#[test]
fn every_envelope_header_bit_flip_exits_as_documented() {
    let cli = Cli::new();
    cli.create("data", "SYMMETRIC_DEFAULT", &[]);
    let plain = cli.file("plain", &[7u8; 100]);
    let sealed = cli.path("sealed");
    cli.ok([
        "encrypt",
        "data",
        "--in",
        arg(&plain),
        "--out",
        arg(&sealed),
        "--context",
        "app=x",
    ]);
    let bytes = std::fs::read(&sealed).unwrap();
    let header_len = {
        let mut input = &bytes[..];
        keychain::envelope::EnvelopeHeader::read(&mut input)
            .unwrap()
            .as_bytes()
            .len()
    };
    let tampered = documented_exit("truncated, reordered, altered or extended envelope file");
    let not_ciphertext = documented_exit("a file that is not a ciphertext");
    let prefix = keychain::envelope::MAGIC_PREFIX.len();
    let bad = cli.path("bad");
    let out = cli.path("out");
    for i in 0..header_len {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[i] ^= 1 << bit;
            std::fs::write(&bad, &flipped).unwrap();
            let run = cli.run([
                "decrypt",
                "--in",
                arg(&bad),
                "--out",
                arg(&out),
                "--context",
                "app=x",
            ]);
            let code = if i < prefix { not_ciphertext } else { tampered };
            assert_one_error_line(&run, code, &format!("bit {bit} of header byte {i} flipped"));
            assert!(!out.exists(), "a plaintext was written for byte {i}");
        }
    }
}
