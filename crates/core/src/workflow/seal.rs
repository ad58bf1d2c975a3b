//! The electronic seal (shared/DESIGN.md, "Objects CertKey writes" and `POST /seal`):
//! one GB/T 38540 SESeal per certificate, made and signed by the CA's seal maker and
//! kept on the key as a public data object (CKA_APPLICATION [`APPLICATION`], CKA_ID =
//! the certificate's id, CKA_LABEL = the seal's name, CKA_VALUE = the DER SESeal).
//!
//! [`write`]:
//! 1. find the certificate in use and refuse when the key already holds its seal;
//! 2. check and normalise the picture here (the service does it again) and check the
//!    key has room for the seal;
//! 3. log in and sign the request with the certificate's key;
//! 4. the service makes the seal (the same seal again for the same request);
//! 5. check the answer before anything is written: it decodes, the maker's signature
//!    verifies, it lists this certificate, it has the name and size asked for;
//! 6. write it in one C_CreateObject and read it back.
//!
//! Crash safety needs no journal: nothing is written before step 6, which is atomic,
//! and the service answers a repeated request (same normalised picture, size and
//! name) with the seal it already made. A rerun after an interruption before step 6
//! asks again and writes; after step 6 the seal is on the key and the rerun says
//! `seal_exists`.
//!
//! [`show`] reads every seal on a key without logging in (seals are public) and checks
//! each: the maker's signature, the binding to the certificate with the same id, and
//! that the maker's certificate chains to a trusted CA (the CA list of
//! [`super::ca_list`]: the service's `/cacerts` or its cache, and the CA bundles). A
//! self-made maker certificate signs a seal just as well as the CA's: only the chain
//! tells them apart. [`write`] checks the chain of the CA's answer against the
//! service's own `/cacerts` before writing.
//!
//! A seal carrying a critical extension (`ExtData` with `critical` TRUE) this client
//! does not know ([`unknown_critical_extensions`]) is refused wherever a seal is
//! checked, whatever its signature: [`maker_signature_valid`] is false for it, the
//! service's answer is refused, [`show`] lists it as not a seal it can accept, and a
//! renewal does not carry it over. No extension is known today.

use certkey_protocol::v1::{seal_signed_message, SealRequest};
use certkey_protocol::{Base64, CertType};
use certkey_seal::{CertList, Form, ImageLimits, Seal, SealType};
use cryptoki::session::Session;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sm3::Sm3;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::certs::{self, HolderCert};
use super::pin::login_user;
use super::token::Token;
use super::{Interaction, Progress, Step};
use crate::cert::chain::{self, Untrusted};
use crate::cert::{name, CertificateInfo, OID_SM2_CURVE, SM2_DEFAULT_DISTID};
use crate::pkcs11::ckr;
use crate::pkcs11::keys;
use crate::service::ServiceClient;
use crate::{Error, Result};

/// CKA_APPLICATION of seal objects.
pub const APPLICATION: &str = "GB/T 38540 SESeal";

/// Default size of an organisation's seal (the round official seal), mm.
pub const ORGANISATION_MM: u32 = 42;
/// Default size of a personal seal, mm.
pub const PERSONAL_MM: u32 = 20;
/// Longest seal name, in characters (the service's limit).
pub const MAX_NAME_CHARS: usize = 64;
/// Room a seal needs besides its picture and the holder's certificate: the maker's
/// certificate, the structure and the object's own attributes.
const SEAL_OVERHEAD: usize = 4096;
/// Largest seal object read back.
const MAX_SEAL_OBJECT: usize = certkey_seal::MAX_SEAL_BYTES;

/// CKR_DEVICE_MEMORY.
const CKR_DEVICE_MEMORY: u64 = 0x31;

/// OID of id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// OID of prime256v1.
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// What the holder asks for; `None` takes the default of the certificate's type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealOptions {
    /// The seal's name (default: the organisation for an organisation certificate,
    /// else the holder's CN).
    pub name: Option<String>,
    /// Width in mm (default 42 for organisations, 20 for persons; the height when
    /// only the height is given).
    pub width_mm: Option<u32>,
    /// Height in mm (default: the width).
    pub height_mm: Option<u32>,
}

/// What [`write`] put on the key.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SealWritten {
    /// Token serial.
    pub token_serial: String,
    /// CKA_ID of the certificate (and of the seal object), hex.
    pub certificate_id: String,
    /// The certificate's subject, RFC 4514.
    pub certificate_subject: String,
    /// The certificate's serial, hex.
    pub certificate_serial: String,
    /// The seal's identifier (esID).
    pub es_id: String,
    /// The seal's name.
    pub name: String,
    /// `organisation` or `personal` (as the CA decided).
    pub seal_type: String,
    /// Width in mm.
    pub width_mm: u32,
    /// Height in mm.
    pub height_mm: u32,
    /// Picture width in pixels, as sent.
    pub picture_width_px: u32,
    /// Picture height in pixels, as sent.
    pub picture_height_px: u32,
    /// Size of the seal object, bytes.
    pub seal_bytes: usize,
    /// End of the seal's validity, RFC 3339.
    pub valid_end: String,
    /// The seal maker's certificate subject.
    pub maker_subject: Option<String>,
}

