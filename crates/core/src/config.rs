//! The user's configuration: `config.toml` in the platform config directory
//! (`~/.config/certkey` on Linux), or the file named by `CERTKEY_CONFIG`.
//!
//! ```toml
//! modules = ["/opt/vendor/libvendor_p11.so"]   # extra PKCS#11 modules
//! ca_bundle = ["/etc/certkey/ca.pem"]          # CA certificates to check signatures
//! catalog = "/etc/certkey/catalog.toml"         # user catalog merged over the built-in
//! default_ca = "demo"                           # the CA activations go to
//!
//! [[ca]]                                        # the CA directory (see crate::directory)
//! name = "demo"
//! issuers = ["CN=CertKey Demo SM2 Issuing CA,O=CertKey Demo CA,C=CN"]
//! service_url = "https://ca.example.cn"
//! tls_roots = "ca-tls.pem"                      # relative to this file
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::catalog::Catalog;
use crate::{Error, Result};

/// Env var naming the config file.
pub const ENV_CONFIG: &str = "CERTKEY_CONFIG";
/// Env var with extra module paths, colon-separated (semicolon on Windows).
pub const ENV_MODULES: &str = "CERTKEY_MODULES";
/// Env var naming a user catalog file.
pub const ENV_CATALOG: &str = "CERTKEY_CATALOG";
/// Env var with CA bundle files, separated like [`ENV_MODULES`].
pub const ENV_CA_BUNDLE: &str = "CERTKEY_CA_BUNDLE";

/// Contents of `config.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Extra module paths.
    #[serde(default)]
    pub modules: Vec<String>,
    /// Whether the catalog's modules found on disk are loaded too (default true).
    #[serde(default)]
    pub auto_modules: Option<bool>,
    /// CA certificate files (PEM or DER, several PEM blocks allowed).
    #[serde(default)]
    pub ca_bundle: Vec<String>,
    /// A user catalog file.
    #[serde(default)]
    pub catalog: Option<String>,
    /// One CA service for everything, over the CA directory (CERTKEY_SERVICE_URL and
    /// `--service` win).
    #[serde(default)]
    pub service_url: Option<String>,
    /// The CA directory entries of this config (merged over the catalog's).
    #[serde(default)]
    pub ca: Vec<crate::directory::CaEntry>,
    /// The CA of the directory that activations go to.
    #[serde(default)]
    pub default_ca: Option<String>,
    /// Where this config was read from, if anywhere.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// The platform config directory of CertKey.
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "certkey").map(|d| d.config_dir().to_path_buf())
}

/// Env var naming the directory for CertKey's own state (pending unlock requests).
pub const ENV_STATE_DIR: &str = "CERTKEY_STATE_DIR";

/// Where CertKey keeps state between runs: `CERTKEY_STATE_DIR`, else the platform's
/// local data directory (e.g. `~/.local/share/certkey`).
pub fn state_dir() -> Option<PathBuf> {
    match std::env::var_os(ENV_STATE_DIR) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => directories::ProjectDirs::from("", "", "certkey")
            .map(|d| d.data_local_dir().to_path_buf()),
    }
}

/// Splits a path list env value (`:` on Unix, `;` on Windows), dropping empty parts.
pub fn split_path_list(value: &str) -> Vec<String> {
    let sep = if cfg!(windows) { ';' } else { ':' };
    value
        .split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl Config {
    /// Reads the config named by `CERTKEY_CONFIG`, else the platform one if it exists.
    /// A file named explicitly must exist; a missing default file is an empty config.
    pub fn load() -> Result<Self> {
        match std::env::var_os(ENV_CONFIG) {
            Some(p) if !p.is_empty() => Self::read(Path::new(&p)),
            _ => match config_dir().map(|d| d.join("config.toml")) {
                Some(p) if p.exists() => Self::read(&p),
                _ => Ok(Config::default()),
            },
        }
    }

    /// Reads and validates one config file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| Error::ConfigInvalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut names = std::collections::BTreeSet::new();
        for ca in &mut cfg.ca {
            ca.validate().map_err(|reason| Error::ConfigInvalid {
                path: path.display().to_string(),
                reason,
            })?;
            if !names.insert(ca.name.clone()) {
                return Err(Error::ConfigInvalid {
                    path: path.display().to_string(),
                    reason: format!("CA {} appears twice", ca.name),
                });
            }
            ca.resolve_paths(path);
        }
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// The catalog: built-in, with the user catalog merged over it. The user catalog is
    /// `CERTKEY_CATALOG`, else `catalog` from this config, else `catalog.toml` beside
    /// the config if present.
    pub fn catalog(&self) -> Result<Catalog> {
        let explicit = std::env::var_os(ENV_CATALOG)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| self.catalog.as_ref().map(PathBuf::from));
        if let Some(p) = explicit {
            return Catalog::with_user_file(&p);
        }
        match config_dir().map(|d| d.join("catalog.toml")) {
            Some(p) if p.exists() => Catalog::with_user_file(&p),
            _ => Ok(Catalog::builtin()),
        }
    }

    /// CA bundle files: this config's plus `CERTKEY_CA_BUNDLE`.
    pub fn ca_bundle_files(&self) -> Vec<String> {
        let mut v = self.ca_bundle.clone();
        if let Ok(env) = std::env::var(ENV_CA_BUNDLE) {
            v.extend(split_path_list(&env));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_config_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(
            &p,
            "modules = [\"/a.so\", \"/b.so\"]\nca_bundle = [\"/ca.pem\"]\n",
        )
        .unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.modules, vec!["/a.so", "/b.so"]);
        assert_eq!(c.ca_bundle, vec!["/ca.pem"]);

        std::fs::write(&p, "modlues = []\n").unwrap();
        let e = Config::read(&p).unwrap_err();
        assert_eq!(e.code(), "config_invalid");
        assert!(e.to_string().contains("modlues"), "{e}");

        let e = Config::read(&dir.path().join("missing.toml")).unwrap_err();
        assert_eq!(e.code(), "io");
    }

    #[test]
    fn path_lists_split_and_drop_empty_parts() {
        assert_eq!(split_path_list("/a.so::/b.so: "), vec!["/a.so", "/b.so"]);
        assert!(split_path_list("").is_empty());
    }
}
