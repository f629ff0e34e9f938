//! Exit codes: one per [`keychain::ErrorKind`], so scripts can tell failures apart.
//!
//! | code | meaning                                                      |
//! |------|--------------------------------------------------------------|
//! | 0    | success (for `verify`/`verify-mac`/`jwt verify`: valid)      |
//! | 1    | the signature, MAC or token is invalid (or the token expired) |
//! | 2    | usage error: malformed command line (clap)                   |
//! | 3    | not_found: no such key or alias                              |
//! | 4    | invalid_input: bad value (spec, algorithm, digest, name, K=V…) |
//! | 5    | invalid_key_usage: the key cannot do this (usage or algorithm) |
//! | 6    | invalid_key_state: the key is disabled or pending deletion   |
//! | 7    | wrong_password: the keystore password is wrong               |
//! | 8    | access_denied                                                |
//! | 9    | already_exists                                               |
//! | 10   | unsupported: the backend cannot do this                      |
//! | 11   | crypto: decryption failed (wrong context, tampered data…)    |
//! | 12   | corrupted: damaged keystore data                             |
//! | 13   | throttled                                                    |
//! | 14   | timeout                                                      |
//! | 15   | io: reading or writing a file failed                         |
//! | 16   | backend: any other backend error                             |
//! | 70   | internal error (a bug in keychain)                           |

use keychain::ErrorKind;

/// The signature, MAC or token is invalid (a token also when expired or not yet valid).
pub const INVALID: u8 = 1;
/// The command line is malformed (clap's own code).
pub const USAGE: u8 = 2;

/// A panic: a bug, reported in one line like any error.
pub const INTERNAL: u8 = 70;

/// The exit codes of the error kinds, in table order.
const TABLE: &[(ErrorKind, u8, &str)] = &[
    (ErrorKind::NotFound, 3, "no such key or alias"),
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

    #[test]
    fn help_lists_every_code() {
        let help = help_text();
        for (kind, code, _) in TABLE {
            assert!(help.contains(&format!("{code:>2}  {kind}:")), "{help}");
        }
    }
}
