//! The store directory: a file lock shared by every process using it, and atomic,
//! durable JSON files (write a temporary file, fsync, rename, fsync the directory).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Env var naming the store directory.
pub const ENV_DIR: &str = "CERTKEY_SOFTKEY_DIR";

/// Identity of a file version: changes whenever the file is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

/// A store directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    /// Named by `CERTKEY_SOFTKEY_DIR` or `--dir`, not the default store.
    explicit: bool,
}

/// Holds the store's exclusive lock until dropped.
pub struct LockGuard {
    file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // SAFETY: the descriptor is open for the guard's lifetime.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// The default store directory: `$XDG_DATA_HOME/certkey/softkey` or the platform's.
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "certkey").map(|d| d.data_dir().join("softkey"))
}

impl Store {
    /// The store named by `CERTKEY_SOFTKEY_DIR` (created if missing), else the default
    /// store — not created: while trial mode is off (no `softkey.toml` in it) a program
    /// that loads the installed module through p11-kit leaves no trace.
    pub fn open() -> Result<Store, String> {
        match std::env::var_os(ENV_DIR) {
            Some(d) if !d.is_empty() => Store::at(Path::new(&d)),
            _ => Ok(Store {
                dir: default_dir().ok_or("no home directory for the softkey store")?,
                explicit: false,
            }),
        }
    }

    /// The store in `dir`, created (mode 0700) if missing.
    ///
    /// A folder that already exists keeps its mode (a test's temporary folder, say).
    pub fn at(dir: &Path) -> Result<Store, String> {
        create_private(dir)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            explicit: true,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Named by `CERTKEY_SOFTKEY_DIR` or `--dir` rather than the default store.
    pub fn explicit(&self) -> bool {
        self.explicit
    }

    /// Creates the directory (mode 0700) if it is missing.
    pub fn create(&self) -> Result<(), String> {
        create_private(&self.dir)
    }

    /// Takes the exclusive store lock (blocking).
    pub fn lock(&self) -> Result<LockGuard, String> {
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        loop {
            // SAFETY: valid descriptor.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(LockGuard { file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(format!("{}: {err}", path.display()));
            }
        }
    }

    /// The stamp of a file, `None` when it does not exist.
    pub fn stamp(&self, name: &str) -> Option<Stamp> {
        let m = std::fs::metadata(self.dir.join(name)).ok()?;
        Some(Stamp {
            ino: m.ino(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            len: m.len(),
        })
    }

    /// Reads a JSON file; `None` when it does not exist.
    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, String> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Replaces a JSON file atomically and durably.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), String> {
        let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        self.write_atomic(name, &bytes)
    }

    /// Replaces a file atomically and durably: a crash leaves the old or the new one.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let err = |e: std::io::Error| format!("{}: {e}", path.display());
        {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(err)?;
            f.write_all(bytes).map_err(err)?;
            f.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_and_change_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::at(dir.path()).unwrap();
        assert_eq!(s.read_json::<Vec<u32>>("x.json").unwrap(), None);
        assert!(s.stamp("x.json").is_none());
        s.write_json("x.json", &vec![1u32, 2]).unwrap();
        let a = s.stamp("x.json").unwrap();
        s.write_json("x.json", &vec![3u32]).unwrap();
        assert_ne!(s.stamp("x.json").unwrap(), a);
        assert_eq!(s.read_json::<Vec<u32>>("x.json").unwrap(), Some(vec![3]));
        std::fs::write(dir.path().join("bad.json"), b"{").unwrap();
        assert!(s.read_json::<Vec<u32>>("bad.json").is_err());
    }

    #[test]
    fn the_lock_is_exclusive_between_holders() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::at(dir.path()).unwrap();
        let g = s.lock().unwrap();
        let s2 = s.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _g = s2.lock().unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(g);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }
}

/// Creates `dir` and its missing parents; the folders made here are private to the
/// user (0700): the store holds the keys' wrapped secrets.
fn create_private(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

#[cfg(all(test, unix))]
mod private_tests {
    #[test]
    fn a_new_store_folder_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a").join("softkey");
        super::Store::at(&dir).expect("store");
        let mode = std::fs::metadata(&dir).expect("made").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
