//! Where the software keystore's password comes from, in order: `--password-fd N`,
//! `--password-file FILE` (or `KEYCHAIN_PASSWORD_FILE`), `KEYCHAIN_PASSWORD`, and last a
//! prompt on the terminal (without echo; twice when the keystore is being created, so a typo
//! cannot lock the keys away). A password is never taken from the command line, where every
//! user of the machine can read it in the process list.
//!
//! A file or descriptor gives its first line, without the line break, as OpenSSL's `-passin
//! file:` and `-passin fd:` read it, so one password file serves both tools. The bytes are
//! used as they are (a password need not be UTF-8).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use keychain::{Error, Result, Secret};
use zeroize::Zeroizing;

/// The password sources the command line names.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// `--password-file` / `KEYCHAIN_PASSWORD_FILE`.
    pub file: Option<PathBuf>,
    /// `--password-fd`.
    pub fd: Option<u32>,
}

/// Whether the keystore is being opened or made (a new password is asked twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Opening an existing keystore.
    Open,
    /// Creating a keystore: a prompt asks twice and the answers must match.
    Create,
}

impl Source {
    /// The password, or `None` to let the library read `KEYCHAIN_PASSWORD` (set, or nothing
    /// else to ask: no terminal). `keystore` names the keystore in the prompt.
    pub fn password(&self, keystore: &Path, purpose: Purpose) -> Result<Option<Secret>> {
        if let Some(fd) = self.fd {
            // The descriptor through its /dev/fd name: no unsafe code to adopt a raw fd.
            let path = PathBuf::from(format!("/dev/fd/{fd}"));
            let label = format!("--password-fd {fd}");
            return first_line(&path, &label).map(Some);
        }
        if let Some(file) = &self.file {
            let label = format!("the password file {}", file.display());
            return first_line(file, &label).map(Some);
        }
        if std::env::var_os(keychain::software::PASSWORD_ENV).is_some() {
            return Ok(None);
        }
        if !std::io::stdin().is_terminal() {
            // Nothing to ask (a script, a pipe): the library's error names every way to give
            // a password.
            return Ok(None);
        }
        prompt(keystore, purpose).map(Some)
    }
}

/// A new password for `keystore`: the first line of `file`, else asked twice on the
/// terminal.
pub fn new_password(file: Option<&Path>, keystore: &Path) -> Result<Secret> {
    if let Some(file) = file {
        return first_line(file, &format!("the new password file {}", file.display()));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::invalid_input(
            "the new password: pass --new-password-file FILE, or run on a terminal to be asked",
        ));
    }
    ask_twice(&format!(
        "New password for the keystore {}: ",
        keystore.display()
    ))
}

/// The first line of `path`, without its line break; an empty one is refused (the
/// library's rule, which the age plugin follows too).
fn first_line(path: &Path, label: &str) -> Result<Secret> {
    keychain::software::read_password_file(path, label)
}

/// Asks on the terminal, without echo.
fn ask(text: &str) -> Result<Zeroizing<String>> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| Error::invalid_input(format!("cannot read the password: {e}")))
}

/// Asks for a password to open `keystore`, or (creating it) twice.
fn prompt(keystore: &Path, purpose: Purpose) -> Result<Secret> {
    let text = format!("Password for the keystore {}: ", keystore.display());
    if purpose == Purpose::Create {
        return ask_twice(&text);
    }
    let answer = ask(&text)?;
    if answer.is_empty() {
        return Err(Error::invalid_input("no password given"));
    }
    Ok(Secret::new(answer.as_bytes().to_vec()))
}

/// Asks for a new password twice; the answers must match (a typo would lock the keys away).
fn ask_twice(text: &str) -> Result<Secret> {
    let first = ask(text)?;
    if first.is_empty() {
        return Err(Error::invalid_input("no password given"));
    }
    let again = ask("Again, to confirm: ")?;
    if *again != *first {
        return Err(Error::invalid_input(
            "the two passwords differ; nothing was changed",
        ));
    }
    Ok(Secret::new(first.as_bytes().to_vec()))
}
