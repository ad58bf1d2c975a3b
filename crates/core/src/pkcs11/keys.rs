//! Key pairs, signatures and the objects CertKey writes (shared/DESIGN.md, "Objects
//! CertKey writes"): SM2 through the vendor constants of the token's profile, P-256
//! through the standard EC mechanisms; certificates and data objects (seals).
//!
//! Every signature made by a token is checked with the key's public point before it
//! is returned, so a module that signs wrongly (bad Z, wrong format, wrong key) is
//! caught here rather than by the CA.

use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::Session;
use der::asn1::{AnyRef, BitString, OctetStringRef};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode, Tag};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sm3::Sm3;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::catalog::{Catalog, SignatureFormat, Sm2Family, VendorProfile};
use crate::cert::{OID_SM2_CURVE, SM2_DEFAULT_DISTID};
use crate::{Error, Result};

use super::ckr;

/// DER of the named curve sm2p256v1 (1.2.156.10197.1.301), the CKA_EC_PARAMS of SM2
/// keys.
pub const SM2_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D];
/// DER of the named curve prime256v1 (1.2.840.10045.3.1.7), the CKA_EC_PARAMS of
/// P-256 keys.
pub const P256_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// Length of a CKA_ID made by [`new_id`].
pub const ID_LEN: usize = 16;

/// The AlgorithmIdentifier OID id-ecPublicKey (1.2.840.10045.2.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_EC_PUBLIC_KEY);
/// OID of prime256v1, dotted.
const OID_P256: &str = "1.2.840.10045.3.1.7";
/// OID of id-ecPublicKey, dotted.
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

/// CKR_MECHANISM_INVALID.
const CKR_MECHANISM_INVALID: u64 = 0x70;
/// CKR_DOMAIN_PARAMS_INVALID.
const CKR_DOMAIN_PARAMS_INVALID: u64 = 0x130;
/// CKR_CURVE_NOT_SUPPORTED.
const CKR_CURVE_NOT_SUPPORTED: u64 = 0x140;
/// CKR_ATTRIBUTE_TYPE_INVALID.
const CKR_ATTRIBUTE_TYPE_INVALID: u64 = 0x12;
/// CKR_ATTRIBUTE_VALUE_INVALID.
const CKR_ATTRIBUTE_VALUE_INVALID: u64 = 0x13;
/// CKR_KEY_TYPE_INCONSISTENT.
const CKR_KEY_TYPE_INCONSISTENT: u64 = 0x63;

/// SM2 curve coefficient a (GM/T 0003.5).
const SM2_A: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,
];
/// SM2 curve coefficient b.
const SM2_B: [u8; 32] = [
    0x28, 0xE9, 0xFA, 0x9E, 0x9D, 0x9F, 0x5E, 0x34, 0x4D, 0x5A, 0x9E, 0x4B, 0xCF, 0x65, 0x09, 0xA7,
    0xF3, 0x97, 0x89, 0xF5, 0x15, 0xAB, 0x8F, 0x92, 0xDD, 0xBC, 0xBD, 0x41, 0x4D, 0x94, 0x0E, 0x93,
];
/// SM2 base point x.
const SM2_GX: [u8; 32] = [
    0x32, 0xC4, 0xAE, 0x2C, 0x1F, 0x19, 0x81, 0x19, 0x5F, 0x99, 0x04, 0x46, 0x6A, 0x39, 0xC9, 0x94,
    0x8F, 0xE3, 0x0B, 0xBF, 0xF2, 0x66, 0x0B, 0xE1, 0x71, 0x5A, 0x45, 0x89, 0x33, 0x4C, 0x74, 0xC7,
];
/// SM2 base point y.
const SM2_GY: [u8; 32] = [
    0xBC, 0x37, 0x36, 0xA2, 0xF4, 0xF6, 0x77, 0x9C, 0x59, 0xBD, 0xCE, 0xE3, 0x6B, 0x69, 0x21, 0x53,
    0xD0, 0xA9, 0x87, 0x7C, 0xC6, 0x2A, 0x47, 0x40, 0x02, 0xDF, 0x32, 0xE5, 0x21, 0x39, 0xF0, 0xA0,
];

/// The key algorithms CertKey makes and uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyAlg {
    /// SM2 (sm2p256v1) with SM3withSM2 signatures.
    Sm2,
    /// NIST P-256 with ECDSA-SHA256 signatures.
    P256,
}

impl KeyAlg {
    /// CKA_EC_PARAMS (DER named-curve OID) of keys of this algorithm.
    pub fn ec_params(self) -> &'static [u8] {
        match self {
            KeyAlg::Sm2 => &SM2_EC_PARAMS,
            KeyAlg::P256 => &P256_EC_PARAMS,
        }
    }

    fn of_params(params: &[u8]) -> Option<Self> {
        if params == SM2_EC_PARAMS {
            Some(KeyAlg::Sm2)
        } else if params == P256_EC_PARAMS {
            Some(KeyAlg::P256)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyAlg::Sm2 => "SM2",
            KeyAlg::P256 => "P-256",
        }
    }
}

