//! The ASN.1 of `SESeal` as `der` types: one struct per SEQUENCE, derived with
//! `#[derive(Sequence)]`, borrowing from the input when decoding and from the public
//! types when encoding. [`crate::asn1`] converts between these and the public types
//! and checks what the schema alone cannot (header id and version, `critical FALSE`).
//!
//! `der` decodes DER only: minimal lengths and INTEGERs, definite lengths, `BOOLEAN`
//! as `0x00`/`0xFF`, times as `YYYYMMDDHHMMSSZ`/`YYMMDDHHMMSSZ`, no trailing bytes in
//! any SEQUENCE. Two value types are this crate's own: [`Bounded`] (a SEQUENCE OF
//! that stops at [`MAX_LIST_ENTRIES`] while decoding) and [`Oid`] (an OBJECT
//! IDENTIFIER of at most [`MAX_OID_CONTENT`] bytes and arcs below 2^64, where `der`'s
//! `ObjectIdentifier` holds at most 39 bytes, 32-bit arcs and a second arc below 40,
//! so not `2.999.x`). Neither holds `2.25.<uuid>`: its arc has 128 bits.

use std::fmt::Write as _;

use der::asn1::{
    AnyRef, BitStringRef, GeneralizedTime, Ia5StringRef, OctetStringRef, PrintableStringRef,
    UtcTime, Utf8StringRef,
};
use der::{
    Decode, DecodeValue, EncodeValue, ErrorKind, FixedTag, Header, Length, Reader, Sequence, Tag,
    Writer,
};

use crate::asn1::{MAX_LIST_ENTRIES, MAX_OID_CONTENT};

/// `SES_Header ::= SEQUENCE { id IA5String, version INTEGER, vid IA5String }`.
#[derive(Sequence)]
pub(crate) struct HeaderDer<'a> {
    pub id: Ia5StringRef<'a>,
    pub version: u32,
    pub vid: Ia5StringRef<'a>,
}

/// `CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING }`.
#[derive(Sequence)]
pub(crate) struct CertDigestDer<'a> {
    pub kind: PrintableStringRef<'a>,
    pub value: &'a OctetStringRef,
}

/// `SES_ESPropertyInfo` of GB/T 38540-2020. `certList` is a CHOICE of two
/// SEQUENCE OFs with the same tag, told apart by `certListType`: it is kept as read
/// and decoded once the type is known ([`Self::cert_list`]).
#[derive(Sequence)]
pub(crate) struct Property2020<'a> {
    pub kind: u32,
    pub name: Utf8StringRef<'a>,
    pub list_type: u32,
    pub list: AnyRef<'a>,
    pub create_date: GeneralizedTime,
    pub valid_start: GeneralizedTime,
    pub valid_end: GeneralizedTime,
}

/// `SES_ESPropertyInfo` of GM/T 0031-2014: no `certListType`, a plain list of
/// certificates, UTCTime.
#[derive(Sequence)]
pub(crate) struct Property2014<'a> {
    pub kind: u32,
    pub name: Utf8StringRef<'a>,
    pub list: Bounded<&'a OctetStringRef>,
    pub create_date: UtcTime,
    pub valid_start: UtcTime,
    pub valid_end: UtcTime,
}

/// `SES_ESPictrueInfo ::= SEQUENCE { type IA5String, data OCTET STRING,
/// width INTEGER, height INTEGER }`.
#[derive(Sequence)]
pub(crate) struct PictureDer<'a> {
    pub kind: Ia5StringRef<'a>,
    pub data: &'a OctetStringRef,
    pub width: u32,
    pub height: u32,
}

/// `ExtData ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE,
/// extnValue OCTET STRING }`. `critical` is read as OPTIONAL so that a FALSE
/// written out (not DER) can be refused; it is written only when TRUE.
#[derive(Sequence)]
pub(crate) struct ExtDataDer<'a> {
    pub oid: Oid<'a>,
    #[asn1(optional = "true")]
    pub critical: Option<bool>,
    pub value: &'a OctetStringRef,
}

