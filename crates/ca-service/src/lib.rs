//! certkey-ca: the reference CA online service of the CertKey protocol (v1, see
//! shared/DESIGN.md). The binary `certkey-ca` is a thin front end over these modules.

pub mod activation;
pub mod admin;
pub mod api;
pub mod attachments;
pub mod ca;
pub mod config;
pub mod db;
pub mod hsm;
pub mod keystore;
pub mod limits;
pub mod openapi;
pub mod production;
pub mod prune;
pub mod renewal;
pub mod seal;
pub mod secrets;
pub mod unlock;
pub mod x509;