impl From<certkey_protocol::v1::KeyAlgorithm> for KeyAlg {
    fn from(a: certkey_protocol::v1::KeyAlgorithm) -> Self {
        match a {
            certkey_protocol::v1::KeyAlgorithm::Sm2 => KeyAlg::Sm2,
            certkey_protocol::v1::KeyAlgorithm::P256 => KeyAlg::P256,
        }
    }
}

impl From<KeyAlg> for certkey_protocol::v1::KeyAlgorithm {
    fn from(a: KeyAlg) -> Self {
        match a {
            KeyAlg::Sm2 => certkey_protocol::v1::KeyAlgorithm::Sm2,
            KeyAlg::P256 => certkey_protocol::v1::KeyAlgorithm::P256,
        }
    }
}

/// How a token does SM2: the vendor family constants and the signature format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sm2Support {
    /// The vendor's SM2/SM3 mechanism and key type constants.
    pub family: Sm2Family,
    /// The module returns SM2 signatures as DER SEQUENCE{r, s} rather than raw r||s.
    /// Only the first guess: a signature in the other format is accepted too.
    pub der_signatures: bool,
}

impl Sm2Support {
    /// The SM2 support a vendor profile declares; `None` when the vendor does no SM2.
    pub fn from_profile(catalog: &Catalog, vendor: &VendorProfile) -> Option<Self> {
        let family = catalog.sm2_of(vendor)?.clone();
        Some(Sm2Support {
            family,
            der_signatures: vendor.sm2_signature == Some(SignatureFormat::Der),
        })
    }
}

/// An object found with its id and value: (handle, CKA_ID, CKA_VALUE).
pub type IdValue = (ObjectHandle, Vec<u8>, Vec<u8>);

/// A key pair on a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    /// CKA_ID shared by the private key, the public key and the certificate.
    pub id: Vec<u8>,
    /// The algorithm.
    pub alg: KeyAlg,
    /// The private key object (handle valid in the session that found it).
    pub private: ObjectHandle,
    /// The public key object, when the module keeps one.
    pub public: Option<ObjectHandle>,
    /// The public point, SEC1 uncompressed (0x04 || x || y), checked to be on the curve.
    pub point: [u8; 65],
}

#[allow(clippy::useless_conversion)]
fn ck_ulong(v: u64) -> Option<cryptoki_sys::CK_ULONG> {
    cryptoki_sys::CK_ULONG::try_from(v).ok()
}

fn vendor_mechanism_type(v: u64) -> Option<MechanismType> {
    ck_ulong(v).and_then(|v| MechanismType::new_vendor_defined(v).ok())
}

fn unsupported(serial: &str, mechanism: String) -> Error {
    Error::MechanismUnsupported {
        serial: serial.to_string(),
        mechanism,
    }
}

/// Turns "the token does not know this mechanism / curve / key type" into
/// [`Error::MechanismUnsupported`]; other failures stay PKCS#11 errors.
fn mechanism_error(e: cryptoki::error::Error, function: &str, serial: &str, what: &str) -> Error {
    let err = ckr::convert(e, function);
    let unsupported_codes = [
        CKR_MECHANISM_INVALID,
        CKR_CURVE_NOT_SUPPORTED,
        CKR_DOMAIN_PARAMS_INVALID,
        CKR_KEY_TYPE_INCONSISTENT,
    ];
    if unsupported_codes.iter().any(|c| ckr::is_ckr(&err, *c)) {
        return unsupported(serial, what.to_string());
    }
    err
}

fn find_handles(session: &Session, template: &[Attribute]) -> Result<Vec<ObjectHandle>> {
    session
        .find_objects(template)
        .map_err(|e| ckr::convert(e, "C_FindObjects"))
}

fn attributes(
    session: &Session,
    h: ObjectHandle,
    which: &[AttributeType],
) -> Result<Vec<Attribute>> {
    session
        .get_attributes(h, which)
        .map_err(|e| ckr::convert(e, "C_GetAttributeValue"))
}

/// CKA_EC_POINT is a DER OCTET STRING holding the SEC1 point; some modules return the
/// bare point. Returns the OCTET STRING's content when the value has that shape.
fn octet_string_content(v: &[u8]) -> Option<&[u8]> {
    match v {
        [0x04, len, rest @ ..] if *len < 0x80 && usize::from(*len) == rest.len() => Some(rest),
        [0x04, 0x81, len, rest @ ..] if *len >= 0x80 && usize::from(*len) == rest.len() => {
            Some(rest)
        }
        _ => None,
    }
}

/// Checks a SEC1 point is on the curve and returns it uncompressed.
fn point_on_curve(alg: KeyAlg, sec1: &[u8]) -> Option<[u8; 65]> {
    match alg {
        KeyAlg::Sm2 => {
            use sm2::elliptic_curve::sec1::ToSec1Point;
            let pk = sm2::PublicKey::from_sec1_bytes(sec1).ok()?;
            pk.to_sec1_point(false).as_bytes().try_into().ok()
        }
        KeyAlg::P256 => {
            use p256::elliptic_curve::sec1::ToSec1Point;
            let pk = p256::PublicKey::from_sec1_bytes(sec1).ok()?;
            pk.to_sec1_point(false).as_bytes().try_into().ok()
        }
    }
}

