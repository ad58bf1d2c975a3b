//! Online renewal (shared/DESIGN.md): while 0 < days_left <= 90, a new key pair is made
//! on the key, its certificate request is signed on the key, the current key proves
//! possession by signing the service's nonce and the request, and the CA issues the new
//! certificate (its validity continues the old one's). The old certificate and key
//! pair are removed only after the new ones are on the key and checked.
//!
//! The journal (operation "renew") records the old key's id and the request id before
//! anything is made, the new key's id once it exists, and "installed" once the new
//! certificate is written. A rerun after any interruption finishes: the service answers
//! a repeated request id with the same certificate (never a second one), so a lost
//! answer costs nothing; an installed renewal only needs its clean-up.

use certkey_protocol::v1::RenewalRequest;
use certkey_protocol::{rules, Base64};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::Session;
use serde::Serialize;
use time::OffsetDateTime;

use super::certs::{self, HolderCert};
use super::journal::{self, Journal};
use super::pin::login_user;
use super::token::Token;
use super::{Interaction, Notice, Progress, Step};
use crate::pkcs11::ckr;
use crate::pkcs11::keys::{self, TokenKey};
use crate::service::ServiceClient;
use crate::{csr, Error, Result};

/// Journal operation name.
pub const OPERATION: &str = "renew";

/// What a renewal produced.
#[derive(Debug, Clone, Serialize)]
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

/// Removes the certificates and key objects with CKA_ID `id` (other objects with the
/// id, such as a seal, stay).
fn remove_pair(session: &Session, id: &[u8]) -> Result<()> {
    for h in keys::objects_with_id(session, id)? {
        let attrs = session
            .get_attributes(h, &[AttributeType::Class])
            .map_err(|e| ckr::convert(e, "C_GetAttributeValue"))?;
        let class = attrs.into_iter().find_map(|a| match a {
            Attribute::Class(c) => Some(c),
            _ => None,
        });
        if matches!(
            class,
            Some(ObjectClass::CERTIFICATE | ObjectClass::PRIVATE_KEY | ObjectClass::PUBLIC_KEY)
        ) {
            keys::destroy(session, h)?;
        }
    }
    Ok(())
}

fn by_id(list: &[HolderCert], id: &[u8]) -> Option<HolderCert> {
    list.iter().find(|c| c.id == id).cloned()
}

fn hex_id(s: &Option<String>) -> Option<Vec<u8>> {
    s.as_deref().and_then(|h| hex::decode(h).ok())
}

