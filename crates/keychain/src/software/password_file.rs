//! A keystore password kept in a file: its first line, without the line break, as OpenSSL's
//! `-passin file:` and `-passin fd:` read it, so one password file serves both tools. The
//! bytes are used as they are (a password need not be UTF-8). The CLI (`--password-file`,
//! `--password-fd`, `KEYCHAIN_PASSWORD_FILE`) and the age plugin read passwords this way.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use zeroize::Zeroizing;

use crate::secret::Secret;
use crate::{Error, Result};

/// Environment variable naming a file whose first line is the keystore password.
pub const PASSWORD_FILE_ENV: &str = "KEYCHAIN_PASSWORD_FILE";

/// The longest password read from a file. A longer first line is not a password (someone
/// pointed the option at the wrong file).
pub const MAX_PASSWORD_LEN: usize = 4096;

/// The first line of `path`, without its line break (`\n` or `\r\n`): the password. An empty
/// first line, a directory and a first line over [`MAX_PASSWORD_LEN`] bytes are
/// [`Error::InvalidInput`]; a file that cannot be read is [`Error::Io`]. `label` names the
/// file in errors (`the password file /run/secrets/ks`, `--password-fd 3`).
pub fn read_password_file(path: &Path, label: &str) -> Result<Secret> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(format!("opening {label}"), e))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Error::invalid_input(format!(
            "cannot read {label}: it is a directory"
        )));
    }
    let mut line = Zeroizing::new(Vec::new());
    let mut reader = BufReader::new(file).take(MAX_PASSWORD_LEN as u64 + 2);
    reader
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::io(format!("reading {label}"), e))?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    } else if line.len() > MAX_PASSWORD_LEN {
        return Err(Error::invalid_input(format!(
            "{label} does not start with a password line (its first line is over \
             {MAX_PASSWORD_LEN} bytes)"
        )));
    }
    if line.is_empty() {
        return Err(Error::invalid_input(format!(
            "{label} is empty: its first line must hold the password"
        )));
    }
    Ok(Secret::new(line.to_vec()))
}

/// The password in the file `KEYCHAIN_PASSWORD_FILE` names, when it names one (an empty
/// value names none).
pub fn password_from_env_file() -> Result<Option<Secret>> {
    match std::env::var_os(PASSWORD_FILE_ENV).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            let label = format!("the password file {} ({PASSWORD_FILE_ENV})", path.display());
            read_password_file(&path, &label).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Secret> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, bytes).unwrap();
        read_password_file(&path, "the test file")
    }

    #[test]
    fn the_first_line_without_its_break_is_the_password() {
        assert_eq!(read(b"secret\nsecond line\n").unwrap().expose(), b"secret");
        assert_eq!(read(b"secret\r\n").unwrap().expose(), b"secret");
        assert_eq!(read(b"no break").unwrap().expose(), b"no break");
        assert_eq!(read(b"\xff\xfe\n").unwrap().expose(), b"\xff\xfe");
    }

    #[test]
    fn empty_long_and_missing_files_are_refused() {
        assert!(matches!(read(b""), Err(Error::InvalidInput { .. })));
        assert!(matches!(read(b"\nlater"), Err(Error::InvalidInput { .. })));
        let long = vec![b'a'; MAX_PASSWORD_LEN + 1];
        assert!(matches!(read(&long), Err(Error::InvalidInput { .. })));
        let mut exact = vec![b'a'; MAX_PASSWORD_LEN];
        exact.push(b'\n');
        assert_eq!(read(&exact).unwrap().expose().len(), MAX_PASSWORD_LEN);
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_password_file(&dir.path().join("missing"), "x"),
            Err(Error::Io { .. })
        ));
        assert!(matches!(
            read_password_file(dir.path(), "x"),
            Err(Error::InvalidInput { .. })
        ));
    }
}
