//! Output files: an output never overwrites an input of the same command; a regular file is
//! replaced atomically, anything else (`-`, a FIFO, a device) is written in place and stays
//! what it was.

use std::fs;
use std::path::Path;
use std::process::Stdio;

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
