//! Online unlock of a key whose user PIN is locked (shared/DESIGN.md):
//!
//! 1. the handler (经办人) asks the CA, with this run's ephemeral key; the CA approves at
//!    once when the handler matches the one on file, else a CA operator reviews;
//! 2. once approved, the service hands out the key's SO PIN and a new SO PIN, each
//!    wrapped for the ephemeral key;
//! 3. the holder chooses a new user PIN; SO login, C_InitPIN, the SO PIN rotated with
//!    C_SetPIN; then the holder's new PIN logs in and the certificate's key signs the
//!    confirmation, and the service commits the rotation only on that signature.
//!
//! While a request waits for review, its ticket and ephemeral key are kept in the
//! state directory (`unlock/<serial>.json`, readable by the user only); running again
//! polls it. If the SO PIN on record no longer opens the key because an earlier run
//! rotated it but could not confirm, the new one is tried: the service keeps both until
//! the confirmation, so an SO PIN is never lost. A run makes at most two SO logins (the
//! recorded and the pending SO PIN), only one when the key already counts failed SO
//! logins, and never one at the SO PIN's final try: when neither opens the key it stops
//! with `so_pin_mismatch` (the CA can restore the previous SO PIN on file).
//!
//! A reviewer may ask for materials (`needs_materials`, with a note saying which): the
//! holder attaches scans to the waiting request with [`attach`] or [`attach_file`] (PDF,
//! JPEG or PNG by content, at most 5 MiB each, at most 5), which puts it back under
//! review. A rejection carries the CA's reason when it gave one.

use std::io::Read;
use std::path::{Path, PathBuf};

use certkey_protocol::v1::{
    unlock_confirm_message, Handler, UnlockConfirm, UnlockRequest, UnlockResult, UnlockState,
};
use certkey_protocol::wrap::ClientKey;
use certkey_protocol::Base64;
use certkey_protocol::{
    AttachmentInfo, AttachmentType, AttachmentUpload, MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES,
};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::pin::ask_new_pin;
use super::token::{pin_state, Token};
use super::{Interaction, Notice, Progress, Step};
use crate::pkcs11::{ckr, keys};
use crate::service::ServiceClient;
use crate::{Error, Result};

/// How an unlock run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UnlockOutcome {
    /// The user PIN is reset and the SO PIN rotated.
    Unlocked {
        /// The service's ticket.
        ticket: String,
    },
    /// A CA operator must review the request; run again later.
    PendingReview {
        /// The service's ticket.
        ticket: String,
        /// The operator asks for materials (`note` says which): attach them with
        /// [`attach`], which puts the request back under review.
        needs_materials: bool,
        /// The operator's note: what to attach (the last one asked for, also once
        /// the request is back under review).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        note: Option<String>,
        /// What the holder attached so far, oldest first.
        attachments: Vec<AttachmentInfo>,
    },
    /// A CA operator refused the request.
    Rejected {
        /// The service's ticket.
        ticket: String,
        /// The CA's reason, when it gave one.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        reason: Option<String>,
    },
}

/// A request waiting for review, kept between runs (no PIN in it; the ephemeral key
/// only opens what the service wraps for this ticket).
#[derive(Serialize, Deserialize)]
struct Pending {
    ticket: String,
    client_key: String,
    service: String,
    created_at: i64,
    /// The key already holds the new SO PIN (the confirmation did not get through).
    #[serde(default)]
    rotated: bool,
    /// Serial (lowercase hex) of the certificate the request named: its key signs the
    /// confirmation.
    #[serde(default)]
    certificate_serial: Option<String>,
}

fn state_file(serial: &str) -> Result<PathBuf> {
    let dir = crate::config::state_dir().ok_or_else(|| Error::ConfigInvalid {
        path: "state directory".into(),
        reason: "no home directory: set CERTKEY_STATE_DIR".into(),
    })?;
    let safe: String = serial
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Ok(dir.join("unlock").join(format!("{safe}.json")))
}

