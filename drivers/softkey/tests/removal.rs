//! Pulling the key out: sessions end, calls say so, slot events report it, and
//! `fail-after` removes the key in the middle of an operation sequence.

mod common;

use std::time::Duration;

use common::{control, Token, USER_PIN};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn rv(e: Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => rv,
        other => panic!("not a PKCS#11 error: {other}"),
    }
}

#[test]
fn removing_the_key_ends_its_sessions_and_every_call_says_so() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let params = vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let (_, key) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::Token(true), Attribute::EcParams(params)],
            &[Attribute::Token(true), Attribute::Sign(true)],
        )
        .unwrap();
    assert_eq!(t.ctx.get_slot_event().unwrap(), None);

    control(t.dir.path(), &["remove"]);
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha256, key, b"x").unwrap_err()),
        RvError::DeviceRemoved
    );
    assert_eq!(
        rv(s.get_session_info().unwrap_err()),
        RvError::DeviceRemoved
    );
    assert!(t.ctx.get_slots_with_token().unwrap().is_empty());
    assert_eq!(t.ctx.get_all_slots().unwrap().len(), 1);
    assert!(!t.ctx.get_slot_info(slot).unwrap().token_present());
    assert_eq!(
        rv(t.ctx.get_token_info(slot).unwrap_err()),
        RvError::TokenNotPresent
    );
    assert_eq!(
        rv(t.ctx.open_ro_session(slot).unwrap_err()),
        RvError::TokenNotPresent
    );
    assert_eq!(
        t.ctx.get_slot_event().unwrap(),
        Some(slot),
        "removal is an event"
    );
    assert_eq!(t.ctx.get_slot_event().unwrap(), None);
    drop(s);

    control(t.dir.path(), &["insert"]);
    assert_eq!(
        t.ctx.get_slot_event().unwrap(),
        Some(slot),
        "insertion is an event"
    );
    let s = t.ctx.open_rw_session(slot).unwrap();
    // The login ended with the removal; the key is still there after a new login.
    assert!(s
        .find_objects(&[Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY)])
        .unwrap()
        .is_empty());
    s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))
        .unwrap();
    let keys = s
        .find_objects(&[Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert_eq!(keys.len(), 1);
    s.sign(&Mechanism::EcdsaSha256, keys[0], b"x").unwrap();
}

#[test]
fn fail_after_removes_the_key_after_exactly_n_more_operations() {
    let t = Token::open(None);
    let slot = t.init(0);
    control(t.dir.path(), &["fail-after", "3"]);
    for i in 0..3 {
        t.ctx
            .get_token_info(slot)
            .unwrap_or_else(|e| panic!("operation {i} should pass: {e}"));
    }
    assert_eq!(
        rv(t.ctx.get_token_info(slot).unwrap_err()),
        RvError::TokenNotPresent
    );
    let status: serde_json::Value =
        serde_json::from_str(&control(t.dir.path(), &["status", "--json"])).unwrap();
    assert_eq!(status["slots"][0]["present"], false);
    assert!(
        status["slots"][0]["fail_after"].is_null(),
        "the fault fires once"
    );

    // In a session the removal interrupts the running operation.
    control(t.dir.path(), &["insert"]);
    let s = t.user_session(slot);
    control(t.dir.path(), &["fail-after", "0"]);
    assert_eq!(
        rv(s.get_session_info().unwrap_err()),
        RvError::DeviceRemoved
    );
}

#[test]
fn a_blocking_wait_for_slot_event_returns_when_the_key_is_pulled() {
    let t = Token::open(None);
    let slot = t.init(0);
    let ctx = t.ctx.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ctx.wait_for_slot_event());
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "nothing happened yet");
    control(t.dir.path(), &["remove"]);
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the wait returns")
        .unwrap();
    assert_eq!(got, slot);
}

#[test]
fn a_key_pulled_out_and_put_back_between_two_calls_still_ends_the_sessions() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    s.get_session_info().unwrap();
    control(t.dir.path(), &["remove"]);
    control(t.dir.path(), &["insert"]);
    assert_eq!(
        rv(s.get_session_info().unwrap_err()),
        RvError::DeviceRemoved
    );
    // A new session on the reinserted key starts logged out.
    let s2 = t.ctx.open_ro_session(slot).unwrap();
    assert_eq!(
        s2.get_session_info().unwrap().session_state(),
        cryptoki::session::SessionState::RoPublic
    );
}

#[test]
fn another_process_reinitialising_the_key_ends_this_process_login() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let (ok, out) = common::pkcs11_tool(
        t.dir.path(),
        &[
            "--init-token",
            "--label",
            "again",
            "--so-pin",
            common::SO_PIN,
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(
        rv(s.get_session_info().unwrap_err()),
        RvError::DeviceRemoved
    );
    assert_eq!(t.ctx.get_token_info(slot).unwrap().label(), "again");
}
