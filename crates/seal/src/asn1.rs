//! The `SESeal` structure: GB/T 38540-2020 (version 4) and GM/T 0031-2014 (versions 1
//! to 3), in strict DER.
//!
//! ```text
//! SESeal ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING,
//!                       signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }   -- 2020
//! SESeal ::= SEQUENCE { esealInfo SES_SealInfo,
//!                       signInfo SEQUENCE { cert OCTET STRING,
//!                                           signatureAlgorithm OBJECT IDENTIFIER,
//!                                           signData BIT STRING } }             -- 2014
//! SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String,
//!                             property SES_ESPropertyInfo, picture SES_ESPictrueInfo,
//!                             extDatas ExtensionDatas OPTIONAL }
//! SES_Header ::= SEQUENCE { id IA5String ("ES"), version INTEGER, vid IA5String }
//! SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String,
//!     certListType INTEGER,                  -- 2020 only
//!     certList SES_CertList,                 -- 2014: SEQUENCE OF OCTET STRING
//!     createDate, validStart, validEnd }     -- GeneralizedTime (2020), UTCTime (2014)
//! SES_CertList ::= CHOICE { certs SEQUENCE OF OCTET STRING,
//!                           certDigestList SEQUENCE OF CertDigestObj }
//! CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }
//! SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING,
//!                                  width INTEGER, height INTEGER }
//! ExtensionDatas ::= SEQUENCE OF ExtData
//! ExtData ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
//!                        extnValue OCTET STRING }
//! ```
//!
//! The maker's signature (`signedValue`, a DER `SEQUENCE { r, s }` for SM2 or ECDSA)
//! covers the DER of `SEQUENCE { eSealInfo, cert, signAlgID }`. GM/T 0031-2014 is not
//! explicit about the bytes it signs; this crate assumes the same construction,
//! `SEQUENCE { esealInfo, cert, signatureAlgorithm }`, for the 2014 form.
//!
//! Both directions go through the `der` crate with the schema as derived types (see
//! the private `schema` module), so nesting depth is bounded by the schema. The reader
//! accepts only DER (minimal lengths and integers, `BOOLEAN` as `0x00`/`0xFF`, a
//! `critical` that is FALSE must be absent, times without fractions), consumes the
//! whole input and refuses inputs above [`MAX_SEAL_BYTES`]. OBJECT IDENTIFIERs have at
//! most [`MAX_OID_CONTENT`] content bytes and arcs below 2^64. Times are those `der`
//! represents: 1970 to 9999 (GeneralizedTime), 1970 to 2049 (UTCTime). A UTCTime
//! year `YY` of 50 to 69 (1950 to 1969 under RFC 5280) is therefore refused as
//! `seal_malformed`, as is a GeneralizedTime before 1970: accepted, since no seal
//! predates 1970.

use der::asn1::{
    AnyRef, BitStringRef, GeneralizedTime, Ia5StringRef, OctetStringRef, PrintableStringRef,
    UtcTime, Utf8StringRef,
};
use der::{DateTime, Decode, Encode, Header, Length, Reader, SliceReader, Tag};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::SealError;
use crate::schema::{
    oid_from_dotted, Bounded, CertDigestDer, ExtDataDer, HeaderDer, Oid, PictureDer, Property2014,
    Property2020, Seal2014, Seal2020, SealInfoDer, SignInfo2014, ToBeSigned,
};

/// SM3 with SM2 signature algorithm, `1.2.156.10197.1.501`.
pub const OID_SM3_WITH_SM2: &str = "1.2.156.10197.1.501";

/// ECDSA with SHA-256 signature algorithm, `1.2.840.10045.4.3.2`.
pub const OID_ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

/// The largest encoded seal this crate reads or writes (1 MiB).
pub const MAX_SEAL_BYTES: usize = 1024 * 1024;

/// The most entries a certificate list or an extension list may hold.
pub const MAX_LIST_ENTRIES: usize = 256;

/// The longest OBJECT IDENTIFIER read or written, in content bytes (a registered OID
/// such as `1.2.156.10197.1.501` has 8). Longer ones are refused before they are read.
pub const MAX_OID_CONTENT: usize = 64;

