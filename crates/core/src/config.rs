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
    /// The app's renewal reminders (desktop notifications; default true).
    #[serde(default)]
    pub reminders: Option<bool>,
    /// The app keeps running in the tray when its window is closed, to deliver the
    /// reminders (default false).
    #[serde(default)]
    pub tray: Option<bool>,
    /// How much goes into the log (default `info`; `CERTKEY_LOG` wins).
    #[serde(default)]
    pub log_level: Option<crate::logs::LogLevel>,
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

/// Writes `bytes` to `path` for this user only: the folder is made (0700) if missing,
/// the file written beside it (0600), synced and renamed over the old one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    create_private_dir(&dir).map_err(|e| Error::io(&dir, &e))?;
    // A new file of an unguessable name (never one that is there already, nor a
    // link someone planted): the bytes are the user's only.
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)
        .map_err(|e| Error::io(&dir, &std::io::Error::other(e.to_string())))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let written = (|| {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, &e))?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(&tmp, &e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, &e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Makes `dir` and its missing parents for this user only (0700 on Unix); a folder
/// that is there already stays as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
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

/// The config file CertKey reads and the settings screen writes: `CERTKEY_CONFIG`,
/// else `config.toml` in the platform config directory.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os(ENV_CONFIG) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => config_dir().map(|d| d.join("config.toml")),
    }
}

/// The most extra modules a config may list.
pub const MAX_MODULES: usize = 32;

/// What the settings screen changes in the config: the one CA service for everything
/// (none: the CA directory decides), the extra PKCS#11 modules, the app's reminders
/// and its tray, the log's level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `service_url`.
    pub service_url: Option<String>,
    /// `modules`.
    pub modules: Vec<String>,
    /// `reminders` (written only when off, the default being on).
    pub reminders: bool,
    /// `tray` (written only when on).
    pub tray: bool,
    /// `log_level` (written only when not the default).
    pub log_level: crate::logs::LogLevel,
}

