//! X.509 issuance core for the certkey-ca reference service.
//!
//! Issues SM2 (SM3withSM2, GB/T 32918 / GM/T 0015) and NIST P-256
//! (ecdsa-with-SHA256) certificates, verifies PKCS#10 requests and
//! certificate / detached signatures.
//!
//! Design notes:
//! * `x509-cert` 0.3 keeps the fields of `TbsCertificate` / `Certificate`
//!   `pub(crate)`, so the TBSCertificate and the Certificate are assembled with
//!   small local `der` `Sequence` structs built from x509-cert component types
//!   (`SerialNumber`, `Validity`, `Extension`, pkix extension types, ...). The
//!   result is always re-parsed with `x509_cert::Certificate` (and must
//!   re-encode byte for byte) and its signature is verified before it is
//!   returned.
//! * The issuer name is copied byte for byte from the issuer certificate's
//!   subject (the issuer certificate must be strict DER).
//! * SM2 signatures always use the default distinguishing identifier
//!   `1234567812345678` ([`SM2_DEFAULT_DISTID`]).
//! * Every function that takes external bytes returns a typed error for bad
//!   input; the non-test code contains no `unwrap`/`expect`/indexing.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::unreachable
    )
)]

use der::asn1::{AnyRef, BitStringRef, GeneralizedTime, ObjectIdentifier, OctetString, UtcTime};
use der::{Any, Decode, Encode, Sequence, Tag, Tagged};
use sha1::{Digest, Sha1};
use signature::Verifier as _;
use spki::{AlgorithmIdentifierOwned, AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};
use time::OffsetDateTime;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{RdnSequence, RelativeDistinguishedName};
use x509_cert::request::CertReq;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;
use x509_cert::Certificate;
use zeroize::Zeroizing;

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/// Default SM2 distinguishing identifier (GM/T 0009 / GB/T 35276).
pub const SM2_DEFAULT_DISTID: &str = "1234567812345678";

/// Maximum accepted size of a DER PKCS#10 request.
pub const MAX_CSR_LEN: usize = 8 * 1024;
/// Maximum accepted size of a DER certificate.
pub const MAX_CERT_LEN: usize = 64 * 1024;
/// Maximum accepted size of a DER SubjectPublicKeyInfo.
pub const MAX_SPKI_LEN: usize = 1024;
/// Maximum accepted size of a DER signature.
pub const MAX_SIG_LEN: usize = 256;

/// id-ecPublicKey
pub const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// sm2p256v1
pub const OID_SM2P256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");
/// prime256v1 / secp256r1
pub const OID_PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// SM3withSM2
pub const OID_SM3_WITH_SM2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
/// ecdsa-with-SHA256
pub const OID_ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

const OID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const OID_KP_EMAIL_PROTECTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
const OID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const OID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_CE_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_CE_AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");

/// DER prefix of an id-ecPublicKey SubjectPublicKeyInfo with an 8-byte named
/// curve OID and a 65-byte uncompressed point:
/// `SEQUENCE(89) { SEQUENCE(19) { OID id-ecPublicKey, OID <curve> }, BIT STRING(66) 00 ... }`.
const SPKI_HEAD: [u8; 13] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
];
/// `OID 1.2.156.10197.1.301` TLV.
const SM2_CURVE_TLV: [u8; 10] = [0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d];
/// `OID 1.2.840.10045.3.1.7` TLV.
const P256_CURVE_TLV: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// BIT STRING header (66 content bytes, 0 unused bits).
const SPKI_BITSTRING_HEAD: [u8; 3] = [0x03, 0x42, 0x00];

// ---------------------------------------------------------------------------
// Errors and basic types
// ---------------------------------------------------------------------------

/// Errors returned by this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    /// Input could not be decoded or is structurally invalid.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// Input exceeds the size limit.
    #[error("input too large: {len} bytes (limit {limit})")]
    TooLarge {
        /// Actual length.
        len: usize,
        /// Limit.
        limit: usize,
    },
    /// Key or signature algorithm (or curve) that this CA does not support.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// Algorithms that must agree do not (e.g. SM2 subject key under a P-256 CA).
    #[error("algorithm mismatch: {0}")]
    AlgorithmMismatch(String),
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// A private or public key is invalid (wrong length, out of range, not on curve).
    #[error("invalid key")]
    InvalidKey,
    /// Certificate does not belong to the given issuer (name or key mismatch).
    #[error("issuer mismatch: {0}")]
    IssuerMismatch(String),
    /// Issuer certificate does not permit this issuance (not a CA, path length, validity).
    #[error("issuer constraint violated: {0}")]
    IssuerConstraint(String),
    /// A caller-supplied parameter (DN, serial, validity, ...) is invalid.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// DER encoding of an output structure failed.
    #[error("encoding error: {0}")]
    Encoding(String),
    /// Signing failed (key or token error).
    #[error("signing failed: {0}")]
    Signing(String),
    /// The operating system random number generator failed.
    #[error("random number generator failure")]
    Rng,
}

type Result<T> = core::result::Result<T, X509Error>;

fn malformed(what: &'static str) -> impl FnOnce(der::Error) -> X509Error {
    move |e| X509Error::Malformed(format!("{what}: {e}"))
}

fn encoding(what: &'static str) -> impl FnOnce(der::Error) -> X509Error {
    move |e| X509Error::Encoding(format!("{what}: {e}"))
}

fn check_len(input: &[u8], limit: usize) -> Result<()> {
    if input.len() > limit {
        return Err(X509Error::TooLarge {
            len: input.len(),
            limit,
        });
    }
    if input.is_empty() {
        return Err(X509Error::Malformed("empty input".into()));
    }
    Ok(())
}

/// Public key algorithm (and the matching signature algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// SM2 on sm2p256v1, signatures SM3withSM2 with the default distid.
    Sm2,
    /// ECDSA on NIST P-256, signatures ecdsa-with-SHA256.
    P256,
}

impl KeyAlg {
    fn name(self) -> &'static str {
        match self {
            KeyAlg::Sm2 => "SM2",
            KeyAlg::P256 => "P-256",
        }
    }

    fn curve_tlv(self) -> &'static [u8; 10] {
        match self {
            KeyAlg::Sm2 => &SM2_CURVE_TLV,
            KeyAlg::P256 => &P256_CURVE_TLV,
        }
    }

    fn sig_oid(self) -> ObjectIdentifier {
        match self {
            KeyAlg::Sm2 => OID_SM3_WITH_SM2,
            KeyAlg::P256 => OID_ECDSA_WITH_SHA256,
        }
    }

    fn sig_alg_id(self) -> AlgorithmIdentifierRef<'static> {
        AlgorithmIdentifierRef {
            oid: self.sig_oid(),
            parameters: None,
        }
    }
}

/// Encodes the canonical SubjectPublicKeyInfo for an uncompressed point.
fn encode_spki(alg: KeyAlg, point: &[u8; 65]) -> Vec<u8> {
    let mut out = Vec::with_capacity(91);
    out.extend_from_slice(&SPKI_HEAD);
    out.extend_from_slice(alg.curve_tlv());
    out.extend_from_slice(&SPKI_BITSTRING_HEAD);
    out.extend_from_slice(point);
    out
}

/// DER SubjectPublicKeyInfo of a P-256 point read from a token, checked on the curve.
pub fn p256_spki_from_point(sec1: &[u8]) -> Result<Vec<u8>> {
    let point = normalize_point(KeyAlg::P256, sec1)?;
    Ok(encode_spki(KeyAlg::P256, &point))
}

/// Validates a SEC1 point for `alg` (on curve, not identity) and returns its
/// uncompressed encoding.
fn normalize_point(alg: KeyAlg, sec1: &[u8]) -> Result<[u8; 65]> {
    let uncompressed: Box<[u8]> = match alg {
        KeyAlg::Sm2 => {
            let pk = sm2::PublicKey::from_sec1_bytes(sec1).map_err(|_| X509Error::InvalidKey)?;
            sm2_uncompressed(&pk)
        }
        KeyAlg::P256 => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1)
                .map_err(|_| X509Error::InvalidKey)?;
            vk.to_sec1_point(false).as_bytes().into()
        }
    };
    <[u8; 65]>::try_from(&*uncompressed).map_err(|_| X509Error::InvalidKey)
}

fn sm2_uncompressed(pk: &sm2::PublicKey) -> Box<[u8]> {
    use sm2::elliptic_curve::sec1::ToSec1Point;
    pk.as_affine().to_sec1_point(false).as_bytes().into()
}

/// A parsed, validated EC public key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PublicKeyInfo {
    alg: KeyAlg,
    point: [u8; 65],
    /// Raw BIT STRING contents as found in the input (for the SKI of foreign certs).
    raw_bits: Vec<u8>,
}

impl PublicKeyInfo {
    fn spki_der(&self) -> Vec<u8> {
        encode_spki(self.alg, &self.point)
    }
}

fn parse_spki_ref(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<PublicKeyInfo> {
    if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
        return Err(X509Error::UnsupportedAlgorithm(format!(
            "public key algorithm {}",
            spki.algorithm.oid
        )));
    }
    let params = spki.algorithm.parameters.ok_or_else(|| {
        X509Error::UnsupportedAlgorithm("EC key without named curve parameter".into())
    })?;
    if params.tag() != Tag::ObjectIdentifier {
        return Err(X509Error::UnsupportedAlgorithm(
            "EC key parameters are not a named curve".into(),
        ));
    }
    let curve: ObjectIdentifier = params
        .decode_as()
        .map_err(malformed("EC curve parameter"))?;
    let alg = if curve == OID_SM2P256V1 {
        KeyAlg::Sm2
    } else if curve == OID_PRIME256V1 {
        KeyAlg::P256
    } else {
        return Err(X509Error::UnsupportedAlgorithm(format!("curve {curve}")));
    };
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| X509Error::Malformed("public key BIT STRING has unused bits".into()))?;
    let point = normalize_point(alg, bits)?;
    Ok(PublicKeyInfo {
        alg,
        point,
        raw_bits: bits.to_vec(),
    })
}

fn parse_spki_der(der: &[u8]) -> Result<PublicKeyInfo> {
    check_len(der, MAX_SPKI_LEN)?;
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(malformed("SubjectPublicKeyInfo"))?;
    parse_spki_ref(&spki)
}

/// Maps a signature AlgorithmIdentifier to the key algorithm it requires.
/// Parameters must be absent for both supported algorithms.
fn sig_alg_of(oid: ObjectIdentifier, has_params: bool) -> Result<KeyAlg> {
    let alg = if oid == OID_SM3_WITH_SM2 {
        KeyAlg::Sm2
    } else if oid == OID_ECDSA_WITH_SHA256 {
        KeyAlg::P256
    } else {
        return Err(X509Error::UnsupportedAlgorithm(format!(
            "signature algorithm {oid}"
        )));
    };
    if has_params {
        return Err(X509Error::Malformed(format!(
            "signature algorithm {oid} must have absent parameters"
        )));
    }
    Ok(alg)
}

