//! CertKey's desktop app: a thin Tauri 2 shell over certkey-core.
//!
//! Each command is one call into core; nothing here talks PKCS#11 or holds UI text.
//! Long operations run on their own thread ([`operation`]), stream their steps to the
//! window through a Tauri Channel and wait for the window's answers to their
//! questions. The key list is kept live by core's [`certkey_core::watch`] and pushed
//! to the window as the `inventory-changed` event; each module is watched by this
//! program run as a helper process (`--watch-module PATH`), so that a module that
//! crashes ends only its helper.

pub mod bindings;
mod commands;
mod modules;
pub mod operation;
mod seal;
mod state;

use tauri::{Emitter, Manager};

/// The event carrying a [`certkey_core::watch::LiveInventory`] after every change.
pub const INVENTORY_EVENT: &str = "inventory-changed";

/// Starts the app.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTKEY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(state::WATCH_MODULE_ARG))
    {
        // A module watch helper: no window; reports on stdout until the app goes.
        certkey_core::watch::helper_main();
    }
    let result = tauri::Builder::default()
        .setup(|app| {
            let handle = app.handle().clone();
            let state = state::AppState::load(move |live| {
                if let Err(e) = handle.emit(INVENTORY_EVENT, live) {
                    tracing::warn!(error = %e, "cannot send the inventory to the window");
                }
            });
            app.manage(state);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::inventory,
            commands::export_certificate,
            commands::activation_available,
            commands::start_operation,
            commands::answer,
            commands::cancel_operation,
            commands::unlock_info,
            commands::forget_handler,
            commands::renewal_quote,
            seal::seal_preview,
            seal::seal_show,
            seal::seal_export,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        tracing::error!(error = %e, "the app failed");
        eprintln!("certkey-app: {e}");
        std::process::exit(1);
    }
}
