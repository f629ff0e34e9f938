//! Output files: an output never overwrites an input of the same command; a regular file is
//! replaced atomically, anything else (`-`, a FIFO, a device) is written in place and stays
//! what it was.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{Cli, arg, assert_one_error_line};

/// Runs `args` expecting the refusal: exit 4, one line naming both files, `input` unchanged.
/// The password is wrong, so the refusal provably comes before the keystore is even opened
/// (else this would be 7).
fn refused(cli: &Cli, args: &[&str], input: &Path, names: [&str; 2]) {
    let before = fs::read(input).unwrap();
    let mut cmd = cli.command();
    cmd.env("KEYCHAIN_PASSWORD", "not the password");
    let run = cli.run_with(cmd, args);
    assert_one_error_line(&run, 4, &format!("{args:?}"));
    for name in names {
        assert!(run.stderr.contains(name), "{args:?}: {}", run.stderr);
    }
    assert_eq!(
        fs::read(input).unwrap(),
        before,
        "{args:?} changed its input"
    );
}

#[test]
fn an_output_that_is_an_input_is_refused_before_anything_is_read() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    cli.create("h", "HMAC_256", &[]);
    cli.create("s", "aes-256", &[]);
    let data = cli.file("data.txt", b"the only copy");
    let d = arg(&data);

    refused(
        &cli,
        &["sign", "k", "--in", d, "--out", d],
        &data,
        ["--out", "--in"],
    );
    refused(
        &cli,
        &["sign", "k", "--in", d, "--bundle", d],
        &data,
        ["--bundle", "--in"],
    );
    refused(
        &cli,
        &["mac", "h", "--in", d, "--out", d],
        &data,
        ["--out", "--in"],
    );
    refused(
        &cli,
        &["encrypt", "s", "--in", d, "--out", d],
        &data,
        ["--out", "--in"],
    );
    refused(
        &cli,
        &["decrypt", "--in", d, "--out", d],
        &data,
        ["--out", "--in"],
    );

    // Another spelling of the same path, a hard link, a symbolic link either way.
    let dotted = cli.path(".").join("data.txt");
    let dotted = dotted.to_str().unwrap().replace("/data.txt", "/./data.txt");
    refused(
        &cli,
        &["sign", "k", "--in", d, "--out", &dotted],
        &data,
        ["--out", "--in"],
    );
    let hard = cli.path("hard.txt");
    fs::hard_link(&data, &hard).unwrap();
    refused(
        &cli,
        &["sign", "k", "--in", arg(&hard), "--out", d],
        &data,
        ["hard.txt", "data.txt"],
    );
    let soft = cli.path("soft.txt");
    std::os::unix::fs::symlink(&data, &soft).unwrap();
    refused(
        &cli,
        &["sign", "k", "--in", d, "--out", arg(&soft)],
        &data,
        ["soft.txt", "data.txt"],
    );
    refused(
        &cli,
        &["decrypt", "--in", arg(&soft), "--out", d],
        &data,
        ["soft.txt", "data.txt"],
    );

    // Two outputs of one command are two files.
    let sig = cli.file("sig", b"old signature");
    refused(
        &cli,
        &[
            "sign",
            "k",
            "--in",
            d,
            "--out",
            arg(&sig),
            "--bundle",
            arg(&sig),
        ],
        &sig,
        ["--out", "--bundle"],
    );

    // Standard input redirected from the output file.
    let mut cmd = cli.command();
    cmd.stdin(Stdio::from(fs::File::open(&data).unwrap()));
    let run = cli.run_with(cmd, ["sign", "k", "--in", "-", "--out", d]);
    assert_one_error_line(&run, 4, "sign --in - --out data < data");
    assert_eq!(fs::read(&data).unwrap(), b"the only copy");

    // The certificate commands: an issued certificate over the CA's own certificate.
    let ca = cli.path("ca.pem");
    cli.ok(["cert", "ca", "k", "--subject", "CN=Root", "--out", arg(&ca)]);
    refused(
        &cli,
        &[
            "cert",
            "issue",
            "k",
            "--key",
            "k",
            "--subject",
            "CN=x",
            "--ca-cert",
            arg(&ca),
            "--out",
            arg(&ca),
        ],
        &ca,
        ["--out", "--ca-cert"],
    );
    refused(
        &cli,
        &["cert", "crl", "k", "--ca-cert", arg(&ca), "--out", arg(&ca)],
        &ca,
        ["--out", "--ca-cert"],
    );

    // Different files still work, and `--in -` with `--out -` are two streams.
    let other = cli.path("data.sig");
    cli.ok(["sign", "k", "--in", d, "--out", arg(&other)]);
    cli.ok(["verify", "k", "--in", d, "--signature", arg(&other)]);
}

