//! Materials (scans) a holder attaches to an unlock request under review:
//! `POST /unlock/{ticket}/attachments`.
//!
//! A file is a PDF, JPEG or PNG as its content says ([`sniff`]), never as its name or a
//! declared type says; at most [`MAX_ATTACHMENT_BYTES`] each, at most
//! [`MAX_ATTACHMENTS`] per request. Its name is only a label for the CA operator
//! ([`check_file_name`]). Client and service apply the same rules.

use serde::{Deserialize, Serialize};

use crate::Base64;

/// Largest attachment, in bytes (5 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;

/// Most attachments one unlock request takes.
pub const MAX_ATTACHMENTS: usize = 5;

/// Longest file name, in characters (after trimming and dropping any folder).
pub const MAX_FILE_NAME_CHARS: usize = 128;

/// What an attachment is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AttachmentType {
    /// A PDF document (`%PDF-`).
    Pdf,
    /// A JPEG picture (`FF D8 FF`).
    Jpeg,
    /// A PNG picture (its 8-byte signature).
    Png,
}

impl AttachmentType {
    /// Every type, in the order they are named to users.
    pub const ALL: [AttachmentType; 3] = [
        AttachmentType::Pdf,
        AttachmentType::Jpeg,
        AttachmentType::Png,
    ];

    /// The IANA media type: `application/pdf`, `image/jpeg`, `image/png`.
    pub fn media_type(self) -> &'static str {
        match self {
            AttachmentType::Pdf => "application/pdf",
            AttachmentType::Jpeg => "image/jpeg",
            AttachmentType::Png => "image/png",
        }
    }

    /// Stable machine name, as serialised: `pdf`, `jpeg`, `png`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentType::Pdf => "pdf",
            AttachmentType::Jpeg => "jpeg",
            AttachmentType::Png => "png",
        }
    }

    /// The type of a machine name ([`AttachmentType::as_str`]).
    pub fn from_name(name: &str) -> Option<AttachmentType> {
        AttachmentType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The type of a file by its first bytes (magic numbers): PDF `%PDF-`, JPEG
/// `FF D8 FF`, PNG `89 50 4E 47 0D 0A 1A 0A`; anything else is `None`.
pub fn sniff(bytes: &[u8]) -> Option<AttachmentType> {
    if bytes.starts_with(b"%PDF-") {
        Some(AttachmentType::Pdf)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(AttachmentType::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(AttachmentType::Png)
    } else {
        None
    }
}

/// Why a file name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    /// Nothing is left once trimmed (or it names a folder: `.`, `..`, `a/`).
    #[error("the file name is empty")]
    Empty,
    /// Longer than [`MAX_FILE_NAME_CHARS`].
    #[error("the file name is longer than {MAX_FILE_NAME_CHARS} characters")]
    TooLong,
    /// It holds a control character or an invisible direction override.
    #[error("the file name holds a control character")]
    ControlCharacter,
}

impl FileNameError {
    /// Stable machine name: `empty`, `too_long`, `control_character`.
    pub fn code(self) -> &'static str {
        match self {
            FileNameError::Empty => "empty",
            FileNameError::TooLong => "too_long",
            FileNameError::ControlCharacter => "control_character",
        }
    }
}

/// Invisible characters that reorder or hide text (bidirectional controls, zero-width
/// marks): in a file name they could make `gpj.exe` look like `exe.jpg`.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The file name an attachment is stored under: the base name of `name` (whatever
/// follows the last `/` or `\`), trimmed, 1 to [`MAX_FILE_NAME_CHARS`] characters, with
/// no control or invisible direction characters, and not `.` or `..`.
pub fn check_file_name(name: &str) -> Result<String, FileNameError> {
    if name
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(FileNameError::ControlCharacter);
    }
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if base.is_empty() || base == "." || base == ".." {
        return Err(FileNameError::Empty);
    }
    if base.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(FileNameError::TooLong);
    }
    Ok(base.to_string())
}