/// `SES_SealInfo ::= SEQUENCE { header, esID IA5String, property, picture,
/// extDatas SEQUENCE OF ExtData OPTIONAL }`, with the property of either form.
#[derive(Sequence)]
pub(crate) struct SealInfoDer<'a, P>
where
    P: Decode<'a, Error = der::Error> + der::Encode,
{
    pub header: HeaderDer<'a>,
    pub es_id: Ia5StringRef<'a>,
    pub property: P,
    pub picture: PictureDer<'a>,
    #[asn1(optional = "true")]
    pub ext: Option<Bounded<ExtDataDer<'a>>>,
}

/// The signed content: `SEQUENCE { eSealInfo, cert OCTET STRING,
/// signAlgID OBJECT IDENTIFIER }`. `info` is the DER of `SES_SealInfo` as made or
/// as received.
#[derive(Sequence)]
pub(crate) struct ToBeSigned<'a> {
    pub info: AnyRef<'a>,
    pub cert: &'a OctetStringRef,
    pub alg: Oid<'a>,
}

/// `SESeal` of GB/T 38540-2020: `SEQUENCE { eSealInfo, cert, signAlgID,
/// signedValue BIT STRING }`.
#[derive(Sequence)]
pub(crate) struct Seal2020<'a> {
    pub info: AnyRef<'a>,
    pub cert: &'a OctetStringRef,
    pub alg: Oid<'a>,
    pub signed_value: BitStringRef<'a>,
}

/// `signInfo` of GM/T 0031-2014: `SEQUENCE { cert, signatureAlgorithm, signData }`.
#[derive(Sequence)]
pub(crate) struct SignInfo2014<'a> {
    pub cert: &'a OctetStringRef,
    pub alg: Oid<'a>,
    pub signed_value: BitStringRef<'a>,
}

/// `SESeal` of GM/T 0031-2014: `SEQUENCE { esealInfo, signInfo }`.
#[derive(Sequence)]
pub(crate) struct Seal2014<'a> {
    pub info: AnyRef<'a>,
    pub sign_info: SignInfo2014<'a>,
}

/// A SEQUENCE OF that refuses more than [`MAX_LIST_ENTRIES`] entries while it is
/// read, so a hostile list never grows past that.
pub(crate) struct Bounded<T>(pub Vec<T>);

impl<T> FixedTag for Bounded<T> {
    const TAG: Tag = Tag::Sequence;
}

impl<'a, T> DecodeValue<'a> for Bounded<T>
where
    T: Decode<'a, Error = der::Error>,
{
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let mut items = Vec::new();
        while !reader.is_finished() {
            if items.len() >= MAX_LIST_ENTRIES {
                return Err(reader.error(ErrorKind::Overlength));
            }
            items.push(T::decode(reader)?);
        }
        Ok(Bounded(items))
    }
}

impl<T: der::Encode> EncodeValue for Bounded<T> {
    fn value_len(&self) -> der::Result<Length> {
        self.0
            .iter()
            .try_fold(Length::ZERO, |len, item| len + item.encoded_len()?)
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.0.iter().try_for_each(|item| item.encode(writer))
    }
}

/// An OBJECT IDENTIFIER as its content octets, checked whenever one is made
/// ([`Oid::new`], decoding): at most [`MAX_OID_CONTENT`] bytes, not empty, not
/// truncated, every arc minimal and below 2^64. The field is private so that no
/// unchecked one exists.
#[derive(Clone, Copy)]
pub(crate) struct Oid<'a>(&'a [u8]);

impl FixedTag for Oid<'_> {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> DecodeValue<'a> for Oid<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        // Refused before a byte of it is read: a hostile length never gets further.
        if usize::try_from(header.length())? > MAX_OID_CONTENT {
            return Err(reader.error(ErrorKind::OidMalformed));
        }
        let content = reader.read_slice(header.length())?;
        Oid::new(content).map_err(|_| reader.error(ErrorKind::OidMalformed))
    }
}

