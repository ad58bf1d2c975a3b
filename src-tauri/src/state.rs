//! The app's state: what core loaded at start, the live watch, running operations.

use certkey_core::catalog::Catalog;
use certkey_core::config::Config;
use certkey_core::directory::Directory;
use certkey_core::setup::{self, Extra};
use certkey_core::watch::{HelperCommand, IsolatedWatch, LiveInventory, WatchOptions};
use certkey_core::{Error, Located};

use crate::modules::Leases;
use crate::operation::Operations;

/// The argument that makes this program a module watch helper
/// (`certkey-app --watch-module PATH`): no window, reports on stdout.
pub const WATCH_MODULE_ARG: &str = "--watch-module";

/// Everything the commands share.
pub struct AppState {
    /// The configuration (defaults when it could not be read; see `startup_errors`).
    pub config: Config,
    /// The vendor catalog.
    pub catalog: Catalog,
    /// The live inventory, each module watched by a helper process.
    pub watch: IsolatedWatch,
    /// Modules loaded for the operations in progress.
    pub modules: Leases,
    /// The configured CA bundles (DER), for the seal checks.
    pub bundle: Vec<Vec<u8>>,
    /// What went wrong at start (an unreadable config, a CA bundle that does not
    /// parse); shown with the inventory.
    pub startup_errors: Vec<Located>,
    /// Operations in progress.
    pub operations: Operations,
}

impl AppState {
    /// Loads the configuration and the modules and starts watching them.
    pub fn load(publish: impl Fn(LiveInventory) + Send + Sync + 'static) -> AppState {
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
                publish(live)
            },
        );
        AppState {
            config,
            catalog,
            watch,
            modules: Leases::default(),
            bundle,
            startup_errors,
            operations: Operations::default(),
        }
    }

    /// The inventory as last seen, with the start-up errors.
    pub fn inventory(&self) -> LiveInventory {
        let mut live = self.watch.snapshot();
        live.inventory
            .errors
            .extend(self.startup_errors.iter().cloned());
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
