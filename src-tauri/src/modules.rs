//! Modules loaded in the app for the operations that need them (activation, PIN
//! change, export), only while they run. Watching happens in helper processes
//! (certkey-core's `IsolatedWatch`), so a module that crashes while it is merely
//! watched never takes the window down.
//!
//! A module is loaded once however many operations use it at the same time, and
//! finalised (C_Finalize) when the last one ends. Each module has its own lock, so
//! a module that hangs in C_Initialize holds up only operations on its own keys.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

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
    /// The module of `spec`, loaded if no operation holds it yet.
    pub fn lease(&self, spec: &ModuleSpec) -> Result<Lease, Error> {
        let slot = Arc::clone(lock(&self.slots).entry(spec.path.clone()).or_default());
        let mut held = lock(&slot);
        let module = match held.upgrade() {
            Some(m) => m,
            None => {
                let m = Arc::new(LoadedModule::load(spec.clone())?);
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