impl EncodeValue for Oid<'_> {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(self.0)
    }
}

impl<'a> Oid<'a> {
    /// Content octets checked to be an OBJECT IDENTIFIER this crate takes.
    pub fn new(content: &'a [u8]) -> Result<Self, &'static str> {
        check_oid(content)?;
        Ok(Oid(content))
    }

    /// The dotted form, e.g. `1.2.156.10197.1.501`, built only when asked for.
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for (i, arc) in arcs(self.0).enumerate() {
            // Checked on making: every arc fits.
            let arc = arc.unwrap_or_default();
            if i == 0 {
                // The first subidentifier holds two arcs: 40 * first + second.
                let (first, second) = match arc {
                    v if v < 40 => (0, v),
                    v if v < 80 => (1, v - 40),
                    v => (2, v - 80),
                };
                let _ = write!(out, "{first}.{second}");
            } else {
                let _ = write!(out, ".{arc}");
            }
        }
        out
    }
}

/// Checks OBJECT IDENTIFIER content octets without allocating.
fn check_oid(content: &[u8]) -> Result<(), &'static str> {
    if content.is_empty() {
        return Err("empty OBJECT IDENTIFIER");
    }
    if content.len() > MAX_OID_CONTENT {
        return Err("OBJECT IDENTIFIER longer than 64 bytes");
    }
    if content.last().is_some_and(|&b| b & 0x80 != 0) {
        return Err("truncated OBJECT IDENTIFIER");
    }
    arcs(content).try_for_each(|arc| arc.map(|_| ()))
}

/// The subidentifiers of OBJECT IDENTIFIER content octets (the first holds the first
/// two arcs), each an error when it is not minimal or does not fit 64 bits. A
/// truncated last subidentifier is not yielded: [`check_oid`] refuses it first.
fn arcs(content: &[u8]) -> impl Iterator<Item = Result<u64, &'static str>> + '_ {
    content
        .split_inclusive(|b| b & 0x80 == 0)
        .filter(|group| group.last().is_some_and(|b| b & 0x80 == 0))
        .map(|group| {
            if group[0] == 0x80 {
                return Err("non-minimal OBJECT IDENTIFIER arc");
            }
            group.iter().try_fold(0u64, |value, &b| {
                value
                    .checked_mul(128)
                    .map(|v| v | u64::from(b & 0x7F))
                    .ok_or("OBJECT IDENTIFIER arc too large")
            })
        })
}

