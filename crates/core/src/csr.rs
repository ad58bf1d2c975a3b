//! PKCS#10 certification requests for keys on a token: SM3withSM2 or
//! ecdsa-with-SHA256, subject `CN=<name>`, no attributes. The DER is assembled by a
//! small encoder here; the signature comes from the caller (the token).

use crate::pkcs11::keys::{spki_der, KeyAlg};
use crate::{Error, Result};

/// DER of the OID SM3withSM2 (1.2.156.10197.1.501).
const OID_SM3_WITH_SM2: [u8; 10] = [0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75];
/// DER of the OID ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
const OID_ECDSA_SHA256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
/// DER of the OID commonName (2.5.4.3).
const OID_CN: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
/// ub-common-name (RFC 5280): at most 64 characters.
const MAX_CN_CHARS: usize = 64;

/// DER tag-length-value with a definite length.
pub(crate) fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        // Fits in the short form.
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let long = bytes.get(first..).unwrap_or_default();
        // At most size_of::<usize>() bytes, so the count fits in the 7 low bits.
        out.push(0x80 | long.len() as u8);
        out.extend_from_slice(long);
    }
    out.extend_from_slice(content);
    out
}

/// Whether `der` is exactly one DER SEQUENCE (the shape of an ECDSA/SM2 signature).
fn is_one_sequence(der: &[u8]) -> bool {
    let (len, header) = match der {
        [0x30, l, ..] if *l < 0x80 => (usize::from(*l), 2),
        [0x30, 0x81, l, ..] if *l >= 0x80 => (usize::from(*l), 3),
        _ => return false,
    };
    der.len() == header + len
}

/// The DER Name `CN=<cn>` (one RDN, UTF8String).
pub fn subject_der(cn: &str) -> Result<Vec<u8>> {
    let chars = cn.chars().count();
    if chars == 0 || chars > MAX_CN_CHARS || cn.chars().any(char::is_control) {
        return Err(Error::InvalidArgument {
            name: "subject_cn".into(),
            reason: format!(
                "a common name is 1 to {MAX_CN_CHARS} printable characters (got {chars})"
            ),
        });
    }
    let mut atv = OID_CN.to_vec();
    atv.extend(der_tlv(0x0C, cn.as_bytes()));
    let rdn = der_tlv(0x31, &der_tlv(0x30, &atv));
    Ok(der_tlv(0x30, &rdn))
}

/// Builds a DER PKCS#10 CertificationRequest: version 0, subject `CN=subject_cn`
/// (UTF8String), the SubjectPublicKeyInfo of `point`, empty attributes, signature
/// algorithm SM3withSM2 (SM2) or ecdsa-with-SHA256 (P-256) without parameters.
/// `sign` gets the DER CertificationRequestInfo and returns a DER signature
/// SEQUENCE{r, s} over it (for SM2 with the default user id), e.g. from
/// [`crate::pkcs11::keys::sign`].
pub fn build(
    alg: KeyAlg,
    point: &[u8; 65],
    subject_cn: &str,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut info = der_tlv(0x02, &[0]);
    info.extend(subject_der(subject_cn)?);
    info.extend(spki_der(alg, point));
    info.extend(der_tlv(0xA0, &[]));
    let info = der_tlv(0x30, &info);
    let signature = sign(&info)?;
    if !is_one_sequence(&signature) {
        return Err(Error::TokenSignatureInvalid {
            reason: "the request signature is not a DER SEQUENCE".into(),
        });
    }
    let oid: &[u8] = match alg {
        KeyAlg::Sm2 => &OID_SM3_WITH_SM2,
        KeyAlg::P256 => &OID_ECDSA_SHA256,
    };
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(&signature);
    let mut req = info;
    req.extend(der_tlv(0x30, oid));
    req.extend(der_tlv(0x03, &bits));
    Ok(der_tlv(0x30, &req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_short_and_long_forms() {
        assert_eq!(der_tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let v = der_tlv(0x04, &[0; 200]);
        assert_eq!(&v[..3], &[0x04, 0x81, 200]);
        let v = der_tlv(0x04, &[0; 300]);
        assert_eq!(&v[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(v.len(), 304);
    }

    #[test]
    fn subject_is_one_utf8_common_name() {
        let d = subject_der("张三").unwrap();
        assert_eq!(
            d,
            [
                &[0x30, 0x11, 0x31, 0x0F, 0x30, 0x0D, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x06][..],
                "张三".as_bytes()
            ]
            .concat()
        );
        assert_eq!(subject_der("").unwrap_err().code(), "invalid_argument");
        assert!(subject_der(&"x".repeat(65)).is_err());
        assert!(subject_der("a\nb").is_err());
    }

    /// A fixed public point and signature per algorithm: the request bytes depend only
    /// on these, the name and the algorithm.
    fn pinned_request(alg: KeyAlg, cn: &str) -> (Vec<u8>, Vec<u8>) {
        let point: [u8; 65] = std::array::from_fn(|i| if i == 0 { 4 } else { i as u8 });
        let signature = [
            &[0x30, 0x45, 0x02, 0x21, 0x00][..],
            &[0xA5; 32],
            &[0x02, 0x20],
            &[0x5A; 32],
        ]
        .concat();
        let mut signed = Vec::new();
        let req = build(alg, &point, cn, |info| {
            signed = info.to_vec();
            Ok(signature)
        })
        .unwrap();
        (signed, req)
    }

    #[test]
    fn request_bytes_are_pinned() {
        // Captured from the hand-written encoder before the move to the der crate.
        let long_cn = "测".repeat(64);
        let cases = [
            (KeyAlg::Sm2, long_cn.as_str(), "csr-sm2"),
            (KeyAlg::P256, "Test", "csr-p256"),
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        for (alg, cn, name) in cases {
            let (signed, req) = pinned_request(alg, cn);
            let info = std::fs::read(format!("{dir}/{name}.info.der")).unwrap();
            let whole = std::fs::read(format!("{dir}/{name}.der")).unwrap();
            assert!(signed == info, "{name}: the bytes the token signs");
            assert!(req == whole, "{name}: the request");
        }
    }

    #[test]
    fn request_parses_with_x509_parser_and_refuses_non_der_signatures() {
        use x509_parser::prelude::FromDer;
        let sk = p256::SecretKey::from_slice(&[5u8; 32]).unwrap();
        let point: [u8; 65] = {
            use p256::elliptic_curve::sec1::ToSec1Point;
            sk.public_key()
                .to_sec1_point(false)
                .as_bytes()
                .try_into()
                .unwrap()
        };
        let signing = p256::ecdsa::SigningKey::from(&sk);
        let der = build(KeyAlg::P256, &point, "Test", |info| {
            use p256::ecdsa::signature::Signer;
            let s: p256::ecdsa::Signature = signing.sign(info);
            Ok(s.to_der().as_bytes().to_vec())
        })
        .unwrap();
        let (rest, req) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        assert!(rest.is_empty());
        req.verify_signature().unwrap();
        assert_eq!(
            req.certification_request_info.subject.to_string(),
            "CN=Test"
        );
        assert_eq!(
            build(KeyAlg::P256, &point, "Test", |_| Ok(vec![0; 64]))
                .unwrap_err()
                .code(),
            "token_signature_invalid"
        );
    }
}
