//! `keychain ssh cert`: certificates `ssh-keygen -L` reads field for field, that a real sshd
//! accepts under `TrustedUserCAKeys`, refuses when expired or for another principal; and the
//! bad arguments.

use std::fs;
use std::process::Command;

use super::sshd::{Sshd, user};
use super::tools::private_dir;
use crate::support::{Cli, arg, run_tool};

/// A user key pair made by ssh-keygen: (private key path, public key path).
fn user_key(cli: &Cli, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = cli.path(name);
    run_tool(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@laptop", "-f"])
            .arg(&key),
    );
    let public = key.with_extension("pub");
    (key, public)
}

fn show(cert: &std::path::Path) -> String {
    String::from_utf8(run_tool(
        Command::new("ssh-keygen").arg("-L").arg("-f").arg(cert),
    ))
    .unwrap()
}

#[test]
fn ssh_keygen_reads_every_field_of_the_certificate() {
    let cli = Cli::new();
    for (ca, spec, using) in [
        ("ca-ed", "ed25519", "ssh-ed25519"),
        ("ca-p384", "p384", "ecdsa-sha2-nistp384"),
        ("ca-rsa", "rsa-3072", "rsa-sha2-512"),
    ] {
        cli.create(ca, spec, &[]);
        let (_, public) = user_key(&cli, &format!("user-{ca}"));
        let cert = cli.path(&format!("{ca}-cert.pub"));
        let v = cli.json([
            "ssh",
            "cert",
            ca,
            "--public-key",
            arg(&public),
            "--identity",
            "alice@example",
            "--principal",
            "alice",
            "--principal",
            "deploy",
            "--validity",
            "20300101:20300102120000",
            "--serial",
            "18446744073709551615",
            "--option",
            "force-command=/usr/bin/true",
            "--option",
            "no-touch-required",
            "--extension",
            "permit-pty",
            "--out",
            arg(&cert),
        ]);
        assert_eq!(v["serial"], u64::MAX);
        assert_eq!(v["valid_after"], 1_893_456_000u64);
        assert_eq!(v["valid_before"], 1_893_585_600u64);
        let text = show(&cert);
        let ca_line = cli.ok(["ssh", "pubkey", ca]).text();
        let ca_file = cli.file(&format!("{ca}.pub"), ca_line.as_bytes());
        let ca_fp = String::from_utf8(run_tool(
            Command::new("ssh-keygen").arg("-lf").arg(&ca_file),
        ))
        .unwrap();
        let ca_fp = ca_fp.split(' ').nth(1).unwrap();
        assert!(
            text.contains("ssh-ed25519-cert-v01@openssh.com user certificate"),
            "{text}"
        );
        let signing_ca = text
            .lines()
            .find(|l| l.trim().starts_with("Signing CA:"))
            .unwrap();
        assert!(signing_ca.contains(ca_fp), "{ca}: {text}");
        assert!(text.contains(&format!("(using {using})")), "{ca}: {text}");
        assert!(text.contains("Key ID: \"alice@example\""), "{text}");
        assert!(text.contains("Serial: 18446744073709551615"), "{text}");
        assert!(
            text.contains("alice\n") && text.contains("deploy\n"),
            "{text}"
        );
        assert!(text.contains("force-command /usr/bin/true"), "{text}");
        assert!(text.contains("no-touch-required"), "{text}");
        assert!(
            text.contains("permit-pty") && !text.contains("permit-agent-forwarding"),
            "{text}"
        );
    }
    // A host certificate, and OpenSSH's default extensions on a user certificate.
    let (_, public) = user_key(&cli, "host");
    let cert = cli.path("host-cert.pub");
    cli.ok([
        "ssh",
        "cert",
        "ca-ed",
        "--public-key",
        arg(&public),
        "--identity",
        "web1",
        "--principal",
        "web1.example.com",
        "--host",
        "--out",
        arg(&cert),
    ]);
    assert!(show(&cert).contains("host certificate"));
    let cert = cli.path("defaults-cert.pub");
    cli.ok([
        "ssh",
        "cert",
        "ca-ed",
        "--public-key",
        arg(&public),
        "--identity",
        "u",
        "--principal",
        "u",
        "--out",
        arg(&cert),
    ]);
    let text = show(&cert);
    for ext in [
        "permit-X11-forwarding",
        "permit-agent-forwarding",
        "permit-port-forwarding",
        "permit-pty",
        "permit-user-rc",
    ] {
        assert!(text.contains(ext), "{ext}: {text}");
    }
}

