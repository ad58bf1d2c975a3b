//! Finding and loading PKCS#11 modules. Several modules are loaded side by side; one
//! that fails is reported and the others go on.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::{Error, Result};

use super::ckr;

/// Why a module is in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModuleSource {
    /// Found on disk under a file name the catalog knows for this vendor.
    Catalog {
        /// Vendor id in the catalog.
        vendor: String,
    },
    /// Listed in the user's config file.
    Config,
    /// Listed in `CERTKEY_MODULES`.
    Env,
    /// Given with `--module`.
    CommandLine,
}

/// A module to load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ModuleSpec {
    /// Path as found or given.
    pub path: String,
    /// Where it came from.
    pub source: ModuleSource,
}

/// Folders searched for bare module file names from the catalog.
pub fn library_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // Beside our own executable first: a bundled softkey module lives there.
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if cfg!(target_os = "linux") {
        let triple = format!("/usr/lib/{}-linux-gnu", std::env::consts::ARCH);
        for d in [
            format!("{triple}/pkcs11"),
            triple,
            "/usr/lib64/pkcs11".into(),
            "/usr/lib64".into(),
            "/usr/lib/pkcs11".into(),
            "/usr/lib".into(),
            "/usr/local/lib/pkcs11".into(),
            "/usr/local/lib".into(),
        ] {
            dirs.push(PathBuf::from(d));
        }
    } else if cfg!(target_os = "macos") {
        for d in ["/usr/local/lib", "/opt/homebrew/lib", "/Library/OpenSC/lib"] {
            dirs.push(PathBuf::from(d));
        }
    } else if cfg!(windows) {
        if let Some(root) = std::env::var_os("SystemRoot") {
            dirs.push(PathBuf::from(root).join("System32"));
        }
    }
    dirs
}

/// Builds the list of modules to load: catalog modules present on disk (when
/// `use_catalog`), then the config's, the environment's and the command line's.
/// Duplicates (same file) are kept once, at their first place.
pub fn discover_modules(
    catalog: &Catalog,
    use_catalog: bool,
    config: &[String],
    env: &[String],
    cli: &[String],
) -> Vec<ModuleSpec> {
    let mut out: Vec<ModuleSpec> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut push = |path: String, source: ModuleSource| {
        let key = std::fs::canonicalize(&path).unwrap_or_else(|_| PathBuf::from(&path));
        if !seen.contains(&key) {
            seen.push(key);
            out.push(ModuleSpec { path, source });
        }
    };
    if use_catalog {
        let dirs = library_dirs();
        for v in catalog.vendors() {
            for name in v.modules.current() {
                let found = if Path::new(name).is_absolute() {
                    Path::new(name).is_file().then(|| PathBuf::from(name))
                } else {
                    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
                };
                if let Some(p) = found {
                    push(
                        p.display().to_string(),
                        ModuleSource::Catalog {
                            vendor: v.id.clone(),
                        },
                    );
                    break;
                }
            }
        }
    }
    for p in config {
        push(p.clone(), ModuleSource::Config);
    }
    for p in env {
        push(p.clone(), ModuleSource::Env);
    }
    for p in cli {
        push(p.clone(), ModuleSource::CommandLine);
    }
    out
}

/// CK_INFO of a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LibraryInfo {
    /// Cryptoki version the module implements, e.g. `2.40`.
    pub cryptoki_version: String,
    /// manufacturerID.
    pub manufacturer: String,
    /// libraryDescription.
    pub description: String,
    /// libraryVersion.
    pub version: String,
}

/// A loaded and initialised module.
pub struct LoadedModule {
    /// What was loaded.
    pub spec: ModuleSpec,
    /// The cryptoki context.
    pub ctx: Pkcs11,
    /// C_GetInfo, or why it failed.
    pub info: Result<LibraryInfo>,
    /// For a module that cannot lock for itself (it refused OS locking with
    /// CKR_CANT_LOCK and was initialised without): held by whoever calls it, so
    /// that one thread at a time does. See [`LoadedModule::hold`].
    single_thread: Option<Mutex<()>>,
}

impl std::fmt::Debug for LoadedModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModule")
            .field("spec", &self.spec)
            .finish()
    }
}

impl Drop for LoadedModule {
    fn drop(&mut self) {
        // C_Finalize so the module can release its resources (cryptoki does not do it
        // on drop). Sessions opened through this context are closed by now.
        if let Err(e) = self.ctx.clone().finalize() {
            tracing::debug!(module = %self.spec.path, error = %e, "C_Finalize failed");
        }
    }
}

