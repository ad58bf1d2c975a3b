//! softkey: a PKCS#11 module (`libcertkey_softkey.so`) that behaves like a Chinese
//! CA's USB key — SM2 with vendor constants, PIN counters that lock, removal — and the
//! library behind the `certkey-softkey` control tool. See docs/softkey.md.

#[cfg(not(all(unix, target_pointer_width = "64")))]
compile_error!("softkey supports 64-bit Unix (CK_ULONG = u64, flock)");

pub mod config;
pub mod control;
pub mod crypto;
pub mod ffi;
pub mod object;
pub mod runtime;
pub mod store;
pub mod token;
