//! The keystore's file-system rules: what is checked before a keystore is trusted, when a
//! keystore may be created, and how files are written.
//!
//! - **Only what is ours is changed.** A keystore is created only where nothing is (the
//!   directory does not exist, or is empty, or holds only the remains of an unfinished
//!   creation), and only when the caller asked for it ([`OpenMode`]). A directory that holds
//!   keys but no `keystore.json` is damaged: it is neither opened nor re-initialised. Modes are
//!   set only on directories and files created here, never on existing ones.
//! - **Nothing others can write is trusted** (OpenSSH's rule for `~/.ssh` and key files): the
//!   keystore directory, its `keys/`, `aliases/` and `tmp/`, every key directory, `meta.json`
//!   and alias files must not be writable by group or others; the secrets, `keystore.json` and
//!   the key files `vN.pem`, must not be readable or writable by group or others either
//!   (`keystore.json` holds a password verifier and key files are encrypted private keys: both
//!   allow offline guessing of the password). Every one must be owned by the user or root.
//! - **Reading writes nothing**, so a keystore on a read-only file system signs, verifies and
//!   decrypts; a write fails with one line saying the keystore is read-only.
//! - **Failed writes leave nothing behind**: a temporary file or staging directory is removed
//!   when the write fails (a full disk included), and `tmp/` is swept by every writer, so the
//!   remains of a killed process go at the next write.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind as IoKind, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::OpenMode;
use crate::random::random_bytes;
use crate::{Error, Result};

/// The subdirectories of a keystore.
pub(super) const SUBDIRS: [&str; 3] = ["keys", "aliases", "tmp"];
/// The keystore header.
pub(super) const HEADER: &str = "keystore.json";
const LOCK: &str = ".lock";

pub(super) fn io_err(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(context, e)
}

// ---- checks -------------------------------------------------------------------------------

/// Whether the user running this may trust a file owned by `uid`: the user's own, or root's.
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

fn unsafe_mode(path: &Path, meta: &fs::Metadata, why: &str, fix: &str) -> Error {
    Error::AccessDenied {
        operation: "the keystore".into(),
        message: format!(
            "{} is mode {:04o}: {why}; refusing to use it (fix with `chmod {fix} {}`)",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        ),
    }
}

fn check_owner(path: &Path, meta: &fs::Metadata) -> Result<()> {
    if trusted_owner(meta.uid()) {
        return Ok(());
    }
    Err(Error::AccessDenied {
        operation: "the keystore".into(),
        message: format!(
            "{} is owned by uid {}, neither you nor root; refusing to use it",
            path.display(),
            meta.uid()
        ),
    })
}

/// A keystore directory: a directory that neither group nor others can write, owned by the
/// user or root.
pub(super) fn check_dir(path: &Path, meta: &fs::Metadata) -> Result<()> {
    if !meta.is_dir() {
        return Err(Error::invalid_input(format!(
            "{} is not a directory",
            path.display()
        )));
    }
    check_owner(path, meta)?;
    if meta.mode() & 0o022 != 0 {
        return Err(unsafe_mode(
            path,
            meta,
            "group or others can write to it",
            "go-w",
        ));
    }
    Ok(())
}

/// Whether a file holds a secret (others may not even read it) or not (others may not write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `keystore.json` and key material files.
    Secret,
    /// Metadata and aliases.
    Public,
}

/// A keystore file: a regular file owned by the user or root that group and others cannot
/// write, nor read if it is a [`Kind::Secret`].
pub(super) fn check_file(path: &Path, meta: &fs::Metadata, kind: Kind) -> Result<()> {
    if !meta.is_file() {
        return Err(Error::Corrupted {
            what: path.display().to_string(),
            message: "not a regular file".into(),
        });
    }
    check_owner(path, meta)?;
    match kind {
        Kind::Secret if meta.mode() & 0o077 != 0 => Err(unsafe_mode(
            path,
            meta,
            "group or others can read or write this secret",
            "600",
        )),
        Kind::Public if meta.mode() & 0o022 != 0 => Err(unsafe_mode(
            path,
            meta,
            "group or others can write to it",
            "go-w",
        )),
        _ => Ok(()),
    }
}

/// Checks the directory `path` (following symbolic links, as every later open does).
pub(super) fn check_dir_at(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(io_err(format!("reading {}", path.display())))?;
    check_dir(path, &meta)
}

