//! The CertKey CA online protocol, version 1.
//!
//! These types are the public contract between the CertKey client and a CA online
//! service (see `shared/DESIGN.md`, "The CA online protocol, v1"). Field names are
//! stable: fields may be added, never renamed. Binary values travel as standard,
//! padded base64 of DER; times as RFC 3339 UTC.
//!
//! The module also holds the business rules both sides must compute identically,
//! such as how many days a certificate has left and when it may be renewed online.

pub mod attachment;
pub mod b64;
pub mod error;
pub mod rules;
pub mod secret;
pub mod v1;
pub mod wrap;

pub use attachment::{
    check_file_name, sniff, AttachmentInfo, AttachmentType, AttachmentUpload, FileNameError,
    MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES, MAX_FILE_NAME_CHARS,
};
pub use b64::Base64;
pub use error::{ApiError, ErrorBody};
pub use rules::{
    days_left, renewal_opens_at, renewed_not_after, CertType, RenewalStatus, RENEWAL_TERM_YEARS,
    RENEWAL_WINDOW_DAYS, YEAR_DAYS,
};
pub use secret::{secret_from_env, Secret, SecretEnvError};
