//! Objects as attribute maps, stored as the application gave the bytes (CK_ULONG
//! values in native byte order, CK_BBOOL as one byte), plus, for private keys, the
//! secret sealed under the token's key-encryption key.

use std::collections::BTreeMap;

use cryptoki_sys::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes that serialise as a hex string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map(Hex).map_err(serde::de::Error::custom)
    }
}

/// CK_ULONG as stored.
pub fn ulong_bytes(v: u64) -> Vec<u8> {
    (v as CK_ULONG).to_ne_bytes().to_vec()
}

/// Reads a CK_ULONG attribute value; `None` when the length is wrong.
pub fn read_ulong(b: &[u8]) -> Option<u64> {
    let arr: [u8; std::mem::size_of::<CK_ULONG>()] = b.try_into().ok()?;
    #[allow(clippy::useless_conversion)]
    Some(u64::from(CK_ULONG::from_ne_bytes(arr)))
}

/// Reads a CK_BBOOL attribute value.
pub fn read_bool(b: &[u8]) -> Option<bool> {
    match b {
        [v] => Some(*v != 0),
        _ => None,
    }
}

/// One object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Attribute type -> value.
    pub attrs: BTreeMap<u64, Hex>,
    /// Private keys: the secret scalar sealed under the token KEK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<Hex>,
    /// Private keys: the public point (65 bytes), for SM2's Z.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_point: Option<Hex>,
}

