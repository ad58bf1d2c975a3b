//! SM2 and P-256 signatures made on the token, checked by independent verifiers: the
//! RustCrypto `sm2` crate and OpenSSL 3 (a certificate signed through the token must
//! pass `openssl verify`).

mod common;

use common::Token;
use cryptoki::mechanism::{vendor_defined::VendorDefinedMechanism, Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectHandle};
use cryptoki::session::Session;
use sm2::dsa::signature::Verifier;

const DISTID: &str = "1234567812345678";

fn vendor(v: u64) -> Mechanism<'static> {
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(
        MechanismType::new_vendor_defined(v).unwrap(),
        None,
    ))
}

/// TASS (slot 0) and Luna (slot 1) constants.
struct Profile {
    key_type: u64,
    keygen: u64,
    sign_raw: u64,
    sign_sm3: u64,
    digest_sm3: u64,
    der: bool,
}

const TASS: Profile = Profile {
    key_type: 0x8000_0004,
    keygen: 0x8000_8001,
    sign_raw: 0x8000_8000,
    sign_sm3: 0x8000_8100,
    digest_sm3: 0x8000_0005,
    der: false,
};
const LUNA: Profile = Profile {
    key_type: 0x8000_0016,
    keygen: 0x8000_0B20,
    sign_raw: 0x8000_0B21,
    sign_sm3: 0x8000_0B22,
    digest_sm3: 0x8000_0B01,
    der: true,
};

fn sm2_pair(s: &Session, p: &Profile) -> (ObjectHandle, [u8; 65]) {
    let (public, private) = s
        .generate_key_pair(
            &vendor(p.keygen),
            &[
                Attribute::Token(true),
                Attribute::Id(vec![7]),
                Attribute::KeyType(KeyType::new_vendor_defined(p.key_type).unwrap()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Id(vec![7]),
                Attribute::Sign(true),
            ],
        )
        .expect("SM2 key pair");
    (private, point(s, public))
}

fn p256_pair(s: &Session) -> (ObjectHandle, [u8; 65]) {
    let params = vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(params),
                Attribute::Id(vec![8]),
            ],
            &[
                Attribute::Token(true),
                Attribute::Id(vec![8]),
                Attribute::Sign(true),
            ],
        )
        .expect("P-256 key pair");
    (private, point(s, public))
}

/// The public point from CKA_EC_POINT (DER OCTET STRING of the 65-byte point).
fn point(s: &Session, public: ObjectHandle) -> [u8; 65] {
    let attrs = s.get_attributes(public, &[AttributeType::EcPoint]).unwrap();
    let Attribute::EcPoint(v) = &attrs[0] else {
        panic!("no EC point")
    };
    assert_eq!(&v[..2], &[0x04, 0x41], "DER OCTET STRING of 65 bytes");
    v[2..].try_into().unwrap()
}

/// Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), computed here independently.
fn sm2_e(public: &[u8; 65], msg: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    let a =
        hex::decode("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC").unwrap();
    let b =
        hex::decode("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93").unwrap();
    let gx =
        hex::decode("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7").unwrap();
    let gy =
        hex::decode("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0").unwrap();
    let mut h = sm3::Sm3::new();
    h.update(((DISTID.len() * 8) as u16).to_be_bytes());
    h.update(DISTID.as_bytes());
    for part in [&a[..], &b, &gx, &gy, &public[1..33], &public[33..]] {
        h.update(part);
    }
    let z = h.finalize();
    let mut h = sm3::Sm3::new();
    h.update(z);
    h.update(msg);
    h.finalize().into()
}

fn sm2_signature(sig: &[u8], der: bool) -> sm2::dsa::Signature {
    if der {
        sm2::dsa::Signature::from_der(sig).expect("DER SM2 signature")
    } else {
        assert_eq!(sig.len(), 64, "raw r||s");
        sm2::dsa::Signature::from_slice(sig).expect("raw SM2 signature")
    }
}

