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
pub mod error;
pub mod image;
mod schema;

pub use asn1::{
    der_datetime, CertList, ExtData, Form, Picture, Seal, SealInfo, SealType, MAX_LIST_ENTRIES,
    MAX_OID_CONTENT, MAX_SEAL_BYTES, OID_ECDSA_WITH_SHA256, OID_SM3_WITH_SM2, VERSION_2020,
};
pub use error::SealError;
pub use image::{normalise, sniff, ImageLimits, NormalisedImage};

/// Whether a character may appear in a seal name: not a control character and not an
/// invisible formatting character (bidirectional overrides, zero-width characters,
/// soft hyphen, BOM) that could make a name look like another.
pub fn name_char_ok(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn invisible_characters_are_refused() {
        assert!(super::name_char_ok('章'));
        assert!(super::name_char_ok(' '));
        assert!(!super::name_char_ok('\u{202E}'));
        assert!(!super::name_char_ok('\u{200B}'));
        assert!(!super::name_char_ok('\n'));
    }
}