/// Reads the point of a CKA_EC_POINT value for `alg`: the DER-wrapped form, else the
/// bare SEC1 point (a bare point can look wrapped, e.g. 04 3F ..., so both are tried).
fn ec_point(alg: KeyAlg, value: &[u8]) -> Option<[u8; 65]> {
    octet_string_content(value)
        .and_then(|sec1| point_on_curve(alg, sec1))
        .or_else(|| point_on_curve(alg, value))
}

fn hex_id(id: &[u8]) -> String {
    hex::encode(id)
}

/// Generates a key pair on the token: P-256 with CKM_EC_KEY_PAIR_GEN (CKA_EC_PARAMS
/// prime256v1), SM2 with the family's key pair mechanism and key type (CKA_EC_PARAMS
/// sm2p256v1). The private key is a token object, private, sensitive, never
/// extractable, for signing; the public key a token object for verifying; both carry
/// CKA_ID `id` and CKA_LABEL `label`. The public point is read back and checked to be
/// on the curve; when that fails the new objects are destroyed again.
///
/// The session must be read/write with the user logged in. `serial` names the token
/// in errors. An id that a private key already has is refused.
pub fn generate(
    session: &Session,
    serial: &str,
    alg: KeyAlg,
    sm2: Option<&Sm2Support>,
    id: &[u8],
    label: &str,
) -> Result<TokenKey> {
    if id.is_empty() {
        return Err(Error::InvalidArgument {
            name: "id".into(),
            reason: "a key needs a non-empty CKA_ID".into(),
        });
    }
    let taken = find_handles(
        session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ],
    )?;
    if !taken.is_empty() {
        return Err(Error::InvalidArgument {
            name: "id".into(),
            reason: format!(
                "token {serial} already has a private key with id {}",
                hex_id(id)
            ),
        });
    }
    let label = label.as_bytes().to_vec();
    let mut public = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(alg.ec_params().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.clone()),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label),
    ];
    let what;
    let mechanism = match alg {
        KeyAlg::P256 => {
            what = "P-256 key generation (CKM_EC_KEY_PAIR_GEN)".to_string();
            Mechanism::EccKeyPairGen
        }
        KeyAlg::Sm2 => {
            let fam = &sm2
                .ok_or_else(|| unsupported(serial, "SM2 key generation".into()))?
                .family;
            what = format!("SM2 key generation (0x{:08X})", fam.sm2_key_pair_gen);
            let mech = vendor_mechanism_type(fam.sm2_key_pair_gen)
                .ok_or_else(|| unsupported(serial, what.clone()))?;
            let key_type = ck_ulong(fam.key_type_sm2)
                .and_then(|k| KeyType::new_vendor_defined(k).ok())
                .ok_or_else(|| unsupported(serial, what.clone()))?;
            public.push(Attribute::KeyType(key_type));
            private.push(Attribute::KeyType(key_type));
            Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(mech, None))
        }
    };
    let (pub_h, priv_h) = session
        .generate_key_pair(&mechanism, &public, &private)
        .map_err(|e| mechanism_error(e, "C_GenerateKeyPair", serial, &what))?;
    let point = read_generated_point(session, alg, pub_h, priv_h);
    match point {
        Ok(point) => Ok(TokenKey {
            id: id.to_vec(),
            alg,
            private: priv_h,
            public: Some(pub_h),
            point,
        }),
        Err(e) => {
            // Leave no half-usable key pair behind.
            for h in [priv_h, pub_h] {
                if let Err(d) = session.destroy_object(h) {
                    tracing::warn!(error = %d, "cannot destroy a rejected new key object");
                }
            }
            Err(e)
        }
    }
}

fn read_generated_point(
    session: &Session,
    alg: KeyAlg,
    public: ObjectHandle,
    private: ObjectHandle,
) -> Result<[u8; 65]> {
    for h in [public, private] {
        let attrs = match session.get_attributes(h, &[AttributeType::EcPoint]) {
            Ok(a) => a,
            Err(_) => continue,
        };
        for a in attrs {
            if let Attribute::EcPoint(v) = a {
                return ec_point(alg, &v).ok_or_else(|| Error::ModuleMisbehaved {
                    reason: format!(
                        "the new {} key's CKA_EC_POINT is not a point on the curve",
                        alg.name()
                    ),
                });
            }
        }
    }
    Err(Error::ModuleMisbehaved {
        reason: format!("the new {} key has no readable CKA_EC_POINT", alg.name()),
    })
}

/// What one key object says about its algorithm and point.
#[derive(Default)]
struct KeyFacts {
    key_type: Option<KeyType>,
    params: Option<Vec<u8>>,
    point: Option<Vec<u8>>,
}