impl LoadedModule {
    /// Loads and initialises (C_Initialize with OS locking) one module.
    pub fn load(spec: ModuleSpec) -> Result<Self> {
        let path = Path::new(&spec.path);
        if !path.exists() {
            return Err(Error::ModuleNotFound {
                path: spec.path.clone(),
            });
        }
        if path.is_dir() {
            return Err(Error::ModuleLoadFailed {
                path: spec.path.clone(),
                reason: "is a directory".into(),
            });
        }
        let ctx = super::trace::call(&spec.path, "C_GetFunctionList", None, || Pkcs11::new(path))
            .map_err(|e| match e {
            CkError::LibraryLoading(le) => Error::ModuleLoadFailed {
                path: spec.path.clone(),
                reason: le.to_string(),
            },
            CkError::MissingSymbol(sym) => Error::ModuleLoadFailed {
                path: spec.path.clone(),
                reason: format!("not a PKCS#11 module: no {sym}"),
            },
            other => ckr::convert(other, "C_GetFunctionList"),
        })?;
        let init = super::trace::call(&spec.path, "C_Initialize", None, || {
            ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        });
        let mut single_thread = None;
        match init {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(CkError::Pkcs11(RvError::CantLock, _)) => {
                // A module without OS locking: fall back to no locking arguments,
                // which promises the module one thread at a time.
                super::trace::call(&spec.path, "C_Initialize", None, || {
                    ctx.initialize(CInitializeArgs::new(CInitializeFlags::empty()))
                })
                .map_err(|e| ckr::convert(e, "C_Initialize"))?;
                single_thread = Some(Mutex::new(()));
            }
            Err(e) => return Err(ckr::convert(e, "C_Initialize")),
        }
        let info = super::trace::call(&spec.path, "C_GetInfo", None, || ctx.get_library_info())
            .map(|i| LibraryInfo {
                cryptoki_version: version(i.cryptoki_version()),
                manufacturer: i.manufacturer_id().trim().to_string(),
                description: i.library_description().trim().to_string(),
                version: version(i.library_version()),
            })
            .map_err(|e| ckr::convert(e, "C_GetInfo"));
        Ok(LoadedModule {
            spec,
            ctx,
            info,
            single_thread,
        })
    }

    /// For a module that must be called by one thread at a time, waits up to `wait`
    /// for its turn and returns the guard to keep while calling it (an error naming
    /// the module when it stays busy). For other modules: `None` at once. Front ends
    /// that call a module from several threads (the app's watch and its operations)
    /// hold this around their calls.
    pub fn hold(&self, wait: Duration) -> Result<Option<MutexGuard<'_, ()>>> {
        let Some(lock) = &self.single_thread else {
            return Ok(None);
        };
        let deadline = Instant::now() + wait;
        loop {
            match lock.try_lock() {
                Ok(guard) => return Ok(Some(guard)),
                // The holder panicked; the module itself is as it was.
                Err(TryLockError::Poisoned(p)) => return Ok(Some(p.into_inner())),
                Err(TryLockError::WouldBlock) if Instant::now() >= deadline => {
                    return Err(Error::ModuleBusy {
                        module: self.spec.path.clone(),
                    })
                }
                Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// `major.minor` of a CK_VERSION.
pub fn version(v: cryptoki::types::Version) -> String {
    format!("{}.{}", v.major(), v.minor())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_module_is_named_with_its_path() {
        let spec = ModuleSpec {
            path: "/nonexistent/libnope.so".into(),
            source: ModuleSource::CommandLine,
        };
        let e = LoadedModule::load(spec).unwrap_err();
        assert_eq!(
            e,
            Error::ModuleNotFound {
                path: "/nonexistent/libnope.so".into()
            }
        );
    }

    #[test]
    fn a_file_that_is_not_a_library_gives_the_loader_message() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fake.so");
        std::fs::write(&p, b"not an ELF file").unwrap();
        let spec = ModuleSpec {
            path: p.display().to_string(),
            source: ModuleSource::Env,
        };
        match LoadedModule::load(spec).unwrap_err() {
            Error::ModuleLoadFailed { path, reason } => {
                assert_eq!(path, p.display().to_string());
                assert!(!reason.is_empty());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn duplicates_are_listed_once_at_their_first_place() {
        let cat = Catalog::builtin();
        let v = discover_modules(
            &cat,
            false,
            &["/x/a.so".into()],
            &["/x/a.so".into(), "/x/b.so".into()],
            &["/x/b.so".into()],
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].source, ModuleSource::Config);
        assert_eq!(v[1].source, ModuleSource::Env);
    }
}