/// Opens a keystore file for reading after [`check_file`] (on the opened file itself, so a
/// replacement between a check and an open cannot slip through). `Ok(None)` if it does not
/// exist.
pub(super) fn open_checked(path: &Path, kind: Kind) -> Result<Option<(File, fs::Metadata)>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let meta = file
        .metadata()
        .map_err(io_err(format!("reading {}", path.display())))?;
    check_file(path, &meta, kind)?;
    Ok(Some((file, meta)))
}

/// Reads a keystore file (see [`open_checked`]).
pub(super) fn read_checked(path: &Path, kind: Kind) -> Result<Option<Vec<u8>>> {
    let Some((mut file, meta)) = open_checked(path, kind)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::io::Read::read_to_end(&mut file, &mut bytes)
        .map_err(io_err(format!("reading {}", path.display())))?;
    Ok(Some(bytes))
}

/// The header of the keystore at `root`, checked: `Ok(None)` if `root` does not exist or holds
/// no `keystore.json`. Writes nothing.
pub(super) fn read_header(root: &Path) -> Result<Option<Vec<u8>>> {
    match fs::metadata(root) {
        Ok(meta) => check_dir(root, &meta)?,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", root.display()), e)),
    }
    read_checked(&root.join(HEADER), Kind::Secret)
}

/// What a directory without a keystore header holds.
enum Contents {
    /// Nothing, or only what an unfinished creation leaves (empty `keys/`, `aliases/`,
    /// `tmp/`, the lock file, temporary files).
    Empty,
    /// Keys or aliases: a keystore whose header is missing.
    Keys(usize),
    /// Something that is not part of a keystore (the first such entry's name).
    Foreign(String),
}

fn count_entries(dir: &Path) -> Result<usize> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.count()),
        Err(e) if e.kind() == IoKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(format!("listing {}", dir.display()), e)),
    }
}

fn inspect(root: &Path) -> Result<Contents> {
    let listing = io_err(format!("listing {}", root.display()));
    let keys = count_entries(&root.join("keys"))?;
    if keys + count_entries(&root.join("aliases"))? > 0 {
        return Ok(Contents::Keys(keys));
    }
    for entry in fs::read_dir(root).map_err(listing)? {
        let entry = entry.map_err(io_err(format!("listing {}", root.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = SUBDIRS.contains(&name.as_str()) || name == LOCK || name.starts_with(".tmp-");
        if !ours {
            return Ok(Contents::Foreign(name));
        }
    }
    Ok(Contents::Empty)
}

fn no_keystore(root: &Path) -> Error {
    Error::NoKeystore {
        path: root.display().to_string(),
    }
}

fn damaged(root: &Path, keys: usize) -> Error {
    let holds = match keys {
        0 => "aliases".to_string(),
        n => format!("{n} key(s)"),
    };
    Error::Corrupted {
        what: root.join(HEADER).display().to_string(),
        message: format!(
            "the file is missing, but the keystore holds {holds}: it is damaged, and it \
             is neither opened nor re-initialised (that would make its keys unreadable). \
             Restore keystore.json from a backup; the keys are intact, and the asymmetric ones \
             (keys/ID/vN.pem) are encrypted PKCS#8 that `openssl pkey -in FILE -passin \
             env:KEYCHAIN_PASSWORD` reads with the keystore's password"
        ),
    }
}

/// Prepares `root` for a new keystore when it has no header: refuses per [`OpenMode`] and the
/// directory's contents, else creates the directory (and its parents) and returns the lock,
/// under which the caller reads the header again (another process may have won) or writes it.
pub(super) fn prepare_new(root: &Path, mode: OpenMode) -> Result<LockGuard> {
    let exists = match fs::metadata(root) {
        Ok(meta) => {
            check_dir(root, &meta)?;
            true
        }
        Err(e) if e.kind() == IoKind::NotFound => false,
        Err(e) => return Err(Error::io(format!("reading {}", root.display()), e)),
    };
    if exists {
        // Another process created the keystore since the caller looked: open it (the caller
        // reads the header again under the lock).
        if root.join(HEADER).exists() {
            return lock(root);
        }
        match inspect(root)? {
            // The header appeared between the look above and this one: the same race.
            _ if root.join(HEADER).exists() => return lock(root),
            Contents::Keys(n) => return Err(damaged(root, n)),
            Contents::Foreign(name) if mode != OpenMode::Open => {
                return Err(Error::invalid_input(format!(
                    "{} is not a keystore and not empty (it holds {name:?}): a keystore is \
                     created only in a new or empty directory",
                    root.display()
                )));
            }
            _ => {}
        }
    }
    if mode == OpenMode::Open {
        return Err(no_keystore(root));
    }
    if !exists {
        if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io_err(format!("creating {}", parent.display())))?;
        }
        if !create_dir_0700(root)? {
            check_dir_at(root)?;
        }
    }
    let lock = lock(root)?;
    // Under the lock no key can appear (creating one takes it), so this look is the last word.
    if let Contents::Keys(n) = inspect(root)?
        && !root.join(HEADER).exists()
    {
        return Err(damaged(root, n));
    }
    Ok(lock)
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    pub(super) fn of(meta: &fs::Metadata) -> Self {
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

// ---- the lock -----------------------------------------------------------------------------

/// Proof that the keystore lock is held; released on drop.
pub(super) struct LockGuard {
    file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Whether an error means the file system (or directory) does not let us write.
pub(super) fn is_read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        IoKind::ReadOnlyFilesystem | IoKind::PermissionDenied
    )
}

/// Takes the keystore's write lock, creates missing subdirectories and sweeps `tmp/` (what is
/// there was left by a writer that died: writers stage there only while holding the lock).
pub(super) fn lock(root: &Path) -> Result<LockGuard> {
    let path = root.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| {
            if is_read_only(&e) {
                Error::io(
                    format!(
                        "the keystore {} is read-only: it cannot be changed (its write lock {} \
                         cannot be opened)",
                        root.display(),
                        path.display()
                    ),
                    e,
                )
            } else {
                Error::io(format!("opening {}", path.display()), e)
            }
        })?;
    file.lock()
        .map_err(io_err(format!("locking {}", path.display())))?;
    let guard = LockGuard { file };
    for sub in SUBDIRS {
        let dir = root.join(sub);
        if !create_dir_0700(&dir)? {
            check_dir_at(&dir)?;
        }
    }
    sweep(&root.join("tmp"));
    Ok(guard)
}

/// Removes everything in `dir`, best effort.
fn sweep(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let _ = match entry.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
            _ => fs::remove_file(&path),
        };
    }
}

