//! Bad input: one clear `keychain: error:` line and the exit code of its kind, one test per
//! case (the table is in the binary's docs and `--help`).

use crate::support::{Cli, arg, assert_one_error_line};

/// A keystore with a P-256 signing key `k` and a message file.
fn with_signing_key() -> (Cli, std::path::PathBuf) {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let msg = cli.file("msg", b"message");
    (cli, msg)
}

#[test]
fn unknown_key_is_3() {
    let (cli, msg) = with_signing_key();
    let line = cli.fails(["sign", "nope", "--in", arg(&msg)], 3);
    assert!(line.contains("alias/nope"), "{line}");
    cli.fails(["key", "show", "nope"], 3);
}

#[test]
fn signing_with_a_symmetric_key_is_5() {
    let cli = Cli::new();
    cli.create("sym", "SYMMETRIC_DEFAULT", &[]);
    let msg = cli.file("msg", b"message");
    let line = cli.fails(["sign", "sym", "--in", arg(&msg)], 5);
    assert!(line.contains("SYMMETRIC_DEFAULT"), "{line}");
    let digest = "00".repeat(32);
    cli.fails(["sign", "sym", "--digest", &digest], 5);
}

#[test]
fn wrong_digest_length_is_4() {
    let (cli, _) = with_signing_key();
    let short = "ab".repeat(20);
    let line = cli.fails(
        [
            "sign",
            "k",
            "--digest",
            &short,
            "--algorithm",
            "ECDSA_SHA_256",
        ],
        4,
    );
    assert!(line.contains("20 bytes"), "{line}");
    cli.fails(["sign", "k", "--digest", &short], 4);
    cli.fails(["sign", "k", "--digest", "not hex"], 4);
}

/// An unknown algorithm name is invalid_input (4), not a usage error: the library parses it and
/// lists the names it knows.
#[test]
fn unknown_algorithm_name_is_4() {
    let (cli, msg) = with_signing_key();
    let line = cli.fails(
        ["sign", "k", "--in", arg(&msg), "--algorithm", "RSA_MD5"],
        4,
    );
    assert!(
        line.contains("RSA_MD5") && line.contains("ECDSA_SHA_256"),
        "{line}"
    );
}

#[test]
fn algorithm_not_allowed_for_the_spec_is_5() {
    let (cli, msg) = with_signing_key();
    let line = cli.fails(
        [
            "sign",
            "k",
            "--in",
            arg(&msg),
            "--algorithm",
            "ECDSA_SHA_384",
        ],
        5,
    );
    assert!(line.contains("ECDSA_SHA_384"), "{line}");
    let sig = cli.file("sig", b"MEUCIQ==");
    cli.fails(
        [
            "verify",
            "k",
            "--in",
            arg(&msg),
            "--signature",
            arg(&sig),
            "--algorithm",
            "RSASSA_PSS_SHA_256",
        ],
        5,
    );
}

#[test]
fn malformed_key_reference_is_4() {
    let (cli, msg) = with_signing_key();
    for bad in ["alias/aws/x", "has space", "alias/", "arn:aws:kms:nope"] {
        cli.fails(["sign", bad, "--in", arg(&msg)], 4);
    }
    cli.fails(["key", "create", "has space", "--spec", "p256"], 4);
    cli.fails(["key", "create", "aws/reserved", "--spec", "p256"], 4);
}

#[test]
fn wrong_password_is_7() {
    let (cli, msg) = with_signing_key();
    let mut cmd = cli.command();
    cmd.env("KEYCHAIN_PASSWORD", "not the password");
    let run = cli.run_with(cmd, ["sign", "k", "--in", arg(&msg)]);
    assert_one_error_line(&run, 7, "sign with a wrong password");
    assert!(run.stderr.contains("wrong password"), "{}", run.stderr);
}