fn key_facts(session: &Session, h: ObjectHandle) -> KeyFacts {
    let mut f = KeyFacts::default();
    let wanted = [
        AttributeType::KeyType,
        AttributeType::EcParams,
        AttributeType::EcPoint,
    ];
    let attrs = match session.get_attributes(h, &wanted) {
        Ok(a) => a,
        // Some modules fail the whole call over one attribute: one at a time then.
        Err(_) => wanted
            .iter()
            .filter_map(|t| session.get_attributes(h, &[*t]).ok())
            .flatten()
            .collect(),
    };
    for a in attrs {
        match a {
            Attribute::KeyType(k) => f.key_type = Some(k),
            Attribute::EcParams(p) if !p.is_empty() => f.params = Some(p),
            Attribute::EcPoint(p) if !p.is_empty() => f.point = Some(p),
            _ => {}
        }
    }
    f
}

/// The algorithm and SEC1 point of a certificate's key, when it is SM2 or P-256.
pub(crate) fn cert_key(der: &[u8]) -> Option<(KeyAlg, Vec<u8>)> {
    let parsed = crate::cert::parse(der).ok()?;
    let spki = parsed.cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != OID_EC_PUBLIC_KEY {
        return None;
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()?
        .as_oid()
        .ok()?
        .to_id_string();
    let alg = match curve.as_str() {
        OID_SM2_CURVE => KeyAlg::Sm2,
        OID_P256 => KeyAlg::P256,
        _ => return None,
    };
    Some((alg, spki.subject_public_key.data.to_vec()))
}

/// Finds the key pair with CKA_ID `id`: the private key is required; the point comes
/// from the public key object, else the private key's CKA_EC_POINT, else the
/// certificate with that id. `Ok(None)` when there is no private key with that id.
///
/// The algorithm is told by CKA_EC_PARAMS (or the certificate's curve); without them a
/// CKK_EC key is taken as P-256 and a vendor-defined key type as SM2.
pub fn find(session: &Session, id: &[u8]) -> Result<Option<TokenKey>> {
    let privs = find_handles(
        session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ],
    )?;
    let private = match privs.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        many => {
            return Err(Error::InvalidArgument {
                name: "id".into(),
                reason: format!("{} private keys have id {}", many.len(), hex_id(id)),
            })
        }
    };
    let priv_facts = key_facts(session, private);
    let pubs = find_handles(
        session,
        &[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(id.to_vec()),
        ],
    )?;
    let pub_facts: Vec<(ObjectHandle, KeyFacts)> =
        pubs.iter().map(|h| (*h, key_facts(session, *h))).collect();
    let cert = if pub_facts.iter().any(|(_, f)| f.point.is_some()) || priv_facts.point.is_some() {
        None
    } else {
        certificates_with(session, Some(id))?
            .into_iter()
            .find_map(|(_, _, der)| cert_key(&der))
    };

    // The algorithm: curve parameters first, then the key type.
    let from_params = pub_facts
        .iter()
        .filter_map(|(_, f)| f.params.as_deref())
        .chain(priv_facts.params.as_deref())
        .find_map(KeyAlg::of_params);
    let alg = match (from_params, &cert, priv_facts.key_type) {
        (Some(a), _, _) => a,
        (None, Some((a, _)), _) => *a,
        (None, None, Some(k)) if k == KeyType::EC => KeyAlg::P256,
        (None, None, Some(k)) if super::ulong(k.into()) >= crate::catalog::VENDOR_DEFINED => {
            KeyAlg::Sm2
        }
        (None, None, k) => {
            return Err(Error::InvalidArgument {
                name: "id".into(),
                reason: format!(
                    "the key with id {} is not an SM2 or P-256 key (key type {})",
                    hex_id(id),
                    k.map(|k| k.to_string()).unwrap_or_else(|| "unknown".into())
                ),
            })
        }
    };

    // The point: public key object, private key, certificate.
    let mut public = None;
    let mut point = None;
    for (h, f) in &pub_facts {
        if let Some(p) = f.point.as_deref().and_then(|v| ec_point(alg, v)) {
            public = Some(*h);
            point = Some(p);
            break;
        }
    }
    if public.is_none() {
        public = pub_facts.first().map(|(h, _)| *h);
    }
    if point.is_none() {
        point = priv_facts.point.as_deref().and_then(|v| ec_point(alg, v));
    }
    if point.is_none() {
        point = cert
            .as_ref()
            .filter(|(a, _)| *a == alg)
            .and_then(|(_, sec1)| point_on_curve(alg, sec1));
    }
    let point = point.ok_or_else(|| Error::ModuleMisbehaved {
        reason: format!(
            "the {} key with id {} has no public point on its curve (no public key object, \
             CKA_EC_POINT or certificate gives one)",
            alg.name(),
            hex_id(id)
        ),
    })?;
    Ok(Some(TokenKey {
        id: id.to_vec(),
        alg,
        private,
        public,
        point,
    }))
}

/// Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0009) with the default
/// user id, and e = SM3(Z || msg).
fn sm2_e(point: &[u8; 65], msg: &[u8]) -> [u8; 32] {
    let id = SM2_DEFAULT_DISTID.as_bytes();
    // 16 bytes: 128 bits, well inside ENTL's two bytes.
    let entl = u16::try_from(id.len() * 8).unwrap_or(u16::MAX);
    let mut z = Sm3::new();
    z.update(entl.to_be_bytes());
    z.update(id);
    z.update(SM2_A);
    z.update(SM2_B);
    z.update(SM2_GX);
    z.update(SM2_GY);
    z.update(point.get(1..).unwrap_or_default());
    let z = z.finalize();
    let mut e = Sm3::new();
    e.update(z);
    e.update(msg);
    e.finalize().into()
}

fn sm2_normalise(sig: &[u8], der_first: bool) -> Option<sm2::dsa::Signature> {
    let raw = || sm2::dsa::Signature::from_slice(sig).ok();
    let der = || sm2::dsa::Signature::from_der(sig).ok();
    if der_first {
        der().or_else(raw)
    } else {
        raw().or_else(der)
    }
}

fn p256_normalise(sig: &[u8]) -> Option<p256::ecdsa::Signature> {
    p256::ecdsa::Signature::from_slice(sig)
        .ok()
        .or_else(|| p256::ecdsa::Signature::from_der(sig).ok())
}

fn vendor_sign(
    session: &Session,
    serial: &str,
    key: ObjectHandle,
    mech: u64,
    what: &str,
    data: &[u8],
) -> Result<Vec<u8>> {
    let t = vendor_mechanism_type(mech).ok_or_else(|| unsupported(serial, what.to_string()))?;
    let m = Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(t, None));
    session
        .sign(&m, key, data)
        .map_err(|e| mechanism_error(e, "C_Sign", serial, what))
}

/// Signs `msg` with the token key and returns DER SEQUENCE{r, s}.
///
/// SM2: the host computes Z (default user id 1234567812345678) and e = SM3(Z || msg)
/// and the token signs e with the family's raw SM2 mechanism when it has one (falling
/// back to SM3-with-SM2 over `msg` when the token refuses the raw mechanism), else
/// SM3-with-SM2 over `msg`. P-256: the host computes SHA-256(msg) and the token signs
/// it with CKM_ECDSA. Raw r||s and DER answers are both accepted. The signature is
/// verified with the key's point before it is returned
/// ([`Error::TokenSignatureInvalid`] otherwise).
pub fn sign(
    session: &Session,
    serial: &str,
    key: &TokenKey,
    sm2: Option<&Sm2Support>,
    msg: &[u8],
) -> Result<Vec<u8>> {
    match key.alg {
        KeyAlg::Sm2 => sign_sm2(session, serial, key, sm2, msg),
        KeyAlg::P256 => sign_p256(session, serial, key, msg),
    }
}

fn sign_sm2(
    session: &Session,
    serial: &str,
    key: &TokenKey,
    sm2: Option<&Sm2Support>,
    msg: &[u8],
) -> Result<Vec<u8>> {
    use sm2::dsa::signature::Verifier;

    let support = sm2.ok_or_else(|| unsupported(serial, "SM2 signing".into()))?;
    let fam = &support.family;
    let with_sm3 = |session: &Session| -> Result<Vec<u8>> {
        match fam.sm3_sm2_sign {
            Some(m) => vendor_sign(
                session,
                serial,
                key.private,
                m,
                &format!("SM3-with-SM2 signing (0x{m:08X})"),
                msg,
            ),
            None => Err(unsupported(serial, "SM2 signing".into())),
        }
    };
    let sig = match fam.sm2_sign_raw {
        Some(m) => {
            let e = sm2_e(&key.point, msg);
            let what = format!("raw SM2 signing (0x{m:08X})");
            match vendor_sign(session, serial, key.private, m, &what, &e) {
                Err(Error::MechanismUnsupported { .. }) if fam.sm3_sm2_sign.is_some() => {
                    with_sm3(session)?
                }
                other => other?,
            }
        }
        None => with_sm3(session)?,
    };
    let parsed = sm2_normalise(&sig, support.der_signatures).ok_or_else(|| {
        Error::TokenSignatureInvalid {
            reason: format!(
                "the SM2 signature ({} bytes) is neither raw r||s nor DER",
                sig.len()
            ),
        }
    })?;
    let vk =
        sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, &key.point).map_err(|_| {
            Error::TokenSignatureInvalid {
                reason: "the key's public point is not an SM2 point".into(),
            }
        })?;
    vk.verify(msg, &parsed)
        .map_err(|_| Error::TokenSignatureInvalid {
            reason: "the SM2 signature does not verify with the key's public point".into(),
        })?;
    Ok(parsed.to_der().as_bytes().to_vec())
}

