//! The binary against a SoftHSM2 token (`--backend pkcs11:…`): keys created, listed, used to
//! sign, verify, encrypt and decrypt, and destroyed; signatures judged by OpenSSL; a wrong
//! PIN, a missing module and an unknown token each one error line with the documented exit
//! code.

use std::process::Command;

use keychain_testkit::softhsm::{LABEL, MODULE, SoftHsm, uri_for};

use crate::support::{Cli, arg, assert_one_error_line, run_tool};

/// The binary pointed at the token (through `--backend`, as a user would).
fn p11(cli: &Cli, hsm: &SoftHsm, args: &[&str]) -> crate::support::Run {
    let mut cmd = cli.command();
    cmd.env("SOFTHSM2_CONF", hsm.conf());
    let uri = hsm.uri();
    let mut all = vec!["--backend", uri.as_str()];
    all.extend_from_slice(args);
    cli.run_with(cmd, &all)
}

fn p11_ok(cli: &Cli, hsm: &SoftHsm, args: &[&str]) -> crate::support::Run {
    let run = p11(cli, hsm, args);
    assert_eq!(
        run.code,
        0,
        "keychain {args:?}: {}\n{}",
        run.stderr,
        run.text()
    );
    run
}

#[test]
fn keys_on_a_token_sign_verify_encrypt_and_decrypt() {
    let cli = Cli::new();
    let hsm = SoftHsm::new();
    p11_ok(&cli, &hsm, &["key", "create", "signer", "--spec", "p256"]);
    p11_ok(&cli, &hsm, &["key", "create", "data", "--spec", "aes-256"]);
    p11_ok(&cli, &hsm, &["key", "create", "rsa", "--spec", "RSA_3072"]);
    let listed = p11_ok(&cli, &hsm, &["--json", "key", "list"]).text();
    for name in ["signer", "data", "rsa"] {
        assert!(listed.contains(&format!("\"name\":\"{name}\"")), "{listed}");
    }

    let message = cli.file("message.txt", b"signed on a token through the CLI");
    for (key, algorithm) in [
        ("signer", "ECDSA_SHA_256"),
        ("rsa", "RSASSA_PSS_SHA_384"),
        ("rsa", "RSASSA_PKCS1_V1_5_SHA_256"),
    ] {
        let sig = cli.path(&format!("{key}-{algorithm}.sig"));
        p11_ok(
            &cli,
            &hsm,
            &[
                "sign",
                key,
                "--in",
                arg(&message),
                "--algorithm",
                algorithm,
                "--out",
                arg(&sig),
            ],
        );
        p11_ok(
            &cli,
            &hsm,
            &[
                "verify",
                key,
                "--in",
                arg(&message),
                "--algorithm",
                algorithm,
                "--signature",
                arg(&sig),
            ],
        );
        // OpenSSL judges the signature with the public key the CLI exports.
        let pem = cli.path(&format!("{key}.pem"));
        p11_ok(&cli, &hsm, &["pubkey", key, "--out", arg(&pem)]);
        let mut openssl = Command::new("openssl");
        openssl.args([
            "dgst",
            if algorithm.contains("384") {
                "-sha384"
            } else {
                "-sha256"
            },
        ]);
        if algorithm.contains("PSS") {
            openssl.args([
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:-1",
            ]);
        }
        openssl.args(["-verify", arg(&pem), "-signature", arg(&sig), arg(&message)]);
        let out = String::from_utf8_lossy(&run_tool(&mut openssl)).into_owned();
        assert!(out.contains("Verified OK"), "{key} {algorithm}: {out}");
        // A signature of another message is refused (exit 1).
        let other = cli.file("other.txt", b"not what was signed");
        let run = p11(
            &cli,
            &hsm,
            &[
                "verify",
                key,
                "--in",
                arg(&other),
                "--algorithm",
                algorithm,
                "--signature",
                arg(&sig),
            ],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
    }

    let plain = cli.file("plain.bin", &vec![7u8; 100_000]);
    let sealed = cli.path("sealed.kc");
    let opened = cli.path("opened.bin");
    p11_ok(
        &cli,
        &hsm,
        &[
            "encrypt",
            "data",
            "--in",
            arg(&plain),
            "--out",
            arg(&sealed),
            "--context",
            "purpose=test",
        ],
    );
    p11_ok(
        &cli,
        &hsm,
        &[
            "decrypt",
            "--in",
            arg(&sealed),
            "--out",
            arg(&opened),
            "--context",
            "purpose=test",
        ],
    );
    assert_eq!(
        std::fs::read(&opened).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    let small = cli.file("small.bin", b"direct");
    let direct = cli.path("direct.kc");
    let back = cli.path("direct.out");
    p11_ok(
        &cli,
        &hsm,
        &[
            "encrypt",
            "data",
            "--direct",
            "--in",
            arg(&small),
            "--out",
            arg(&direct),
        ],
    );
    p11_ok(
        &cli,
        &hsm,
        &["decrypt", "--in", arg(&direct), "--out", arg(&back)],
    );
    assert_eq!(std::fs::read(&back).unwrap(), b"direct");

    // PKCS#11 has no deletion window: the default delete is refused, --now destroys.
    let run = p11(&cli, &hsm, &["key", "delete", "signer"]);
    assert_one_error_line(&run, 10, "scheduled deletion on a PKCS#11 token");
    p11_ok(&cli, &hsm, &["key", "delete", "signer", "--now"]);
    let run = p11(&cli, &hsm, &["key", "show", "signer"]);
    assert_one_error_line(&run, 3, "a destroyed key");
}

#[test]
fn bad_token_settings_are_one_error_line_each() {
    let cli = Cli::new();
    let hsm = SoftHsm::new();
    let run_uri = |uri: &str| {
        let mut cmd = cli.command();
        cmd.env("SOFTHSM2_CONF", hsm.conf());
        cli.run_with(cmd, ["--backend", uri, "key", "list"])
    };
    let wrong_pin = format!("pkcs11:token={LABEL}?module-path={MODULE}&pin-value=0000");
    let run = run_uri(&wrong_pin);
    assert_one_error_line(&run, 7, "a wrong PIN");
    assert!(
        !run.stderr.contains("0000"),
        "the PIN is echoed: {}",
        run.stderr
    );
    let run = run_uri(&format!("pkcs11:token={LABEL}?pin-value=1"));
    assert_one_error_line(&run, 4, "no module path");
    assert!(run.stderr.contains("module-path"), "{}", run.stderr);
    let run = run_uri(&uri_for("nope"));
    assert_one_error_line(&run, 4, "an unknown token");
    let run = run_uri(&format!(
        "pkcs11:slot-id=99999999999999999999999?module-path={MODULE}"
    ));
    assert_one_error_line(&run, 4, "an out-of-range slot id");
}

#[test]
fn software_keys_migrate_onto_a_token_with_proof() {
    let cli = Cli::new();
    let hsm = SoftHsm::new();
    let from = format!("software:{}", cli.keystore().display());
    for (name, spec, extra) in [
        ("m-p256", "p256", &[][..]),
        ("m-rsa", "RSA_2048", &[][..]),
        ("m-rsa-enc", "RSA_3072", &["--usage", "ENCRYPT_DECRYPT"][..]),
        ("m-ed", "ed25519", &[][..]),
        ("m-aes", "aes-256", &[][..]),
        ("m-mac", "HMAC_384", &[][..]),
    ] {
        cli.create(name, spec, extra);
        let mut cmd = cli.command();
        cmd.env("SOFTHSM2_CONF", hsm.conf());
        let run = cli.run_with(
            cmd,
            [
                "--json",
                "migrate",
                name,
                "--from",
                &from,
                "--to",
                &hsm.uri(),
            ],
        );
        assert_eq!(run.code, 0, "migrating {name}: {}", run.stderr);
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(report["method"], "imported", "{report}");
        let checks: Vec<&str> = report["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["check"].as_str().unwrap())
            .collect();
        assert!(checks.contains(&"alias"), "{name}: {checks:?}");
        let expected = match spec {
            "aes-256" => "round-trip",
            "HMAC_384" => "mac",
            _ if extra.is_empty() => "signature",
            _ => "oaep",
        };
        assert!(checks.contains(&expected), "{name}: {checks:?}");
        assert_eq!(report["destination"]["name"], name);
    }
    // The token signs as the software key did: OpenSSL checks a token signature with the
    // software keystore's public key.
    let message = cli.file("m.txt", b"signed on the token by a migrated key");
    let sig = cli.path("m.sig");
    p11_ok(
        &cli,
        &hsm,
        &["sign", "m-p256", "--in", arg(&message), "--out", arg(&sig)],
    );
    let software_pem = cli.pubkey_pem("m-p256");
    let pem = cli.file("soft.pem", software_pem.as_bytes());
    let out = run_tool(Command::new("openssl").args([
        "dgst",
        "-sha256",
        "-verify",
        arg(&pem),
        "-signature",
        arg(&sig),
        arg(&message),
    ]));
    assert!(String::from_utf8_lossy(&out).contains("Verified OK"));
    // pkcs11-tool sees the imported key as sensitive; a second migration is refused.
    let listing = run_tool(
        hsm.command("pkcs11-tool")
            .args([
                "--module",
                MODULE,
                "--token-label",
                LABEL,
                "--login",
                "--pin",
            ])
            .arg(keychain_testkit::softhsm::PIN)
            .arg("--list-objects"),
    );
    let listing = String::from_utf8_lossy(&listing);
    // The object blocks: a header line and its indented lines.
    let mut blocks: Vec<String> = Vec::new();
    for line in listing.lines() {
        match blocks.last_mut() {
            Some(b) if line.starts_with(' ') => {
                b.push('\n');
                b.push_str(line);
            }
            _ => blocks.push(line.to_string()),
        }
    }
    let block = blocks
        .iter()
        .find(|b| b.starts_with("Private Key Object; EC\n") && b.contains("label:      m-p256"))
        .unwrap_or_else(|| panic!("no private key m-p256 in:\n{listing}"));
    assert!(block.contains("Access:     sensitive"), "{block}");
    assert!(!block.contains("decrypt"), "{block}");
    let mut cmd = cli.command();
    cmd.env("SOFTHSM2_CONF", hsm.conf());
    let run = cli.run_with(
        cmd,
        ["migrate", "m-p256", "--from", &from, "--to", &hsm.uri()],
    );
    assert_one_error_line(&run, 9, "a second migration under a taken name");
}
