//! `keychain ssh-agent`: `ssh-add -L` lists exactly the served keys, `ssh-keygen -Y sign`
//! and git sign through it, requests it cannot serve fail without stopping it, and its socket
//! is made safely and removed on SIGTERM.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Command;

use super::SSH_KEYS;
use super::tools::{AgentProcess, allowed_signers, private_dir, verify_sshsig};
use crate::support::{Cli, arg, run_tool};

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn ssh_add_lists_the_served_keys_and_ssh_keygen_signs_through_the_agent() {
    let cli = Cli::new();
    let mut expected = BTreeSet::new();
    for (name, spec) in SSH_KEYS {
        cli.create(name, spec, &[]);
        expected.insert(
            cli.ok(["ssh", "pubkey", name])
                .text()
                .trim_end()
                .to_string(),
        );
    }
    // Keys OpenSSH cannot use are not served by default.
    cli.create("k1", "secp256k1", &[]);
    cli.create("ml", "ml-dsa-44", &[]);
    cli.create("aes", "aes-256", &[]);
    cli.create("off", "p256", &[]);
    cli.ok(["key", "disable", "off"]);

    let dir = private_dir(&cli, "agent");
    let socket = dir.join("agent.sock");
    let agent = AgentProcess::start(&cli, &socket, &[]);
    assert_eq!(
        agent.startup,
        format!(
            "SSH_AUTH_SOCK={}; export SSH_AUTH_SOCK;\n",
            socket.display()
        )
    );
    let meta = fs::symlink_metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let listed = run_tool(agent.command("ssh-add").arg("-L"));
    assert_eq!(lines(&String::from_utf8(listed).unwrap()), expected);

    let message = cli.file("message.txt", b"signed through the agent\n");
    for (name, spec) in SSH_KEYS {
        let line = cli.ok(["ssh", "pubkey", name]).text();
        let pubfile = cli.file(&format!("{name}.pub"), line.as_bytes());
        let sig = cli.path("message.txt.sig");
        let _ = fs::remove_file(&sig);
        run_tool(
            agent
                .command("ssh-keygen")
                .args(["-Y", "sign", "-U", "-n", "file", "-f"])
                .arg(&pubfile)
                .arg(&message),
        );
        let signers = allowed_signers(&cli, name, &line);
        assert!(verify_sshsig(&signers, "file", &sig, &message), "{spec}");
        let tampered = cli.file("tampered.txt", b"signed through the agent?\n");
        assert!(!verify_sshsig(&signers, "file", &sig, &tampered), "{spec}");
    }

    // A key the agent does not serve: refused, and the agent carries on.
    let other = cli.path("other");
    run_tool(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&other),
    );
    let refused = agent
        .command("ssh-keygen")
        .args(["-Y", "sign", "-U", "-n", "file", "-f"])
        .arg(other.with_extension("pub"))
        .arg(&message)
        .output()
        .unwrap();
    assert!(!refused.status.success());

    // Adding, removing and locking: this agent holds no private keys; all fail.
    assert!(
        !agent
            .command("ssh-add")
            .arg(&other)
            .status()
            .unwrap()
            .success()
    );
    assert!(
        !agent
            .command("ssh-add")
            .arg("-D")
            .status()
            .unwrap()
            .success()
    );
    let first = cli.file(
        "first.pub",
        cli.ok(["ssh", "pubkey", "ed"]).stdout.as_slice(),
    );
    assert!(
        !agent
            .command("ssh-add")
            .arg("-d")
            .arg(&first)
            .status()
            .unwrap()
            .success()
    );
    let askpass = cli.file("askpass.sh", b"#!/bin/sh\necho lock-password\n");
    fs::set_permissions(&askpass, fs::Permissions::from_mode(0o700)).unwrap();
    for flag in ["-x", "-X"] {
        let status = agent
            .command("ssh-add")
            .arg(flag)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .status()
            .unwrap();
        assert!(!status.success(), "ssh-add {flag}");
    }
    let listed = run_tool(agent.command("ssh-add").arg("-L"));
    assert_eq!(lines(&String::from_utf8(listed).unwrap()), expected);

    // SIGTERM: exits as every keychain command does on it, and removes its socket.
    let code = agent.terminate();
    assert_eq!(code, Some(143));
    assert!(!socket.exists(), "the socket is removed");
}

