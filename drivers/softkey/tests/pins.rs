//! The PIN state machine through cryptoki, as a holder's application meets it.

mod common;

use common::{Token, SO_PIN, USER_PIN};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::{vendor_defined::VendorDefinedMechanism, Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

fn pin(p: &str) -> AuthPin {
    AuthPin::new(p.into())
}

fn rv(e: Error) -> RvError {
    match e {
        Error::Pkcs11(rv, _) => rv,
        other => panic!("not a PKCS#11 error: {other}"),
    }
}

fn vendor(v: u64) -> Mechanism<'static> {
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(
        MechanismType::new_vendor_defined(v).unwrap(),
        None,
    ))
}

/// Makes an SM2 key pair (TASS constants) on the token; returns the private key.
fn sm2_key(s: &Session) -> cryptoki::object::ObjectHandle {
    let kt = KeyType::new_vendor_defined(0x8000_0004).unwrap();
    let (_, private) = s
        .generate_key_pair(
            &vendor(0x8000_8001),
            &[
                Attribute::Token(true),
                Attribute::Id(vec![1]),
                Attribute::KeyType(kt),
            ],
            &[
                Attribute::Token(true),
                Attribute::Id(vec![1]),
                Attribute::Sign(true),
            ],
        )
        .expect("SM2 key pair");
    private
}

fn sign_ok(s: &Session, key: cryptoki::object::ObjectHandle) {
    let sig = s.sign(&vendor(0x8000_8100), key, b"message").expect("sign");
    assert_eq!(sig.len(), 64);
}

#[test]
fn a_blank_token_is_initialised_by_c_inittoken_and_needs_c_initpin() {
    let t = Token::open(None);
    let slot = t.slot(0);
    let info = t.ctx.get_token_info(slot).unwrap();
    assert!(!info.token_initialized());
    assert!(matches!(
        t.ctx.open_rw_session(slot).map_err(rv),
        Err(RvError::TokenNotRecognized)
    ));
    t.ctx.init_token(slot, &pin(SO_PIN), "新 Key").unwrap();
    let info = t.ctx.get_token_info(slot).unwrap();
    assert!(info.token_initialized());
    assert!(!info.user_pin_initialized());
    assert_eq!(info.label(), "新 Key");
    let s = t.ctx.open_rw_session(slot).unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN))).unwrap_err()),
        RvError::UserPinNotInitialized
    );
}

#[test]
fn six_wrong_user_pins_lock_the_key_and_then_even_the_right_pin_is_refused() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.ctx.open_rw_session(slot).unwrap();
    for i in 1..=5 {
        assert_eq!(
            rv(s.login(UserType::User, Some(&pin("00000000"))).unwrap_err()),
            RvError::PinIncorrect,
            "try {i}"
        );
        let info = t.ctx.get_token_info(slot).unwrap();
        assert!(info.user_pin_count_low(), "count low after {i}");
        assert_eq!(info.user_pin_final_try(), i == 5, "final try after {i}");
        assert!(!info.user_pin_locked());
    }
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("00000000"))).unwrap_err()),
        RvError::PinLocked
    );
    assert!(t.ctx.get_token_info(slot).unwrap().user_pin_locked());
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN))).unwrap_err()),
        RvError::PinLocked
    );
}

#[test]
fn a_right_pin_resets_the_count() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.ctx.open_rw_session(slot).unwrap();
    for _ in 0..4 {
        let _ = s.login(UserType::User, Some(&pin("00000000")));
    }
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let info = t.ctx.get_token_info(slot).unwrap();
    assert!(!info.user_pin_count_low());
    s.logout().unwrap();
    for _ in 0..5 {
        let _ = s.login(UserType::User, Some(&pin("00000000")));
    }
    assert!(t.ctx.get_token_info(slot).unwrap().user_pin_final_try());
}

#[test]
fn so_initpin_unlocks_a_locked_key_and_its_keys_still_sign() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let key = sm2_key(&s);
    sign_ok(&s, key);
    s.logout().unwrap();
    for _ in 0..6 {
        let _ = s.login(UserType::User, Some(&pin("00000000")));
    }
    assert!(t.ctx.get_token_info(slot).unwrap().user_pin_locked());
    drop(s);

    let so = t.ctx.open_rw_session(slot).unwrap();
    so.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    so.init_pin(&pin("24681357")).unwrap();
    so.logout().unwrap();
    let info = t.ctx.get_token_info(slot).unwrap();
    assert!(!info.user_pin_locked());
    assert!(!info.user_pin_count_low());

    so.login(UserType::User, Some(&pin("24681357"))).unwrap();
    let keys = so
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(vec![1]),
        ])
        .unwrap();
    assert_eq!(keys.len(), 1, "the key survives the unlock");
    sign_ok(&so, keys[0]);
}

