//! CK_RV values and names, and the conversion of cryptoki errors.

use std::collections::HashMap;
use std::sync::OnceLock;

use cryptoki::error::{Error as CkError, Rv, RvError};

use crate::Error;

/// CKR_VENDOR_DEFINED.
const VENDOR_DEFINED: u64 = 0x8000_0000;

fn table() -> &'static HashMap<String, u64> {
    // cryptoki maps numbers to RvError but not back; build the reverse once by
    // asking it about every standard value.
    static TABLE: OnceLock<HashMap<String, u64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = HashMap::new();
        for n in 0u64..0x300 {
            // CK_RV is an unsigned long: 32 bits on Windows, so convert with care.
            let raw = match cryptoki_sys::CK_RV::try_from(n) {
                Ok(r) => r,
                Err(_) => continue,
            };
            if let Rv::Error(e) = Rv::from(raw) {
                if !matches!(e, RvError::UnknownErrorCode(_) | RvError::VendorDefined(_)) {
                    m.entry(format!("{e:?}")).or_insert(n);
                }
            }
        }
        m
    })
}

/// The numeric CK_RV of a cryptoki error value.
pub fn rv_value(e: &RvError) -> u64 {
    match e {
        RvError::VendorDefined(v) | RvError::UnknownErrorCode(v) => super::ulong(*v),
        other => table()
            .get(&format!("{other:?}"))
            .copied()
            .unwrap_or(0xFFFF_FFFF),
    }
}

/// The CKR_ name of a value, e.g. `CKR_PIN_INCORRECT`.
pub fn rv_name(e: &RvError) -> String {
    match e {
        RvError::VendorDefined(v) => format!(
            "CKR_VENDOR_DEFINED+0x{:X}",
            super::ulong(*v).saturating_sub(VENDOR_DEFINED)
        ),
        RvError::UnknownErrorCode(v) => format!("CKR_0x{:08X}", super::ulong(*v)),
        other => format!("CKR_{}", camel_to_upper_snake(&format!("{other:?}"))),
    }
}

fn camel_to_upper_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The C name of a cryptoki function, e.g. `C_GetTokenInfo`.
pub fn function_name(f: cryptoki::context::Function) -> String {
    format!("C_{f:?}")
}

/// Converts a cryptoki error; `function` names the call when cryptoki does not.
pub fn convert(e: CkError, function: &str) -> Error {
    match e {
        CkError::Pkcs11(rv, f) => Error::Pkcs11 {
            function: function_name(f),
            ckr: rv_value(&rv),
            ckr_name: rv_name(&rv),
        },
        CkError::LibraryLoading(le) => Error::ModuleLoadFailed {
            path: String::new(),
            reason: le.to_string(),
        },
        CkError::NullFunctionPointer | CkError::NotSupported => Error::Pkcs11 {
            function: function.to_string(),
            ckr: 0x54,
            ckr_name: "CKR_FUNCTION_NOT_SUPPORTED".into(),
        },
        other => Error::ModuleMisbehaved {
            reason: format!("{function}: {other}"),
        },
    }
}

/// An error from a raw CK_RV returned by `function`.
pub fn from_raw(value: cryptoki_sys::CK_RV, function: &str) -> Error {
    let value = super::ulong(value);
    let name = match cryptoki_sys::CK_RV::try_from(value).map(Rv::from) {
        Ok(Rv::Error(e)) => rv_name(&e),
        _ => format!("CKR_0x{value:08X}"),
    };
    Error::Pkcs11 {
        function: function.to_string(),
        ckr: value,
        ckr_name: name,
    }
}

/// Whether an error is this CKR.
pub fn is_ckr(e: &Error, ckr: u64) -> bool {
    matches!(e, Error::Pkcs11 { ckr: c, .. } if *c == ckr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_match_the_specification() {
        assert_eq!(rv_value(&RvError::PinIncorrect), 0xA0);
        assert_eq!(rv_name(&RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(rv_value(&RvError::PinLocked), 0xA4);
        assert_eq!(rv_value(&RvError::DeviceRemoved), 0x32);
        assert_eq!(rv_name(&RvError::DeviceRemoved), "CKR_DEVICE_REMOVED");
        assert_eq!(rv_value(&RvError::TokenNotPresent), 0xE0);
        assert_eq!(
            rv_name(&RvError::VendorDefined(0x8000_0012)),
            "CKR_VENDOR_DEFINED+0x12"
        );
    }

    #[test]
    fn conversion_keeps_function_and_code() {
        let e = convert(
            CkError::Pkcs11(
                RvError::DeviceRemoved,
                cryptoki::context::Function::GetTokenInfo,
            ),
            "C_GetTokenInfo",
        );
        assert_eq!(
            e,
            Error::Pkcs11 {
                function: "C_GetTokenInfo".into(),
                ckr: 0x32,
                ckr_name: "CKR_DEVICE_REMOVED".into()
            }
        );
    }
}
