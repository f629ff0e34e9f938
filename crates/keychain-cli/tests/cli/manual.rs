//! `keychain completion` and `keychain man`, judged by bash (`bash -n` parses the script;
//! sourcing it and asking for completions gives our subcommands) and groff (`man -l` renders
//! the page; every subcommand the help lists is in it).

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{Cli, run_tool};

/// The subcommand names `keychain [SUB] --help` lists under "Commands:".
fn listed_subcommands(cli: &Cli, path: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = path.to_vec();
    args.push("--help");
    let text = cli.ok(&args).text();
    let mut names = Vec::new();
    let mut in_commands = false;
    for line in text.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            if let Some(name) = line.split_whitespace().next().filter(|n| *n != "help") {
                names.push(name.to_string());
            }
        }
    }
    names
}

#[test]
fn bash_completion_parses_and_completes_our_subcommands() {
    let cli = Cli::new();
    let script = cli.ok(["completion", "bash"]).stdout;
    let mut check = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(&script).unwrap();
    assert!(
        check.wait().unwrap().success(),
        "bash -n refuses the script"
    );

    // Source it and ask bash for the completions of `keychain ` and `keychain key `.
    let path = cli.file("keychain.bash", &script);
    let ask = |words: &str, cword: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _keychain keychain \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        String::from_utf8(run_tool(Command::new("bash").args(["-c", &program]))).unwrap()
    };
    let top = ask("keychain ''", 1);
    for sub in listed_subcommands(&cli, &[]) {
        assert!(
            top.lines().any(|l| l == sub),
            "bash does not complete `keychain {sub}`: {top}"
        );
    }
    let key = ask("keychain key ''", 2);
    for sub in listed_subcommands(&cli, &["key"]) {
        assert!(
            key.lines().any(|l| l == sub),
            "no `keychain key {sub}`: {key}"
        );
    }
}

#[test]
fn every_shell_gets_a_script_and_an_unknown_shell_is_a_usage_error() {
    let cli = Cli::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = cli.ok(["completion", shell]).text();
        assert!(
            script.contains("keychain") && script.contains("sign"),
            "{shell}: {script}"
        );
    }
    let line = cli.fails(["completion", "tcsh"], 2);
    assert!(line.contains("tcsh"), "{line}");
}

#[test]
fn the_manual_page_renders_and_names_every_subcommand() {
    let cli = Cli::new();
    let roff = cli.ok(["man"]).stdout;
    let path = cli.file("keychain.1", &roff);
    // groff renders it without complaint (warnings on stderr would mean broken roff).
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&path)
        .env("MANWIDTH", "100")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap();
    assert!(out.status.success(), "man -l failed");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    // Justified lines stretch spaces: compare with single spaces.
    let text = String::from_utf8_lossy(&out.stdout).replace('\u{2010}', "-");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut checked = 0;
    for sub in listed_subcommands(&cli, &[]) {
        assert!(
            text.contains(&format!("keychain {sub}")),
            "no section for {sub}"
        );
        for inner in listed_subcommands(&cli, &[&sub]) {
            assert!(
                text.contains(&format!("keychain {sub} {inner}")),
                "no section for {sub} {inner}"
            );
            checked += 1;
        }
        checked += 1;
    }
    assert!(checked > 20, "only {checked} subcommands found in --help");
    // The global options and the password sources are documented.
    for word in [
        "--password-file",
        "--password-fd",
        "--verbose",
        "KEYCHAIN_PASSWORD",
    ] {
        assert!(text.contains(word), "the page does not mention {word}");
    }
}