fn load_pending(serial: &str) -> Result<Option<Pending>> {
    let path = state_file(serial)?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::ConfigInvalid {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, &e)),
    }
}

fn save_pending(serial: &str, p: &Pending) -> Result<()> {
    let path = state_file(serial)?;
    let bytes = serde_json::to_vec(p).map_err(|e| Error::InvalidArgument {
        name: "unlock state".into(),
        reason: e.to_string(),
    })?;
    crate::config::write_private(&path, &bytes)
}

fn drop_pending(serial: &str) -> Result<()> {
    let path = state_file(serial)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, &e)),
    }
}

/// Whether a request for this key waits in the state directory.
pub fn has_pending(serial: &str) -> Result<bool> {
    Ok(load_pending(serial)?.is_some())
}

fn wrap_err(e: impl std::fmt::Display) -> Error {
    Error::ServiceResponse {
        reason: format!("a wrapped SO PIN does not open: {e}"),
    }
}

fn secret_text(bytes: &[u8]) -> Result<SecretString> {
    String::from_utf8(bytes.to_vec())
        .map(SecretString::from)
        .map_err(|_| wrap_err("not text"))
}

/// Refuses an SO login the key would not survive: SO PIN locked or at its final try.
fn check_so_state(token: &Token) -> Result<()> {
    let info = token.info()?;
    let reason = if info.so_pin_locked() {
        "so_pin_locked"
    } else if info.so_pin_final_try() {
        "so_pin_final_try"
    } else {
        return Ok(());
    };
    Err(Error::NotApplicable {
        reason: reason.into(),
        days_left: None,
    })
}

/// Logs in as SO with the first of `candidates` the key accepts and returns its index.
/// Careful with the SO PIN's tries, which nothing else can give back: the flags are
/// read before every attempt (never at the final try, never when locked), and when
/// the key already counts failed SO logins (COUNT_LOW, e.g. from an earlier run) only
/// the first candidate is tried. None opening the key is `so_pin_mismatch`: the SO
/// PIN on file is not the key's, which only the CA can put right.
fn so_login(token: &Token, session: &Session, candidates: &[&SecretString]) -> Result<usize> {
    check_so_state(token)?;
    let limit = if token.info()?.so_pin_count_low() {
        1
    } else {
        candidates.len()
    };
    for (i, pin) in candidates.iter().take(limit).enumerate() {
        if i > 0 {
            check_so_state(token)?;
        }
        match session.login(UserType::So, Some(pin)) {
            Ok(()) => return Ok(i),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                tracing::warn!(attempt = i + 1, "the SO PIN from the CA was refused");
            }
            Err(e) => return Err(ckr::convert(e, "C_Login (SO)")),
        }
    }
    // The key may be locked or at its final try now: say that, it matters more.
    check_so_state(token)?;
    Err(Error::NotApplicable {
        reason: "so_pin_mismatch".into(),
        days_left: None,
    })
}

/// Logs in with the holder's new PIN and signs the confirmation with the key of the
/// certificate the request named (`serial`; without it, the one the request would
/// name now): the service commits nothing without this signature.
fn key_proof(
    token: &Token,
    session: &Session,
    pin: &SecretString,
    serial: Option<&str>,
    ticket: &str,
    result: UnlockResult,
) -> Result<Vec<u8>> {
    let now = OffsetDateTime::now_utc();
    let wanted = match serial {
        Some(s) => s.to_string(),
        None => super::certs::end_entity_certificates(session, now)?
            .pop()
            .map(|c| c.info.serial_hex)
            .ok_or_else(|| Error::NotApplicable {
                reason: "no_certificate".into(),
                days_left: None,
            })?,
    };
    // The PIN was set by C_InitPIN a moment ago, so this is no guess that could cost a
    // try; and some modules (kryoptic) still report the user PIN locked until this
    // first login, so the careful pre-checks of `login::login_user` do not apply.
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(ckr::convert(e, "C_Login (user)")),
    }
    let signed = super::certs::holder_certificates(session, now).and_then(|certs| {
        let cert = certs
            .into_iter()
            .find(|c| c.info.serial_hex.eq_ignore_ascii_case(&wanted))
            .ok_or_else(|| Error::NotApplicable {
                reason: "no_certificate".into(),
                days_left: None,
            })?;
        keys::sign(
            session,
            &token.serial,
            &cert.key,
            token.sm2.as_ref(),
            &unlock_confirm_message(ticket, &token.serial, result),
        )
    });
    let _ = session.logout();
    signed
}