/// The content octets of a dotted OBJECT IDENTIFIER such as `1.2.156.10197.1.501`:
/// at least two arcs, canonical decimal, first arc 0 to 2, second below 40 unless
/// the first is 2, every arc below 2^64, at most [`MAX_OID_CONTENT`] bytes.
pub(crate) fn oid_from_dotted(dotted: &str) -> Result<Vec<u8>, &'static str> {
    const INVALID: &str = "not a dotted OBJECT IDENTIFIER";
    let mut parts = dotted.split('.').map(|part| {
        let canonical = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        match canonical {
            true => part.parse::<u64>().map_err(|_| INVALID),
            false => Err(INVALID),
        }
    });
    let (first, second) = match (parts.next(), parts.next()) {
        (Some(first), Some(second)) => (first?, second?),
        _ => return Err(INVALID),
    };
    if first > 2 || (first < 2 && second >= 40) {
        return Err(INVALID);
    }
    let head = (first * 40).checked_add(second).ok_or(INVALID)?;
    let mut content = Vec::new();
    for arc in std::iter::once(Ok(head)).chain(parts) {
        let arc = arc?;
        // Base 128, most significant group first, the continuation bit on all but
        // the last.
        let groups = (1..10).rev().filter(|i| arc >> (7 * i) != 0);
        content.extend(groups.map(|i| (arc >> (7 * i)) as u8 & 0x7F | 0x80));
        content.push(arc as u8 & 0x7F);
        if content.len() > MAX_OID_CONTENT {
            return Err("OBJECT IDENTIFIER longer than 64 bytes");
        }
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_round_trip_with_arcs_beyond_32_bits() {
        for s in [
            "1.2.156.10197.1.501",
            "1.2.840.10045.4.3.2",
            "2.999.3",
            "0.0",
            "1.39.0",
            "2.25.18446744073709551615",
        ] {
            let content = oid_from_dotted(s).unwrap();
            assert_eq!(Oid::new(&content).unwrap().dotted(), s);
        }
        assert_eq!(
            oid_from_dotted("1.2.840.10045.4.3.2").unwrap(),
            [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]
        );
        assert_eq!(oid_from_dotted("2.999.3").unwrap(), [0x88, 0x37, 0x03]);
        assert_eq!(
            oid_from_dotted("1.2.2097152.16384").unwrap(),
            [0x2A, 0x81, 0x80, 0x80, 0x00, 0x81, 0x80, 0x00]
        );
    }

    #[test]
    fn bad_oids_are_refused() {
        for bad in [
            "", "1", "3.1", "1.40", "1..2", "1.02", "a.b", "1.2.", "+1.2",
        ] {
            assert!(oid_from_dotted(bad).is_err(), "{bad}");
        }
        assert!(oid_from_dotted("2.18446744073709551615").is_err());
        assert!(oid_from_dotted("1.2.18446744073709551616").is_err());
        for bad in [
            &[][..],
            &[0x2A, 0x86],
            &[0x80, 0x01],
            &[0x2A, 0x80, 0x01],
            &[
                0x2A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
            ],
        ] {
            assert!(Oid::new(bad).is_err(), "{bad:02X?}");
            let mut tlv = vec![0x06, bad.len() as u8];
            tlv.extend_from_slice(bad);
            assert!(Oid::from_der(&tlv).is_err(), "{bad:02X?}");
        }
    }

    /// An OID of `len` content bytes, dotted and as content: `1.2` then arcs of 1.
    fn oid_of_len(len: usize) -> (String, Vec<u8>) {
        let dotted = format!("1.2{}", ".1".repeat(len - 1));
        let mut content = vec![0x2A];
        content.resize(len, 0x01);
        (dotted, content)
    }

    #[test]
    fn oids_stop_at_64_bytes() {
        let (dotted, content) = oid_of_len(MAX_OID_CONTENT);
        assert_eq!(oid_from_dotted(&dotted).unwrap(), content);
        let mut tlv = vec![0x06, content.len() as u8];
        tlv.extend_from_slice(&content);
        assert_eq!(Oid::from_der(&tlv).unwrap().dotted(), dotted);

        let (dotted, content) = oid_of_len(MAX_OID_CONTENT + 1);
        assert!(oid_from_dotted(&dotted).is_err());
        assert!(Oid::new(&content).is_err());
        let mut tlv = vec![0x06, content.len() as u8];
        tlv.extend_from_slice(&content);
        assert_eq!(
            Oid::from_der(&tlv).err().map(|e| e.kind()),
            Some(ErrorKind::OidMalformed)
        );
    }

    #[test]
    fn lists_stop_at_the_limit() {
        let one = [0x04, 0x00];
        let list = |n: usize| {
            let content = one.repeat(n);
            let mut der = vec![0x30, 0x82, (content.len() >> 8) as u8, content.len() as u8];
            der.extend(content);
            der
        };
        let full = list(MAX_LIST_ENTRIES);
        let ok = Bounded::<&OctetStringRef>::from_der(&full).unwrap();
        assert_eq!(ok.0.len(), MAX_LIST_ENTRIES);
        assert!(Bounded::<&OctetStringRef>::from_der(&list(MAX_LIST_ENTRIES + 1)).is_err());
    }
}