impl Settings {
    /// Checks every value: the URL as the service client takes it (https, or http to
    /// this computer), each module an absolute path to an existing file, at most
    /// [`MAX_MODULES`]; duplicates go. Returns the values as they will be written.
    pub fn checked(self) -> Result<Settings> {
        let bad = |name: &str, reason: String| Error::InvalidArgument {
            name: name.into(),
            reason,
        };
        let service_url = match self.service_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                crate::service::api_base(url)?;
                Some(url.trim_end_matches('/').to_string())
            }
        };
        let mut modules: Vec<String> = Vec::new();
        for m in self.modules {
            let m = m.trim().to_string();
            if m.is_empty() || modules.contains(&m) {
                continue;
            }
            let path = Path::new(&m);
            if m.chars().any(char::is_control) || !path.is_absolute() {
                return Err(bad("module", format!("{m}: not an absolute path")));
            }
            if !path.is_file() {
                return Err(Error::ModuleNotFound { path: m });
            }
            modules.push(m);
        }
        if modules.len() > MAX_MODULES {
            return Err(bad(
                "module",
                format!("at most {MAX_MODULES} modules, not {}", modules.len()),
            ));
        }
        Ok(Settings {
            service_url,
            modules,
            ..self
        })
    }

    /// Checks the settings ([`Settings::checked`]) and writes them into the config file
    /// at `path` (created if missing), keeping everything else in it — other keys,
    /// comments, the CA directory — as it was. The file is replaced atomically, and
    /// must still read as a config afterwards.
    pub fn save(self, path: &Path) -> Result<Settings> {
        let s = self.checked()?;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path, &e)),
        };
        let invalid = |reason: String| Error::ConfigInvalid {
            path: path.display().to_string(),
            reason,
        };
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| invalid(format!("{e}")))?;
        match &s.service_url {
            Some(url) => doc["service_url"] = toml_edit::value(url.as_str()),
            None => {
                doc.remove("service_url");
            }
        }
        if s.modules.is_empty() {
            doc.remove("modules");
        } else {
            let mut list = toml_edit::Array::new();
            for m in &s.modules {
                list.push(m.as_str());
            }
            doc["modules"] = toml_edit::value(list);
        }
        if s.reminders {
            doc.remove("reminders");
        } else {
            doc["reminders"] = toml_edit::value(false);
        }
        if s.tray {
            doc["tray"] = toml_edit::value(true);
        } else {
            doc.remove("tray");
        }
        if s.log_level == crate::logs::DEFAULT_LEVEL {
            doc.remove("log_level");
        } else {
            doc["log_level"] = toml_edit::value(s.log_level.name());
        }
        let out = doc.to_string();
        toml::from_str::<Config>(&out).map_err(|e| invalid(e.to_string()))?;
        write_private(path, out.as_bytes())?;
        Ok(s)
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

        std::fs::write(&p, "log_level = \"loud\"\n").unwrap();
        let e = Config::read(&p).unwrap_err();
        assert_eq!(e.code(), "config_invalid");
        assert!(e.to_string().contains("loud"), "{e}");

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

    #[test]
    fn settings_are_written_keeping_the_rest_of_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let module = dir.path().join("libvendor.so");
        std::fs::write(&module, b"not really").unwrap();
        std::fs::write(
            &path,
            "# my CAs\nauto_modules = false\nmodules = [\"/old.so\"]\n\n[[ca]]\nname = \"x\"\nissuers = [\"CN=X\"]\nservice_url = \"https://ca.example.cn\"\n",
        )
        .unwrap();
        let saved = Settings {
            service_url: Some(" https://ca.example.cn/ ".into()),
            modules: vec![module.display().to_string(), module.display().to_string()],
            reminders: false,
            tray: true,
            log_level: crate::logs::LogLevel::Debug,
        }
        .save(&path)
        .unwrap();
        assert_eq!(saved.service_url.as_deref(), Some("https://ca.example.cn"));
        assert_eq!(saved.modules.len(), 1, "duplicates go");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my CAs\n"), "{text}");
        let cfg = Config::read(&path).unwrap();
        assert_eq!(cfg.modules, saved.modules);
        assert_eq!(cfg.service_url.as_deref(), Some("https://ca.example.cn"));
        assert_eq!(cfg.auto_modules, Some(false));
        assert_eq!(cfg.ca.len(), 1);
        assert_eq!((cfg.reminders, cfg.tray), (Some(false), Some(true)));
        assert_eq!(cfg.log_level, Some(crate::logs::LogLevel::Debug));
        assert!(text.contains("log_level = \"debug\""), "{text}");
        // Cleared again: the defaults are not written.
        Settings {
            service_url: None,
            modules: Vec::new(),
            reminders: true,
            tray: false,
            log_level: crate::logs::DEFAULT_LEVEL,
        }
        .save(&path)
        .unwrap();
        let cfg = Config::read(&path).unwrap();
        assert!(cfg.modules.is_empty() && cfg.service_url.is_none());
        assert_eq!((cfg.reminders, cfg.tray, cfg.log_level), (None, None, None));
        assert_eq!(cfg.ca.len(), 1);
    }

    #[test]
    fn bad_settings_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let save = |url: Option<&str>, modules: Vec<String>| {
            Settings {
                service_url: url.map(str::to_string),
                modules,
                reminders: true,
                tray: false,
                log_level: crate::logs::DEFAULT_LEVEL,
            }
            .save(&path)
            .map(|_| ())
            .unwrap_err()
            .code()
        };
        assert_eq!(
            save(Some("http://ca.example.cn"), vec![]),
            "invalid_argument"
        );
        assert_eq!(save(Some("ftp://x"), vec![]), "invalid_argument");
        assert_eq!(save(None, vec!["relative.so".into()]), "invalid_argument");
        let missing = dir.path().join("missing.so").display().to_string();
        assert_eq!(save(None, vec![missing]), "module_not_found");
        assert_eq!(
            save(None, vec![dir.path().display().to_string()]),
            "module_not_found"
        );
        assert!(!path.exists());
    }
}
