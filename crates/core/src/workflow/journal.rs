//! A workflow's journal, kept on the key itself: a CKO_DATA object (application
//! "CertKey journal", CKA_ID = the operation's name) holding a small JSON record of
//! how far the operation got — never a PIN or any secret. It travels with the key, so
//! an interrupted activation or renewal can be finished on any computer.
//!
//! The record that drives a resumption ([`read`], [`write`]) is a private object
//! (CKA_PRIVATE true): only someone who knows the user PIN can write it, so anybody
//! able to plant objects on a key without the PIN cannot make a workflow destroy or
//! use a key pair. Before the login only a public *hint* ([`read_hint`],
//! [`write_hint`]) is visible: its stage and activation id say which PIN to ask for or
//! that a check must wait until the private record is readable; its ids are never
//! read, and it never causes anything to be destroyed. Public records with ids (as
//! earlier versions wrote, or as anybody may plant) are hints like any other: their
//! ids are dropped.
//!
//! A new record is written before the old one is destroyed, and readers take the one
//! with the highest sequence number, so an interruption between the two leaves a
//! usable journal.

use cryptoki::object::ObjectHandle;
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
    /// The term asked for, in years (renewal; none: the service's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

fn records(
    session: &Session,
    operation: &str,
    private: bool,
) -> Result<Vec<(ObjectHandle, Journal)>> {
    let mut out = Vec::new();
    let found = keys::find_data_where(
        session,
        APPLICATION,
        Some(operation.as_bytes()),
        Some(private),
    )?;
    for (handle, _, value) in found {
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

fn latest(records: Vec<(ObjectHandle, Journal)>) -> Option<Journal> {
    records.into_iter().map(|(_, j)| j).max_by_key(|j| j.seq)
}

/// The latest private record of `operation`, if any: the only record a workflow may
/// act on. Visible only after the user logged in.
pub fn read(session: &Session, operation: &str) -> Result<Option<Journal>> {
    Ok(latest(records(session, operation, true)?))
}

/// The latest public hint of `operation`, if any, readable without logging in: its
/// stage and activation id only (any ids it carries are dropped, see the module
/// documentation).
pub fn read_hint(session: &Session, operation: &str) -> Result<Option<Journal>> {
    Ok(
        latest(records(session, operation, false)?).map(|j| Journal {
            seq: j.seq,
            stage: j.stage,
            activation_id: j.activation_id,
            ..Journal::default()
        }),
    )
}

fn store(session: &Session, operation: &str, journal: &mut Journal, private: bool) -> Result<()> {
    let old = records(session, operation, private)?;
    journal.seq = old.iter().map(|(_, j)| j.seq).max().unwrap_or(0) + 1;
    let value = serde_json::to_vec(journal).map_err(|e| Error::InvalidArgument {
        name: "journal".into(),
        reason: e.to_string(),
    })?;
    let write = if private {
        keys::write_private_data
    } else {
        keys::write_data
    };
    write(
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

/// Records `journal` as a private object (its `seq` is set one above the latest) and
/// removes older private records. The user must be logged in.
pub fn write(session: &Session, operation: &str, journal: &mut Journal) -> Result<()> {
    store(session, operation, journal, true)
}

/// Records the public hint of `operation`: the stage and activation id of `journal`,
/// nothing else; older public records of `operation` are removed.
pub fn write_hint(session: &Session, operation: &str, journal: &Journal) -> Result<()> {
    let mut hint = Journal {
        seq: 0,
        stage: journal.stage.clone(),
        activation_id: journal.activation_id.clone(),
        ..Journal::default()
    };
    store(session, operation, &mut hint, false)
}

/// Removes every record of `operation` (the operation is complete or abandoned): the
/// public hints first. An interruption here then leaves the private record, which the
/// next run finds after the login and finishes, rather than a lone hint, after which
/// the next run would start the operation anew.
pub fn clear(session: &Session, operation: &str) -> Result<()> {
    remove(session, operation, [false, true])
}

/// [`clear`] with the private record first: for an operation whose rerun, seeing a
/// lone hint, can tell from elsewhere that it was done (activation: the CA's order).
pub fn clear_hint_last(session: &Session, operation: &str) -> Result<()> {
    remove(session, operation, [true, false])
}

fn remove(session: &Session, operation: &str, order: [bool; 2]) -> Result<()> {
    let id = Some(operation.as_bytes());
    for private in order {
        for (handle, _, _) in keys::find_data_where(session, APPLICATION, id, Some(private))? {
            keys::destroy(session, handle)?;
        }
    }
    Ok(())
}
