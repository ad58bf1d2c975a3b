//! SESeal encoding and decoding: round trips, the 2014 form, robustness against
//! damaged input, and OpenSSL as an independent DER parser.

use std::process::Command;

use certkey_seal::{
    CertList, ExtData, Form, Picture, Seal, SealError, SealInfo, SealType, MAX_OID_CONTENT,
    MAX_SEAL_BYTES, OID_ECDSA_WITH_SHA256, OID_SM3_WITH_SM2,
};
use time::macros::datetime;

const NAME: &str = "北京某某科技有限公司合同专用章";

fn sample_info() -> SealInfo {
    SealInfo {
        version: 4,
        vid: "CertKey".into(),
        es_id: "11010820240001".into(),
        seal_type: SealType::Organisation,
        name: NAME.into(),
        certs: CertList::Certs(vec![vec![0x30, 0x03, 0x02, 0x01, 0x01], vec![0xAA; 300]]),
        create_date: datetime!(2024-05-01 08:30:00 UTC),
        valid_start: datetime!(2024-05-01 00:00:00 UTC),
        valid_end: datetime!(2027-04-30 23:59:59 UTC),
        picture: Picture {
            kind: "PNG".into(),
            data: b"\x89PNG\r\n\x1a\n fake picture".to_vec(),
            width_mm: 40,
            height_mm: 40,
        },
        ext: vec![
            ExtData {
                oid: "1.2.156.10197.6.1.4.2.1".into(),
                critical: false,
                value: b"plain".to_vec(),
            },
            ExtData {
                oid: "1.2.3.4".into(),
                critical: true,
                value: vec![],
            },
        ],
    }
}

fn maker_cert() -> Vec<u8> {
    let mut c = vec![0x30, 0x82, 0x01, 0x00];
    c.extend((0..=255u8).collect::<Vec<_>>());
    c
}

fn sample_seal() -> Seal {
    let info = sample_info();
    Seal::new(
        Form::V4,
        info,
        maker_cert(),
        OID_SM3_WITH_SM2,
        vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02],
    )
}

#[test]
fn v4_round_trip() {
    let seal = sample_seal();
    let der = seal.encode().unwrap();
    let back = Seal::decode(&der).unwrap();
    assert_eq!(back, seal);
    assert_eq!(back.form, Form::V4);
    assert_eq!(back.info.name, NAME);
    assert_eq!(back.encode().unwrap(), der);

    let tbs = seal
        .info
        .to_be_signed(&seal.maker_cert, OID_SM3_WITH_SM2)
        .unwrap();
    assert_eq!(back.signed_bytes().unwrap(), tbs);
    assert_eq!(seal.signed_bytes().unwrap(), tbs);
    // The signed bytes are SEQUENCE { eSealInfo, cert, signAlgID }: the seal minus
    // its last field, with the outer length adjusted.
    assert_eq!(tbs[0], 0x30);
    let info_der = seal.info.encode(Form::V4).unwrap();
    assert!(der.windows(info_der.len()).any(|w| w == info_der));
    assert!(tbs.ends_with(&[0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75]));
}

#[test]
fn v4_digest_list_and_other_type_round_trip() {
    let mut info = sample_info();
    info.certs = CertList::Digests(vec![("sm3".into(), vec![7; 32]), ("sha256".into(), vec![])]);
    info.seal_type = SealType::Other(7);
    info.ext.clear();
    let seal = Seal::new(
        Form::V4,
        info,
        vec![1, 2, 3],
        OID_ECDSA_WITH_SHA256,
        vec![9; 70],
    );
    let der = seal.encode().unwrap();
    let back = Seal::decode(&der).unwrap();
    assert_eq!(back, seal);
    assert_eq!(back.info.certs.list_type(), 2);
    assert_eq!(back.info.seal_type.code(), 7);
    assert_eq!(back.sign_alg, OID_ECDSA_WITH_SHA256);
}

/// Minimal DER writer independent of the crate's, for hand-built inputs.
fn t(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let content: Vec<u8> = parts.concat();
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend(content);
    out
}

