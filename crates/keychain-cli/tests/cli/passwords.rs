//! Where the keystore password comes from: `--password-file` / `KEYCHAIN_PASSWORD_FILE` and
//! `--password-fd` (the first line, as OpenSSL's `-passin file:`/`fd:` read it: OpenSSL opens
//! our key files with the same password file), `KEYCHAIN_PASSWORD`, and a prompt on a terminal
//! (driven through a real pseudo-terminal by Python's `pty`), asked twice for a new keystore.

use std::fs;
use std::process::Command;

use crate::support::{Cli, PASSWORD, Run, arg, assert_one_error_line, run_tool};

/// The binary with no password in its environment.
fn bare(cli: &Cli) -> Command {
    let mut cmd = cli.command();
    cmd.env_remove("KEYCHAIN_PASSWORD");
    cmd
}

fn run_bare(cli: &Cli, args: &[&str]) -> Run {
    cli.run_with(bare(cli), args)
}

/// A key file of the keystore (PKCS#8, encrypted under the keystore password).
fn key_file(cli: &Cli) -> std::path::PathBuf {
    let keys = cli.keystore().join("keys");
    let dir = fs::read_dir(&keys).unwrap().next().unwrap().unwrap().path();
    fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pem"))
        .unwrap_or_else(|| panic!("no key file in {}", dir.display()))
}

#[test]
fn a_password_file_opens_the_keystore_and_openssl_reads_the_keys_with_it() {
    let cli = Cli::new();
    // CRLF line end and a second line: only the first line is the password.
    let file = cli.file("pw", format!("{PASSWORD}\r\nnot the password\n").as_bytes());
    let run = run_bare(
        &cli,
        &[
            "--password-file",
            arg(&file),
            "key",
            "create",
            "k",
            "--spec",
            "p256",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let listed = run_bare(&cli, &["--password-file", arg(&file), "key", "list"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.text().contains("k"), "{}", listed.text());

    // The same file through the environment.
    let mut cmd = bare(&cli);
    cmd.env("KEYCHAIN_PASSWORD_FILE", &file);
    let run = cli.run_with(cmd, ["pubkey", "k"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    // OpenSSL reads the key file with the same password file.
    let lf = cli.file("pw-openssl", format!("{PASSWORD}\n").as_bytes());
    let der = run_tool(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-passin"])
            .arg(format!("file:{}", arg(&lf)))
            .arg("-in")
            .arg(key_file(&cli)),
    );
    assert_eq!(String::from_utf8(der).unwrap(), run.text());
}

#[test]
fn a_password_fd_is_read_like_openssl_passin_fd() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let file = cli.file("pw", format!("{PASSWORD}\n").as_bytes());
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        "exec \"$0\" --password-fd 3 pubkey k 3<\"$1\"",
        env!("CARGO_BIN_EXE_keychain"),
        arg(&file),
    ]);
    for (k, v) in bare(&cli).get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), cli.pubkey_pem("k"));

    // A descriptor that is not open: one line, exit 15 (an I/O failure), nothing created.
    let run = run_bare(&cli, &["--password-fd", "9", "pubkey", "k"]);
    assert_one_error_line(&run, 15, "--password-fd 9 (not open)");
    assert!(run.stderr.contains("--password-fd 9"), "{}", run.stderr);
}

#[test]
fn a_wrong_empty_or_missing_password_file_fails_in_one_line() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let wrong = cli.file("wrong", b"not the password\n");
    assert_one_error_line(
        &run_bare(&cli, &["--password-file", arg(&wrong), "pubkey", "k"]),
        7,
        "wrong password file",
    );
    let empty = cli.file("empty", b"\n");
    let run = run_bare(&cli, &["--password-file", arg(&empty), "pubkey", "k"]);
    assert_one_error_line(&run, 4, "empty password file");
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    let missing = cli.path("missing");
    assert_one_error_line(
        &run_bare(&cli, &["--password-file", arg(&missing), "pubkey", "k"]),
        15,
        "missing password file",
    );
    let dir = cli.path("a-dir");
    fs::create_dir(&dir).unwrap();
    assert_one_error_line(
        &run_bare(&cli, &["--password-file", arg(&dir), "pubkey", "k"]),
        4,
        "a directory as password file",
    );
    let huge = cli.file("huge", &vec![b'x'; 100_000]);
    assert_one_error_line(
        &run_bare(&cli, &["--password-file", arg(&huge), "pubkey", "k"]),
        4,
        "a password file with no line break",
    );
    // Both sources at once is a usage error.
    let both = run_bare(
        &cli,
        &[
            "--password-file",
            arg(&wrong),
            "--password-fd",
            "0",
            "pubkey",
            "k",
        ],
    );
    assert_one_error_line(&both, 2, "--password-file with --password-fd");
}