/// Attributes whose value the module never reveals for a private key.
const SECRET_ATTRS: [u64; 7] = [
    CKA_VALUE,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

/// Attributes an application may never change.
const READ_ONLY: [u64; 14] = [
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_CERTIFICATE_TYPE,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LOCAL,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_KEY_GEN_MECHANISM,
    CKA_MODIFIABLE,
    CKA_UNIQUE_ID,
    CKA_ALWAYS_AUTHENTICATE,
];

impl Object {
    /// An object from (type, value) pairs.
    pub fn from_pairs(pairs: &[(u64, Vec<u8>)]) -> Object {
        let mut o = Object::default();
        for (t, v) in pairs {
            o.attrs.insert(*t, Hex(v.clone()));
        }
        o
    }

    /// A raw attribute value.
    pub fn get(&self, t: u64) -> Option<&[u8]> {
        self.attrs.get(&t).map(|h| h.0.as_slice())
    }

    /// Sets a raw attribute value.
    pub fn set(&mut self, t: u64, v: Vec<u8>) {
        self.attrs.insert(t, Hex(v));
    }

    /// Sets a CK_ULONG attribute.
    pub fn set_ulong(&mut self, t: u64, v: u64) {
        self.set(t, ulong_bytes(v));
    }

    /// Sets a CK_BBOOL attribute.
    pub fn set_bool(&mut self, t: u64, v: bool) {
        self.set(t, vec![u8::from(v)]);
    }

    /// A CK_ULONG attribute.
    pub fn ulong(&self, t: u64) -> Option<u64> {
        self.get(t).and_then(read_ulong)
    }

    /// A CK_BBOOL attribute, with a default.
    pub fn flag(&self, t: u64, default: bool) -> bool {
        self.get(t).and_then(read_bool).unwrap_or(default)
    }

    /// CKA_CLASS.
    pub fn class(&self) -> Option<u64> {
        self.ulong(CKA_CLASS)
    }

    /// CKA_TOKEN.
    pub fn is_token(&self) -> bool {
        self.flag(CKA_TOKEN, false)
    }

    /// CKA_PRIVATE.
    pub fn is_private(&self) -> bool {
        self.flag(CKA_PRIVATE, false)
    }

    /// Whether the template's every attribute is present with the same bytes.
    pub fn matches(&self, template: &[(u64, Vec<u8>)]) -> bool {
        template.iter().all(|(t, v)| match self.get(*t) {
            // CK_BBOOL values compare by truth, not by byte; other one-byte values
            // (a CKA_ID of 01, a label "x") by their byte.
            Some(mine) if BOOLS.contains(t) && mine.len() == 1 && v.len() == 1 => {
                (mine[0] != 0) == (v[0] != 0)
            }
            Some(mine) => mine == v.as_slice(),
            None => false,
        })
    }

    /// Bytes the object takes in token memory.
    pub fn size(&self) -> u64 {
        let attrs: usize = self.attrs.values().map(|v| v.0.len() + 16).sum();
        let secret = self.sealed_secret.as_ref().map_or(0, |s| s.0.len());
        let public = self.public_point.as_ref().map_or(0, |s| s.0.len());
        (attrs + secret + public + 32) as u64
    }

    /// Whether an attribute's value is withheld (CKR_ATTRIBUTE_SENSITIVE).
    pub fn is_sensitive(&self, t: u64) -> bool {
        let private_key =
            self.class() == Some(CKO_PRIVATE_KEY) || self.class() == Some(CKO_SECRET_KEY);
        private_key && SECRET_ATTRS.contains(&t)
    }

    /// Checks that `t` may be set to `v` on this existing object.
    pub fn check_settable(&self, t: u64, v: &[u8]) -> Result<(), CK_RV> {
        if !self.flag(CKA_MODIFIABLE, true) {
            return Err(CKR_ACTION_PROHIBITED);
        }
        if READ_ONLY.contains(&t) {
            return Err(CKR_ATTRIBUTE_READ_ONLY);
        }
        let class = self.class();
        let is_key = matches!(class, Some(c) if c == CKO_PRIVATE_KEY || c == CKO_PUBLIC_KEY || c == CKO_SECRET_KEY);
        if t == CKA_VALUE && (is_key || class == Some(CKO_CERTIFICATE)) {
            return Err(CKR_ATTRIBUTE_READ_ONLY);
        }
        if t == CKA_SENSITIVE {
            // Only false -> true.
            let new = read_bool(v).ok_or(CKR_ATTRIBUTE_VALUE_INVALID)?;
            if self.flag(t, false) && !new {
                return Err(CKR_ATTRIBUTE_READ_ONLY);
            }
        }
        if t == CKA_EXTRACTABLE {
            // Only true -> false.
            let new = read_bool(v).ok_or(CKR_ATTRIBUTE_VALUE_INVALID)?;
            if !self.flag(t, true) && new {
                return Err(CKR_ATTRIBUTE_READ_ONLY);
            }
        }
        check_value_shape(t, v)
    }
}

/// The CK_BBOOL attributes.
const BOOLS: [u64; 22] = [
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_TRUSTED,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_SIGN_RECOVER,
    CKA_VERIFY_RECOVER,
    CKA_LOCAL,
    CKA_ALWAYS_SENSITIVE,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
];

/// Rejects values whose length cannot be right for the attribute's type.
pub fn check_value_shape(t: u64, v: &[u8]) -> Result<(), CK_RV> {
    const ULONGS: [u64; 6] = [
        CKA_CLASS,
        CKA_KEY_TYPE,
        CKA_CERTIFICATE_TYPE,
        CKA_CERTIFICATE_CATEGORY,
        CKA_KEY_GEN_MECHANISM,
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
    ];
    if BOOLS.contains(&t) && v.len() != 1 {
        return Err(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    if ULONGS.contains(&t) && v.len() != std::mem::size_of::<CK_ULONG>() {
        return Err(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    if (t == CKA_START_DATE || t == CKA_END_DATE) && !(v.is_empty() || v.len() == 8) {
        return Err(CKR_ATTRIBUTE_VALUE_INVALID);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_by_bytes_and_booleans_by_truth() {
        let mut o = Object::default();
        o.set_ulong(CKA_CLASS, CKO_DATA);
        o.set(CKA_LABEL, b"x".to_vec());
        o.set_bool(CKA_TOKEN, true);
        assert!(o.matches(&[]));
        assert!(o.matches(&[(CKA_LABEL, b"x".to_vec())]));
        assert!(o.matches(&[(CKA_TOKEN, vec![7])]));
        assert!(!o.matches(&[(CKA_TOKEN, vec![0])]));
        assert!(!o.matches(&[(CKA_ID, vec![])]));
    }

    #[test]
    fn private_values_are_sensitive_and_fixed_attributes_read_only() {
        let mut k = Object::default();
        k.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
        k.set_bool(CKA_SENSITIVE, true);
        k.set_bool(CKA_EXTRACTABLE, false);
        assert!(k.is_sensitive(CKA_VALUE));
        assert!(!k.is_sensitive(CKA_LABEL));
        assert_eq!(
            k.check_settable(CKA_CLASS, &ulong_bytes(0)),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
        assert_eq!(
            k.check_settable(CKA_SENSITIVE, &[0]),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
        assert_eq!(
            k.check_settable(CKA_EXTRACTABLE, &[1]),
            Err(CKR_ATTRIBUTE_READ_ONLY)
        );
        assert_eq!(k.check_settable(CKA_LABEL, b"new"), Ok(()));
        assert_eq!(
            k.check_settable(CKA_SIGN, &[1, 2]),
            Err(CKR_ATTRIBUTE_VALUE_INVALID)
        );
        k.set_bool(CKA_MODIFIABLE, false);
        assert_eq!(
            k.check_settable(CKA_LABEL, b"new"),
            Err(CKR_ACTION_PROHIBITED)
        );
    }

    #[test]
    fn objects_round_trip_through_json() {
        let mut o = Object::default();
        o.set(CKA_VALUE, vec![0, 255, 16]);
        o.sealed_secret = Some(Hex(vec![1, 2]));
        let j = serde_json::to_string(&o).unwrap();
        let back: Object = serde_json::from_str(&j).unwrap();
        assert_eq!(back, o);
    }
}