/// Unlocks the key: asks (or, when a request already waits, polls) and applies an
/// approval. `handler` is needed only for a new request.
pub fn unlock(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    handler: Option<&Handler>,
) -> Result<UnlockOutcome> {
    let mut p = Progress::new(ui, 6);
    p.step(Step::ReadToken)?;
    let info = token.info()?;
    let mut pending = load_pending(&token.serial)?;
    // A request made to another service is of no use here.
    if pending
        .as_ref()
        .is_some_and(|p| p.service != service.base())
    {
        drop_pending(&token.serial)?;
        pending = None;
    }
    let rotated_earlier = pending.as_ref().is_some_and(|p| p.rotated);
    let mut cert_serial = pending.as_ref().and_then(|p| p.certificate_serial.clone());
    let (ticket, client) = match pending {
        Some(saved) => {
            // Only a run cut short after the SO PIN was rotated is an interruption;
            // otherwise the request sent earlier is simply looked up.
            ui.notice(&if saved.rotated {
                Notice::Resuming {
                    operation: "unlock".into(),
                }
            } else {
                Notice::CheckingRequest {
                    serial: token.serial.clone(),
                }
            });
            let key = hex::decode(&saved.client_key)
                .ok()
                .and_then(|b| ClientKey::from_secret_bytes(&b).ok())
                .ok_or_else(|| Error::ConfigInvalid {
                    path: format!("unlock state of {}", token.serial),
                    reason: "damaged unlock state".into(),
                })?;
            (saved.ticket, key)
        }
        None => {
            if !pin_state(&info).locked {
                return Err(Error::NotApplicable {
                    reason: "pin_not_locked".into(),
                    days_left: None,
                });
            }
            let handler = handler.ok_or_else(|| Error::InvalidArgument {
                name: "handler".into(),
                reason: "name, identity number and phone of the handler (经办人) are needed".into(),
            })?;
            // The certificate the key holds names it to the CA (public, no login).
            let session = token.session()?;
            let cert = super::certs::end_entity_certificates(&session, OffsetDateTime::now_utc())?
                .pop()
                .ok_or_else(|| Error::NotApplicable {
                    reason: "no_certificate".into(),
                    days_left: None,
                })?;
            drop(session);
            cert_serial = Some(cert.info.serial_hex.clone());
            let client = ClientKey::generate().map_err(wrap_err)?;
            p.step(Step::ContactService)?;
            let answer = service.unlock(&UnlockRequest {
                token_serial: token.serial.clone(),
                certificate_serial: cert.info.serial_hex.clone(),
                handler: handler.clone(),
                client_key: Base64(client.public_sec1().to_vec()),
            })?;
            save_pending(
                &token.serial,
                &Pending {
                    ticket: answer.ticket.clone(),
                    client_key: hex::encode(client.secret_bytes().as_slice()),
                    service: service.base().to_string(),
                    created_at: OffsetDateTime::now_utc().unix_timestamp(),
                    rotated: false,
                    certificate_serial: Some(cert.info.serial_hex.clone()),
                },
            )?;
            (answer.ticket, client)
        }
    };

    p.step(Step::ContactService)?;
    let status = match service.unlock_status(&ticket) {
        Ok(s) => s,
        Err(e @ Error::Service { status: 404, .. }) => {
            // The service does not know the ticket (any more): start afresh next time.
            drop_pending(&token.serial)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    match status.state {
        UnlockState::PendingReview | UnlockState::NeedsMaterials => {
            return Ok(UnlockOutcome::PendingReview {
                ticket,
                needs_materials: status.state == UnlockState::NeedsMaterials,
                note: status.note,
                attachments: status.attachments,
            })
        }
        UnlockState::Rejected => {
            drop_pending(&token.serial)?;
            return Ok(UnlockOutcome::Rejected {
                ticket,
                reason: status.note,
            });
        }
        UnlockState::Completed => {
            drop_pending(&token.serial)?;
            // The ticket is spent; only a key whose PIN works again is unlocked.
            if pin_state(&token.info()?).locked {
                return Err(Error::NotApplicable {
                    reason: "unlock_ticket_used".into(),
                    days_left: None,
                });
            }
            return Ok(UnlockOutcome::Unlocked { ticket });
        }
        UnlockState::Expired => {
            // Not collected in time: the service hands nothing out any more.
            drop_pending(&token.serial)?;
            return Err(Error::NotApplicable {
                reason: "unlock_ticket_expired".into(),
                days_left: None,
            });
        }
        UnlockState::Approved => {}
    }
    let (Some(so), Some(new_so)) = (status.so_pin.as_ref(), status.new_so_pin.as_ref()) else {
        return Err(Error::ServiceResponse {
            reason: "an approved unlock without the SO PINs".into(),
        });
    };
    let so_pin = secret_text(
        &client
            .unwrap(so, format!("unlock-so:{ticket}").as_bytes())
            .map_err(wrap_err)?,
    )?;
    let new_so_pin = secret_text(
        &client
            .unwrap(new_so, format!("unlock-new-so:{ticket}").as_bytes())
            .map_err(wrap_err)?,
    )?;

    // The holder's new PIN, checked before the key is touched.
    let new_pin = ask_new_pin(ui, token, None)?;
    p.step(Step::Login)?;
    let session = token.session()?;
    // After a rotation whose confirmation was lost the key holds the new SO PIN: try
    // that one first, so no SO try is spent on the old one.
    let rotated_before = if rotated_earlier {
        so_login(token, &session, &[&new_so_pin, &so_pin])? == 0
    } else {
        so_login(token, &session, &[&so_pin, &new_so_pin])? == 1
    };
    p.step(Step::SetPin)?;
    let reset = session
        .init_pin(&new_pin)
        .map_err(|e| ckr::convert(e, "C_InitPIN"));
    if let Err(e) = reset {
        let _ = session.logout();
        // The ticket stays approved (nothing confirmed): a rerun tries again.
        return Err(e);
    }
    let result = if rotated_before {
        UnlockResult::Rotated
    } else {
        match session.set_pin(&so_pin, &new_so_pin) {
            Ok(()) => UnlockResult::Rotated,
            Err(e) => {
                tracing::warn!(error = %e, "SO PIN rotation failed; the old SO PIN stays");
                UnlockResult::Failed
            }
        }
    };
    let _ = session.logout();
    p.step(Step::CleanUp)?;
    if result == UnlockResult::Rotated {
        if let Some(mut saved) = load_pending(&token.serial)? {
            saved.rotated = true;
            save_pending(&token.serial, &saved)?;
        }
    }
    // If this confirmation is lost, the service keeps both SO PINs and hands them out
    // again; a rerun then logs in with the new one first (see `rotated`).
    let proof = key_proof(
        token,
        &session,
        &new_pin,
        cert_serial.as_deref(),
        &ticket,
        result,
    )?;
    service.unlock_confirm(
        &ticket,
        &UnlockConfirm {
            result,
            proof: Some(Base64(proof)),
        },
    )?;
    drop_pending(&token.serial)?;
    Ok(UnlockOutcome::Unlocked { ticket })
}

fn attachment_refused(code: &str, detail: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        name: "attachment".into(),
        reason: format!("{code}: {detail}"),
    }
}

fn not_applicable(reason: &str) -> Error {
    Error::NotApplicable {
        reason: reason.into(),
        days_left: None,
    }
}

/// Checks a file to attach as the service will (the same rules, from
/// certkey-protocol): returns the name it is stored under and its type. A name that
/// cannot be stored is `invalid_argument` with reason `attachment_file_name: <why>`, a
/// file over 5 MiB `attachment_too_large: ...`, one that is no PDF, JPEG or PNG by its
/// content (whatever its name says) `attachment_type: ...`.
pub fn check_attachment(file_name: &str, bytes: &[u8]) -> Result<(String, AttachmentType)> {
    let name = certkey_protocol::check_file_name(file_name)
        .map_err(|e| attachment_refused("attachment_file_name", e.code()))?;
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(attachment_refused(
            "attachment_too_large",
            format!("{name}: {} bytes", bytes.len()),
        ));
    }
    let kind = certkey_protocol::sniff(bytes)
        .ok_or_else(|| attachment_refused("attachment_type", &name))?;
    Ok((name, kind))
}