fn sign_p256(session: &Session, serial: &str, key: &TokenKey, msg: &[u8]) -> Result<Vec<u8>> {
    use p256::ecdsa::signature::Verifier;

    let digest = Sha256::digest(msg);
    let sig = session
        .sign(&Mechanism::Ecdsa, key.private, &digest)
        .map_err(|e| mechanism_error(e, "C_Sign", serial, "ECDSA signing (CKM_ECDSA)"))?;
    let parsed = p256_normalise(&sig).ok_or_else(|| Error::TokenSignatureInvalid {
        reason: format!(
            "the ECDSA signature ({} bytes) is neither raw r||s nor DER",
            sig.len()
        ),
    })?;
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.point).map_err(|_| {
        Error::TokenSignatureInvalid {
            reason: "the key's public point is not a P-256 point".into(),
        }
    })?;
    vk.verify(msg, &parsed)
        .map_err(|_| Error::TokenSignatureInvalid {
            reason: "the ECDSA signature does not verify with the key's public point".into(),
        })?;
    Ok(parsed.to_der().as_bytes().to_vec())
}

/// Writes an X.509 certificate object: CKO_CERTIFICATE, CKC_X_509, a public token
/// object with CKA_ID `id`, CKA_LABEL `label`, and CKA_SUBJECT, CKA_ISSUER,
/// CKA_SERIAL_NUMBER (DER INTEGER) and CKA_VALUE taken from `der`, which must parse.
pub fn write_certificate(
    session: &Session,
    id: &[u8],
    label: &str,
    der: &[u8],
) -> Result<ObjectHandle> {
    let parsed = crate::cert::parse(der)?;
    let tbs = &parsed.cert.tbs_certificate;
    // The serial's content octets as the certificate holds them, framed as an INTEGER.
    let serial = AnyRef::new(Tag::Integer, tbs.raw_serial())
        .and_then(|any| any.to_der())
        .map_err(|e| Error::CertificateInvalid {
            reason: format!("serial number: {e}"),
        })?;
    let template = [
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(tbs.subject().as_raw().to_vec()),
        Attribute::Issuer(tbs.issuer().as_raw().to_vec()),
        Attribute::SerialNumber(serial),
        Attribute::Value(der.to_vec()),
    ];
    session
        .create_object(&template)
        .map_err(|e| ckr::convert(e, "C_CreateObject"))
}

/// Writes a data object: CKO_DATA, a public token object with CKA_APPLICATION
/// `application`, CKA_ID `id`, CKA_LABEL `label` and CKA_VALUE `value`.
///
/// PKCS#11 does not list CKA_ID among data object attributes and some modules
/// refuse it (SoftHSM2 with CKR_ATTRIBUTE_TYPE_INVALID, kryoptic with
/// CKR_ATTRIBUTE_VALUE_INVALID); the id is then written as
/// CKA_OBJECT_ID holding the DER OCTET STRING of the id, which [`find_data`] reads back
/// the same way.
pub fn write_data(
    session: &Session,
    application: &str,
    id: &[u8],
    label: &str,
    value: &[u8],
) -> Result<ObjectHandle> {
    write_data_object(session, application, id, label, value, false)
}

/// [`write_data`] as a private object (CKA_PRIVATE true): only a session logged in as
/// the user can write it, see it or read it, so nobody without the PIN can plant one.
pub fn write_private_data(
    session: &Session,
    application: &str,
    id: &[u8],
    label: &str,
    value: &[u8],
) -> Result<ObjectHandle> {
    write_data_object(session, application, id, label, value, true)
}

fn write_data_object(
    session: &Session,
    application: &str,
    id: &[u8],
    label: &str,
    value: &[u8],
    private: bool,
) -> Result<ObjectHandle> {
    let mut template = vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(private),
        Attribute::Application(application.as_bytes().to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(value.to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    match session.create_object(&template) {
        Ok(h) => Ok(h),
        Err(e) => {
            let err = ckr::convert(e, "C_CreateObject");
            // SoftHSM2 says TYPE_INVALID, kryoptic VALUE_INVALID.
            if !ckr::is_ckr(&err, CKR_ATTRIBUTE_TYPE_INVALID)
                && !ckr::is_ckr(&err, CKR_ATTRIBUTE_VALUE_INVALID)
            {
                return Err(err);
            }
            template.pop();
            template.push(Attribute::ObjectId(id_octet_string(id)?));
            session
                .create_object(&template)
                .map_err(|e| ckr::convert(e, "C_CreateObject"))
        }
    }
}

/// Data objects whose CKA_APPLICATION is `application` (and whose id is `id` when
/// given): (handle, id, CKA_VALUE). The id is CKA_ID, or for objects without one the
/// id [`write_data`] put in CKA_OBJECT_ID. Objects whose value cannot be read are
/// left out (and logged).
pub fn find_data(session: &Session, application: &str, id: Option<&[u8]>) -> Result<Vec<IdValue>> {
    find_data_where(session, application, id, None)
}

/// [`find_data`], only private objects (`Some(true)`) or only public ones
/// (`Some(false)`), as the module's search by CKA_PRIVATE tells.
pub fn find_data_where(
    session: &Session,
    application: &str,
    id: Option<&[u8]>,
    private: Option<bool>,
) -> Result<Vec<IdValue>> {
    let app = application.as_bytes().to_vec();
    let mut template = vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Application(app.clone()),
    ];
    if let Some(p) = private {
        template.push(Attribute::Private(p));
    }
    let mut out = Vec::new();
    for h in find_handles(session, &template)? {
        let attrs = match attributes(
            session,
            h,
            &[
                AttributeType::Application,
                AttributeType::Id,
                AttributeType::ObjectId,
                AttributeType::Value,
            ],
        ) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(handle = h.handle(), error = %e, "cannot read a data object");
                continue;
            }
        };
        let (mut got_app, mut got_id, mut object_id, mut value) = (None, None, None, None);
        for a in attrs {
            match a {
                Attribute::Application(v) => got_app = Some(v),
                Attribute::Id(v) if !v.is_empty() => got_id = Some(v),
                Attribute::ObjectId(v) => object_id = Some(v),
                Attribute::Value(v) => value = Some(v),
                _ => {}
            }
        }
        // The search template already says so; some modules match loosely.
        if got_app.as_deref().is_some_and(|a| a != app.as_slice()) {
            continue;
        }
        let got_id = got_id
            .or_else(|| {
                object_id
                    .as_deref()
                    .and_then(octet_string_content)
                    .map(<[u8]>::to_vec)
            })
            .unwrap_or_default();
        if id.is_some_and(|want| got_id != want) {
            continue;
        }
        match value {
            Some(v) => out.push((h, got_id, v)),
            None => tracing::warn!(handle = h.handle(), "data object without a readable value"),
        }
    }
    Ok(out)
}

