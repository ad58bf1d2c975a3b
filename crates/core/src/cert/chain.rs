//! Whether a certificate chains to a trusted CA: a path from the certificate, through
//! CA certificates of a pool, to one of the trust anchors, where every link is a CA
//! certificate (basicConstraints cA, keyCertSign when keyUsage is present) valid at
//! the time asked for whose key verifies the signature below it (SM3withSM2 through
//! the `sm2` crate with the default user id, ECDSA through x509-parser; see
//! [`super::verify::signed_by`]). The certificate itself must be valid at that time,
//! issued by another (not self-issued) and, with a keyUsage, allowed to sign.

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;

use super::{name, parse, Parsed};

/// Longest path looked for (certificate, intermediates, anchor).
const MAX_DEPTH: usize = 6;

/// Why a certificate does not chain to a trusted CA (stable codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Untrusted {
    /// No trusted CA certificate is known at all (no CA list, no bundle).
    NoTrustedCa,
    /// The certificate does not parse.
    CertificateInvalid,
    /// The certificate is not valid at the time asked for (expired or not yet valid).
    CertificateNotValidNow,
    /// The certificate is self-issued: it names no CA above itself, so it cannot
    /// chain to one (even when it is offered as a trusted CA itself).
    SelfIssued,
    /// The certificate's keyUsage allows neither digitalSignature nor nonRepudiation.
    KeyUsage,
    /// No path of valid CA certificates whose signatures verify leads to a trusted CA.
    IssuerNotTrusted,
    /// (Seal makers) The maker's certificate is a certificate holder's (it allows
    /// client authentication or e-mail protection, or the seal lists it as the
    /// holder's): a holder could otherwise make "seals" with their own key.
    HolderCertificate,
}

impl Untrusted {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Untrusted::NoTrustedCa => "no_trusted_ca",
            Untrusted::CertificateInvalid => "certificate_invalid",
            Untrusted::CertificateNotValidNow => "certificate_not_valid_now",
            Untrusted::SelfIssued => "self_issued",
            Untrusted::KeyUsage => "key_usage",
            Untrusted::IssuerNotTrusted => "issuer_not_trusted",
            Untrusted::HolderCertificate => "holder_certificate",
        }
    }
}

fn valid_at(c: &X509Certificate, now: OffsetDateTime) -> bool {
    let v = c.validity();
    v.not_before.to_datetime() <= now && now <= v.not_after.to_datetime()
}

/// A CA certificate that may sign certificates, valid at `now`.
fn usable_ca(c: &X509Certificate, now: OffsetDateTime) -> bool {
    let ca = matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
    // A keyUsage that does not parse refuses the certificate; an absent one allows.
    let cert_sign = match c.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    ca && cert_sign && valid_at(c, now)
}

/// Whether `issuer` issued `child`: names match, `issuer` is a usable CA at `now`
/// and its key verifies `child`'s signature.
fn issued_by(child: &X509Certificate, issuer: &X509Certificate, now: OffsetDateTime) -> bool {
    child.issuer().as_raw() == issuer.subject().as_raw()
        && usable_ca(issuer, now)
        && super::verify::signed_by(child, issuer) == Some(true)
}

/// Checks that `cert` (DER) chains to one of `anchors` (DER CA certificates trusted
/// as they are), possibly through CA certificates of `pool` (not trusted by
/// themselves), at `now`. Certificates of either list that do not parse are
/// skipped. Returns the subject (RFC 4514) of the trusted CA reached.
pub fn chains_to(
    cert: &[u8],
    anchors: &[Vec<u8>],
    pool: &[Vec<u8>],
    now: OffsetDateTime,
) -> Result<String, Untrusted> {
    let anchors: Vec<Parsed<'_>> = anchors.iter().filter_map(|d| parse(d).ok()).collect();
    let pool: Vec<Parsed<'_>> = pool.iter().filter_map(|d| parse(d).ok()).collect();
    // What the certificate itself shows comes first: a self-made certificate is
    // named as such even where no CA is known.
    let leaf = parse(cert).map_err(|_| Untrusted::CertificateInvalid)?;
    if !valid_at(&leaf.cert, now) {
        return Err(Untrusted::CertificateNotValidNow);
    }
    if leaf.cert.subject().as_raw() == leaf.cert.issuer().as_raw() {
        return Err(Untrusted::SelfIssued);
    }
    let signs = match leaf.cert.key_usage() {
        Ok(Some(ku)) => ku.value.digital_signature() || ku.value.non_repudiation(),
        Ok(None) => true,
        Err(_) => false,
    };
    if !signs {
        return Err(Untrusted::KeyUsage);
    }
    if anchors.is_empty() {
        return Err(Untrusted::NoTrustedCa);
    }
    let mut current: &X509Certificate = &leaf.cert;
    let mut seen: Vec<&[u8]> = vec![leaf.der];
    for _ in 0..MAX_DEPTH {
        if let Some(a) = anchors.iter().find(|a| issued_by(current, &a.cert, now)) {
            return Ok(name::rfc4514(a.cert.subject()));
        }
        // One step up through the pool; a certificate already on the path is never
        // taken again (no loops).
        let Some(next) = pool
            .iter()
            .find(|p| !seen.contains(&p.der) && issued_by(current, &p.cert, now))
        else {
            break;
        };
        seen.push(next.der);
        current = &next.cert;
    }
    Err(Untrusted::IssuerNotTrusted)
}