fn sig_alg_of_owned(ai: &AlgorithmIdentifierOwned) -> Result<KeyAlg> {
    sig_alg_of(ai.oid, ai.parameters.is_some())
}

/// Verifies a DER signature (SEQUENCE { r, s }) over `msg`.
fn verify_with(key: &PublicKeyInfo, msg: &[u8], sig_der: &[u8]) -> Result<()> {
    if sig_der.len() > MAX_SIG_LEN {
        return Err(X509Error::BadSignature);
    }
    match key.alg {
        KeyAlg::Sm2 => {
            let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, &key.point)
                .map_err(|_| X509Error::InvalidKey)?;
            let sig =
                sm2::dsa::Signature::from_der(sig_der).map_err(|_| X509Error::BadSignature)?;
            vk.verify(msg, &sig).map_err(|_| X509Error::BadSignature)
        }
        KeyAlg::P256 => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.point)
                .map_err(|_| X509Error::InvalidKey)?;
            let sig =
                p256::ecdsa::Signature::from_der(sig_der).map_err(|_| X509Error::BadSignature)?;
            vk.verify(msg, &sig).map_err(|_| X509Error::BadSignature)
        }
    }
}

// ---------------------------------------------------------------------------
// Private keys and the Signer trait
// ---------------------------------------------------------------------------

enum KeyInner {
    Sm2(sm2::dsa::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A CA or seal-maker private key held in memory.
///
/// Opaque so that the cached public point always matches the secret.
pub struct PrivateKey {
    inner: KeyInner,
    point: [u8; 65],
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a fresh key from 32 random bytes (retrying while the scalar
    /// is zero or not below the group order).
    pub fn generate(alg: KeyAlg) -> Result<Self> {
        for _ in 0..64 {
            let mut buf = Zeroizing::new([0u8; 32]);
            getrandom::fill(buf.as_mut_slice()).map_err(|_| X509Error::Rng)?;
            match Self::from_bytes(alg, buf.as_slice()) {
                Ok(k) => return Ok(k),
                Err(X509Error::InvalidKey) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(X509Error::Rng)
    }

    /// Builds a key from a 32-byte big-endian scalar in `[1, n-1]`.
    pub fn from_bytes(alg: KeyAlg, secret: &[u8]) -> Result<Self> {
        if secret.len() != 32 {
            return Err(X509Error::InvalidKey);
        }
        match alg {
            KeyAlg::Sm2 => {
                let sk = sm2::dsa::SigningKey::from_slice(SM2_DEFAULT_DISTID, secret)
                    .map_err(|_| X509Error::InvalidKey)?;
                let pk = sm2::PublicKey::from(sk.verifying_key());
                let point = <[u8; 65]>::try_from(&*sm2_uncompressed(&pk))
                    .map_err(|_| X509Error::InvalidKey)?;
                Ok(Self {
                    inner: KeyInner::Sm2(sk),
                    point,
                })
            }
            KeyAlg::P256 => {
                let sk = p256::ecdsa::SigningKey::from_slice(secret)
                    .map_err(|_| X509Error::InvalidKey)?;
                let point =
                    <[u8; 65]>::try_from(sk.verifying_key().to_sec1_point(false).as_bytes())
                        .map_err(|_| X509Error::InvalidKey)?;
                Ok(Self {
                    inner: KeyInner::P256(sk),
                    point,
                })
            }
        }
    }

    /// The 32-byte secret scalar (zeroized on drop).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        match &self.inner {
            KeyInner::Sm2(k) => {
                let b = Zeroizing::new(k.to_bytes());
                out.copy_from_slice(b.as_slice());
            }
            KeyInner::P256(k) => {
                let b = Zeroizing::new(k.to_bytes());
                out.copy_from_slice(b.as_slice());
            }
        }
        out
    }

    /// Key algorithm.
    pub fn alg(&self) -> KeyAlg {
        match self.inner {
            KeyInner::Sm2(_) => KeyAlg::Sm2,
            KeyInner::P256(_) => KeyAlg::P256,
        }
    }

    /// Uncompressed SEC1 public point (`04 || X || Y`).
    pub fn public_point(&self) -> [u8; 65] {
        self.point
    }

    /// DER SubjectPublicKeyInfo (id-ecPublicKey, named curve, uncompressed point).
    pub fn spki_der(&self) -> Vec<u8> {
        encode_spki(self.alg(), &self.point)
    }

    /// DER signature `SEQUENCE { r, s }` over `msg`: SM3withSM2 with the
    /// default distid, or ECDSA over SHA-256 (RFC 6979 nonces in both cases).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            KeyInner::Sm2(k) => {
                let sig: sm2::dsa::Signature = signature::Signer::try_sign(k, msg)
                    .map_err(|e| X509Error::Signing(format!("SM2: {e}")))?;
                Ok(sig.to_der().to_vec())
            }
            KeyInner::P256(k) => {
                let sig: p256::ecdsa::Signature = signature::Signer::try_sign(k, msg)
                    .map_err(|e| X509Error::Signing(format!("P-256: {e}")))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }
}

/// Something that signs like a CA key (the in-memory key above, or later a
/// PKCS#11 key).
pub trait Signer {
    /// Key algorithm; determines the signature algorithm.
    fn alg(&self) -> KeyAlg;
    /// DER SubjectPublicKeyInfo of the signing key.
    fn spki_der(&self) -> Vec<u8>;
    /// DER `SEQUENCE { r, s }` signature over `msg` (SM3withSM2 with the
    /// default distid, or ECDSA-SHA256).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>>;
}

impl Signer for PrivateKey {
    fn alg(&self) -> KeyAlg {
        PrivateKey::alg(self)
    }
    fn spki_der(&self) -> Vec<u8> {
        PrivateKey::spki_der(self)
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        PrivateKey::sign(self, msg)
    }
}

/// Parses and checks the signer's public key against its declared algorithm.
fn signer_key(signer: &dyn Signer) -> Result<PublicKeyInfo> {
    let key = parse_spki_der(&signer.spki_der())?;
    if key.alg != signer.alg() {
        return Err(X509Error::InvalidKey);
    }
    Ok(key)
}

// ---------------------------------------------------------------------------
// Names, validity, serials
// ---------------------------------------------------------------------------

/// Supported distinguished name attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnAttr {
    /// countryName (2.5.4.6), PrintableString, two upper-case letters.
    C,
    /// organizationName (2.5.4.10), UTF8String.
    O,
    /// organizationalUnitName (2.5.4.11), UTF8String.
    OU,
    /// commonName (2.5.4.3), UTF8String.
    CN,
    /// serialNumber (2.5.4.5), PrintableString.
    SerialNumber,
    /// localityName (2.5.4.7), UTF8String.
    L,
    /// stateOrProvinceName (2.5.4.8), UTF8String.
    ST,
}

impl DnAttr {
    fn oid(self) -> ObjectIdentifier {
        ObjectIdentifier::new_unwrap(match self {
            DnAttr::C => "2.5.4.6",
            DnAttr::O => "2.5.4.10",
            DnAttr::OU => "2.5.4.11",
            DnAttr::CN => "2.5.4.3",
            DnAttr::SerialNumber => "2.5.4.5",
            DnAttr::L => "2.5.4.7",
            DnAttr::ST => "2.5.4.8",
        })
    }