/// The header version of the GB/T 38540-2020 form.
pub const VERSION_2020: u32 = 4;

const HEADER_ID: &str = "ES";

/// Which standard a seal's structure follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// GB/T 38540-2020: four top-level fields, header version 4, GeneralizedTime.
    V4,
    /// GM/T 0031-2014: two top-level fields, header version 1 to 3, UTCTime.
    V3,
}

/// Whose seal it is (`SES_ESPropertyInfo.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealType {
    /// 1: an organisation's seal (单位印章).
    Organisation,
    /// 2: a personal seal (个人印章).
    Personal,
    /// Any other value found while decoding.
    Other(u32),
}

impl SealType {
    /// The INTEGER written in the seal.
    pub fn code(self) -> u32 {
        match self {
            SealType::Organisation => 1,
            SealType::Personal => 2,
            SealType::Other(n) => n,
        }
    }
}

impl From<u32> for SealType {
    fn from(n: u32) -> Self {
        match n {
            1 => SealType::Organisation,
            2 => SealType::Personal,
            n => SealType::Other(n),
        }
    }
}

/// The certificates of the people or units allowed to use the seal
/// (`SES_CertList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertList {
    /// `certListType` 1: the certificates themselves (DER).
    Certs(Vec<Vec<u8>>),
    /// `certListType` 2: digests as (algorithm name, digest), e.g. `("sm3", ..)`.
    /// The name must be a PrintableString. Not representable in the 2014 form.
    Digests(Vec<(String, Vec<u8>)>),
}

impl CertList {
    /// The `certListType` INTEGER of the 2020 form.
    pub fn list_type(&self) -> u32 {
        match self {
            CertList::Certs(_) => 1,
            CertList::Digests(_) => 2,
        }
    }

