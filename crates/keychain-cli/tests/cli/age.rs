//! `keychain age recipient` and `keychain age identity`: what they print decodes to the key's
//! location (and for RSA and ML-KEM to the public key `keychain pubkey` prints), age takes them with
//! the plugin on `PATH`, and keys that cannot wrap a file key are refused with exit 5.

use std::path::PathBuf;
use std::process::Command;

use age_plugin_keychain::{Identity, Recipient, Wrapping};

use crate::support::{Cli, arg, run_tool};

/// The plugin built next to the binary (`cargo build` and `cargo test --workspace` build
/// both; this crate's tests alone cannot ask cargo for another crate's binary).
pub(crate) fn plugin_dir() -> PathBuf {
    let keychain = PathBuf::from(env!("CARGO_BIN_EXE_keychain"));
    let dir = keychain
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    assert!(
        dir.join("age-plugin-keychain").exists(),
        "age-plugin-keychain is not built next to {}: run `cargo build -p age-plugin-keychain` \
         (or the workspace's tests, which build it)",
        keychain.display()
    );
    dir
}

#[test]
fn recipient_and_identity_name_the_key_and_hold_no_secret() {
    let cli = Cli::new();
    let sym = cli.create("files", "SYMMETRIC_DEFAULT", &[]);
    let rsa = cli.create("rsa", "RSA_3072", &["--usage", "ENCRYPT_DECRYPT"]);
    let kem = cli.create("kem", "ML_KEM_1024", &[]);
    let keystore = std::path::absolute(cli.keystore()).unwrap();
    let backend = format!("software:{}", keystore.display());
    for (name, key_id) in [("files", &sym), ("rsa", &rsa), ("kem", &kem)] {
        let line = cli.ok(["age", "recipient", name]).text();
        let recipient = Recipient::decode(line.trim()).unwrap();
        assert!(
            line.starts_with("age1keychain1") && line.ends_with('\n'),
            "{line}"
        );
        assert_eq!(recipient.backend, backend);
        assert_eq!(&recipient.key, key_id);
        match (&recipient.wrapping, name) {
            (Wrapping::Symmetric, "files") => {}
            (Wrapping::RsaOaepSha256 { public_key }, "rsa")
            | (Wrapping::MlKem { public_key }, "kem") => {
                let der = cli.ok(["pubkey", name, "--format", "der"]).stdout;
                assert_eq!(public_key, &der);
            }
            (other, _) => panic!("{name}: {other:?}"),
        }
        let line = cli.ok(["age", "identity", name]).text();
        assert!(line.starts_with("AGE-PLUGIN-KEYCHAIN-1"), "{line}");
        assert_eq!(Identity::decode(line.trim()).unwrap(), recipient.identity());
        // Neither string carries the password.
        assert!(!format!("{recipient:?}").contains(crate::support::PASSWORD));
        // --json: one object with the string; --out: the line in a private file.
        let v = cli.json(["age", "recipient", name]);
        assert_eq!(
            v["recipient"],
            cli.ok(["age", "recipient", name]).text().trim()
        );
        let out = cli.path(&format!("{name}.identity"));
        let v = cli.json(["age", "identity", name, "--out", arg(&out)]);
        assert_eq!(v["out"], arg(&out));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap().trim(),
            v["identity"].as_str().unwrap()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn age_takes_what_the_commands_print() {
    let cli = Cli::new();
    cli.create("files", "SYMMETRIC_DEFAULT", &[]);
    cli.create("rsa", "RSA_2048", &["--usage", "ENCRYPT_DECRYPT"]);
    cli.create("kem", "ML_KEM_768", &[]);
    let path = format!(
        "{}:{}",
        plugin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for name in ["files", "rsa", "kem"] {
        let recipient = cli.ok(["age", "recipient", name]).text();
        let identity = cli.path(&format!("{name}.identity"));
        cli.ok(["age", "identity", name, "--out", arg(&identity)]);
        let input = cli.file(&format!("{name}.txt"), b"age and keychain\n");
        let sealed = cli.path(&format!("{name}.age"));
        let age = |args: &[&str]| {
            let mut c = Command::new("age");
            c.env("PATH", &path)
                .env("KEYCHAIN_PASSWORD", crate::support::PASSWORD)
                .args(args);
            c
        };
        run_tool(&mut age(&[
            "-r",
            recipient.trim(),
            "-o",
            arg(&sealed),
            arg(&input),
        ]));
        let plain = run_tool(&mut age(&["-d", "-i", arg(&identity), arg(&sealed)]));
        assert_eq!(plain, b"age and keychain\n");
    }
}

#[test]
fn keys_that_cannot_wrap_a_file_key_are_refused() {
    let cli = Cli::new();
    cli.create("mac", "HMAC_256", &[]);
    cli.create("signer", "RSA_2048", &[]);
    cli.create("ed", "ED25519", &[]);
    for name in ["mac", "signer", "ed"] {
        for kind in ["recipient", "identity"] {
            let line = cli.fails(["age", kind, name], 5);
            assert!(line.contains("ENCRYPT_DECRYPT"), "{line}");
        }
    }
    cli.create("off", "SYMMETRIC_DEFAULT", &[]);
    cli.ok(["key", "disable", "off"]);
    let line = cli.fails(["age", "recipient", "off"], 6);
    assert!(line.to_lowercase().contains("disabled"), "{line}");
    cli.fails(["age", "recipient", "missing"], 3);
    // The identity file may not land inside the keystore.
    let inside = cli.keystore().join("id.txt");
    cli.create("files", "SYMMETRIC_DEFAULT", &[]);
    cli.fails(["age", "identity", "files", "--out", arg(&inside)], 4);
}