fn hand_built_2014() -> (Vec<u8>, Vec<u8>) {
    let header = t(
        0x30,
        &[&t(0x16, &[b"ES"]), &t(0x02, &[&[3]]), &t(0x16, &[b"GMV"])],
    );
    let property = t(
        0x30,
        &[
            &t(0x02, &[&[2]]),
            &t(0x0C, &["张三".as_bytes()]),
            &t(0x30, &[&t(0x04, &[b"cert-one"]), &t(0x04, &[b"cert-two"])]),
            &t(0x17, &[b"991231235959Z"]),
            &t(0x17, &[b"200101000000Z"]),
            &t(0x17, &[b"491231235959Z"]),
        ],
    );
    let picture = t(
        0x30,
        &[
            &t(0x16, &[b"BMP"]),
            &t(0x04, &[b"BM...."]),
            &t(0x02, &[&[0x00, 0x80]]),
            &t(0x02, &[&[30]]),
        ],
    );
    let ext = t(
        0x30,
        &[&t(
            0x30,
            &[
                &t(0x06, &[&[0x2A, 0x03]]),
                &t(0x01, &[&[0xFF]]),
                &t(0x04, &[b"v"]),
            ],
        )],
    );
    let info = t(
        0x30,
        &[
            &header,
            &t(0x16, &[b"ES-2014-1"]),
            &property,
            &picture,
            &ext,
        ],
    );
    let cert = t(0x04, &[b"maker certificate"]);
    let alg = t(0x06, &[&[0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75]]);
    let sig = t(0x03, &[&[0x00], b"signature"]);
    let seal = t(0x30, &[&info, &t(0x30, &[&cert, &alg, &sig])]);
    let signed = t(0x30, &[&info, &cert, &alg]);
    (seal, signed)
}

#[test]
fn decodes_hand_built_2014_form() {
    let (der, signed) = hand_built_2014();
    let seal = Seal::decode(&der).unwrap();
    assert_eq!(seal.form, Form::V3);
    assert_eq!(seal.info.version, 3);
    assert_eq!(seal.info.vid, "GMV");
    assert_eq!(seal.info.es_id, "ES-2014-1");
    assert_eq!(seal.info.seal_type, SealType::Personal);
    assert_eq!(seal.info.name, "张三");
    assert_eq!(
        seal.info.certs,
        CertList::Certs(vec![b"cert-one".to_vec(), b"cert-two".to_vec()])
    );
    assert_eq!(seal.info.create_date, datetime!(1999-12-31 23:59:59 UTC));
    assert_eq!(seal.info.valid_start, datetime!(2020-01-01 00:00:00 UTC));
    assert_eq!(seal.info.valid_end, datetime!(2049-12-31 23:59:59 UTC));
    assert_eq!(seal.info.picture.kind, "BMP");
    assert_eq!(seal.info.picture.width_mm, 128);
    assert_eq!(seal.info.picture.height_mm, 30);
    assert_eq!(
        seal.info.ext,
        vec![ExtData {
            oid: "1.2.3".into(),
            critical: true,
            value: b"v".to_vec()
        }]
    );
    assert_eq!(seal.maker_cert, b"maker certificate");
    assert_eq!(seal.sign_alg, OID_SM3_WITH_SM2);
    assert_eq!(seal.signed_value, b"signature");
    assert_eq!(seal.signed_bytes().unwrap(), signed);
    // Writing the 2014 form reproduces the input exactly.
    assert_eq!(seal.encode().unwrap(), der);
    let rebuilt = Seal::new(
        Form::V3,
        seal.info.clone(),
        seal.maker_cert.clone(),
        seal.sign_alg.clone(),
        seal.signed_value.clone(),
    );
    assert_eq!(rebuilt.signed_bytes().unwrap(), signed);
}