/// One seal object on a key, decoded and checked.
#[derive(Debug, Clone, Serialize)]
pub struct SealShown {
    /// CKA_ID of the seal object (the certificate it belongs to), hex.
    pub certificate_id: String,
    /// Subject of the certificate with that id on the key, if there is one.
    pub certificate_subject: Option<String>,
    /// Size of the object's value, bytes.
    pub object_bytes: usize,
    /// The maker's signature verifies over the seal with the maker certificate's key.
    pub signature_valid: bool,
    /// The seal's certList names the certificate with the same id on the key (the
    /// certificate itself, or its SHA-256 or SM3 digest).
    pub bound_to_certificate: bool,
    /// The maker's certificate chains to a trusted CA (and is valid now).
    pub maker_trusted: bool,
    /// The trusted CA the maker's certificate chains to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maker_trusted_by: Option<String>,
    /// Why the maker is not trusted (a code of [`Untrusted`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maker_untrusted_reason: Option<Untrusted>,
    /// What the seal says; absent when it does not decode or must be refused (see
    /// `error`).
    #[serde(flatten)]
    pub details: Option<SealDetails>,
    /// Why the object is not a seal this client can read and accept (e.g. it does
    /// not decode, or it carries a critical extension this client does not know).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

/// The content of a decoded seal.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SealDetails {
    /// Seal identifier (esID).
    pub es_id: String,
    /// Seal name.
    pub name: String,
    /// `organisation`, `personal`, or the number found.
    pub seal_type: String,
    /// `GB/T 38540-2020` or `GM/T 0031-2014`.
    pub form: String,
    /// Header version (4 for 2020; 1 to 3 for 2014).
    pub version: u32,
    /// Vendor id.
    pub vid: String,
    /// When the seal was made, RFC 3339.
    pub create_date: String,
    /// Start of validity, RFC 3339.
    pub valid_start: String,
    /// End of validity, RFC 3339.
    pub valid_end: String,
    /// Whether `now` lies within the validity.
    pub valid_now: bool,
    /// Picture type (`PNG`, `JPG`, `BMP`, `GIF`, `SVG`...).
    pub picture_kind: String,
    /// Picture size, bytes.
    pub picture_bytes: usize,
    /// Picture width in pixels, when its header tells (PNG, BMP).
    pub picture_width_px: Option<u32>,
    /// Picture height in pixels, when its header tells (PNG, BMP).
    pub picture_height_px: Option<u32>,
    /// Width in mm.
    pub width_mm: u32,
    /// Height in mm.
    pub height_mm: u32,
    /// How many certificates (or digests) the seal lists.
    pub cert_list_len: usize,
    /// certListType: 1 certificates, 2 digests.
    pub cert_list_type: u32,
    /// The maker's signature algorithm, readable.
    pub sign_algorithm: String,
    /// The seal maker's certificate subject, when it parses.
    pub maker_subject: Option<String>,
    /// The picture file.
    #[serde(skip)]
    pub picture: Vec<u8>,
}

fn not_applicable(reason: &str) -> Error {
    Error::NotApplicable {
        reason: reason.into(),
        days_left: None,
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// A picture or size the seal library refuses, with its stable code visible.
fn image_error(e: certkey_seal::SealError) -> Error {
    let name = if e.code() == "seal_size" {
        "seal size"
    } else {
        "image"
    };
    Error::InvalidArgument {
        name: name.into(),
        reason: format!("{}: {e}", e.code()),
    }
}

fn seal_type_text(t: SealType) -> String {
    match t {
        SealType::Organisation => "organisation".into(),
        SealType::Personal => "personal".into(),
        SealType::Other(n) => n.to_string(),
    }
}

fn form_text(f: Form) -> &'static str {
    match f {
        Form::V4 => "GB/T 38540-2020",
        Form::V3 => "GM/T 0031-2014",
    }
}

/// The size and name of the seal: what the holder asked for, else the defaults of
/// the certificate's type.
pub fn resolve(opts: &SealOptions, info: &CertificateInfo) -> Result<(String, u32, u32)> {
    let organisation = info.cert_type_hint == Some(CertType::Organisation);
    let default_mm = if organisation {
        ORGANISATION_MM
    } else {
        PERSONAL_MM
    };
    let (w, h) = match (opts.width_mm, opts.height_mm) {
        (Some(w), Some(h)) => (w, h),
        (Some(s), None) | (None, Some(s)) => (s, s),
        (None, None) => (default_mm, default_mm),
    };
    let name = match &opts.name {
        Some(n) => n.trim().to_string(),
        None => {
            let default = if organisation {
                info.subject_o.clone().or_else(|| info.subject_cn.clone())
            } else {
                info.subject_cn.clone()
            };
            default.ok_or_else(|| Error::InvalidArgument {
                name: "name".into(),
                reason: "the certificate names no holder: give the seal's name".into(),
            })?
        }
    };
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || !name.chars().all(certkey_seal::name_char_ok) {
        return Err(Error::InvalidArgument {
            name: "name".into(),
            reason: format!("a seal name has 1 to {MAX_NAME_CHARS} printable characters"),
        });
    }
    Ok((name, w, h))
}

/// Whether the key can take `need` more bytes of public objects, when it says how
/// much it has (0 total counts as "not reported").
fn check_memory(token: &Token, need: usize) -> Result<()> {
    let info = token.info()?;
    let reported = info.total_public_memory().is_some_and(|t| t > 0);
    match info.free_public_memory() {
        Some(free) if reported && free < need => Err(not_applicable("token_memory_full")),
        _ => Ok(()),
    }
}

/// The algorithm (SM2 or P-256) and SEC1 point of a certificate's key.
fn ec_key(der: &[u8]) -> Option<(bool, Vec<u8>)> {
    let parsed = crate::cert::parse(der).ok()?;
    let spki = parsed.cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let sm2 = match (alg.as_str(), curve.as_deref()) {
        (OID_EC_PUBLIC_KEY, Some(OID_SM2_CURVE)) | (OID_SM2_CURVE, _) => true,
        (OID_EC_PUBLIC_KEY, Some(OID_P256)) => false,
        _ => return None,
    };
    Some((sm2, spki.subject_public_key.data.to_vec()))
}

/// The critical extensions this client understands, by dotted OID. None: CertKey's
/// seals carry no extensions (the CA writes none, and shared/REFERENCE.md names
/// none), so any critical extension is unknown.
pub const KNOWN_CRITICAL_EXTENSIONS: &[&str] = &[];

/// The OIDs of the seal's critical extensions this client does not know (not in
/// [`KNOWN_CRITICAL_EXTENSIONS`]). A reader must refuse a seal that has any: it
/// cannot tell what they restrict. Unknown extensions that are not critical are
/// ignored.
pub fn unknown_critical_extensions(seal: &Seal) -> Vec<&str> {
    seal.info
        .ext
        .iter()
        .filter(|e| e.critical && !KNOWN_CRITICAL_EXTENSIONS.contains(&e.oid.as_str()))
        .map(|e| e.oid.as_str())
        .collect()
}

/// Why the seal must be refused whatever its signature, in words; `None` when
/// nothing in it forbids accepting it (see [`unknown_critical_extensions`]).
pub fn seal_refusal(seal: &Seal) -> Option<String> {
    let unknown = unknown_critical_extensions(seal);
    (!unknown.is_empty()).then(|| {
        format!(
            "the seal carries a critical extension this client does not know ({})",
            unknown.join(", ")
        )
    })
}

/// Whether the seal maker's signature verifies over the seal: SM3withSM2 (default
/// user id) with an SM2 maker key, or ECDSA-SHA256 with a P-256 maker key. Any
/// other combination, or anything that does not parse, is `false`; so is a seal
/// that must be refused whatever its signature ([`seal_refusal`]: a critical
/// extension this client does not know).
pub fn maker_signature_valid(seal: &Seal) -> bool {
    if seal_refusal(seal).is_some() {
        return false;
    }
    let Ok(tbs) = seal.signed_bytes() else {
        return false;
    };
    let Some((sm2, point)) = ec_key(&seal.maker_cert) else {
        return false;
    };
    match (sm2, seal.sign_alg.as_str()) {
        (true, certkey_seal::OID_SM3_WITH_SM2) => {
            use sm2::dsa::signature::Verifier;
            let Ok(vk) = sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DEFAULT_DISTID, &point) else {
                return false;
            };
            let Ok(sig) = sm2::dsa::Signature::from_der(&seal.signed_value) else {
                return false;
            };
            vk.verify(&tbs, &sig).is_ok()
        }
        (false, certkey_seal::OID_ECDSA_WITH_SHA256) => {
            use p256::ecdsa::signature::Verifier;
            let Ok(vk) = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point) else {
                return false;
            };
            let Ok(sig) = p256::ecdsa::Signature::from_der(&seal.signed_value) else {
                return false;
            };
            vk.verify(&tbs, &sig).is_ok()
        }
        _ => false,
    }
}

