//! CertKey's desktop app: a thin Tauri 2 shell over certkey-core.
//!
//! Each command is one call into core; nothing here talks PKCS#11 or holds UI text.
//! Long operations run on their own thread ([`operation`]), stream their steps to the
//! window through a Tauri Channel and wait for the window's answers to their
//! questions. The key list is kept live by core's [`certkey_core::watch`] and pushed
//! to the window as the `inventory-changed` event; each module is watched by this
//! program run as a helper process (`--watch-module PATH`), so that a module that
//! crashes ends only its helper.

mod background;
pub mod bindings;
mod commands;
mod diagnose;
mod modules;
pub mod operation;
mod seal;
mod settings;
mod state;

use tauri::{Emitter, Manager};

/// The event carrying a [`certkey_core::watch::LiveInventory`] after every change.
pub const INVENTORY_EVENT: &str = "inventory-changed";

/// What is logged unless `CERTKEY_LOG` says otherwise: warnings, and what CertKey
/// itself does (operations, modules coming and going). Never a PIN or a code.
const DEFAULT_LOG: &str = "warn,certkey_app=info,certkey_core=info";

/// The log file, opened for appending; the previous one is kept as `.1` once it
/// passed 1 MiB.
/// Private to the user: it names keys, modules and what failed.
fn open_log() -> Option<std::fs::File> {
    let path = settings::log_file()?;
    let dir = path.parent()?;
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    let mut file = std::fs::OpenOptions::new();
    file.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        folder.mode(0o700);
        file.mode(0o600);
    }
    folder.create(dir).ok()?;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 1024 * 1024) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    file.open(&path).ok()
}

/// Starts the app.
pub fn run() {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("CERTKEY_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG))
    };
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(diagnose::DIAGNOSE_ARG)) {
        // The Diagnostics screen's helper: no window; one report on stdout.
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
        diagnose::helper_main();
    }
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(state::WATCH_MODULE_ARG))
    {
        // A module watch helper: no window; reports on stdout until the app goes; logs
        // on stderr, which is the app's.
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
        certkey_core::watch::helper_main();
    }
    match open_log() {
        Some(file) => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(false)
            .with_writer(std::io::stderr.and(std::sync::Mutex::new(file)))
            .init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init(),
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "CertKey started");
    let result = tauri::Builder::default()
        // The settings screen's file picker for modules (open only; see
        // capabilities/main.json).
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            app.manage(background::Background::start(app.handle().clone()));
            app.manage(diagnose::LastReport::default());
            let handle = app.handle().clone();
            let state = state::AppState::load(move |live| {
                if let Err(e) = handle.emit(INVENTORY_EVENT, live) {
                    tracing::warn!(error = %e, "cannot send the inventory to the window");
                }
                // The keys changed: reminders may be due.
                handle.state::<background::Background>().wake();
            });
            let tray = state.loaded().config.tray.unwrap_or(false);
            app.manage(state);
            background::set_tray(app.handle(), tray);
            Ok(())
        })
        // With the tray on, closing the window leaves the app running there.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if window.state::<background::Background>().in_tray() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::inventory,
            commands::export_certificate,
            commands::activation_available,
            commands::start_operation,
            commands::answer,
            commands::cancel_operation,
            commands::unlock_info,
            commands::unlock_attach,
            commands::forget_handler,
            commands::renewal_quote,
            seal::seal_preview,
            seal::seal_show,
            seal::seal_export,
            settings::settings,
            settings::save_settings,
            settings::set_language,
            settings::log_tail,
            settings::open_log_folder,
            diagnose::diagnose_run,
            diagnose::diagnose_export,
            diagnose::diagnose_fix,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app failed");
        eprintln!("certkey-app: {e}");
        std::process::exit(1);
    }
}