#[test]
fn every_truncation_fails() {
    for der in [sample_seal().encode().unwrap(), hand_built_2014().0] {
        for len in 0..der.len() {
            let err = Seal::decode(&der[..len]).unwrap_err();
            assert_eq!(err.code(), "seal_malformed", "prefix {len}");
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(Seal::decode(&longer).is_err());
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_damage_never_panics() {
    let mut rng = Rng(0x5EA1_2024_C0DE_0001);
    let mut accepted = 0;
    for der in [sample_seal().encode().unwrap(), hand_built_2014().0] {
        for round in 0..3000 {
            let mut bad = der.clone();
            let flips = 1 + round % 3;
            for _ in 0..flips {
                let i = rng.below(bad.len());
                bad[i] ^= (1 + rng.below(255)) as u8;
            }
            if round % 10 == 0 {
                // Also cut or extend somewhere.
                let i = rng.below(bad.len());
                if round % 20 == 0 {
                    bad.remove(i);
                } else {
                    bad.insert(i, rng.next() as u8);
                }
            }
            match Seal::decode(&bad) {
                Ok(seal) => {
                    // Only DER is accepted, so whatever is accepted re-encodes to
                    // exactly the same bytes.
                    accepted += 1;
                    assert_eq!(seal.encode().unwrap(), bad);
                    seal.signed_bytes().unwrap();
                }
                Err(e) => assert_eq!(e.code(), "seal_malformed"),
            }
        }
    }
    // Flips inside picture data or certificates still give valid seals.
    assert!(accepted > 0);
}

#[test]
fn strictness() {
    let good = sample_seal().encode().unwrap();
    assert!(Seal::decode(&good).is_ok());

    let malformed = |bytes: &[u8]| {
        let err = Seal::decode(bytes).unwrap_err();
        assert_eq!(err.code(), "seal_malformed", "{err}");
        err.to_string()
    };

    // Non-minimal outer length.
    let (content_start, len) = (4, good.len() - 4);
    assert_eq!(good[1], 0x82);
    let mut long = vec![0x30, 0x83, 0x00, (len >> 8) as u8, len as u8];
    long.extend_from_slice(&good[content_start..]);
    malformed(&long);

    // Too big.
    malformed(&vec![0u8; MAX_SEAL_BYTES + 1]);

    // Three fields.
    let three = t(0x30, &[&t(0x30, &[]), &t(0x04, &[]), &t(0x06, &[&[0x2A]])]);
    assert!(malformed(&three).contains("3 fields"));

    // Version 2 in the four-field form, version 4 in the two-field form.
    let mut info = sample_info();
    info.version = 2;
    let v3_info = Seal::new(Form::V3, info, vec![], "1.2", vec![1])
        .encode()
        .unwrap();
    let v3 = Seal::decode(&v3_info).unwrap();
    assert_eq!(v3.info.version, 2);
    let mut s = sample_seal();
    s.info.ext.clear();
    let mut der = s.encode().unwrap();
    let pos = der
        .windows(5)
        .position(|w| w == [0x16, 0x02, b'E', b'S', 0x02])
        .unwrap();
    der[pos + 6] = 2;
    assert!(malformed(&der).contains("version 2"));
    der[pos + 3] = b'X';
    der[pos + 6] = 4;
    assert!(malformed(&der).contains("\"ES\""));

    // Bad UTF-8 in the name: replace the first byte of the name with 0xFF.
    let mut der = s.encode().unwrap();
    let name_pos = der
        .windows(NAME.len())
        .position(|w| w == NAME.as_bytes())
        .unwrap();
    der[name_pos] = 0xFF;
    assert!(malformed(&der).contains("UTF-8"));

    // Non-ASCII esID.
    let mut der = s.encode().unwrap();
    let id_pos = der
        .windows(14)
        .position(|w| w == b"11010820240001")
        .unwrap();
    der[id_pos] = 0xC3;
    assert!(malformed(&der).contains("IA5"));

    // critical FALSE written out is not DER.
    let mut info = sample_info();
    info.ext = vec![ExtData {
        oid: "1.2.3".into(),
        critical: true,
        value: vec![5],
    }];
    let mut der = Seal::new(Form::V4, info, vec![], "1.2", vec![1])
        .encode()
        .unwrap();
    let b = der
        .windows(3)
        .position(|w| w == [0x01, 0x01, 0xFF])
        .unwrap();
    der[b + 2] = 0x00;
    assert!(malformed(&der).contains("critical"));
    der[b + 2] = 0x01;
    assert!(malformed(&der).contains("BOOLEAN"));
}

#[test]
fn encoding_errors() {
    let enc = |seal: Seal| -> SealError { seal.encode().unwrap_err() };
    let base = sample_seal();

    let mut s = base.clone();
    s.info.vid = "供应商".into();
    assert_eq!(enc(s).code(), "seal_encoding");

    let mut s = base.clone();
    s.sign_alg = "1.2.x".into();
    assert_eq!(enc(s).code(), "seal_encoding");

    let mut s = base.clone();
    s.info.version = 3;
    assert_eq!(enc(s).code(), "seal_encoding");

    let mut s = base.clone();
    s.form = Form::V3;
    s.info.version = 1;
    s.info.certs = CertList::Digests(vec![]);
    assert_eq!(enc(s).code(), "seal_encoding");

    let mut s = base.clone();
    s.form = Form::V3;
    s.info.version = 1;
    s.info.valid_end = datetime!(2050-01-01 00:00:00 UTC);
    assert_eq!(enc(s).code(), "seal_encoding");

    let mut s = base.clone();
    s.info.certs = CertList::Digests(vec![("sm3_*".into(), vec![])]);
    assert_eq!(enc(s).code(), "seal_encoding");

    let mut s = base.clone();
    s.info.picture.data = vec![0; MAX_SEAL_BYTES];
    assert_eq!(enc(s).code(), "seal_encoding");

    let err = base
        .info
        .to_be_signed(&base.maker_cert, "not an oid")
        .unwrap_err();
    assert_eq!(err.code(), "seal_encoding");
}

#[test]
fn times_are_utc_generalized_without_fraction() {
    let mut s = sample_seal();
    s.info.create_date = datetime!(2024-05-01 16:30:00.75 +08:00);
    let der = s.encode().unwrap();
    assert!(der.windows(15).any(|w| w == b"20240501083000Z"));
    let back = Seal::decode(&der).unwrap();
    assert_eq!(back.info.create_date, datetime!(2024-05-01 08:30:00 UTC));
}

#[test]
fn openssl_parses_the_encoding() {
    let der = sample_seal().encode().unwrap();
    let dir = std::env::temp_dir().join(format!("certkey-seal-asn1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seal.der");
    std::fs::write(&path, &der).unwrap();
    let out = Command::new("openssl")
        .args(["asn1parse", "-inform", "DER", "-in"])
        .arg(&path)
        .output()
        .expect("openssl must be installed");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("IA5STRING         :ES"), "{text}");
    assert!(
        text.contains("UTF8STRING        :") && text.contains(NAME),
        "{text}"
    );
    assert!(
        text.contains("GENERALIZEDTIME   :20240501083000Z"),
        "{text}"
    );
    assert!(text.contains("BIT STRING"), "{text}");
    assert!(text.contains(":SM2-with-SM3"), "{text}");
    assert!(text.contains("BOOLEAN           :255"), "{text}");
}

/// The TLVs of a hand-built 2020 seal, each replaceable by a broken one.
#[derive(Clone)]
struct Parts {
    version: Vec<u8>,
    es_id: Vec<u8>,
    name: Vec<u8>,
    list_type: Vec<u8>,
    list: Vec<u8>,
    create_date: Vec<u8>,
    picture: Vec<u8>,
    width: Vec<u8>,
    ext: Vec<u8>,
    alg: Vec<u8>,
    signed_value: Vec<u8>,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            version: t(0x02, &[&[4]]),
            es_id: t(0x16, &[b"E-1"]),
            name: t(0x0C, &["印章".as_bytes()]),
            list_type: t(0x02, &[&[2]]),
            list: t(
                0x30,
                &[&t(0x30, &[&t(0x13, &[b"sm3"]), &t(0x04, &[&[7; 32]])])],
            ),
            create_date: t(0x18, &[b"20240229235959Z"]),
            picture: t(0x04, &[b"\x89PNG"]),
            width: t(0x02, &[&[0x00, 0x80]]),
            ext: t(
                0x30,
                &[&t(
                    0x30,
                    &[
                        &t(0x06, &[&[0x2A, 0x03]]),
                        &t(0x01, &[&[0xFF]]),
                        &t(0x04, &[b"v"]),
                    ],
                )],
            ),
            alg: t(0x06, &[&[0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75]]),
            signed_value: t(0x03, &[&[0x00], b"signature"]),
        }
    }
}

impl Parts {
    fn seal(&self) -> Vec<u8> {
        let header = t(
            0x30,
            &[&t(0x16, &[b"ES"]), &self.version, &t(0x16, &[b"V"])],
        );
        let property = t(
            0x30,
            &[
                &t(0x02, &[&[1]]),
                &self.name,
                &self.list_type,
                &self.list,
                &self.create_date,
                &t(0x18, &[b"20240301000000Z"]),
                &t(0x18, &[b"20990101000000Z"]),
            ],
        );
        let picture = t(
            0x30,
            &[
                &t(0x16, &[b"PNG"]),
                &self.picture,
                &self.width,
                &t(0x02, &[&[40]]),
            ],
        );
        let info = t(
            0x30,
            &[&header, &self.es_id, &property, &picture, &self.ext],
        );
        t(
            0x30,
            &[&info, &t(0x04, &[b"maker"]), &self.alg, &self.signed_value],
        )
    }
}

#[test]
fn hand_built_2020_parts_decode() {
    let seal = Seal::decode(&Parts::default().seal()).unwrap();
    assert_eq!(seal.info.picture.width_mm, 128);
    assert_eq!(
        seal.info.certs,
        CertList::Digests(vec![("sm3".into(), vec![7; 32])])
    );
    assert_eq!(seal.info.create_date, datetime!(2024-02-29 23:59:59 UTC));
    assert_eq!(seal.info.ext[0].oid, "1.2.3");
    assert!(seal.info.ext[0].critical);
    // Both the hand-built and the re-encoded bytes are DER: they are the same.
    assert_eq!(seal.encode().unwrap(), Parts::default().seal());
}

/// Every way a field can break a DER rule, each refused with a typed error.
#[test]
fn der_rule_breaks_are_refused() {
    type Edit = fn(&mut Parts);
    let cases: &[(&str, Edit)] = &[
        // Lengths.
        ("non-minimal short length", |p| {
            p.name = [&[0x0C, 0x81, 0x06][..], "印章".as_bytes()].concat()
        }),
        ("non-minimal long length", |p| {
            p.picture = [&[0x04, 0x82, 0x00, 0x04][..], b"\x89PNG"].concat()
        }),
        ("indefinite length", |p| {
            p.list = [&[0x30, 0x80][..], &p.list[2..], &[0, 0]].concat()
        }),
        ("five length bytes", |p| {
            p.picture = vec![0x04, 0x85, 0, 0, 0, 0, 4, 1, 2, 3, 4]
        }),
        ("length beyond the data", |p| {
            p.picture = vec![0x04, 0x7F, 1]
        }),
        ("high tag number", |p| {
            p.es_id = vec![0x1F, 0x16, 0x01, b'E']
        }),
        ("constructed OCTET STRING (BER)", |p| {
            p.picture = t(0x24, &[&t(0x04, &[b"\x89PNG"])])
        }),
        // INTEGERs.
        ("empty INTEGER", |p| p.width = vec![0x02, 0x00]),
        ("non-minimal INTEGER", |p| {
            p.width = vec![0x02, 0x02, 0x00, 0x01]
        }),
        ("negative INTEGER", |p| p.width = vec![0x02, 0x01, 0x80]),
        ("non-minimal negative INTEGER", |p| {
            p.width = vec![0x02, 0x02, 0xFF, 0x80]
        }),
        ("INTEGER above u32", |p| {
            p.width = vec![0x02, 0x05, 0x01, 0, 0, 0, 0]
        }),
        ("header version non-minimal", |p| {
            p.version = vec![0x02, 0x02, 0x00, 0x04]
        }),
        ("unknown certListType", |p| p.list_type = t(0x02, &[&[3]])),
        ("certListType 1 with digests", |p| {
            p.list_type = t(0x02, &[&[1]])
        }),
        // BOOLEAN and DEFAULT.
        ("BOOLEAN 0x01", |p| {
            p.ext = t(
                0x30,
                &[&t(
                    0x30,
                    &[&t(0x06, &[&[0x2A]]), &[0x01, 0x01, 0x01], &t(0x04, &[])],
                )],
            )
        }),
        ("BOOLEAN of two bytes", |p| {
            p.ext = t(
                0x30,
                &[&t(
                    0x30,
                    &[
                        &t(0x06, &[&[0x2A]]),
                        &[0x01, 0x02, 0xFF, 0xFF],
                        &t(0x04, &[]),
                    ],
                )],
            )
        }),
        ("critical FALSE present", |p| {
            p.ext = t(
                0x30,
                &[&t(
                    0x30,
                    &[&t(0x06, &[&[0x2A]]), &[0x01, 0x01, 0x00], &t(0x04, &[])],
                )],
            )
        }),
        ("extension without a value", |p| {
            p.ext = t(0x30, &[&t(0x30, &[&t(0x06, &[&[0x2A]])])])
        }),
        // OBJECT IDENTIFIERs.
        ("empty OID", |p| p.alg = vec![0x06, 0x00]),
        ("truncated OID", |p| p.alg = vec![0x06, 0x02, 0x2A, 0x86]),
        ("non-minimal OID arc", |p| {
            p.alg = vec![0x06, 0x03, 0x2A, 0x80, 0x01]
        }),
        ("non-minimal first OID arc", |p| {
            p.alg = vec![0x06, 0x02, 0x80, 0x01]
        }),
        ("OID arc above u64", |p| {
            p.alg = t(0x06, &[&[0x2A], &[0xFF; 9], &[0x7F]])
        }),
        // Strings.
        ("non-ASCII IA5String", |p| {
            p.es_id = t(0x16, &[&[b'E', 0xC3]])
        }),
        ("invalid UTF-8", |p| p.name = t(0x0C, &[&[0xFF, 0x41]])),
        ("PrintableString with '*'", |p| {
            p.list = t(0x30, &[&t(0x30, &[&t(0x13, &[b"sm3*"]), &t(0x04, &[])])])
        }),
        ("wrong string type", |p| p.es_id = t(0x0C, &[b"E-1"])),
        // Times.
        ("29 February of a common year", |p| {
            p.create_date = t(0x18, &[b"20230229000000Z"])
        }),
        ("month 13", |p| {
            p.create_date = t(0x18, &[b"20241301000000Z"])
        }),
        ("hour 24", |p| {
            p.create_date = t(0x18, &[b"20240101240000Z"])
        }),
        ("second 60", |p| {
            p.create_date = t(0x18, &[b"20241231235960Z"])
        }),
        ("short time", |p| {
            p.create_date = t(0x18, &[b"2024010100000Z"])
        }),
        ("time without Z", |p| {
            p.create_date = t(0x18, &[b"20240101000000"])
        }),
        ("time with a fraction", |p| {
            p.create_date = t(0x18, &[b"20240101000000.5Z"])
        }),
        ("time with an offset", |p| {
            p.create_date = t(0x18, &[b"20240101000000+0800"])
        }),
        ("non-digit in a time", |p| {
            p.create_date = t(0x18, &[b"2024010100000+Z"])
        }),
        ("UTCTime in the 2020 form", |p| {
            p.create_date = t(0x17, &[b"240101000000Z"])
        }),
        // Not a DER rule: the der crate's times start in 1970 (the hand-written
        // reader before it took years from 0).
        ("year before 1970", |p| {
            p.create_date = t(0x18, &[b"19691231235959Z"])
        }),
        // BIT STRING.
        ("unused bits in the signature", |p| {
            p.signed_value = t(0x03, &[&[0x01, 0xFE]])
        }),
        ("empty BIT STRING", |p| p.signed_value = vec![0x03, 0x00]),
        ("signature as an OCTET STRING", |p| {
            p.signed_value = t(0x04, &[b"sig"])
        }),
        // Structure.
        ("empty extension list element", |p| {
            p.ext = t(0x30, &[&t(0x30, &[])])
        }),
        ("extensions not a SEQUENCE", |p| p.ext = t(0x31, &[])),
        ("extra field after extDatas", |p| {
            p.ext = [p.ext.clone(), t(0x05, &[])].concat()
        }),
    ];
    for (what, edit) in cases {
        let mut parts = Parts::default();
        edit(&mut parts);
        match Seal::decode(&parts.seal()) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => assert_eq!(e.code(), "seal_malformed", "{what}: {e}"),
        }
    }
}

