//! A workflow's journal, kept on the key itself: a public CKO_DATA object (application
//! "CertKey journal", CKA_ID = the operation's name) holding a small JSON record of
//! how far the operation got — never a PIN or any secret. It travels with the key, so
//! an interrupted activation or renewal can be finished on any computer.
//!
//! A new record is written before the old one is destroyed, and readers take the one
//! with the highest sequence number, so an interruption between the two leaves a
//! usable journal.

use cryptoki::session::Session;
use serde::{Deserialize, Serialize};

use crate::pkcs11::keys;
use crate::{Error, Result};

/// CKA_APPLICATION of journal objects.
pub const APPLICATION: &str = "CertKey journal";

/// Largest journal record read back.
const MAX_RECORD: usize = 4096;

/// How far an operation got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Sequence number, one up per write.
    pub seq: u64,
    /// Stage reached (per operation).
    pub stage: String,
    /// The service's activation id (activation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation_id: Option<String>,
    /// CKA_ID (hex) of the key pair the operation made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// CKA_ID (hex) of the key pair the operation replaces (renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_id: Option<String>,
    /// Serial (hex) of the certificate the operation replaces (renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_serial: Option<String>,
    /// Idempotency key of the service request (renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

fn records(
    session: &Session,
    operation: &str,
) -> Result<Vec<(cryptoki::object::ObjectHandle, Journal)>> {
    let mut out = Vec::new();
    for (handle, _, value) in keys::find_data(session, APPLICATION, Some(operation.as_bytes()))? {
        if value.len() > MAX_RECORD {
            continue;
        }
        // A record that does not parse is left for `clear` to remove.
        if let Ok(j) = serde_json::from_slice::<Journal>(&value) {
            out.push((handle, j));
        }
    }
    Ok(out)
}

/// The latest record of `operation`, if any.
pub fn read(session: &Session, operation: &str) -> Result<Option<Journal>> {
    Ok(records(session, operation)?
        .into_iter()
        .map(|(_, j)| j)
        .max_by_key(|j| j.seq))
}

/// Records `journal` (its `seq` is set one above the latest) and removes older records.
pub fn write(session: &Session, operation: &str, journal: &mut Journal) -> Result<()> {
    let old = records(session, operation)?;
    journal.seq = old.iter().map(|(_, j)| j.seq).max().unwrap_or(0) + 1;
    let value = serde_json::to_vec(journal).map_err(|e| Error::InvalidArgument {
        name: "journal".into(),
        reason: e.to_string(),
    })?;
    keys::write_data(
        session,
        APPLICATION,
        operation.as_bytes(),
        "certkey-journal",
        &value,
    )?;
    for (handle, _) in old {
        keys::destroy(session, handle)?;
    }
    Ok(())
}

/// Removes every record of `operation` (the operation is complete).
pub fn clear(session: &Session, operation: &str) -> Result<()> {
    for (handle, _, _) in keys::find_data(session, APPLICATION, Some(operation.as_bytes()))? {
        keys::destroy(session, handle)?;
    }
    Ok(())
}