/// Reads a file to attach and checks it ([`check_attachment`]); a file over 5 MiB is
/// refused before it is read. Returns its name (the base name of `path`) and content.
pub fn read_attachment(path: &Path) -> Result<(String, Vec<u8>)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let too_large =
        |size: u64| attachment_refused("attachment_too_large", format!("{name}: {size} bytes"));
    let limit = MAX_ATTACHMENT_BYTES as u64;
    let size = file.metadata().map_err(|e| Error::io(path, &e))?.len();
    if size > limit {
        return Err(too_large(size));
    }
    // The file may grow while it is read: never more than one byte over the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, &e))?;
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    check_attachment(&name, &bytes)?;
    Ok((name, bytes))
}

/// The refusals of `POST /unlock/{ticket}/attachments` as the same errors as the
/// local checks give, so that a front end tells them apart by one set of codes.
fn attachment_error(e: Error) -> Error {
    match &e {
        Error::Service {
            service_code,
            message,
            ..
        } => match service_code.as_str() {
            "attachment_type" | "attachment_too_large" => attachment_refused(service_code, message),
            "invalid_file_name" => attachment_refused("attachment_file_name", message),
            "attachment_limit" | "unlock_not_pending" => not_applicable(service_code),
            _ => e,
        },
        _ => e,
    }
}

