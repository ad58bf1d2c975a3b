//! Property tests of the attachment checks, which read outside input (a holder's files
//! and their names) on both sides: `sniff` and `check_file_name` never panic, a name
//! they accept is a clean base name within the limits, and a type is found exactly
//! when the content starts with its signature.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 here, for CI).

use certkey_protocol::{check_file_name, sniff, AttachmentType, MAX_FILE_NAME_CHARS};
use proptest::prelude::*;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const SIGNATURES: [(&[u8], AttachmentType); 3] = [
    (b"%PDF-", AttachmentType::Pdf),
    (&[0xFF, 0xD8, 0xFF], AttachmentType::Jpeg),
    (b"\x89PNG\r\n\x1a\n", AttachmentType::Png),
];

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sniff_finds_a_type_only_behind_its_signature(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let expected = SIGNATURES
            .iter()
            .find(|(sig, _)| bytes.starts_with(sig))
            .map(|(_, t)| *t);
        prop_assert_eq!(sniff(&bytes), expected);
    }

    #[test]
    fn any_tail_after_a_signature_keeps_the_type(which in 0usize..3, tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let (sig, t) = SIGNATURES[which];
        let file = [sig, tail.as_slice()].concat();
        prop_assert_eq!(sniff(&file), Some(t));
        // One byte less of the signature is no longer that type.
        prop_assert_ne!(sniff(&sig[..sig.len() - 1]), Some(t));
    }

    #[test]
    fn an_accepted_file_name_is_a_clean_base_name(name in "\\PC{0,160}|[ -~]{0,140}|.{0,20}[/\\\\].{0,20}") {
        if let Ok(clean) = check_file_name(&name) {
            prop_assert!(!clean.is_empty());
            prop_assert!(clean.chars().count() <= MAX_FILE_NAME_CHARS);
            prop_assert!(!clean.contains(['/', '\\']));
            prop_assert!(!clean.chars().any(char::is_control));
            prop_assert_eq!(clean.trim(), clean.as_str());
            prop_assert!(clean != "." && clean != "..");
            // Checking again changes nothing.
            prop_assert_eq!(check_file_name(&clean), Ok(clean.clone()));
        }
    }
}
