//! The settings screen: the CA service and the CA directory, extra PKCS#11 modules,
//! the versions (About) and the log. Saving writes the config file through core and
//! reloads: the new modules are watched at once, and one that fails to load shows
//! why in its place.

use std::path::PathBuf;

use certkey_core::config::{self, Settings};
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
    /// The log file.
    pub log_file: Option<String>,
}

/// The log file of the app: `<state dir>/logs/certkey-app.log`.
pub fn log_file() -> Option<PathBuf> {
    config::state_dir().map(|d| d.join("logs").join("certkey-app.log"))
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
            log_file: log_file().map(|p| p.display().to_string()),
        })
    })
    .await
}

/// Writes the CA service, the extra modules, the reminders and the tray into the
/// config file (everything else in it stays) and reloads: the new modules are watched
/// at once, the tray icon comes or goes.
#[tauri::command]
pub async fn save_settings(
    app: AppHandle,
    service_url: Option<String>,
    modules: Vec<String>,
    reminders: bool,
    tray: bool,
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
        }
        .save(&path)?;
        tracing::info!(config = %path.display(), "settings saved");
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
    /// The log file.
    pub path: Option<String>,
    /// Its last lines, oldest first.
    pub lines: Vec<String>,
}

/// How many lines [`log_tail`] gives.
const TAIL_LINES: usize = 200;
/// How much of the file's end is read for them.
const TAIL_BYTES: u64 = 256 * 1024;

/// The log's last lines.
#[tauri::command]
pub async fn log_tail() -> Result<LogTail, Error> {
    blocking(move || {
        let Some(path) = log_file() else {
            return Ok(LogTail {
                path: None,
                lines: Vec::new(),
            });
        };
        let bytes = match read_end(&path, TAIL_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&path, e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        // The first line may be cut: drop it when the file was read from its middle.
        let skip = usize::from(bytes.len() as u64 == TAIL_BYTES);
        let from = all.len().saturating_sub(TAIL_LINES).max(skip);
        Ok(LogTail {
            path: Some(path.display().to_string()),
            lines: all[from.min(all.len())..]
                .iter()
                .map(|l| l.to_string())
                .collect(),
        })
    })
    .await
}

fn read_end(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut out = Vec::new();
    f.take(max).read_to_end(&mut out)?;
    Ok(out)
}

/// Opens the log's folder in the file manager.
#[tauri::command]
pub async fn open_log_folder() -> Result<(), Error> {
    blocking(move || {
        let dir = log_file()
            .and_then(|p| p.parent().map(PathBuf::from))
            .ok_or_else(|| Error::ConfigInvalid {
                path: "state directory".into(),
                reason: "no home directory: set CERTKEY_STATE_DIR".into(),
            })?;
        std::fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
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