fn check_sm2_profile(slot_index: usize, p: &Profile) {
    let t = Token::open(Some(common::TWO_PROFILES));
    let slot = t.init(slot_index);
    let s = t.user_session(slot);
    let (key, public) = sm2_pair(&s, p);
    let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(DISTID, &public).unwrap();
    let msg = "电子签章 message".as_bytes();

    // The token computes Z and e.
    let sig = s.sign(&vendor(p.sign_sm3), key, msg).unwrap();
    vk.verify(msg, &sm2_signature(&sig, p.der))
        .expect("SM3withSM2 signature verifies with the sm2 crate");
    assert!(vk
        .verify(b"other message", &sm2_signature(&sig, p.der))
        .is_err());

    // The host computes e; the token signs it raw.
    let e = sm2_e(&public, msg);
    let sig = s.sign(&vendor(p.sign_raw), key, &e).unwrap();
    vk.verify(msg, &sm2_signature(&sig, p.der))
        .expect("raw SM2 signature over host e verifies");
    // The raw mechanism wants exactly 32 bytes.
    assert!(s.sign(&vendor(p.sign_raw), key, b"short").is_err());

    // SM3 on the token.
    let d = s.digest(&vendor(p.digest_sm3), b"abc").unwrap();
    assert_eq!(
        hex::encode(d),
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    );
}

#[test]
fn sm2_signatures_from_the_tass_profile_are_raw_and_verify_with_the_sm2_crate() {
    check_sm2_profile(0, &TASS);
}

#[test]
fn sm2_signatures_from_the_luna_profile_are_der_and_verify_with_the_sm2_crate() {
    check_sm2_profile(1, &LUNA);
}

#[test]
fn private_keys_are_sensitive_not_extractable_and_sealed_in_the_store() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let (key, _) = sm2_pair(&s, &TASS);
    let attrs = s
        .get_attributes(
            key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Value,
            ],
        )
        .unwrap();
    assert!(attrs.contains(&Attribute::Sensitive(true)));
    assert!(attrs.contains(&Attribute::Extractable(false)));
    assert!(attrs.contains(&Attribute::NeverExtractable(true)));
    assert!(
        !attrs.iter().any(|a| matches!(a, Attribute::Value(_))),
        "CKA_VALUE is withheld"
    );
    // On disk: sealed secret, no CKA_VALUE (0x11) on the private key.
    let file = std::fs::read_dir(t.dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("token-"))
        .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    let private = json["objects"]
        .as_object()
        .unwrap()
        .values()
        .find(|o| o["sealed_secret"].is_string())
        .expect("sealed private key");
    assert!(private["attrs"].get("17").is_none());
}

// ----- certificates through the token, checked by OpenSSL ---------------------------------

fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = body.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend([0x81, n as u8]);
    } else {
        v.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(body);
    v
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn name(cn: &str) -> Vec<u8> {
    let atv = seq(&[&tlv(0x06, &[0x55, 0x04, 0x03]), &tlv(0x0C, cn.as_bytes())]);
    seq(&[&tlv(0x31, &atv)])
}

/// A self-signed CA certificate whose signature comes from the token.
fn self_signed(
    cn: &str,
    curve_oid: &[u8],
    sig_oid: &[u8],
    public: &[u8; 65],
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let alg = seq(&[&tlv(0x06, sig_oid)]);
    let spki = seq(&[
        &seq(&[
            &tlv(0x06, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]),
            &tlv(0x06, curve_oid),
        ]),
        &tlv(0x03, &[&[0u8][..], public].concat()),
    ]);
    let basic = seq(&[
        &tlv(0x06, &[0x55, 0x1D, 0x13]),
        &tlv(0x01, &[0xFF]),
        &tlv(0x04, &seq(&[&tlv(0x01, &[0xFF])])),
    ]);
    let tbs = seq(&[
        &tlv(0xA0, &tlv(0x02, &[2])),
        &tlv(0x02, &[0x01, 0x23, 0x45]),
        &alg,
        &name(cn),
        &seq(&[&tlv(0x17, b"250101000000Z"), &tlv(0x17, b"491231235959Z")]),
        &name(cn),
        &spki,
        &tlv(0xA3, &seq(&[&basic])),
    ]);
    let sig = sign(&tbs);
    seq(&[&tbs, &alg, &tlv(0x03, &[&[0u8][..], &sig].concat())])
}

