//! The exact bytes of known seals, captured from the encoder before it moved onto the
//! `der` crate: the 2020 form with a certificate list and extensions, with a digest
//! list, with a picture big enough for a three-byte length, and the 2014 form. Each
//! must encode to its fixture byte for byte, decode back to the same fields, and give
//! the same signed bytes.

use certkey_seal::{
    CertList, ExtData, Form, Picture, Seal, SealInfo, SealType, OID_ECDSA_WITH_SHA256,
    OID_SM3_WITH_SM2,
};
use time::macros::datetime;

mod common;

/// Deterministic filler: `n` bytes of a pattern seeded by `seed`.
fn filler(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn info_2020() -> SealInfo {
    SealInfo {
        version: 4,
        vid: "CertKey".into(),
        es_id: "11010820260001".into(),
        seal_type: SealType::Organisation,
        name: "北京某某科技有限公司合同专用章".into(),
        certs: CertList::Certs(vec![filler(1, 200), filler(2, 5)]),
        create_date: datetime!(2026-03-01 08:30:05 UTC),
        valid_start: datetime!(2026-03-01 00:00:00 UTC),
        valid_end: datetime!(2029-02-28 23:59:59 UTC),
        picture: Picture {
            kind: "PNG".into(),
            data: filler(3, 300),
            width_mm: 128,
            height_mm: 0,
        },
        ext: vec![
            ExtData {
                oid: "1.2.156.10197.6.1.4.2.1".into(),
                critical: false,
                value: b"plain".to_vec(),
            },
            ExtData {
                oid: "2.999.18446744073709551615".into(),
                critical: true,
                value: vec![],
            },
        ],
    }
}

/// (name, seal, whether its signed bytes have a fixture too).
fn seals() -> Vec<(&'static str, Seal, bool)> {
    let sm2_sig = [
        &[0x30, 0x44, 0x02, 0x20][..],
        &filler(4, 32),
        &[0x02, 0x20],
        &filler(5, 32),
    ]
    .concat();

    let certs = Seal::new(
        Form::V4,
        info_2020(),
        filler(6, 400),
        OID_SM3_WITH_SM2,
        sm2_sig.clone(),
    );

    let mut info = info_2020();
    info.seal_type = SealType::Other(300);
    info.certs = CertList::Digests(vec![
        ("sm3".into(), filler(7, 32)),
        ("sha256".into(), vec![]),
    ]);
    info.ext.clear();
    info.picture.kind = "SVG".into();
    info.picture.width_mm = 40;
    info.picture.height_mm = 0x7FFF_FFFF;
    let digests = Seal::new(Form::V4, info, vec![], OID_ECDSA_WITH_SHA256, filler(8, 70));

    let mut info = info_2020();
    info.picture.data = filler(9, 70_000);
    info.picture.height_mm = u32::MAX;
    let large = Seal::new(Form::V4, info, filler(10, 129), "1.2.3", vec![]);

    let mut info = info_2020();
    info.version = 3;
    info.vid = "GMV".into();
    info.seal_type = SealType::Personal;
    info.name = "张三".into();
    info.create_date = datetime!(1999-12-31 23:59:59 UTC);
    info.valid_start = datetime!(2020-01-01 00:00:00 UTC);
    info.valid_end = datetime!(2049-12-31 23:59:59 UTC);
    let v2014 = Seal::new(Form::V3, info, filler(11, 256), OID_SM3_WITH_SM2, sm2_sig);

    vec![
        ("seal-2020", certs, true),
        ("seal-2020-digests", digests, false),
        ("seal-2020-large", large, false),
        ("seal-2014", v2014, true),
    ]
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.der", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn seals_encode_to_the_pinned_bytes() {
    for (name, seal, _) in seals() {
        assert!(seal.encode().unwrap() == fixture(name), "{name}");
    }
}

#[test]
fn pinned_seals_decode_to_their_fields_and_back() {
    for (name, seal, _) in seals() {
        let bytes = fixture(name);
        let back = Seal::decode(&bytes).unwrap();
        assert_eq!(back, seal, "{name}");
        assert!(back.encode().unwrap() == bytes, "{name}");
    }
}

#[test]
fn signed_bytes_are_pinned() {
    for (name, seal, pinned) in seals() {
        let decoded = Seal::decode(&fixture(name)).unwrap();
        let tbs = seal.signed_bytes().unwrap();
        assert_eq!(decoded.signed_bytes().unwrap(), tbs, "{name}");
        if seal.form == Form::V4 {
            let made = seal.info.to_be_signed(&seal.maker_cert, &seal.sign_alg);
            assert_eq!(made.unwrap(), tbs, "{name}");
        }
        if pinned {
            assert!(tbs == fixture(&format!("{name}.tbs")), "{name}");
        }
    }
}

#[test]
fn decoded_seals_sign_the_bytes_as_received() {
    for (name, _, _) in seals() {
        let bytes = fixture(name);
        let decoded = Seal::decode(&bytes).unwrap();
        common::assert_signed_bytes_are_received(&bytes, &decoded.signed_bytes().unwrap());
    }
}
