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

/// Starts the app.
pub fn run() {
    use certkey_core::logs::{self, Echo};
    let helper =
        |arg: &str| std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(arg));
    // The app and its helpers write the same log (the config's level, or CERTKEY_LOG),
    // echoed on standard error.
    logs::init("certkey-app", Echo::Always);
    if helper(diagnose::DIAGNOSE_ARG) {
        // The Diagnostics screen's helper: no window; one report on stdout.
        diagnose::helper_main();
    }
    if helper(state::WATCH_MODULE_ARG) {
        // A module watch helper: no window; reports on stdout until the app goes.
        certkey_core::watch::helper_main();
    }
    logs::remove_old_app_log();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "CertKey started");
    let result = tauri::Builder::default()
        // First: a second launch (the desktop entry clicked again while the app runs,
        // perhaps hidden in the tray) shows the running window and ends; two apps
        // would watch the same keys twice. Without a D-Bus session bus each launch
        // runs on its own.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("launched again: the running window is shown");
            background::show_window(app);
        }))
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
