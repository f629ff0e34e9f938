//! `keychain pubkey`: PEM identical to what OpenSSL derives from the keystore's own file, DER
//! identical to OpenSSL's conversion, JWK with a thumbprint `kid` computed independently.

use std::fs;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::support::{Cli, PASSWORD, arg, run_tool};

#[test]
fn pem_matches_openssl_reading_the_keystore() {
    let cli = Cli::new();
    for (name, spec) in [
        ("ec", "ECC_NIST_P256"),
        ("k1", "ECC_SECG_P256K1"),
        ("ed", "ECC_NIST_EDWARDS25519"),
        ("rsa", "RSA_2048"),
    ] {
        cli.create(name, spec, &[]);
        let id = cli.json(["key", "show", name])["key_id"]
            .as_str()
            .unwrap()
            .to_string();
        let stored = cli.keystore().join("keys").join(&id).join("v1.pem");
        let from_openssl = run_tool(
            Command::new("openssl")
                .args(["pkey", "-in"])
                .arg(&stored)
                .args(["-passin", &format!("pass:{PASSWORD}"), "-pubout"]),
        );
        let ours = cli.pubkey_pem(name);
        assert_eq!(
            ours,
            String::from_utf8(from_openssl).unwrap(),
            "{spec}: keychain pubkey and openssl pkey -pubout differ"
        );

        let out = cli.path(&format!("{name}.pem"));
        cli.ok(["pubkey", name, "--out", arg(&out)]);
        assert_eq!(fs::read_to_string(&out).unwrap(), ours);
    }
}

#[test]
fn der_matches_openssl_conversion_of_the_pem() {
    let cli = Cli::new();
    cli.create("k", "p384", &[]);
    let pem = cli.file("k.pem", cli.pubkey_pem("k").as_bytes());
    let openssl_der = run_tool(
        Command::new("openssl")
            .args(["pkey", "-pubin", "-inform", "PEM", "-outform", "DER", "-in"])
            .arg(&pem),
    );
    let stdout_der = cli.ok(["pubkey", "k", "--format", "der"]).stdout;
    assert_eq!(stdout_der, openssl_der, "DER on stdout");
    let out = cli.path("k.der");
    cli.ok(["pubkey", "k", "--format", "der", "--out", arg(&out)]);
    assert_eq!(fs::read(&out).unwrap(), openssl_der, "DER in --out");
}

/// SHA-256 by OpenSSL, base64url: the RFC 7638 thumbprint of a canonical JWK.
fn thumbprint(cli: &Cli, canonical: &str) -> String {
    let f = cli.file("canonical.json", canonical.as_bytes());
    let digest = run_tool(
        Command::new("openssl")
            .args(["dgst", "-sha256", "-binary"])
            .arg(&f),
    );
    URL_SAFE_NO_PAD.encode(digest)
}

fn jwk(cli: &Cli, name: &str) -> Value {
    let out = cli.ok(["pubkey", name, "--format", "jwk"]);
    serde_json::from_slice(&out.stdout).expect("the JWK is JSON")
}

#[test]
fn jwk_has_kty_kid_and_natural_alg() {
    let cli = Cli::new();
    cli.create("ec", "p256", &[]);
    cli.create("ed", "ed25519", &[]);
    cli.create("rsa", "rsa-2048", &[]);

    let ec = jwk(&cli, "ec");
    assert_eq!(ec["kty"], "EC");
    assert_eq!(ec["crv"], "P-256");
    assert_eq!(ec["alg"], "ES256");
    assert_eq!(ec["use"], "sig");
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        ec["x"].as_str().unwrap(),
        ec["y"].as_str().unwrap()
    );
    assert_eq!(ec["kid"], thumbprint(&cli, &canonical).as_str());

    let ed = jwk(&cli, "ed");
    assert_eq!(ed["kty"], "OKP");
    assert_eq!(ed["alg"], "EdDSA");
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        ed["x"].as_str().unwrap()
    );
    assert_eq!(ed["kid"], thumbprint(&cli, &canonical).as_str());

    let rsa = jwk(&cli, "rsa");
    assert_eq!(rsa["kty"], "RSA");
    assert_eq!(rsa["e"], "AQAB");
    assert!(
        rsa.get("alg").is_none(),
        "RSA has no single natural alg: {rsa}"
    );
    let canonical = format!(
        r#"{{"e":"AQAB","kty":"RSA","n":"{}"}}"#,
        rsa["n"].as_str().unwrap()
    );
    assert_eq!(rsa["kid"], thumbprint(&cli, &canonical).as_str());

    // The JSON mode carries every form.
    let v = cli.json(["pubkey", "ec"]);
    assert_eq!(v["jwk"]["kid"], ec["kid"]);
    assert_eq!(v["pem"].as_str().unwrap(), cli.pubkey_pem("ec"));
}

#[test]
fn symmetric_keys_have_no_public_key() {
    let cli = Cli::new();
    cli.create("sym", "aes-256", &[]);
    cli.fails(["pubkey", "sym"], 5);
}
