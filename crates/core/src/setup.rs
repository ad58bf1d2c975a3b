//! What every front end does before an operation: read the configuration and the
//! vendor catalog, load the PKCS#11 modules, read the CA bundles, and build the CA
//! directory. Shared by the `certkey` CLI and the desktop app so that both see the
//! same keys and talk to the same CA services.

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::cert::bundle;
use crate::config::{self, Config};
use crate::directory::{Directory, Explicit};
use crate::inventory::Modules;
use crate::pkcs11::{discover_modules, ModuleSpec};
use crate::{Located, Result};

/// Env var naming the CA service to use over the directory.
pub const ENV_SERVICE_URL: &str = "CERTKEY_SERVICE_URL";
/// Env var naming a PEM file of TLS roots for [`ENV_SERVICE_URL`].
pub const ENV_SERVICE_CA: &str = "CERTKEY_SERVICE_CA";

/// What the caller adds to the configuration (command-line flags, say).
#[derive(Debug, Default, Clone)]
pub struct Extra {
    /// Do not load the catalog's modules found on disk.
    pub no_auto_modules: bool,
    /// More module paths.
    pub modules: Vec<String>,
    /// More CA bundle files.
    pub ca_bundles: Vec<PathBuf>,
}

/// The loaded environment.
#[derive(Debug)]
pub struct Setup {
    /// The configuration file's contents (defaults when there is none).
    pub config: Config,
    /// The vendor catalog with the configuration's additions.
    pub catalog: Catalog,
    /// Every module, loaded or failed.
    pub modules: Modules,
    /// DER CA certificates from the bundle files.
    pub bundle: Vec<Vec<u8>>,
    /// Bundle files that could not be read.
    pub errors: Vec<Located>,
}

/// The environment before any module is loaded: what [`load`] loads, for a front end
/// that loads the modules itself (the app's watch loads each on its own thread).
#[derive(Debug)]
pub struct Prepared {
    /// The configuration file's contents (defaults when there is none).
    pub config: Config,
    /// The vendor catalog with the configuration's additions.
    pub catalog: Catalog,
    /// The modules to load, in order.
    pub specs: Vec<ModuleSpec>,
    /// DER CA certificates from the bundle files.
    pub bundle: Vec<Vec<u8>>,
    /// Bundle files that could not be read.
    pub errors: Vec<Located>,
}

/// Loads modules and bundles: the catalog's modules present on disk (unless the
/// config's `auto_modules = false` or `extra` says not to), the config's,
/// CERTKEY_MODULES and `extra`'s, in that order.
pub fn load(extra: &Extra) -> Result<Setup> {
    let p = prepare(extra)?;
    Ok(Setup {
        modules: Modules::load(p.specs),
        config: p.config,
        catalog: p.catalog,
        bundle: p.bundle,
        errors: p.errors,
    })
}

/// Everything [`load`] does but loading the modules.
pub fn prepare(extra: &Extra) -> Result<Prepared> {
    let config = Config::load()?;
    let catalog = config.catalog()?;
    let env_modules = std::env::var(config::ENV_MODULES)
        .map(|v| config::split_path_list(&v))
        .unwrap_or_default();
    let specs = discover_modules(
        &catalog,
        !extra.no_auto_modules && config.auto_modules.unwrap_or(true),
        &config.modules,
        &env_modules,
        &extra.modules,
    );
    let mut bundle = Vec::new();
    let mut errors = Vec::new();
    let files = config
        .ca_bundle_files()
        .into_iter()
        .map(PathBuf::from)
        .chain(extra.ca_bundles.iter().cloned());
    for f in files {
        match bundle::read_file(&f) {
            Ok(mut v) => bundle.append(&mut v),
            Err(error) => errors.push(Located {
                module: None,
                slot: None,
                token: None,
                object: None,
                error,
            }),
        }
    }
    Ok(Prepared {
        config,
        catalog,
        specs,
        bundle,
        errors,
    })
}

/// The CA directory in force: the catalog's and the config's CAs, with the service
/// named by `service` (a flag), else CERTKEY_SERVICE_URL, else the config's
/// `service_url`, over them. `service_ca` (else CERTKEY_SERVICE_CA) holds its TLS roots.
pub fn directory(
    config: &Config,
    catalog: &Catalog,
    service: Option<String>,
    service_ca: Option<PathBuf>,
) -> Result<Directory> {
    let url = service
        .or_else(|| {
            std::env::var(ENV_SERVICE_URL)
                .ok()
                .filter(|v| !v.is_empty())
        })
        .or(config.service_url.clone());
    let tls_roots = service_ca.or_else(|| std::env::var_os(ENV_SERVICE_CA).map(PathBuf::from));
    Ok(Directory::new(catalog, config)?.with_explicit(url.map(|url| Explicit { url, tls_roots })))
}
