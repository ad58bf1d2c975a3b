//! Reading X.509 certificates (x509-parser): names, validity, algorithms, usages,
//! fingerprints, the CA's certificate type, and signature checks (SM2 through `sm2`).

pub mod bundle;
pub mod chain;
pub mod name;
pub mod verify;

use certkey_protocol::{days_left, CertType, RenewalStatus};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sm3::Sm3;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::{Error, Result};

/// OID of the SM2 curve sm2p256v1.
pub const OID_SM2_CURVE: &str = "1.2.156.10197.1.301";
/// OID of SM3withSM2.
pub const OID_SM3_WITH_SM2: &str = "1.2.156.10197.1.501";
/// SM2 default user id.
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";

/// What CertKey shows of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CertificateInfo {
    /// Subject, RFC 4514, most specific first.
    pub subject: String,
    /// Issuer, RFC 4514.
    pub issuer: String,
    /// Subject CN.
    pub subject_cn: Option<String>,
    /// Subject O.
    pub subject_o: Option<String>,
    /// Issuer CN.
    pub issuer_cn: Option<String>,
    /// Serial number, lowercase hex without leading zero bytes.
    pub serial_hex: String,
    /// notBefore, RFC 3339 UTC.
    pub not_before: String,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// Whole days to notAfter, rounded up; <= 0 once expired.
    pub days_left: i64,
    /// Renewal status at the time of reading.
    pub renewal: RenewalStatus,
    /// `SM2`, `EC P-256`, `EC P-384`, `RSA-2048`, `Ed25519`, or the OID.
    pub key_algorithm: String,
    /// `SM3withSM2`, `ECDSA-SHA256`, `RSA-SHA256`, ..., or the OID.
    pub signature_algorithm: String,
    /// keyUsage bits by name (`digital_signature`, `non_repudiation`, ...).
    pub key_usage: Vec<String>,
    /// extendedKeyUsage by name (`client_auth`, ...) or OID.
    pub extended_key_usage: Vec<String>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// The CA's certificate type, guessed from the subject.
    pub cert_type_hint: Option<CertType>,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// SM3 of the DER, lowercase hex.
    pub sm3: String,
}

/// A parsed certificate kept with its DER, for checks that need both.
pub struct Parsed<'a> {
    /// The DER.
    pub der: &'a [u8],
    /// The parse.
    pub cert: X509Certificate<'a>,
}

/// Parses DER, refusing trailing bytes.
pub fn parse(der: &[u8]) -> Result<Parsed<'_>> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| Error::CertificateInvalid {
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(Error::CertificateInvalid {
            reason: format!("{} bytes after the certificate", rest.len()),
        });
    }
    Ok(Parsed { der, cert })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

impl CertificateInfo {
    /// Reads a DER certificate at time `now`.
    pub fn from_der(der: &[u8], now: OffsetDateTime) -> Result<Self> {
        let p = parse(der)?;
        Ok(Self::from_parsed(&p, now))
    }

    /// Reads an already parsed certificate at time `now`.
    pub fn from_parsed(p: &Parsed<'_>, now: OffsetDateTime) -> Self {
        let c = &p.cert;
        let nb = c.validity().not_before.to_datetime();
        let na = c.validity().not_after.to_datetime();
        let subject_cn = name::first(c.subject(), name::CN);
        let subject_o = name::first(c.subject(), name::O);
        let serial = c.raw_serial();
        let first_nz = serial
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(serial.len().saturating_sub(1));
        let is_ca = matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca);
        CertificateInfo {
            subject: name::rfc4514(c.subject()),
            issuer: name::rfc4514(c.issuer()),
            cert_type_hint: type_hint(c, subject_cn.as_deref(), subject_o.as_deref(), is_ca),
            subject_cn,
            subject_o,
            issuer_cn: name::first(c.issuer(), name::CN),
            serial_hex: hex::encode(&serial[first_nz.min(serial.len())..]),
            not_before: rfc3339(nb),
            not_after: rfc3339(na),
            days_left: days_left(na, now),
            renewal: RenewalStatus::at(nb, na, now),
            key_algorithm: key_algorithm(c),
            signature_algorithm: signature_algorithm(
                &c.signature_algorithm.algorithm.to_id_string(),
            ),
            key_usage: key_usage(c),
            extended_key_usage: extended_key_usage(c),
            is_ca,
            sha256: hex::encode(Sha256::digest(p.der)),
            sm3: hex::encode(Sm3::digest(p.der)),
        }
    }
}

