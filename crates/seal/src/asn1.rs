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
//! The reader is schema driven (so nesting depth is bounded by the schema), accepts
//! only DER (minimal lengths and integers, `BOOLEAN` as `0x00`/`0xFF`, a `critical`
//! that is FALSE must be absent, times without fractions), consumes the whole input
//! and refuses inputs above [`MAX_SEAL_BYTES`].

use time::OffsetDateTime;

use crate::der::{self, Reader};
use crate::error::SealError;

/// SM3 with SM2 signature algorithm, `1.2.156.10197.1.501`.
pub const OID_SM3_WITH_SM2: &str = "1.2.156.10197.1.501";

/// ECDSA with SHA-256 signature algorithm, `1.2.840.10045.4.3.2`.
pub const OID_ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

/// The largest encoded seal this crate reads or writes (1 MiB).
pub const MAX_SEAL_BYTES: usize = 1024 * 1024;

/// The most entries a certificate list or an extension list may hold.
pub const MAX_LIST_ENTRIES: usize = 256;

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
    /// For a decoded seal: the DER the signature covers, as received.
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
        let v4 = form == Form::V4;
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

        let mut header = der::ia5(HEADER_ID, "header id")?;
        header.extend(der::uint(self.version));
        header.extend(der::ia5(&self.vid, "vid")?);

        let mut property = der::uint(self.seal_type.code());
        property.extend(der::tlv(der::TAG_UTF8_STRING, self.name.as_bytes()));
        if self.certs.len() > MAX_LIST_ENTRIES {
            return Err(SealError::encoding(format!(
                "more than {MAX_LIST_ENTRIES} entries in the certificate list"
            )));
        }
        if v4 {
            property.extend(der::uint(self.certs.list_type()));
        }
        let mut list = Vec::new();
        match &self.certs {
            CertList::Certs(certs) => {
                for cert in certs {
                    der::write_tlv(&mut list, der::TAG_OCTET_STRING, cert);
                }
            }
            CertList::Digests(digests) => {
                if !v4 {
                    return Err(SealError::encoding(
                        "certificate digests cannot be written in the 2014 form",
                    ));
                }
                for (alg, digest) in digests {
                    let mut obj = der::printable(alg, "digest type")?;
                    der::write_tlv(&mut obj, der::TAG_OCTET_STRING, digest);
                    der::write_tlv(&mut list, der::TAG_SEQUENCE, &obj);
                }
            }
        }
        der::write_tlv(&mut property, der::TAG_SEQUENCE, &list);
        let time_tag = if v4 {
            der::TAG_GENERALIZED_TIME
        } else {
            der::TAG_UTC_TIME
        };
        for t in [self.create_date, self.valid_start, self.valid_end] {
            let text = der::format_time(t, v4)?;
            der::write_tlv(&mut property, time_tag, text.as_bytes());
        }

        let mut picture = der::ia5(&self.picture.kind, "picture type")?;
        der::write_tlv(&mut picture, der::TAG_OCTET_STRING, &self.picture.data);
        picture.extend(der::uint(self.picture.width_mm));
        picture.extend(der::uint(self.picture.height_mm));

        let mut content = der::tlv(der::TAG_SEQUENCE, &header);
        content.extend(der::ia5(&self.es_id, "esID")?);
        der::write_tlv(&mut content, der::TAG_SEQUENCE, &property);
        der::write_tlv(&mut content, der::TAG_SEQUENCE, &picture);
        if !self.ext.is_empty() {
            if self.ext.len() > MAX_LIST_ENTRIES {
                return Err(SealError::encoding(format!(
                    "more than {MAX_LIST_ENTRIES} extensions"
                )));
            }
            let mut exts = Vec::new();
            for ext in &self.ext {
                let mut e = der::oid(&ext.oid)?;
                if ext.critical {
                    der::write_tlv(&mut e, der::TAG_BOOLEAN, &[0xFF]);
                }
                der::write_tlv(&mut e, der::TAG_OCTET_STRING, &ext.value);
                der::write_tlv(&mut exts, der::TAG_SEQUENCE, &e);
            }
            der::write_tlv(&mut content, der::TAG_SEQUENCE, &exts);
        }
        let out = der::tlv(der::TAG_SEQUENCE, &content);
        check_size(&out)?;
        Ok(out)
    }

    fn decode(content: &[u8], form: Form) -> Result<SealInfo, SealError> {
        let v4 = form == Form::V4;
        let mut r = Reader::new(content);

        let mut header = r.sequence("header")?;
        if header.ia5("header id")? != HEADER_ID {
            return Err(SealError::malformed("header id is not \"ES\""));
        }
        let version = header.uint("header version")?;
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
        let vid = header.ia5("vid")?;
        header.finish("header")?;

        let es_id = r.ia5("esID")?;

        let mut p = r.sequence("property")?;
        let seal_type = SealType::from(p.uint("property type")?);
        let name = p.utf8("name")?;
        let list_type = if v4 { p.uint("certListType")? } else { 1 };
        let mut list = p.sequence("certList")?;
        let certs = match list_type {
            1 => {
                let mut certs = Vec::new();
                while !list.is_empty() {
                    check_entries(certs.len(), "certList")?;
                    certs.push(list.octets("certList entry")?.to_vec());
                }
                CertList::Certs(certs)
            }
            2 => {
                let mut digests = Vec::new();
                while !list.is_empty() {
                    check_entries(digests.len(), "certDigestList")?;
                    let mut obj = list.sequence("CertDigestObj")?;
                    let alg = obj.printable("digest type")?;
                    let value = obj.octets("digest value")?.to_vec();
                    obj.finish("CertDigestObj")?;
                    digests.push((alg, value));
                }
                CertList::Digests(digests)
            }
            t => return Err(SealError::malformed(format!("unknown certListType {t}"))),
        };
        let mut dates = [OffsetDateTime::UNIX_EPOCH; 3];
        for (slot, what) in dates
            .iter_mut()
            .zip(["createDate", "validStart", "validEnd"])
        {
            *slot = if v4 {
                p.generalized_time(what)?
            } else {
                p.utc_time(what)?
            };
        }
        let [create_date, valid_start, valid_end] = dates;
        p.finish("property")?;

        let mut pic = r.sequence("picture")?;
        let picture = Picture {
            kind: pic.ia5("picture type")?,
            data: pic.octets("picture data")?.to_vec(),
            width_mm: pic.uint("picture width")?,
            height_mm: pic.uint("picture height")?,
        };
        pic.finish("picture")?;

        let mut ext = Vec::new();
        if !r.is_empty() {
            let mut exts = r.sequence("extDatas")?;
            while !exts.is_empty() {
                check_entries(ext.len(), "extDatas")?;
                let mut e = exts.sequence("ExtData")?;
                let oid = e.oid("extnID")?;
                let critical = if e.peek_tag() == Some(der::TAG_BOOLEAN) {
                    if !e.boolean("critical")? {
                        return Err(SealError::malformed(
                            "critical FALSE must be omitted in DER",
                        ));
                    }
                    true
                } else {
                    false
                };
                let value = e.octets("extnValue")?.to_vec();
                e.finish("ExtData")?;
                ext.push(ExtData {
                    oid,
                    critical,
                    value,
                });
            }
        }
        r.finish("eSealInfo")?;

        Ok(SealInfo {
            version,
            vid,
            es_id,
            seal_type,
            name,
            certs,
            create_date,
            valid_start,
            valid_end,
            picture,
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
        let info = self.info.encode(self.form)?;
        let mut tail = der::tlv(der::TAG_OCTET_STRING, &self.maker_cert);
        tail.extend(der::oid(&self.sign_alg)?);
        tail.extend(der::bit_string_bytes(&self.signed_value));
        let mut content = info;
        match self.form {
            Form::V4 => content.extend(tail),
            Form::V3 => der::write_tlv(&mut content, der::TAG_SEQUENCE, &tail),
        }
        let out = der::tlv(der::TAG_SEQUENCE, &content);
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
        let mut top = Reader::new(input);
        let outer = top.read(der::TAG_SEQUENCE, "SESeal")?;
        top.finish("SESeal")?;

        let mut counter = Reader::new(outer.content);
        let mut fields = 0;
        while !counter.is_empty() && fields <= 4 {
            counter.read_any()?;
            fields += 1;
        }

        let mut r = Reader::new(outer.content);
        let info_tlv = r.read(der::TAG_SEQUENCE, "eSealInfo")?;
        let (form, mut sign) = match fields {
            4 => (Form::V4, r.clone()),
            2 => (Form::V3, r.sequence("signInfo")?),
            n => {
                let n = if n > 4 {
                    "more than 4".to_string()
                } else {
                    n.to_string()
                };
                return Err(SealError::malformed(format!(
                    "SESeal has {n} fields (expected 4 for GB/T 38540-2020 or 2 for GM/T 0031-2014)"
                )));
            }
        };
        let cert_tlv = sign.read(der::TAG_OCTET_STRING, "cert")?;
        let alg_tlv = sign.read(der::TAG_OID, "signAlgID")?;
        let sign_alg = Reader::new(alg_tlv.raw).oid("signAlgID")?;
        let signed_value = sign.bit_string_bytes("signedValue")?.to_vec();
        sign.finish("signature fields")?;

        let info = SealInfo::decode(info_tlv.content, form)?;

        let mut tbs_content =
            Vec::with_capacity(info_tlv.raw.len() + cert_tlv.raw.len() + alg_tlv.raw.len());
        tbs_content.extend_from_slice(info_tlv.raw);
        tbs_content.extend_from_slice(cert_tlv.raw);
        tbs_content.extend_from_slice(alg_tlv.raw);

        Ok(Seal {
            form,
            info,
            maker_cert: cert_tlv.content.to_vec(),
            sign_alg,
            signed_value,
            raw_tbs: Some(der::tlv(der::TAG_SEQUENCE, &tbs_content)),
        })
    }

    /// The exact bytes `signed_value` signs: the DER of
    /// `SEQUENCE { eSealInfo, cert, signAlgID }` (the same construction is assumed
    /// for the 2014 form).
    ///
    /// For a decoded seal these are built from the bytes as received (identical to a
    /// re-encoding, since only DER is accepted); changing the public fields of a
    /// decoded seal does not change them. For a built seal they are encoded from
    /// the fields.
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
    let mut content = info_der.to_vec();
    der::write_tlv(&mut content, der::TAG_OCTET_STRING, maker_cert);
    content.extend(der::oid(sign_alg_oid)?);
    let out = der::tlv(der::TAG_SEQUENCE, &content);
    check_size(&out)?;
    Ok(out)
}

fn check_size(encoded: &[u8]) -> Result<(), SealError> {
    if encoded.len() > MAX_SEAL_BYTES {
        return Err(SealError::encoding(format!(
            "encoding is larger than {MAX_SEAL_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_entries(count: usize, what: &str) -> Result<(), SealError> {
    if count >= MAX_LIST_ENTRIES {
        return Err(SealError::malformed(format!(
            "{what} has more than {MAX_LIST_ENTRIES} entries"
        )));
    }
    Ok(())
}
