//! Reading inputs (`-` is stdin) and writing outputs atomically: a temporary file beside the
//! target, synced, then renamed over it, so a reader never sees half a file and a failure
//! leaves the old file in place.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use keychain::{Error, Result};

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
    File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))
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

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.keychain-{}-{n}.tmp", std::process::id()))
}

fn create_new(path: &Path, mode: Mode) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match mode {
            Mode::Public => 0o644,
            Mode::Private => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Writes `bytes` to `target` atomically (temporary file + rename), with `mode`.
pub fn write(target: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    write_with(target, mode, |w| {
        w.write_all(bytes)
            .map_err(|e| Error::io(format!("writing {}", target.display()), e))
    })
}

/// Streams into `target` atomically: `fill` writes into a temporary file beside it, which is
/// synced and renamed over `target` only if `fill` succeeds. On any failure the temporary
/// file is removed and `target` is untouched, so a failed decryption leaves no plaintext.
pub fn write_with<T>(
    target: &Path,
    mode: Mode,
    fill: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    if target.file_name().is_none() {
        return Err(Error::invalid_input(format!(
            "output {} is not a file name",
            target.display()
        )));
    }
    let tmp = temp_path(target);
    let file = create_new(&tmp, mode)
        .map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
    let result = fill(&mut writer).and_then(|value| {
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(format!("writing {}", target.display()), e.into_error()))?;
        file.sync_all()
            .and_then(|()| fs::rename(&tmp, target))
            .map_err(|e| Error::io(format!("writing {}", target.display()), e))?;
        Ok(value)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