    /// Checks one value as issuance does: not blank, at most the X.520 upper bound in
    /// characters, no control characters, and the string type's alphabet. Production and
    /// orders call this too, so that an order is never taken for a name that cannot be
    /// issued.
    pub fn check_value(self, value: &str) -> Result<()> {
        let bad = |why: String| X509Error::InvalidParameter(format!("{self:?}: {why}"));
        let chars = value.chars().count();
        if value.trim().is_empty() {
            return Err(bad("empty value".into()));
        }
        if chars > self.max_chars() {
            return Err(bad(format!(
                "value too long ({chars} characters, at most {})",
                self.max_chars()
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(bad("control character".into()));
        }
        match self {
            DnAttr::C if chars != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()) => {
                Err(bad("must be two upper-case letters (ISO 3166)".into()))
            }
            DnAttr::SerialNumber if der::asn1::PrintableStringRef::new(value).is_err() => {
                Err(bad("not a PrintableString".into()))
            }
            _ => Ok(()),
        }
    }

    /// Upper bound in characters (RFC 5280 Appendix A).
    pub fn max_chars(self) -> usize {
        match self {
            DnAttr::C => 2,
            DnAttr::O | DnAttr::OU | DnAttr::CN | DnAttr::SerialNumber => 64,
            DnAttr::L | DnAttr::ST => 128,
        }
    }
}

/// A distinguished name given as ordered (attribute, value) pairs, one
/// attribute per RDN. C and serialNumber are PrintableString, the rest
/// UTF8String.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnSpec(pub Vec<(DnAttr, String)>);

impl DnSpec {
    /// DER encoding of the Name (RDNSequence).
    pub fn to_der(&self) -> Result<Vec<u8>> {
        if self.0.is_empty() {
            return Err(X509Error::InvalidParameter(
                "empty distinguished name".into(),
            ));
        }
        if self.0.len() > 32 {
            return Err(X509Error::InvalidParameter(
                "too many name attributes".into(),
            ));
        }
        let mut rdns = Vec::with_capacity(self.0.len());
        for (attr, value) in &self.0 {
            attr.check_value(value)?;
            let any = match attr {
                DnAttr::C | DnAttr::SerialNumber => {
                    Any::new(Tag::PrintableString, value.as_bytes())
                }
                _ => Any::new(Tag::Utf8String, value.as_bytes()),
            }
            .map_err(encoding("name attribute"))?;
            let atv = AttributeTypeAndValue {
                oid: attr.oid(),
                value: any,
            };
            rdns.push(RelativeDistinguishedName::try_from(vec![atv]).map_err(encoding("RDN"))?);
        }
        RdnSequence::from(rdns).to_der().map_err(encoding("Name"))
    }
}

/// Certificate validity. Times are converted to UTC and truncated to whole
/// seconds; encoded as UTCTime through 2049 and GeneralizedTime from 2050
/// (RFC 5280 §4.1.2.5). Supported years: 1970..=9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore
    pub not_before: OffsetDateTime,
    /// notAfter
    pub not_after: OffsetDateTime,
}

fn to_x509_time(t: OffsetDateTime, which: &str) -> Result<Time> {
    let bad = |why: &str| X509Error::InvalidParameter(format!("{which}: {why}"));
    let dt = certkey_seal::der_datetime(t).ok_or_else(|| bad("year must be within 1970..=9999"))?;
    if dt.year() < 2050 {
        UtcTime::from_date_time(dt)
            .map(Time::UtcTime)
            .map_err(|_| bad("not representable as UTCTime"))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

fn to_x509_validity(v: &Validity) -> Result<(x509_cert::time::Validity, u64, u64)> {
    let nb = to_x509_time(v.not_before, "notBefore")?;
    let na = to_x509_time(v.not_after, "notAfter")?;
    let nb_s = nb.to_unix_duration().as_secs();
    let na_s = na.to_unix_duration().as_secs();
    if nb_s >= na_s {
        return Err(X509Error::InvalidParameter(
            "notBefore must be before notAfter".into(),
        ));
    }
    Ok((x509_cert::time::Validity::new(nb, na), nb_s, na_s))
}

/// Interprets `serial` as an unsigned big-endian integer; it must be
/// non-zero and encode in at most 20 octets.
fn to_serial(serial: &[u8]) -> Result<SerialNumber> {
    if serial.is_empty() || serial.iter().all(|b| *b == 0) {
        return Err(X509Error::InvalidParameter(
            "serial number must be a positive integer".into(),
        ));
    }
    if serial.len() > 64 {
        return Err(X509Error::InvalidParameter("serial number too long".into()));
    }
    SerialNumber::new(serial)
        .map_err(|_| X509Error::InvalidParameter("serial number longer than 20 octets".into()))
}

/// Random 16-byte positive serial (high bit cleared, non-zero first byte).
pub fn random_serial() -> Result<[u8; 16]> {
    for _ in 0..64 {
        let mut buf = [0u8; 16];
        getrandom::fill(&mut buf).map_err(|_| X509Error::Rng)?;
        if let Some(first) = buf.first_mut() {
            *first &= 0x7f;
            if *first != 0 {
                return Ok(buf);
            }
        }
    }
    Err(X509Error::Rng)
}

// ---------------------------------------------------------------------------
// DER structures
// ---------------------------------------------------------------------------

/// Outer shape shared by Certificate and CertificationRequest, keeping the
/// signed part as raw bytes.
#[derive(Sequence)]
struct SignedRaw<'a> {
    tbs: AnyRef<'a>,
    algorithm: AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
}

impl<'a> SignedRaw<'a> {
    fn parse(der: &'a [u8], what: &'static str) -> Result<Self> {
        let raw = SignedRaw::from_der(der).map_err(malformed(what))?;
        if raw.tbs.tag() != Tag::Sequence {
            return Err(X509Error::Malformed(format!(
                "{what}: signed part is not a SEQUENCE"
            )));
        }
        Ok(raw)
    }

    fn tbs_der(&self) -> Result<Vec<u8>> {
        self.tbs.to_der().map_err(malformed("signed part"))
    }

    fn signature_bytes(&self) -> Result<&'a [u8]> {
        self.signature
            .as_bytes()
            .ok_or_else(|| X509Error::Malformed("signature BIT STRING has unused bits".into()))
    }
}

#[derive(Sequence)]
struct TbsOut<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: Version,
    serial_number: SerialNumber,
    signature: AlgorithmIdentifierRef<'a>,
    issuer: AnyRef<'a>,
    validity: x509_cert::time::Validity,
    subject: AnyRef<'a>,
    subject_public_key_info: AnyRef<'a>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT")]
    extensions: Vec<Extension>,
}

#[derive(Sequence)]
struct CertOut<'a> {
    tbs: AnyRef<'a>,
    signature_algorithm: AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
}

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

/// A parsed certificate together with the raw signed bytes.
struct ParsedCert<'a> {
    cert: Certificate,
    raw: SignedRaw<'a>,
    key: PublicKeyInfo,
}

fn parse_cert(der: &[u8]) -> Result<ParsedCert<'_>> {
    check_len(der, MAX_CERT_LEN)?;
    let cert = Certificate::from_der(der).map_err(malformed("certificate"))?;
    let raw = SignedRaw::parse(der, "certificate")?;
    let spki_der = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(malformed("certificate public key"))?;
    let spki = SubjectPublicKeyInfoRef::from_der(&spki_der)
        .map_err(malformed("certificate public key"))?;
    let key = parse_spki_ref(&spki)?;
    Ok(ParsedCert { cert, raw, key })
}

fn name_der(cert: &Certificate, subject: bool) -> Result<Vec<u8>> {
    let tbs = cert.tbs_certificate();
    let name = if subject { tbs.subject() } else { tbs.issuer() };
    name.to_der().map_err(malformed("certificate name"))
}

/// What kind of certificate to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Certificate holder: digitalSignature + nonRepudiation; EKU clientAuth + emailProtection.
    Holder,
    /// Seal maker: digitalSignature + nonRepudiation.
    SealMaker,
}

#[derive(Debug, Clone, Copy)]
enum Profile {
    Ca { path_len: Option<u8> },
    Leaf(Usage),
}

fn make_ext<T: Encode>(oid: ObjectIdentifier, critical: bool, value: &T) -> Result<Extension> {
    let inner = value.to_der().map_err(encoding("extension"))?;
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(inner).map_err(encoding("extension"))?,
    })
}

fn build_extensions(
    profile: Profile,
    subject_ski: &[u8],
    authority_ki: &[u8],
) -> Result<Vec<Extension>> {
    let mut exts = Vec::with_capacity(5);
    let (bc, ku) = match profile {
        Profile::Ca { path_len } => (
            BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
            KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        ),
        Profile::Leaf(_) => (
            BasicConstraints {
                ca: false,
                path_len_constraint: None,
            },
            KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
        ),
    };
    exts.push(make_ext(OID_CE_BASIC_CONSTRAINTS, true, &bc)?);
    exts.push(make_ext(OID_CE_KEY_USAGE, true, &ku)?);
    if let Profile::Leaf(Usage::Holder) = profile {
        let eku = ExtendedKeyUsage(vec![OID_KP_CLIENT_AUTH, OID_KP_EMAIL_PROTECTION]);
        exts.push(make_ext(OID_CE_EXT_KEY_USAGE, false, &eku)?);
    }
    let ski = SubjectKeyIdentifier(
        OctetString::new(subject_ski.to_vec()).map_err(encoding("subjectKeyIdentifier"))?,
    );
    exts.push(make_ext(OID_CE_SUBJECT_KEY_ID, false, &ski)?);
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(
            OctetString::new(authority_ki.to_vec()).map_err(encoding("authorityKeyIdentifier"))?,
        ),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    exts.push(make_ext(OID_CE_AUTHORITY_KEY_ID, false, &aki)?);
    Ok(exts)
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
fn key_id(bits: &[u8]) -> Vec<u8> {
    Sha1::digest(bits).to_vec()
}

struct IssueParams<'a> {
    issuer_name_der: &'a [u8],
    issuer_key: &'a PublicKeyInfo,
    authority_ki: &'a [u8],
    subject_name_der: &'a [u8],
    subject_key: &'a PublicKeyInfo,
    serial: &'a [u8],
    validity: x509_cert::time::Validity,
    profile: Profile,
}

/// Assembles TBS, signs it, assembles and self-checks the certificate.
fn assemble_and_sign(signer: &dyn Signer, p: IssueParams<'_>) -> Result<Vec<u8>> {
    let alg = p.issuer_key.alg;
    let subject_spki = p.subject_key.spki_der();
    let subject_ski = key_id(&p.subject_key.point);
    let tbs = TbsOut {
        version: Version::V3,
        serial_number: to_serial(p.serial)?,
        signature: alg.sig_alg_id(),
        issuer: AnyRef::from_der(p.issuer_name_der).map_err(malformed("issuer name"))?,
        validity: p.validity,
        subject: AnyRef::from_der(p.subject_name_der).map_err(malformed("subject name"))?,
        subject_public_key_info: AnyRef::from_der(&subject_spki)
            .map_err(encoding("subject public key"))?,
        extensions: build_extensions(p.profile, &subject_ski, p.authority_ki)?,
    };
    let tbs_der = tbs.to_der().map_err(encoding("TBSCertificate"))?;
    let sig = signer.sign(&tbs_der)?;
    // Never hand out a certificate whose signature does not verify (wrong
    // key, faulty token, distid mix-up, ...).
    verify_with(p.issuer_key, &tbs_der, &sig).map_err(|e| match e {
        X509Error::BadSignature => {
            X509Error::Signing("signer produced a signature that does not verify".into())
        }
        other => other,
    })?;
    let cert = CertOut {
        tbs: AnyRef::from_der(&tbs_der).map_err(encoding("TBSCertificate"))?,
        signature_algorithm: alg.sig_alg_id(),
        signature: BitStringRef::from_bytes(&sig).map_err(encoding("signature"))?,
    };
    let der = cert.to_der().map_err(encoding("Certificate"))?;
    // Self-check: the result parses with x509-cert and re-encodes identically.
    let parsed = Certificate::from_der(&der).map_err(encoding("issued certificate re-parse"))?;
    if parsed
        .to_der()
        .map_err(encoding("issued certificate re-encode"))?
        != der
    {
        return Err(X509Error::Encoding(
            "issued certificate does not round-trip".into(),
        ));
    }
    Ok(der)
}

/// Creates a self-signed CA certificate for `key`.
pub fn self_signed_ca(
    key: &dyn Signer,
    subject: &DnSpec,
    serial: &[u8],
    validity: Validity,
    path_len: Option<u8>,
) -> Result<Vec<u8>> {
    let pk = signer_key(key)?;
    let name = subject.to_der()?;
    let (validity, _, _) = to_x509_validity(&validity)?;
    let ski = key_id(&pk.point);
    assemble_and_sign(
        key,
        IssueParams {
            issuer_name_der: &name,
            issuer_key: &pk,
            authority_ki: &ski,
            subject_name_der: &name,
            subject_key: &pk,
            serial,
            validity,
            profile: Profile::Ca { path_len },
        },
    )
}

