//! `keychain sign --bundle` and `keychain verify-bundle`: offline checking, with and without a
//! pinned signer key, judged against OpenSSL for the raw signature.

use std::fs;

use crate::support::{Cli, arg};

#[test]
fn bundles_verify_offline_and_pin_the_signer() {
    let cli = Cli::new();
    cli.create("release", "p384", &[]);
    cli.create("other", "p384", &[]);
    let artifact = cli.file("app.tar.gz", &vec![42u8; 200_000]);
    let bundle = cli.path("app.bundle.json");
    let sig = cli.path("app.sig");
    cli.ok([
        "sign",
        "release",
        "--in",
        arg(&artifact),
        "--out",
        arg(&sig),
        "--bundle",
        arg(&bundle),
    ]);
    let pem = cli.file("release.pem", cli.pubkey_pem("release").as_bytes());
    let other_pem = cli.file("other.pem", cli.pubkey_pem("other").as_bytes());

    // The raw signature beside the bundle is what OpenSSL checks.
    assert!(keychain_testkit::openssl_verify_file(
        &cli.pubkey_pem("release"),
        keychain::SigningAlgorithm::EcdsaSha384,
        &artifact,
        &fs::read(&sig).unwrap()
    ));
    let json: serde_json::Value = serde_json::from_slice(&fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(json["algorithm"], "ECDSA_SHA_384");
    assert_eq!(json["artifact"], "app.tar.gz");
    assert_eq!(json["size"], 200_000);

    // Offline: no backend and no password in the environment.
    let offline = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keychain"));
        cmd.env_remove("KEYCHAIN_BACKEND")
            .env_remove("KEYCHAIN_PASSWORD")
            .env("KEYCHAIN_HOME", cli.path("no-such-keystore"));
        cli.run_with(cmd, args)
    };
    let r = offline(&["verify-bundle", arg(&bundle), "--in", arg(&artifact)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.text().contains("not pinned"), "{}", r.text());
    let r = offline(&[
        "verify-bundle",
        arg(&bundle),
        "--in",
        arg(&artifact),
        "--public-key",
        arg(&pem),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.text().contains("trusted"), "{}", r.text());
    assert!(
        !cli.path("no-such-keystore").exists(),
        "verify-bundle opened no keystore"
    );

    // Another trusted key, a changed file, a changed bundle: invalid (exit 1).
    let r = offline(&[
        "verify-bundle",
        arg(&bundle),
        "--in",
        arg(&artifact),
        "--public-key",
        arg(&other_pem),
    ]);
    assert_eq!(r.code, 1, "{}", r.text());
    let mut changed = fs::read(&artifact).unwrap();
    changed[1000] ^= 1;
    let changed = cli.file("changed.tar.gz", &changed);
    let r = offline(&["verify-bundle", arg(&bundle), "--in", arg(&changed)]);
    assert_eq!(r.code, 1, "{}", r.text());
    let forged = String::from_utf8(fs::read(&bundle).unwrap())
        .unwrap()
        .replace("\"size\": 200000", "\"size\": 200001");
    let forged = cli.file("forged.json", forged.as_bytes());
    let r = offline(&["verify-bundle", arg(&forged), "--in", arg(&artifact)]);
    assert_eq!(r.code, 1, "{}", r.text());

    // A file that is not a bundle: invalid input (4), one error line.
    let r = offline(&["verify-bundle", arg(&artifact), "--in", arg(&artifact)]);
    crate::support::assert_one_error_line(&r, 4, "not a bundle");
}
