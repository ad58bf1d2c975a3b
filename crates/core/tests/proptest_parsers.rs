//! Property tests of the client's readers of outside input: certificates from a key,
//! a file or a service (`cert::parse`, `CertificateInfo::from_der`, the signature and
//! chain checks), CA bundle files, seals read from a key (decoded, then the maker's
//! signature and the binding checked), and the signature a token returns for a
//! certification request. Arbitrary bytes and mutations (flipped, truncated,
//! extended bytes) of real OpenSSL-made certificates never panic and give `Ok` or a
//! typed error. And the requests `csr::build` makes, for any name and key, parse back
//! (x509-cert and x509-parser) to what went in.
//!
//! `PROPTEST_CASES` sets the number of cases (default 128 here, for CI); run longer
//! with `PROPTEST_CASES=100000 cargo test -p certkey-core --test proptest_parsers`.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use certkey_core::cert::{self, bundle, chain, verify, CertificateInfo};
use certkey_core::csr;
use certkey_core::pkcs11::keys::KeyAlg;
use certkey_core::workflow::seal::{lists_certificate, maker_signature_valid};
use proptest::prelude::*;
use time::OffsetDateTime;

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

/// Runs OpenSSL in `dir` with the whitespace-separated `args`.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A P-256 CA and a leaf it issued, and an SM2 self-signed CA, DER, made by OpenSSL.
struct Fixtures {
    ca: Vec<u8>,
    leaf: Vec<u8>,
    sm2: Vec<u8>,
}

/// SM2 with the default user id: OpenSSL takes the id only with a key file.
const SM2: &str = "-sm3 -sigopt distid:1234567812345678";

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(d, &format!("req -x509 {ec} -keyout ca.key -out ca.pem -subj /CN=PropCA -days 30"));
        openssl(d, &format!("req -new {ec} -keyout leaf.key -out leaf.csr -subj /O=测试/CN=张三"));
        openssl(d, "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 9 -days 30 -outform DER -out leaf.der");
        openssl(d, "x509 -in ca.pem -outform DER -out ca.der");
        openssl(d, "genpkey -algorithm ec -pkeyopt ec_paramgen_curve:SM2 -out sm2.key");
        openssl(d, &format!("req -new -key sm2.key {SM2} -subj /CN=SM2CA -out sm2.csr"));
        std::fs::write(d.join("ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n").unwrap();
        openssl(d, &format!("x509 -req -in sm2.csr -key sm2.key {SM2} -vfyopt distid:1234567812345678 -days 30 -extfile ext -outform DER -out sm2.der"));
        let read = |f: &str| std::fs::read(d.join(f)).unwrap();
        Fixtures {
            ca: read("ca.der"),
            leaf: read("leaf.der"),
            sm2: read("sm2.der"),
        }
    })
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

/// Everything the client does with a certificate it did not make.
fn read_certificate(der: &[u8]) {
    let now = OffsetDateTime::now_utc();
    let f = fixtures();
    match cert::parse(der) {
        Ok(p) => {
            let info = CertificateInfo::from_parsed(&p, now);
            assert!(!info.sha256.is_empty());
            let ca = cert::parse(&f.ca).unwrap();
            let sm2 = cert::parse(&f.sm2).unwrap();
            let _ = verify::check(&p, &[], &[ca, sm2]);
            let leaf = cert::parse(&f.leaf).unwrap();
            let _ = verify::signed_by(&leaf.cert, &p.cert);
        }
        Err(e) => assert_eq!(e.code(), "certificate_invalid", "{e:?}"),
    }
    if let Err(e) = CertificateInfo::from_der(der, now) {
        assert_eq!(e.code(), "certificate_invalid");
    }
    // As a seal maker (to chain), as a trusted CA, and as a CA on the key.
    let _ = chain::chains_to(der, std::slice::from_ref(&f.ca), &[], now);
    let _ = chain::chains_to(&f.leaf, &[der.to_vec()], &[], now);
    let _ = chain::chains_to(&f.leaf, std::slice::from_ref(&f.sm2), &[der.to_vec()], now);
}

/// A bundle file holding `bytes` as they are and wrapped in PEM armour.
fn read_bundle(bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::write(&raw, bytes).unwrap();
    if let Err(e) = bundle::read_file(&raw) {
        assert!(["certificate_invalid", "io"].contains(&e.code()), "{e:?}");
    }
    let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    pem.extend(bytes);
    pem.extend(b"\n-----END CERTIFICATE-----\n");
    let armoured = dir.path().join("pem");
    std::fs::write(&armoured, &pem).unwrap();
    if let Err(e) = bundle::read_file(&armoured) {
        assert!(["certificate_invalid", "io"].contains(&e.code()), "{e:?}");
    }
}

/// What `seal show` does with the value of a seal object.
fn read_seal(bytes: &[u8]) {
    if let Ok(seal) = certkey_seal::Seal::decode(bytes) {
        let _ = maker_signature_valid(&seal);
        let _ = lists_certificate(&seal, &fixtures().leaf);
        let _ = chain::chains_to(
            &seal.maker_cert,
            std::slice::from_ref(&fixtures().ca),
            &[],
            OffsetDateTime::now_utc(),
        );
    }
}

