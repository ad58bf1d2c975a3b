fn main() {
    // Only the commands listed here can be invoked, and only where a capability
    // (capabilities/*.json) allows them.
    let commands = &[
        "inventory",
        "export_certificate",
        "start_operation",
        "answer",
        "cancel_operation",
        "activation_available",
        "unlock_info",
        "unlock_attach",
        "forget_handler",
        "renewal_quote",
        "seal_preview",
        "seal_show",
        "seal_export",
        "settings",
        "save_settings",
        "set_language",
        "log_tail",
        "open_log_folder",
        "diagnose_run",
        "diagnose_export",
        "diagnose_fix",
    ];
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}