fn key_algorithm(c: &X509Certificate) -> String {
    let spki = c.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    match (alg.as_str(), curve.as_deref()) {
        // SM2 keys are id-ecPublicKey on sm2p256v1; some issuers use the SM2 OID itself.
        ("1.2.840.10045.2.1", Some(OID_SM2_CURVE)) | (OID_SM2_CURVE, _) => "SM2".into(),
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => "EC P-256".into(),
        ("1.2.840.10045.2.1", Some("1.3.132.0.34")) => "EC P-384".into(),
        ("1.2.840.10045.2.1", Some("1.3.132.0.35")) => "EC P-521".into(),
        ("1.2.840.10045.2.1", Some(other)) => format!("EC {other}"),
        ("1.2.840.113549.1.1.1", _) | ("1.2.840.113549.1.1.10", _) => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA-{}", rsa.key_size()),
            _ => "RSA".into(),
        },
        ("1.3.101.112", _) => "Ed25519".into(),
        ("1.3.101.113", _) => "Ed448".into(),
        _ => alg,
    }
}

/// A readable name for a signature algorithm OID.
pub fn signature_algorithm(oid: &str) -> String {
    match oid {
        OID_SM3_WITH_SM2 => "SM3withSM2",
        "1.2.840.10045.4.3.2" => "ECDSA-SHA256",
        "1.2.840.10045.4.3.3" => "ECDSA-SHA384",
        "1.2.840.10045.4.3.4" => "ECDSA-SHA512",
        "1.2.840.10045.4.1" => "ECDSA-SHA1",
        "1.2.840.113549.1.1.11" => "RSA-SHA256",
        "1.2.840.113549.1.1.12" => "RSA-SHA384",
        "1.2.840.113549.1.1.13" => "RSA-SHA512",
        "1.2.840.113549.1.1.5" => "RSA-SHA1",
        "1.2.840.113549.1.1.10" => "RSA-PSS",
        "1.3.101.112" => "Ed25519",
        other => return other.to_string(),
    }
    .to_string()
}

fn key_usage(c: &X509Certificate) -> Vec<String> {
    let Ok(Some(ku)) = c.key_usage() else {
        return Vec::new();
    };
    let k = ku.value;
    [
        ("digital_signature", k.digital_signature()),
        ("non_repudiation", k.non_repudiation()),
        ("key_encipherment", k.key_encipherment()),
        ("data_encipherment", k.data_encipherment()),
        ("key_agreement", k.key_agreement()),
        ("key_cert_sign", k.key_cert_sign()),
        ("crl_sign", k.crl_sign()),
        ("encipher_only", k.encipher_only()),
        ("decipher_only", k.decipher_only()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| n.to_string())
    .collect()
}

fn extended_key_usage(c: &X509Certificate) -> Vec<String> {
    let Ok(Some(eku)) = c.extended_key_usage() else {
        return Vec::new();
    };
    let e = eku.value;
    let mut v: Vec<String> = [
        ("any", e.any),
        ("server_auth", e.server_auth),
        ("client_auth", e.client_auth),
        ("code_signing", e.code_signing),
        ("email_protection", e.email_protection),
        ("time_stamping", e.time_stamping),
        ("ocsp_signing", e.ocsp_signing),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| n.to_string())
    .collect();
    v.extend(e.other.iter().map(|o| o.to_id_string()));
    v
}

/// Chinese CA subjects: an organisation certificate names the organisation in CN and
/// O; a person-in-organisation certificate has a person's CN under an O; a natural
/// person has no O. CA certificates get no hint.
fn type_hint(
    c: &X509Certificate,
    cn: Option<&str>,
    o: Option<&str>,
    is_ca: bool,
) -> Option<CertType> {
    if is_ca {
        return None;
    }
    let cn = cn?;
    let ou = name::first(c.subject(), name::OU);
    match o {
        None => Some(CertType::Person),
        Some(o) if o == cn || ou.as_deref() == Some(cn) => Some(CertType::Organisation),
        Some(_) => Some(CertType::OrgPerson),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_typed_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"\x30\x03\x02\x01",
            b"hello world",
            &[0x30, 0x82, 0xff, 0xff],
        ] {
            let e = CertificateInfo::from_der(bad, OffsetDateTime::now_utc()).unwrap_err();
            assert_eq!(e.code(), "certificate_invalid");
        }
    }

    #[test]
    fn signature_algorithms_have_readable_names() {
        assert_eq!(signature_algorithm("1.2.156.10197.1.501"), "SM3withSM2");
        assert_eq!(signature_algorithm("1.2.840.10045.4.3.2"), "ECDSA-SHA256");
        assert_eq!(signature_algorithm("1.2.3.4"), "1.2.3.4");
    }
}
