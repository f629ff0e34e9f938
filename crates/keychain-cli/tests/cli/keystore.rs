//! The keystore as a whole: `keystore init`; read commands that create nothing at a mistyped
//! path and change nothing that is not ours; a keystore without its header (damaged: exit
//! 12, never re-initialised); one others can write or read (exit 8); a read-only one (signs,
//! verifies, decrypts; writes fail in one line).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use keychain_testkit::mount::Mount;

use crate::support::{Cli, PASSWORD, Run, arg, assert_one_error_line};

/// Runs `args` with the software keystore at `path`.
fn run_at(cli: &Cli, path: &Path, args: &[&str]) -> Run {
    let mut cmd = cli.command();
    cmd.env("KEYCHAIN_BACKEND", format!("software:{}", path.display()));
    cli.run_with(cmd, args)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn keystore_init_creates_a_keystore_once_and_only_where_nothing_is() {
    let cli = Cli::new();
    let ks = cli.keystore();
    let v = cli.json(["keystore", "init"]);
    assert_eq!(v["keystore"], arg(&ks));
    assert_eq!(mode(&ks), 0o700);
    assert_eq!(mode(&ks.join("keystore.json")), 0o600);
    assert_eq!(cli.ok(["key", "list"]).text(), "");
    let header = fs::read(ks.join("keystore.json")).unwrap();
    let line = cli.fails(["keystore", "init"], 9);
    assert!(line.contains(arg(&ks)), "{line}");
    assert_eq!(fs::read(ks.join("keystore.json")).unwrap(), header);

    // A directory with something else in it is not made a keystore.
    let docs = cli.path("docs");
    fs::create_dir(&docs).unwrap();
    fs::write(docs.join("notes.txt"), b"mine").unwrap();
    fs::set_permissions(&docs, fs::Permissions::from_mode(0o755)).unwrap();
    for args in [
        &["keystore", "init"][..],
        &["key", "create", "k", "--spec", "p256"],
    ] {
        let run = run_at(&cli, &docs, args);
        assert_one_error_line(&run, 4, &format!("{args:?} in a non-empty directory"));
        assert!(run.stderr.contains("not empty"), "{}", run.stderr);
    }
    assert_eq!(mode(&docs), 0o755);
    assert_eq!(fs::read_dir(&docs).unwrap().count(), 1);
}

#[test]
fn read_commands_at_a_mistyped_path_create_nothing() {
    let cli = Cli::new();
    let typo = cli.path("typo").join("ks");
    let msg = cli.file("msg", b"hello");
    let sig = cli.path("sig");
    for args in [
        &["key", "list"][..],
        &["key", "show", "k"],
        &["pubkey", "k"],
        &["sign", "k", "--in", arg(&msg), "--out", arg(&sig)],
        &["key", "alias", "list"],
    ] {
        let run = run_at(&cli, &typo, args);
        assert_one_error_line(&run, 3, &format!("{args:?}"));
        assert!(
            run.stderr
                .contains(&format!("no keystore at {}", typo.display()))
                && run.stderr.contains("keychain keystore init"),
            "{}",
            run.stderr
        );
    }
    assert!(!cli.path("typo").exists(), "a directory was created");
    assert!(!sig.exists());
    // A regular file given as the keystore: refused, its mode untouched.
    fs::set_permissions(&msg, fs::Permissions::from_mode(0o644)).unwrap();
    for args in [
        &["key", "list"][..],
        &["key", "create", "k", "--spec", "p256"],
    ] {
        let run = run_at(&cli, &msg, args);
        assert_one_error_line(&run, 4, "a file as the keystore");
        assert!(run.stderr.contains("not a directory"), "{}", run.stderr);
    }
    assert_eq!(mode(&msg), 0o644);
    assert_eq!(fs::read(&msg).unwrap(), b"hello");
}

#[test]
fn a_keystore_without_its_header_is_refused_never_reinitialised() {
    let cli = Cli::new();
    let ks = cli.keystore();
    let id = cli.create("signer", "p256", &[]);
    fs::remove_file(ks.join("keystore.json")).unwrap();
    for args in [
        &["key", "list"][..],
        &["key", "create", "other", "--spec", "p256"],
        &["keystore", "init"],
    ] {
        let line = cli.fails(args, 12);
        assert!(
            line.contains("keystore.json") && line.contains("openssl pkey"),
            "{line}"
        );
    }
    assert!(
        !ks.join("keystore.json").exists(),
        "the header was recreated"
    );
    assert_eq!(fs::read_dir(ks.join("keys")).unwrap().count(), 1);
    // The recovery the message names works: OpenSSL reads the key with the password.
    let pem = ks.join("keys").join(&id).join("v1.pem");
    keychain_testkit::openssl_opens_key_file(&pem, PASSWORD);
}

#[test]
fn a_keystore_others_can_write_or_read_is_refused_with_path_and_mode() {
    let cli = Cli::new();
    let ks = cli.keystore();
    cli.create("signer", "p256", &[]);
    for (path, bad) in [
        (ks.clone(), 0o777),
        (ks.clone(), 0o775),
        (ks.join("keystore.json"), 0o644),
    ] {
        let good = mode(&path);
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        let line = cli.fails(["key", "list"], 8);
        assert!(
            line.contains(arg(&path)) && line.contains(&format!("{bad:04o}")),
            "{line}"
        );
        assert_eq!(mode(&path), bad, "{} was chmod-ed", path.display());
        fs::set_permissions(&path, fs::Permissions::from_mode(good)).unwrap();
    }
    cli.ok(["key", "list"]);
}

/// What a keystore that cannot be written must still do, through `run`: sign, verify, decrypt
/// (into `out`), list and export a public key; and what it must refuse in one line saying it
/// is read-only: a new key, a state change, a tag.
fn reads_work_and_writes_fail(run: impl Fn(&[&str]) -> Run, msg: &Path, ct: &Path, out: &Path) {
    let (sig, pt) = (out.join("sig"), out.join("pt"));
    for args in [
        &["sign", "signer", "--in", arg(msg), "--out", arg(&sig)][..],
        &[
            "verify",
            "signer",
            "--in",
            arg(msg),
            "--signature",
            arg(&sig),
        ],
        &["decrypt", "--in", arg(ct), "--out", arg(&pt)],
        &["key", "list"],
        &["pubkey", "signer"],
    ] {
        let r = run(args);
        assert_eq!(
            r.code, 0,
            "{args:?} on a keystore that cannot be written: {}",
            r.stderr
        );
    }
    assert_eq!(fs::read(&pt).unwrap(), fs::read(msg).unwrap());
    for args in [
        &["key", "create", "new", "--spec", "p256"][..],
        &["key", "disable", "signer"],
        &["key", "tag", "signer", "a=b"],
    ] {
        let r = run(args);
        assert_one_error_line(
            &r,
            15,
            &format!("{args:?} on a keystore that cannot be written"),
        );
        assert!(r.stderr.contains("is read-only"), "{}", r.stderr);
    }
}

#[test]
fn a_read_only_keystore_signs_verifies_and_decrypts() {
    let cli = Cli::new();
    cli.create("signer", "p256", &[]);
    cli.create("data", "aes-256", &[]);
    let msg = cli.file("msg", b"read-only keystore");
    let ct = cli.path("ct");
    cli.ok(["encrypt", "data", "--in", arg(&msg), "--out", arg(&ct)]);
    let ro = cli.path("ro");
    fs::create_dir(&ro).unwrap();
    let Some(_mount) = Mount::read_only(&cli.keystore(), &ro) else {
        return;
    };
    let out = cli.path("out");
    fs::create_dir(&out).unwrap();
    reads_work_and_writes_fail(|args| run_at(&cli, &ro, args), &msg, &ct, &out);
}

/// `chmod -R u-w` on a keystore of another user (root ignores mode bits, so the binary runs
/// as `nobody` through setpriv): it still signs, verifies and decrypts; changes fail in one
/// line; nothing is chmod-ed back.
#[test]
fn a_keystore_without_write_permission_still_serves_reads() {
    let cli = Cli::new();
    cli.create("signer", "p256", &[]);
    cli.create("data", "aes-256", &[]);
    let msg = cli.file("msg", b"no write permission");
    let ct = cli.path("ct");
    cli.ok(["encrypt", "data", "--in", arg(&msg), "--out", arg(&ct)]);
    let ks = cli.keystore();
    let top = ks.parent().unwrap();
    let out = cli.path("out");
    fs::create_dir(&out).unwrap();
    let nobody = "65534";
    for (args, path) in [
        (&["chmod", "0755"][..], top),
        (&["chmod", "0644"], msg.as_path()),
        (&["chmod", "0644"], ct.as_path()),
        (&["chown", "-R", nobody], ks.as_path()),
        (&["chown", nobody], out.as_path()),
        (&["chmod", "-R", "u-w"], ks.as_path()),
    ] {
        let status = std::process::Command::new(args[0])
            .args(&args[1..])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "{args:?} {}", path.display());
    }
    let modes_now = || [&ks, &ks.join("keys"), &ks.join("keystore.json")].map(|p| mode(p));
    let modes = modes_now();
    assert_eq!(modes, [0o500, 0o500, 0o400]);
    let as_nobody = |args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args([
            "--reuid",
            nobody,
            "--regid",
            nobody,
            "--clear-groups",
            env!("CARGO_BIN_EXE_keychain"),
        ])
        .env("KEYCHAIN_BACKEND", format!("software:{}", ks.display()))
        .env("KEYCHAIN_PASSWORD", PASSWORD)
        .env("RUST_BACKTRACE", "1")
        .env_remove("KEYCHAIN_HOME")
        .stdin(std::process::Stdio::null());
        cli.run_with(cmd, args)
    };
    reads_work_and_writes_fail(as_nobody, &msg, &ct, &out);
    assert_eq!(modes_now(), modes, "a mode changed");
    // Let the temporary directory be removed.
    let _ = std::process::Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&ks)
        .status();
}