    /// How many entries the list holds.
    pub fn len(&self) -> usize {
        match self {
            CertList::Certs(v) => v.len(),
            CertList::Digests(v) => v.len(),
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The seal picture (`SES_ESPictrueInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// Image type: `PNG`, `GIF`, `BMP`, `JPG` or `SVG` (any IA5 text is accepted on
    /// decode).
    pub kind: String,
    /// The image file bytes.
    pub data: Vec<u8>,
    /// Display width in millimetres.
    pub width_mm: u32,
    /// Display height in millimetres.
    pub height_mm: u32,
}

/// One extension (`ExtData`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtData {
    /// Dotted OID, e.g. `1.2.156.10197.6.1.4.2.1`.
    pub oid: String,
    /// Whether a reader that does not understand it must reject the seal.
    pub critical: bool,
    /// The extension value.
    pub value: Vec<u8>,
}

/// The signed content of a seal (`SES_SealInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealInfo {
    /// Header version: 4 for the 2020 form, 1 to 3 for the 2014 form.
    pub version: u32,
    /// Vendor identifier (`vid`, IA5).
    pub vid: String,
    /// Seal identifier (`esID`, IA5), unique per issuer.
    pub es_id: String,
    /// Whose seal it is.
    pub seal_type: SealType,
    /// The seal's name, e.g. the organisation's name (UTF-8).
    pub name: String,
    /// Who may use the seal.
    pub certs: CertList,
    /// When the seal was made.
    pub create_date: OffsetDateTime,
    /// Start of validity.
    pub valid_start: OffsetDateTime,
    /// End of validity.
    pub valid_end: OffsetDateTime,
    /// The seal picture.
    pub picture: Picture,
    /// Extensions (`extDatas`); empty means absent.
    pub ext: Vec<ExtData>,
}

/// A complete electronic seal (`SESeal`).
///
/// A seal built with [`Seal::new`] signs and encodes its fields as they are. A seal
/// returned by [`Seal::decode`] also keeps the signed bytes exactly as received, and
/// [`Seal::signed_bytes`] returns those, so verification never depends on
/// re-encoding; [`Seal::encode`] always writes the current fields.
#[derive(Debug, Clone)]
pub struct Seal {
    /// Which standard the structure follows.
    pub form: Form,
    /// The signed seal information.
    pub info: SealInfo,
    /// The seal maker's certificate (DER).
    pub maker_cert: Vec<u8>,
    /// The signature algorithm as a dotted OID (see [`OID_SM3_WITH_SM2`],
    /// [`OID_ECDSA_WITH_SHA256`]).
    pub sign_alg: String,
    /// The maker's signature: DER `SEQUENCE { r INTEGER, s INTEGER }`.
    pub signed_value: Vec<u8>,
    /// For a decoded seal: the DER the signature covers, made of the received bytes
    /// (see [`Seal::signed_bytes`]).
    raw_tbs: Option<Vec<u8>>,
}

impl PartialEq for Seal {
    /// Compares the fields; whether a seal was decoded or built does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.form == other.form
            && self.info == other.info
            && self.maker_cert == other.maker_cert
            && self.sign_alg == other.sign_alg
            && self.signed_value == other.signed_value
    }
}

impl Eq for Seal {}

impl SealInfo {
    /// The DER a seal maker signs for the 2020 form:
    /// `SEQUENCE { eSealInfo, cert OCTET STRING, signAlgID OBJECT IDENTIFIER }`.
    ///
    /// `self.version` must be 4. The result equals [`Seal::signed_bytes`] of the
    /// finished seal.
    pub fn to_be_signed(
        &self,
        maker_cert: &[u8],
        sign_alg_oid: &str,
    ) -> Result<Vec<u8>, SealError> {
        tbs(&self.encode(Form::V4)?, maker_cert, sign_alg_oid)
    }

    /// The DER of `SES_SealInfo` in the given form.
    pub fn encode(&self, form: Form) -> Result<Vec<u8>, SealError> {
        match (form, self.version) {
            (Form::V4, VERSION_2020) | (Form::V3, 1..=3) => {}
            (Form::V4, v) => {
                return Err(SealError::encoding(format!(
                    "header version {v} in the 2020 form (must be 4)"
                )))
            }
            (Form::V3, v) => {
                return Err(SealError::encoding(format!(
                    "header version {v} in the 2014 form (must be 1 to 3)"
                )))
            }
        }
        if self.certs.len() > MAX_LIST_ENTRIES {
            return Err(SealError::encoding(format!(
                "more than {MAX_LIST_ENTRIES} entries in the certificate list"
            )));
        }
        if self.ext.len() > MAX_LIST_ENTRIES {
            return Err(SealError::encoding(format!(
                "more than {MAX_LIST_ENTRIES} extensions"
            )));
        }
        let oids = self
            .ext
            .iter()
            .map(|e| oid_content(&e.oid))
            .collect::<Result<Vec<_>, _>>()?;
        let name = Utf8StringRef::new(&self.name).map_err(encoding("name"))?;
        let dates = [self.create_date, self.valid_start, self.valid_end];
        let out = match form {
            Form::V4 => {
                let list = match &self.certs {
                    CertList::Certs(certs) => Bounded(octet_strings(certs)?).to_der(),
                    CertList::Digests(digests) => {
                        let objs = digests
                            .iter()
                            .map(|(alg, digest)| {
                                Ok(CertDigestDer {
                                    kind: PrintableStringRef::new(alg).map_err(|_| {
                                        SealError::encoding("digest type must be a PrintableString")
                                    })?,
                                    value: octets(digest, "digest value")?,
                                })
                            })
                            .collect::<Result<Vec<_>, SealError>>()?;
                        Bounded(objs).to_der()
                    }
                }
                .map_err(encoding("certList"))?;
                let [create_date, valid_start, valid_end] =
                    dates.map(|t| der_time(t).map(GeneralizedTime::from_date_time));
                let property = Property2020 {
                    kind: self.seal_type.code(),
                    name,
                    list_type: self.certs.list_type(),
                    list: AnyRef::from_der(&list).map_err(encoding("certList"))?,
                    create_date: create_date?,
                    valid_start: valid_start?,
                    valid_end: valid_end?,
                };
                self.encode_with(&oids, property)?
            }
            Form::V3 => {
                let CertList::Certs(certs) = &self.certs else {
                    return Err(SealError::encoding(
                        "certificate digests cannot be written in the 2014 form",
                    ));
                };
                let [create_date, valid_start, valid_end] = dates.map(|t| {
                    UtcTime::from_date_time(der_time(t)?)
                        .map_err(|_| SealError::encoding("UTCTime year out of 1970..=2049"))
                });
                let property = Property2014 {
                    kind: self.seal_type.code(),
                    name,
                    list: Bounded(octet_strings(certs)?),
                    create_date: create_date?,
                    valid_start: valid_start?,
                    valid_end: valid_end?,
                };
                self.encode_with(&oids, property)?
            }
        };
        check_size(&out)?;
        Ok(out)
    }

    /// Encodes everything but the property (`oids`: the extensions' OID contents), which depends on the form.
    fn encode_with<'a, P>(&'a self, oids: &'a [Vec<u8>], property: P) -> Result<Vec<u8>, SealError>
    where
        P: Decode<'a, Error = der::Error> + Encode,
    {
        let ext = self
            .ext
            .iter()
            .zip(oids)
            .map(|(e, oid)| {
                Ok(ExtDataDer {
                    oid: checked_oid(oid)?,
                    critical: e.critical.then_some(true),
                    value: octets(&e.value, "extnValue")?,
                })
            })
            .collect::<Result<Vec<_>, SealError>>()?;
        let info = SealInfoDer {
            header: HeaderDer {
                id: ia5(HEADER_ID, "header id")?,
                version: self.version,
                vid: ia5(&self.vid, "vid")?,
            },
            es_id: ia5(&self.es_id, "esID")?,
            property,
            picture: PictureDer {
                kind: ia5(&self.picture.kind, "picture type")?,
                data: octets(&self.picture.data, "picture data")?,
                width: self.picture.width_mm,
                height: self.picture.height_mm,
            },
            ext: (!ext.is_empty()).then_some(Bounded(ext)),
        };
        info.to_der().map_err(encoding("eSealInfo"))
    }

    fn decode(info: AnyRef<'_>, form: Form) -> Result<SealInfo, SealError> {
        let what = malformed("eSealInfo");
        let (common, seal_type, name, certs, dates) = match form {
            Form::V4 => {
                let d: SealInfoDer<'_, Property2020<'_>> = info.decode_as().map_err(what)?;
                let p = &d.property;
                let certs = match p.list_type {
                    1 => CertList::Certs(
                        p.list
                            .decode_as::<Bounded<&OctetStringRef>>()
                            .map_err(malformed("certList"))?
                            .0
                            .into_iter()
                            .map(|c| c.as_bytes().to_vec())
                            .collect(),
                    ),
                    2 => CertList::Digests(
                        p.list
                            .decode_as::<Bounded<CertDigestDer<'_>>>()
                            .map_err(malformed("certDigestList"))?
                            .0
                            .into_iter()
                            .map(|o| (o.kind.as_str().to_string(), o.value.as_bytes().to_vec()))
                            .collect(),
                    ),
                    t => return Err(SealError::malformed(format!("unknown certListType {t}"))),
                };
                let dates = [p.create_date, p.valid_start, p.valid_end].map(|t| t.to_date_time());
                (
                    Common::of(&d, form)?,
                    p.kind,
                    p.name.as_str().to_string(),
                    certs,
                    dates,
                )
            }
            Form::V3 => {
                let d: SealInfoDer<'_, Property2014<'_>> = info.decode_as().map_err(what)?;
                let p = &d.property;
                let certs = p.list.0.iter().map(|c| c.as_bytes().to_vec()).collect();
                let dates = [p.create_date, p.valid_start, p.valid_end].map(|t| t.to_date_time());
                (
                    Common::of(&d, form)?,
                    p.kind,
                    p.name.as_str().to_string(),
                    CertList::Certs(certs),
                    dates,
                )
            }
        };
        let [create_date, valid_start, valid_end] = dates.map(offset_time);
        Ok(SealInfo {
            version: common.version,
            vid: common.vid,
            es_id: common.es_id,
            seal_type: SealType::from(seal_type),
            name,
            certs,
            create_date: create_date?,
            valid_start: valid_start?,
            valid_end: valid_end?,
            picture: common.picture,
            ext: common.ext,
        })
    }
}

/// The fields both forms share, read and checked.
struct Common {
    version: u32,
    vid: String,
    es_id: String,
    picture: Picture,
    ext: Vec<ExtData>,
}

impl Common {
    fn of<'a, P>(d: &SealInfoDer<'a, P>, form: Form) -> Result<Common, SealError>
    where
        P: Decode<'a, Error = der::Error> + Encode,
    {
        if d.header.id.as_str() != HEADER_ID {
            return Err(SealError::malformed("header id is not \"ES\""));
        }
        let version = d.header.version;
        match (form, version) {
            (Form::V4, VERSION_2020) | (Form::V3, 1..=3) => {}
            (Form::V4, v) => {
                return Err(SealError::malformed(format!(
                    "header version {v} in the 2020 (four-field) form"
                )))
            }
            (Form::V3, v) => {
                return Err(SealError::malformed(format!(
                    "header version {v} in the 2014 (two-field) form"
                )))
            }
        }
        let mut ext = Vec::new();
        for e in d.ext.iter().flat_map(|list| &list.0) {
            if e.critical == Some(false) {
                return Err(SealError::malformed(
                    "critical FALSE must be omitted in DER",
                ));
            }
            ext.push(ExtData {
                oid: e.oid.dotted(),
                critical: e.critical.is_some(),
                value: e.value.as_bytes().to_vec(),
            });
        }
        Ok(Common {
            version,
            vid: d.header.vid.as_str().to_string(),
            es_id: d.es_id.as_str().to_string(),
            picture: Picture {
                kind: d.picture.kind.as_str().to_string(),
                data: d.picture.data.as_bytes().to_vec(),
                width_mm: d.picture.width,
                height_mm: d.picture.height,
            },
            ext,
        })
    }
}

impl Seal {
    /// Assembles a seal from its parts, e.g. after signing
    /// [`SealInfo::to_be_signed`].
    pub fn new(
        form: Form,
        info: SealInfo,
        maker_cert: Vec<u8>,
        sign_alg: impl Into<String>,
        signed_value: Vec<u8>,
    ) -> Seal {
        Seal {
            form,
            info,
            maker_cert,
            sign_alg: sign_alg.into(),
            signed_value,
            raw_tbs: None,
        }
    }

    /// Encodes the seal in DER, in the form `self.form` says.
    pub fn encode(&self) -> Result<Vec<u8>, SealError> {
        let info_der = self.info.encode(self.form)?;
        let info = AnyRef::from_der(&info_der).map_err(encoding("eSealInfo"))?;
        let cert = octets(&self.maker_cert, "cert")?;
        let alg_content = oid_content(&self.sign_alg)?;
        let alg = checked_oid(&alg_content)?;
        let signed_value =
            BitStringRef::from_bytes(&self.signed_value).map_err(encoding("signedValue"))?;
        let out = match self.form {
            Form::V4 => Seal2020 {
                info,
                cert,
                alg,
                signed_value,
            }
            .to_der(),
            Form::V3 => Seal2014 {
                info,
                sign_info: SignInfo2014 {
                    cert,
                    alg,
                    signed_value,
                },
            }
            .to_der(),
        }
        .map_err(encoding("SESeal"))?;
        check_size(&out)?;
        Ok(out)
    }

    /// Decodes a seal of either form from strict DER.
    ///
    /// The form is told apart by the number of top-level fields (4 for 2020, 2 for
    /// 2014), and the header version must match it (4, or 1 to 3).
    pub fn decode(input: &[u8]) -> Result<Seal, SealError> {
        if input.len() > MAX_SEAL_BYTES {
            return Err(SealError::malformed(format!(
                "seal is larger than {MAX_SEAL_BYTES} bytes"
            )));
        }
        let (count, fields) = received_fields(input).map_err(malformed("SESeal"))?;
        // `covered`: the TLVs of eSealInfo, cert and signAlgID exactly as received.
        let (form, info, cert, alg, signed_value, covered) = match (count, fields.as_slice()) {
            (4, &[info_tlv, cert_tlv, alg_tlv, _]) => {
                let s = Seal2020::from_der(input).map_err(malformed("SESeal"))?;
                let covered = [info_tlv, cert_tlv, alg_tlv];
                (Form::V4, s.info, s.cert, s.alg, s.signed_value, covered)
            }
            (2, &[info_tlv, sign_tlv]) => {
                let s = Seal2014::from_der(input).map_err(malformed("SESeal"))?;
                let (_, sign_fields) = received_fields(sign_tlv).map_err(malformed("signInfo"))?;
                let &[cert_tlv, alg_tlv, _] = sign_fields.as_slice() else {
                    return Err(SealError::malformed("signInfo: not three fields"));
                };
                let sign = s.sign_info;
                let covered = [info_tlv, cert_tlv, alg_tlv];
                (
                    Form::V3,
                    s.info,
                    sign.cert,
                    sign.alg,
                    sign.signed_value,
                    covered,
                )
            }
            (n, _) => {
                return Err(SealError::malformed(format!(
                    "SESeal has {n} fields (expected 4 for GB/T 38540-2020 or 2 for GM/T 0031-2014)"
                )))
            }
        };
        let signed_value = signed_value
            .as_bytes()
            .ok_or_else(|| {
                SealError::malformed("signedValue: unused bits in a signature BIT STRING")
            })?
            .to_vec();
        let sign_alg = alg.dotted();
        let raw_tbs = sequence_of(&covered).map_err(malformed("signed content"))?;
        Ok(Seal {
            form,
            info: SealInfo::decode(info, form)?,
            maker_cert: cert.as_bytes().to_vec(),
            sign_alg,
            signed_value,
            raw_tbs: Some(raw_tbs),
        })
    }

    /// The exact bytes `signed_value` signs: the DER of
    /// `SEQUENCE { eSealInfo, cert, signAlgID }` (the same construction is assumed
    /// for the 2014 form).
    ///
    /// For a decoded seal these are the TLVs of `eSealInfo`, `cert` and `signAlgID`
    /// copied from the input as received, under a new SEQUENCE header: nothing
    /// decoded is encoded again, so the bytes verified are the bytes received.
    /// Changing the public fields of a decoded seal does not change them. For a built
    /// seal they are encoded from the fields.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, SealError> {
        match &self.raw_tbs {
            Some(raw) => Ok(raw.clone()),
            None => tbs(
                &self.info.encode(self.form)?,
                &self.maker_cert,
                &self.sign_alg,
            ),
        }
    }
}

fn tbs(info_der: &[u8], maker_cert: &[u8], sign_alg_oid: &str) -> Result<Vec<u8>, SealError> {
    let alg = oid_content(sign_alg_oid)?;
    let out = ToBeSigned {
        info: AnyRef::from_der(info_der).map_err(encoding("eSealInfo"))?,
        cert: octets(maker_cert, "cert")?,
        alg: checked_oid(&alg)?,
    }
    .to_der()
    .map_err(encoding("signed content"))?;
    check_size(&out)?;
    Ok(out)
}

/// The most top-level fields [`received_fields`] hands out (the 2020 form has four).
const MAX_TOP_FIELDS: usize = 4;

/// How many elements the SEQUENCE `tlv` holds, and the first [`MAX_TOP_FIELDS`] of
/// them as slices of `tlv` (each only framed, not decoded).
fn received_fields(tlv: &[u8]) -> der::Result<(usize, Vec<&[u8]>)> {
    let mut reader = SliceReader::new(tlv)?;
    let fields = reader.sequence(|fields| {
        let mut count = 0;
        let mut first = Vec::with_capacity(MAX_TOP_FIELDS);
        while !fields.is_finished() {
            let field = fields.tlv_bytes()?;
            if first.len() < MAX_TOP_FIELDS {
                first.push(field);
            }
            count += 1;
        }
        Ok::<_, der::Error>((count, first))
    })?;
    reader.finish()?;
    Ok(fields)
}

/// `SEQUENCE { .. }` around `tlvs` as they are: a DER header, then their bytes copied,
/// not decoded and encoded again.
fn sequence_of(tlvs: &[&[u8]]) -> der::Result<Vec<u8>> {
    let len = tlvs
        .iter()
        .try_fold(Length::ZERO, |len, tlv| len + Length::try_from(tlv.len())?)?;
    let mut out = Header::new(Tag::Sequence, len).to_der()?;
    for tlv in tlvs {
        out.extend_from_slice(tlv);
    }
    Ok(out)
}

/// A `der` error while reading `what`, as a typed malformed-seal error.
fn malformed(what: &'static str) -> impl Fn(der::Error) -> SealError {
    move |e| {
        let reason = match e.kind() {
            der::ErrorKind::Utf8(_) => "invalid UTF-8 in a UTF8String".to_string(),
            der::ErrorKind::Overlength => {
                "a length not in its minimal form or too large, or a list of more than \
                 256 entries"
                    .to_string()
            }
            kind => kind.to_string(),
        };
        match e.position() {
            Some(at) => SealError::malformed(format!("{what}: {reason} (at byte {at})")),
            None => SealError::malformed(format!("{what}: {reason}")),
        }
    }
}

/// A `der` error while writing `what`, as a typed encoding error.
fn encoding(what: &'static str) -> impl Fn(der::Error) -> SealError {
    move |e| SealError::encoding(format!("{what}: {e}"))
}

fn ia5<'a>(s: &'a str, what: &str) -> Result<Ia5StringRef<'a>, SealError> {
    Ia5StringRef::new(s)
        .map_err(|_| SealError::encoding(format!("{what} must be IA5 (ASCII) text")))
}

