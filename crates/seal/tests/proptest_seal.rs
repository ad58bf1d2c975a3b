//! Property tests of the seal library's readers of outside input: `Seal::decode` (and
//! what a reader calls on a decoded seal), `sniff` and `normalise`, on arbitrary
//! bytes, on mutations of a valid seal and of a valid PNG, and on pictures whose
//! headers declare random dimensions. The property: never a panic, always `Ok` or a
//! typed error with a stable code. And the round trip: any seal of either form
//! encodes, decodes to the same fields, encodes again to the same bytes and signs
//! the same bytes. Whatever decodes signs exactly the bytes of the input its
//! signature covers.
//!
//! `PROPTEST_CASES` sets the number of cases (default 128 here, for CI); run longer
//! with `PROPTEST_CASES=100000 cargo test -p certkey-seal --test proptest_seal`.

use std::io::Cursor;

use certkey_seal::{
    normalise, sniff, CertList, ExtData, Form, ImageLimits, Picture, Seal, SealInfo, SealType,
    OID_ECDSA_WITH_SHA256,
};
use proptest::prelude::*;
use time::macros::datetime;
use time::OffsetDateTime;

mod common;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every code `SealError::code` may give: a typed error has one of these.
const CODES: &[&str] = &[
    "seal_malformed",
    "seal_size",
    "image_too_large",
    "image_format",
    "image_dimensions",
    "image_empty",
    "image_corrupt",
    "seal_encoding",
];