/// Whether the seal's certList names `cert` (DER): the certificate itself, or its
/// digest by the algorithm the entry's `type` names (SHA-256 or SM3, by name or OID).
pub fn lists_certificate(seal: &Seal, cert: &[u8]) -> bool {
    match &seal.info.certs {
        CertList::Certs(list) => list.iter().any(|c| c == cert),
        CertList::Digests(list) => list.iter().any(|(kind, value)| {
            let kind: String = kind
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect::<String>()
                .to_ascii_lowercase();
            match kind.as_str() {
                "sha256" | "2.16.840.1.101.3.4.2.1" => Sha256::digest(cert).as_slice() == value,
                "sm3" | "1.2.156.10197.1.401" => Sm3::digest(cert).as_slice() == value,
                _ => false,
            }
        }),
    }
}

/// Pixel size from a PNG or BMP header.
fn picture_px(data: &[u8]) -> Option<(u32, u32)> {
    let be = |b: &[u8]| -> Option<u32> { Some(u32::from_be_bytes(b.try_into().ok()?)) };
    let le = |b: &[u8]| -> Option<i32> { Some(i32::from_le_bytes(b.try_into().ok()?)) };
    match certkey_seal::sniff(data) {
        Some("PNG") if data.get(12..16) == Some(b"IHDR") => {
            Some((be(data.get(16..20)?)?, be(data.get(20..24)?)?))
        }
        Some("BMP") => {
            let w = le(data.get(18..22)?)?;
            let h = le(data.get(22..26)?)?;
            Some((w.unsigned_abs(), h.unsigned_abs()))
        }
        _ => None,
    }
}

fn maker_subject(maker_cert: &[u8]) -> Option<String> {
    crate::cert::parse(maker_cert)
        .ok()
        .map(|p| name::rfc4514(p.cert.subject()))
}

fn details(seal: &Seal, now: OffsetDateTime) -> SealDetails {
    let i = &seal.info;
    let px = picture_px(&i.picture.data);
    SealDetails {
        es_id: i.es_id.clone(),
        name: i.name.clone(),
        seal_type: seal_type_text(i.seal_type),
        form: form_text(seal.form).into(),
        version: i.version,
        vid: i.vid.clone(),
        create_date: rfc3339(i.create_date),
        valid_start: rfc3339(i.valid_start),
        valid_end: rfc3339(i.valid_end),
        valid_now: i.valid_start <= now && now < i.valid_end,
        picture_kind: i.picture.kind.clone(),
        picture_bytes: i.picture.data.len(),
        picture_width_px: px.map(|p| p.0),
        picture_height_px: px.map(|p| p.1),
        width_mm: i.picture.width_mm,
        height_mm: i.picture.height_mm,
        cert_list_len: i.certs.len(),
        cert_list_type: i.certs.list_type(),
        sign_algorithm: crate::cert::signature_algorithm(&seal.sign_alg),
        maker_subject: maker_subject(&seal.maker_cert),
        picture: i.picture.data.clone(),
    }
}

/// The end-entity certificate valid longest, as seen without logging in: (CKA_ID,
/// DER, what it says).
fn public_current(
    session: &Session,
    now: OffsetDateTime,
) -> Result<(Vec<u8>, Vec<u8>, CertificateInfo)> {
    let mut best: Option<(OffsetDateTime, Vec<u8>, Vec<u8>, CertificateInfo)> = None;
    for (_, id, der) in keys::certificates(session)? {
        if id.is_empty() {
            continue;
        }
        let Ok(parsed) = crate::cert::parse(&der) else {
            continue;
        };
        let info = CertificateInfo::from_parsed(&parsed, now);
        let not_after = parsed.cert.validity().not_after.to_datetime();
        drop(parsed);
        if info.is_ca || best.as_ref().is_some_and(|b| b.0 >= not_after) {
            continue;
        }
        best = Some((not_after, id, der, info));
    }
    best.map(|(_, id, der, info)| (id, der, info))
        .ok_or_else(|| not_applicable("no_certificate"))
}

/// The request's parts, checked: name, size, normalised picture.
/// The seal as it will be written for a certificate: its name and size, and the
/// normalised picture (transparent background, trimmed, scaled to fit).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The seal's name.
    pub name: String,
    /// Width in mm.
    pub w: u32,
    /// Height in mm.
    pub h: u32,
    /// The picture as it will be sent (PNG), with its size in pixels.
    pub picture: certkey_seal::NormalisedImage,
}

