//! The agent and SSHSIG over AWS KMS keys (LocalStack): git signs a commit through the agent
//! and verifies it; `ssh-keygen -Y verify` accepts a direct SSHSIG signature.

use std::fs;
use std::process::Command;

use keychain_testkit::conformance::unique_prefix;
use keychain_testkit::localstack::{REGION, localstack};

use super::tools::{AgentProcess, allowed_signers, private_dir, verify_sshsig};
use crate::support::{Cli, arg};

/// The binary pointed at LocalStack with test credentials.
fn kms_command(cli: &Cli, uri: &str) -> Command {
    let mut c = cli.command();
    c.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", cli.path("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            cli.path("no-aws-credentials"),
        )
        .env("KEYCHAIN_BACKEND", uri);
    for var in [
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_ENDPOINT_URL",
    ] {
        c.env_remove(var);
    }
    c
}

fn ok(cli: &Cli, uri: &str, args: &[&str]) -> String {
    let run = cli.run_with(kms_command(cli, uri), args);
    assert_eq!(run.code, 0, "keychain {args:?}: {}", run.stderr);
    run.text()
}

#[test]
fn git_signs_through_the_agent_with_aws_kms_keys() {
    let ls = localstack();
    let uri = format!("awskms://127.0.0.1:{}/?region={REGION}", ls.port());
    let cli = Cli::new();
    let prefix = unique_prefix("ssh");
    let p256 = format!("{prefix}ssh-p256");
    let rsa = format!("{prefix}ssh-rsa");
    ok(&cli, &uri, &["key", "create", &p256, "--spec", "p256"]);
    ok(&cli, &uri, &["key", "create", &rsa, "--spec", "rsa-2048"]);

    // SSHSIG straight from KMS.
    let message = cli.file("m.txt", b"signed in KMS\n");
    for name in [&p256, &rsa] {
        let line = ok(&cli, &uri, &["ssh", "pubkey", name]);
        let signers = allowed_signers(&cli, "kms", &line);
        let sig = cli.path("m.sig");
        let _ = fs::remove_file(&sig);
        ok(
            &cli,
            &uri,
            &[
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
            ],
        );
        assert!(verify_sshsig(&signers, "file", &sig, &message), "{name}");
    }

    // git through the agent.
    let dir = private_dir(&cli, "kms-agent");
    let agent = AgentProcess::spawn(
        kms_command(&cli, &uri),
        &dir.join("s"),
        &["--key", &p256, "--key", &rsa],
    );
    for name in [&p256, &rsa] {
        let line = ok(&cli, &uri, &["ssh", "pubkey", name]);
        let signers = cli.file("signers", format!("dev@example.com {line}").as_bytes());
        let repo = cli.path(&format!("repo-{name}"));
        fs::create_dir(&repo).unwrap();
        let git = |args: &[&str]| {
            let out = agent
                .command("git")
                .arg("-C")
                .arg(&repo)
                .args(["-c", "gpg.format=ssh"])
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
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        git(&["init", "-q"]);
        fs::write(repo.join("f"), "x").unwrap();
        git(&["add", "f"]);
        git(&["commit", "-q", "-S", "-m", "signed by a KMS key"]);
        git(&["verify-commit", "HEAD"]);
    }
}
