//! A module that cannot lock for itself (softkey's `os-locking off` fault: CKR_CANT_LOCK
//! for CKF_OS_LOCKING_OK) is called by one thread at a time: while an operation holds
//! it, the watch leaves its keys as last seen, and another caller gets module_busy.
//! (Its own test binary: the module is initialised once per process.)

use std::time::Duration;

use certkey_core::catalog::Catalog;
use certkey_core::watch::{Watch, WatchOptions};

mod support;
use support::{built, serials, softkey, spec, two_key_store, wait_for, A, B};

#[test]
fn a_module_without_os_locking_is_called_by_one_thread_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = two_key_store(dir.path());
    std::env::set_var("CERTKEY_SOFTKEY_DIR", &store);
    softkey(&store, &["os-locking", "off"]);

    let watch = Watch::start(
        vec![spec(&built("libcertkey_softkey.so"))],
        Catalog::builtin(),
        Vec::new(),
        WatchOptions::default(),
        |_| {},
    );
    wait_for(&watch, "both keys", |l| serials(l) == [A, B]);
    let module = watch.module_for(A).expect("module of A");

    // An operation holds the module: the watch polls no more, so B pulled out is
    // not seen yet, and another caller is told the module is busy.
    let held = module
        .hold(Duration::from_secs(5))
        .expect("hold")
        .expect("a module without OS locking has a lock");
    softkey(&store, &["remove", "--serial", B]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(serials(&watch.snapshot()), [A, B], "polled while held");
    let other = std::thread::scope(|s| {
        s.spawn(|| module.hold(Duration::from_millis(300)).map(|g| g.is_some()))
            .join()
            .expect("thread")
    });
    assert_eq!(other.unwrap_err().code(), "module_busy");

    // Released: the watch goes on and sees B gone.
    drop(held);
    wait_for(&watch, "B gone", |l| serials(l) == [A]);
    softkey(&store, &["os-locking", "on"]);
}