#[test]
fn the_so_pin_locks_after_ten_wrong_tries() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.ctx.open_rw_session(slot).unwrap();
    for i in 1..=9 {
        assert_eq!(
            rv(s.login(UserType::So, Some(&pin("00000000"))).unwrap_err()),
            RvError::PinIncorrect,
            "try {i}"
        );
    }
    assert!(t.ctx.get_token_info(slot).unwrap().so_pin_final_try());
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin("00000000"))).unwrap_err()),
        RvError::PinLocked
    );
    assert!(t.ctx.get_token_info(slot).unwrap().so_pin_locked());
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin(SO_PIN))).unwrap_err()),
        RvError::PinLocked
    );
}

#[test]
fn set_pin_changes_the_user_pin_and_checks_the_old_one() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    assert_eq!(
        rv(s.set_pin(&pin("99999999"), &pin("13572468")).unwrap_err()),
        RvError::PinIncorrect
    );
    assert!(
        t.ctx.get_token_info(slot).unwrap().user_pin_count_low(),
        "a wrong old PIN costs a try"
    );
    assert_eq!(
        rv(s.set_pin(&pin(USER_PIN), &pin("123")).unwrap_err()),
        RvError::PinLenRange
    );
    s.set_pin(&pin(USER_PIN), &pin("13572468")).unwrap();
    s.logout().unwrap();
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin(USER_PIN))).unwrap_err()),
        RvError::PinIncorrect
    );
    s.login(UserType::User, Some(&pin("13572468"))).unwrap();
}

#[test]
fn the_login_state_machine_follows_the_specification() {
    let t = Token::open(None);
    let slot: Slot = t.init(0);
    let ro = t.ctx.open_ro_session(slot).unwrap();
    let rw = t.ctx.open_rw_session(slot).unwrap();
    // SO cannot log in while a R/O session exists.
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap_err()),
        RvError::SessionReadOnlyExists
    );
    ro.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    // Login is per token: the other session is logged in too.
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap_err()),
        RvError::UserAlreadyLoggedIn
    );
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap_err()),
        RvError::UserAnotherAlreadyLoggedIn
    );
    // C_InitPIN needs the SO.
    assert_eq!(
        rv(rw.init_pin(&pin("11223344")).unwrap_err()),
        RvError::UserNotLoggedIn
    );
    rw.logout().unwrap();
    assert_eq!(rv(ro.logout().unwrap_err()), RvError::UserNotLoggedIn);
    drop(ro);
    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    // With the SO logged in no R/O session can open.
    assert_eq!(
        rv(t.ctx.open_ro_session(slot).unwrap_err()),
        RvError::SessionReadWriteSoExists
    );
    // C_InitToken refuses while sessions are open.
    assert_eq!(
        rv(t.ctx.init_token(slot, &pin(SO_PIN), "x").unwrap_err()),
        RvError::SessionExists
    );
}

#[test]
fn pin_to_be_changed_is_set_when_the_store_says_so() {
    let t = Token::open(Some(
        "[[slot]]\nserial = \"CHG1\"\ninit_pin_to_be_changed = true\n",
    ));
    let slot = t.init(0);
    let info = t.ctx.get_token_info(slot).unwrap();
    assert!(info.user_pin_to_be_changed());
    let s = t.user_session(slot);
    s.set_pin(&pin(USER_PIN), &pin("13572468")).unwrap();
    assert!(!t.ctx.get_token_info(slot).unwrap().user_pin_to_be_changed());
}

#[test]
fn retry_limits_come_from_the_configuration() {
    let t = Token::open(Some("[[slot]]\nserial = \"R3\"\nuser_retries = 3\n"));
    let slot = t.init(0);
    let s = t.ctx.open_rw_session(slot).unwrap();
    let _ = s.login(UserType::User, Some(&pin("00000000")));
    assert!(t.ctx.get_token_info(slot).unwrap().user_pin_count_low());
    let _ = s.login(UserType::User, Some(&pin("00000000")));
    assert!(t.ctx.get_token_info(slot).unwrap().user_pin_final_try());
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("00000000"))).unwrap_err()),
        RvError::PinLocked
    );
}
