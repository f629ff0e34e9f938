//! Temporary output files: the one register of those alive in this process, removed on
//! failure, on a panic, and on SIGINT, SIGTERM or SIGHUP (the process then exits with
//! 128 + the signal's number); and the sweep that removes those left by a process that was
//! killed outright (SIGKILL cannot be caught).
//!
//! A temporary file is named `.{name}.keychain-{pid}-{n}.tmp`, beside the file `name` it will
//! replace. Only files of exactly that pattern, owned by this user, whose process is gone,
//! are ever swept.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::files::Mode;

/// The temporary files this process has open. Creating, renaming and removing one all happen
/// under this lock, so a signal's cleanup never misses a file nor races a rename.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const MARK: &str = ".keychain-";
const SUFFIX: &str = ".tmp";

/// The process id in a temporary file's name, if `name` is exactly one of ours.
fn temp_pid(name: &str) -> Option<u32> {
    let (prefix, numbers) = name.strip_suffix(SUFFIX)?.rsplit_once(MARK)?;
    if prefix.len() < 2 || !prefix.starts_with('.') {
        return None;
    }
    let (pid, n) = numbers.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

/// A temporary file beside `target`, registered until it is renamed over `target` or removed.
#[derive(Debug)]
pub struct Temp {
    path: PathBuf,
    /// Renamed over its target: nothing left to remove.
    persisted: bool,
}

impl Temp {
    /// Creates a new temporary file beside `target` with `mode`, open for writing.
    pub fn create(target: &Path, mode: Mode) -> std::io::Result<(Temp, File)> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            target.with_file_name(format!(".{name}{MARK}{}-{n}{SUFFIX}", std::process::id()));
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
        let mut live = live();
        let file = options.open(&path)?;
        live.push(path.clone());
        let temp = Temp {
            path,
            persisted: false,
        };
        Ok((temp, file))
    }

    /// Renames the file (written, synced and closed) over `target`; on failure it is removed
    /// (when `self` drops).
    pub fn persist(mut self, target: &Path) -> std::io::Result<()> {
        let mut live = live();
        fs::rename(&self.path, target)?;
        live.retain(|p| *p != self.path);
        self.persisted = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.persisted {
            return;
        }
        let mut live = live();
        let _ = fs::remove_file(&self.path);
        live.retain(|p| *p != self.path);
    }
}

/// Registers a file this process made that must not outlive it, though it is no temporary
/// (the SSH agent's socket): a signal removes it with the temporary files.
pub fn remove_on_signal(path: &Path) {
    live().push(path.to_path_buf());
}

/// Unregisters a file of [`remove_on_signal`] once the process has removed it itself.
pub fn forget(path: &Path) {
    live().retain(|p| p != path);
}

/// Removes every registered temporary file; for the signal handler, which exits after it.
/// The lock stays held, so no new temporary file appears before the exit.
fn remove_all_and_exit(code: i32) -> ! {
    let live = live();
    for path in live.iter() {
        let _ = fs::remove_file(path);
    }
    std::process::exit(code)
}

/// Removes, from `dir`, our temporary files whose process no longer runs (best effort: a
/// file that cannot be checked is left alone). Only on Linux, where `/proc` tells which
/// processes run; a live process of the same id (a reused id) keeps its file.
pub fn sweep_stale(dir: &Path) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(me) = fs::metadata("/proc/self") else {
            return;
        };
        let Ok(entries) = fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(temp_pid) else {
                continue;
            };
            if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
                continue;
            }
            // Never follow a link; only a regular file of this user is ours to remove.
            match entry.path().symlink_metadata() {
                Ok(meta) if meta.is_file() && meta.uid() == me.uid() => {
                    let _ = fs::remove_file(entry.path());
                }
                _ => {}
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
}

/// Starts watching SIGINT, SIGTERM and SIGHUP: on any of them the registered temporary files
/// are removed and the process exits with 128 + the signal's number. The handlers are
/// installed before this returns; the watch runs on a thread of its own, so it acts even
/// while a command blocks in a long write.
pub fn watch_signals() -> keychain::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| keychain::Error::io("starting the signal watch", e))?;
        let installed = {
            let _entered = runtime.enter();
            (|| {
                Ok::<_, std::io::Error>((
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                ))
            })()
        };
        let (mut int, mut term, mut hup) =
            installed.map_err(|e| keychain::Error::io("installing the signal handlers", e))?;
        std::thread::Builder::new()
            .name("keychain-signals".into())
            .spawn(move || {
                let signo = runtime.block_on(async {
                    tokio::select! {
                        _ = int.recv() => 2,
                        _ = term.recv() => 15,
                        _ = hup.recv() => 1,
                    }
                });
                remove_all_and_exit(128 + signo)
            })
            .map_err(|e| keychain::Error::io("starting the signal watch", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_exact_pattern_is_recognised() {
        assert_eq!(temp_pid(".out.sig.keychain-123-0.tmp"), Some(123));
        assert_eq!(temp_pid(".a.keychain-b.keychain-7-12.tmp"), Some(7));
        for name in [
            "out.sig.keychain-123-0.tmp",
            "..keychain-123-0.tmp.x",
            ".out.keychain-123-.tmp",
            ".out.keychain--0.tmp",
            ".out.keychain-12a-0.tmp",
            ".out.keychain-123-0",
            ".keychain-123-0.tmp",
            ".out.tmp",
        ] {
            assert_eq!(temp_pid(name), None, "{name}");
        }
    }

    #[test]
    fn a_dropped_temp_is_removed_and_unregistered() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let (temp, file) = Temp::create(&dir.path().join("x"), Mode::Private)?;
        drop(file);
        let path = temp.path.clone();
        assert!(path.exists());
        assert!(live().contains(&path));
        drop(temp);
        assert!(!path.exists());
        assert!(!live().contains(&path));
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn stale_temps_of_dead_processes_are_swept() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        // pid_max is at most 2^22 on Linux: this process cannot exist.
        let dead = dir.path().join(".x.keychain-4194305-0.tmp");
        let alive = dir
            .path()
            .join(format!(".x.keychain-{}-99.tmp", std::process::id()));
        let other = dir.path().join(".x.keychain-4194305-0.tmp.keep");
        for p in [&dead, &alive, &other] {
            fs::write(p, b"partial")?;
        }
        sweep_stale(dir.path());
        assert!(!dead.exists());
        assert!(alive.exists() && other.exists());
        Ok(())
    }
}
