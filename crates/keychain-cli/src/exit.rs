//! Exit codes: one per [`keychain::ErrorKind`], so scripts can tell failures apart.
//!
//! [`TABLE`] is the one source of the codes: `keychain --help` prints it ([`help_text`]), and
//! the table in `docs/ERRORS.md` is checked against it by a test, so neither can drift.

use keychain::ErrorKind;

/// The signature, MAC or token is invalid (a token also when expired or not yet valid).
pub const INVALID: u8 = 1;
/// The command line is malformed (clap's own code).
pub const USAGE: u8 = 2;

/// A panic: a bug, reported in one line like any error.
pub const INTERNAL: u8 = 70;

/// The signals that interrupt a command cleanly (its temporary files removed), with the code
/// it then exits with: 128 + the signal's number, as shells report it.
pub const SIGNALS: &[(&str, u8)] = &[("SIGHUP", 129), ("SIGINT", 130), ("SIGTERM", 143)];

/// The exit codes of the error kinds, in table order (the source of the table in
/// `docs/ERRORS.md` and of `--help`).
const TABLE: &[(ErrorKind, u8, &str)] = &[
    (ErrorKind::NotFound, 3, "no such key, alias or keystore"),
    (
        ErrorKind::InvalidInput,
        4,
        "bad value (spec, algorithm, digest, key name, K=V…)",
    ),
    (
        ErrorKind::InvalidKeyUsage,
        5,
        "the key cannot do this (usage or algorithm)",
    ),
    (
        ErrorKind::InvalidKeyState,
        6,
        "the key is disabled or pending deletion",
    ),
    (
        ErrorKind::WrongPassword,
        7,
        "the keystore password is wrong",
    ),
    (ErrorKind::AccessDenied, 8, "the backend refused access"),
    (ErrorKind::AlreadyExists, 9, "the key or alias exists"),
    (ErrorKind::Unsupported, 10, "the backend cannot do this"),
    (
        ErrorKind::Crypto,
        11,
        "cryptographic failure (wrong context, tampered data…)",
    ),
    (ErrorKind::Corrupted, 12, "damaged keystore data"),
    (
        ErrorKind::Throttled,
        13,
        "the backend throttled the request",
    ),
    (ErrorKind::Timeout, 14, "the operation timed out"),
    (ErrorKind::Io, 15, "reading or writing a file failed"),
    (ErrorKind::Backend, 16, "any other backend error"),
];

/// The code for errors of kinds this build does not know (a newer library).
const OTHER: u8 = 16;

/// The exit code for an error of `kind`.
pub fn code(kind: ErrorKind) -> u8 {
    TABLE
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(OTHER, |(_, code, _)| *code)
}

/// The exit code table, for `--help`.
pub fn help_text() -> String {
    let mut s = String::from("Exit codes:\n");
    s.push_str("   0  success (verify, verify-mac, jwt verify: valid)\n");
    s.push_str(&format!(
        "   {INVALID}  the signature, MAC or token is invalid (or the token expired)\n"
    ));
    s.push_str(&format!(
        "   {USAGE}  malformed command line (unknown option, missing argument)\n"
    ));
    for (kind, code, meaning) in TABLE {
        s.push_str(&format!("  {code:>2}  {kind}: {meaning}\n"));
    }
    s.push_str(&format!(
        "  {INTERNAL}  internal error (a bug in keychain)\n"
    ));
    for (signal, code) in SIGNALS {
        s.push_str(&format!(
            " {code}  interrupted by {signal} (temporary files removed)\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::AccessDenied,
            ErrorKind::WrongPassword,
            ErrorKind::Throttled,
            ErrorKind::Timeout,
            ErrorKind::InvalidKeyUsage,
            ErrorKind::InvalidKeyState,
            ErrorKind::Unsupported,
            ErrorKind::InvalidInput,
            ErrorKind::Crypto,
            ErrorKind::Corrupted,
            ErrorKind::Io,
            ErrorKind::Backend,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| code(*k)).collect();
        assert!(codes.iter().all(|c| *c > USAGE), "{codes:?}");
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
        assert_eq!(TABLE.len(), kinds.len());
    }

    #[test]
    fn the_documented_codes() {
        assert_eq!(code(ErrorKind::NotFound), 3);
        assert_eq!(code(ErrorKind::InvalidInput), 4);
        assert_eq!(code(ErrorKind::InvalidKeyUsage), 5);
        assert_eq!(code(ErrorKind::InvalidKeyState), 6);
        assert_eq!(code(ErrorKind::WrongPassword), 7);
        assert_eq!(code(ErrorKind::AlreadyExists), 9);
        assert_eq!(code(ErrorKind::Crypto), 11);
        assert_eq!(code(ErrorKind::Io), 15);
        assert_eq!(code(ErrorKind::Backend), 16);
    }

    /// `docs/ERRORS.md`, whose exit-code table must say what [`TABLE`] says.
    const ERRORS_MD: &str = include_str!("../../../docs/ERRORS.md");

    /// `NotFound` → `not_found`, as [`ErrorKind`] displays.
    fn snake(variant: &str) -> String {
        let mut out = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// The rows of the table under `## CLI exit codes`: (code, variant cell).
    fn documented_codes() -> Vec<(u8, String)> {
        let section = ERRORS_MD
            .split("\n## ")
            .find(|s| s.starts_with("CLI exit codes"))
            .expect("docs/ERRORS.md has a \"## CLI exit codes\" section");
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
                let code = cells.first()?.trim().parse::<u8>().ok()?;
                let variant = cells.last()?.trim().trim_matches('`').to_string();
                Some((code, variant))
            })
            .collect()
    }

    #[test]
    fn errors_md_has_exactly_the_codes_of_the_table() {
        let rows = documented_codes();
        let mut expected: Vec<(u8, Option<String>)> =
            vec![(0, None), (INVALID, None), (USAGE, None), (INTERNAL, None)];
        expected.extend(SIGNALS.iter().map(|(_, c)| (*c, None)));
        expected.extend(TABLE.iter().map(|(k, c, _)| (*c, Some(k.to_string()))));
        expected.sort();
        let mut documented: Vec<(u8, Option<String>)> = rows
            .iter()
            .map(|(code, variant)| {
                let kind = variant
                    .chars()
                    .all(|c| c.is_ascii_alphabetic())
                    .then(|| snake(variant));
                (*code, kind)
            })
            .collect();
        documented.sort();
        assert_eq!(
            documented, expected,
            "docs/ERRORS.md's exit-code table (left) differs from exit::TABLE (right)"
        );
    }

    #[test]
    fn help_lists_every_code() {
        let help = help_text();
        for (kind, code, _) in TABLE {
            assert!(help.contains(&format!("{code:>2}  {kind}:")), "{help}");
        }
    }
}