/// What [`write`] would make of `image` for the certificate `info` with `opts`,
/// without the key: the preview a front end shows before writing. Refuses what
/// `write` refuses of the picture and size (`image_*`, `seal_size`).
pub fn preview(image: &[u8], opts: &SealOptions, info: &CertificateInfo) -> Result<Prepared> {
    let (name, w, h) = resolve(opts, info)?;
    let picture =
        certkey_seal::normalise(image, w, h, &ImageLimits::default()).map_err(image_error)?;
    Ok(Prepared {
        name,
        w,
        h,
        picture,
    })
}

/// Refuses a certificate that has its seal on the key already, resolves the name and
/// size, normalises the picture and checks the key has room for the seal.
fn prepare(
    session: &Session,
    token: &Token,
    id: &[u8],
    der: &[u8],
    info: &CertificateInfo,
    image: &[u8],
    opts: &SealOptions,
) -> Result<Prepared> {
    if !keys::find_data(session, APPLICATION, Some(id))?.is_empty() {
        return Err(not_applicable("seal_exists"));
    }
    let prepared = preview(image, opts, info)?;
    check_memory(
        token,
        prepared.picture.png.len() + der.len() + SEAL_OVERHEAD,
    )?;
    Ok(prepared)
}

/// Checks the service's answer against the request before anything is written.
/// The checks of [`check_answer`] that apply to a seal made by an earlier request:
/// decodes, the maker's signature verifies, bound to this certificate, has a picture.
fn check_existing(
    der: &[u8],
    holder: &[u8],
    trusted: &[Vec<u8>],
    now: OffsetDateTime,
) -> Result<Seal> {
    let bad = |reason: String| Error::ServiceResponse { reason };
    let seal = decode_answer(der)?;
    if !maker_signature_valid(&seal) {
        return Err(bad(
            "the seal maker's signature does not verify with its certificate".into(),
        ));
    }
    check_maker_trusted(&seal, trusted, now)?;
    if !lists_certificate(&seal, holder) || seal.info.picture.data.is_empty() {
        return Err(bad("the seal is not bound to this certificate".into()));
    }
    Ok(seal)
}

/// Whether the seal's maker is a seal maker of a trusted CA: its certificate chains to
/// one of `trusted` (through CA certificates of `pool` where needed) and is not a
/// certificate holder's — the CA's holder certificates chain to the same CAs, and
/// carry client authentication and e-mail protection, which a seal maker's does not.
/// Returns the trusted CA's name.
pub fn maker_trusted(
    seal: &Seal,
    trusted: &[Vec<u8>],
    pool: &[Vec<u8>],
    now: OffsetDateTime,
) -> std::result::Result<String, Untrusted> {
    if maker_is_holder(seal) {
        return Err(Untrusted::HolderCertificate);
    }
    chain::chains_to(&seal.maker_cert, trusted, pool, now)
}

/// Whether the seal's maker certificate is a certificate holder's rather than a seal
/// maker's: it allows client authentication, e-mail protection or any usage, its
/// extended key usage cannot be read, or the seal lists it as the holder's.
pub fn maker_is_holder(seal: &Seal) -> bool {
    let holder_usage = match crate::cert::parse(&seal.maker_cert) {
        Ok(p) => match p.cert.extended_key_usage() {
            Ok(Some(e)) => e.value.client_auth || e.value.email_protection || e.value.any,
            Ok(None) => false,
            Err(_) => true,
        },
        // Not a certificate at all: no chain will be found for it either.
        Err(_) => false,
    };
    holder_usage || lists_certificate(seal, &seal.maker_cert)
}

/// The maker's certificate of a seal the service sent chains to the service's own CA
/// list: a seal signed by any other key is refused before it reaches the key.
fn check_maker_trusted(seal: &Seal, trusted: &[Vec<u8>], now: OffsetDateTime) -> Result<()> {
    maker_trusted(seal, trusted, &[], now)
        .map(|_| ())
        .map_err(|why| Error::ServiceResponse {
            reason: format!(
                "the seal maker's certificate does not chain to the CA's certificates ({})",
                why.code()
            ),
        })
}

/// A seal the service sent, decoded and not one to refuse whatever its signature
/// ([`seal_refusal`]).
fn decode_answer(der: &[u8]) -> Result<Seal> {
    let bad = |reason: String| Error::ServiceResponse { reason };
    let seal = Seal::decode(der)
        .map_err(|e| bad(format!("the seal does not decode ({}): {e}", e.code())))?;
    match seal_refusal(&seal) {
        Some(why) => Err(bad(why)),
        None => Ok(seal),
    }
}

fn check_answer(
    der: &[u8],
    holder: &[u8],
    name: &str,
    (w, h): (u32, u32),
    trusted: &[Vec<u8>],
    now: OffsetDateTime,
) -> Result<Seal> {
    let bad = |reason: String| Error::ServiceResponse { reason };
    let seal = decode_answer(der)?;
    if !maker_signature_valid(&seal) {
        return Err(bad(
            "the seal maker's signature does not verify with its certificate".into(),
        ));
    }
    check_maker_trusted(&seal, trusted, now)?;
    if !lists_certificate(&seal, holder) {
        return Err(bad("the seal is not bound to this certificate".into()));
    }
    let i = &seal.info;
    if i.name != name || i.picture.width_mm != w || i.picture.height_mm != h {
        return Err(bad(format!(
            "the seal is \"{}\" {}x{} mm, not the \"{name}\" {w}x{h} mm asked for",
            i.name, i.picture.width_mm, i.picture.height_mm
        )));
    }
    if i.picture.data.is_empty() {
        return Err(bad("the seal has no picture".into()));
    }
    Ok(seal)
}

