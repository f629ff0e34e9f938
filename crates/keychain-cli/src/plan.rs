//! The files a command reads and writes, declared in one place for every command and checked
//! once, before the backend is opened and before anything is read: no output may be one of
//! the command's inputs (by path, or as the same file through a hard link, a symbolic link or
//! another spelling of its path), no two outputs may be the same file, and `--out -` (standard
//! output) does not mix with `--json`.

use std::path::{Component, Path, PathBuf};

use keychain::{Error, Result};

use crate::cli::{
    AgeCommand, CertCommand, Command, JwtCommand, KemCommand, KeystoreCommand, SshCommand,
};

/// One file argument: the option that named it and the path.
#[derive(Debug, Clone)]
struct File {
    option: &'static str,
    path: PathBuf,
}

/// What a command reads and writes.
#[derive(Debug, Default)]
pub struct Io {
    inputs: Vec<File>,
    outputs: Vec<File>,
    /// Directories no output may be written into (the software keystore the command uses).
    protected: Vec<PathBuf>,
}

fn add(mut list: Vec<File>, option: &'static str, path: Option<&Path>) -> Vec<File> {
    list.extend(path.map(|path| File {
        option,
        path: path.to_path_buf(),
    }));
    list
}

impl Io {
    fn input(self, option: &'static str, path: Option<&Path>) -> Self {
        Io {
            inputs: add(self.inputs, option, path),
            ..self
        }
    }

    fn output(self, option: &'static str, path: Option<&Path>) -> Self {
        Io {
            outputs: add(self.outputs, option, path),
            ..self
        }
    }

    /// The files `command` reads and writes. Every command is listed (no catch-all), so a new
    /// command must say what it does with files.
    pub fn of(command: &Command) -> Io {
        let io = Io::default();
        match command {
            Command::Key(_) | Command::Keystore(KeystoreCommand::Init) | Command::Serve(_) => io,
            Command::Keystore(KeystoreCommand::Passwd(args)) => {
                io.input("--new-password-file", args.new_password_file.as_deref())
            }
            Command::Jwks(args) => io.output("--out", args.out.as_deref()),
            Command::Age(AgeCommand::Recipient(args) | AgeCommand::Identity(args)) => {
                io.output("--out", args.out.as_deref())
            }
            Command::Pubkey(args) => io.output("--out", args.out.as_deref()),
            Command::Sign(args) => io
                .input("--in", args.input.as_deref())
                .output("--out", args.out.as_deref())
                .output("--bundle", args.bundle.as_deref()),
            Command::Verify(args) => io
                .input("--in", args.input.as_deref())
                .input("--signature", Some(&args.signature)),
            Command::Encrypt(args) => io
                .input("--in", Some(&args.input))
                .output("--out", Some(&args.out)),
            Command::Decrypt(args) => io
                .input("--in", Some(&args.input))
                .output("--out", Some(&args.out)),
            Command::Kem(KemCommand::Encapsulate(args)) => io
                .output("--ciphertext-out", Some(&args.ciphertext_out))
                .output("--secret-out", Some(&args.secret_out)),
            Command::Kem(KemCommand::Decapsulate(args)) => io
                .input("--in", Some(&args.input))
                .output("--out", Some(&args.out)),
            Command::DeriveSharedSecret(args) => io
                .input("--peer-public-key", Some(&args.peer_public_key))
                .output("--out", Some(&args.out)),
            Command::Mac(args) => io
                .input("--in", Some(&args.input))
                .output("--out", args.out.as_deref()),
            Command::VerifyMac(args) => io
                .input("--in", Some(&args.input))
                .input("--mac", Some(&args.mac)),
            Command::VerifyBundle(args) => {
                let mut io = io
                    .input("BUNDLE", Some(&args.bundle))
                    .input("--in", Some(&args.input));
                for key in &args.public_keys {
                    io = io.input("--public-key", Some(key));
                }
                io
            }
            Command::Jwt(JwtCommand::Sign(args)) => {
                io.input("--claims", args.claims.strip_prefix('@').map(Path::new))
            }
            Command::Jwt(JwtCommand::Verify(args)) => {
                io.input("TOKEN", (args.token == "-").then_some(Path::new("-")))
            }
            Command::Cert(CertCommand::Ca(args)) => io.output("--out", args.out.as_deref()),
            Command::Cert(CertCommand::Issue(args)) => io
                .input("--csr", args.csr.as_deref())
                .input("--ca-cert", Some(&args.ca_cert))
                .output("--out", args.out.as_deref()),
            Command::Cert(CertCommand::Csr(args)) => io.output("--out", args.out.as_deref()),
            Command::Cert(CertCommand::Crl(args)) => io
                .input("--ca-cert", Some(&args.ca_cert))
                .output("--out", args.out.as_deref()),
            #[cfg(feature = "aws")]
            Command::Migrate(_) => io,
            Command::Ssh(SshCommand::Pubkey(args)) => io.output("--out", args.out.as_deref()),
            Command::Ssh(SshCommand::Cert(args)) => io
                .input("--public-key", Some(&args.public_key))
                .output("--out", Some(&args.out)),
            // The socket is not a file written over: it is made only where nothing but a
            // stale socket is (checked when it is bound).
            Command::SshAgent(_) => io,
            Command::Completion(_) | Command::Man => io,
        }
    }