// ---- writing ------------------------------------------------------------------------------

/// Creates the directory `path` with mode 0700; `Ok(false)` if it exists (then it is not
/// ours and is left as it is).
pub(super) fn create_dir_0700(path: &Path) -> Result<bool> {
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == IoKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
    }
    // Ours: the umask may have taken bits the owner needs.
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(io_err(format!("setting permissions of {}", path.display())))?;
    Ok(true)
}

/// A staging directory: created empty, removed with everything in it when dropped unless
/// [`Staging::keep`] is called (it was renamed into place).
pub(super) struct Staging {
    path: Option<PathBuf>,
}

impl Staging {
    /// Creates the staging directory `path`.
    pub(super) fn create(path: PathBuf) -> Result<Self> {
        if !create_dir_0700(&path)? {
            return Err(Error::io(
                format!("creating {}", path.display()),
                std::io::Error::from(IoKind::AlreadyExists),
            ));
        }
        Ok(Staging { path: Some(path) })
    }

    /// The staging directory.
    pub(super) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// The directory was moved into place: nothing to remove.
    pub(super) fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_dir_all(path);
        }
    }
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("syncing {}", dir.display())))
}

pub(super) fn temp_name(dir: &Path) -> Result<PathBuf> {
    let r = random_bytes(8)?;
    let hex: String = r.iter().map(|x| format!("{x:02x}")).collect();
    Ok(dir.join(format!(".tmp-{hex}")))
}

/// Writes a new file with mode 0600 and fsyncs it; if writing fails (a full disk), the file
/// is removed.
pub(super) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("creating {}", path.display())))?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = fs::remove_file(path);
        return Err(Error::io(format!("writing {}", path.display()), e));
    }
    Ok(())
}

/// Replaces `path` atomically: temp file in the same directory, fsync, rename, fsync the
/// directory. The temp file never outlives a failure.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::invalid_input(format!("{} has no parent", path.display())))?;
    let tmp = temp_name(dir)?;
    write_new_file(&tmp, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(format!("replacing {}", path.display()), e));
    }
    sync_dir(dir)
}
