//! Online renewal (shared/DESIGN.md): while 0 < days_left <= 90, a new key pair is made
//! on the key, its certificate request is signed on the key, the current key proves
//! possession by signing [`renewal_term_signed_message`] (a domain label, the current
//! certificate's serial, the term the holder chose, the service's nonce and the
//! request; [`renewal_signed_message`] when no term is given and the service's default
//! applies), and the CA issues the new certificate: its validity continues the old
//! one's by the term. The old certificate and key pair are removed only after the new
//! ones are on the key and checked. [`quote`] asks the CA beforehand, without a PIN,
//! whether renewal is open, what each term costs and whether it is paid for.
//!
//! The journal (operation "renew", a private object: see [`super::journal`]) records
//! the old key's id and serial, the request id, the term and the id the new key pair
//! will get before anything is made, and "installed" once the new certificate is
//! written. A rerun asks for the term it is given, else the recorded one (the same
//! request id: a certificate the service already issued comes back as it was). A
//! rerun after any interruption finishes: the service answers a repeated request id
//! with the same certificate (never a second one), so a lost answer costs nothing; an
//! installed renewal only needs its clean-up. Nothing is ever removed by label: the
//! only key pair a renewal may remove is the one its private journal named before
//! generating it, and only while no certificate is beside it; the old pair goes only
//! when its certificate carries the serial recorded. When the service refuses for good
//! (the certificate expired or was revoked between runs), that new pair and the journal
//! are removed and the current certificate stays as it was.
//!
//! The seal moves with the certificate: when the old certificate has a seal object on
//! the key, the new key asks the CA (`POST /seal`, the flow of [`super::seal`]) for the
//! seal of the new certificate with the old seal's picture, name and size; it is checked
//! and written under the new id before the old seal and pair are removed, so a rerun
//! finds either the old seal (and carries it again, the CA answering with the seal it
//! made) or the new one, never none and never two.

use certkey_protocol::v1::{
    renewal_signed_message, renewal_term_signed_message, RenewalQuote, RenewalRequest,
};
use certkey_protocol::{rules, Base64, RENEWAL_TERM_YEARS};
use cryptoki::session::Session;
use serde::Serialize;
use time::OffsetDateTime;

use super::certs::{self, HolderCert};
use super::journal::{self, Journal};
use super::pin::login_user;
use super::token::Token;
use super::{Interaction, Notice, Progress, Step};
use crate::pkcs11::keys::{self, TokenKey};
use crate::service::ServiceClient;
use crate::{csr, Error, Result};

/// Journal operation name.
pub const OPERATION: &str = "renew";

/// What a renewal produced.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Renewed {
    /// Token serial.
    pub token_serial: String,
    /// Serial (hex) of the certificate replaced.
    pub old_serial: String,
    /// Serial (hex) of the new certificate.
    pub new_serial: String,
    /// The new certificate's subject.
    pub subject: String,
    /// The new certificate's expiry, RFC 3339.
    pub not_after: String,
    /// Days the new certificate has left.
    pub days_left: i64,
    /// CKA_ID of the new certificate and key pair, hex.
    pub key_id: String,
    /// Whether an interrupted earlier run was finished.
    pub resumed: bool,
    /// The term asked for, in years (none: the service's default, the paid term or
    /// the order's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

/// The CA's renewal quote for the certificate a renewal of this key would renew.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyQuote {
    /// Token serial.
    pub token_serial: String,
    /// The certificate's subject (RFC 4514).
    pub subject: String,
    /// The certificate's subject CN, if any.
    pub subject_cn: Option<String>,
    /// What the CA answered.
    pub quote: RenewalQuote,
}

/// Asks the CA (`GET /renewal/quote`) about the certificate [`renew`] would renew —
/// the holder's certificate that expires first —, from what the key shows without a
/// login.
pub fn quote(token: &Token, service: &ServiceClient, now: OffsetDateTime) -> Result<KeyQuote> {
    let session = token.session()?;
    let cert = certs::end_entity_certificates(&session, now)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotApplicable {
            reason: "no_certificate".into(),
            days_left: None,
        })?;
    drop(session);
    let quote = service.renewal_quote(&cert.info.serial_hex)?;
    Ok(KeyQuote {
        token_serial: token.serial.clone(),
        subject: cert.info.subject,
        subject_cn: cert.info.subject_cn,
        quote,
    })
}