fn openssl_verify(cert_der: &[u8], extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let der = dir.path().join("c.der");
    let pem = dir.path().join("c.pem");
    std::fs::write(&der, cert_der).unwrap();
    let conv = std::process::Command::new("openssl")
        .args(["x509", "-inform", "DER", "-in"])
        .arg(&der)
        .arg("-out")
        .arg(&pem)
        .output()
        .expect("openssl");
    assert!(
        conv.status.success(),
        "openssl x509: {}",
        String::from_utf8_lossy(&conv.stderr)
    );
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .args(extra)
        .arg("-CAfile")
        .arg(&pem)
        .arg(&pem)
        .output()
        .expect("openssl verify");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn an_sm2_certificate_signed_through_the_token_verifies_with_openssl() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let (key, public) = sm2_pair(&s, &TASS);
    let sm3_with_sm2 = [0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75];
    let sm2_curve = [0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D];
    let cert = self_signed(
        "softkey SM2 测试",
        &sm2_curve,
        &sm3_with_sm2,
        &public,
        |tbs| {
            let raw = s.sign(&vendor(TASS.sign_sm3), key, tbs).unwrap();
            certkey_softkey::crypto::sig_raw_to_der(&raw).unwrap()
        },
    );
    let out = openssl_verify(&cert, &["-vfyopt", "distid:1234567812345678"]);
    assert!(out.contains(": OK"), "{out}");

    // A certificate with a flipped bit in the signed part must fail.
    let mut bad = cert.clone();
    let i = bad.len() / 3;
    bad[i] ^= 0x01;
    let out = openssl_verify(&bad, &["-vfyopt", "distid:1234567812345678"]);
    assert!(!out.contains(": OK"), "{out}");
}

#[test]
fn a_p256_certificate_signed_through_the_token_verifies_with_openssl() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let (key, public) = p256_pair(&s);
    let ecdsa_sha256 = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    let p256 = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let cert = self_signed("softkey P-256", &p256, &ecdsa_sha256, &public, |tbs| {
        let raw = s.sign(&Mechanism::EcdsaSha256, key, tbs).unwrap();
        assert_eq!(raw.len(), 64, "PKCS#11 ECDSA signatures are r||s");
        certkey_softkey::crypto::sig_raw_to_der(&raw).unwrap()
    });
    let out = openssl_verify(&cert, &[]);
    assert!(out.contains(": OK"), "{out}");

    // CKM_ECDSA over a host SHA-256 gives an equally valid signature.
    use sha2::Digest;
    let hash = sha2::Sha256::digest(b"hello");
    let sig = s.sign(&Mechanism::Ecdsa, key, &hash).unwrap();
    let public_handle = s
        .find_objects(&[
            Attribute::Class(cryptoki::object::ObjectClass::PUBLIC_KEY),
            Attribute::Id(vec![8]),
        ])
        .unwrap()[0];
    s.verify(&Mechanism::EcdsaSha256, public_handle, b"hello", &sig)
        .expect("C_Verify accepts it");
    assert!(s
        .verify(&Mechanism::EcdsaSha256, public_handle, b"hellO", &sig)
        .is_err());
}

#[test]
fn several_threads_sign_and_search_at_once() {
    let t = Token::open(None);
    let slot = t.init(0);
    let s = t.user_session(slot);
    let (key, public) = sm2_pair(&s, &TASS);
    let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(DISTID, &public).unwrap();
    std::thread::scope(|scope| {
        for i in 0..4u8 {
            let ctx = &t.ctx;
            let vk = &vk;
            scope.spawn(move || {
                // Each thread has its own session; the login is shared by the token.
                let s = ctx.open_ro_session(slot).unwrap();
                for j in 0..25u8 {
                    let msg = [i, j, 42];
                    let sig = s.sign(&vendor(TASS.sign_sm3), key, &msg).unwrap();
                    vk.verify(&msg, &sm2_signature(&sig, false)).unwrap();
                    assert_eq!(s.find_objects(&[Attribute::Id(vec![7])]).unwrap().len(), 2);
                }
            });
        }
    });
}
