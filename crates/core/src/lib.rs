//! certkey-core: everything CertKey does with keys, certificates and the CA, with no
//! user interface. Front ends (the `certkey` CLI, the desktop app) call into this crate
//! and turn its typed values and errors into text.
//!
//! Layout: one module per outside party (`pkcs11`, `catalog`, `config`) and per
//! concern (`cert` for certificate reading, `inventory` for the listing of every
//! token on every module).

pub mod catalog;
pub mod cert;
pub mod config;
pub mod csr;
pub mod diagnose;
pub mod directory;
pub mod error;
pub mod inventory;
pub mod logs;
pub mod pkcs11;
pub mod reminders;
pub mod service;
pub mod setup;
pub mod watch;
pub mod workflow;

pub use error::{Error, Located, Result};

/// This crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