    /// The password file (`--password-file`) is an input of every command: no output may
    /// replace it.
    pub fn password_file(self, path: Option<&Path>) -> Self {
        self.input("--password-file", path)
    }

    /// No output may be written inside `dir` (the software keystore the command opens): a
    /// signature or plaintext written over a key file or `keystore.json` would destroy keys.
    pub fn protect(mut self, dir: Option<PathBuf>) -> Self {
        self.protected.extend(dir);
        self
    }

    /// Refuses (`invalid_input`, one line naming both files) an output that is an input or
    /// another output, an output inside the keystore, two inputs from standard input, and
    /// `--out -` with `--json`. Nothing is read or written.
    pub fn check(&self, json: bool) -> Result<()> {
        let stdin: Vec<&File> = self.inputs.iter().filter(|f| is_stdio(&f.path)).collect();
        if let [first, second, ..] = stdin.as_slice() {
            return Err(Error::invalid_input(format!(
                "{} - and {} - would both read standard input: give one of them a file",
                first.option, second.option
            )));
        }
        for (i, output) in self.outputs.iter().enumerate() {
            if let Some(dir) = self.protected.iter().find(|dir| inside(&output.path, dir)) {
                return Err(Error::invalid_input(format!(
                    "{} {} is inside the keystore {}: refusing to write over keystore files",
                    output.option,
                    output.path.display(),
                    dir.display()
                )));
            }
            if json && is_stdio(&output.path) {
                return Err(Error::invalid_input(format!(
                    "{} - and --json would both write to standard output: give {} a file",
                    output.option, output.option
                )));
            }
            let clash = |earlier: &File, both_outputs: bool, why: &str| {
                if !same_file(&earlier.path, &output.path, both_outputs) {
                    return Ok(());
                }
                Err(Error::invalid_input(format!(
                    "{} {} is the same file as {} {}: {why}",
                    output.option,
                    output.path.display(),
                    earlier.option,
                    earlier.path.display()
                )))
            };
            for input in &self.inputs {
                clash(input, false, "refusing to overwrite an input")?;
            }
            for other in &self.outputs[..i] {
                clash(other, true, "give each output its own file")?;
            }
        }
        Ok(())
    }
}

fn is_stdio(path: &Path) -> bool {
    path == Path::new("-")
}

/// The path made absolute, with `.` components and repeated separators gone (`..` is kept:
/// through a symbolic link it does not mean the lexical parent).
fn lexical(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    absolute
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

/// The identity (device, inode) of the regular file `path` names, following links; for `-`,
/// of standard input (`as_output` false: `< file`) or standard output (`as_output` true:
/// `> file`, `1<> file`) when it is a regular file. Only a regular file can be destroyed by
/// writing over it: a terminal or a FIFO that is read and written is not.
#[cfg(unix)]
fn identity(path: &Path, as_output: bool) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let path = match (is_stdio(path), as_output) {
        (true, false) => Path::new("/dev/stdin"),
        (true, true) => Path::new("/dev/stdout"),
        (false, _) => path,
    };
    let meta = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)?;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_path: &Path, _as_output: bool) -> Option<(u64, u64)> {
    None
}

/// Whether `path` (an output) lies inside the directory `dir`, by its resolved location: the
/// nearest existing ancestor is resolved through links, so `ks/keys/../keystore.json` and a
/// link into the keystore are caught. Standard output is not a path.
fn inside(path: &Path, dir: &Path) -> bool {
    if is_stdio(path) {
        return false;
    }
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return false;
    };
    let resolved = std::fs::canonicalize(path).ok().or_else(|| {
        let parent = lexical(path).parent()?.to_path_buf();
        Some(std::fs::canonicalize(parent).ok()?.join(path.file_name()?))
    });
    resolved.is_some_and(|p| p.starts_with(&dir))
}

/// Whether output `b` would write over `a` (an input, or with `both_outputs` another output):
/// the same path, or the same regular file by device and inode. Standard input and standard
/// output (`-`) are two streams unless both are redirected to the same regular file; `-` is
/// `-` again as two outputs.
fn same_file(a: &Path, b: &Path, both_outputs: bool) -> bool {
    if is_stdio(a) && is_stdio(b) && both_outputs {
        return true;
    }
    if !is_stdio(a) && !is_stdio(b) && lexical(a) == lexical(b) {
        return true;
    }
    matches!((identity(a, both_outputs), identity(b, true)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(inputs: &[&str], outputs: &[&str]) -> Io {
        let mut io = Io::default();
        for i in inputs {
            io = io.input("--in", Some(Path::new(i)));
        }
        for o in outputs {
            io = io.output("--out", Some(Path::new(o)));
        }
        io
    }

    #[test]
    fn stdin_and_stdout_are_two_streams_but_one_output() {
        assert!(io(&["-"], &["-"]).check(false).is_ok());
        assert!(io(&["-"], &["-", "-"]).check(false).is_err());
        assert!(io(&["x"], &["-"]).check(true).is_err());
        assert!(io(&["x"], &["y"]).check(true).is_ok());
    }

    #[test]
    fn the_same_path_in_another_spelling_is_the_same_file() {
        assert!(io(&["a/b"], &["./a/./b"]).check(false).is_err());
        assert!(io(&["a/b"], &["a/c"]).check(false).is_ok());
    }
}
