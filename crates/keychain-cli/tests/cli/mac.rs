//! `keychain mac` / `keychain verify-mac`.

use std::fs;

use crate::support::{Cli, arg};

#[test]
fn mac_round_trip_and_tamper() {
    let cli = Cli::new();
    cli.create("h", "HMAC_384", &[]);
    let msg = cli.file("msg", b"webhook body");
    let other = cli.file("other", b"webhook body!");

    // Binary in --out: 48 bytes for HMAC-SHA-384.
    let mac = cli.path("mac.bin");
    cli.ok(["mac", "h", "--in", arg(&msg), "--out", arg(&mac)]);
    assert_eq!(fs::read(&mac).unwrap().len(), 48);
    let ok = cli.ok(["verify-mac", "h", "--in", arg(&msg), "--mac", arg(&mac)]);
    assert_eq!(ok.text(), "valid\n");
    let bad = cli.run(["verify-mac", "h", "--in", arg(&other), "--mac", arg(&mac)]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert_eq!(bad.text(), "invalid\n");

    // Base64 on stdout, detected by verify-mac; the same MAC (HMAC is deterministic).
    let printed = cli.ok(["mac", "h", "--in", arg(&msg)]).stdout;
    let b64 = cli.file("mac.b64", &printed);
    cli.ok(["verify-mac", "h", "--in", arg(&msg), "--mac", arg(&b64)]);
    let v = cli.json(["mac", "h", "--in", arg(&msg)]);
    assert_eq!(v["algorithm"], "HMAC_SHA_384");
    assert_eq!(
        v["mac"].as_str().unwrap(),
        String::from_utf8(printed).unwrap().trim()
    );

    // Another algorithm than the key's: invalid usage (5).
    cli.fails(
        ["mac", "h", "--in", arg(&msg), "--algorithm", "HMAC_SHA_256"],
        5,
    );
}

#[test]
fn mac_with_a_signing_key_is_5() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let msg = cli.file("msg", b"m");
    cli.fails(["mac", "k", "--in", arg(&msg)], 5);
}

/// MACs cover 1 to 4096 bytes, as in AWS KMS, whatever the backend: an empty or a longer
/// file is invalid input (4).
#[test]
fn mac_of_an_empty_or_oversized_file_is_4() {
    let cli = Cli::new();
    cli.create("h", "HMAC_256", &[]);
    let empty = cli.file("empty", b"");
    let line = cli.fails(["mac", "h", "--in", arg(&empty)], 4);
    assert!(line.contains("1 to 4096 bytes"), "{line}");
    let big = cli.file("big", &[0u8; 4097]);
    cli.fails(["mac", "h", "--in", arg(&big)], 4);
    let max = cli.file("max", &[0u8; 4096]);
    cli.ok(["mac", "h", "--in", arg(&max)]);
}
