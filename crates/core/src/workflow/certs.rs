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

/// Removes key pairs an interrupted earlier run generated but never recorded: keys
/// with this workflow's label and no certificate beside them.
pub(crate) fn remove_orphans(session: &Session, label: &str) -> Result<()> {
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    let certified: Vec<Vec<u8>> = keys::certificates(session)?
        .into_iter()
        .map(|(_, id, _)| id)
        .collect();
    for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
        let handles = session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .map_err(|e| crate::pkcs11::ckr::convert(e, "C_FindObjects"))?;
        for h in handles {
            let attrs = session
                .get_attributes(h, &[AttributeType::Id])
                .map_err(|e| crate::pkcs11::ckr::convert(e, "C_GetAttributeValue"))?;
            let id = attrs.into_iter().find_map(|a| match a {
                Attribute::Id(id) => Some(id),
                _ => None,
            });
            if id.is_none_or(|id| !certified.contains(&id)) {
                keys::destroy(session, h)?;
            }
        }
    }
    Ok(())
}
