//! Helpers of the watch tests: the built softkey module and its control tool.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use certkey_core::pkcs11::{ModuleSource, ModuleSpec};
use certkey_core::watch::{LiveInventory, Watch};

/// The serials of the two keys of [`two_key_store`].
pub const A: &str = "SKWATCH0000001";
pub const B: &str = "SKWATCH0000002";

/// A softkey store in `dir` with two blank keys, A and B; returns its folder.
pub fn two_key_store(dir: &Path) -> PathBuf {
    let store = dir.join("softkey");
    std::fs::create_dir_all(&store).expect("store");
    std::fs::write(
        store.join("softkey.toml"),
        format!("[[slot]]\nserial = \"{A}\"\n\n[[slot]]\nserial = \"{B}\"\n"),
    )
    .expect("softkey.toml");
    store
}

/// target/debug, from this test binary (target/debug/deps/watch-...).
pub fn debug_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target/debug")
}

pub fn built(name: &str) -> PathBuf {
    let p = debug_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build)",
        p.display()
    );
    p
}

pub fn spec(path: &Path) -> ModuleSpec {
    ModuleSpec {
        path: path.display().to_string(),
        source: ModuleSource::CommandLine,
    }
}

/// The softkey control tool on our store.
pub fn softkey(store: &Path, args: &[&str]) {
    let out = Command::new(built("certkey-softkey"))
        .args(args)
        .env("CERTKEY_SOFTKEY_DIR", store)
        .output()
        .expect("certkey-softkey runs");
    assert!(
        out.status.success(),
        "certkey-softkey {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (a correctness bound, not a performance claim) until `f` holds for the
/// latest snapshot; returns it.
pub fn wait_for(watch: &Watch, what: &str, f: impl Fn(&LiveInventory) -> bool) -> LiveInventory {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let live = watch.snapshot();
        if f(&live) {
            return live;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen; last inventory {:?}",
            live.inventory
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn serials(live: &LiveInventory) -> Vec<String> {
    let mut v: Vec<String> = live
        .inventory
        .tokens
        .iter()
        .map(|t| t.details.serial.clone())
        .collect();
    v.sort();
    v
}

pub fn codes(live: &LiveInventory) -> Vec<&'static str> {
    live.inventory
        .errors
        .iter()
        .map(|e| e.error.code())
        .collect()
}
