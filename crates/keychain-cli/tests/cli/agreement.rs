//! `keychain derive-shared-secret`, judged by Python `cryptography`: it derives the secret
//! from its own private key and the PEM `keychain pubkey` prints, and it opens the keystore's
//! key file to derive the secret with its own public key; the CLI must write the same bytes.

use std::fs;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::support::{Cli, PASSWORD, arg};

#[test]
fn python_cryptography_and_the_cli_derive_the_same_secrets() {
    let cli = Cli::new();
    for (name, spec, secret_len) in [
        ("ecdh256", "p256", 32),
        ("ecdh384", "ECC_NIST_P384", 48),
        ("ecdh521", "p521", 66),
    ] {
        let id = cli.create(name, spec, &["--usage", "key-agreement"]);
        let show = cli.json(["key", "show", name]);
        assert_eq!(show["usage"], "KEY_AGREEMENT", "{show}");
        let pem = cli.pubkey_pem(name);

        // Theirs: cryptography's key pair meets our public key.
        let answer = &keychain_testkit::python_ecdh_batch(&[json!({"op": "agree", "pem": pem})])[0];
        let peer_der = keychain_testkit::b64_field(answer, "public_key");
        let expected = keychain_testkit::b64_field(answer, "secret");
        let peer = cli.file(&format!("{name}.peer.der"), &peer_der);
        let out = cli.path(&format!("{name}.secret"));
        let v = cli.json([
            "derive-shared-secret",
            name,
            "--peer-public-key",
            arg(&peer),
            "--out",
            arg(&out),
        ]);
        assert_eq!(v["secret_bytes"], secret_len, "{v}");
        assert_eq!(v["algorithm"], "ECDH", "{v}");
        assert_eq!(v["key_id"], id.as_str(), "{v}");
        assert_eq!(fs::read(&out).unwrap(), expected, "{spec}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the secret is the owner's only");
        }

        // Ours: cryptography opens the key file and meets its own peer's key, given as PEM
        // this time and on standard output.
        let peer_pem = keychain::PublicKey::from_der(&peer_der).unwrap().to_pem();
        let peer_pem_file = cli.file(&format!("{name}.peer.pem"), peer_pem.as_bytes());
        let printed = cli.ok([
            "derive-shared-secret",
            name,
            "--peer-public-key",
            arg(&peer_pem_file),
            "--out",
            "-",
        ]);
        let key_file = cli.keystore().join("keys").join(&id).join("v1.pem");
        let opened = &keychain_testkit::python_ecdh_batch(&[json!({
            "op": "agree_with_key_file",
            "key_file": fs::read_to_string(&key_file).unwrap(),
            "password": PASSWORD,
            "peer": STANDARD.encode(&peer_der),
        })])[0];
        assert_eq!(
            keychain_testkit::b64_field(opened, "secret"),
            printed.stdout,
            "{spec}: cryptography derives another secret with our key file"
        );
        assert_eq!(printed.stdout, expected);
    }
}

/// Each bad input: one error line and its exit code; no secret file is left behind.
#[test]
fn bad_agreement_inputs_fail_with_their_exit_codes() {
    let cli = Cli::new();
    cli.create("ecdh", "p256", &["--usage", "KEY_AGREEMENT"]);
    cli.create("signer", "p256", &[]);
    let answers = keychain_testkit::python_ecdh_batch(&[
        json!({"op": "public_key", "kind": "P-256"}),
        json!({"op": "public_key", "kind": "P-384"}),
        json!({"op": "public_key", "kind": "ed25519"}),
    ]);
    let file = |name: &str, i: usize| {
        cli.file(
            name,
            &keychain_testkit::b64_field(&answers[i], "public_key"),
        )
    };
    let (p256, p384, ed25519) = (file("p256.der", 0), file("p384.der", 1), file("ed.der", 2));
    let garbage = cli.file("garbage", b"not a public key");
    let secret = cli.path("secret");
    let derive = |key: &str, peer: &std::path::Path| {
        vec![
            "derive-shared-secret".to_string(),
            key.to_string(),
            "--peer-public-key".to_string(),
            arg(peer).to_string(),
            "--out".to_string(),
            arg(&secret).to_string(),
        ]
    };
    // A peer key on another curve, of another type, or none at all: invalid input (4).
    let line = cli.fails(derive("ecdh", &p384), 4);
    assert!(line.contains("P-384") && line.contains("P-256"), "{line}");
    cli.fails(derive("ecdh", &ed25519), 4);
    let line = cli.fails(derive("ecdh", &garbage), 4);
    assert!(line.contains("--peer-public-key"), "{line}");
    // A SIGN_VERIFY key of the same curve: invalid usage (5).
    cli.fails(derive("signer", &p256), 5);
    // A key that does not exist (3); a disabled key (6).
    cli.fails(derive("nope", &p256), 3);
    cli.ok(["key", "disable", "ecdh"]);
    cli.fails(derive("ecdh", &p256), 6);
    assert!(!secret.exists(), "no secret file after a refusal");
    // The output may not be the input.
    cli.ok(["key", "enable", "ecdh"]);
    cli.fails(
        [
            "derive-shared-secret",
            "ecdh",
            "--peer-public-key",
            arg(&p256),
            "--out",
            arg(&p256),
        ],
        4,
    );
    // secp256k1 and Ed25519 keys do no key agreement (4: the usage is not allowed).
    for spec in ["secp256k1", "ed25519"] {
        cli.fails(
            [
                "key",
                "create",
                &format!("ka-{spec}"),
                "--spec",
                spec,
                "--usage",
                "key-agreement",
            ],
            4,
        );
    }
}