#[test]
fn dash_is_standard_output() {
    let cli = Cli::new();
    cli.create("s", "aes-256", &[]);
    cli.create("k", "p256", &[]);
    let secret: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let pt = cli.file("pt", &secret);
    let ct = cli.path("ct");
    cli.ok(["encrypt", "s", "--in", arg(&pt), "--out", arg(&ct)]);

    // Plaintext into a pipe, and no file named `-` anywhere.
    let mut cmd = cli.command();
    cmd.current_dir(cli.path("."));
    let run = cli.run_with(cmd, ["decrypt", "--in", arg(&ct), "--out", "-"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout == secret,
        "decrypt --out - printed the plaintext"
    );
    let mut cmd = cli.command();
    cmd.current_dir(cli.path("."));
    let run = cli.run_with(cmd, ["sign", "k", "--in", arg(&pt), "--out", "-"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let sig = cli.file("sig.der", &run.stdout);
    cli.ok(["verify", "k", "--in", arg(&pt), "--signature", arg(&sig)]);
    assert!(!cli.path("-").exists(), "a file named - was written");

    // `--out -` and `--json` would mix on stdout: refused.
    // (With --json the error object is on stdout as well.)
    let run = cli.run(["--json", "sign", "k", "--in", arg(&pt), "--out", "-"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("--json"), "{}", run.stderr);
    assert!(run.text().contains("\"invalid_input\""), "{}", run.text());
}

/// A character device stays one. As root the test makes its own null device (`mknod`), so a
/// binary that still renames over its output cannot replace the system's `/dev/null`; without
/// that right it uses `/dev/null`, which it could then not replace anyway.
#[test]
fn dev_null_stays_a_character_device() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let data = cli.file("data", b"x");
    let own = cli.path("null");
    let made = Command::new("mknod")
        .args([arg(&own), "c", "1", "3"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let null = if made { own } else { "/dev/null".into() };
    cli.ok(["sign", "k", "--in", arg(&data), "--out", arg(&null)]);
    cli.ok(["pubkey", "k", "--out", arg(&null)]);
    let kind = fs::symlink_metadata(&null).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "{} was replaced: {kind:?}",
        null.display()
    );
    let leftovers: Vec<_> = fs::read_dir(null.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".keychain-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_fifo_stays_a_fifo_and_its_reader_gets_the_bytes() {
    let cli = Cli::new();
    cli.create("s", "aes-256", &[]);
    let secret: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let pt = cli.file("pt", &secret);
    let ct = cli.path("ct");
    cli.ok(["encrypt", "s", "--in", arg(&pt), "--out", arg(&ct)]);
    let fifo = cli.path("plain.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());

    let (tx, rx) = mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(fs::read(&reader_path));
    });
    let run = cli.run(["decrypt", "--in", arg(&ct), "--out", arg(&fifo)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the FIFO's reader got nothing: the FIFO was replaced")
        .unwrap();
    assert!(got == secret, "the reader got {} bytes", got.len());
    let kind = fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
}

#[test]
fn through_a_symbolic_link_the_target_is_replaced_and_the_link_kept() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let data = cli.file("data", b"signed through a link");
    fs::create_dir(cli.path("real")).unwrap();
    let real = cli.file("real/data.sig", b"old");
    let link = cli.path("data.sig");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    cli.ok(["sign", "k", "--in", arg(&data), "--out", arg(&link)]);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_ne!(fs::read(&real).unwrap(), b"old");
    cli.ok(["verify", "k", "--in", arg(&data), "--signature", arg(&real)]);
    for dir in [cli.path("."), cli.path("real")] {
        let names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    // A link to nothing is not followed into creating a file; a directory is no output.
    let dangling = cli.path("dangling.sig");
    std::os::unix::fs::symlink(cli.path("nowhere/x"), &dangling).unwrap();
    let line = cli.fails(
        ["sign", "k", "--in", arg(&data), "--out", arg(&dangling)],
        4,
    );
    assert!(line.contains("missing file"), "{line}");
    let line = cli.fails(
        [
            "sign",
            "k",
            "--in",
            arg(&data),
            "--out",
            arg(&cli.path("real")),
        ],
        4,
    );
    assert!(line.contains("directory"), "{line}");
    let socket = cli.path("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let line = cli.fails(["sign", "k", "--in", arg(&data), "--out", arg(&socket)], 4);
    assert!(line.contains("socket"), "{line}");
    assert!(
        fs::symlink_metadata(&socket)
            .unwrap()
            .file_type()
            .is_socket()
    );
}

/// What a hostile review found after the first round: an output inside the keystore (a key
/// file, `keystore.json`), `--out -` with standard output redirected onto the input, and two
/// inputs from standard input are refused (exit 4) with every file as it was; `--out
/// /dev/stdout` writes through the inherited descriptor, so the shell's offset moves with it.
#[test]
fn keystore_files_and_redirected_standard_streams_are_never_overwritten() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    cli.create("s", "aes-256", &[]);
    let data = cli.file("data.txt", b"the only copy");
    let d = arg(&data);

    // Every file of the keystore, the header and each key file, through any spelling.
    let keystore = cli.keystore();
    let header = keystore.join("keystore.json");
    let mut key_files = Vec::new();
    for entry in fs::read_dir(keystore.join("keys")).unwrap() {
        for file in fs::read_dir(entry.unwrap().path()).unwrap() {
            key_files.push(file.unwrap().path());
        }
    }
    assert!(!key_files.is_empty(), "no key files found in the keystore");
    let dotted = keystore.join("keys").join("..").join("keystore.json");
    let new_inside = keystore.join("keys").join("new-file");
    for target in key_files.iter().chain([&header, &dotted, &new_inside]) {
        let before = fs::read(target).ok();
        let run = cli.run(["sign", "k", "--in", d, "--out", arg(target)]);
        assert_one_error_line(&run, 4, &format!("sign --out {}", target.display()));
        assert!(run.stderr.contains("keystore"), "{}", run.stderr);
        assert_eq!(
            fs::read(target).ok(),
            before,
            "{} changed",
            target.display()
        );
    }
    cli.ok(["sign", "k", "--in", d, "--out", arg(&cli.path("data.sig"))]);

    // `--out -` with standard output opened onto the input (`1<> data`, `>> data`).
    for append in [false, true] {
        let mut cmd = cli.command();
        let stdout = fs::OpenOptions::new()
            .read(!append)
            .write(!append)
            .append(append)
            .open(&data)
            .unwrap();
        cmd.stdout(Stdio::from(stdout));
        let run = cli.run_with(cmd, ["encrypt", "s", "--in", d, "--out", "-"]);
        assert_eq!(
            run.code, 4,
            "encrypt --out - onto its input: {}",
            run.stderr
        );
        assert_eq!(fs::read(&data).unwrap(), b"the only copy");
    }

    // Two inputs from standard input.
    let sig = cli.path("data.sig");
    let mut cmd = cli.command();
    cmd.stdin(Stdio::from(fs::File::open(&data).unwrap()));
    let run = cli.run_with(cmd, ["verify", "k", "--in", "-", "--signature", "-"]);
    assert_one_error_line(&run, 4, "verify --in - --signature -");
    cli.ok(["verify", "k", "--in", d, "--signature", arg(&sig)]);

    // `--out /dev/stdout` into a file the shell keeps writing: what follows the signature
    // comes after it, not over it.
    let log = cli.path("log.txt");
    let script = format!(
        "{{ echo before; '{}' sign k --in '{d}' --out /dev/stdout --encoding base64; echo after; }} > '{}'",
        env!("CARGO_BIN_EXE_keychain"),
        log.display()
    );
    // The shell gets the environment the test kit gives the binary (password, backend).
    let env = cli.command();
    let status = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .envs(env.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    assert_eq!((lines[0], lines[2]), ("before", "after"), "{text:?}");
    // A DER ECDSA signature (SEQUENCE, 0x30 0x43..0x46) in base64: "ME" and ~96 characters.
    assert!(
        lines[1].starts_with("ME") && lines[1].len() > 80,
        "{text:?}"
    );
}