fn certificates_with(session: &Session, id: Option<&[u8]>) -> Result<Vec<IdValue>> {
    let mut template = vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
    ];
    if let Some(id) = id {
        template.push(Attribute::Id(id.to_vec()));
    }
    let mut out = Vec::new();
    for h in find_handles(session, &template)? {
        let attrs = match attributes(session, h, &[AttributeType::Id, AttributeType::Value]) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(handle = h.handle(), error = %e, "cannot read a certificate");
                continue;
            }
        };
        let (mut got_id, mut value) = (Vec::new(), None);
        for a in attrs {
            match a {
                Attribute::Id(v) => got_id = v,
                Attribute::Value(v) if !v.is_empty() => value = Some(v),
                _ => {}
            }
        }
        if id.is_some_and(|want| got_id != want) {
            continue;
        }
        if let Some(v) = value {
            out.push((h, got_id, v));
        }
    }
    Ok(out)
}

/// The X.509 certificates on the token: (handle, CKA_ID, DER). Certificates whose
/// value cannot be read are left out (and logged).
pub fn certificates(session: &Session) -> Result<Vec<IdValue>> {
    certificates_with(session, None)
}

/// Every object (any class) with CKA_ID `id`, and the data objects [`write_data`]
/// gave that id through CKA_OBJECT_ID.
pub fn objects_with_id(session: &Session, id: &[u8]) -> Result<Vec<ObjectHandle>> {
    let mut found = find_handles(session, &[Attribute::Id(id.to_vec())])?;
    let data = find_handles(
        session,
        &[
            Attribute::Class(ObjectClass::DATA),
            Attribute::ObjectId(id_octet_string(id)?),
        ],
    )?;
    for h in data {
        if !found.contains(&h) {
            found.push(h);
        }
    }
    Ok(found)
}

/// Destroys an object.
pub fn destroy(session: &Session, handle: ObjectHandle) -> Result<()> {
    session
        .destroy_object(handle)
        .map_err(|e| ckr::convert(e, "C_DestroyObject"))
}

/// A fresh random CKA_ID of [`ID_LEN`] bytes: SHA-256 over the token's
/// C_GenerateRandom output (when it works) and the operating system's randomness, so
/// neither a weak token generator nor a missing OS source makes ids repeat.
pub fn new_id(session: &Session) -> Vec<u8> {
    let mut h = Sha256::new();
    match session.generate_random_vec(32) {
        Ok(r) => h.update(&r),
        Err(e) => tracing::debug!(error = %e, "C_GenerateRandom failed; using the OS only"),
    }
    let mut os = [0u8; 32];
    if getrandom::fill(&mut os).is_err() {
        // Last resort: the clock and a process-wide counter.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        h.update(t.to_be_bytes());
        h.update(n.to_be_bytes());
        h.update(std::process::id().to_be_bytes());
    }
    h.update(os);
    h.finalize().iter().take(ID_LEN).copied().collect()
}

/// The CKA_OBJECT_ID [`write_data`] gives a data object: the DER OCTET STRING of its
/// CKA_ID.
fn id_octet_string(id: &[u8]) -> Result<Vec<u8>> {
    OctetStringRef::new(id)
        .and_then(|o| o.to_der())
        .map_err(|e| Error::InvalidArgument {
            name: "id".into(),
            reason: format!("cannot be encoded in DER: {e}"),
        })
}