/// Writes the seal of the certificate in use: see the module documentation. `image`
/// is the picture file (PNG, JPEG or BMP).
pub fn write(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    image: &[u8],
    opts: &SealOptions,
) -> Result<SealWritten> {
    let mut p = Progress::new(ui, 7);
    p.step(Step::ReadToken)?;
    let session = token.session()?;
    let now = OffsetDateTime::now_utc();
    // Before the login only the certificates are visible: everything that can be
    // refused without the PIN is refused here.
    let (public_id, public_der, public_info) = public_current(&session, now)?;
    let mut prepared = prepare(
        &session,
        token,
        &public_id,
        &public_der,
        &public_info,
        image,
        opts,
    )?;

    p.step(Step::Login)?;
    login_user(ui, token, &session, None)?;
    let cert = certs::current(&session, now)?;
    if cert.id != public_id {
        // The certificate in use is another one than it looked (a certificate
        // without its key was valid longer): check again for this one.
        prepared = prepare(
            &session, token, &cert.id, &cert.der, &cert.info, image, opts,
        )?;
    }
    let Prepared {
        name,
        w,
        h,
        picture,
    } = prepared;

    let (seal, der) = request_and_write(
        ui,
        token,
        service,
        &session,
        &cert,
        (&name, w, h, &picture.png),
        now,
        &mut |step| p.step(step),
    )?;
    let _ = session.logout();
    Ok(SealWritten {
        token_serial: token.serial.clone(),
        certificate_id: hex::encode(&cert.id),
        certificate_subject: cert.info.subject.clone(),
        certificate_serial: cert.info.serial_hex.clone(),
        es_id: seal.info.es_id.clone(),
        name: seal.info.name.clone(),
        seal_type: seal_type_text(seal.info.seal_type),
        width_mm: seal.info.picture.width_mm,
        height_mm: seal.info.picture.height_mm,
        picture_width_px: picture.width_px,
        picture_height_px: picture.height_px,
        seal_bytes: der.len(),
        valid_end: rfc3339(seal.info.valid_end),
        maker_subject: maker_subject(&seal.maker_cert),
    })
}

/// Steps 3 to 6 of [`write`] for `cert` (the user logged in): signs the request
/// (`name`, width, height, normalised PNG) with the certificate's key, has the CA make
/// the seal (or takes the one it made already, on `seal_exists`), checks it, writes it
/// under the certificate's id and reads it back. `step` announces each step.
#[allow(clippy::too_many_arguments)] // one call site per workflow, each naming them all
fn request_and_write(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    session: &Session,
    cert: &HolderCert,
    (name, w, h, png): (&str, u32, u32, &[u8]),
    now: OffsetDateTime,
    step: &mut dyn FnMut(Step) -> Result<()>,
) -> Result<(Seal, Vec<u8>)> {
    step(Step::SignSeal)?;
    let message = seal_signed_message(w, h, name, png);
    let signature = keys::sign(
        session,
        &token.serial,
        &cert.key,
        token.sm2.as_ref(),
        &message,
    )?;

    step(Step::MakeSeal)?;
    let answer = service.seal(&SealRequest {
        certificate: Base64(cert.der.clone()),
        image: Base64(png.to_vec()),
        width_mm: w,
        height_mm: h,
        name: name.to_string(),
        signature: Base64(signature),
    });
    // The CA made this certificate's seal already (an earlier run was cut short before
    // writing it, perhaps with another picture): that seal, and no other, goes on the
    // key — provided it checks out and the key holds none.
    let (der, existing) = match answer {
        Ok(a) => (a.seal.0, false),
        Err(Error::Service {
            ref service_code,
            existing_seal: Some(ref der),
            ..
        }) if service_code == "seal_exists" => {
            ui.notice(&super::Notice::ExistingSeal {
                serial: token.serial.clone(),
            });
            (der.clone(), true)
        }
        Err(e) => return Err(e),
    };

    step(Step::Verify)?;
    // The maker must chain to the CA's own certificates, asked for now (and cached
    // for `seal show` when the service is out of reach later).
    let trusted = super::ca_list::fetch(service, crate::config::state_dir().as_deref(), now)?;
    let seal = if existing {
        check_existing(&der, &cert.der, &trusted, now)?
    } else {
        check_answer(&der, &cert.der, name, (w, h), &trusted, now)?
    };
    check_memory(token, der.len() + SEAL_OVERHEAD / 4)?;

    step(Step::WriteSeal)?;
    write_object(session, &cert.id, name, &der)?;

    step(Step::Verify)?;
    let back = keys::find_data(session, APPLICATION, Some(&cert.id))?;
    if !back.iter().any(|(_, _, value)| *value == der) {
        return Err(Error::ModuleMisbehaved {
            reason: "the seal written to the key does not read back".into(),
        });
    }
    Ok((seal, der))
}

