//! PKCS#10 certification requests for keys on a token: SM3withSM2 or
//! ecdsa-with-SHA256, subject `CN=<name>`, no attributes. The request is made of
//! x509-cert types (`CertReqInfo`, `CertReq`); the token signs the DER of the
//! `CertReqInfo` (the caller's closure), and the signature goes into the `CertReq`.

use der::asn1::{BitString, SetOfVec, UintRef};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode, Sequence, Tag};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::spki::AlgorithmIdentifierOwned;

use crate::pkcs11::keys::{spki, KeyAlg};
use crate::{Error, Result};

/// SM3withSM2 (1.2.156.10197.1.501).
const OID_SM3_WITH_SM2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
/// ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// commonName (2.5.4.3).
const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// ub-common-name (RFC 5280): at most 64 characters.
const MAX_CN_CHARS: usize = 64;

/// An ECDSA or SM2 signature: `SEQUENCE { r INTEGER, s INTEGER }`.
#[derive(Sequence)]
struct EcSignature<'a> {
    r: UintRef<'a>,
    s: UintRef<'a>,
}

/// A `der` error while building `what`: the name or key cannot be encoded.
fn encoding(what: &'static str) -> impl Fn(der::Error) -> Error {
    move |e| Error::InvalidArgument {
        name: what.into(),
        reason: format!("cannot be encoded in DER: {e}"),
    }
}

/// The Name `CN=<cn>`: one RDN, UTF8String.
pub fn subject(cn: &str) -> Result<Name> {
    let chars = cn.chars().count();
    if chars == 0 || chars > MAX_CN_CHARS || cn.chars().any(char::is_control) {
        return Err(Error::InvalidArgument {
            name: "subject_cn".into(),
            reason: format!(
                "a common name is 1 to {MAX_CN_CHARS} printable characters (got {chars})"
            ),
        });
    }
    let atv = AttributeTypeAndValue {
        oid: OID_CN,
        value: Any::new(Tag::Utf8String, cn.as_bytes()).map_err(encoding("subject_cn"))?,
    };
    let rdn = RelativeDistinguishedName::try_from(vec![atv]).map_err(encoding("subject_cn"))?;
    let der = RdnSequence::from(vec![rdn])
        .to_der()
        .map_err(encoding("subject_cn"))?;
    Name::from_der(&der).map_err(encoding("subject_cn"))
}

/// The DER Name `CN=<cn>` (one RDN, UTF8String).
pub fn subject_der(cn: &str) -> Result<Vec<u8>> {
    subject(cn)?.to_der().map_err(encoding("subject_cn"))
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
    let info = CertReqInfo {
        version: Version::V1,
        subject: subject(subject_cn)?,
        public_key: spki(alg, point)?,
        attributes: SetOfVec::new(),
    };
    let signature = sign(&info.to_der().map_err(encoding("certification request"))?)?;
    if EcSignature::from_der(&signature).is_err() {
        return Err(Error::TokenSignatureInvalid {
            reason: "the request signature is not a DER SEQUENCE { r, s }".into(),
        });
    }
    let req = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: match alg {
                KeyAlg::Sm2 => OID_SM3_WITH_SM2,
                KeyAlg::P256 => OID_ECDSA_SHA256,
            },
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(encoding("signature"))?,
    };
    req.to_der().map_err(encoding("certification request"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
