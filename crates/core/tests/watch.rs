//! The live inventory (`certkey_core::watch`) against the real softkey module: keys
//! coming and going, a module that hangs (softkey's `stall` fault) shown as not
//! responding without holding up the rest, and a module that fails to load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use certkey_core::catalog::Catalog;
use certkey_core::watch::{Watch, WatchOptions};

mod support;
use support::{built, codes, serials, softkey, spec, two_key_store, wait_for, A, B};

#[test]
fn keys_come_and_go_and_a_hung_module_is_reported_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = two_key_store(dir.path());
    // The module reads its store from the environment when it initialises; this test
    // binary loads it once, here.
    std::env::set_var("CERTKEY_SOFTKEY_DIR", &store);
    // The module hangs from the start: C_Initialize takes 7 s. The watch's limits are
    // 3 s, well above a call on a busy machine and well below the stall.
    softkey(&store, &["stall", "7000"]);

    let missing = dir.path().join("libnot-there.so");
    let published = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&published);
    let opts = WatchOptions {
        load_timeout: Duration::from_secs(3),
        timeout: Duration::from_secs(3),
        ..WatchOptions::default()
    };
    let watch = Watch::start(
        vec![spec(&missing), spec(&built("libcertkey_softkey.so"))],
        Catalog::builtin(),
        Vec::new(),
        opts,
        move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        },
    );

    // Loading happens on the watch's threads: the hung C_Initialize shows as a module
    // not responding while the missing module is already reported.
    let live = wait_for(&watch, "softkey not responding while it loads", |l| {
        codes(l).contains(&"module_not_responding")
    });
    assert!(
        live.complete,
        "a hung module does not keep the list incomplete"
    );
    assert!(codes(&live).contains(&"module_not_found"));
    assert!(live.inventory.tokens.is_empty());
    softkey(&store, &["stall", "off"]);

    // Once loaded, both keys are listed and the error is gone.
    let live = wait_for(&watch, "both keys", |l| serials(l) == [A, B]);
    assert_eq!(codes(&live), ["module_not_found"]);
    let softkey_module = watch.module_for(A).expect("module of A");
    assert!(softkey_module.spec.path.ends_with("libcertkey_softkey.so"));
    assert_eq!(
        watch.module_for("SKNOPE").unwrap_err().code(),
        "token_not_found"
    );

    // Pulled out and put back.
    softkey(&store, &["remove", "--serial", B]);
    wait_for(&watch, "B gone", |l| serials(l) == [A]);
    assert_eq!(watch.module_for(B).unwrap_err().code(), "token_not_found");
    softkey(&store, &["insert", "--serial", B]);
    wait_for(&watch, "B back", |l| serials(l) == [A, B]);

    // Unchanged keys are not re-read: with nothing happening, nothing is published.
    std::thread::sleep(Duration::from_millis(600));
    let before = published.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        published.load(Ordering::SeqCst),
        before,
        "published with no change"
    );

    // The module hangs: shown as not responding, its keys hidden, and an operation
    // on one of its keys fails at once instead of waiting.
    softkey(&store, &["stall", "7000"]);
    let live = wait_for(&watch, "not responding", |l| {
        codes(l).contains(&"module_not_responding")
    });
    assert!(live.inventory.tokens.is_empty());
    assert_eq!(
        watch.module_for(A).unwrap_err().code(),
        "module_not_responding"
    );
    softkey(&store, &["stall", "off"]);
    let live = wait_for(&watch, "recovered", |l| serials(l) == [A, B]);
    assert_eq!(codes(&live), ["module_not_found"]);
}
