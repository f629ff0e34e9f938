//! `keychain`: the command line of the keychain library. Keys whose private material stays in
//! a backend (a local encrypted keystore by default, or AWS KMS): create and manage them,
//! sign and verify, encrypt and decrypt, compute MACs, export public keys, sign and verify
//! JWTs, run an X.509 certificate authority, and migrate software keys to AWS KMS.
//!
//! Errors are one line on stderr, `keychain: error: <message>`, and a distinct exit code per
//! kind of failure (with `--json`, an `{"error": {…}}` object is printed on stdout as well).
//! The codes are listed by `keychain --help` and in `docs/ERRORS.md`; both come from, or are
//! tested against, the one table in the `exit` module.
//!
//! An unknown algorithm name is `invalid_input` (4), not a usage error: values in the keychain
//! vocabulary are checked by the library, whose message lists what is accepted.

#![forbid(unsafe_code)]

mod cli;
mod commands;
mod exit;
mod files;
mod logging;
mod output;
mod parse;
mod password;
mod plan;
mod progress;
mod temps;

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::cli::Cli;
use crate::commands::Outcome;
use crate::output::Output;

/// The one line a failure prints: newlines in a message would break it, so they become spaces,
/// and any other control character (an ESC sequence or a CR in a name the message echoes) is
/// escaped, so no message can forge or hide a line.
fn error_line(message: &str) -> String {
    // Escape first, so a CR or tab that came from a name or path shows as `\r`/`\t` rather
    // than vanishing into a space; then the message's own line breaks become spaces.
    let escaped = output::escape_controls(message, true);
    let flat: Vec<&str> = escaped.split_whitespace().collect();
    format!("keychain: error: {}", flat.join(" "))
}

/// Reports a malformed command line in one line (exit 2); help and version print as usual.
fn usage_failure(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            return ExitCode::from(exit::USAGE);
        }
        _ => {}
    }
    let rendered = error.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage:") {
            usage = Some(u.trim().to_string());
        } else if line.starts_with("For more information") {
            continue;
        } else if usage.is_none() {
            parts.push(
                line.strip_prefix("error:")
                    .unwrap_or(line)
                    .trim()
                    .to_string(),
            );
        }
    }
    let mut message = parts.join(" ");
    if let Some(u) = usage {
        message.push_str(&format!(" (usage: {u})"));
    }
    eprintln!("{}", error_line(&message));
    ExitCode::from(exit::USAGE)
}

/// Reports a failed command: one line on stderr, and in JSON mode an error object on stdout.
fn failure(out: Output, error: &keychain::Error) -> ExitCode {
    let code = exit::code(error.kind());
    eprintln!("{}", error_line(&error.to_string()));
    if out.is_json() {
        let _ = out.json_value(&json!({
            "error": {
                "kind": error.kind().as_str(),
                "message": error.to_string(),
                "exit_code": code,
            }
        }));
    }
    ExitCode::from(code)
}

fn run(cli: Cli) -> ExitCode {
    logging::init(cli.verbose, cli.quiet);
    let out = Output::new(cli.json);
    // `serve` writes no temporary file and stops cleanly on SIGINT and SIGTERM itself, on a
    // runtime with a thread per core for concurrent clients.
    let serving = matches!(cli.command, cli::Command::Serve(_));
    // Before any temporary file can exist: SIGINT, SIGTERM and SIGHUP remove them.
    if !serving && let Err(e) = temps::watch_signals() {
        return failure(out, &e);
    }
    let runtime = if serving {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => return failure(out, &keychain::Error::io("starting the async runtime", e)),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(exit::INVALID),
        Err(e) => failure(out, &e),
    }
}

fn main() -> ExitCode {
    // A panic is a bug; it still gets one line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        eprintln!("{}", error_line(&format!("internal error: {message}")));
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_failure(e),
    };
    std::panic::catch_unwind(|| run(cli)).unwrap_or(ExitCode::from(exit::INTERNAL))
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[test]
    fn an_error_line_cannot_forge_or_hide_a_line() {
        let line = error_line("no key \"a\u{1b}[2K\rkeychain: ok\nnext\u{7}\u{202e}\"");
        assert_eq!(
            line,
            "keychain: error: no key \"a\\x1b[2K\\rkeychain: ok next\\x07\\u{202e}\""
        );
        assert!(!line.chars().any(char::is_control));
    }
}