/// An OBJECT IDENTIFIER TLV of `len` content bytes: `1.2` then arcs of 1, and its
/// dotted form.
fn long_oid(len: usize) -> (Vec<u8>, String) {
    let mut content = vec![0x2A];
    content.resize(len, 0x01);
    (t(0x06, &[&content]), format!("1.2{}", ".1".repeat(len - 1)))
}

#[test]
fn oids_of_more_than_64_bytes_are_refused() {
    assert_eq!(MAX_OID_CONTENT, 64);
    let ext = |oid: &[u8]| t(0x30, &[&t(0x30, &[oid, &t(0x04, &[b"v"])])]);

    let (oid, dotted) = long_oid(MAX_OID_CONTENT);
    let parts = Parts {
        alg: oid.clone(),
        ext: ext(&oid),
        ..Parts::default()
    };
    let seal = Seal::decode(&parts.seal()).unwrap();
    assert_eq!(seal.sign_alg, dotted);
    assert_eq!(seal.info.ext[0].oid, dotted);
    assert_eq!(seal.encode().unwrap(), parts.seal());

    let (long, long_dotted) = long_oid(MAX_OID_CONTENT + 1);
    for parts in [
        Parts {
            alg: long.clone(),
            ..Parts::default()
        },
        Parts {
            ext: ext(&long),
            ..Parts::default()
        },
    ] {
        let err = Seal::decode(&parts.seal()).unwrap_err();
        assert!(matches!(err, SealError::SealMalformed(_)), "{err:?}");
        assert_eq!(err.code(), "seal_malformed");
    }

    // Nor are they written.
    let mut s = sample_seal();
    s.sign_alg = long_dotted.clone();
    assert_eq!(s.encode().unwrap_err().code(), "seal_encoding");
    let mut s = sample_seal();
    s.info.ext[0].oid = long_dotted;
    assert_eq!(s.encode().unwrap_err().code(), "seal_encoding");
    s.info.ext[0].oid = dotted;
    assert!(s.encode().is_ok());
}

/// UTCTime years 50 to 99 are 1950 to 1999 (RFC 5280); `der` holds times from 1970
/// on, so 50 to 69 are refused as malformed (accepted behaviour, in the crate doc).
#[test]
fn utc_time_years_50_to_69_are_refused() {
    let (der, _) = hand_built_2014();
    let at = der.windows(13).position(|w| w == b"991231235959Z").unwrap();
    let with = |time: &[u8; 13]| {
        let mut d = der.clone();
        d[at..at + 13].copy_from_slice(time);
        Seal::decode(&d)
    };
    for time in [b"500101000000Z", b"600615120000Z", b"691231235959Z"] {
        let err = with(time).unwrap_err();
        assert_eq!(
            err.code(),
            "seal_malformed",
            "{}",
            String::from_utf8_lossy(time)
        );
    }
    let seal = with(b"700101000000Z").unwrap();
    assert_eq!(seal.info.create_date, datetime!(1970-01-01 00:00:00 UTC));
    let seal = with(b"491231235959Z").unwrap();
    assert_eq!(seal.info.create_date, datetime!(2049-12-31 23:59:59 UTC));
}
