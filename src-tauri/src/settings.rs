//! The settings screen: the CA service and the CA directory, extra PKCS#11 modules,
//! the versions (About) and the log. Saving writes the config file through core and
//! reloads: the new modules are watched at once, and one that fails to load shows
//! why in its place.

use certkey_core::config::{self, Settings};
use certkey_core::logs::{self, LogLevel, LogLine};
use certkey_core::Error;
use serde::Serialize;
use tauri::{AppHandle, Manager};
use ts_rs::TS;

use crate::commands::{blocking, io_error};
use crate::state::AppState;

/// One CA of the directory, as the settings screen lists it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CaView {
    /// Stable name.
    pub name: String,
    /// Display name (English).
    pub display_name: String,
    /// Display name (Chinese).
    pub display_name_zh: String,
    /// Its service.
    pub service_url: String,
    /// The issuers it serves.
    pub issuers: Vec<String>,
    /// Activations go to it.
    pub default: bool,
}

/// What the settings screen shows and edits.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SettingsView {
    /// The config file (written on save), when there is a place for it.
    pub config_path: Option<String>,
    /// One CA service for everything, over the directory.
    pub service_url: Option<String>,
    /// The extra PKCS#11 modules of the config.
    pub modules: Vec<String>,
    /// Whether the catalog's modules found on this computer are loaded too.
    pub auto_modules: bool,
    /// Renewal reminders as desktop notifications.
    pub reminders: bool,
    /// The app stays in the tray when its window is closed.
    pub tray: bool,
    /// The CA directory (catalog and config).
    pub ca_directory: Vec<CaView>,
    /// Why the directory could not be read, if it could not.
    pub ca_directory_error: Option<Error>,
    /// The app's version.
    pub app_version: String,
    /// certkey-core's version.
    pub core_version: String,
    /// How much goes into the log.
    pub log_level: LogLevel,
    /// The `CERTKEY_LOG` filter that decides the level instead, when it is set.
    pub log_env: Option<String>,
    /// The log folder (the app's files and the CLI's).
    pub log_dir: Option<String>,
}

/// See [`SettingsView`].
#[tauri::command]
pub async fn settings(app: AppHandle) -> Result<SettingsView, Error> {
    blocking(move || {
        let state = app.state::<AppState>();
        let loaded = state.loaded();
        let (ca_directory, ca_directory_error) = match loaded.directory() {
            Ok(d) => {
                let default = loaded.config.default_ca.clone();
                let list = d
                    .entries()
                    .iter()
                    .map(|e| CaView {
                        name: e.name.clone(),
                        display_name: e.display_name.clone(),
                        display_name_zh: e.display_name_zh.clone(),
                        service_url: e.service_url.clone(),
                        issuers: e.issuers.clone(),
                        default: default.as_deref() == Some(e.name.as_str()),
                    })
                    .collect();
                (list, None)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        Ok(SettingsView {
            config_path: config::config_path().map(|p| p.display().to_string()),
            service_url: loaded.config.service_url.clone(),
            modules: loaded.config.modules.clone(),
            auto_modules: loaded.config.auto_modules.unwrap_or(true),
            reminders: loaded.config.reminders.unwrap_or(true),
            tray: loaded.config.tray.unwrap_or(false),
            ca_directory,
            ca_directory_error,
            app_version: env!("CARGO_PKG_VERSION").to_string(),
            core_version: certkey_core::VERSION.to_string(),
            log_level: loaded.config.log_level.unwrap_or(logs::DEFAULT_LEVEL),
            log_env: logs::level_from_env(),
            log_dir: logs::dir().map(|p| p.display().to_string()),
        })
    })
    .await
}

/// Writes the CA service, the extra modules, the reminders, the tray and the log's
/// level into the config file (everything else in it stays) and reloads: the new
/// modules are watched at once, the tray icon comes or goes, the log takes the level.
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    service_url: Option<String>,
    modules: Vec<String>,
    reminders: bool,
    tray: bool,
    log_level: LogLevel,
) -> Result<(), Error> {
    blocking(move || {
        let path = config::config_path().ok_or_else(|| Error::ConfigInvalid {
            path: "config".into(),
            reason: "no home directory: set CERTKEY_CONFIG".into(),
        })?;
        let saved = Settings {
            service_url,
            modules,
            reminders,
            tray,
            log_level,
        }
        .save(&path)?;
        logs::set_level(saved.log_level);
        tracing::info!(config = %path.display(), level = saved.log_level.name(), "settings saved");
        tracing::debug!(
            modules = saved.modules.len(),
            reminders = saved.reminders,
            tray = saved.tray,
            "settings in force"
        );
        app.state::<AppState>().reload();
        crate::background::set_tray(&app, saved.tray);
        app.state::<crate::background::Background>().wake();
        Ok(())
    })
    .await
}

/// The window's language code (`zh-CN` or `en`).
pub(crate) fn parse_lang(code: &str) -> Result<certkey_i18n::Lang, Error> {
    certkey_i18n::Lang::ALL
        .into_iter()
        .find(|l| l.code() == code)
        .ok_or_else(|| Error::InvalidArgument {
            name: "lang".into(),
            reason: format!("{code:?}: zh-CN or en"),
        })
}

/// The window's language (`zh-CN` or `en`), for what the app says outside the window:
/// the reminders and the tray's menu.
#[tauri::command]
pub fn set_language(app: AppHandle, lang: String) -> Result<(), Error> {
    let lang = parse_lang(&lang)?;
    crate::background::set_lang(&app, lang);
    Ok(())
}

/// The last lines of the log.
#[derive(Debug, Clone, Serialize, TS)]
pub struct LogTail {
    /// The log folder.
    pub path: Option<String>,
    /// The last lines of the app's and the CLI's files, in time order.
    pub lines: Vec<LogLine>,
}

/// How many lines [`log_tail`] gives.
const TAIL_LINES: usize = 200;

/// The log's last lines: the files `certkey logs` prints.
#[tauri::command]
pub async fn log_tail() -> Result<LogTail, Error> {
    blocking(move || {
        let Some(dir) = logs::dir() else {
            return Ok(LogTail {
                path: None,
                lines: Vec::new(),
            });
        };
        Ok(LogTail {
            lines: logs::tail(&dir, TAIL_LINES)?,
            path: Some(dir.display().to_string()),
        })
    })
    .await
}

/// Opens the log's folder in the file manager.
#[tauri::command]
pub async fn open_log_folder() -> Result<(), Error> {
    blocking(move || {
        let dir = logs::dir().ok_or_else(|| Error::ConfigInvalid {
            path: "log folder".into(),
            reason: "no home directory: set CERTKEY_LOG_DIR".into(),
        })?;
        config::create_private_dir(&dir).map_err(|e| io_error(&dir, e))?;
        let opener = if cfg!(target_os = "macos") {
            "open"
        } else if cfg!(windows) {
            "explorer"
        } else {
            "xdg-open"
        };
        std::process::Command::new(opener)
            .arg(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| io_error(std::path::Path::new(opener), e))
            .map(|mut child| {
                // Reaped when the file manager's opener returns.
                std::thread::spawn(move || child.wait());
            })
    })
    .await
}
