//! GB/T 38540 electronic seals (SESeal) for the CertKey client and CA service.
//!
//! The CA service builds seals and signs them; the client decodes and verifies them.
//! This crate does no signature cryptography itself: it encodes and decodes the DER
//! structure and hands out the exact bytes a signature covers
//! ([`SealInfo::to_be_signed`], [`Seal::signed_bytes`]).
//!
//! - [`asn1`] (re-exported here): the `SESeal` structure of GB/T 38540-2020 (version 4),
//!   written and read in strict DER, and the GM/T 0031-2014 form (versions 1 to 3),
//!   read (and written, for tests and tooling).
//! - [`image`]: checks an uploaded seal picture (PNG, JPEG or BMP) and normalises it
//!   to a trimmed PNG with a transparent background that fits a size budget.
//!
//! Nothing here panics on untrusted input: every failure is a [`SealError`] with a
//! stable machine code ([`SealError::code`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod asn1;
mod der;
pub mod error;
pub mod image;

pub use asn1::{
    CertList, ExtData, Form, Picture, Seal, SealInfo, SealType, MAX_LIST_ENTRIES, MAX_SEAL_BYTES,
    OID_ECDSA_WITH_SHA256, OID_SM3_WITH_SM2, VERSION_2020,
};
pub use error::SealError;
pub use image::{normalise, sniff, ImageLimits, NormalisedImage};
