//! Modules loaded in the app for the operations that need them (activation, PIN
//! change, export), only while they run. Watching happens in helper processes
//! (certkey-core's `IsolatedWatch`), so a module that crashes while it is merely
//! watched never takes the window down.
//!
//! A module is loaded once however many operations use it at the same time, and
//! finalised (C_Finalize) when the last one ends — after the window heard the
//! outcome. Each module has its own lock, so a module that hangs in C_Initialize
//! holds up only operations on its own keys, and they give up after a while. The
//! library itself stays mapped for the app's life: unmapping a vendor library whose
//! threads outlive C_Finalize would crash the app.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::time::{Duration, Instant};

use certkey_core::pkcs11::{LoadedModule, ModuleSpec};
use certkey_core::Error;

type Slot = Arc<Mutex<Weak<LoadedModule>>>;

/// The modules operations hold, by path.
#[derive(Default)]
pub struct Leases {
    slots: Mutex<HashMap<String, Slot>>,
}

/// A module held for one operation.
pub struct Lease {
    module: Option<Arc<LoadedModule>>,
    slot: Slot,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each update is one assignment: a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Leases {
    /// The module of `spec`, loaded if no operation holds it yet; waits up to `wait`
    /// while another operation loads or finalises it (`module_busy` after that).
    pub fn lease(&self, spec: &ModuleSpec, wait: Duration) -> Result<Lease, Error> {
        let slot = Arc::clone(lock(&self.slots).entry(spec.path.clone()).or_default());
        let until = Instant::now() + wait;
        let mut held = loop {
            match slot.try_lock() {
                Ok(g) => break g,
                Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(TryLockError::WouldBlock) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::ModuleBusy {
                        module: spec.path.clone(),
                    })
                }
            }
        };
        let module = match held.upgrade() {
            Some(m) => m,
            None => {
                let m = Arc::new(LoadedModule::load(spec.clone())?);
                keep_mapped(&spec.path);
                *held = Arc::downgrade(&m);
                m
            }
        };
        drop(held);
        Ok(Lease {
            module: Some(module),
            slot,
        })
    }
}

/// Keeps the library at `path` mapped until the process ends (one more reference
/// that is never released; loading it again later finds it mapped).
fn keep_mapped(path: &str) {
    #[cfg(unix)]
    {
        let Ok(c) = std::ffi::CString::new(path) else {
            return;
        };
        // SAFETY: the library is already loaded (this only raises its reference
        // count and marks it never to be unloaded); the handle is deliberately kept.
        let handle = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NODELETE) };
        if handle.is_null() {
            tracing::debug!(module = path, "cannot pin the library");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

impl Deref for Lease {
    type Target = LoadedModule;

    fn deref(&self) -> &LoadedModule {
        // Set from creation until drop.
        self.module.as_deref().expect("a lease holds its module")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The last holder finalises the module under its lock, so that a new lease
        // never loads it while C_Finalize runs.
        let _held = lock(&self.slot);
        self.module = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certkey_core::pkcs11::ModuleSource;
    use std::path::Path;

    /// Operations at the same time share one loaded module, and one ending does not
    /// finalise it under the other (a second load in one process would: C_Finalize
    /// ends the module for every caller); once all ended, the next loads it afresh.
    #[test]
    fn operations_share_a_module_and_the_last_one_finalises_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("softkey.toml"),
            "[[slot]]\nserial = \"SKLEASE0000001\"\n",
        )
        .expect("softkey.toml");
        std::env::set_var("CERTKEY_SOFTKEY_DIR", dir.path());
        // target/debug, from target/debug/deps/certkey_app-...
        let exe = std::env::current_exe().expect("test binary");
        let module = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/debug")
            .join("libcertkey_softkey.so");
        assert!(module.exists(), "build the workspace first (cargo build)");
        let spec = ModuleSpec {
            path: module.display().to_string(),
            source: ModuleSource::CommandLine,
        };
        let slots = |m: &LoadedModule| m.ctx.get_slots_with_token().map(|s| s.len());

        // What leases prevent: a second load dropped under the first finalises it.
        let first = LoadedModule::load(spec.clone()).expect("loads");
        drop(LoadedModule::load(spec.clone()).expect("loads again"));
        assert!(slots(&first).is_err(), "finalised under the first");
        drop(first);

        let leases = Leases::default();
        let wait = Duration::from_secs(1);
        let a = leases.lease(&spec, wait).expect("loads");
        let b = leases.lease(&spec, wait).expect("shared");
        assert!(std::ptr::eq::<LoadedModule>(&*a, &*b));
        drop(a);
        assert_eq!(slots(&b).expect("still initialised"), 1);
        drop(b);
        let c = leases.lease(&spec, wait).expect("loads afresh");
        // An operation loading or finalising the module holds up another only so long.
        let busy = c.slot.lock().unwrap();
        let other = Leases {
            slots: Mutex::new([(spec.path.clone(), Arc::clone(&c.slot))].into()),
        };
        let e = other
            .lease(&spec, Duration::from_millis(50))
            .err()
            .expect("busy");
        assert_eq!(e.code(), "module_busy");
        drop(busy);
        assert_eq!(slots(&c).expect("initialised"), 1);
    }
}