/// A DER `SEQUENCE { r INTEGER, s INTEGER }` with positive `r` and `s` from any
/// bytes (an empty one becomes 0).
fn ec_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let v: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
        let mut content = if v.first().is_none_or(|&b| b >= 0x80) {
            vec![0]
        } else {
            vec![]
        };
        content.extend(&v);
        [vec![0x02, content.len() as u8], content].concat()
    }
    let body = [int(r), int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

/// A common name as `csr::build` takes it: 1 to 64 characters, no control character.
fn cn_ok(cn: &str) -> bool {
    (1..=64).contains(&cn.chars().count()) && !cn.chars().any(char::is_control)
}

/// Builds a request the way the activation does, with `signature` as the token's
/// answer, and checks everything a CA reads back from it.
fn check_request(alg: KeyAlg, point: &[u8; 65], cn: &str, signature: Vec<u8>) {
    use x509_cert::der::{Decode, Encode};
    let mut signed = Vec::new();
    let result = csr::build(alg, point, cn, |info| {
        signed = info.to_vec();
        Ok(signature.clone())
    });
    let der = match result {
        Ok(der) => der,
        Err(e) => {
            let expected = if cn_ok(cn) {
                "token_signature_invalid"
            } else {
                "invalid_argument"
            };
            assert_eq!(e.code(), expected, "{e:?}");
            return;
        }
    };
    assert!(cn_ok(cn));
    let req = x509_cert::request::CertReq::from_der(&der).unwrap();
    assert_eq!(
        req.info.to_der().unwrap(),
        signed,
        "the token signed the info"
    );
    assert_eq!(req.signature.raw_bytes(), &signature[..]);
    assert_eq!(
        req.info.public_key.subject_public_key.raw_bytes(),
        &point[..]
    );
    let cn_value = req.info.subject.common_name().unwrap().unwrap();
    assert!(matches!(
        cn_value,
        x509_cert::ext::pkix::name::DirectoryString::Utf8String(_)
    ));
    assert_eq!(cn_value.value(), cn);
    use x509_parser::prelude::FromDer;
    let (rest, parsed) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
    assert!(rest.is_empty());
    assert_eq!(
        parsed
            .certification_request_info
            .subject
            .iter_common_name()
            .count(),
        1
    );
}

fn point() -> impl Strategy<Value = [u8; 65]> {
    prop::array::uniform32(any::<u8>()).prop_flat_map(|x| {
        prop::array::uniform32(any::<u8>()).prop_map(move |y| {
            let mut p = [4u8; 65];
            p[1..33].copy_from_slice(&x);
            p[33..].copy_from_slice(&y);
            p
        })
    })
}

fn key_alg() -> impl Strategy<Value = KeyAlg> {
    prop_oneof![Just(KeyAlg::Sm2), Just(KeyAlg::P256)]
}

#[test]
fn the_fixtures_chain() {
    let f = fixtures();
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        chain::chains_to(&f.leaf, std::slice::from_ref(&f.ca), &[], now).unwrap(),
        "CN=PropCA"
    );
    assert_eq!(
        chain::chains_to(&f.leaf, std::slice::from_ref(&f.sm2), &[], now),
        Err(chain::Untrusted::IssuerNotTrusted)
    );
    assert_eq!(
        chain::chains_to(&f.ca, std::slice::from_ref(&f.ca), &[], now),
        Err(chain::Untrusted::SelfIssued)
    );
    assert_eq!(
        chain::chains_to(&f.leaf, &[], &[], now),
        Err(chain::Untrusted::NoTrustedCa)
    );
    let later = now + time::Duration::days(60);
    assert_eq!(
        chain::chains_to(&f.leaf, std::slice::from_ref(&f.ca), &[], later),
        Err(chain::Untrusted::CertificateNotValidNow)
    );
    let p = cert::parse(&f.sm2).unwrap();
    assert!(
        verify::signed_by(&p.cert, &p.cert) == Some(true),
        "SM2 self-signature"
    );
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn certificate_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        read_certificate(&bytes);
    }

    #[test]
    fn certificate_mutated_p256(bytes in mutated(fixtures().leaf.clone())) {
        read_certificate(&bytes);
    }

    #[test]
    fn certificate_mutated_sm2(bytes in mutated(fixtures().sm2.clone())) {
        read_certificate(&bytes);
    }

    #[test]
    fn bundle_files(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_bundle(&bytes);
    }

    #[test]
    fn bundle_files_of_mutated_certificates(bytes in mutated(fixtures().ca.clone())) {
        read_bundle(&bytes);
    }

    #[test]
    fn seal_objects(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        read_seal(&bytes);
    }

    #[test]
    fn requests_parse_back_for_any_name_and_key(alg in key_alg(), point in point(),
                                                cn in prop_oneof![".{1,64}", ".{0,80}", "\\PC{1,64}"],
                                                r in prop::collection::vec(any::<u8>(), 0..33),
                                                s in prop::collection::vec(any::<u8>(), 0..33)) {
        check_request(alg, &point, &cn, ec_signature(&r, &s));
    }

    #[test]
    fn requests_with_any_token_signature(alg in key_alg(),
                                         signature in prop::collection::vec(any::<u8>(), 0..80)) {
        check_request(alg, &[4; 65], "张三", signature);
    }

    #[test]
    fn requests_with_mutated_token_signatures(alg in key_alg(),
                                              signature in mutated(ec_signature(&[0xA5; 32], &[0x5A; 32]))) {
        check_request(alg, &[4; 65], "张三", signature);
    }
}
