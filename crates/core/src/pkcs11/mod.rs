//! Token access over PKCS#11 through `cryptoki`: loading modules, reading tokens,
//! mechanisms and objects. Every failure is turned into a typed [`crate::Error`]
//! naming the C function and the CKR.

pub mod ckr;
pub mod keys;
pub mod login;
pub mod mechanisms;
pub mod module;
pub mod objects;
pub mod raw;
pub mod token;
pub mod trace;

pub use module::{discover_modules, LoadedModule, ModuleSource, ModuleSpec};

/// Widens a CK_ULONG (32 bits on Windows, 64 elsewhere) to u64.
#[allow(clippy::useless_conversion)]
pub fn ulong(v: cryptoki_sys::CK_ULONG) -> u64 {
    u64::from(v)
}
