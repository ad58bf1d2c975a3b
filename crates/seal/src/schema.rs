//! The ASN.1 of `SESeal` as `der` types: one struct per SEQUENCE, derived with
//! `#[derive(Sequence)]`, borrowing from the input when decoding and from the public
//! types when encoding. [`crate::asn1`] converts between these and the public types
//! and checks what the schema alone cannot (header id and version, `critical FALSE`).
//!
//! `der` decodes DER only: minimal lengths and INTEGERs, definite lengths, `BOOLEAN`
//! as `0x00`/`0xFF`, times as `YYYYMMDDHHMMSSZ`/`YYMMDDHHMMSSZ`, no trailing bytes in
//! any SEQUENCE. Two value types are this crate's own: [`Bounded`] (a SEQUENCE OF
//! that stops at [`MAX_LIST_ENTRIES`] while decoding) and [`Oid`] (an OBJECT
//! IDENTIFIER of any arcs, where `der`'s `ObjectIdentifier` holds at most 39 bytes,
//! 32-bit arcs and a second arc below 40, so neither `2.999.x` nor `2.25.<uuid>`).

use der::asn1::{
    AnyRef, BitStringRef, GeneralizedTime, Ia5StringRef, OctetStringRef, PrintableStringRef,
    UtcTime, Utf8StringRef,
};
use der::{
    Decode, DecodeValue, EncodeValue, ErrorKind, FixedTag, Header, Length, Reader, Sequence, Tag,
    Writer,
};

use crate::asn1::MAX_LIST_ENTRIES;

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

/// An OBJECT IDENTIFIER as its content octets, checked on decoding: not empty, not
/// truncated, every arc minimal and below 2^64.
#[derive(Clone, Copy)]
pub(crate) struct Oid<'a>(pub &'a [u8]);

impl FixedTag for Oid<'_> {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> DecodeValue<'a> for Oid<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let content = reader.read_slice(header.length())?;
        if oid_to_dotted(content).is_err() {
            return Err(reader.error(ErrorKind::OidMalformed));
        }
        Ok(Oid(content))
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

impl Oid<'_> {
    /// The dotted form, e.g. `1.2.156.10197.1.501`.
    pub fn dotted(&self) -> Result<String, &'static str> {
        oid_to_dotted(self.0)
    }
}

/// The dotted form of OBJECT IDENTIFIER content octets.
fn oid_to_dotted(content: &[u8]) -> Result<String, &'static str> {
    if content.is_empty() {
        return Err("empty OBJECT IDENTIFIER");
    }
    if content.last().is_some_and(|&b| b & 0x80 != 0) {
        return Err("truncated OBJECT IDENTIFIER");
    }
    let mut out = String::new();
    let mut value: u64 = 0;
    let mut start = true;
    for &b in content {
        if start && b == 0x80 {
            return Err("non-minimal OBJECT IDENTIFIER arc");
        }
        value = value
            .checked_mul(128)
            .map(|v| v | u64::from(b & 0x7F))
            .ok_or("OBJECT IDENTIFIER arc too large")?;
        start = b & 0x80 == 0;
        if start {
            if out.is_empty() {
                // The first subidentifier holds two arcs: 40 * first + second.
                let (first, second) = match value {
                    v if v < 40 => (0, v),
                    v if v < 80 => (1, v - 40),
                    v => (2, v - 80),
                };
                out = format!("{first}.{second}");
            } else {
                out.push_str(&format!(".{value}"));
            }
            value = 0;
        }
    }
    Ok(out)
}

/// The content octets of a dotted OBJECT IDENTIFIER such as `1.2.156.10197.1.501`:
/// at least two arcs, canonical decimal, first arc 0 to 2, second below 40 unless
/// the first is 2.
pub(crate) fn oid_from_dotted(dotted: &str) -> Option<Vec<u8>> {
    let mut arcs = Vec::new();
    for part in dotted.split('.') {
        let canonical = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part == "0" || !part.starts_with('0'));
        if !canonical {
            return None;
        }
        arcs.push(part.parse::<u64>().ok()?);
    }
    let (first, second, rest) = match arcs.as_slice() {
        [a, b, rest @ ..] => (*a, *b, rest),
        _ => return None,
    };
    if first > 2 || (first < 2 && second >= 40) {
        return None;
    }
    let head = (first * 40).checked_add(second)?;
    let mut content = Vec::new();
    for arc in std::iter::once(head).chain(rest.iter().copied()) {
        // Base 128, most significant group first, the continuation bit on all but
        // the last.
        let groups = (0..10)
            .rev()
            .map(|i| (arc >> (7 * i)) as u8 & 0x7F)
            .skip_while(|&g| g == 0)
            .collect::<Vec<u8>>();
        match groups.split_last() {
            Some((last, high)) => {
                content.extend(high.iter().map(|g| g | 0x80));
                content.push(*last);
            }
            None => content.push(0),
        }
    }
    Some(content)
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
            assert_eq!(oid_to_dotted(&content).unwrap(), s);
        }
        assert_eq!(
            oid_from_dotted("1.2.840.10045.4.3.2").unwrap(),
            [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]
        );
        assert_eq!(oid_from_dotted("2.999.3").unwrap(), [0x88, 0x37, 0x03]);
    }

    #[test]
    fn bad_oids_are_refused() {
        for bad in [
            "", "1", "3.1", "1.40", "1..2", "1.02", "a.b", "1.2.", "+1.2",
        ] {
            assert!(oid_from_dotted(bad).is_none(), "{bad}");
        }
        assert!(oid_from_dotted("2.18446744073709551615").is_none());
        for bad in [
            &[][..],
            &[0x2A, 0x86],
            &[0x80, 0x01],
            &[0x2A, 0x80, 0x01],
            &[
                0x2A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F,
            ],
        ] {
            assert!(oid_to_dotted(bad).is_err(), "{bad:02X?}");
            let mut tlv = vec![0x06, bad.len() as u8];
            tlv.extend_from_slice(bad);
            assert!(Oid::from_der(&tlv).is_err(), "{bad:02X?}");
        }
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
