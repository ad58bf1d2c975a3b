//! Token memory: objects take space, the token info says how much is free, and a full
//! token refuses more with CKR_DEVICE_MEMORY without losing what it holds.

mod common;

use common::Token;
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, ObjectClass};

#[test]
fn a_full_token_refuses_new_objects_and_keeps_the_old_ones() {
    let t = Token::open(Some("[[slot]]\nserial = \"SMALL1\"\nmemory = 8192\n"));
    let slot = t.init(0);
    let s = t.user_session(slot);
    let before = t.ctx.get_token_info(slot).unwrap();
    assert_eq!(before.total_public_memory(), Some(8192));
    let free0 = before.free_public_memory().unwrap();

    let mut written = 0;
    let err = loop {
        let r = s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Label(format!("seal {written}").into_bytes()),
            Attribute::Value(vec![0xAB; 1500]),
        ]);
        match r {
            Ok(_) => written += 1,
            Err(e) => break e,
        }
        assert!(written < 100, "memory accounting never refused");
    };
    assert!(
        matches!(err, Error::Pkcs11(RvError::DeviceMemory, _)),
        "{err}"
    );
    assert!(written >= 3, "several objects fit before the token is full");
    let after = t.ctx.get_token_info(slot).unwrap();
    assert!(after.free_public_memory().unwrap() < free0);
    assert!(after.free_public_memory().unwrap() < 1500 + 200);
    let found = s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .unwrap();
    assert_eq!(found.len(), written, "nothing written before is lost");

    // Freeing one object makes room again.
    s.destroy_object(found[0]).unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Value(vec![0xCD; 1500]),
    ])
    .unwrap();
}