/// Issuer-side checks shared by [`issue_ca`] and [`issue_leaf`].
#[allow(clippy::too_many_arguments)]
fn issue_under(
    issuer_cert_der: &[u8],
    issuer_key: &dyn Signer,
    subject: &DnSpec,
    subject_spki_der: &[u8],
    serial: &[u8],
    validity: Validity,
    profile: Profile,
) -> Result<Vec<u8>> {
    let issuer = parse_cert(issuer_cert_der)?;
    // Strict DER is required so that the issuer name is copied exactly.
    let reencoded = issuer
        .cert
        .to_der()
        .map_err(malformed("issuer certificate"))?;
    if reencoded != issuer_cert_der {
        return Err(X509Error::Malformed(
            "issuer certificate is not strict DER".into(),
        ));
    }
    let tbs = issuer.cert.tbs_certificate();

    // The signer must hold the issuer certificate's key.
    let signer_pk = signer_key(issuer_key)?;
    if signer_pk.alg != issuer.key.alg || signer_pk.point != issuer.key.point {
        return Err(X509Error::IssuerMismatch(
            "signing key does not match the issuer certificate".into(),
        ));
    }

    // The issuer must be a CA allowed to sign certificates.
    let bc = tbs
        .get_extension::<BasicConstraints>()
        .map_err(malformed("issuer basicConstraints"))?;
    let issuer_path_len = match bc {
        Some((_, bc)) if bc.ca => bc.path_len_constraint,
        _ => {
            return Err(X509Error::IssuerConstraint(
                "issuer certificate is not a CA".into(),
            ))
        }
    };
    if let Some((_, ku)) = tbs
        .get_extension::<KeyUsage>()
        .map_err(malformed("issuer keyUsage"))?
    {
        if !ku.key_cert_sign() {
            return Err(X509Error::IssuerConstraint(
                "issuer keyUsage lacks keyCertSign".into(),
            ));
        }
    }
    if let Profile::Ca { path_len } = profile {
        if let Some(max) = issuer_path_len {
            if max == 0 {
                return Err(X509Error::IssuerConstraint(
                    "issuer pathLenConstraint is 0; it cannot issue CA certificates".into(),
                ));
            }
            match path_len {
                Some(n) if n < max => {}
                _ => {
                    return Err(X509Error::IssuerConstraint(format!(
                        "subordinate CA pathLenConstraint must be at most {}",
                        max.saturating_sub(1)
                    )))
                }
            }
        }
    }

    // Subject key: same algorithm as the issuer, no mixing.
    let subject_key = parse_spki_der(subject_spki_der)?;
    if subject_key.alg != issuer.key.alg {
        return Err(X509Error::AlgorithmMismatch(format!(
            "{} subject key under a {} issuer",
            subject_key.alg.name(),
            issuer.key.alg.name()
        )));
    }

    let (validity, _, not_after) = to_x509_validity(&validity)?;
    let issuer_not_after = tbs.validity().not_after.to_unix_duration().as_secs();
    if not_after > issuer_not_after {
        return Err(X509Error::IssuerConstraint(
            "notAfter is later than the issuer certificate's notAfter".into(),
        ));
    }

    let authority_ki = match tbs
        .get_extension::<SubjectKeyIdentifier>()
        .map_err(malformed("issuer subjectKeyIdentifier"))?
    {
        Some((_, ski)) if !ski.0.as_bytes().is_empty() => ski.0.as_bytes().to_vec(),
        _ => key_id(&issuer.key.raw_bits),
    };
    let issuer_name = name_der(&issuer.cert, true)?;
    let subject_name = subject.to_der()?;
    assemble_and_sign(
        issuer_key,
        IssueParams {
            issuer_name_der: &issuer_name,
            issuer_key: &issuer.key,
            authority_ki: &authority_ki,
            subject_name_der: &subject_name,
            subject_key: &subject_key,
            serial,
            validity,
            profile,
        },
    )
}

/// Issues a subordinate CA certificate.
pub fn issue_ca(
    issuer_cert_der: &[u8],
    issuer_key: &dyn Signer,
    subject: &DnSpec,
    subject_spki_der: &[u8],
    serial: &[u8],
    validity: Validity,
    path_len: Option<u8>,
) -> Result<Vec<u8>> {
    issue_under(
        issuer_cert_der,
        issuer_key,
        subject,
        subject_spki_der,
        serial,
        validity,
        Profile::Ca { path_len },
    )
}

/// Issues an end-entity certificate.
pub fn issue_leaf(
    issuer_cert_der: &[u8],
    issuer_key: &dyn Signer,
    subject: &DnSpec,
    subject_spki_der: &[u8],
    serial: &[u8],
    validity: Validity,
    usage: Usage,
) -> Result<Vec<u8>> {
    issue_under(
        issuer_cert_der,
        issuer_key,
        subject,
        subject_spki_der,
        serial,
        validity,
        Profile::Leaf(usage),
    )
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// A verified PKCS#10 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// Key algorithm.
    pub alg: KeyAlg,
    /// Canonical DER SubjectPublicKeyInfo (uncompressed point, named curve).
    pub spki_der: Vec<u8>,
    /// Uncompressed public point.
    pub public_point: [u8; 65],
    /// DER of the requested subject Name.
    pub subject_der: Vec<u8>,
}

/// Parses a DER CSR (at most 8 KiB, no trailing bytes), checks it is SM2
/// (SM3withSM2, default distid) or P-256 (ECDSA-SHA256) and that its
/// self-signature verifies; anything else is an error.
pub fn verify_csr(der: &[u8]) -> Result<Csr> {
    check_len(der, MAX_CSR_LEN)?;
    let req = CertReq::from_der(der).map_err(malformed("certification request"))?;
    let raw = SignedRaw::parse(der, "certification request")?;
    let spki_der = req
        .info
        .public_key
        .to_der()
        .map_err(malformed("request public key"))?;
    let spki =
        SubjectPublicKeyInfoRef::from_der(&spki_der).map_err(malformed("request public key"))?;
    let key = parse_spki_ref(&spki)?;
    let sig_alg = sig_alg_of_owned(&req.algorithm)?;
    if sig_alg != key.alg {
        return Err(X509Error::AlgorithmMismatch(format!(
            "{} key with {} signature algorithm",
            key.alg.name(),
            req.algorithm.oid
        )));
    }
    verify_with(&key, &raw.tbs_der()?, raw.signature_bytes()?)?;
    let subject_der = req
        .info
        .subject
        .to_der()
        .map_err(malformed("request subject"))?;
    Ok(Csr {
        alg: key.alg,
        spki_der: key.spki_der(),
        public_point: key.point,
        subject_der,
    })
}

/// Verifies `cert_der`'s signature with the issuer certificate's key (same
/// two algorithms). Also requires the certificate's issuer name to equal the
/// issuer certificate's subject and both signatureAlgorithm fields to agree.
pub fn verify_cert_signature(cert_der: &[u8], issuer_der: &[u8]) -> Result<()> {
    let cert = parse_cert(cert_der)?;
    let issuer = parse_cert(issuer_der)?;
    let tbs = cert.cert.tbs_certificate();
    if tbs.signature() != cert.cert.signature_algorithm() {
        return Err(X509Error::Malformed(
            "signatureAlgorithm differs from TBSCertificate.signature".into(),
        ));
    }
    let sig_alg = sig_alg_of_owned(cert.cert.signature_algorithm())?;
    if name_der(&cert.cert, false)? != name_der(&issuer.cert, true)? {
        return Err(X509Error::IssuerMismatch(
            "issuer name does not match the issuer certificate's subject".into(),
        ));
    }
    if sig_alg != issuer.key.alg {
        return Err(X509Error::AlgorithmMismatch(format!(
            "{} signature with a {} issuer key",
            sig_alg.name(),
            issuer.key.alg.name()
        )));
    }
    verify_with(
        &issuer.key,
        &cert.raw.tbs_der()?,
        cert.raw.signature_bytes()?,
    )
}

/// The SubjectPublicKeyInfo (DER) of a certificate, after checking it is an SM2 or
/// P-256 key.
pub fn cert_spki(cert_der: &[u8]) -> Result<Vec<u8>> {
    Ok(parse_cert(cert_der)?.key.spki_der())
}

/// The serial number of a certificate as lowercase hex without leading zero bytes.
pub fn cert_serial_hex(cert_der: &[u8]) -> Result<String> {
    let cert = parse_cert(cert_der)?;
    let bytes = cert.cert.tbs_certificate().serial_number().as_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Ok(hex::encode(bytes.get(first..).unwrap_or_default()))
}