fn octets<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a OctetStringRef, SealError> {
    OctetStringRef::new(bytes).map_err(encoding(what))
}

fn octet_strings(certs: &[Vec<u8>]) -> Result<Vec<&OctetStringRef>, SealError> {
    certs.iter().map(|c| octets(c, "certList entry")).collect()
}

/// The content octets of a dotted OID (at most [`MAX_OID_CONTENT`] bytes).
fn oid_content(dotted: &str) -> Result<Vec<u8>, SealError> {
    oid_from_dotted(dotted).map_err(|why| SealError::encoding(format!("{why}: {dotted:?}")))
}

/// Content octets from [`oid_content`] as an [`Oid`] (checked again, cheaply).
fn checked_oid(content: &[u8]) -> Result<Oid<'_>, SealError> {
    Oid::new(content).map_err(SealError::encoding)
}

/// `t` in UTC to the second (sub-second precision is dropped) as a DER date-time;
/// `None` outside what DER times hold (years 1970 to 9999). certkey-ca's certificate
/// times use it too.
pub fn der_datetime(t: OffsetDateTime) -> Option<DateTime> {
    let t = t.checked_to_offset(UtcOffset::UTC)?;
    let year = u16::try_from(t.year()).ok()?;
    DateTime::new(
        year,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .ok()
}

/// A time in UTC to the second, for DER.
fn der_time(t: OffsetDateTime) -> Result<DateTime, SealError> {
    der_datetime(t)
        .ok_or_else(|| SealError::encoding(format!("year {} out of 1970..=9999", t.year())))
}

fn offset_time(t: DateTime) -> Result<OffsetDateTime, SealError> {
    let bad = |_| SealError::malformed("invalid date");
    let month = Month::try_from(t.month()).map_err(bad)?;
    let date = Date::from_calendar_date(i32::from(t.year()), month, t.day()).map_err(bad)?;
    let time = Time::from_hms(t.hour(), t.minutes(), t.seconds()).map_err(bad)?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

fn check_size(encoded: &[u8]) -> Result<(), SealError> {
    if encoded.len() > MAX_SEAL_BYTES {
        return Err(SealError::encoding(format!(
            "encoding is larger than {MAX_SEAL_BYTES} bytes"
        )));
    }
    Ok(())
}