/// Why a certificate cannot be renewed online now, if it cannot.
pub fn eligibility(not_after: OffsetDateTime, now: OffsetDateTime) -> Result<i64> {
    let left = rules::days_left(not_after, now);
    if left <= 0 {
        return Err(Error::NotApplicable {
            reason: "certificate_expired".into(),
            days_left: Some(left),
        });
    }
    if left > rules::RENEWAL_WINDOW_DAYS {
        return Err(Error::NotApplicable {
            reason: "renewal_not_open".into(),
            days_left: Some(left),
        });
    }
    Ok(left)
}

fn random_request_id(session: &Session) -> String {
    // 16 bytes from the token's and the OS's randomness (new_id mixes both).
    format!("rn-{}", hex::encode(keys::new_id(session)))
}

fn by_id(list: &[HolderCert], id: &[u8]) -> Option<HolderCert> {
    list.iter().find(|c| c.id == id).cloned()
}

fn hex_id(s: &Option<String>) -> Option<Vec<u8>> {
    s.as_deref().and_then(|h| hex::decode(h).ok())
}

fn journal_damaged() -> Error {
    Error::NotApplicable {
        reason: "journal_damaged".into(),
        days_left: None,
    }
}

/// The service refused the term asked for (another one was paid for): the new key pair
/// and the journal go, so that a run with the paid term starts afresh.
fn term_refused(e: &Error) -> bool {
    matches!(e, Error::Service { service_code, .. } if service_code == "renewal_term_mismatch")
}

/// Refusals no rerun can change.
fn refused_for_good(e: &Error) -> bool {
    matches!(e, Error::Service { service_code, .. } if matches!(
        service_code.as_str(),
        "certificate_revoked"
            | "certificate_expired"
            | "renewal_not_open"
            | "certificate_not_found"
            | "request_id_reused"
    ))
}

/// Gives up a renewal the service refused for good: the key pair the journal recorded
/// goes (only if no certificate is beside it), then the journal; the current
/// certificate stays as it was.
fn abandon(session: &Session, j: &Journal) -> Result<()> {
    if let Some(id) = hex_id(&j.key_id) {
        if !certs::remove_recorded_pair(session, &id)? {
            return Err(journal_damaged());
        }
    }
    journal::clear(session, OPERATION)
}