/// Attaches a scan to the unlock request waiting for key `serial` (made with
/// `service`), while it is under review or the CA asks for materials; an upload puts
/// a request that needed materials back under review. Checked here first as the
/// service checks it ([`check_attachment`], at most 5 per request: `not_applicable`
/// `attachment_limit`). No waiting request for the key is `not_applicable`
/// `no_pending_unlock`; one made with another service `unlock_other_service`; one the
/// CA has decided `unlock_not_pending`.
pub fn attach(
    service: &ServiceClient,
    serial: &str,
    file_name: &str,
    bytes: &[u8],
) -> Result<AttachmentInfo> {
    let pending = load_pending(serial)?.ok_or_else(|| not_applicable("no_pending_unlock"))?;
    if pending.service != service.base() {
        return Err(not_applicable("unlock_other_service"));
    }
    let (name, _) = check_attachment(file_name, bytes)?;
    let status = match service.unlock_status(&pending.ticket) {
        Ok(s) => s,
        Err(e @ Error::Service { status: 404, .. }) => {
            // The service does not know the ticket (any more): start afresh next time.
            drop_pending(serial)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if !matches!(
        status.state,
        UnlockState::PendingReview | UnlockState::NeedsMaterials
    ) {
        return Err(not_applicable("unlock_not_pending"));
    }
    if status.attachments.len() >= MAX_ATTACHMENTS {
        return Err(not_applicable("attachment_limit"));
    }
    service
        .unlock_attachment(
            &pending.ticket,
            &AttachmentUpload {
                file_name: name,
                data: Base64(bytes.to_vec()),
            },
        )
        .map_err(attachment_error)
}

/// [`attach`] of a file ([`read_attachment`]: one over 5 MiB is refused unread).
pub fn attach_file(service: &ServiceClient, serial: &str, path: &Path) -> Result<AttachmentInfo> {
    let (name, bytes) = read_attachment(path)?;
    attach(service, serial, &name, &bytes)
}

/// The handler remembered in the OS keyring (service "certkey", entry "handler"), if
/// any. Personal data stays out of plain files.
pub fn remembered_handler() -> Option<Handler> {
    let entry = keyring::Entry::new("certkey", "handler").ok()?;
    let text = entry.get_password().ok()?;
    serde_json::from_str(&text).ok()
}

/// Remembers the handler in the OS keyring (only when the user agreed).
pub fn remember_handler(handler: &Handler) -> Result<()> {
    let fail = |e: keyring::Error| Error::Io {
        path: "OS keyring".into(),
        reason: e.to_string(),
    };
    let entry = keyring::Entry::new("certkey", "handler").map_err(fail)?;
    let text = serde_json::to_string(handler).map_err(|e| Error::InvalidArgument {
        name: "handler".into(),
        reason: e.to_string(),
    })?;
    entry.set_password(&text).map_err(fail)?;
    // Some keyrings accept a value they cannot give back (e.g. a kernel keyring
    // without a persistent keyring): only a value read back counts as remembered.
    match keyring::Entry::new("certkey", "handler").and_then(|e| e.get_password()) {
        Ok(back) if back == text => Ok(()),
        Ok(_) => Err(Error::Io {
            path: "OS keyring".into(),
            reason: "the keyring gave back another value".into(),
        }),
        Err(e) => Err(fail(e)),
    }
}

/// Forgets the remembered handler.
pub fn forget_handler() -> Result<()> {
    match keyring::Entry::new("certkey", "handler").and_then(|e| e.delete_credential()) {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(Error::Io {
            path: "OS keyring".into(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(e: Error) -> String {
        match e {
            Error::InvalidArgument { reason, .. } => reason,
            Error::NotApplicable { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn files_are_checked_here_as_the_service_checks_them() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("授权委托书.pdf");
        std::fs::write(&fake, "not a PDF").unwrap();
        let e = read_attachment(&fake).unwrap_err();
        assert_eq!(reason_of(e), "attachment_type: 授权委托书.pdf");
        // Over 5 MiB: refused by its size (a sparse file, never read).
        let big = dir.path().join("big.pdf");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_ATTACHMENT_BYTES as u64 + 1).unwrap();
        let e = read_attachment(&big).unwrap_err();
        assert!(reason_of(e).starts_with("attachment_too_large: big.pdf"));
        let png = dir.path().join("scan.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
        let (name, bytes) = read_attachment(&png).unwrap();
        assert_eq!((name.as_str(), bytes.len()), ("scan.png", 16));
        assert_eq!(
            check_attachment(&png.display().to_string(), &bytes).unwrap(),
            ("scan.png".to_string(), AttachmentType::Png)
        );
        let e = check_attachment("a\u{7}.png", &bytes).unwrap_err();
        assert_eq!(reason_of(e), "attachment_file_name: control_character");
        assert_eq!(
            read_attachment(&dir.path().join("missing.pdf"))
                .unwrap_err()
                .code(),
            "io"
        );
    }

    #[test]
    fn the_services_refusals_get_the_local_codes() {
        let service = |code: &str| Error::Service {
            status: 409,
            service_code: code.into(),
            message: "m".into(),
            attempts_left: None,
            retry_after_s: None,
            days_left: None,
            paid_years: None,
            existing_seal: None,
        };
        for (code, want) in [
            ("attachment_type", "attachment_type: m"),
            ("attachment_too_large", "attachment_too_large: m"),
            ("invalid_file_name", "attachment_file_name: m"),
            ("attachment_limit", "attachment_limit"),
            ("unlock_not_pending", "unlock_not_pending"),
        ] {
            assert_eq!(reason_of(attachment_error(service(code))), want);
        }
        assert_eq!(
            attachment_error(service("rate_limited")),
            service("rate_limited")
        );
    }
}
