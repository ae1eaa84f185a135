//! Private temporary directories that a later run can tell apart from ones in use.
//!
//! irel's temporary directories have random names (never a path another user could plant), so
//! a run killed without a chance to clean up (SIGKILL, power loss) leaves one nobody will
//! reuse. Each holds a `lock` file locked with `flock(2)` for as long as its owner lives (the
//! kernel drops the lock when the process ends, however it ends): whoever next works in the same
//! place removes the directories whose lock it can take.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LOCK_FILE: &str = "lock";

/// A private directory (random name after `prefix`, mode 0700), locked while this value
/// lives, and removed with its contents when it is dropped.
///
/// ```
/// let base = tempfile::tempdir().unwrap();
/// let dir = irel::layout::locked_dir::LockedDir::new_in(base.path(), "irel-demo-").unwrap();
/// assert!(dir.path().starts_with(base.path()));
/// // Another run sees it in use and leaves it alone.
/// assert_eq!(irel::layout::locked_dir::remove_dead(base.path(), "irel-demo-"), 0);
/// drop(dir);
/// assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
/// ```
#[derive(Debug)]
pub struct LockedDir {
    // Field order: the lock is released after the directory is gone.
    dir: Option<tempfile::TempDir>,
    _lock: File,
}

impl Drop for LockedDir {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let path = dir.keep();
        // Writers of a copy being cancelled may still create a file or two while the tree is
        // removed (their tasks stop at their next await): try again briefly.
        for _ in 0..10 {
            match std::fs::remove_dir_all(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound && path.exists() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return,
            }
        }
    }
}

impl LockedDir {
    /// Creates one in `parent`, after removing the dead ones with the same `prefix` there.
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<LockedDir> {
        remove_dead(parent, prefix);
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?;
        let lock = File::options()
            .write(true)
            .create_new(true)
            .open(dir.path().join(LOCK_FILE))?;
        if !try_lock(&lock) {
            return Err(io::Error::other("cannot lock a new temporary directory"));
        }
        // Written once locked: an empty lock file marks a directory still being set up, which
        // another run must not take for a dead one in the instant before the lock is taken.
        let _ = (&lock).write_all(std::process::id().to_string().as_bytes());
        Ok(LockedDir {
            dir: Some(dir),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until dropped").path()
    }
}

/// Removes the directories in `parent` named `prefix…` that belong to this user and whose
/// owner is gone (their lock can be taken); returns how many. Links are never followed.
pub fn remove_dead(parent: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return 0;
    };
    // SAFETY: getuid cannot fail and touches no memory.
    let uid = unsafe { libc::getuid() };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path: PathBuf = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let young = meta
            .modified()
            .is_ok_and(|m| m.elapsed().unwrap_or_default() < Duration::from_secs(10));
        let dead = match File::open(path.join(LOCK_FILE)) {
            Ok(lock) => {
                let being_made = young && lock.metadata().is_ok_and(|m| m.len() == 0);
                !being_made && try_lock(&lock)
            }
            // Killed before it made its lock file: dead unless brand new.
            Err(_) => meta
                .modified()
                .is_ok_and(|m| m.elapsed().unwrap_or_default() > Duration::from_secs(60)),
        };
        if dead && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Takes an exclusive lock on `file` without waiting; held until the file is closed.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock on a descriptor this File owns.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_directories_are_removed_and_live_ones_kept() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join("irel-x-dead");
        std::fs::create_dir(&dead).unwrap();
        std::fs::write(dead.join(LOCK_FILE), "4242").unwrap();
        // One being set up (an empty lock file, just made) is left alone.
        let young = base.path().join("irel-x-young");
        std::fs::create_dir(&young).unwrap();
        std::fs::write(young.join(LOCK_FILE), "").unwrap();
        std::fs::write(dead.join("half-written.partial"), "x").unwrap();
        let live = LockedDir::new_in(base.path(), "irel-x-").unwrap();
        let other = base.path().join("not-irel");
        std::fs::create_dir(&other).unwrap();
        std::os::unix::fs::symlink(&other, base.path().join("irel-x-link")).unwrap();
        assert_eq!(
            remove_dead(base.path(), "irel-x-"),
            0,
            "the dead one went when `live` was made"
        );
        assert!(!dead.exists() && live.path().exists() && other.exists() && young.exists());
        let live_path = live.path().to_path_buf();
        drop(live);
        assert!(!live_path.exists());
    }
}
