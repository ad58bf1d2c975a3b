//! Checking a certificate's signature against its issuer. ECDSA and RSA go through
//! x509-parser (ring); SM3withSM2 through the `sm2` crate with the default user id.

use serde::{Deserialize, Serialize};
use sm2::dsa::signature::Verifier;
use x509_parser::certificate::X509Certificate;

use super::{name, Parsed, OID_SM3_WITH_SM2, SM2_DEFAULT_DISTID};

/// Where the issuer certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum IssuerSource {
    /// The certificate is self-signed.
    SelfSigned,
    /// Another certificate on the same token.
    Token,
    /// A configured CA bundle.
    Bundle,
}

/// Result of checking a certificate's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureCheck {
    /// The issuer's key verifies the signature.
    Valid {
        /// Issuer subject.
        issuer: String,
        /// Where the issuer was found.
        source: IssuerSource,
    },
    /// An issuer with the right name was found, but no such key verifies it.
    Invalid {
        /// Issuer subject that was tried.
        issuer: String,
        /// Where it was found.
        source: IssuerSource,
    },
    /// No certificate with the issuer's name is on the token or in the bundle.
    IssuerNotFound,
    /// The signature algorithm is not one CertKey checks.
    Unsupported {
        /// The algorithm OID.
        algorithm: String,
    },
}

/// Whether `issuer`'s key verifies `cert`'s signature; `None` if the algorithm is
/// not supported.
pub fn signed_by(cert: &X509Certificate, issuer: &X509Certificate) -> Option<bool> {
    let alg = cert.signature_algorithm.algorithm.to_id_string();
    if alg == OID_SM3_WITH_SM2 {
        let point = &issuer.public_key().subject_public_key.data;
        let Ok(vk) = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, point) else {
            return Some(false);
        };
        let Ok(sig) = sm2::dsa::Signature::from_der(&cert.signature_value.data) else {
            return Some(false);
        };
        let tbs: &[u8] = cert.tbs_certificate.as_ref();
        return Some(vk.verify(tbs, &sig).is_ok());
    }
    match cert.verify_signature(Some(issuer.public_key())) {
        Ok(()) => Some(true),
        Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm) => None,
        Err(_) => Some(false),
    }
}

/// Checks `cert` against the candidates: itself when self-issued, then every
/// candidate whose subject equals the certificate's issuer.
pub fn check(cert: &Parsed<'_>, token: &[Parsed<'_>], bundle: &[Parsed<'_>]) -> SignatureCheck {
    let c = &cert.cert;
    let issuer_raw = c.issuer().as_raw();
    let mut tried: Option<(String, IssuerSource)> = None;
    let self_issued = c.subject().as_raw() == issuer_raw;
    let own = [Parsed {
        der: cert.der,
        cert: c.clone(),
    }];
    let sources: [(&[Parsed<'_>], IssuerSource); 3] = [
        (
            if self_issued { &own } else { &[] },
            IssuerSource::SelfSigned,
        ),
        (token, IssuerSource::Token),
        (bundle, IssuerSource::Bundle),
    ];
    for (list, source) in sources {
        for cand in list
            .iter()
            .filter(|p| p.cert.subject().as_raw() == issuer_raw)
        {
            let issuer = name::rfc4514(cand.cert.subject());
            match signed_by(c, &cand.cert) {
                Some(true) => return SignatureCheck::Valid { issuer, source },
                Some(false) => {
                    tried.get_or_insert((issuer, source));
                }
                None => {
                    return SignatureCheck::Unsupported {
                        algorithm: c.signature_algorithm.algorithm.to_id_string(),
                    }
                }
            }
        }
    }
    match tried {
        Some((issuer, source)) => SignatureCheck::Invalid { issuer, source },
        None => SignatureCheck::IssuerNotFound,
    }
}
