//! Reading inputs (`-` is stdin) and writing outputs (`-` is stdout): a regular file is
//! replaced atomically (a temporary file beside it, synced, then renamed over it, so a reader
//! never sees half a file and a failure leaves the old file in place); anything else that
//! can be written (a FIFO, a device, a terminal) is written in place, never replaced.

use keychain::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::temps::{self, Temp};

/// Permissions of an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Readable by others (subject to the umask): signatures, public keys, ciphertexts.
    Public,
    /// Owner only (0600): plaintext.
    Private,
}

fn describe(path: &Path) -> String {
    if path == Path::new("-") {
        "stdin".to_string()
    } else {
        path.display().to_string()
    }
}

/// Opens an input for streaming.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin()));
    }
    Ok(Box::new(open_file(path)?))
}

/// Opens a file given by path (not `-`): a reader that can seek, if the file can.
pub fn open_file(path: &Path) -> Result<File> {
    let file = File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    // A directory opens on Unix and fails only at the first read, without its name.
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(Error::invalid_input(format!(
            "input {} is a directory",
            path.display()
        )));
    }
    Ok(file)
}

/// Reads a whole input; with `max`, more than `max` bytes is an error (the input is not read
/// past that).
pub fn read(path: &Path, max: Option<usize>) -> Result<Vec<u8>> {
    let reader = open(path)?;
    let mut data = Vec::new();
    let read = match max {
        Some(max) => reader.take(max as u64 + 1).read_to_end(&mut data),
        None => { reader }.read_to_end(&mut data),
    };
    read.map_err(|e| Error::io(format!("reading {}", describe(path)), e))?;
    if let Some(max) = max.filter(|max| data.len() > *max) {
        return Err(Error::invalid_input(format!(
            "{} is larger than {max} bytes",
            describe(path)
        )));
    }
    Ok(data)
}

/// Where an output goes, decided from what the path names now.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `-`: standard output.
    Stdout,
    /// A FIFO, a character device (`/dev/null`, a terminal) or an open descriptor
    /// (`/dev/stdout`, `/dev/fd/N`): opened and written in place, never replaced.
    InPlace(PathBuf),
    /// A regular file or a new name: a temporary file beside this path (a symbolic link's
    /// resolved target, so the link stays) is renamed over it.
    Replace(PathBuf),
}

/// A path that names an open descriptor (`/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`…),
/// found by following its links one by one: `Some` with the descriptor's number when it is one
/// of this process's. Writing to one must go through the descriptor, not replace the file
/// behind it (a `>> log` would lose the log).
fn descriptor(path: &Path) -> Option<Option<u32>> {
    let own = |p: &Path| {
        let process = p.components().nth(2)?.as_os_str().to_str()?.to_string();
        let ours = process == "self"
            || process == "thread-self"
            || process == std::process::id().to_string();
        ours.then(|| p.file_name()?.to_str()?.parse::<u32>().ok())?
    };
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        if current.starts_with("/dev/fd") {
            return Some(current.file_name()?.to_str()?.parse::<u32>().ok());
        }
        if current.starts_with("/proc")
            && current.parent().and_then(Path::file_name) == Some("fd".as_ref())
        {
            return Some(own(&current));
        }
        match fs::read_link(&current) {
            Ok(next) => {
                current = match current.parent() {
                    Some(parent) => parent.join(next),
                    None => next,
                }
            }
            Err(_) => return None,
        }
    }
    None
}

fn refuse(target: &Path, what: &str) -> Error {
    Error::invalid_input(format!(
        "output {} is {what}: keychain writes to regular files, FIFOs, character devices and \
         standard output (-)",
        target.display()
    ))
}

/// Decides how to write `target`, without changing anything.
fn resolve(target: &Path) -> Result<Target> {
    if target == Path::new("-") {
        return Ok(Target::Stdout);
    }
    let stat_error = |e| Error::io(format!("writing {}", target.display()), e);
    let link = match fs::symlink_metadata(target) {
        Ok(meta) => meta.file_type().is_symlink(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if target.file_name().is_none() {
                return Err(Error::invalid_input(format!(
                    "output {} is not a file name",
                    target.display()
                )));
            }
            return Ok(Target::Replace(target.to_path_buf()));
        }
        Err(e) => return Err(stat_error(e)),
    };
    let meta = match fs::metadata(target) {
        Ok(meta) => meta,
        Err(e) if link && e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse(target, "a symbolic link to a missing file"));
        }
        // ELOOP (40 on Linux): links that point at each other name no file at all.
        Err(e) if link && e.raw_os_error() == Some(40) => {
            return Err(refuse(target, "a loop of symbolic links"));
        }
        Err(e) => return Err(stat_error(e)),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(refuse(target, "a directory"));
    }
    if link && let Some(number) = descriptor(target) {
        // This process's standard output, named as a path: written through the inherited
        // descriptor, as `-` is, so the shell's file offset moves with what is written (an
        // `open` of the path would start a new offset and write over what follows).
        if number == Some(1) {
            return Ok(Target::Stdout);
        }
        return Ok(Target::InPlace(target.to_path_buf()));
    }
    if kind.is_file() {
        let real = if link {
            fs::canonicalize(target).map_err(stat_error)?
        } else {
            target.to_path_buf()
        };
        return Ok(Target::Replace(real));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_socket() {
            return Err(refuse(target, "a socket"));
        }
        if kind.is_block_device() {
            return Err(refuse(target, "a block device"));
        }
    }
    Ok(Target::InPlace(target.to_path_buf()))
}

