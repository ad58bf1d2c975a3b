//! Modules watched in helper processes (`certkey_core::watch::IsolatedWatch`)
//! against the real softkey and SoftHSM2 modules: a module that crashes its helper
//! (softkey's `crash-after` fault) is shown as crashed, its helper is started again
//! with a growing pause and its keys come back once the fault is gone; a helper that
//! stops writing (stopped with SIGSTOP) is shown as not responding, ended and
//! started again; SoftHSM2's key stays listed throughout.
//!
//! This binary is also the helper: run with `--watch-module PATH` it serves one module
//! on stdin and stdout, as `certkey-app --watch-module PATH` does for the app.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use certkey_core::catalog::Catalog;
use certkey_core::watch::{HelperCommand, IsolatedWatch, LiveInventory, WatchOptions};
use certkey_core::Error;

mod support;
use support::{built, softkey, spec, two_key_store, A, B};

const NAME: &str = "a_crashing_module_is_restarted_and_another_stays_listed";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--watch-module") {
        certkey_core::watch::helper_main();
    }
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    // Name filters, as the test harness takes them (flags are ignored).
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("running 0 tests");
        return;
    }
    a_crashing_module_is_restarted_and_another_stays_listed();
    println!("test {NAME} ... ok");
}

/// Waits (a correctness bound, not a performance claim) until `f` holds.
fn wait_for(
    watch: &IsolatedWatch,
    what: &str,
    f: impl Fn(&LiveInventory) -> bool,
) -> LiveInventory {
    wait_within(watch, what, Duration::from_secs(30), f)
}

/// [`wait_for`], at most `limit`.
fn wait_within(
    watch: &IsolatedWatch,
    what: &str,
    limit: Duration,
    f: impl Fn(&LiveInventory) -> bool,
) -> LiveInventory {
    let deadline = Instant::now() + limit;
    loop {
        let live = watch.snapshot();
        if f(&live) {
            return live;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen; last inventory {:#?}",
            live.inventory
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The serials listed (SoftHSM2's free slot, a token without a serial, left out).
fn serials(live: &LiveInventory) -> Vec<String> {
    let mut v: Vec<String> = support::serials(live);
    v.retain(|s| !s.is_empty());
    v
}

fn module_error<'a>(live: &'a LiveInventory, module: &str) -> Option<&'a Error> {
    live.inventory
        .errors
        .iter()
        .find(|e| e.module.as_deref() == Some(module) && e.slot.is_none())
        .map(|e| &e.error)
}

/// A SoftHSM2 token store in `dir` with one initialised token; sets SOFTHSM2_CONF.
fn softhsm_token(dir: &Path) {
    let tokens = dir.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens).expect("token dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\n",
            tokens.display()
        ),
    )
    .expect("softhsm2.conf");
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "other"])
        .args(["--pin", "123456", "--so-pin", "12345678"])
        .output()
        .expect("softhsm2-util runs (the test command installs softhsm2)");
    assert!(out.status.success(), "{out:?}");
}

/// The helper processes of this process watching `module`.
fn helpers_of(module: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1));
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if ppid == Some(me.as_str())
            && args.contains(&b"--watch-module".as_slice())
            && args.contains(&module.as_bytes())
            && !stat.contains(") Z ")
        {
            found.push(pid);
        }
    }
    found
}