#[test]
fn no_output_may_replace_the_password_file() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let pw = format!("{PASSWORD}\n");
    let file = cli.file("pw", pw.as_bytes());
    let input = cli.file("in", b"data");
    let run = run_bare(
        &cli,
        &[
            "--password-file",
            arg(&file),
            "sign",
            "k",
            "--in",
            arg(&input),
            "--out",
            arg(&file),
        ],
    );
    assert_one_error_line(&run, 4, "sign --out onto the password file");
    assert_eq!(fs::read_to_string(&file).unwrap(), pw);
}

#[test]
fn without_a_password_or_a_terminal_the_error_names_every_way_to_give_one() {
    let cli = Cli::new();
    cli.create("k", "p256", &[]);
    let run = run_bare(&cli, &["pubkey", "k"]);
    assert_one_error_line(&run, 4, "no password");
    for way in [
        "KEYCHAIN_PASSWORD",
        "--password-file",
        "--password-fd",
        "terminal",
    ] {
        assert!(run.stderr.contains(way), "{way}: {}", run.stderr);
    }
}

/// Runs keychain on a pseudo-terminal (Python's `pty`), typing `answers` at each password
/// prompt. Returns the exit code and everything the terminal showed.
fn on_terminal(cli: &Cli, args: &[&str], answers: &[&str]) -> (i32, String) {
    let program = r#"
import os, pty, sys, json, termios, time
args, answers = json.loads(sys.argv[1]), json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execv(args[0], args)
seen, typed = b"", 0
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    prompts = seen.count(b"Password for the keystore") + seen.count(b"Again, to confirm")
    while typed < prompts and typed < len(answers):
        # Type only once the program has turned echo off (as a person would, later): the
        # terminal's own state says whether what is typed would show.
        deadline = time.time() + 5
        while termios.tcgetattr(fd)[3] & termios.ECHO and time.time() < deadline:
            time.sleep(0.01)
        os.write(fd, answers[typed].encode() + b"\n")
        typed += 1
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let mut full = vec![env!("CARGO_BIN_EXE_keychain").to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    let python = std::env::var("KEYCHAIN_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut py = Command::new(python);
    py.args([
        "-c",
        program,
        &serde_json::to_string(&full).unwrap(),
        &serde_json::to_string(answers).unwrap(),
    ]);
    // The environment of the binary without a password.
    for (k, v) in bare(cli).get_envs() {
        match v {
            Some(v) => py.env(k, v),
            None => py.env_remove(k),
        };
    }
    let out = py.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_is_asked_once_to_open_and_twice_to_create_without_echo() {
    let cli = Cli::new();
    // A new keystore: asked twice; a mismatch creates nothing.
    let (code, shown) = on_terminal(&cli, &["keystore", "init"], &[PASSWORD, "typo"]);
    assert_eq!(code, 4, "{shown}");
    assert!(shown.contains("the two passwords differ"), "{shown}");
    assert!(!cli.keystore().join("keystore.json").exists());

    let (code, shown) = on_terminal(&cli, &["keystore", "init"], &[PASSWORD, PASSWORD]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Again, to confirm"), "{shown}");
    // No echo: the typed password never appears on the terminal.
    assert!(
        !shown.contains(PASSWORD),
        "the password was echoed: {shown}"
    );

    // An existing keystore: asked once; the key is usable with the environment password.
    let (code, shown) = on_terminal(&cli, &["key", "create", "k", "--spec", "p256"], &[PASSWORD]);
    assert_eq!(code, 0, "{shown}");
    assert_eq!(
        shown.matches("Password for the keystore").count(),
        1,
        "{shown}"
    );
    assert!(!shown.contains("Again"), "{shown}");
    cli.pubkey_pem("k");

    // A wrong answer is the wrong-password exit code.
    let (code, shown) = on_terminal(&cli, &["pubkey", "k"], &["wrong"]);
    assert_eq!(code, 7, "{shown}");
}
