//! `keychain keystore passwd`: every key re-encrypted under the new password (OpenSSL opens
//! the key files with it; old ciphertexts decrypt, public keys are unchanged), the old
//! password refused afterwards, and SIGKILL at random moments of a change never leaves a
//! keystore where neither password works or where keys disagree on which one does.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Cli, PASSWORD, Run, arg, assert_one_error_line, run_tool};

/// The binary with the keystore password in the first line of `password_file`.
fn with_file(cli: &Cli, password_file: &Path) -> Command {
    let mut cmd = cli.command();
    cmd.env_remove("KEYCHAIN_PASSWORD")
        .env("KEYCHAIN_PASSWORD_FILE", password_file);
    cmd
}

fn run_as(cli: &Cli, password_file: &Path, args: &[&str]) -> Run {
    cli.run_with(with_file(cli, password_file), args)
}

/// Every file under the keystore, for "nothing left behind" checks.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// What the keys must still do after a change: each signing key's public key, and a
/// ciphertext of the symmetric key with its plaintext.
struct Expected {
    public_keys: BTreeMap<String, String>,
    ciphertext: PathBuf,
    plaintext: Vec<u8>,
}

/// Keys of several kinds (a symmetric key with two material versions), and what they give.
fn populate(cli: &Cli, signing: usize) -> Expected {
    let mut public_keys = BTreeMap::new();
    let specs = ["p256", "ed25519", "secp256k1", "p384"];
    for i in 0..signing {
        let name = format!("s{i}");
        cli.create(&name, specs[i % specs.len()], &[]);
        public_keys.insert(name.clone(), cli.pubkey_pem(&name));
    }
    cli.create("rsa", "rsa-2048", &[]);
    public_keys.insert("rsa".into(), cli.pubkey_pem("rsa"));
    cli.create("mac", "hmac-256", &[]);
    cli.create("data", "aes-256", &[]);
    let plaintext = b"encrypted before the password changed".to_vec();
    let input = cli.file("plain", &plaintext);
    let ciphertext = cli.path("old.enc");
    cli.ok([
        "encrypt",
        "data",
        "--in",
        arg(&input),
        "--out",
        arg(&ciphertext),
    ]);
    cli.ok(["key", "rotate", "data"]);
    Expected {
        public_keys,
        ciphertext,
        plaintext,
    }
}

/// Every key works with the password in `file`: same public keys, the old ciphertext
/// decrypts, a new signature verifies in OpenSSL.
fn check_keys(cli: &Cli, file: &Path, expected: &Expected) {
    for (name, pem) in &expected.public_keys {
        let run = run_as(cli, file, &["pubkey", name]);
        assert_eq!(run.code, 0, "pubkey {name}: {}", run.stderr);
        assert_eq!(&run.text(), pem, "{name}'s public key changed");
    }
    let out = cli.path("decrypted");
    let _ = fs::remove_file(&out);
    let run = run_as(
        cli,
        file,
        &[
            "decrypt",
            "--in",
            arg(&expected.ciphertext),
            "--out",
            arg(&out),
        ],
    );
    assert_eq!(run.code, 0, "decrypt: {}", run.stderr);
    assert_eq!(fs::read(&out).unwrap(), expected.plaintext);
    let data = cli.file("to-sign", b"signed after the change");
    let sig = cli.path("sig");
    let _ = fs::remove_file(&sig);
    let run = run_as(
        cli,
        file,
        &["sign", "rsa", "--in", arg(&data), "--out", arg(&sig)],
    );
    assert_eq!(run.code, 0, "sign: {}", run.stderr);
    let pem = cli.file("rsa.pem", expected.public_keys["rsa"].as_bytes());
    run_tool(
        Command::new("openssl")
            .args(["dgst", "-sha256", "-verify"])
            .arg(&pem)
            .arg("-signature")
            .arg(&sig)
            .arg(&data),
    );
}