/// Writes `bytes` to `target` (see [`write_with`]), with `mode`.
pub fn write(target: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    write_with(target, mode, |w| {
        w.write_all(bytes)
            .map_err(|e| Error::io(format!("writing {}", target.display()), e))
    })
}

/// Streams into `target`:
///
/// - `-` is standard output;
/// - a regular file (or a new name) is replaced atomically: `fill` writes into a temporary file
///   beside it, which is synced and renamed over `target` only if `fill` succeeds; on any
///   failure (or SIGINT, SIGTERM, SIGHUP) the temporary file is removed and `target` is
///   untouched, so a failed decryption leaves no plaintext. Through a symbolic link, the file
///   it points to is replaced and the link kept;
/// - a FIFO, a character device or an open descriptor (`/dev/stdout`) is written in place,
///   never replaced;
/// - a directory, a socket, a block device or a link to a missing file is refused.
pub fn write_with<T>(
    target: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let write_error = |e| Error::io(format!("writing {}", target.display()), e);
    match resolve(target)? {
        Target::Stdout => {
            let mut writer = std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout());
            let value = fill(&mut writer)?;
            writer
                .flush()
                .map_err(|e| Error::io("writing standard output", e))?;
            Ok(value)
        }
        Target::InPlace(path) => {
            // Append: through a descriptor to a regular file (`>> log`), what is there stays.
            let file = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(write_error)?;
            let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
            let value = fill(&mut writer)?;
            writer.flush().map_err(write_error)?;
            Ok(value)
        }
        Target::Replace(real) => replace(target, &real, mode, fill),
    }
}

/// The atomic replacement of a regular file `real` (`target` as the user named it).
fn replace<T>(
    target: &Path,
    real: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let write_error = |e| Error::io(format!("writing {}", target.display()), e);
    let dir = real.parent().unwrap_or(Path::new(""));
    temps::sweep_stale(dir);
    let (temp, file) = Temp::create(real, mode).map_err(write_error)?;
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
    let value = fill(&mut writer)?;
    let file = writer
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    file.sync_all().map_err(write_error)?;
    drop(file);
    temp.persist(real).map_err(write_error)?;
    // The rename itself is durable once the directory is synced (not possible everywhere).
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_with_mode() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let target = dir.path().join("plain.txt");
        fs::write(&target, b"old").map_err(|e| Error::io("seed", e))?;
        write(&target, b"secret", Mode::Private)?;
        assert_eq!(read(&target, None)?, b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&target)
                .map_err(|e| Error::io("stat", e))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .map_err(|e| Error::io("list", e))?
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_loop_of_links_is_refused_as_input_error() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).map_err(|e| Error::io("link", e))?;
        std::os::unix::fs::symlink(&a, &b).map_err(|e| Error::io("link", e))?;
        let err = match write(&a, b"x", Mode::Public) {
            Err(e) => e,
            Ok(()) => panic!("wrote through a loop of links"),
        };
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("loop"), "{err}");
        Ok(())
    }

    #[test]
    fn a_directory_is_not_an_input() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let err = match read(dir.path(), None) {
            Err(e) => e,
            Ok(_) => panic!("a directory was read"),
        };
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(err.to_string().contains("is a directory"), "{err}");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_replaced() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let file = dir.path().join("f");
        fs::write(&file, b"x").map_err(|e| Error::io("seed", e))?;
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).map_err(|e| Error::io("link", e))?;
        let real = fs::canonicalize(&file).map_err(|e| Error::io("canonicalize", e))?;
        assert_eq!(resolve(Path::new("-"))?, Target::Stdout);
        assert_eq!(resolve(&file)?, Target::Replace(file.clone()));
        assert_eq!(resolve(&link)?, Target::Replace(real));
        let new = dir.path().join("new");
        assert_eq!(resolve(&new)?, Target::Replace(new.clone()));
        assert_eq!(
            resolve(Path::new("/dev/null"))?,
            Target::InPlace("/dev/null".into())
        );
        if Path::new("/dev/fd").exists() {
            assert_eq!(
                resolve(Path::new("/dev/fd/2"))?,
                Target::InPlace("/dev/fd/2".into())
            );
        }
        let refused = resolve(dir.path()).err().map(|e| e.kind());
        assert_eq!(refused, Some(keychain::ErrorKind::InvalidInput));
        Ok(())
    }

    #[test]
    fn read_enforces_the_limit() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("in");
        fs::write(&path, [0u8; 10]).map_err(|e| Error::io("seed", e))?;
        assert_eq!(read(&path, Some(10))?.len(), 10);
        let err = read(&path, Some(9)).err().map(|e| e.kind());
        assert_eq!(err, Some(keychain::ErrorKind::InvalidInput));
        Ok(())
    }
}