/// Verifies a detached DER signature over `msg` by the key in `spki_der`
/// (SM3withSM2 with the default distid, or ECDSA-SHA256).
pub fn verify_signature(spki_der: &[u8], msg: &[u8], sig_der: &[u8]) -> Result<()> {
    let key = parse_spki_der(spki_der)?;
    verify_with(&key, msg, sig_der)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Output};
    use time::{Date, Month, PrimitiveDateTime, Time as TTime};

    // ----- helpers --------------------------------------------------------

    fn at(y: i32, m: u8, d: u8, hh: u8, mm: u8, ss: u8) -> OffsetDateTime {
        PrimitiveDateTime::new(
            Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap(),
            TTime::from_hms(hh, mm, ss).unwrap(),
        )
        .assume_utc()
    }

    fn day(y: i32, m: u8, d: u8) -> OffsetDateTime {
        at(y, m, d, 0, 0, 0)
    }

    fn val(nb: OffsetDateTime, na: OffsetDateTime) -> Validity {
        Validity {
            not_before: nb,
            not_after: na,
        }
    }

    fn dn(parts: &[(DnAttr, &str)]) -> DnSpec {
        DnSpec(parts.iter().map(|(a, v)| (*a, v.to_string())).collect())
    }

    fn openssl(dir: &Path, args: &[&str]) -> Output {
        Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl must be installed")
    }

    fn openssl_ok(dir: &Path, args: &[&str]) -> String {
        let o = openssl(dir, args);
        assert!(
            o.status.success(),
            "openssl {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Writes `<name>.der` and converts it to `<name>.pem` with OpenSSL.
    fn write_cert(dir: &Path, name: &str, der: &[u8]) {
        let d = format!("{name}.der");
        let p = format!("{name}.pem");
        std::fs::write(dir.join(&d), der).unwrap();
        openssl_ok(dir, &["x509", "-inform", "DER", "-in", &d, "-out", &p]);
    }

    fn read(dir: &Path, name: &str) -> Vec<u8> {
        std::fs::read(dir.join(name)).unwrap()
    }

    /// 2025-06-01T00:00:00Z: inside every validity period used below, so the
    /// OpenSSL checks do not depend on the wall clock.
    const ATTIME: &str = "1748736000";

    const HOLDER_SUBJ: &str = "/C=CN/O=广东测试有限公司/CN=张三";

    /// `openssl genpkey` + `openssl req`; returns the DER CSR.
    fn openssl_csr(dir: &Path, name: &str, genpkey: &[&str], req_opts: &[&str]) -> Vec<u8> {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let mut g = vec!["genpkey"];
        g.extend_from_slice(genpkey);
        g.extend_from_slice(&["-out", &key]);
        openssl_ok(dir, &g);
        let mut r = vec!["req", "-new", "-key", &key, "-utf8", "-subj", HOLDER_SUBJ];
        r.extend_from_slice(req_opts);
        r.extend_from_slice(&["-outform", "DER", "-out", &csr]);
        openssl_ok(dir, &r);
        read(dir, &csr)
    }

    fn sm2_csr(dir: &Path, name: &str, with_distid: bool) -> Vec<u8> {
        let mut opts = vec!["-sm3"];
        if with_distid {
            opts.extend_from_slice(&["-sigopt", "distid:1234567812345678"]);
        }
        openssl_csr(dir, name, &["-algorithm", "SM2"], &opts)
    }

    fn ec_csr(dir: &Path, name: &str, curve: &str, md: &str) -> Vec<u8> {
        let pkeyopt = format!("ec_paramgen_curve:{curve}");
        openssl_csr(
            dir,
            name,
            &["-algorithm", "EC", "-pkeyopt", &pkeyopt],
            &[md],
        )
    }

    fn holder_dn() -> DnSpec {
        dn(&[
            (DnAttr::C, "CN"),
            (DnAttr::O, "广东测试有限公司"),
            (DnAttr::CN, "张三"),
        ])
    }

    /// Tiny deterministic PRNG for the mutation tests.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % (n.max(1) as u64)) as usize
        }
    }

    fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        let rounds = 1 + rng.below(4);
        for _ in 0..rounds {
            match rng.below(6) {
                0 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
                1 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
                2 => {
                    let n = rng.below(v.len() + 1);
                    v.truncate(n);
                }
                3 => {
                    let i = rng.below(v.len() + 1);
                    v.insert(i, rng.next() as u8);
                }
                4 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v.remove(i);
                }
                _ if !v.is_empty() => {
                    // length-byte style edits: set a byte to a "special" value
                    let i = rng.below(v.len());
                    v[i] = [0x00, 0x7f, 0x80, 0x81, 0x82, 0xff][rng.below(6)];
                }
                _ => v.push(rng.next() as u8),
            }
        }
        v
    }

    struct Chain {
        root_key: PrivateKey,
        root: Vec<u8>,
        ica_key: PrivateKey,
        ica: Vec<u8>,
    }

    fn build_chain(alg: KeyAlg, label: &str) -> Chain {
        let root_key = PrivateKey::generate(alg).unwrap();
        let root_dn = dn(&[
            (DnAttr::C, "CN"),
            (DnAttr::O, "certkey 测试"),
            (DnAttr::CN, &format!("certkey {label} Root CA")),
        ]);
        // notAfter in 2055 exercises GeneralizedTime.
        let root = self_signed_ca(
            &root_key,
            &root_dn,
            &random_serial().unwrap(),
            val(day(2024, 1, 1), day(2055, 1, 1)),
            Some(1),
        )
        .unwrap();
        let ica_key = PrivateKey::generate(alg).unwrap();
        let ica_dn = dn(&[
            (DnAttr::C, "CN"),
            (DnAttr::ST, "广东省"),
            (DnAttr::L, "广州市"),
            (DnAttr::O, "certkey 测试"),
            (DnAttr::OU, "证书服务部"),
            (DnAttr::CN, &format!("certkey {label} Issuing CA")),
        ]);
        let ica = issue_ca(
            &root,
            &root_key,
            &ica_dn,
            &ica_key.spki_der(),
            &random_serial().unwrap(),
            val(day(2024, 6, 1), day(2050, 6, 1)),
            Some(0),
        )
        .unwrap();
        Chain {
            root_key,
            root,
            ica_key,
            ica,
        }
    }

    fn ext_value(cert: &Certificate, oid: ObjectIdentifier) -> Option<&Extension> {
        cert.tbs_certificate()
            .extensions()
            .and_then(|e| e.iter().find(|x| x.extn_id == oid))
    }

    fn ski_of(cert: &Certificate) -> Vec<u8> {
        cert.tbs_certificate()
            .get_extension::<SubjectKeyIdentifier>()
            .unwrap()
            .unwrap()
            .1
             .0
            .as_bytes()
            .to_vec()
    }

    fn aki_of(cert: &Certificate) -> Vec<u8> {
        cert.tbs_certificate()
            .get_extension::<AuthorityKeyIdentifier>()
            .unwrap()
            .unwrap()
            .1
            .key_identifier
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    /// Common checks of a chain + leaf with OpenSSL and with this module.
    fn check_chain_with_openssl(
        dir: &Path,
        chain: &Chain,
        leaf: &[u8],
        vfyopt: &[&str],
        sig_name: &str,
    ) {
        write_cert(dir, "root", &chain.root);
        write_cert(dir, "issuing", &chain.ica);
        write_cert(dir, "leaf", leaf);

        let alg = Certificate::from_der(&chain.root)
            .map(|c| sig_alg_of_owned(c.signature_algorithm()).unwrap())
            .unwrap();
        // The command from the brief. OpenSSL 3.0 applies -vfyopt only to the
        // target certificate (openssl/openssl#23471), so for SM2 it checks the
        // intermediate's signature with the empty distid and fails on any
        // GM/T-conformant chain. Log it; the links are checked one by one below.
        let mut args = vec!["verify", "-attime", ATTIME];
        args.extend_from_slice(vfyopt);
        args.extend_from_slice(&[
            "-x509_strict",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ]);
        if alg == KeyAlg::P256 {
            let out = openssl_ok(dir, &args);
            assert_eq!(out.trim(), "leaf.pem: OK", "{out}");
            let out = openssl_ok(
                dir,
                &[
                    "verify",
                    "-attime",
                    ATTIME,
                    "-x509_strict",
                    "-check_ss_sig",
                    "-CAfile",
                    "root.pem",
                    "-untrusted",
                    "issuing.pem",
                    "leaf.pem",
                ],
            );
            assert_eq!(out.trim(), "leaf.pem: OK", "{out}");
        } else {
            let o = openssl(dir, &args);
            eprintln!(
                "openssl {args:?}: {:?}\n{}{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            // Link root -> issuing CA (the issuing CA is the target).
            let mut a = vec!["verify", "-attime", ATTIME];
            a.extend_from_slice(vfyopt);
            a.extend_from_slice(&["-x509_strict", "-CAfile", "root.pem", "issuing.pem"]);
            assert_eq!(openssl_ok(dir, &a).trim(), "issuing.pem: OK");
            // Link issuing CA -> leaf (issuing CA as partial-chain anchor).
            let mut a = vec!["verify", "-attime", ATTIME];
            a.extend_from_slice(vfyopt);
            a.extend_from_slice(&[
                "-x509_strict",
                "-partial_chain",
                "-CAfile",
                "issuing.pem",
                "leaf.pem",
            ]);
            assert_eq!(openssl_ok(dir, &a).trim(), "leaf.pem: OK");
        }
        // Every signature (including the root's self-signature) verified by
        // OpenSSL's raw signature API with the default distid, and NOT with
        // OpenSSL 3.0's implicit (empty) distid.
        for (name, cert, issuer) in [
            ("root", &chain.root, "root"),
            ("issuing", &chain.ica, "root"),
            ("leaf", &leaf.to_vec(), "issuing"),
        ] {
            let raw = SignedRaw::parse(cert, "cert").unwrap();
            std::fs::write(dir.join(format!("{name}.tbs")), raw.tbs_der().unwrap()).unwrap();
            std::fs::write(
                dir.join(format!("{name}.sig")),
                raw.signature_bytes().unwrap(),
            )
            .unwrap();
            let pubkey = openssl_ok(
                dir,
                &["x509", "-in", &format!("{issuer}.pem"), "-noout", "-pubkey"],
            );
            std::fs::write(dir.join(format!("{issuer}.pub")), pubkey).unwrap();
            let tbs = format!("{name}.tbs");
            let sig = format!("{name}.sig");
            let key = format!("{issuer}.pub");
            let md = if alg == KeyAlg::Sm2 {
                "-sm3"
            } else {
                "-sha256"
            };
            let mut a = vec!["dgst", md, "-verify", &key, "-signature", &sig];
            if alg == KeyAlg::Sm2 {
                let o = openssl(dir, &[&a[..], &[&tbs[..]]].concat());
                assert!(
                    !o.status.success(),
                    "{name}: verified with the empty distid"
                );
                a.extend_from_slice(&["-sigopt", "distid:1234567812345678"]);
            }
            a.push(&tbs);
            let out = openssl_ok(dir, &a);
            assert!(out.contains("Verified OK"), "{name}: {out}");
        }

        let root_txt = openssl_ok(dir, &["x509", "-in", "root.pem", "-noout", "-text"]);
        assert!(root_txt.contains("CA:TRUE, pathlen:1"), "{root_txt}");
        let ica_txt = openssl_ok(dir, &["x509", "-in", "issuing.pem", "-noout", "-text"]);
        let leaf_txt = openssl_ok(dir, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
        for t in [&root_txt, &ica_txt, &leaf_txt] {
            assert!(t.contains("Version: 3 (0x2)"), "{t}");
            assert!(t.contains(sig_name), "{t}");
            assert!(t.contains("X509v3 Basic Constraints: critical"), "{t}");
            assert!(t.contains("X509v3 Key Usage: critical"), "{t}");
            assert!(t.contains("X509v3 Subject Key Identifier"), "{t}");
            assert!(t.contains("X509v3 Authority Key Identifier"), "{t}");
        }
        for t in [&root_txt, &ica_txt] {
            assert!(t.contains("Certificate Sign, CRL Sign"), "{t}");
        }
        assert!(ica_txt.contains("CA:TRUE, pathlen:0"), "{ica_txt}");
        assert!(leaf_txt.contains("CA:FALSE"), "{leaf_txt}");
        assert!(
            leaf_txt.contains("Digital Signature, Non Repudiation"),
            "{leaf_txt}"
        );
        assert!(
            leaf_txt.contains("TLS Web Client Authentication, E-mail Protection"),
            "{leaf_txt}"
        );

        // Our own verifier agrees.
        verify_cert_signature(&chain.root, &chain.root).unwrap();
        verify_cert_signature(&chain.ica, &chain.root).unwrap();
        verify_cert_signature(leaf, &chain.ica).unwrap();
        // Leaf against the wrong CA: the names differ.
        assert!(matches!(
            verify_cert_signature(leaf, &chain.root),
            Err(X509Error::IssuerMismatch(_))
        ));

        // Key identifiers chain up.
        let root_c = Certificate::from_der(&chain.root).unwrap();
        let ica_c = Certificate::from_der(&chain.ica).unwrap();
        let leaf_c = Certificate::from_der(leaf).unwrap();
        assert_eq!(ski_of(&root_c), aki_of(&root_c));
        assert_eq!(ski_of(&root_c), aki_of(&ica_c));
        assert_eq!(ski_of(&ica_c), aki_of(&leaf_c));
        assert_eq!(
            ski_of(&ica_c),
            Sha1::digest(chain.ica_key.public_point()).to_vec()
        );
        // Issuer name is the issuer's subject, byte for byte.
        assert_eq!(
            leaf_c.tbs_certificate().issuer().to_der().unwrap(),
            ica_c.tbs_certificate().subject().to_der().unwrap()
        );
        // Root notAfter (2055) is GeneralizedTime, notBefore UTCTime.
        assert!(matches!(
            root_c.tbs_certificate().validity().not_after,
            Time::GeneralTime(_)
        ));
        assert!(matches!(
            root_c.tbs_certificate().validity().not_before,
            Time::UtcTime(_)
        ));
        // Extension criticality and order.
        let oids: Vec<_> = leaf_c
            .tbs_certificate()
            .extensions()
            .unwrap()
            .iter()
            .map(|e| (e.extn_id, e.critical))
            .collect();
        assert_eq!(
            oids,
            vec![
                (OID_CE_BASIC_CONSTRAINTS, true),
                (OID_CE_KEY_USAGE, true),
                (OID_CE_EXT_KEY_USAGE, false),
                (OID_CE_SUBJECT_KEY_ID, false),
                (OID_CE_AUTHORITY_KEY_ID, false),
            ]
        );
        // cA FALSE is DER-encoded as an empty SEQUENCE.
        assert_eq!(
            ext_value(&leaf_c, OID_CE_BASIC_CONSTRAINTS)
                .unwrap()
                .extn_value
                .as_bytes(),
            &[0x30, 0x00]
        );
    }

    // ----- chains verified by OpenSSL ------------------------------------

    #[test]
    fn sm2_chain_verifies_with_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let chain = build_chain(KeyAlg::Sm2, "SM2");

        let csr_der = sm2_csr(d, "holder", true);
        let csr = verify_csr(&csr_der).unwrap();
        assert_eq!(csr.alg, KeyAlg::Sm2);
        // DnSpec encodes exactly like `openssl req -utf8 -subj`.
        assert_eq!(holder_dn().to_der().unwrap(), csr.subject_der);
        // The canonical SPKI equals OpenSSL's encoding of the key.
        openssl_ok(
            d,
            &[
                "pkey",
                "-in",
                "holder.key",
                "-pubout",
                "-outform",
                "DER",
                "-out",
                "holder.spki",
            ],
        );
        assert_eq!(read(d, "holder.spki"), csr.spki_der);

        let serial = hex::decode("0123456789abcdef0123456789abcdef").unwrap();
        let leaf = issue_leaf(
            &chain.ica,
            &chain.ica_key,
            &holder_dn(),
            &csr.spki_der,
            &serial,
            val(at(2025, 3, 1, 8, 30, 15), at(2027, 2, 28, 23, 59, 59)),
            Usage::Holder,
        )
        .unwrap();

        check_chain_with_openssl(
            d,
            &chain,
            &leaf,
            &["-vfyopt", "distid:1234567812345678"],
            "Signature Algorithm: SM2-with-SM3",
        );
        let dates = openssl_ok(
            d,
            &["x509", "-in", "leaf.pem", "-noout", "-serial", "-dates"],
        );
        assert_eq!(
            dates,
            "serial=0123456789ABCDEF0123456789ABCDEF\n\
             notBefore=Mar  1 08:30:15 2025 GMT\n\
             notAfter=Feb 28 23:59:59 2027 GMT\n"
        );
        // A different SM2 CA with the same name cannot vouch for the leaf.
        let impostor_key = PrivateKey::generate(KeyAlg::Sm2).unwrap();
        let ica_c = Certificate::from_der(&chain.ica).unwrap();
        let ica_subject = ica_c.tbs_certificate().subject().to_der().unwrap();
        let impostor = self_signed_with_name(&impostor_key, &ica_subject);
        assert!(matches!(
            verify_cert_signature(&leaf, &impostor),
            Err(X509Error::BadSignature)
        ));

        // SealMaker profile: no EKU.
        let seal = issue_leaf(
            &chain.ica,
            &chain.ica_key,
            &dn(&[(DnAttr::C, "CN"), (DnAttr::CN, "印章制作 01")]),
            &csr.spki_der,
            &[0x42],
            val(day(2025, 1, 1), day(2026, 1, 1)),
            Usage::SealMaker,
        )
        .unwrap();
        write_cert(d, "seal", &seal);
        let txt = openssl_ok(d, &["x509", "-in", "seal.pem", "-noout", "-text"]);
        assert!(txt.contains("Digital Signature, Non Repudiation"), "{txt}");
        assert!(!txt.contains("Extended Key Usage"), "{txt}");
        let out = openssl_ok(
            d,
            &[
                "verify",
                "-attime",
                ATTIME,
                "-vfyopt",
                "distid:1234567812345678",
                "-partial_chain",
                "-CAfile",
                "issuing.pem",
                "seal.pem",
            ],
        );
        assert_eq!(out.trim(), "seal.pem: OK");
    }

    /// A self-signed CA whose subject is given as raw DER (test helper).
    fn self_signed_with_name(key: &PrivateKey, name_der: &[u8]) -> Vec<u8> {
        let pk = signer_key(key).unwrap();
        let ski = key_id(&pk.point);
        let (validity, _, _) = to_x509_validity(&val(day(2024, 1, 1), day(2050, 1, 1))).unwrap();
        assemble_and_sign(
            key,
            IssueParams {
                issuer_name_der: name_der,
                issuer_key: &pk,
                authority_ki: &ski,
                subject_name_der: name_der,
                subject_key: &pk,
                serial: &[7],
                validity,
                profile: Profile::Ca { path_len: None },
            },
        )
        .unwrap()
    }

    #[test]
    fn p256_chain_verifies_with_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let chain = build_chain(KeyAlg::P256, "P-256");
        let csr_der = ec_csr(d, "holder", "P-256", "-sha256");
        let csr = verify_csr(&csr_der).unwrap();
        assert_eq!(csr.alg, KeyAlg::P256);
        openssl_ok(
            d,
            &[
                "pkey",
                "-in",
                "holder.key",
                "-pubout",
                "-outform",
                "DER",
                "-out",
                "holder.spki",
            ],
        );
        assert_eq!(read(d, "holder.spki"), csr.spki_der);

        // High bit set: encoded with a leading 0x00, still 17 octets <= 20.
        let serial = hex::decode("80000000000000000000000000000001").unwrap();
        let leaf = issue_leaf(
            &chain.ica,
            &chain.ica_key,
            &holder_dn(),
            &csr.spki_der,
            &serial,
            val(at(2025, 1, 2, 3, 4, 5), at(2049, 12, 31, 23, 59, 59)),
            Usage::Holder,
        )
        .unwrap();
        check_chain_with_openssl(
            d,
            &chain,
            &leaf,
            &[],
            "Signature Algorithm: ecdsa-with-SHA256",
        );
        let dates = openssl_ok(
            d,
            &["x509", "-in", "leaf.pem", "-noout", "-serial", "-dates"],
        );
        assert_eq!(
            dates,
            "serial=80000000000000000000000000000001\n\
             notBefore=Jan  2 03:04:05 2025 GMT\n\
             notAfter=Dec 31 23:59:59 2049 GMT\n"
        );
        let leaf_c = Certificate::from_der(&leaf).unwrap();
        assert_eq!(leaf_c.tbs_certificate().serial_number().as_bytes()[0], 0x00);
        let ica_c = Certificate::from_der(&chain.ica).unwrap();
        assert!(matches!(
            ica_c.tbs_certificate().validity().not_after,
            Time::GeneralTime(_)
        ));
        assert!(matches!(
            leaf_c.tbs_certificate().validity().not_after,
            Time::UtcTime(_)
        ));
    }

    // ----- CSRs ----------------------------------------------------------

    #[test]
    fn openssl_sm2_csr_distid_behaviour() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();

        // With -sigopt distid:1234567812345678: accepted.
        let with = sm2_csr(d, "with", true);
        verify_csr(&with).unwrap();

        // Without -sigopt, OpenSSL 3.0 signs with an EMPTY distid (ENTL = 0),
        // not the GM/T default, so the service must reject it.
        let without = sm2_csr(d, "without", false);
        assert!(matches!(verify_csr(&without), Err(X509Error::BadSignature)));
        let raw = SignedRaw::parse(&without, "csr").unwrap();
        let tbs = raw.tbs_der().unwrap();
        let sig = sm2::dsa::Signature::from_der(raw.signature_bytes().unwrap()).unwrap();
        let key = parse_spki_der(&csr_spki_unverified(&without)).unwrap();
        let vk_empty = sm2::dsa::VerifyingKey::from_sec1_bytes("", &key.point).unwrap();
        vk_empty.verify(&tbs, &sig).unwrap();
        let vk_default =
            sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, &key.point).unwrap();
        assert!(vk_default.verify(&tbs, &sig).is_err());

        // And the -sigopt CSR is really signed with the default distid (not "").
        let raw = SignedRaw::parse(&with, "csr").unwrap();
        let tbs = raw.tbs_der().unwrap();
        let sig = sm2::dsa::Signature::from_der(raw.signature_bytes().unwrap()).unwrap();
        let key = parse_spki_der(&csr_spki_unverified(&with)).unwrap();
        let vk_empty = sm2::dsa::VerifyingKey::from_sec1_bytes("", &key.point).unwrap();
        assert!(vk_empty.verify(&tbs, &sig).is_err());

        // OpenSSL itself agrees: `req -verify` without -vfyopt uses the empty id.
        openssl_ok(
            d,
            &[
                "req",
                "-in",
                "without.csr",
                "-inform",
                "DER",
                "-verify",
                "-noout",
            ],
        );
        openssl_ok(
            d,
            &[
                "req",
                "-in",
                "with.csr",
                "-inform",
                "DER",
                "-verify",
                "-noout",
                "-vfyopt",
                "distid:1234567812345678",
            ],
        );
    }

    /// SPKI of a CSR without checking its signature (test helper).
    fn csr_spki_unverified(csr: &[u8]) -> Vec<u8> {
        CertReq::from_der(csr)
            .unwrap()
            .info
            .public_key
            .to_der()
            .unwrap()
    }

    #[test]
    fn csr_rejections() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let good = sm2_csr(d, "good", true);
        verify_csr(&good).unwrap();

        // One flipped bit in the signed part ("CN" -> "BN" in countryName).
        let pos = good.windows(2).position(|w| w == b"CN").unwrap();
        let mut flipped = good.clone();
        flipped[pos] ^= 0x01;
        assert!(matches!(verify_csr(&flipped), Err(X509Error::BadSignature)));
        // Every single-bit flip inside the CertificationRequestInfo is rejected.
        let raw = SignedRaw::parse(&good, "csr").unwrap();
        let info_len = raw.tbs_der().unwrap().len();
        let info_start = 3; // outer header is `30 81 xx`
        assert_eq!(good[1], 0x81);
        assert_eq!(
            &good[info_start..info_start + info_len],
            &raw.tbs_der().unwrap()[..]
        );
        for i in info_start..info_start + info_len {
            for bit in 0..8 {
                let mut m = good.clone();
                m[i] ^= 1 << bit;
                assert!(verify_csr(&m).is_err(), "bit {bit} of byte {i} accepted");
            }
        }
        // Flipped bits in the signature value.
        let mut m = good.clone();
        let last = m.len() - 1;
        m[last] ^= 0x01;
        assert!(verify_csr(&m).is_err());

        // RSA.
        let rsa = {
            openssl_ok(
                d,
                &[
                    "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-subj",
                    "/CN=rsa", "-outform", "DER", "-out", "rsa.csr",
                ],
            );
            read(d, "rsa.csr")
        };
        assert!(matches!(
            verify_csr(&rsa),
            Err(X509Error::UnsupportedAlgorithm(_))
        ));
        // P-384.
        let p384 = ec_csr(d, "p384", "P-384", "-sha384");
        assert!(matches!(
            verify_csr(&p384),
            Err(X509Error::UnsupportedAlgorithm(_))
        ));
        // P-256 key but ECDSA-SHA384 signature.
        let p256_384 = ec_csr(d, "p256sha384", "P-256", "-sha384");
        assert!(matches!(
            verify_csr(&p256_384),
            Err(X509Error::UnsupportedAlgorithm(_))
        ));

        // Truncations, trailing bytes, garbage, oversize, empty.
        for n in 0..good.len() {
            assert!(verify_csr(&good[..n]).is_err(), "prefix {n} accepted");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            verify_csr(&trailing),
            Err(X509Error::Malformed(_))
        ));
        assert!(verify_csr(b"garbage that is not DER at all").is_err());
        assert!(verify_csr(&[0x30, 0x80, 0x00, 0x00]).is_err()); // BER indefinite length
        assert!(verify_csr(&[0x30; 100]).is_err());
        assert!(matches!(
            verify_csr(&vec![0u8; MAX_CSR_LEN + 1]),
            Err(X509Error::TooLarge { .. })
        ));
        let mut big = good.clone();
        big.resize(MAX_CSR_LEN + 1, 0);
        assert!(matches!(verify_csr(&big), Err(X509Error::TooLarge { .. })));
        assert!(matches!(verify_csr(&[]), Err(X509Error::Malformed(_))));
        // A PEM CSR is not DER.
        let pem = openssl_ok(d, &["req", "-in", "good.csr", "-inform", "DER"]);
        assert!(verify_csr(pem.as_bytes()).is_err());
    }

    #[test]
    fn csr_mutations_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sm2 = sm2_csr(d, "f_sm2", true);
        let p256 = ec_csr(d, "f_p256", "P-256", "-sha256");
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for i in 0..2000 {
            let base = if i % 2 == 0 { &sm2 } else { &p256 };
            let m = mutate(&mut rng, base);
            if let Ok(csr) = verify_csr(&m) {
                // Only mutations outside the signed data can survive
                // (e.g. none at all); the key must be the original one.
                let orig = verify_csr(base).unwrap();
                assert_eq!(csr.public_point, orig.public_point);
                accepted += 1;
            }
        }
        assert!(accepted < 100, "{accepted} mutated CSRs accepted");
    }

    #[test]
    fn cert_mutations_never_panic() {
        let chain = build_chain(KeyAlg::Sm2, "fuzz");
        let subject_key = PrivateKey::generate(KeyAlg::Sm2).unwrap();
        let leaf = issue_leaf(
            &chain.ica,
            &chain.ica_key,
            &holder_dn(),
            &subject_key.spki_der(),
            &[1, 2, 3],
            val(day(2025, 1, 1), day(2026, 1, 1)),
            Usage::Holder,
        )
        .unwrap();
        let mut rng = XorShift(42);
        for _ in 0..500 {
            let m = mutate(&mut rng, &leaf);
            let _ = verify_cert_signature(&m, &chain.ica);
            let m = mutate(&mut rng, &chain.ica);
            let _ = verify_cert_signature(&leaf, &m);
            let _ = issue_leaf(
                &m,
                &chain.ica_key,
                &holder_dn(),
                &subject_key.spki_der(),
                &[9],
                val(day(2025, 1, 1), day(2026, 1, 1)),
                Usage::SealMaker,
            );
            let spki = mutate(&mut rng, &subject_key.spki_der());
            let _ = verify_signature(&spki, b"msg", &mutate(&mut rng, &leaf[..80]));
        }
    }

    // ----- issuance policy -----------------------------------------------

    #[test]
    fn refuses_algorithm_mixing_and_wrong_issuer_keys() {
        let p = build_chain(KeyAlg::P256, "mix");
        let sm2_key = PrivateKey::generate(KeyAlg::Sm2).unwrap();
        let v = val(day(2025, 1, 1), day(2026, 1, 1));
        assert!(matches!(
            issue_leaf(
                &p.ica,
                &p.ica_key,
                &holder_dn(),
                &sm2_key.spki_der(),
                &[1],
                v,
                Usage::Holder
            ),
            Err(X509Error::AlgorithmMismatch(_))
        ));
        assert!(matches!(
            issue_ca(
                &p.root,
                &p.root_key,
                &holder_dn(),
                &sm2_key.spki_der(),
                &[1],
                v,
                Some(0)
            ),
            Err(X509Error::AlgorithmMismatch(_))
        ));
        // SM2 key signing under the P-256 CA certificate.
        let p256_subject = PrivateKey::generate(KeyAlg::P256).unwrap();
        assert!(matches!(
            issue_leaf(
                &p.ica,
                &sm2_key,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[1],
                v,
                Usage::Holder
            ),
            Err(X509Error::IssuerMismatch(_))
        ));
        // Root key used with the issuing CA certificate.
        assert!(matches!(
            issue_leaf(
                &p.ica,
                &p.root_key,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[1],
                v,
                Usage::Holder
            ),
            Err(X509Error::IssuerMismatch(_))
        ));
        // A leaf cannot issue.
        let leaf = issue_leaf(
            &p.ica,
            &p.ica_key,
            &holder_dn(),
            &p256_subject.spki_der(),
            &[1],
            v,
            Usage::Holder,
        )
        .unwrap();
        assert!(matches!(
            issue_leaf(
                &leaf,
                &p256_subject,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[2],
                v,
                Usage::Holder
            ),
            Err(X509Error::IssuerConstraint(_))
        ));
        // pathLen 0 CA cannot issue CAs; pathLen 1 root needs child <= 0.
        assert!(matches!(
            issue_ca(
                &p.ica,
                &p.ica_key,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[3],
                v,
                Some(0)
            ),
            Err(X509Error::IssuerConstraint(_))
        ));
        assert!(matches!(
            issue_ca(
                &p.root,
                &p.root_key,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[3],
                v,
                None
            ),
            Err(X509Error::IssuerConstraint(_))
        ));
        assert!(matches!(
            issue_ca(
                &p.root,
                &p.root_key,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[3],
                v,
                Some(1)
            ),
            Err(X509Error::IssuerConstraint(_))
        ));
        // Cannot outlive the issuer (ICA expires 2050-06-01).
        assert!(matches!(
            issue_leaf(
                &p.ica,
                &p.ica_key,
                &holder_dn(),
                &p256_subject.spki_der(),
                &[1],
                val(day(2025, 1, 1), at(2050, 6, 1, 0, 0, 1)),
                Usage::Holder
            ),
            Err(X509Error::IssuerConstraint(_))
        ));
        // Garbage issuer / subject key.
        assert!(issue_leaf(
            b"junk",
            &p.ica_key,
            &holder_dn(),
            &p256_subject.spki_der(),
            &[1],
            v,
            Usage::Holder
        )
        .is_err());
        assert!(issue_leaf(
            &p.ica,
            &p.ica_key,
            &holder_dn(),
            b"junk",
            &[1],
            v,
            Usage::Holder
        )
        .is_err());
        // verify_cert_signature: SM2 leaf against a P-256 CA with the same name.
        let s = build_chain(KeyAlg::Sm2, "mix");
        let sm2_leaf = issue_leaf(
            &s.ica,
            &s.ica_key,
            &holder_dn(),
            &sm2_key.spki_der(),
            &[1],
            v,
            Usage::Holder,
        )
        .unwrap();
        assert!(verify_cert_signature(&sm2_leaf, &p.ica).is_err());
        verify_cert_signature(&sm2_leaf, &s.ica).unwrap();
    }

    #[test]
    fn parameter_validation() {
        let key = PrivateKey::generate(KeyAlg::Sm2).unwrap();
        let v = val(day(2025, 1, 1), day(2026, 1, 1));
        let ok = dn(&[(DnAttr::CN, "x")]);
        // Serial numbers.
        for bad in [
            &[][..],
            &[0][..],
            &[0, 0][..],
            &[0x7f; 21][..],
            &[0xff; 20][..],
        ] {
            assert!(
                matches!(
                    self_signed_ca(&key, &ok, bad, v, None),
                    Err(X509Error::InvalidParameter(_))
                ),
                "serial {bad:?}"
            );
        }
        self_signed_ca(&key, &ok, &[0x7f; 20], v, None).unwrap();
        self_signed_ca(&key, &ok, &[0, 0, 1], v, None).unwrap();
        // Validity.
        for bad in [
            val(day(2026, 1, 1), day(2025, 1, 1)),
            val(day(2025, 1, 1), day(2025, 1, 1)),
            val(day(1969, 12, 31), day(2025, 1, 1)),
            val(day(2025, 1, 1), day(9999, 12, 31).replace_year(-5).unwrap()),
        ] {
            assert!(matches!(
                self_signed_ca(&key, &ok, &[1], bad, None),
                Err(X509Error::InvalidParameter(_))
            ));
        }
        // Year 9999 with a negative offset lands in year 10000 UTC: error, no panic.
        let edge =
            at(9999, 12, 31, 23, 0, 0).replace_offset(time::UtcOffset::from_hms(-2, 0, 0).unwrap());
        assert!(self_signed_ca(&key, &ok, &[1], val(day(2025, 1, 1), edge), None).is_err());
        // Offsets are normalized to UTC, sub-seconds truncated.
        let nb = at(2025, 1, 1, 8, 0, 0)
            .replace_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap())
            + time::Duration::milliseconds(999);
        let c = self_signed_ca(&key, &ok, &[1], val(nb, day(2050, 1, 1)), None).unwrap();
        let c = Certificate::from_der(&c).unwrap();
        assert_eq!(
            c.tbs_certificate().validity().not_before.to_string(),
            "2025-01-01T00:00:00Z"
        );
        assert!(matches!(
            c.tbs_certificate().validity().not_after,
            Time::GeneralTime(_)
        ));
        // Names.
        for bad in [
            dn(&[]),
            dn(&[(DnAttr::C, "China")]),
            dn(&[(DnAttr::C, "cn")]),
            dn(&[(DnAttr::C, "中国")]),
            dn(&[(DnAttr::CN, "")]),
            dn(&[(DnAttr::CN, &"长".repeat(65))]),
            dn(&[(DnAttr::O, "a\u{0}b")]),
            dn(&[(DnAttr::SerialNumber, "身份证")]),
            dn(&[(DnAttr::SerialNumber, "a@b")]),
        ] {
            assert!(
                matches!(bad.to_der(), Err(X509Error::InvalidParameter(_))),
                "{bad:?}"
            );
        }
        dn(&[
            (DnAttr::CN, &"长".repeat(64)),
            (DnAttr::SerialNumber, "91440101MA5XXXXX1X"),
        ])
        .to_der()
        .unwrap();
        let ok_der = dn(&[(DnAttr::C, "CN"), (DnAttr::SerialNumber, "ID-123")])
            .to_der()
            .unwrap();
        assert_eq!(
            hex::encode(ok_der),
            "301e310b300906035504061302434e310f300d06035504051306\
             49442d313233"
                .replace(' ', "")
        );
        // Random serials.
        for _ in 0..200 {
            let s = random_serial().unwrap();
            assert!(s[0] != 0 && s[0] & 0x80 == 0);
            to_serial(&s).unwrap();
        }
    }

    // ----- keys and detached signatures ---------------------------------

    #[test]
    fn private_key_roundtrip_and_validation() {
        for alg in [KeyAlg::Sm2, KeyAlg::P256] {
            let k = PrivateKey::generate(alg).unwrap();
            assert_eq!(k.alg(), alg);
            let k2 = PrivateKey::from_bytes(alg, k.to_bytes().as_slice()).unwrap();
            assert_eq!(k.public_point(), k2.public_point());
            assert_eq!(k.spki_der(), k2.spki_der());
            assert_eq!(k.spki_der().len(), 91);
            assert_eq!(k.public_point()[0], 0x04);
            // Canonical SPKI equals a der-encoded SubjectPublicKeyInfo.
            let parsed = parse_spki_der(&k.spki_der()).unwrap();
            assert_eq!(parsed.alg, alg);
            assert_eq!(parsed.point, k.public_point());
            // Invalid scalars.
            assert!(matches!(
                PrivateKey::from_bytes(alg, &[0u8; 32]),
                Err(X509Error::InvalidKey)
            ));
            assert!(matches!(
                PrivateKey::from_bytes(alg, &[0xffu8; 32]),
                Err(X509Error::InvalidKey)
            ));
            assert!(matches!(
                PrivateKey::from_bytes(alg, &[1u8; 31]),
                Err(X509Error::InvalidKey)
            ));
            assert!(matches!(
                PrivateKey::from_bytes(alg, &[1u8; 33]),
                Err(X509Error::InvalidKey)
            ));
            assert!(matches!(
                PrivateKey::from_bytes(alg, &[]),
                Err(X509Error::InvalidKey)
            ));
            // Sign / verify.
            let sig = k.sign(b"proof of possession").unwrap();
            verify_signature(&k.spki_der(), b"proof of possession", &sig).unwrap();
            assert!(matches!(
                verify_signature(&k.spki_der(), b"proof of possessioN", &sig),
                Err(X509Error::BadSignature)
            ));
            let other = PrivateKey::generate(alg).unwrap();
            assert!(verify_signature(&other.spki_der(), b"proof of possession", &sig).is_err());
            assert!(verify_signature(&k.spki_der(), b"x", b"").is_err());
            assert!(verify_signature(&k.spki_der(), b"x", &[0x30; 300]).is_err());
            assert!(verify_signature(b"", b"x", &sig).is_err());
            let dbg = format!("{k:?}");
            assert!(!dbg.contains(&hex::encode(k.to_bytes().as_slice())));
        }
        // A compressed point SPKI is accepted and canonicalized.
        let k = PrivateKey::generate(KeyAlg::Sm2).unwrap();
        let vk = sm2::PublicKey::from_sec1_bytes(&k.public_point()).unwrap();
        use sm2::elliptic_curve::sec1::ToSec1Point;
        let compressed = vk.as_affine().to_sec1_point(true);
        let mut spki = Vec::new();
        spki.extend_from_slice(&[0x30, 0x39, 0x30, 0x13]);
        spki.extend_from_slice(&SPKI_HEAD[4..]);
        spki.extend_from_slice(&SM2_CURVE_TLV);
        spki.extend_from_slice(&[0x03, 0x22, 0x00]);
        spki.extend_from_slice(compressed.as_bytes());
        assert_eq!(parse_spki_der(&spki).unwrap().spki_der(), k.spki_der());
        // A point that is not on the curve is rejected.
        let mut bad = k.spki_der();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(parse_spki_der(&bad), Err(X509Error::InvalidKey)));
        // An SM2 point labelled as P-256 is (almost surely) not on P-256.
        let mut relabel = k.spki_der();
        relabel[13..23].copy_from_slice(&P256_CURVE_TLV);
        assert!(parse_spki_der(&relabel).is_err());
    }

    #[test]
    fn detached_signatures_interoperate_with_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("msg"), b"certkey proof-of-possession challenge").unwrap();
        let msg = read(d, "msg");

        // SM2: OpenSSL key -> our key from its scalar.
        openssl_ok(d, &["genpkey", "-algorithm", "SM2", "-out", "sm2.key"]);
        openssl_ok(
            d,
            &[
                "pkey", "-in", "sm2.key", "-outform", "DER", "-out", "sm2.sec1",
            ],
        );
        openssl_ok(
            d,
            &[
                "pkey", "-in", "sm2.key", "-pubout", "-outform", "DER", "-out", "sm2.spki",
            ],
        );
        // OpenSSL 3.0 `pkey -outform DER` writes SEC1 ECPrivateKey for EC/SM2 keys.
        let sk = sm2::SecretKey::from_sec1_der(&read(d, "sm2.sec1")).unwrap();
        let ours = PrivateKey::from_bytes(KeyAlg::Sm2, &sk.to_bytes()).unwrap();
        assert_eq!(ours.spki_der(), read(d, "sm2.spki"));
        // OpenSSL signs (default distid) -> we verify.
        openssl_ok(
            d,
            &[
                "dgst",
                "-sm3",
                "-sign",
                "sm2.key",
                "-sigopt",
                "distid:1234567812345678",
                "-out",
                "sm2.sig",
                "msg",
            ],
        );
        verify_signature(&read(d, "sm2.spki"), &msg, &read(d, "sm2.sig")).unwrap();
        // We sign -> OpenSSL verifies with the default distid.
        std::fs::write(d.join("ours.sig"), ours.sign(&msg).unwrap()).unwrap();
        let out = openssl_ok(
            d,
            &[
                "dgst",
                "-sm3",
                "-verify",
                "sm2.spki",
                "-keyform",
                "DER",
                "-sigopt",
                "distid:1234567812345678",
                "-signature",
                "ours.sig",
                "msg",
            ],
        );
        assert!(out.contains("Verified OK"), "{out}");

        // P-256.
        openssl_ok(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "p.key",
            ],
        );
        openssl_ok(
            d,
            &[
                "pkey", "-in", "p.key", "-pubout", "-outform", "DER", "-out", "p.spki",
            ],
        );
        openssl_ok(
            d,
            &["pkey", "-in", "p.key", "-outform", "DER", "-out", "p.sec1"],
        );
        let psk = p256::SecretKey::from_sec1_der(&read(d, "p.sec1")).unwrap();
        let pours = PrivateKey::from_bytes(KeyAlg::P256, &psk.to_bytes()).unwrap();
        assert_eq!(pours.spki_der(), read(d, "p.spki"));
        openssl_ok(
            d,
            &["dgst", "-sha256", "-sign", "p.key", "-out", "p.sig", "msg"],
        );
        verify_signature(&read(d, "p.spki"), &msg, &read(d, "p.sig")).unwrap();
        std::fs::write(d.join("pours.sig"), pours.sign(&msg).unwrap()).unwrap();
        let out = openssl_ok(
            d,
            &[
                "dgst",
                "-sha256",
                "-verify",
                "p.spki",
                "-keyform",
                "DER",
                "-signature",
                "pours.sig",
                "msg",
            ],
        );
        assert!(out.contains("Verified OK"), "{out}");
    }

    #[test]
    fn crafted_signatures_never_panic() {
        let mut rng = XorShift(7);
        for alg in [KeyAlg::Sm2, KeyAlg::P256] {
            let k = PrivateKey::generate(alg).unwrap();
            let spki = k.spki_der();
            let int = |rng: &mut XorShift, len: usize, lead: u8| {
                let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if let Some(f) = v.first_mut() {
                    *f = lead;
                }
                let mut out = vec![0x02];
                if len < 0x80 {
                    out.push(len as u8);
                } else {
                    out.extend_from_slice(&[0x81, len as u8]);
                }
                out.extend(v);
                out
            };
            for rl in 0..40 {
                for sl in [0usize, 1, 31, 32, 33, 34, 40, 130] {
                    for lead in [0x00u8, 0x01, 0x7f, 0x80, 0xff] {
                        let mut body = int(&mut rng, rl, lead);
                        body.extend(int(&mut rng, sl, lead));
                        let mut sig = vec![0x30];
                        if body.len() < 0x80 {
                            sig.push(body.len() as u8);
                        } else {
                            sig.extend_from_slice(&[0x81, body.len() as u8]);
                        }
                        sig.extend(body);
                        assert!(verify_signature(&spki, b"m", &sig).is_err());
                    }
                }
            }
            // r = n and s = 0 style values.
            let mut sig = vec![0x30, 0x26, 0x02, 0x21, 0x00];
            sig.extend_from_slice(&[0xff; 32]);
            sig.extend_from_slice(&[0x02, 0x01, 0x00]);
            assert!(verify_signature(&spki, b"m", &sig).is_err());
        }
    }

    /// The hand-assembled SPKI equals what the `der` encoder produces.
    #[test]
    fn spki_layout_matches_der_encoder() {
        for alg in [KeyAlg::Sm2, KeyAlg::P256] {
            let k = PrivateKey::generate(alg).unwrap();
            let curve = if alg == KeyAlg::Sm2 {
                OID_SM2P256V1
            } else {
                OID_PRIME256V1
            };
            let spki = spki::SubjectPublicKeyInfo::<ObjectIdentifier, der::asn1::BitString> {
                algorithm: spki::AlgorithmIdentifier {
                    oid: OID_EC_PUBLIC_KEY,
                    parameters: Some(curve),
                },
                subject_public_key: der::asn1::BitString::from_bytes(&k.public_point()).unwrap(),
            };
            assert_eq!(spki.to_der().unwrap(), k.spki_der());
        }
    }
}