#[test]
fn only_the_named_keys_are_served() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    cli.create("rsa", "rsa-2048", &[]);
    let dir = private_dir(&cli, "a");
    let agent = AgentProcess::start(&cli, &dir.join("s"), &["--key", "rsa"]);
    let listed = String::from_utf8(run_tool(agent.command("ssh-add").arg("-L"))).unwrap();
    assert_eq!(listed, cli.ok(["ssh", "pubkey", "rsa"]).text());

    // A named key OpenSSH cannot use is an error at startup, before any socket exists.
    cli.create("k1", "secp256k1", &[]);
    let socket = dir.join("k1");
    let run = cli.run(["ssh-agent", "--socket", arg(&socket), "--key", "k1"]);
    assert_eq!(run.code, 10, "{}", run.stderr);
    assert!(!socket.exists());
    let run = cli.run(["ssh-agent", "--socket", arg(&socket), "--key", "missing"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[test]
fn the_socket_never_replaces_a_users_file() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    let dir = private_dir(&cli, "d");

    let file = dir.join("regular");
    fs::write(&file, b"keep me").unwrap();
    let line = cli.fails(["ssh-agent", "--socket", arg(&file)], 9);
    assert!(line.contains("not a socket"), "{line}");
    assert_eq!(fs::read(&file).unwrap(), b"keep me");

    let fifo = dir.join("fifo");
    run_tool(Command::new("mkfifo").arg(&fifo));
    cli.fails(["ssh-agent", "--socket", arg(&fifo)], 9);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    let link = dir.join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    cli.fails(["ssh-agent", "--socket", arg(&link)], 9);
    assert_eq!(fs::read(&file).unwrap(), b"keep me");

    let subdir = dir.join("subdir");
    fs::create_dir(&subdir).unwrap();
    cli.fails(["ssh-agent", "--socket", arg(&subdir)], 9);

    // A directory others can enter is refused; one that does not exist is made 0700.
    let open = cli.path("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
    cli.fails(["ssh-agent", "--socket", arg(&open.join("s"))], 4);
    let fresh = cli.path("fresh/sub");
    let agent = AgentProcess::start(&cli, &fresh.join("s"), &[]);
    assert_eq!(
        fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o700
    );

    // A live agent's socket is refused; a stale one (nobody listening) is replaced.
    cli.fails(["ssh-agent", "--socket", arg(&fresh.join("s"))], 9);
    drop(agent);
    let stale = dir.join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let agent = AgentProcess::start(&cli, &stale, &[]);
    run_tool(agent.command("ssh-add").arg("-L"));

    // Control characters in the path would corrupt the line a shell evaluates.
    cli.fails(["ssh-agent", "--socket", arg(&dir.join("a\nb"))], 4);
}

#[test]
fn git_signs_commits_and_tags_through_the_agent() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    cli.create("p256", "p256", &[]);
    let dir = private_dir(&cli, "g");
    let agent = AgentProcess::start(&cli, &dir.join("s"), &[]);
    for name in ["ed", "p256"] {
        let line = cli.ok(["ssh", "pubkey", name]).text();
        let signers = cli.file(
            &format!("{name}.signers"),
            format!("dev@example.com {}", line).as_bytes(),
        );
        let repo = cli.path(&format!("repo-{name}"));
        let git = |args: &[&str]| {
            let out = agent
                .command("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "gpg.format=ssh"])
                // `key::` marks a literal key (git reads a bare `ssh-…` line as one too, but not
                // an `ecdsa-…` one).
                .args(["-c", &format!("user.signingkey=key::{}", line.trim())])
                .args([
                    "-c",
                    &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
                ])
                .args(["-c", "user.name=Dev", "-c", "user.email=dev@example.com"])
                .args(args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", cli.path("."))
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        fs::create_dir(&repo).unwrap();
        assert!(git(&["init", "-q"]).0);
        fs::write(repo.join("f"), name).unwrap();
        assert!(git(&["add", "f"]).0);
        let (ok, err) = git(&["commit", "-q", "-S", "-m", "signed"]);
        assert!(ok, "{name}: commit: {err}");
        let (ok, err) = git(&["verify-commit", "HEAD"]);
        assert!(ok, "{name}: verify-commit: {err}");
        assert!(err.contains("Good \"git\" signature"), "{err}");
        let (ok, err) = git(&["tag", "-s", "-m", "v1", "v1"]);
        assert!(ok, "{name}: tag: {err}");
        let (ok, err) = git(&["verify-tag", "v1"]);
        assert!(ok, "{name}: verify-tag: {err}");
        // Another signer's file: git refuses the signature.
        let wrong = cli.file(
            "wrong.signers",
            format!(
                "dev@example.com {}",
                cli.ok(["ssh", "pubkey", if name == "ed" { "p256" } else { "ed" }])
                    .text()
            )
            .as_bytes(),
        );
        let out = agent
            .command("git")
            .arg("-C")
            .arg(&repo)
            .args([
                "-c",
                &format!("gpg.ssh.allowedSignersFile={}", wrong.display()),
            ])
            .args(["verify-commit", "HEAD"])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", cli.path("."))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}: a wrong signer is refused");
    }
}

#[test]
fn malformed_messages_end_one_connection_and_the_agent_keeps_serving() {
    use std::io::{Read, Write};
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    let dir = private_dir(&cli, "m");
    let agent = AgentProcess::start(&cli, &dir.join("s"), &[]);
    const FAILURE: &[u8] = &[0, 0, 0, 1, 5];
    let over_limit = (256 * 1024 + 1u32).to_be_bytes();
    let frames: [(&[u8], &[u8]); 5] = [
        // An unknown message type: SSH_AGENT_FAILURE.
        (&[0, 0, 0, 1, 0xff], FAILURE),
        // A sign request whose key blob runs past the frame.
        (
            &[0, 0, 0, 9, 13, 0, 0, 0, 200, b's', b's', b'h', b'-'],
            FAILURE,
        ),
        // An empty frame.
        (&[0, 0, 0, 0], FAILURE),
        // A length prefix over the 256 KiB limit: the connection is closed unanswered.
        (
            &[
                over_limit[0],
                over_limit[1],
                over_limit[2],
                over_limit[3],
                11,
            ],
            &[],
        ),
        // A length prefix promising more than is sent: closed when the client stops.
        (&[0, 0, 0x10, 0, 11], &[]),
    ];
    for (frame, expected) in frames {
        let mut stream = std::os::unix::net::UnixStream::connect(&agent.socket).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        stream.write_all(frame).unwrap();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert_eq!(answer, expected, "{frame:?}");
        let listed = run_tool(agent.command("ssh-add").arg("-L"));
        assert_eq!(
            String::from_utf8(listed).unwrap(),
            cli.ok(["ssh", "pubkey", "ed"]).text()
        );
    }
}

#[test]
fn sixteen_clients_at_once_all_get_valid_signatures() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    cli.create("p256", "p256", &[]);
    let dir = private_dir(&cli, "c");
    let agent = AgentProcess::start(&cli, &dir.join("s"), &[]);
    let mut jobs = Vec::new();
    for i in 0..16 {
        let name = if i % 2 == 0 { "ed" } else { "p256" };
        let line = cli.ok(["ssh", "pubkey", name]).text();
        let pubfile = cli.file(&format!("{i}.pub"), line.as_bytes());
        let message = cli.file(&format!("m{i}"), format!("message {i}\n").as_bytes());
        let child = agent
            .command("ssh-keygen")
            .args(["-Y", "sign", "-U", "-n", "file", "-f"])
            .arg(&pubfile)
            .arg(&message)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        jobs.push((child, name, line, message));
    }
    for (mut child, name, line, message) in jobs {
        assert!(child.wait().unwrap().success(), "{name}");
        let signers = allowed_signers(&cli, name, &line);
        let sig = message.with_file_name(format!(
            "{}.sig",
            message.file_name().unwrap().to_str().unwrap()
        ));
        assert!(verify_sshsig(&signers, "file", &sig, &message), "{name}");
    }
}

#[test]
fn a_backend_error_fails_one_request_is_logged_and_the_agent_carries_on() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    let dir = private_dir(&cli, "b");
    let agent = AgentProcess::start(&cli, &dir.join("s"), &[]);
    let line = cli.ok(["ssh", "pubkey", "ed"]).text();
    let pubfile = cli.file("ed.pub", line.as_bytes());
    let message = cli.file("m", b"m\n");
    let sign = || {
        let _ = fs::remove_file(cli.path("m.sig"));
        agent
            .command("ssh-keygen")
            .args(["-Y", "sign", "-U", "-n", "file", "-f"])
            .arg(&pubfile)
            .arg(&message)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(sign());
    // Disabled in the backend while the agent runs: the backend refuses, the agent answers
    // SSH_AGENT_FAILURE and logs why.
    cli.ok(["key", "disable", "ed"]);
    assert!(!sign(), "a disabled key signs nothing");
    cli.ok(["key", "enable", "ed"]);
    assert!(sign(), "the agent still serves");
    let signers = allowed_signers(&cli, "ed", &line);
    assert!(verify_sshsig(
        &signers,
        "file",
        &cli.path("m.sig"),
        &message
    ));
    let (code, log) = agent.terminate_with_log();
    assert_eq!(code, Some(143));
    assert!(
        log.contains("ssh-agent: key ed:") && log.contains("DISABLED"),
        "the refusal is logged: {log}"
    );
}

#[test]
fn without_key_names_unusable_keys_are_skipped_with_a_warning_each() {
    let cli = Cli::new();
    cli.create("ed", "ed25519", &[]);
    cli.create("p256", "p256", &[]);
    // Keys the agent cannot serve, each for another reason.
    cli.create("k1", "secp256k1", &[]);
    cli.create("ml", "ml-dsa-44", &[]);
    cli.create("aes", "aes-256", &[]);
    cli.create("off", "p256", &[]);
    cli.ok(["key", "disable", "off"]);
    cli.create("gone", "ed25519", &[]);
    cli.ok(["key", "delete", "gone", "--pending-days", "7"]);
    // Listed (its metadata is whole) but its key file is damaged: its public key cannot be
    // read, which used to keep the agent from starting at all.
    let id = cli.create("broken", "p256", &[]);
    let pem = cli.keystore().join("keys").join(&id).join("v1.pem");
    let mut bytes = fs::read(&pem).unwrap();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    fs::write(&pem, &bytes).unwrap();

    let dir = private_dir(&cli, "skip");
    let agent = AgentProcess::start(&cli, &dir.join("s"), &[]);
    let listed = String::from_utf8(run_tool(agent.command("ssh-add").arg("-L"))).unwrap();
    let expected: BTreeSet<String> = ["ed", "p256"]
        .iter()
        .map(|n| cli.ok(["ssh", "pubkey", n]).text().trim_end().to_string())
        .collect();
    assert_eq!(lines(&listed), expected);
    // The served keys sign, judged by ssh-keygen.
    let message = cli.file("skip.txt", b"served despite the others\n");
    for name in ["ed", "p256"] {
        let line = cli.ok(["ssh", "pubkey", name]).text();
        let pubfile = cli.file(&format!("{name}.pub"), line.as_bytes());
        let _ = fs::remove_file(cli.path("skip.txt.sig"));
        run_tool(
            agent
                .command("ssh-keygen")
                .args(["-Y", "sign", "-U", "-n", "file", "-f"])
                .arg(&pubfile)
                .arg(&message),
        );
        let signers = allowed_signers(&cli, name, &line);
        assert!(
            verify_sshsig(&signers, "file", &cli.path("skip.txt.sig"), &message),
            "{name}"
        );
    }
    let (code, log) = agent.terminate_with_log();
    assert_eq!(code, Some(143));
    // One warning line per skipped key, naming it and why.
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("keychain: warning: ssh-agent: not serving key "))
        .collect();
    assert_eq!(warnings.len(), 6, "{log}");
    for (name, why) in [
        ("k1", "OpenSSH has no key type"),
        ("ml", "OpenSSH has no key type"),
        ("aes", "not a signing key"),
        ("off", "DISABLED"),
        ("gone", "PENDING"),
        ("broken", &id),
    ] {
        let line = warnings
            .iter()
            .find(|l| l.contains(&format!("not serving key {name}: ")))
            .unwrap_or_else(|| panic!("no warning for {name}: {log}"));
        assert!(line.contains(why), "{name}: {line}");
    }

    // --json: the startup object lists what it serves and what it skipped.
    let agent = AgentProcess::start(&cli, &dir.join("j"), &["--json"]);
    let v: serde_json::Value = serde_json::from_str(&agent.startup).unwrap();
    let served: BTreeSet<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(served, BTreeSet::from(["ed", "p256"]));
    let skipped: BTreeSet<&str> = v["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        BTreeSet::from(["k1", "ml", "aes", "off", "gone", "broken"])
    );
    drop(agent);

    // Nothing usable at all: a clear error, no socket; each key still named in a warning.
    let empty = Cli::new();
    empty.create("k1", "secp256k1", &[]);
    empty.create("off", "ed25519", &[]);
    empty.ok(["key", "disable", "off"]);
    let dir = private_dir(&empty, "none");
    let socket = dir.join("s");
    let run = empty.run(["ssh-agent", "--socket", arg(&socket)]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!socket.exists());
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("keychain: warning: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(errors[0].contains("nothing to serve"), "{}", run.stderr);
    for name in ["k1", "off"] {
        assert!(
            run.stderr.contains(&format!("not serving key {name}: ")),
            "{}",
            run.stderr
        );
    }
    // An empty keystore: the same error.
    let bare = Cli::new();
    bare.ok(["keystore", "init"]);
    let run = bare.run(["ssh-agent", "--socket", arg(&dir.join("e"))]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to serve"), "{}", run.stderr);
}
