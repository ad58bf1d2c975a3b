//! Reading a token's objects: one search for everything visible, then one attribute
//! read per object (two C_GetAttributeValue calls: sizes, then values).

use std::num::NonZeroUsize;

use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

use super::ckr;

/// The object classes CertKey tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// CKO_CERTIFICATE.
    Certificate,
    /// CKO_PRIVATE_KEY.
    PrivateKey,
    /// CKO_PUBLIC_KEY.
    PublicKey,
    /// CKO_SECRET_KEY.
    SecretKey,
    /// CKO_DATA.
    Data,
    /// Anything else (domain parameters, mechanisms, vendor classes...).
    Other,
}

impl ObjectKind {
    fn of(class: ObjectClass) -> Self {
        match class {
            ObjectClass::CERTIFICATE => ObjectKind::Certificate,
            ObjectClass::PRIVATE_KEY => ObjectKind::PrivateKey,
            ObjectClass::PUBLIC_KEY => ObjectKind::PublicKey,
            ObjectClass::SECRET_KEY => ObjectKind::SecretKey,
            ObjectClass::DATA => ObjectKind::Data,
            _ => ObjectKind::Other,
        }
    }
}

/// The attributes CertKey reads of any object; absent ones are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenObject {
    /// Handle in the session that read it (not stable across sessions).
    pub handle: u64,
    /// CKA_CLASS.
    pub kind: ObjectKind,
    /// CKA_CLASS value.
    pub class: u64,
    /// CKA_ID.
    pub id: Vec<u8>,
    /// CKA_LABEL as UTF-8 (lossy).
    pub label: String,
    /// CKA_VALUE, when readable.
    pub value: Option<Vec<u8>>,
    /// CKA_KEY_TYPE value.
    pub key_type: Option<u64>,
    /// CKA_APPLICATION (data objects).
    pub application: Option<String>,
    /// CKA_PRIVATE.
    pub private: Option<bool>,
}

const WANTED: [AttributeType; 7] = [
    AttributeType::Class,
    AttributeType::Id,
    AttributeType::Label,
    AttributeType::Value,
    AttributeType::KeyType,
    AttributeType::Application,
    AttributeType::Private,
];

/// Objects read, and (handle, error) for those that could not be read.
pub type ObjectsRead = (Vec<TokenObject>, Vec<(u64, Error)>);

/// Handles fetched per C_FindObjects call.
const FIND_BATCH: usize = 256;

/// Every object visible in the session. Objects whose attributes cannot be read are
/// returned as errors beside the others.
pub fn read_all(session: &Session) -> Result<ObjectsRead> {
    let batch = NonZeroUsize::new(FIND_BATCH).unwrap_or(NonZeroUsize::MIN);
    let handles: Vec<ObjectHandle> = session
        .iter_objects_with_cache_size(&[], batch)
        .map_err(|e| ckr::convert(e, "C_FindObjectsInit"))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| ckr::convert(e, "C_FindObjects"))?;
    let mut objects = Vec::with_capacity(handles.len());
    let mut errors = Vec::new();
    for h in handles {
        match read_one(session, h) {
            Ok(o) => objects.push(o),
            Err(e) => errors.push((super::ulong(h.handle()), e)),
        }
    }
    Ok((objects, errors))
}

fn read_one(session: &Session, h: ObjectHandle) -> Result<TokenObject> {
    let attrs = match session.get_attributes(h, &WANTED) {
        Ok(a) => a,
        // Some modules fail the whole call over one attribute they dislike (or return
        // a value cryptoki cannot decode): ask one attribute at a time then.
        Err(first) => {
            let mut v = Vec::new();
            for t in WANTED {
                if let Ok(mut a) = session.get_attributes(h, &[t]) {
                    v.append(&mut a);
                }
            }
            if !v.iter().any(|a| matches!(a, Attribute::Class(_))) {
                return Err(ckr::convert(first, "C_GetAttributeValue"));
            }
            v
        }
    };
    let mut o = TokenObject {
        handle: super::ulong(h.handle()),
        kind: ObjectKind::Other,
        class: u64::MAX,
        id: Vec::new(),
        label: String::new(),
        value: None,
        key_type: None,
        application: None,
        private: None,
    };
    let mut has_class = false;
    for a in attrs {
        match a {
            Attribute::Class(c) => {
                has_class = true;
                o.kind = ObjectKind::of(c);
                o.class = super::ulong(*c);
            }
            Attribute::Id(v) => o.id = v,
            Attribute::Label(v) => o.label = String::from_utf8_lossy(&v).into_owned(),
            Attribute::Value(v) => o.value = Some(v),
            Attribute::KeyType(k) => o.key_type = Some(super::ulong(*k)),
            Attribute::Application(v) => {
                o.application = Some(String::from_utf8_lossy(&v).into_owned())
            }
            Attribute::Private(p) => o.private = Some(p),
            _ => {}
        }
    }
    if !has_class {
        return Err(Error::ModuleMisbehaved {
            reason: format!("object {} has no CKA_CLASS", o.handle),
        });
    }
    Ok(o)
}