#[test]
fn passwd_re_encrypts_every_key_and_the_old_password_stops_working() {
    let cli = Cli::new();
    let expected = populate(&cli, 2);
    let old = cli.file("old-pw", format!("{PASSWORD}\n").as_bytes());
    let new = cli.file("new-pw", b"a new password, also not a secret\n");
    let run = run_as(
        &cli,
        &old,
        &[
            "--json",
            "keystore",
            "passwd",
            "--new-password-file",
            arg(&new),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["password_changed"], true);

    assert_one_error_line(
        &run_as(&cli, &old, &["pubkey", "s0"]),
        7,
        "the old password",
    );
    check_keys(&cli, &new, &expected);
    // OpenSSL opens every key file with the new password, none with the old.
    let pems: Vec<PathBuf> = files(&cli.keystore())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    assert!(pems.len() >= 6, "{pems:?}");
    for pem in pems
        .iter()
        .filter(|p| fs::read_to_string(p).is_ok_and(|t| t.contains("BEGIN ENCRYPTED PRIVATE KEY")))
    {
        let opened = |pw: &Path| {
            Command::new("openssl")
                .args(["pkey", "-noout", "-in"])
                .arg(pem)
                .arg("-passin")
                .arg(format!("file:{}", arg(pw)))
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success()
        };
        assert!(
            opened(&new),
            "OpenSSL cannot open {} with the new password",
            pem.display()
        );
        assert!(
            !opened(&old),
            "{} still opens with the old password",
            pem.display()
        );
    }
    // Nothing of the change is left.
    let left: Vec<_> = files(&cli.keystore())
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".next") || name == "passwd.json"
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn passwd_refusals_change_nothing() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let old = cli.file("old-pw", format!("{PASSWORD}\n").as_bytes());
    let before: BTreeMap<PathBuf, Vec<u8>> = files(&cli.keystore())
        .into_iter()
        .map(|p| (p.clone(), fs::read(&p).unwrap()))
        .collect();
    let empty = cli.file("empty", b"\n");
    assert_one_error_line(
        &run_as(
            &cli,
            &old,
            &["keystore", "passwd", "--new-password-file", arg(&empty)],
        ),
        4,
        "an empty new password",
    );
    let wrong = cli.file("wrong", b"wrong\n");
    let new = cli.file("new", b"new password\n");
    assert_one_error_line(
        &run_as(
            &cli,
            &wrong,
            &["keystore", "passwd", "--new-password-file", arg(&new)],
        ),
        7,
        "passwd with a wrong current password",
    );
    // No terminal and no file: nothing to ask.
    assert_one_error_line(
        &run_as(&cli, &old, &["keystore", "passwd"]),
        4,
        "passwd without a new password",
    );
    let after: BTreeMap<PathBuf, Vec<u8>> = files(&cli.keystore())
        .into_iter()
        .map(|p| (p.clone(), fs::read(&p).unwrap()))
        .collect();
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &before {
        if !path.ends_with(".lock") {
            assert_eq!(&after[path], bytes, "{} changed", path.display());
        }
    }
}

/// SIGKILL at random moments of `keystore passwd`, again and again, alternating between two
/// passwords: after each kill exactly one of them opens the keystore, and with it every key
/// works as before.
#[test]
fn sigkill_during_passwd_leaves_one_password_working_for_every_key() {
    let cli = Cli::new();
    let expected = populate(&cli, 12);
    let pw_a = cli.file("pw-a", format!("{PASSWORD}\n").as_bytes());
    let pw_b = cli.file("pw-b", b"the other password\n");
    let iterations: u32 = std::env::var("KEYCHAIN_PASSWD_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);

    // How long one uninterrupted change takes, to spread the kills over it.
    let start = Instant::now();
    let run = run_as(
        &cli,
        &pw_a,
        &["keystore", "passwd", "--new-password-file", arg(&pw_b)],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let span = start.elapsed().max(Duration::from_millis(5));
    let mut current = pw_b.clone();
    let mut killed_mid_way = 0;
    for i in 0..iterations {
        let other = if current == pw_a {
            pw_b.clone()
        } else {
            pw_a.clone()
        };
        let mut child = with_file(&cli, &current)
            .args(["keystore", "passwd", "--new-password-file", arg(&other)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // A moment in [0, 1.2 × span), spread evenly over the iterations.
        let at = span.mul_f64(1.2 * f64::from(i) / f64::from(iterations));
        std::thread::sleep(at);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_way += 1;
        }
        let opens = |pw: &Path| run_as(&cli, pw, &["key", "list"]);
        let (with_current, with_other) = (opens(&current), opens(&other));
        match (with_current.code, with_other.code) {
            (0, 7) => {}
            (7, 0) => current = other,
            codes => panic!(
                "after a kill at {at:?}: exit codes with the two passwords {codes:?}: {} / {}",
                with_current.stderr, with_other.stderr
            ),
        }
        check_keys(&cli, &current, &expected);
    }
    assert!(killed_mid_way > 0, "no kill landed before the change ended");
}