#[test]
fn sshd_accepts_a_certificate_from_the_backend_ca_and_refuses_expired_or_foreign_ones() {
    let cli = Cli::new();
    cli.create("ca", "p256", &[]);
    let dir = private_dir(&cli, "sshd-ca");
    let ca = cli.path("ca.pub");
    cli.ok(["ssh", "pubkey", "ca", "--out", arg(&ca)]);
    let sshd = Sshd::start(&dir, "", Some(&ca));
    let me = user();

    let cases = [
        ("good", me.as_str(), "+1h", true),
        ("expired", me.as_str(), "20200101:20200102", false),
        ("other", "somebody-else", "+1h", false),
    ];
    for (name, principal, validity, accepted) in cases {
        let (key, public) = user_key(&cli, &format!("id-{name}"));
        let cert = cli.path(&format!("id-{name}-cert.pub"));
        cli.ok([
            "ssh",
            "cert",
            "ca",
            "--public-key",
            arg(&public),
            "--identity",
            name,
            "--principal",
            principal,
            "--validity",
            validity,
            "--out",
            arg(&cert),
        ]);
        let ok = sshd.login(
            &mut Command::new("ssh"),
            &[
                "-o",
                &format!("IdentityFile={}", key.display()),
                "-o",
                &format!("CertificateFile={}", cert.display()),
                "-o",
                "IdentityAgent=none",
            ],
        );
        assert_eq!(ok, accepted, "{name}");
    }
    // The key alone, without its certificate, is not authorized.
    let (key, _) = user_key(&cli, "bare");
    assert!(!sshd.login(
        &mut Command::new("ssh"),
        &[
            "-o",
            &format!("IdentityFile={}", key.display()),
            "-o",
            "IdentityAgent=none"
        ],
    ));
}

#[test]
fn bad_certificate_arguments_are_refused() {
    let cli = Cli::new();
    cli.create("ca", "ed25519", &[]);
    cli.create("k1", "secp256k1", &[]);
    let (_, public) = user_key(&cli, "u");
    let out = cli.path("u-cert.pub");
    let base = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "ssh",
            "cert",
            "ca",
            "--public-key",
            arg(&public),
            "--identity",
            "id",
            "--principal",
            "p",
            "--out",
            arg(&out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    for validity in [
        "-1h",
        "1h",
        "+0h",
        "+1y",
        "+99999999999999999999d",
        "20250101:20240101",
        "2025-01-01:2026-01-01",
        "20240230:20250101",
        ":",
        "now",
    ] {
        let line = cli.fails(base(&[&format!("--validity={validity}")]), 4);
        assert!(line.contains("--validity"), "{validity}: {line}");
    }
    for serial in ["18446744073709551616", "-1", "0x10", "ten"] {
        let line = cli.fails(base(&[&format!("--serial={serial}")]), 4);
        assert!(line.contains("--serial"), "{serial}: {line}");
    }
    cli.fails(base(&["--option", "=x"]), 4);
    cli.fails(base(&["--extension", "a\u{1b}b"]), 4);
    cli.fails(base(&["--principal", "bad\nname"]), 4);
    assert!(!out.exists(), "nothing written on a refusal");

    // Not an OpenSSH public key; a private key; an empty file; huge input.
    for (name, bytes) in [
        ("pem.pub", cli.pubkey_pem("ca").into_bytes()),
        ("private.pub", fs::read(cli.path("u")).unwrap()),
        ("empty.pub", Vec::new()),
        ("huge.pub", vec![b'A'; 1 << 20]),
    ] {
        let bad = cli.file(name, &bytes);
        let mut args = base(&[]);
        args[4] = arg(&bad).to_string();
        cli.fails(&args, 4);
    }
    // The certificate may not replace the key it certifies; a CA OpenSSH cannot use.
    let before = fs::read(&public).unwrap();
    let mut args = base(&[]);
    let last = args.len() - 1;
    args[last] = arg(&public).to_string();
    cli.fails(&args, 4);
    let mut args = base(&[]);
    args[2] = "k1".to_string();
    cli.fails(&args, 10);
    assert_eq!(
        fs::read(&public).unwrap(),
        before,
        "the public key is untouched"
    );
}