#[test]
fn missing_password_is_4() {
    let cli = Cli::new();
    let mut cmd = cli.command();
    cmd.env_remove("KEYCHAIN_PASSWORD");
    let run = cli.run_with(cmd, ["key", "list"]);
    assert_one_error_line(&run, 4, "key list without a password");
    assert!(run.stderr.contains("KEYCHAIN_PASSWORD"), "{}", run.stderr);
}

#[test]
fn disabled_key_is_6() {
    let (cli, msg) = with_signing_key();
    let sig = cli.path("sig");
    cli.ok(["sign", "k", "--in", arg(&msg), "--out", arg(&sig)]);
    let token = String::from_utf8(cli.ok(["jwt", "sign", "k"]).stdout).unwrap();
    cli.ok(["key", "disable", "k"]);
    // A token is verified through the key as a signature is: refused.
    cli.fails(["jwt", "verify", "k", token.trim()], 6);
    let line = cli.fails(["sign", "k", "--in", arg(&msg)], 6);
    assert!(
        line.contains("DISABLED") || line.contains("Disabled"),
        "{line}"
    );
    // Verifying through the key is refused too, as AWS KMS refuses it.
    cli.fails(
        ["verify", "k", "--in", arg(&msg), "--signature", arg(&sig)],
        6,
    );
}

#[test]
fn pending_deletion_key_is_6() {
    let (cli, msg) = with_signing_key();
    let sig = cli.path("sig");
    cli.ok(["sign", "k", "--in", arg(&msg), "--out", arg(&sig)]);
    let token = String::from_utf8(cli.ok(["jwt", "sign", "k"]).stdout).unwrap();
    cli.ok(["key", "delete", "k", "--pending-days", "7"]);
    cli.fails(["jwt", "verify", "k", token.trim()], 6);
    cli.fails(["sign", "k", "--in", arg(&msg)], 6);
    // Verifying through the key is refused too, as AWS KMS refuses it; the public key saved
    // before still verifies the signature (`openssl dgst -verify`, `verify-bundle`).
    cli.fails(
        ["verify", "k", "--in", arg(&msg), "--signature", arg(&sig)],
        6,
    );
    // Scheduling twice is a state error too.
    cli.fails(["key", "delete", "k"], 6);
}

#[test]
fn creating_a_name_twice_is_9() {
    let (cli, _) = with_signing_key();
    let line = cli.fails(["key", "create", "k", "--spec", "ed25519"], 9);
    assert!(line.contains("alias/k"), "{line}");
}

#[test]
fn pending_days_out_of_range_is_4() {
    let (cli, _) = with_signing_key();
    let line = cli.fails(["key", "delete", "k", "--pending-days", "3"], 4);
    assert!(line.contains("7 to 30"), "{line}");
    cli.fails(["key", "delete", "k", "--pending-days", "31"], 4);
    // The key was left alone.
    let v = cli.json(["key", "show", "k"]);
    assert_eq!(v["state"], "Enabled");
}

#[test]
fn bad_values_for_create_are_4() {
    let cli = Cli::new();
    cli.fails(["key", "create", "k", "--spec", "rsa-1024"], 4);
    cli.fails(
        [
            "key",
            "create",
            "k",
            "--spec",
            "p256",
            "--usage",
            "ENCRYPT_DECRYPT",
        ],
        4,
    );
    cli.fails(
        ["key", "create", "k", "--spec", "p256", "--tag", "novalue"],
        4,
    );
    cli.fails(
        ["key", "create", "k", "--spec", "p256", "--tag", "aws:x=y"],
        4,
    );
}

#[test]
fn malformed_command_line_is_2() {
    let cli = Cli::new();
    let line = cli.fails(["sign", "k", "--bogus"], 2);
    assert!(line.contains("--bogus"), "{line}");
    cli.fails(["key", "create", "k"], 2);
    cli.fails(["sign", "k"], 2);
    cli.fails(["pubkey", "k", "--format", "xml"], 2);
    cli.fails(["key", "delete", "k", "--pending-days", "seven"], 2);
}

