//! SSH: `keychain ssh pubkey`, `keychain sign --format sshsig`, `keychain ssh cert` and
//! `keychain ssh-agent`, judged by OpenSSH itself (`ssh-keygen`, `ssh-add`, `ssh`, a real
//! `sshd`) and git.

mod agent;
#[cfg(feature = "aws")]
mod awskms;
mod cert;
mod sshd;
mod tools;

use std::fs;
use std::process::{Command, Stdio};

use crate::support::{Cli, arg, run_tool};
use tools::{allowed_signers, fingerprint, verify_sshsig};

/// Every key type OpenSSH has, as `(name, spec)`.
pub const SSH_KEYS: [(&str, &str); 7] = [
    ("ed", "ed25519"),
    ("p256", "p256"),
    ("p384", "p384"),
    ("p521", "p521"),
    ("rsa2048", "rsa-2048"),
    ("rsa3072", "rsa-3072"),
    ("rsa4096", "rsa-4096"),
];

#[test]
fn pubkey_lines_are_what_ssh_keygen_derives_from_the_pem() {
    let cli = Cli::new();
    for (name, spec) in [
        ("ed", "ed25519"),
        ("p256", "p256"),
        ("p384", "p384"),
        ("p521", "p521"),
        ("rsa", "rsa-2048"),
    ] {
        cli.create(name, spec, &[]);
        let line = cli.ok(["ssh", "pubkey", name]).text();
        assert!(line.ends_with(&format!(" {name}\n")), "{spec}: {line}");
        let file = cli.file(&format!("{name}.pub"), line.as_bytes());
        let ours = fingerprint(&file);
        assert!(
            ours.contains(&format!(" {name} (")),
            "ssh-keygen -l: {ours}"
        );
        let pem = cli.file(&format!("{name}.pem"), cli.pubkey_pem(name).as_bytes());
        let theirs = if spec == "ed25519" {
            // OpenSSH 9.2 cannot import an Ed25519 PKCS#8 key (`unsupported pubkey type`):
            // Python `cryptography` converts the PEM instead.
            tools::python_openssh_line(&pem)
        } else {
            String::from_utf8(run_tool(
                Command::new("ssh-keygen")
                    .args(["-i", "-m", "PKCS8", "-f"])
                    .arg(&pem),
            ))
            .unwrap()
        };
        let theirs = cli.file(&format!("{name}.theirs.pub"), theirs.as_bytes());
        let key_part = |fp: &str| fp.split(' ').take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(key_part(&ours), key_part(&fingerprint(&theirs)), "{spec}");

        let out = cli.path(&format!("{name}.out.pub"));
        let v = cli.json(["ssh", "pubkey", name, "--out", arg(&out)]);
        assert_eq!(fs::read_to_string(&out).unwrap(), line);
        assert_eq!(v["public_key"].as_str().unwrap(), line.trim_end());
        assert_eq!(
            v["fingerprint"].as_str().unwrap(),
            ours.split(' ').nth(1).unwrap()
        );
    }
}

#[test]
fn keys_openssh_has_no_type_for_are_refused() {
    let cli = Cli::new();
    cli.create("k1", "secp256k1", &[]);
    cli.create("ml", "ml-dsa-65", &[]);
    cli.create("aes", "aes-256", &[]);
    for name in ["k1", "ml"] {
        let line = cli.fails(["ssh", "pubkey", name], 10);
        assert!(line.contains("OpenSSH"), "{line}");
        let msg = cli.file("m", b"x");
        cli.fails(
            [
                "sign",
                name,
                "--in",
                arg(&msg),
                "--format",
                "sshsig",
                "--namespace",
                "file",
            ],
            10,
        );
    }
    cli.fails(["ssh", "pubkey", "aes"], 5);
}