fn a_crashing_module_is_restarted_and_another_stays_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = two_key_store(dir.path());
    // The helpers inherit the environment: the softkey store and SoftHSM2's config.
    std::env::set_var("CERTKEY_SOFTKEY_DIR", &store);
    softhsm_token(dir.path());
    let softkey_path = built("libcertkey_softkey.so");
    let softkey_spec = spec(&softkey_path);
    let hsm_path = [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("libsofthsm2.so is installed (the test command installs softhsm2)");
    let hsm_spec = spec(Path::new(hsm_path));
    let sk = softkey_spec.path.clone();

    let watch = IsolatedWatch::start(
        vec![softkey_spec.clone(), hsm_spec.clone()],
        HelperCommand {
            program: std::env::current_exe().expect("this binary"),
            args: vec!["--watch-module".into()],
        },
        Catalog::builtin(),
        Vec::new(),
        WatchOptions {
            load_timeout: Duration::from_secs(2),
            ..WatchOptions::default()
        },
        |_| {},
    );
    let live = wait_for(&watch, "three keys", |l| {
        l.complete && serials(l).len() == 3
    });
    let hsm_serial = live
        .inventory
        .tokens
        .iter()
        .find(|t| t.module == hsm_spec.path && !t.details.serial.is_empty())
        .map(|t| t.details.serial.clone())
        .expect("SoftHSM2's token");
    let mut all = vec![A.to_string(), B.to_string(), hsm_serial.clone()];
    all.sort();
    assert_eq!(serials(&live), all);
    assert!(
        live.inventory.errors.is_empty(),
        "{:?}",
        live.inventory.errors
    );
    assert_eq!(watch.module_for(A).expect("A's module"), softkey_spec);
    assert_eq!(watch.module_for(&hsm_serial).expect("its module"), hsm_spec);
    // What crossed the process boundary reads back whole: the same JSON as the
    // in-process listing gives.
    let modules = certkey_core::inventory::Modules::load(vec![softkey_spec.clone()]);
    let direct =
        certkey_core::inventory::scan(&modules, &Catalog::builtin(), &[], &Default::default());
    drop(modules);
    // Sessions and the clock are the reader's own.
    let json = |t: &certkey_core::inventory::TokenReport| {
        let mut v = serde_json::to_value(t).expect("json");
        v["sessions"] = serde_json::Value::Null;
        v["utc_time"] = serde_json::Value::Null;
        v
    };
    let a_direct = direct
        .tokens
        .iter()
        .find(|t| t.details.serial == A)
        .expect("A");
    let a_watched = live
        .inventory
        .tokens
        .iter()
        .find(|t| t.details.serial == A)
        .expect("A");
    assert_eq!(json(a_direct), json(a_watched));

    // The module crashes every helper at its third C_GetSlotList (the running one,
    // past its first two, at its next poll).
    softkey(&store, &["crash-after", "2"]);
    let live = wait_for(&watch, "softkey crashed", |l| {
        matches!(module_error(l, &sk), Some(Error::ModuleCrashed { .. }))
    });
    match module_error(&live, &sk) {
        Some(Error::ModuleCrashed {
            signal, retry_s, ..
        }) => {
            assert_eq!(*signal, Some(6), "aborted");
            assert_eq!(*retry_s, 1, "first pause");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        serials(&live),
        vec![hsm_serial.clone()],
        "its keys are hidden, the other stays"
    );
    assert!(live.complete);
    assert_eq!(watch.module_for(A).unwrap_err().code(), "module_crashed");
    // Started again after 1 s, it crashes again: the next pause is longer.
    let live = wait_for(&watch, "softkey crashed twice", |l| {
        matches!(
            module_error(l, &sk),
            Some(Error::ModuleCrashed { retry_s: 5, .. })
        )
    });
    assert_eq!(serials(&live), vec![hsm_serial.clone()]);

    // The driver is fixed: the next helper lists its keys again.
    softkey(&store, &["crash-after", "off"]);
    let live = wait_for(&watch, "softkey back", |l| serials(l).len() == 3);
    assert_eq!(serials(&live), all);
    assert!(module_error(&live, &sk).is_none());
    assert_eq!(watch.module_for(B).expect("B's module"), softkey_spec);

    // A helper that stops writing (here: stopped) is shown as not responding, ended
    // and started again.
    let helpers = helpers_of(&sk);
    assert_eq!(helpers.len(), 1, "one helper for softkey: {helpers:?}");
    let stopped = Command::new("kill")
        .args(["-STOP", &helpers[0].to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    let live = wait_for(&watch, "softkey's helper not responding", |l| {
        matches!(
            module_error(l, &sk),
            Some(Error::ModuleNotResponding { .. })
        )
    });
    assert_eq!(serials(&live), vec![hsm_serial.clone()]);
    // The third end within a minute of the last start: the helper is started again
    // after the third pause of the back-off, 30 s (a wait of 30 s was a coin toss).
    let live = wait_within(
        &watch,
        "softkey back after the restart",
        Duration::from_secs(90),
        |l| serials(l).len() == 3 && module_error(l, &sk).is_none(),
    );
    assert_eq!(serials(&live), all);
    let restarted = helpers_of(&sk);
    assert_eq!(restarted.len(), 1);
    assert_ne!(restarted, helpers);

    // Dropping the watch ends every helper.
    drop(watch);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(helpers_of(&sk).is_empty() && helpers_of(&hsm_spec.path).is_empty()) {
        assert!(Instant::now() < deadline, "helpers still running");
        std::thread::sleep(Duration::from_millis(50));
    }
}
