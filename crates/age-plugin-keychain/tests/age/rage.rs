//! rage, the Rust implementation of age (from crates.io: `cargo install rage`, which
//! scripts/test.sh does when it is missing), runs the same plugin: files it encrypts to our
//! recipients open with Debian's age and the reverse, for a symmetric, an RSA and an ML-KEM
//! key, and a refusal reaches rage's user as the plugin's message. sops is in none of the package
//! sources here (docs/AGE.md), so rage is the second client judging the plugin.

use std::process::Command;

use keychain::{CreateKeyRequest, KeyParams, KeySpec, KeyUsage};

use crate::support::{Setup, assert_ok, assert_refused, decrypt, encrypt, pattern, stanzas};

/// `rage` (`KEYCHAIN_TEST_RAGE`, else the one on `PATH`, else cargo's bin directory) with the
/// plugin on `PATH` and the keystore password, as [`Setup::age`] runs age.
fn rage(setup: &Setup) -> Command {
    let program = std::env::var("KEYCHAIN_TEST_RAGE").unwrap_or_else(|_| {
        let on_path = std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .map(|d| std::path::Path::new(d).join("rage"))
            .find(|p| p.is_file());
        let home = std::env::var("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|_| std::env::var("HOME").map(|h| std::path::Path::new(&h).join(".cargo")))
            .unwrap_or_default();
        on_path
            .unwrap_or_else(|| home.join("bin").join("rage"))
            .display()
            .to_string()
    });
    let mut c = Command::new(&program);
    let age = setup.age();
    for (key, value) in age.get_envs() {
        match value {
            Some(v) => c.env(key, v),
            None => c.env_remove(key),
        };
    }
    c.current_dir(setup.dir.path());
    c
}

fn output(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} (is rage installed? scripts/test.sh installs it): {e}")
    })
}

#[tokio::test]
async fn rage_and_age_open_each_others_files() {
    let setup = Setup::new();
    let params = |name: &str, params: &KeyParams| {
        CreateKeyRequest::from_params(name, params).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    for (name, request) in [
        ("sym", params("sym", &KeyParams::symmetric())),
        (
            "rsa",
            params(
                "rsa",
                &KeyParams::rsa(2048).with_usage(KeyUsage::EncryptDecrypt),
            ),
        ),
        // The ML-KEM stanza: rage runs the plugin's local encapsulation when encrypting and
        // its backend decapsulation when decrypting.
        ("kem", CreateKeyRequest::new(KeySpec::MlKem768).name("kem")),
    ] {
        let (recipient, identity) = setup.create(name, &request).await;
        let input = setup.path(&format!("{name}.in"));
        let data = pattern(70_000);
        std::fs::write(&input, &data).unwrap_or_else(|e| panic!("{e}"));

        // rage encrypts, age decrypts.
        let by_rage = setup.path(&format!("{name}.rage.age"));
        assert_ok(
            &output(
                rage(&setup)
                    .args(["-r", &recipient, "-o"])
                    .arg(&by_rage)
                    .arg(&input),
            ),
            "rage -e",
        );
        // rage wrote one stanza of ours, of the key's kind (and a random "grease" stanza,
        // which identities skip).
        let found: Vec<_> = stanzas(&by_rage)
            .into_iter()
            .filter(|(args, _)| args[0] == "keychain")
            .collect();
        let kind = match name {
            "sym" => "aes",
            "rsa" => "rsa-oaep-sha256",
            _ => "mlkem-hkdf-sha256-chacha20poly1305",
        };
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(found[0].0[..2], ["keychain", kind], "{name}");
        let opened = setup.path(&format!("{name}.by-age"));
        assert_ok(&decrypt(&setup, &identity, &by_rage, &opened), "age -d");
        assert!(std::fs::read(&opened).unwrap_or_default() == data, "{name}");

        // age encrypts, rage decrypts.
        let by_age = setup.path(&format!("{name}.age.age"));
        assert_ok(&encrypt(&setup, &[&recipient], &input, &by_age), "age -e");
        let opened = setup.path(&format!("{name}.by-rage"));
        assert_ok(
            &output(
                rage(&setup)
                    .args(["-d", "-i"])
                    .arg(&identity)
                    .arg("-o")
                    .arg(&opened)
                    .arg(&by_age),
            ),
            "rage -d",
        );
        assert!(std::fs::read(&opened).unwrap_or_default() == data, "{name}");

        // A wrong password: rage fails with the plugin's message and writes nothing.
        let refused = setup.path(&format!("{name}.refused"));
        let result = output(
            rage(&setup)
                .env("KEYCHAIN_PASSWORD", "not the password")
                .args(["-d", "-i"])
                .arg(&identity)
                .arg("-o")
                .arg(&refused)
                .arg(&by_age),
        );
        assert_refused(&result, &refused, &["password"]);
    }
}