fn typed(e: &certkey_seal::SealError) -> bool {
    CODES.contains(&e.code())
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        if (x + y) % 3 == 0 {
            image::Rgba([200, 20, 30, 255])
        } else {
            image::Rgba([255, 255, 255, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A valid SESeal of 2020 and of 2014, signed with garbage (decoding does not check
/// signatures).
fn valid_seal(form: Form) -> Vec<u8> {
    let info = SealInfo {
        version: if form == Form::V4 { 4 } else { 2 },
        vid: "CertKey".into(),
        es_id: "E0001".into(),
        seal_type: SealType::Organisation,
        name: "广东测试有限公司".into(),
        certs: CertList::Certs(vec![vec![0x30, 0x03, 0x02, 0x01, 0x01]]),
        create_date: datetime!(2026-01-01 00:00 UTC),
        valid_start: datetime!(2026-01-01 00:00 UTC),
        valid_end: datetime!(2027-01-01 00:00 UTC),
        picture: Picture {
            kind: "PNG".into(),
            data: png(8, 8),
            width_mm: 40,
            height_mm: 40,
        },
        ext: Vec::new(),
    };
    Seal::new(
        form,
        info,
        vec![0x30, 0x03, 0x02, 0x01, 0x02],
        OID_ECDSA_WITH_SHA256,
        vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
    )
    .encode()
    .unwrap()
}

/// Decodes and, when it decodes, does what a reader does with the seal.
fn read(bytes: &[u8]) {
    match Seal::decode(bytes) {
        Ok(seal) => {
            // What a decoded seal's signature covers is the input's own bytes.
            match seal.signed_bytes() {
                Ok(signed) => common::assert_signed_bytes_are_received(bytes, &signed),
                Err(e) => assert!(typed(&e), "{e:?}"),
            }
            let _ = seal.info.certs.len();
            let _ = sniff(&seal.info.picture.data);
            // Re-encoding what was decoded is Ok or typed.
            if let Err(e) = seal.encode() {
                assert!(typed(&e), "{e:?}");
            }
        }
        Err(e) => assert!(typed(&e), "{e:?}"),
    }
}

/// Flip, truncate, extend or overwrite bytes of `base`.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    (
        prop::collection::vec((0..len, any::<u8>()), 1..8),
        0..=len,
        prop::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(move |(flips, cut, tail, truncate)| {
            let mut b = base.clone();
            for (i, x) in flips {
                b[i] ^= x;
            }
            if truncate {
                b.truncate(cut);
            } else {
                b.extend(tail);
            }
            b
        })
}

/// A PNG signature and an IHDR (with a right CRC) declaring `w` x `h`, then `rest`.
fn png_header(w: u32, h: u32, depth: u8, colour: u8, rest: &[u8]) -> Vec<u8> {
    let mut chunk = b"IHDR".to_vec();
    chunk.extend(w.to_be_bytes());
    chunk.extend(h.to_be_bytes());
    chunk.extend([depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&chunk);
    out.extend(crc32(&chunk).to_be_bytes());
    out.extend(rest);
    out
}

/// A BMP file and info header declaring `w` x `h` at `bpp` bits, then `rest`.
fn bmp_header(w: i32, h: i32, bpp: u16, rest: &[u8]) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend((54 + rest.len() as u32).to_le_bytes());
    out.extend([0, 0, 0, 0]);
    out.extend(54u32.to_le_bytes());
    out.extend(40u32.to_le_bytes());
    out.extend(w.to_le_bytes());
    out.extend(h.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(bpp.to_le_bytes());
    out.extend([0u8; 24]);
    out.extend(rest);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn check_normalise(bytes: &[u8], w_mm: u32, h_mm: u32) {
    match normalise(bytes, w_mm, h_mm, &ImageLimits::default()) {
        Ok(n) => {
            assert_eq!(sniff(&n.png), Some("PNG"));
            assert!(n.width_px > 0 && n.height_px > 0);
        }
        Err(e) => assert!(typed(&e), "{e:?}"),
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// IA5 text: any ASCII, control characters included.
fn ia5(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..0x80, 0..max).prop_map(|b| b.into_iter().map(char::from).collect())
}

/// A dotted OID: first arc 0 to 2, second below 40 unless the first is 2, then any
/// arcs (64-bit included).
fn oid() -> impl Strategy<Value = String> {
    (
        0u64..3,
        any::<u64>(),
        prop::collection::vec(prop_oneof![0u64..200, any::<u64>()], 0..6),
    )
        .prop_map(|(first, second, rest)| {
            let second = if first < 2 { second % 40 } else { second / 81 };
            let mut s = format!("{first}.{second}");
            for arc in rest {
                s.push_str(&format!(".{arc}"));
            }
            s
        })
}

/// A time in whole seconds from 1970 up to the end of `last_year`.
fn time_until(last_year: i32) -> impl Strategy<Value = OffsetDateTime> {
    let end = time::Date::from_calendar_date(last_year, time::Month::December, 31)
        .unwrap()
        .with_hms(23, 59, 59)
        .unwrap()
        .assume_utc()
        .unix_timestamp();
    (0..=end).prop_map(|s| OffsetDateTime::from_unix_timestamp(s).unwrap())
}

fn cert_list(form: Form) -> BoxedStrategy<CertList> {
    let certs = prop::collection::vec(bytes(300), 0..4).prop_map(CertList::Certs);
    match form {
        Form::V3 => certs.boxed(),
        Form::V4 => prop_oneof![
            certs,
            prop::collection::vec(("[A-Za-z0-9 '()+,./:=?-]{0,12}", bytes(40)), 0..4)
                .prop_map(CertList::Digests),
        ]
        .boxed(),
    }
}

/// Any seal either form can hold.
fn any_seal() -> impl Strategy<Value = Seal> {
    prop_oneof![Just(Form::V4), Just(Form::V3)].prop_flat_map(|form| {
        let (version, last_year) = match form {
            Form::V4 => (Just(4u32).boxed(), 9999),
            Form::V3 => ((1u32..=3).boxed(), 2049),
        };
        let info = (
            (version, ia5(12), ia5(24), any::<u32>(), ".{0,24}"),
            cert_list(form),
            prop::array::uniform3(time_until(last_year)),
            (ia5(5), bytes(400), any::<u32>(), any::<u32>()),
            prop::collection::vec((oid(), any::<bool>(), bytes(40)), 0..4),
        )
            .prop_map(
                |((version, vid, es_id, seal_type, name), certs, dates, pic, ext)| SealInfo {
                    version,
                    vid,
                    es_id,
                    seal_type: SealType::from(seal_type),
                    name,
                    certs,
                    create_date: dates[0],
                    valid_start: dates[1],
                    valid_end: dates[2],
                    picture: Picture {
                        kind: pic.0,
                        data: pic.1,
                        width_mm: pic.2,
                        height_mm: pic.3,
                    },
                    ext: ext
                        .into_iter()
                        .map(|(oid, critical, value)| ExtData {
                            oid,
                            critical,
                            value,
                        })
                        .collect(),
                },
            );
        (info, bytes(300), oid(), bytes(80))
            .prop_map(move |(info, cert, alg, sig)| Seal::new(form, info, cert, alg, sig))
    })
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn decode_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        read(&bytes);
    }

    #[test]
    fn decode_der_shaped_bytes(tag in prop::sample::select(vec![0x30u8, 0x04, 0x16, 0x02, 0x06]),
                               len in any::<u32>(),
                               body in prop::collection::vec(any::<u8>(), 0..256)) {
        // A plausible TLV header with any length, long form included.
        let mut b = vec![tag, 0x84];
        b.extend(len.to_be_bytes());
        b.extend(body);
        read(&b);
    }

    #[test]
    fn decode_mutated_2020_seal(bytes in mutated(valid_seal(Form::V4))) {
        read(&bytes);
    }

    #[test]
    fn decode_mutated_2014_seal(bytes in mutated(valid_seal(Form::V3))) {
        read(&bytes);
    }

    #[test]
    fn normalise_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024),
                                 w in 0u32..120, h in 0u32..120) {
        check_normalise(&bytes, w, h);
    }

    #[test]
    fn normalise_mutated_png(bytes in mutated(png(24, 24)), w in 10u32..=100) {
        check_normalise(&bytes, w, w);
    }

    #[test]
    fn normalise_png_headers_of_any_size(w in any::<u32>(), h in any::<u32>(),
                                         depth in prop::sample::select(vec![1u8, 2, 4, 8, 16, 3, 0]),
                                         colour in prop::sample::select(vec![0u8, 2, 3, 4, 6, 1, 7]),
                                         rest in prop::collection::vec(any::<u8>(), 0..64)) {
        check_normalise(&png_header(w, h, depth, colour, &rest), 40, 40);
    }

    #[test]
    fn normalise_bmp_headers_of_any_size(w in any::<i32>(), h in any::<i32>(),
                                         bpp in prop::sample::select(vec![1u16, 4, 8, 16, 24, 32, 0, 7]),
                                         rest in prop::collection::vec(any::<u8>(), 0..64)) {
        check_normalise(&bmp_header(w, h, bpp, &rest), 40, 40);
    }

    #[test]
    fn normalise_small_real_pictures(w in 1u32..48, h in 1u32..48, mm in 10u32..=100) {
        check_normalise(&png(w, h), mm, mm);
    }

    #[test]
    fn any_seal_round_trips(seal in any_seal()) {
        let der = seal.encode().unwrap();
        let back = Seal::decode(&der).unwrap();
        prop_assert_eq!(&back, &seal);
        common::assert_signed_bytes_are_received(&der, &back.signed_bytes().unwrap());
        prop_assert_eq!(back.encode().unwrap(), der);
        let signed = seal.signed_bytes().unwrap();
        prop_assert_eq!(back.signed_bytes().unwrap(), signed.clone());
        if seal.form == Form::V4 {
            prop_assert_eq!(seal.info.to_be_signed(&seal.maker_cert, &seal.sign_alg).unwrap(), signed);
        }
    }

    #[test]
    fn mutated_generated_seals(bytes in any_seal().prop_flat_map(|s| mutated(s.encode().unwrap()))) {
        read(&bytes);
    }
}
