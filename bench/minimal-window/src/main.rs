//! The smallest Tauri 2 window: the peer the app's start-up time and memory are
//! measured against (scripts/bench-app).

fn main() {
    if let Err(e) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("minimal-window: {e}");
        std::process::exit(1);
    }
}