#[test]
fn missing_input_file_is_15() {
    let (cli, _) = with_signing_key();
    let missing = cli.path("no-such-file");
    let line = cli.fails(["sign", "k", "--in", arg(&missing)], 15);
    assert!(line.contains("no-such-file"), "{line}");
}

#[test]
fn unknown_backend_is_4() {
    let cli = Cli::new();
    cli.fails(["--backend", "gopher://x", "key", "list"], 4);
}

#[test]
fn json_mode_also_prints_the_error_object() {
    let (cli, msg) = with_signing_key();
    let run = cli.run(["--json", "sign", "nope", "--in", arg(&msg)]);
    assert_eq!(run.code, 3);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "not_found");
    assert_eq!(v["error"]["exit_code"], 3);
}

#[test]
fn help_documents_the_exit_codes() {
    let cli = Cli::new();
    let help = cli.ok(["--help"]).text();
    for line in [
        "3  not_found",
        "4  invalid_input",
        "5  invalid_key_usage",
        "6  invalid_key_state",
        "7  wrong_password",
        "9  already_exists",
        "11  crypto",
        "15  io",
    ] {
        assert!(help.contains(line), "--help lacks {line:?}:\n{help}");
    }
}

#[test]
fn tampered_key_file_is_12() {
    let (cli, msg) = with_signing_key();
    let v = cli.json(["key", "show", "k"]);
    let id = v["key_id"].as_str().unwrap().to_string();
    let pem = cli.keystore().join("keys").join(&id).join("v1.pem");
    let mut bytes = std::fs::read(&pem).unwrap();
    // Flip a bit inside the base64 body (not a line break): the ciphertext changes.
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&pem, &bytes).unwrap();
    let run = cli.run(["sign", "k", "--in", arg(&msg)]);
    assert_one_error_line(&run, 12, "sign with a tampered key file");
    assert!(
        run.stderr.contains(&id),
        "the error names the file: {}",
        run.stderr
    );

    // Truncated metadata: also 12, naming meta.json.
    let meta = cli.keystore().join("keys").join(&id).join("meta.json");
    let text = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, &text[..text.len() / 2]).unwrap();
    let run = cli.run(["key", "show", "k"]);
    assert_one_error_line(&run, 12, "show with truncated metadata");
    assert!(run.stderr.contains("meta.json"), "{}", run.stderr);
}

/// A name that would read as another kind of reference — a key id (even another key's), an
/// `mrk-` id, `alias/…` — is refused (4) for keys and aliases, and the id still signs with the
/// key it names.
#[test]
fn names_that_read_as_references_are_4() {
    let (cli, msg) = with_signing_key();
    let id = cli.json(["key", "show", "k"])["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    for bad in [
        id.as_str(),
        "11111111-2222-3333-4444-555555555555",
        "mrk-0123456789abcdef0123456789abcdef",
        "alias/x",
    ] {
        let line = cli.fails(["key", "create", bad, "--spec", "p256"], 4);
        assert!(line.contains("reference"), "{bad}: {line}");
    }
    for bad in [
        id.as_str(),
        "alias/alias/x",
        "mrk-0123456789abcdef0123456789abcdef",
    ] {
        let line = cli.fails(["key", "alias", "create", bad, "k"], 4);
        assert!(line.contains("reference"), "{bad}: {line}");
    }
    let listed = cli.json(["key", "list"]);
    assert_eq!(listed["keys"].as_array().map(Vec::len), Some(1), "{listed}");
    // The id still names `k`: its signature verifies with `k`'s public key.
    let sig = cli.path("sig");
    cli.ok(["sign", &id, "--in", arg(&msg), "--out", arg(&sig)]);
    cli.ok(["verify", "k", "--in", arg(&msg), "--signature", arg(&sig)]);
}