/// Renews the key's certificate: see the module documentation.
pub fn renew(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    now: OffsetDateTime,
) -> Result<Renewed> {
    let mut p = Progress::new(ui, 9);
    p.step(Step::ReadToken)?;
    let session = token.session()?;
    let earlier = journal::read(&session, OPERATION)?;
    let resumed = earlier.is_some();
    // Whether renewal is open is known from the public certificate: say so before
    // asking for the PIN.
    if earlier.is_none() {
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
    let holders = certs::holder_certificates(&session, now)?;
    let old = match earlier.as_ref().and_then(|j| hex_id(&j.old_id)) {
        Some(id) => by_id(&holders, &id),
        None => holders.first().cloned(),
    };

    // A renewal interrupted after the new certificate was written only needs its
    // clean-up (the old pair may already be gone).
    if let Some(j) = earlier.as_ref().filter(|j| j.stage == "installed") {
        let new_id = hex_id(&j.key_id).ok_or_else(|| Error::NotApplicable {
            reason: "journal_damaged".into(),
            days_left: None,
        })?;
        let new = by_id(&holders, &new_id).ok_or_else(|| Error::NotApplicable {
            reason: "journal_damaged".into(),
            days_left: None,
        })?;
        ui.notice(&Notice::Resuming {
            operation: OPERATION.into(),
        });
        let old_serial = j.old_serial.clone();
        return finish(
            &mut p,
            token,
            &session,
            hex_id(&j.old_id),
            &new,
            old_serial,
            now,
            true,
        );
    }

    let old = old.ok_or_else(|| Error::NotApplicable {
        reason: "no_certificate".into(),
        days_left: None,
    })?;
    if !resumed {
        eligibility(old.not_after, now)?;
    } else {
        ui.notice(&Notice::Resuming {
            operation: OPERATION.into(),
        });
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
        Err(e) => return Err(e),
    };
    // On record before anything is made on the key.
    let mut j = match earlier {
        Some(j) => j,
        None => {
            let mut j = Journal {
                stage: "started".into(),
                old_id: Some(hex::encode(&old.id)),
                old_serial: Some(old.info.serial_hex.clone()),
                request_id: Some(random_request_id(&session)),
                ..Journal::default()
            };
            journal::write(&session, OPERATION, &mut j)?;
            j
        }
    };
    let request_id = j.request_id.clone().ok_or_else(|| Error::NotApplicable {
        reason: "journal_damaged".into(),
        days_left: None,
    })?;

    p.step(Step::GenerateKey)?;
    let existing = match hex_id(&j.key_id) {
        Some(id) => keys::find(&session, &id)?,
        None => None,
    };
    let new_key: TokenKey = match existing {
        Some(k) => k,
        None => {
            let id = keys::new_id(&session);
            let label = old
                .info
                .subject_cn
                .clone()
                .unwrap_or_else(|| format!("CertKey {}", token.serial));
            // A key pair an interrupted run made before recording it.
            certs::remove_orphans(&session, &label)?;
            let k = keys::generate(
                &session,
                &token.serial,
                old.key.alg,
                token.sm2.as_ref(),
                &id,
                &label,
            )?;
            j.stage = "key".into();
            j.key_id = Some(hex::encode(&k.id));
            journal::write(&session, OPERATION, &mut j)?;
            k
        }
    };

    p.step(Step::SignRequest)?;
    let csr = csr::build(new_key.alg, &new_key.point, &token.serial, |tbs| {
        keys::sign(&session, &token.serial, &new_key, token.sm2.as_ref(), tbs)
    })?;
    let (nonce, signature) = match nonce {
        Some(n) => {
            let proof = [n.as_slice(), csr.as_slice()].concat();
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
    let answer = service.renew(&RenewalRequest {
        request_id,
        certificate: Base64(old.der.clone()),
        csr: Base64(csr),
        nonce: Base64(nonce),
        signature: Base64(signature),
    });
    let issued = match answer {
        Ok(i) => i,
        // Refusals no rerun can change: the new key pair goes, the journal too, the
        // current certificate stays as it was.
        Err(Error::Service {
            ref service_code, ..
        }) if matches!(
            service_code.as_str(),
            "certificate_revoked"
                | "certificate_expired"
                | "renewal_not_open"
                | "certificate_not_found"
                | "request_id_reused"
        ) =>
        {
            remove_pair(&session, &new_key.id)?;
            journal::clear(&session, OPERATION)?;
            return Err(answer.err().unwrap_or(Error::Cancelled));
        }
        Err(e) => return Err(e),
    };
    let der = issued.certificate.0.clone();
    let parsed = crate::cert::parse(&der)?;
    if parsed.cert.public_key().raw != keys::spki_der(new_key.alg, &new_key.point).as_slice() {
        return Err(Error::ServiceResponse {
            reason: "the renewed certificate is not for the new key on this token".into(),
        });
    }
    drop(parsed);

    p.step(Step::InstallCertificate)?;
    for (handle, id, _) in keys::certificates(&session)? {
        if id == new_key.id {
            keys::destroy(&session, handle)?;
        }
    }
    let label = old
        .info
        .subject_cn
        .clone()
        .unwrap_or_else(|| format!("CertKey {}", token.serial));
    keys::write_certificate(&session, &new_key.id, &label, &der)?;
    certs::install_chain(&session, token.vendor.as_ref(), &issued.chain)?;
    j.stage = "installed".into();
    journal::write(&session, OPERATION, &mut j)?;

    let holders = certs::holder_certificates(&session, now)?;
    let new = by_id(&holders, &new_key.id).ok_or_else(|| Error::ModuleMisbehaved {
        reason: "the renewed certificate does not read back".into(),
    })?;
    finish(
        &mut p,
        token,
        &session,
        Some(old.id.clone()),
        &new,
        Some(old.info.serial_hex.clone()),
        now,
        resumed,
    )
}

/// Checks the new certificate and key, then removes the old pair and the journal.
#[allow(clippy::too_many_arguments)]
fn finish(
    p: &mut Progress<'_>,
    token: &Token,
    session: &Session,
    old_id: Option<Vec<u8>>,
    new: &HolderCert,
    old_serial: Option<String>,
    now: OffsetDateTime,
    resumed: bool,
) -> Result<Renewed> {
    p.step(Step::Verify)?;
    // The new key signs and the new certificate's key verifies it (sign checks the
    // signature against the key's point; the point is the certificate's key).
    if keys::spki_der(new.key.alg, &new.key.point)
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
        // Only the certificate this renewal replaced (the journal is a public object:
        // its id must name the certificate with the recorded serial).
        let named = keys::certificates(session)?
            .into_iter()
            .filter(|(_, cid, _)| *cid == id)
            .filter_map(|(_, _, der)| {
                crate::cert::parse(&der)
                    .ok()
                    .map(|p| crate::cert::CertificateInfo::from_parsed(&p, now).serial_hex)
            })
            .collect::<Vec<_>>();
        let matches = named.iter().all(|s| Some(s) == old_serial.as_ref());
        if matches {
            remove_pair(session, &id)?;
        } else {
            return Err(Error::NotApplicable {
                reason: "journal_damaged".into(),
                days_left: None,
            });
        }
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