/// `POST /unlock/{ticket}/attachments` request: one file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AttachmentUpload {
    /// The file's name, a label for the CA operator ([`check_file_name`]).
    pub file_name: String,
    /// Its content: a PDF, JPEG or PNG of at most 5 MiB.
    pub data: Base64,
}

/// An attachment as stored: `POST /unlock/{ticket}/attachments` response, and one entry
/// of `attachments` in `GET /unlock/{ticket}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AttachmentInfo {
    /// Identifies it within the service (stable).
    pub id: i64,
    /// The file name as stored ([`check_file_name`]).
    pub file_name: String,
    /// What its content is.
    pub media_type: AttachmentType,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// When it was received, unix seconds.
    pub uploaded_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_their_content() {
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Some(AttachmentType::Pdf));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']),
            Some(AttachmentType::Jpeg)
        );
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(AttachmentType::Png)
        );
        for not in [
            &b""[..],
            b"%PDF",
            b"%pdf-1.4",
            b" %PDF-1.4",
            &[0xFF, 0xD8],
            &[0xFF, 0xD8, 0x00],
            b"\x89PNG\r\n\x1a",
            b"\x89PNG\n\r\x1a\n",
            b"GIF89a",
            b"MZ\x90\0",
            b"PK\x03\x04",
        ] {
            assert_eq!(sniff(not), None, "{not:?}");
        }
    }

    #[test]
    fn media_types_and_names() {
        let media: Vec<_> = AttachmentType::ALL.iter().map(|t| t.media_type()).collect();
        assert_eq!(media, ["application/pdf", "image/jpeg", "image/png"]);
        for t in AttachmentType::ALL {
            assert_eq!(AttachmentType::from_name(t.as_str()), Some(t));
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().into())
            );
        }
        assert_eq!(AttachmentType::from_name("gif"), None);
    }

    #[test]
    fn file_names_keep_their_base_name_and_refuse_what_cannot_be_shown() {
        assert_eq!(check_file_name("  身份证.jpg ").unwrap(), "身份证.jpg");
        assert_eq!(check_file_name("C:\\scans\\a.pdf").unwrap(), "a.pdf");
        assert_eq!(check_file_name("/tmp/../etc/b.png").unwrap(), "b.png");
        assert_eq!(
            check_file_name("x".repeat(128).as_str()).unwrap().len(),
            128
        );
        assert_eq!(
            check_file_name(&"章".repeat(128)).unwrap().chars().count(),
            128
        );
        assert_eq!(
            check_file_name(&"x".repeat(129)),
            Err(FileNameError::TooLong)
        );
        for empty in ["", "   ", "a/", "dir\\", ".", "..", "/a/.."] {
            assert_eq!(
                check_file_name(empty),
                Err(FileNameError::Empty),
                "{empty:?}"
            );
        }
        for bad in [
            "a\nb.pdf",
            "a\0.pdf",
            "\t.pdf",
            "x\u{202E}fdp.exe",
            "a\u{7f}.png",
        ] {
            assert_eq!(
                check_file_name(bad),
                Err(FileNameError::ControlCharacter),
                "{bad:?}"
            );
        }
        assert_eq!(FileNameError::TooLong.code(), "too_long");
    }

    #[test]
    fn bodies_have_the_contract_field_names() {
        let up = AttachmentUpload {
            file_name: "a.pdf".into(),
            data: Base64(b"%PDF-".to_vec()),
        };
        let v = serde_json::to_value(&up).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"file_name": "a.pdf", "data": "JVBERi0="})
        );
        let info: AttachmentInfo = serde_json::from_value(serde_json::json!({
            "id": 7, "file_name": "a.pdf", "media_type": "pdf", "size": 5,
            "sha256": "00", "uploaded_at": 1_700_000_000
        }))
        .unwrap();
        assert_eq!(info.media_type, AttachmentType::Pdf);
        assert_eq!(info.id, 7);
    }
}
