//! Real file systems for tests of what a keystore does on them: a small tmpfs (a disk that
//! fills up) and a read-only bind mount. Mounting needs root (CAP_SYS_ADMIN), which the tests
//! and CI have; a test that cannot mount fails, unless `KEYCHAIN_TEST_ALLOW_NO_MOUNT` is set,
//! in which case it says on stderr that it was skipped and why.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to skip (with a message) the tests that need to mount, where mounting is impossible.
pub const ALLOW_NO_MOUNT_ENV: &str = "KEYCHAIN_TEST_ALLOW_NO_MOUNT";

/// A file system mounted for a test; unmounted when dropped.
#[derive(Debug)]
pub struct Mount {
    path: PathBuf,
}

fn mount(args: &[&OsStr], what: &str) -> Option<()> {
    let out = Command::new("mount")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running mount for {what}: {e}"));
    if out.status.success() {
        return Some(());
    }
    let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if std::env::var_os(ALLOW_NO_MOUNT_ENV).is_some() {
        eprintln!("SKIPPED: cannot mount {what} ({why}); {ALLOW_NO_MOUNT_ENV} is set");
        return None;
    }
    panic!(
        "cannot mount {what}: {why} (these tests need root; set {ALLOW_NO_MOUNT_ENV}=1 to skip \
         them where mounting is impossible)"
    );
}

impl Mount {
    /// A tmpfs of `size` (`mount -o size=…`: `256k`, `1m`) at the existing directory `at`.
    pub fn tmpfs(at: &Path, size: &str) -> Option<Self> {
        let options = format!("size={size},mode=0700");
        let args: [&OsStr; 6] = [
            "-t".as_ref(),
            "tmpfs".as_ref(),
            "-o".as_ref(),
            options.as_ref(),
            "tmpfs".as_ref(),
            at.as_os_str(),
        ];
        mount(&args, &format!("a tmpfs at {}", at.display()))?;
        Some(Mount {
            path: at.to_path_buf(),
        })
    }

    /// `source` seen read-only at the existing directory `at` (a bind mount remounted
    /// read-only: writes fail with EROFS, even for root).
    pub fn read_only(source: &Path, at: &Path) -> Option<Self> {
        let what = format!("{} read-only at {}", source.display(), at.display());
        mount(
            &["--bind".as_ref(), source.as_os_str(), at.as_os_str()],
            &what,
        )?;
        let mounted = Mount {
            path: at.to_path_buf(),
        };
        let remount: [&OsStr; 3] = ["-o".as_ref(), "remount,bind,ro".as_ref(), at.as_os_str()];
        mount(&remount, &what)?;
        Some(mounted)
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
