//! `keychain encrypt` / `keychain decrypt`: symmetric with an encryption context, RSA-OAEP
//! (cross-checked with OpenSSL), and the failures.

use std::fs;
use std::process::Command;

use crate::support::{Cli, arg, run_tool};

#[test]
fn symmetric_round_trip_with_context() {
    let cli = Cli::new();
    cli.create("data", "SYMMETRIC_DEFAULT", &[]);
    let secret = b"database password: hunter2".to_vec();
    let pt = cli.file("secret.txt", &secret);
    let ct = cli.path("secret.enc");
    let out = cli.path("secret.out");
    cli.ok([
        "encrypt",
        "data",
        "--in",
        arg(&pt),
        "--out",
        arg(&ct),
        "--context",
        "app=billing",
        "--context",
        "env=prod",
    ]);
    let ciphertext = fs::read(&ct).unwrap();
    assert!(
        !ciphertext.windows(7).any(|w| w == b"hunter2"),
        "the ciphertext does not contain the plaintext"
    );
    // Context order does not matter; its contents do.
    cli.ok([
        "decrypt",
        "--in",
        arg(&ct),
        "--out",
        arg(&out),
        "--context",
        "env=prod",
        "--context",
        "app=billing",
    ]);
    assert_eq!(fs::read(&out).unwrap(), secret);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "decrypted plaintext is private");
    }

    // Wrong, missing and extra context: crypto (11), and no plaintext file is written.
    let never = cli.path("never.out");
    for ctx in [
        vec!["--context", "app=billing", "--context", "env=dev"],
        vec!["--context", "app=billing"],
        vec![],
        vec![
            "--context",
            "app=billing",
            "--context",
            "env=prod",
            "--context",
            "x=y",
        ],
    ] {
        let mut args = vec!["decrypt", "--in", arg(&ct), "--out", arg(&never)];
        args.extend(ctx);
        cli.fails(&args, 11);
        assert!(!never.exists());
    }

    // A tampered ciphertext: crypto (11).
    let mut tampered = ciphertext.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let bad = cli.file("tampered.enc", &tampered);
    cli.fails(
        [
            "decrypt",
            "--in",
            arg(&bad),
            "--out",
            arg(&never),
            "--context",
            "app=billing",
            "--context",
            "env=prod",
        ],
        11,
    );
}

#[test]
fn direct_encryption_takes_at_most_4096_bytes() {
    let cli = Cli::new();
    cli.create("data", "aes-256", &[]);
    let ok = cli.file("ok", &[7u8; 4096]);
    let big = cli.file("big", &[7u8; 4097]);
    let ct = cli.path("ct");
    let out = cli.path("out");
    let v = cli.json([
        "encrypt",
        "data",
        "--direct",
        "--in",
        arg(&ok),
        "--out",
        arg(&ct),
    ]);
    assert_eq!(v["format"], "direct");
    cli.ok(["decrypt", "--in", arg(&ct), "--out", arg(&out)]);
    assert_eq!(fs::read(&out).unwrap(), vec![7u8; 4096]);
    let line = cli.fails(
        [
            "encrypt",
            "data",
            "--direct",
            "--in",
            arg(&big),
            "--out",
            arg(&ct),
        ],
        4,
    );
    assert!(line.contains("4096"), "{line}");
}

#[test]
fn envelope_encryption_streams_any_size() {
    let cli = Cli::new();
    cli.create("data", "aes-256", &[]);
    // Empty, one byte, exactly one 64 KiB chunk, and several chunks plus a tail.
    for len in [0usize, 1, 65536, 3 * 65536 + 123] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let pt = cli.file(&format!("pt{len}"), &data);
        let ct = cli.path(&format!("ct{len}"));
        let out = cli.path(&format!("out{len}"));
        let v = cli.json([
            "encrypt",
            "data",
            "--in",
            arg(&pt),
            "--out",
            arg(&ct),
            "--context",
            "f=1",
        ]);
        assert_eq!(v["format"], "envelope", "len {len}");
        assert_eq!(v["bytes"], len as u64);
        assert!(fs::read(&ct).unwrap().starts_with(b"KCENV"));
        cli.ok([
            "decrypt",
            "--in",
            arg(&ct),
            "--out",
            arg(&out),
            "--context",
            "f=1",
        ]);
        assert_eq!(fs::read(&out).unwrap(), data, "len {len}");
        // Truncated by one chunk tag: refused, and no plaintext file appears.
        let whole = fs::read(&ct).unwrap();
        let cut = cli.file(&format!("cut{len}"), &whole[..whole.len() - 16]);
        let never = cli.path(&format!("never{len}"));
        cli.fails(
            [
                "decrypt",
                "--in",
                arg(&cut),
                "--out",
                arg(&never),
                "--context",
                "f=1",
            ],
            11,
        );
        assert!(!never.exists());
    }
}

#[test]
fn encrypting_with_a_signing_key_is_5() {
    let cli = Cli::new();
    cli.create("sig", "p256", &[]);
    let pt = cli.file("pt", b"x");
    cli.fails(
        [
            "encrypt",
            "sig",
            "--in",
            arg(&pt),
            "--out",
            arg(&cli.path("ct")),
        ],
        5,
    );
}

#[test]
fn rsa_oaep_round_trip_and_openssl_interop() {
    let cli = Cli::new();
    cli.create("rsa", "RSA_2048", &["--usage", "ENCRYPT_DECRYPT"]);
    let secret = b"an RSA-wrapped secret".to_vec();
    let pt = cli.file("pt", &secret);
    let ct = cli.path("ct");
    let out = cli.path("out");

    // keychain to keychain.
    let v = cli.json(["encrypt", "rsa", "--in", arg(&pt), "--out", arg(&ct)]);
    assert_eq!(v["algorithm"], "RSAES_OAEP_SHA_256");
    assert_eq!(fs::read(&ct).unwrap().len(), 256);
    cli.ok([
        "decrypt",
        "--key",
        "rsa",
        "--in",
        arg(&ct),
        "--out",
        arg(&out),
    ]);
    assert_eq!(fs::read(&out).unwrap(), secret);

    // Without --key, an RSA ciphertext cannot be attributed: invalid_input, with the hint.
    let line = cli.fails(
        ["decrypt", "--in", arg(&ct), "--out", arg(&cli.path("x"))],
        4,
    );
    assert!(line.contains("--key"), "{line}");

    // OpenSSL encrypts with the exported public key (OAEP, SHA-256, MGF1 SHA-256); keychain
    // decrypts.
    let pem = cli.file("pub.pem", cli.pubkey_pem("rsa").as_bytes());
    let ossl_ct = cli.path("openssl.ct");
    run_tool(
        Command::new("openssl")
            .args(["pkeyutl", "-encrypt", "-pubin", "-inkey"])
            .arg(&pem)
            .args([
                "-pkeyopt",
                "rsa_padding_mode:oaep",
                "-pkeyopt",
                "rsa_oaep_md:sha256",
                "-pkeyopt",
                "rsa_mgf1_md:sha256",
                "-in",
            ])
            .arg(&pt)
            .arg("-out")
            .arg(&ossl_ct),
    );
    let out2 = cli.path("out2");
    cli.ok([
        "decrypt",
        "--key",
        "rsa",
        "--in",
        arg(&ossl_ct),
        "--out",
        arg(&out2),
    ]);
    assert_eq!(fs::read(&out2).unwrap(), secret);

    // RSA takes no encryption context.
    cli.fails(
        [
            "encrypt",
            "rsa",
            "--in",
            arg(&pt),
            "--out",
            arg(&ct),
            "--context",
            "a=b",
        ],
        4,
    );
}