/// Whether `maker_cert` (a seal maker's certificate) was issued by the CA that issued
/// `holder` (DER): a CA certificate of the service (`GET /cacerts`) that verifies the
/// holder's certificate also verifies the maker's.
fn made_by_holders_ca(service: &ServiceClient, holder: &[u8], maker_cert: &[u8]) -> Result<bool> {
    use crate::cert::verify::signed_by;
    let (Ok(holder), Ok(maker)) = (crate::cert::parse(holder), crate::cert::parse(maker_cert))
    else {
        return Ok(false);
    };
    for chain in service.cacerts()?.chains {
        for ca in &chain.certificates {
            let Ok(ca) = crate::cert::parse(ca.as_bytes()) else {
                continue;
            };
            if signed_by(&holder.cert, &ca.cert) == Some(true)
                && signed_by(&maker.cert, &ca.cert) == Some(true)
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Carries the seal of the certificate a renewal replaced (CKA_ID `old_id`) over to
/// its successor `new` (the user logged in): when the key holds a seal under
/// `old_id` that this client can trust — its maker's signature verifies, its maker's
/// certificate comes from the CA that issued the new certificate, and it lists the old
/// certificate — and none under the new id yet, the new key asks the CA for the new
/// certificate's seal with the old seal's picture, name and size
/// ([`request_and_write`]); once it is written and read back, the old seal objects are
/// removed. A seal object that is not such a seal (seal objects are public: anybody
/// may plant one) is never acted on: it stays, and nothing is asked for it.
pub(crate) fn carry_over(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
    session: &Session,
    old_id: &[u8],
    new: &HolderCert,
    now: OffsetDateTime,
) -> Result<()> {
    let old_seals = keys::find_data(session, APPLICATION, Some(old_id))?;
    if old_seals.is_empty() {
        return Ok(());
    }
    let old_certs: Vec<Vec<u8>> = keys::certificates(session)?
        .into_iter()
        .filter(|(_, id, _)| id == old_id)
        .map(|(_, _, der)| der)
        .collect();
    let trusted = old_seals
        .iter()
        .find_map(|(_, _, value)| old_seal(value, &old_certs));
    let trusted = match trusted {
        Some(seal) if made_by_holders_ca(service, &new.der, &seal.maker_cert)? => Some(seal),
        _ => None,
    };
    let Some(old) = trusted else {
        tracing::warn!(
            id = %hex::encode(old_id),
            "a seal object of the replaced certificate is not a seal for it: left as it is"
        );
        return Ok(());
    };
    if keys::find_data(session, APPLICATION, Some(&new.id))?.is_empty() {
        let i = &old.info;
        let (w, h) = (i.picture.width_mm, i.picture.height_mm);
        let picture = certkey_seal::normalise(&i.picture.data, w, h, &ImageLimits::default())
            .map_err(image_error)?;
        request_and_write(
            ui,
            token,
            service,
            session,
            new,
            (&i.name, w, h, &picture.png),
            now,
            &mut |_| Ok(()),
        )?;
    }
    for (handle, _, _) in old_seals {
        keys::destroy(session, handle)?;
    }
    Ok(())
}

/// The value of a seal object of a replaced certificate as a seal [`carry_over`] may
/// act on: it decodes, must not be refused ([`seal_refusal`]), its maker's signature
/// verifies, its maker is no certificate holder ([`maker_is_holder`]), it lists one of
/// `old_certs` and has a picture.
fn old_seal(value: &[u8], old_certs: &[Vec<u8>]) -> Option<Seal> {
    let seal = (value.len() <= MAX_SEAL_OBJECT)
        .then(|| Seal::decode(value).ok())
        .flatten()?;
    (seal_refusal(&seal).is_none()
        && maker_signature_valid(&seal)
        && !maker_is_holder(&seal)
        && old_certs.iter().any(|c| lists_certificate(&seal, c))
        && !seal.info.picture.data.is_empty())
    .then_some(seal)
}

/// One C_CreateObject: the seal is on the key whole or not at all. A full key is
/// `token_memory_full`.
fn write_object(session: &Session, id: &[u8], label: &str, der: &[u8]) -> Result<()> {
    match keys::write_data(session, APPLICATION, id, label, der) {
        Ok(_) => Ok(()),
        Err(e) if ckr::is_ckr(&e, CKR_DEVICE_MEMORY) => Err(not_applicable("token_memory_full")),
        Err(e) => Err(e),
    }
}

/// What [`show`] says of a seal it must refuse whatever its signature (see
/// [`seal_refusal`]): `unknown_critical_extension` and the extensions' OIDs.
fn refused(seal: &Seal) -> Error {
    Error::InvalidArgument {
        name: "seal".into(),
        reason: format!(
            "unknown_critical_extension: {}",
            seal_refusal(seal).unwrap_or_default()
        ),
    }
}

/// Every seal on the key, decoded and checked, in CKA_ID order. No login: seal
/// objects are public. An object that does not decode, or carries a critical
/// extension this client does not know, is listed with its error and no details.
/// `trusted` are the trusted CA certificates (DER; see [`super::ca_list::load`]): a
/// maker certificate must chain to one of them, possibly through CA certificates on
/// the key.
pub fn show(token: &Token, now: OffsetDateTime, trusted: &[Vec<u8>]) -> Result<Vec<SealShown>> {
    let session = token
        .ctx
        .open_ro_session(token.slot)
        .map_err(|e| ckr::convert(e, "C_OpenSession"))?;
    let certificates = keys::certificates(&session)?;
    // CA certificates on the key may fill a gap in the path; they are trusted only
    // through an anchor above them.
    let pool: Vec<Vec<u8>> = certificates.iter().map(|(_, _, der)| der.clone()).collect();
    let mut out = Vec::new();
    for (_, id, value) in keys::find_data(&session, APPLICATION, None)? {
        let on_token: Vec<&Vec<u8>> = certificates
            .iter()
            .filter(|(_, cid, _)| !id.is_empty() && *cid == id)
            .map(|(_, _, der)| der)
            .collect();
        let certificate_subject = on_token.iter().find_map(|der| {
            crate::cert::parse(der)
                .ok()
                .map(|p| name::rfc4514(p.cert.subject()))
        });
        let mut shown = SealShown {
            certificate_id: hex::encode(&id),
            certificate_subject,
            object_bytes: value.len(),
            signature_valid: false,
            bound_to_certificate: false,
            maker_trusted: false,
            maker_trusted_by: None,
            maker_untrusted_reason: None,
            details: None,
            error: None,
        };
        let decoded = if value.len() > MAX_SEAL_OBJECT {
            Err(certkey_seal::SealError::SealMalformed(format!(
                "{} bytes, more than a seal may have",
                value.len()
            )))
        } else {
            Seal::decode(&value)
        };
        match decoded {
            Ok(seal) if seal_refusal(&seal).is_some() => {
                shown.error = Some(refused(&seal));
            }
            Ok(seal) => {
                shown.signature_valid = maker_signature_valid(&seal);
                shown.bound_to_certificate = on_token.iter().any(|c| lists_certificate(&seal, c));
                match maker_trusted(&seal, trusted, &pool, now) {
                    Ok(ca) => {
                        shown.maker_trusted = true;
                        shown.maker_trusted_by = Some(ca);
                    }
                    Err(why) => shown.maker_untrusted_reason = Some(why),
                }
                shown.details = Some(details(&seal, now));
            }
            Err(e) => {
                shown.error = Some(Error::InvalidArgument {
                    name: "seal".into(),
                    reason: format!("{}: {e}", e.code()),
                });
            }
        }
        out.push(shown);
    }
    out.sort_by(|a, b| a.certificate_id.cmp(&b.certificate_id));
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use certkey_seal::{ExtData, Picture, SealInfo};
    use time::macros::datetime;

    fn info(cn: Option<&str>, o: Option<&str>, hint: Option<CertType>) -> CertificateInfo {
        CertificateInfo {
            subject: String::new(),
            issuer: String::new(),
            subject_cn: cn.map(str::to_string),
            subject_o: o.map(str::to_string),
            issuer_cn: None,
            serial_hex: "01".into(),
            not_before: String::new(),
            not_after: String::new(),
            days_left: 100,
            renewal: certkey_protocol::RenewalStatus::Valid,
            key_algorithm: "SM2".into(),
            signature_algorithm: "SM3withSM2".into(),
            key_usage: Vec::new(),
            extended_key_usage: Vec::new(),
            is_ca: false,
            cert_type_hint: hint,
            sha256: String::new(),
            sm3: String::new(),
        }
    }

    #[test]
    fn defaults_follow_the_certificate_type() {
        let org = info(
            Some("广东测试有限公司"),
            Some("广东测试有限公司"),
            Some(CertType::Organisation),
        );
        let none = SealOptions::default();
        assert_eq!(
            resolve(&none, &org).unwrap(),
            ("广东测试有限公司".to_string(), 42, 42)
        );
        let person = info(
            Some("张三"),
            Some("广东测试有限公司"),
            Some(CertType::OrgPerson),
        );
        assert_eq!(
            resolve(&none, &person).unwrap(),
            ("张三".to_string(), 20, 20)
        );
        let natural = info(Some("李四"), None, Some(CertType::Person));
        assert_eq!(
            resolve(&none, &natural).unwrap(),
            ("李四".to_string(), 20, 20)
        );
        let asked = SealOptions {
            name: Some(" 财务专用章 ".into()),
            width_mm: Some(38),
            height_mm: None,
        };
        assert_eq!(
            resolve(&asked, &org).unwrap(),
            ("财务专用章".to_string(), 38, 38)
        );
        let oblong = SealOptions {
            name: None,
            width_mm: Some(30),
            height_mm: Some(15),
        };
        assert_eq!(resolve(&oblong, &person).unwrap().1, 30);
        assert_eq!(resolve(&oblong, &person).unwrap().2, 15);
        for bad in ["", "  ", "a\nb"] {
            let o = SealOptions {
                name: Some(bad.into()),
                ..SealOptions::default()
            };
            assert_eq!(resolve(&o, &person).unwrap_err().code(), "invalid_argument");
        }
        let long = SealOptions {
            name: Some("章".repeat(65)),
            ..SealOptions::default()
        };
        assert!(resolve(&long, &person).is_err());
        assert!(resolve(&none, &info(None, None, None)).is_err());
    }

    #[test]
    fn image_errors_keep_their_code() {
        let e = image_error(certkey_seal::SealError::ImageFormat("GIF".into()));
        assert!(format!("{e}").contains("image_format"), "{e}");
        let e = certkey_seal::normalise(b"GIF89a....", 20, 20, &ImageLimits::default())
            .map_err(image_error)
            .unwrap_err();
        assert!(format!("{e}").contains("image_format"), "{e}");
        let e = certkey_seal::normalise(b"", 5, 20, &ImageLimits::default())
            .map_err(image_error)
            .unwrap_err();
        assert!(format!("{e}").contains("seal_size"), "{e}");
    }

    fn seal_with(sign: impl Fn(&[u8]) -> Vec<u8>, maker: Vec<u8>, alg: &str) -> Seal {
        seal_with_ext(sign, maker, alg, Vec::new())
    }

    fn seal_with_ext(
        sign: impl Fn(&[u8]) -> Vec<u8>,
        maker: Vec<u8>,
        alg: &str,
        ext: Vec<ExtData>,
    ) -> Seal {
        let info = SealInfo {
            version: certkey_seal::VERSION_2020,
            vid: "T".into(),
            es_id: "E1".into(),
            seal_type: SealType::Personal,
            name: "张三".into(),
            certs: CertList::Digests(vec![
                ("sha256".into(), Sha256::digest(b"holder").to_vec()),
                ("SM3".into(), Sm3::digest(b"other").to_vec()),
            ]),
            create_date: datetime!(2026-01-01 00:00 UTC),
            valid_start: datetime!(2026-01-01 00:00 UTC),
            valid_end: datetime!(2027-01-01 00:00 UTC),
            picture: Picture {
                kind: "PNG".into(),
                data: vec![1, 2, 3],
                width_mm: 20,
                height_mm: 20,
            },
            ext,
        };
        let tbs = info.to_be_signed(&maker, alg).unwrap();
        let sig = sign(&tbs);
        let der = Seal::new(Form::V4, info, maker, alg, sig).encode().unwrap();
        Seal::decode(&der).unwrap()
    }

    #[test]
    fn digests_bind_by_their_algorithm() {
        let seal = seal_with(|_| vec![0x30, 0x00], vec![1], "1.2.3");
        assert!(lists_certificate(&seal, b"holder"));
        assert!(lists_certificate(&seal, b"other"));
        assert!(!lists_certificate(&seal, b"stranger"));
        // Garbage maker certificate: never a valid signature, never a panic.
        assert!(!maker_signature_valid(&seal));
        assert_eq!(picture_px(&[0x89]), None);
    }

    /// A DER TLV (short or two-byte lengths).
    fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let content = parts.concat();
        let mut out = vec![tag];
        match content.len() {
            n @ 0..=0x7F => out.push(n as u8),
            n @ 0x80..=0xFF => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(content);
        out
    }

    /// A P-256 seal maker: its signing key and a certificate of its public key (the
    /// certificate's own signature is filler: only its key is read).
    pub(crate) fn p256_maker() -> (p256::ecdsa::SigningKey, Vec<u8>) {
        p256_maker_with(&[])
    }

    /// [`p256_maker`] with `tail` (e.g. the [3] extensions) after the key.
    fn p256_maker_with(tail: &[u8]) -> (p256::ecdsa::SigningKey, Vec<u8>) {
        let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let point = key.verifying_key().to_sec1_bytes();
        let oid = |content: &[u8]| tlv(0x06, &[content]);
        let ecdsa_sha256 = tlv(
            0x30,
            &[&oid(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02])],
        );
        let name = tlv(
            0x30,
            &[&tlv(
                0x31,
                &[&tlv(
                    0x30,
                    &[&oid(&[0x55, 0x04, 0x03]), &tlv(0x0C, &[b"Maker"])],
                )],
            )],
        );
        let spki = tlv(
            0x30,
            &[
                &tlv(
                    0x30,
                    &[
                        &oid(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]),
                        &oid(&[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]),
                    ],
                ),
                &tlv(0x03, &[&[0], &point]),
            ],
        );
        let tbs = tlv(
            0x30,
            &[
                &tlv(0xA0, &[&tlv(0x02, &[&[2]])]),
                &tlv(0x02, &[&[1]]),
                &ecdsa_sha256,
                &name,
                &tlv(
                    0x30,
                    &[
                        &tlv(0x17, &[b"260101000000Z"]),
                        &tlv(0x17, &[b"360101000000Z"]),
                    ],
                ),
                &name,
                &spki,
                tail,
            ],
        );
        let cert = tlv(
            0x30,
            &[&tbs, &ecdsa_sha256, &tlv(0x03, &[&[0], &[0x30, 0x00]])],
        );
        (key, cert)
    }

    /// A seal signed by a P-256 maker, with `ext`, as received (decoded).
    fn signed_seal(ext: Vec<ExtData>) -> Seal {
        use p256::ecdsa::signature::Signer;
        let (key, maker) = p256_maker();
        let sign = |tbs: &[u8]| {
            let sig: p256::ecdsa::Signature = key.sign(tbs);
            sig.to_der().as_bytes().to_vec()
        };
        seal_with_ext(sign, maker, certkey_seal::OID_ECDSA_WITH_SHA256, ext)
    }

    fn extension(oid: &str, critical: bool) -> ExtData {
        ExtData {
            oid: oid.into(),
            critical,
            value: b"v".to_vec(),
        }
    }

    #[test]
    fn a_maker_the_seal_lists_as_its_holder_is_no_seal_maker() {
        // A holder signing a "seal" with their own key and listing their own
        // certificate: refused before any chain is looked for.
        let mut seal = signed_seal(Vec::new());
        // (This maker's certificate names itself as its issuer.)
        assert_eq!(
            maker_trusted(&seal, &[], &[], datetime!(2027-01-01 0:00 UTC)),
            Err(Untrusted::SelfIssued)
        );
        seal.info.certs = CertList::Certs(vec![seal.maker_cert.clone()]);
        assert_eq!(
            maker_trusted(&seal, &[], &[], datetime!(2027-01-01 0:00 UTC)),
            Err(Untrusted::HolderCertificate)
        );
        // A maker certificate for client authentication is a holder's.
        let client_auth = tlv(
            0xA3,
            &[&tlv(
                0x30,
                &[&tlv(
                    0x30,
                    &[
                        &tlv(0x06, &[&[0x55, 0x1D, 0x25]]),
                        &tlv(
                            0x04,
                            &[&tlv(
                                0x30,
                                &[&tlv(
                                    0x06,
                                    &[&[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]],
                                )],
                            )],
                        ),
                    ],
                )],
            )],
        );
        let (_, holder_cert) = p256_maker_with(&client_auth);
        let parsed = crate::cert::parse(&holder_cert).unwrap();
        assert!(matches!(parsed.cert.extended_key_usage(), Ok(Some(e)) if e.value.client_auth));
        let (_, maker_cert) = p256_maker();
        let mut other = signed_seal(Vec::new());
        assert!(!maker_is_holder(&other));
        other.maker_cert = holder_cert;
        assert!(maker_is_holder(&other));
        other.maker_cert = maker_cert;
        assert!(!maker_is_holder(&other));
        // The listing reports it too, and never a panic on garbage.
        let now = datetime!(2027-01-01 0:00 UTC);
        let entry =
            crate::inventory::SealEntry::check(b"\x30\x03\x02\x01\x00", b"h", &[], &[], now);
        assert_eq!(
            (entry.valid, entry.problem.as_deref()),
            (false, Some("seal_malformed"))
        );
    }

    #[test]
    fn unknown_critical_extensions_make_a_seal_invalid() {
        assert!(KNOWN_CRITICAL_EXTENSIONS.is_empty());
        let plain = signed_seal(Vec::new());
        assert!(maker_signature_valid(&plain));
        assert_eq!(seal_refusal(&plain), None);
        assert!(old_seal(&plain.encode().unwrap(), &[b"holder".to_vec()]).is_some());

        // An extension that is not critical may be ignored.
        let optional = signed_seal(vec![extension("1.2.156.10197.6.1.4.2.1", false)]);
        assert!(maker_signature_valid(&optional));
        assert!(unknown_critical_extensions(&optional).is_empty());

        // A critical one this client does not know: refused however well signed.
        let critical = signed_seal(vec![
            extension("1.2.156.10197.6.1.4.2.1", false),
            extension("2.999.7", true),
        ]);
        assert_eq!(unknown_critical_extensions(&critical), ["2.999.7"]);
        assert!(!maker_signature_valid(&critical));
        let why = seal_refusal(&critical).unwrap();
        assert!(
            why.contains("critical extension") && why.contains("2.999.7"),
            "{why}"
        );
        let der = critical.encode().unwrap();
        assert!(old_seal(&der, &[b"holder".to_vec()]).is_none());
        // `show` lists it with the reason and nothing else.
        let e = refused(&critical);
        assert_eq!(e.code(), "invalid_argument");
        assert!(e.to_string().contains("unknown_critical_extension"), "{e}");
        assert!(e.to_string().contains("2.999.7"), "{e}");
        // The service's answer is refused for it, before its maker or binding.
        let now = datetime!(2026-06-01 00:00 UTC);
        for e in [
            check_answer(&der, b"holder", "张三", (20, 20), &[], now).unwrap_err(),
            check_existing(&der, b"holder", &[], now).unwrap_err(),
        ] {
            assert_eq!(e.code(), "service_response");
            assert!(e.to_string().contains("critical extension"), "{e}");
        }
    }
}