#[test]
fn sshsig_signatures_verify_with_ssh_keygen_for_every_key_type() {
    let cli = Cli::new();
    let message = cli.file("message.txt", b"a file to sign\n");
    let tampered = cli.file("tampered.txt", b"a file to sign!\n");
    for (name, spec) in SSH_KEYS {
        cli.create(name, spec, &[]);
        let line = cli.ok(["ssh", "pubkey", name]).text();
        let signers = allowed_signers(&cli, name, &line);
        let sig = cli.path(&format!("{name}.sig"));
        cli.ok([
            "sign",
            name,
            "--in",
            arg(&message),
            "--format",
            "sshsig",
            "--namespace",
            "file",
            "--out",
            arg(&sig),
        ]);
        let armored = fs::read_to_string(&sig).unwrap();
        assert!(
            armored.starts_with("-----BEGIN SSH SIGNATURE-----\n"),
            "{armored}"
        );
        assert!(
            verify_sshsig(&signers, "file", &sig, &message),
            "{spec}: valid"
        );
        assert!(
            !verify_sshsig(&signers, "file", &sig, &tampered),
            "{spec}: tampered"
        );
        assert!(
            !verify_sshsig(&signers, "git", &sig, &message),
            "{spec}: other namespace"
        );
        // Printed on stdout without --out: the same kind of signature.
        let printed = cli.path(&format!("{name}.printed.sig"));
        fs::write(
            &printed,
            cli.ok([
                "sign",
                name,
                "--in",
                arg(&message),
                "--format",
                "sshsig",
                "--namespace",
                "file",
            ])
            .stdout,
        )
        .unwrap();
        assert!(
            verify_sshsig(&signers, "file", &printed, &message),
            "{spec}: stdout"
        );
        if spec.starts_with("rsa") {
            // As ssh-keygen signs: rsa-sha2-512.
            let info = run_tool(
                Command::new("ssh-keygen")
                    .args(["-Y", "check-novalidate", "-n", "file", "-s"])
                    .arg(&sig)
                    .stdin(fs::File::open(&message).unwrap()),
            );
            assert!(String::from_utf8_lossy(&info).contains("RSA"), "{spec}");
        }
    }
}

#[test]
fn sshsig_streams_a_pipe_larger_than_any_buffer() {
    // 40 MiB through a pipe: more than the 16 MiB a pure-Ed25519 pipe may hold, so this
    // passes only because SSHSIG reads the message once, through SHA-512.
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    let line = cli.ok(["ssh", "pubkey", "ed"]).text();
    let signers = allowed_signers(&cli, "ed", &line);
    let big = cli.path("big.bin");
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let mut data = Vec::new();
    for _ in 0..40 {
        data.extend_from_slice(&chunk);
    }
    fs::write(&big, &data).unwrap();
    let sig = cli.path("big.sig");
    let mut child = cli
        .command()
        .args([
            "sign",
            "ed",
            "--in",
            "-",
            "--format",
            "sshsig",
            "--namespace",
            "file",
        ])
        .args(["--out", arg(&sig)])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&data).unwrap();
    }
    assert!(child.wait().unwrap().success());
    assert!(verify_sshsig(&signers, "file", &sig, &big));
}

#[test]
fn sshsig_bad_arguments_are_refused() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    let msg = cli.file("m", b"x");
    let line = cli.fails(["sign", "ed", "--in", arg(&msg), "--format", "sshsig"], 4);
    assert!(line.contains("--namespace"), "{line}");
    cli.fails(
        [
            "sign",
            "ed",
            "--in",
            arg(&msg),
            "--format",
            "sshsig",
            "--namespace",
            "",
        ],
        4,
    );
    cli.fails(
        [
            "sign",
            "ed",
            "--in",
            arg(&msg),
            "--format",
            "sshsig",
            "--namespace",
            "a\u{7}b",
        ],
        4,
    );
    cli.fails(["sign", "ed", "--in", arg(&msg), "--namespace", "file"], 4);
    // The signature may not replace the file it signs.
    cli.fails(
        [
            "sign",
            "ed",
            "--in",
            arg(&msg),
            "--format",
            "sshsig",
            "--namespace",
            "file",
            "--out",
            arg(&msg),
        ],
        4,
    );
    assert_eq!(fs::read(&msg).unwrap(), b"x");
    // --json: a simple object with the armored signature.
    let v = cli.json([
        "sign",
        "ed",
        "--in",
        arg(&msg),
        "--format",
        "sshsig",
        "--namespace",
        "file",
    ]);
    assert_eq!(v["format"], "sshsig");
    assert_eq!(v["namespace"], "file");
    assert!(
        v["signature"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN SSH SIGNATURE-----")
    );
}
