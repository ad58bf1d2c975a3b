//! The app's state: what core loaded (configuration, catalog, CA bundles, the live
//! watch of the modules) — reloaded when the settings change —, the modules held by
//! running operations, and the operations themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use certkey_core::catalog::Catalog;
use certkey_core::config::Config;
use certkey_core::directory::Directory;
use certkey_core::setup::{self, Extra};
use certkey_core::watch::{HelperCommand, IsolatedWatch, LiveInventory, WatchOptions};
use certkey_core::workflow::token::{self, Need, Selector, Token};
use certkey_core::{Error, Located};

use crate::modules::{Lease, Leases};
use crate::operation::Operations;

/// The argument that makes this program a module watch helper
/// (`certkey-app --watch-module PATH`): no window, reports on stdout.
pub const WATCH_MODULE_ARG: &str = "--watch-module";

/// How long an operation or export waits for a module that takes one caller at a
/// time and is in use by another operation or export of this app.
pub const HOLD_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// What one reading of the configuration gave, with the watch of its modules. An
/// operation keeps the one it started with.
pub struct Loaded {
    /// The configuration (defaults when it could not be read; see `startup_errors`).
    pub config: Config,
    /// The vendor catalog.
    pub catalog: Catalog,
    /// The configured CA bundles (DER), for the seal checks.
    pub bundle: Vec<Vec<u8>>,
    /// The live inventory, each module watched by a helper process.
    pub watch: IsolatedWatch,
    /// What went wrong reading the configuration (an unreadable config, a CA bundle
    /// that does not parse); shown with the inventory.
    pub startup_errors: Vec<Located>,
    /// Added to the watch's generations, so that the window takes a new watch's
    /// first inventory as newer than the old watch's last.
    epoch: u64,
}

type Publish = Arc<dyn Fn(LiveInventory) + Send + Sync>;

/// Everything the commands share.
pub struct AppState {
    loaded: RwLock<Arc<Loaded>>,
    epochs: AtomicU64,
    publish: Publish,
    /// Modules loaded for the operations in progress.
    pub modules: Leases,
    /// Operations in progress.
    pub operations: Operations,
}

impl AppState {
    /// Loads the configuration and starts watching its modules; `publish` hears every
    /// change of the inventory.
    pub fn load(publish: impl Fn(LiveInventory) + Send + Sync + 'static) -> AppState {
        let publish: Publish = Arc::new(publish);
        let loaded = Loaded::read(0, Arc::clone(&publish));
        AppState {
            loaded: RwLock::new(Arc::new(loaded)),
            epochs: AtomicU64::new(0),
            publish,
            modules: Leases::default(),
            operations: Operations::default(),
        }
    }

    /// What is loaded now.
    pub fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reads the configuration again and watches its modules instead (the old watch's
    /// helpers end once no operation uses it any more).
    pub fn reload(&self) {
        let epoch = self.epochs.fetch_add(1, Ordering::SeqCst) + 1;
        let fresh = Arc::new(Loaded::read(epoch, Arc::clone(&self.publish)));
        let old = std::mem::replace(
            &mut *self.loaded.write().unwrap_or_else(|p| p.into_inner()),
            fresh,
        );
        drop(old);
        (self.publish)(self.inventory());
    }

    /// The inventory as last seen, with the configuration's errors.
    pub fn inventory(&self) -> LiveInventory {
        self.loaded().inventory()
    }

    /// Leases the module key `serial` was last seen in and opens the key as `need`
    /// requires; the lease goes into `lease` (kept by the caller as long as it needs
    /// the key).
    pub fn token<'a>(
        &self,
        loaded: &Loaded,
        serial: &str,
        need: Need<'_>,
        lease: &'a mut Option<Lease>,
    ) -> Result<Token, Error> {
        // Only the module the key was seen in is loaded (another may hang).
        let module: &'a Lease = lease.insert(
            self.modules
                .lease(&loaded.watch.module_for(serial)?, HOLD_WAIT)?,
        );
        let _held = module.hold(HOLD_WAIT)?;
        token::select_among(
            &[&**module],
            &loaded.catalog,
            Some(&Selector::Serial(serial.to_string())),
            need,
        )
    }
}

impl Loaded {
    fn read(epoch: u64, publish: Publish) -> Loaded {
        // No module is loaded here (this runs before the window shows), nor in this
        // process at all until an operation needs one: each is watched by a helper
        // process, this program run with --watch-module.
        let (config, catalog, specs, bundle, startup_errors) =
            match setup::prepare(&Extra::default()) {
                Ok(s) => (s.config, s.catalog, s.specs, s.bundle, s.errors),
                Err(e) => {
                    tracing::error!(error = %e, "configuration not loaded");
                    (
                        Config::default(),
                        Catalog::builtin(),
                        Vec::new(),
                        Vec::new(),
                        vec![unlocated(e)],
                    )
                }
            };
        let helper = HelperCommand {
            program: this_program(),
            args: vec![WATCH_MODULE_ARG.to_string()],
        };
        let shown = startup_errors.clone();
        let watch = IsolatedWatch::start(
            specs,
            helper,
            catalog.clone(),
            bundle.clone(),
            WatchOptions::default(),
            move |mut live| {
                live.inventory.errors.extend(shown.iter().cloned());
                live.generation += epoch << 32;
                publish(live)
            },
        );
        Loaded {
            config,
            catalog,
            bundle,
            watch,
            startup_errors,
            epoch,
        }
    }

    /// The inventory as last seen, with the configuration's errors.
    pub fn inventory(&self) -> LiveInventory {
        let mut live = self.watch.snapshot();
        live.inventory
            .errors
            .extend(self.startup_errors.iter().cloned());
        live.generation += self.epoch << 32;
        live
    }

    /// The CA directory, read afresh (the environment may name a service).
    pub fn directory(&self) -> Result<Directory, Error> {
        setup::directory(&self.config, &self.catalog, None, None)
    }
}

/// This very program, for its helpers: on Linux through /proc, which names the
/// running binary even after a package upgrade replaced the file. Never another
/// program found on PATH: when it cannot be named, starting a helper fails and each
/// module shows why.
fn this_program() -> std::path::PathBuf {
    if cfg!(target_os = "linux") {
        return "/proc/self/exe".into();
    }
    std::env::current_exe().unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot name this program for the module watch");
        std::path::PathBuf::new()
    })
}

fn unlocated(error: Error) -> Located {
    Located {
        module: None,
        slot: None,
        token: None,
        object: None,
        error,
    }
}