/// SubjectPublicKeyInfo of a point: id-ecPublicKey with the named curve
/// prime256v1 or sm2p256v1, and the uncompressed point.
pub fn spki(alg: KeyAlg, point: &[u8; 65]) -> Result<SubjectPublicKeyInfoOwned> {
    let encoding = |e: der::Error| Error::InvalidArgument {
        name: "public key".into(),
        reason: format!("cannot be encoded in DER: {e}"),
    };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ID_EC_PUBLIC_KEY,
            parameters: Some(Any::from_der(alg.ec_params()).map_err(encoding)?),
        },
        subject_public_key: BitString::from_bytes(point).map_err(encoding)?,
    })
}

/// DER SubjectPublicKeyInfo of a point (see [`spki`]).
pub fn spki_der(alg: KeyAlg, point: &[u8; 65]) -> Result<Vec<u8>> {
    spki(alg, point)?
        .to_der()
        .map_err(|e| Error::InvalidArgument {
            name: "public key".into(),
            reason: format!("cannot be encoded in DER: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm2::dsa::signature::hazmat::PrehashVerifier;
    use sm2::dsa::signature::Signer;

    #[test]
    fn host_z_and_e_match_the_sm2_crate() {
        let secret = [7u8; 32];
        let sk = sm2::dsa::SigningKey::from_slice(SM2_DEFAULT_DISTID, &secret).unwrap();
        let vk = sk.verifying_key();
        let point: [u8; 65] = {
            use sm2::elliptic_curve::sec1::ToSec1Point;
            vk.as_affine()
                .to_sec1_point(false)
                .as_bytes()
                .try_into()
                .unwrap()
        };
        let msg = b"CertKey SM2 host-side e";
        let sig: sm2::dsa::Signature = sk.sign(msg);
        let e = sm2_e(&point, msg);
        vk.verify_prehash(&e, &sig).unwrap();
        assert!(vk.verify_prehash(&sm2_e(&point, b"other"), &sig).is_err());
    }

    #[test]
    fn ec_point_forms() {
        let sk = p256::SecretKey::from_slice(&[9u8; 32]).unwrap();
        let point: [u8; 65] = {
            use p256::elliptic_curve::sec1::ToSec1Point;
            sk.public_key()
                .to_sec1_point(false)
                .as_bytes()
                .try_into()
                .unwrap()
        };
        let mut wrapped = vec![0x04, 65];
        wrapped.extend_from_slice(&point);
        assert_eq!(ec_point(KeyAlg::P256, &wrapped), Some(point));
        assert_eq!(ec_point(KeyAlg::P256, &point), Some(point));
        let compressed = {
            use p256::elliptic_curve::sec1::ToSec1Point;
            sk.public_key().to_sec1_point(true).as_bytes().to_vec()
        };
        assert_eq!(ec_point(KeyAlg::P256, &compressed), Some(point));
        assert_eq!(ec_point(KeyAlg::P256, &wrapped[..40]), None);
        // A P-256 point is not on the SM2 curve.
        assert_eq!(ec_point(KeyAlg::Sm2, &wrapped), None);
        let mut off = point;
        off[64] ^= 1;
        assert_eq!(ec_point(KeyAlg::P256, &off), None);

        // A bare point whose x starts with 0x3F looks like a wrapped 63-byte string.
        let tricky = (1u8..=255)
            .flat_map(|a| (1u8..=255).map(move |b| [a, b]))
            .find_map(|[a, b]| {
                use sm2::elliptic_curve::sec1::ToSec1Point;
                let mut s = [1u8; 32];
                s[0] = a;
                s[1] = b;
                let pk = sm2::SecretKey::from_slice(&s).ok()?.public_key();
                let p: [u8; 65] = pk.to_sec1_point(false).as_bytes().try_into().ok()?;
                (p[1] == 63).then_some(p)
            })
            .unwrap();
        assert_eq!(ec_point(KeyAlg::Sm2, &tricky), Some(tricky));
    }

    #[test]
    fn spki_is_what_openssl_writes() {
        // The prefix of every SM2 SPKI OpenSSL writes (MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE).
        let spki = spki_der(KeyAlg::Sm2, &[4u8; 65]).unwrap();
        assert_eq!(
            &spki[..26],
            &hex::decode("3059301306072a8648ce3d020106082a811ccf5501822d034200").unwrap()[..]
        );
        assert_eq!(spki.len(), 91);
        let spki = spki_der(KeyAlg::P256, &[4u8; 65]).unwrap();
        assert_eq!(
            &spki[..26],
            &hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap()[..]
        );
    }

    #[test]
    fn signatures_in_either_form_normalise() {
        let sk = sm2::dsa::SigningKey::from_slice(SM2_DEFAULT_DISTID, &[3u8; 32]).unwrap();
        let sig: sm2::dsa::Signature = sk.sign(b"m");
        let raw = sig.to_bytes().to_vec();
        let der = sig.to_der().as_bytes().to_vec();
        assert_eq!(sm2_normalise(&raw, true), Some(sig));
        assert_eq!(sm2_normalise(&der, false), Some(sig));
        assert_eq!(sm2_normalise(&raw[..63], false), None);
    }
}
