//! The holder's certificates on a key: end-entity certificates with their private key
//! (same CKA_ID) beside them.

use cryptoki::session::Session;
use time::OffsetDateTime;

use crate::cert::CertificateInfo;
use crate::pkcs11::keys::{self, TokenKey};
use crate::{Error, Result};

/// A certificate the holder can use: the certificate, its key pair, what it says.
#[derive(Debug, Clone)]
pub struct HolderCert {
    /// CKA_ID shared by the certificate and its key pair.
    pub id: Vec<u8>,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its key pair on the token.
    pub key: TokenKey,
    /// What the certificate says.
    pub info: CertificateInfo,
    /// Its notAfter.
    pub not_after: OffsetDateTime,
}

/// An end-entity certificate on the key (public: readable without logging in).
#[derive(Debug, Clone)]
pub struct PublicCert {
    /// CKA_ID.
    pub id: Vec<u8>,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// What it says.
    pub info: CertificateInfo,
    /// Its notAfter.
    pub not_after: OffsetDateTime,
}

/// Every end-entity certificate with a CKA_ID, soonest expiry first (no login needed;
/// whether its private key is there is known only after login, see
/// [`holder_certificates`]).
pub fn end_entity_certificates(session: &Session, now: OffsetDateTime) -> Result<Vec<PublicCert>> {
    let mut out = Vec::new();
    for (_, id, der) in keys::certificates(session)? {
        if id.is_empty() {
            continue;
        }
        let Ok(parsed) = crate::cert::parse(&der) else {
            continue;
        };
        let info = CertificateInfo::from_parsed(&parsed, now);
        // Only what this CA protocol issues: SM2 and P-256 end-entity certificates.
        if info.is_ca || !matches!(info.key_algorithm.as_str(), "SM2" | "EC P-256") {
            continue;
        }
        let not_after = parsed.cert.validity().not_after.to_datetime();
        drop(parsed);
        out.push(PublicCert {
            id,
            der,
            info,
            not_after,
        });
    }
    out.sort_by_key(|c| c.not_after);
    Ok(out)
}

/// Every end-entity certificate with a private key beside it, soonest expiry first.
/// Certificates that do not parse or have no key are skipped. Private keys are
/// usually visible only after the user logged in.
pub fn holder_certificates(session: &Session, now: OffsetDateTime) -> Result<Vec<HolderCert>> {
    let mut out = Vec::new();
    for (_, id, der) in keys::certificates(session)? {
        if id.is_empty() {
            continue;
        }
        let Ok(parsed) = crate::cert::parse(&der) else {
            continue;
        };
        let info = CertificateInfo::from_parsed(&parsed, now);
        if info.is_ca {
            continue;
        }
        let not_after = parsed.cert.validity().not_after.to_datetime();
        drop(parsed);
        // A key CertKey cannot use (RSA, duplicate ids, no readable point) is not a
        // holder's key for these workflows: skipped, not fatal.
        let key = match keys::find(session, &id) {
            Ok(Some(k)) => k,
            Ok(None) => continue,
            Err(e) => {
                tracing::info!(id = %hex::encode(&id), error = %e, "certificate skipped");
                continue;
            }
        };
        out.push(HolderCert {
            id,
            der,
            key,
            info,
            not_after,
        });
    }
    out.sort_by_key(|c| c.not_after);
    Ok(out)
}

/// The certificate in use: the one valid longest (after a renewal, the new one).
pub fn current(session: &Session, now: OffsetDateTime) -> Result<HolderCert> {
    holder_certificates(session, now)?
        .pop()
        .ok_or_else(|| Error::NotApplicable {
            reason: "no_certificate".into(),
            days_left: None,
        })
}

/// Writes the CA certificates of `chain` that the key does not hold yet, when the
/// key's vendor profile keeps the chain on the key. Each gets its own CKA_ID (the
/// SHA-256 of the certificate, first 16 bytes) and its subject CN as label.
pub fn install_chain(
    session: &Session,
    vendor: Option<&crate::catalog::VendorProfile>,
    chain: &[certkey_protocol::Base64],
) -> Result<usize> {
    use sha2::Digest;
    if !vendor.is_some_and(|v| v.store_chain) {
        return Ok(0);
    }
    let present: Vec<Vec<u8>> = keys::certificates(session)?
        .into_iter()
        .map(|(_, _, der)| der)
        .collect();
    let mut written = 0;
    for ca in chain {
        let der = ca.as_bytes();
        if present.iter().any(|p| p.as_slice() == der) {
            continue;
        }
        let parsed = crate::cert::parse(der)?;
        let info = CertificateInfo::from_parsed(&parsed, OffsetDateTime::now_utc());
        if !info.is_ca {
            return Err(Error::ServiceResponse {
                reason: "the chain holds a certificate that is not a CA".into(),
            });
        }
        let id = sha2::Sha256::digest(der)[..16].to_vec();
        let label = info.subject_cn.clone().unwrap_or_else(|| "CA".into());
        keys::write_certificate(session, &id, &label, der)?;
        written += 1;
    }
    Ok(written)
}

/// The class of an object, when the module says.
fn class_of(
    session: &Session,
    handle: cryptoki::object::ObjectHandle,
) -> Result<Option<cryptoki::object::ObjectClass>> {
    use cryptoki::object::{Attribute, AttributeType};
    let attrs = session
        .get_attributes(handle, &[AttributeType::Class])
        .map_err(|e| crate::pkcs11::ckr::convert(e, "C_GetAttributeValue"))?;
    Ok(attrs.into_iter().find_map(|a| match a {
        Attribute::Class(c) => Some(c),
        _ => None,
    }))
}

/// Removes the objects of `classes` with CKA_ID `id` (nothing else: no object is ever
/// chosen by its label).
fn remove_with_id(
    session: &Session,
    id: &[u8],
    classes: &[cryptoki::object::ObjectClass],
) -> Result<()> {
    for h in keys::objects_with_id(session, id)? {
        if class_of(session, h)?.is_some_and(|c| classes.contains(&c)) {
            keys::destroy(session, h)?;
        }
    }
    Ok(())
}

/// Removes the key pair with CKA_ID `id` that a workflow recorded in its private
/// journal before generating it, when it has no certificate: a certificate beside it
/// means the pair is in use (or the record is wrong), and then nothing is removed and
/// `false` is returned.
pub(crate) fn remove_recorded_pair(session: &Session, id: &[u8]) -> Result<bool> {
    use cryptoki::object::ObjectClass;
    if !id.is_empty() && keys::certificates(session)?.iter().any(|(_, c, _)| c == id) {
        return Ok(false);
    }
    remove_with_id(
        session,
        id,
        &[ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY],
    )?;
    Ok(true)
}

/// Removes the certificates and key objects with CKA_ID `id`: the pair a renewal
/// replaced, once its successor is on the key and checked (other objects with the id,
/// such as a seal, stay).
pub(crate) fn remove_pair(session: &Session, id: &[u8]) -> Result<()> {
    use cryptoki::object::ObjectClass;
    remove_with_id(
        session,
        id,
        &[
            ObjectClass::CERTIFICATE,
            ObjectClass::PRIVATE_KEY,
            ObjectClass::PUBLIC_KEY,
        ],
    )
}

/// A fresh CKA_ID that no object on the key has.
pub(crate) fn unused_id(session: &Session) -> Result<Vec<u8>> {
    for _ in 0..8 {
        let id = keys::new_id(session);
        if keys::objects_with_id(session, &id)?.is_empty() {
            return Ok(id);
        }
    }
    Err(Error::ModuleMisbehaved {
        reason: "the key's random ids keep colliding with objects on it".into(),
    })
}