/// Renews the key's certificate for `years` (1 to 5; `None`: the term an interrupted
/// run recorded, else the service's default — the term paid for, or the order's): see
/// the module documentation.
pub fn renew(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    years: Option<u32>,
    now: OffsetDateTime,
) -> Result<Renewed> {
    if let Some(y) = years.filter(|y| !RENEWAL_TERM_YEARS.contains(y)) {
        return Err(Error::InvalidArgument {
            name: "years".into(),
            reason: format!("the renewal term is 1 to 5 years, not {y}"),
        });
    }
    let mut p = Progress::new(ui, 9);
    p.step(Step::ReadToken)?;
    let session = token.session()?;
    // Whether renewal is open is known from the public certificate: say so before
    // asking for the PIN — unless a renewal may be under way (its record is private,
    // readable after the login), which the service then judges.
    if journal::read_hint(&session, OPERATION)?.is_none() {
        let first = certs::end_entity_certificates(&session, now)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NotApplicable {
                reason: "no_certificate".into(),
                days_left: None,
            })?;
        eligibility(first.not_after, now)?;
    }
    p.step(Step::Login)?;
    login_user(ui, token, &session, None)?;
    let earlier = journal::read(&session, OPERATION)?;
    let resumed = earlier.is_some();
    let holders = certs::holder_certificates(&session, now)?;
    let old = match earlier.as_ref() {
        Some(j) => by_id(&holders, &hex_id(&j.old_id).ok_or_else(journal_damaged)?),
        None => holders.first().cloned(),
    };

    // A renewal interrupted after the new certificate was written only needs its
    // clean-up (the old pair may already be gone).
    if let Some(j) = earlier.as_ref().filter(|j| j.stage == "installed") {
        let new_id = hex_id(&j.key_id).ok_or_else(journal_damaged)?;
        let new = by_id(&holders, &new_id).ok_or_else(journal_damaged)?;
        ui.notice(&Notice::Resuming {
            operation: OPERATION.into(),
        });
        return finish(
            &mut p,
            ui,
            token,
            service,
            &session,
            hex_id(&j.old_id),
            &new,
            j.old_serial.clone(),
            now,
            true,
            j.years,
        );
    }

    let Some(old) = old else {
        // The certificate the journal names is gone: nothing of this renewal can go on.
        if let Some(j) = earlier.as_ref() {
            abandon(&session, j)?;
        } else {
            // A hint without its record (planted, or left by a cut): nothing to act on.
            journal::clear(&session, OPERATION)?;
        }
        return Err(Error::NotApplicable {
            reason: "no_certificate".into(),
            days_left: None,
        });
    };
    if let Some(j) = earlier.as_ref() {
        if j.old_serial.as_deref() != Some(old.info.serial_hex.as_str()) {
            return Err(journal_damaged());
        }
        ui.notice(&Notice::Resuming {
            operation: OPERATION.into(),
        });
    } else if let Err(e) = eligibility(old.not_after, now) {
        // A lone hint (planted, or left by a cut) goes with the refusal.
        journal::clear(&session, OPERATION)?;
        return Err(e);
    }

    p.step(Step::ContactService)?;
    // A resumed renewal the service already answered is replayed by request id; the
    // service then needs no fresh proof (and refuses a challenge for a renewed
    // certificate).
    let nonce = match service.renewal_challenge(&old.info.serial_hex) {
        Ok(c) => Some(c.nonce.0),
        Err(Error::Service { service_code, .. })
            if resumed && service_code == "already_renewed" =>
        {
            None
        }
        // Expired or revoked since the interrupted run: its new key pair and journal
        // go, or every later run would fail the same way.
        Err(e) if refused_for_good(&e) => {
            if let Some(j) = earlier.as_ref() {
                abandon(&session, j)?;
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    // On record (the new key's id included) before anything is made on the key.
    let j = match earlier {
        Some(j) => j,
        None => {
            let mut j = Journal {
                stage: "started".into(),
                old_id: Some(hex::encode(&old.id)),
                old_serial: Some(old.info.serial_hex.clone()),
                request_id: Some(random_request_id(&session)),
                key_id: Some(hex::encode(certs::unused_id(&session)?)),
                years,
                ..Journal::default()
            };
            journal::write_hint(&session, OPERATION, &j)?;
            journal::write(&session, OPERATION, &mut j)?;
            j
        }
    };
    let request_id = j.request_id.clone().ok_or_else(journal_damaged)?;
    // A term given now replaces the recorded one (a refusal of the service may have
    // made the holder choose another); without one, the recorded term goes on.
    let mut j = j;
    if years.is_some() && years != j.years {
        j.years = years;
        journal::write(&session, OPERATION, &mut j)?;
    }
    let years = j.years;
    let new_id = hex_id(&j.key_id).ok_or_else(journal_damaged)?;
    if new_id.is_empty() || new_id == old.id {
        return Err(journal_damaged());
    }

    p.step(Step::GenerateKey)?;
    let new_key: TokenKey = match keys::find(&session, &new_id)? {
        Some(k) if k.alg == old.key.alg => k,
        Some(_) => return Err(journal_damaged()),
        None => {
            // A half-made pair of the recorded id (a cut inside C_GenerateKeyPair).
            if !certs::remove_recorded_pair(&session, &new_id)? {
                return Err(journal_damaged());
            }
            let label = old
                .info
                .subject_cn
                .clone()
                .unwrap_or_else(|| format!("CertKey {}", token.serial));
            keys::generate(
                &session,
                &token.serial,
                old.key.alg,
                token.sm2.as_ref(),
                &new_id,
                &label,
            )?
        }
    };

    p.step(Step::SignRequest)?;
    let csr = csr::build(new_key.alg, &new_key.point, &token.serial, |tbs| {
        keys::sign(&session, &token.serial, &new_key, token.sm2.as_ref(), tbs)
    })?;
    let (nonce, signature) = match nonce {
        Some(n) => {
            let proof = match years {
                Some(y) => renewal_term_signed_message(&old.info.serial_hex, y, &n, &csr),
                None => renewal_signed_message(&old.info.serial_hex, &n, &csr),
            };
            let sig = keys::sign(
                &session,
                &token.serial,
                &old.key,
                token.sm2.as_ref(),
                &proof,
            )?;
            (n, sig)
        }
        None => (Vec::new(), Vec::new()),
    };

    p.step(Step::RequestCertificate)?;
    let issued = match service.renew(&RenewalRequest {
        request_id,
        certificate: Base64(old.der.clone()),
        csr: Base64(csr),
        nonce: Base64(nonce),
        signature: Base64(signature),
        years,
    }) {
        Ok(i) => i,
        // `already_renewed` here means another request renewed the certificate (this
        // request id would have been answered with its certificate): this pair is
        // of no use.
        Err(e)
            if refused_for_good(&e)
                || term_refused(&e)
                || matches!(&e, Error::Service { service_code, .. } if service_code == "already_renewed") =>
        {
            abandon(&session, &j)?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let der = issued.certificate.0.clone();
    let parsed = crate::cert::parse(&der)?;
    if parsed.cert.public_key().raw != keys::spki_der(new_key.alg, &new_key.point)?.as_slice() {
        return Err(Error::ServiceResponse {
            reason: "the renewed certificate is not for the new key on this token".into(),
        });
    }
    drop(parsed);

    p.step(Step::InstallCertificate)?;
    // An interrupted run may have written it already: the service answers the request
    // id with the same certificate, so anything else under the new id is not ours.
    let mut present = false;
    for (_, id, value) in keys::certificates(&session)? {
        if id == new_key.id {
            if value != der {
                return Err(journal_damaged());
            }
            present = true;
        }
    }
    if !present {
        let label = old
            .info
            .subject_cn
            .clone()
            .unwrap_or_else(|| format!("CertKey {}", token.serial));
        keys::write_certificate(&session, &new_key.id, &label, &der)?;
    }
    certs::install_chain(&session, token.vendor.as_ref(), &issued.chain)?;
    j.stage = "installed".into();
    journal::write(&session, OPERATION, &mut j)?;

    let holders = certs::holder_certificates(&session, now)?;
    let new = by_id(&holders, &new_key.id).ok_or_else(|| Error::ModuleMisbehaved {
        reason: "the renewed certificate does not read back".into(),
    })?;
    finish(
        &mut p,
        ui,
        token,
        service,
        &session,
        Some(old.id.clone()),
        &new,
        Some(old.info.serial_hex.clone()),
        now,
        resumed,
        years,
    )
}

/// Checks the new certificate and key, carries the seal over, then removes the old
/// pair, the old seal and the journal.
#[allow(clippy::too_many_arguments)]
fn finish(
    p: &mut Progress<'_>,
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    session: &Session,
    old_id: Option<Vec<u8>>,
    new: &HolderCert,
    old_serial: Option<String>,
    now: OffsetDateTime,
    resumed: bool,
    years: Option<u32>,
) -> Result<Renewed> {
    p.step(Step::Verify)?;
    // The new key signs and the new certificate's key verifies it (sign checks the
    // signature against the key's point; the point is the certificate's key).
    if keys::spki_der(new.key.alg, &new.key.point)?
        != crate::cert::parse(&new.der)?.cert.public_key().raw
    {
        return Err(Error::ModuleMisbehaved {
            reason: "the new certificate and key do not belong together".into(),
        });
    }
    keys::sign(
        session,
        &token.serial,
        &new.key,
        token.sm2.as_ref(),
        b"certkey renewal check",
    )?;
    p.step(Step::CleanUp)?;
    if let Some(id) = old_id.filter(|id| *id != new.id) {
        // Only the certificate this renewal replaced: every certificate under the
        // recorded id must carry the recorded serial.
        let named = keys::certificates(session)?
            .into_iter()
            .filter(|(_, cid, _)| *cid == id)
            .map(|(_, _, der)| {
                crate::cert::parse(&der)
                    .ok()
                    .map(|p| crate::cert::CertificateInfo::from_parsed(&p, now).serial_hex)
            })
            .collect::<Vec<_>>();
        if !named.iter().all(|s| s.is_some() && *s == old_serial) {
            return Err(journal_damaged());
        }
        super::seal::carry_over(ui, token, service, session, &id, new, now)?;
        certs::remove_pair(session, &id)?;
    }
    journal::clear(session, OPERATION)?;
    let _ = session.logout();
    Ok(Renewed {
        token_serial: token.serial.clone(),
        old_serial: old_serial.unwrap_or_default(),
        new_serial: new.info.serial_hex.clone(),
        subject: new.info.subject.clone(),
        not_after: new.info.not_after.clone(),
        days_left: rules::days_left(new.not_after, now),
        key_id: hex::encode(&new.id),
        resumed,
        years,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn renewal_window() {
        let now = OffsetDateTime::now_utc();
        assert!(eligibility(now + Duration::days(30), now).is_ok());
        assert!(eligibility(now + Duration::days(90), now).is_ok());
        assert!(matches!(
            eligibility(now + Duration::days(91), now),
            Err(Error::NotApplicable { reason, days_left: Some(91) }) if reason == "renewal_not_open"
        ));
        assert!(matches!(
            eligibility(now - Duration::days(1), now),
            Err(Error::NotApplicable { reason, .. }) if reason == "certificate_expired"
        ));
    }
}
