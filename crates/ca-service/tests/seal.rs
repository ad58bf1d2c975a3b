//! `POST /seal` against a real service: a certificate issued for an OpenSSL key, the
//! request signed by OpenSSL with that key, the seal decoded and its maker's signature
//! and certificate checked by OpenSSL; one seal per certificate (409, also under
//! concurrent requests on PostgreSQL), retries answered with the same seal, and bad
//! pictures, names, signatures and certificates refused with stable codes.

mod common;

use std::io::Cursor;
use std::path::Path;

use certkey_protocol::wrap::ClientKey;
use certkey_seal::{CertList, Form, Seal, SealType};
use common::{b64, openssl, pem, post, unb64, Postgres, Service, DISTID};
use serde_json::{json, Value};

/// A certificate from the service for a key OpenSSL made in `dir` (`holder.key`).
fn certificate(svc: &Service, dir: &Path, sm2: bool, cert_type: &str) -> Vec<u8> {
    let serial = format!("SEAL{}", hex(&rand_bytes()));
    let alg = if sm2 { "sm2" } else { "p256" };
    let (s, order) = common::call(
        reqwest::Method::POST,
        &format!("{}/admin/orders", svc.base),
        Some(&json!({
            "token_serial": serial,
            "holder": "广东测试有限公司",
            "org": "广东测试有限公司",
            "cert_type": cert_type,
            "years": 1,
            "key_algorithm": alg,
            "handler": {"name": "李四", "id_number": "110101199001011234", "phone": "13800000000"},
            "so_pin": "SoPin123456",
            "initial_pin": "13572468",
        })),
        Some(svc.admin.as_str()),
    );
    assert_eq!(s, 200, "{order}");
    let client = ClientKey::generate().unwrap();
    let (s, a) = post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": serial, "activation_code": order["activation_code"], "client_key": b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{a}");
    if sm2 {
        assert!(openssl(dir, &["genpkey", "-algorithm", "SM2", "-out", "holder.key"]).0);
    } else {
        assert!(
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "holder.key"
                ]
            )
            .0
        );
    }
    let mut args = vec!["req", "-new", "-key", "holder.key", "-subj", "/CN=x"];
    if sm2 {
        args.extend(["-sm3", "-sigopt", DISTID]);
    }
    args.extend(["-outform", "DER", "-out", "holder.csr"]);
    let (ok, out) = openssl(dir, &args);
    assert!(ok, "{out}");
    let csr = std::fs::read(dir.join("holder.csr")).unwrap();
    let (s, issued) = post(
        &format!(
            "{}/activation/{}/certificate",
            svc.base,
            a["activation_id"].as_str().unwrap()
        ),
        &json!({"csr": b64(&csr)}),
    );
    assert_eq!(s, 200, "{issued}");
    unb64(&issued["certificate"])
}

fn rand_bytes() -> [u8; 6] {
    let mut b = [0u8; 6];
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    for (i, x) in b.iter_mut().enumerate() {
        *x = (t >> (i * 8)) as u8 ^ (std::process::id() as u8);
    }
    b
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// A red ring on white paper, as a scanner would give it.
fn ring_png(size: u32, thickness: f32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(size, size, |x, y| {
        let c = size as f32 / 2.0;
        let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
        let r = size as f32 * 0.4;
        if (d - r).abs() < thickness || d < r * 0.3 {
            image::Rgb([200, 20, 30])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The holder's signature over the request, made by OpenSSL.
fn sign(dir: &Path, sm2: bool, w: u32, h: u32, name: &str, image: &[u8]) -> Vec<u8> {
    let msg = certkey_protocol::v1::seal_signed_message(w, h, name, image);
    std::fs::write(dir.join("msg"), msg).unwrap();
    let mut args = vec!["dgst"];
    if sm2 {
        args.extend(["-sm3", "-sigopt", DISTID]);
    } else {
        args.push("-sha256");
    }
    args.extend(["-sign", "holder.key", "-out", "sig", "msg"]);
    let (ok, out) = openssl(dir, &args);
    assert!(ok, "{out}");
    std::fs::read(dir.join("sig")).unwrap()
}

fn request(cert: &[u8], image: &[u8], w: u32, h: u32, name: &str, sig: &[u8]) -> Value {
    json!({
        "certificate": b64(cert),
        "image": b64(image),
        "width_mm": w,
        "height_mm": h,
        "name": name,
        "signature": b64(sig),
    })
}

/// Checks a seal with OpenSSL: its maker certificate chains to the issuing CA of
/// /cacerts and its signature verifies over the signed bytes.
fn check_with_openssl(svc: &Service, dir: &Path, seal: &Seal, sm2: bool) {
    let (_, cacerts) = common::call(
        reqwest::Method::GET,
        &format!("{}/cacerts", svc.base),
        None,
        None,
    );
    let chains = cacerts["chains"].as_array().unwrap();
    let chain = chains
        .iter()
        .find(|c| c["key_algorithm"] == if sm2 { "sm2" } else { "p256" })
        .unwrap();
    let issuing = unb64(&chain["certificates"][0]);
    std::fs::write(dir.join("issuing.pem"), pem(&issuing)).unwrap();
    std::fs::write(dir.join("maker.pem"), pem(&seal.maker_cert)).unwrap();
    let mut args = vec!["verify"];
    if sm2 {
        args.extend(["-vfyopt", DISTID]);
    }
    args.extend(["-partial_chain", "-CAfile", "issuing.pem", "maker.pem"]);
    let (ok, out) = openssl(dir, &args);
    assert!(ok && out.contains("maker.pem: OK"), "{out}");

    let (ok, out) = openssl(
        dir,
        &[
            "x509",
            "-in",
            "maker.pem",
            "-noout",
            "-pubkey",
            "-out",
            "maker.pub",
        ],
    );
    assert!(ok, "{out}");
    std::fs::write(dir.join("tbs"), seal.signed_bytes().unwrap()).unwrap();
    std::fs::write(dir.join("seal.sig"), &seal.signed_value).unwrap();
    let mut args = vec!["dgst"];
    if sm2 {
        args.extend(["-sm3", "-sigopt", DISTID]);
    } else {
        args.push("-sha256");
    }
    args.extend(["-verify", "maker.pub", "-signature", "seal.sig", "tbs"]);
    let (ok, out) = openssl(dir, &args);
    assert!(ok && out.contains("Verified OK"), "{out}");
    // And the DER is a well-formed structure for OpenSSL's parser too.
    std::fs::write(dir.join("seal.der"), seal.encode().unwrap()).unwrap();
    let (ok, out) = openssl(dir, &["asn1parse", "-inform", "DER", "-in", "seal.der"]);
    assert!(ok && out.contains(":ES"), "{out}");
}

fn seal_flow(svc: &Service, sm2: bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = certificate(svc, d, sm2, "organisation");
    let url = format!("{}/seal", svc.base);
    let image = ring_png(600, 18.0);
    let name = "广东测试有限公司";
    let sig = sign(d, sm2, 42, 42, name, &image);
    let (s, r) = post(&url, &request(&cert, &image, 42, 42, name, &sig));
    assert_eq!(s, 200, "{r}");
    let der = unb64(&r["seal"]);
    let seal = Seal::decode(&der).unwrap();
    assert_eq!(seal.form, Form::V4);
    assert_eq!(seal.info.version, 4);
    assert_eq!(seal.info.vid, "CertKey");
    assert_eq!(seal.info.name, name);
    assert_eq!(seal.info.seal_type, SealType::Organisation);
    assert_eq!(seal.info.certs, CertList::Certs(vec![cert.clone()]));
    assert_eq!(seal.info.picture.kind, "PNG");
    assert_eq!(
        (seal.info.picture.width_mm, seal.info.picture.height_mm),
        (42, 42)
    );
    assert_eq!(
        seal.sign_alg,
        if sm2 {
            certkey_seal::OID_SM3_WITH_SM2
        } else {
            certkey_seal::OID_ECDSA_WITH_SHA256
        }
    );
    // The picture was normalised: a PNG with a transparent background.
    let pic = image::load_from_memory(&seal.info.picture.data)
        .unwrap()
        .to_rgba8();
    assert!(pic.width() <= 600 && pic.height() <= 600);
    assert_eq!(pic.get_pixel(0, 0)[3], 0, "corner is transparent");
    assert!(seal.info.picture.data.len() <= 48 * 1024);
    check_with_openssl(svc, d, &seal, sm2);

    // The same request again (a lost answer) gets the same seal back.
    let (s, again) = post(&url, &request(&cert, &image, 42, 42, name, &sig));
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["seal"], r["seal"]);
    // Any other seal for this certificate is refused.
    let other = ring_png(400, 10.0);
    let sig2 = sign(d, sm2, 42, 42, name, &other);
    let (s, e) = post(&url, &request(&cert, &other, 42, 42, name, &sig2));
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["code"], "seal_exists");
    // The holder (the request is signed by the certificate's key) gets the one seal
    // back, to put on a key that lost it.
    assert_eq!(e["error"]["seal"], r["seal"]);
}

#[test]
fn p256_and_sm2_seals_are_made_once_per_certificate_on_sqlite() {
    let svc = Service::start(None);
    seal_flow(&svc, false);
    seal_flow(&svc, true);
}

#[test]
fn concurrent_seal_requests_for_one_certificate_make_one_seal_on_postgresql() {
    let pg = Postgres::start();
    let url = pg.url();
    let svc = Service::start(Some(&url));
    seal_flow(&svc, false);

    // Eight different pictures for one fresh certificate at once: one wins.
    let dir = tempfile::tempdir().unwrap();
    let cert = certificate(&svc, dir.path(), false, "person");
    let reqs: Vec<Value> = (0..8)
        .map(|i| {
            let image = ring_png(300 + i * 10, 8.0);
            let sig = sign(dir.path(), false, 20, 20, "张三", &image);
            request(&cert, &image, 20, 20, "张三", &sig)
        })
        .collect();
    let url = format!("{}/seal", svc.base);
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = reqs
            .iter()
            .map(|r| {
                let url = url.clone();
                s.spawn(move || post(&url, r))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    assert!(results
        .iter()
        .all(|(s, e)| *s == 200 || (*s == 409 && e["error"]["code"] == "seal_exists")));
    let seal = Seal::decode(&unb64(&ok[0].1["seal"])).unwrap();
    assert_eq!(seal.info.seal_type, SealType::Personal);
}

#[test]
fn bad_seal_requests_get_4xx_with_stable_codes() {
    let svc = Service::start(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = certificate(&svc, d, false, "person");
    let url = format!("{}/seal", svc.base);
    let image = ring_png(300, 8.0);
    let good = sign(d, false, 20, 20, "张三", &image);
    let expect = |body: Value, status: u16, code: &str| {
        let (s, e) = post(&url, &body);
        assert_eq!(s, status, "{code}: {e}");
        assert_eq!(e["error"]["code"], code, "{e}");
    };

    // Signature over something else, or by another key.
    expect(
        request(&cert, &image, 20, 21, "张三", &good),
        400,
        "signature_invalid",
    );
    expect(
        request(
            &cert,
            &image,
            20,
            20,
            "张三",
            b"\x30\x06\x02\x01\x01\x02\x01\x01",
        ),
        400,
        "signature_invalid",
    );
    // Certificates this CA did not issue, or not certificates at all.
    let other = tempfile::tempdir().unwrap();
    let (ok, out) = openssl(
        other.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=stranger",
            "-outform",
            "DER",
            "-out",
            "c.der",
        ],
    );
    assert!(ok, "{out}");
    let stranger = std::fs::read(other.path().join("c.der")).unwrap();
    expect(
        request(&stranger, &image, 20, 20, "张三", &good),
        404,
        "certificate_not_found",
    );
    expect(
        request(b"garbage", &image, 20, 20, "张三", &good),
        400,
        "certificate_invalid",
    );
    // Names, sizes, pictures: each checked, each signed correctly so that only the
    // checked field is wrong.
    let signed = |w: u32, h: u32, name: &str, img: &[u8]| {
        let sig = sign(d, false, w, h, name, img);
        request(&cert, img, w, h, name, &sig)
    };
    expect(signed(20, 20, "", &image), 400, "invalid_seal_name");
    expect(signed(20, 20, "a\u{7}b", &image), 400, "invalid_seal_name");
    expect(signed(5, 20, "张三", &image), 400, "seal_size");
    expect(signed(20, 20, "张三", b"GIF89a....."), 400, "image_format");
    let mut truncated = image.clone();
    truncated.truncate(image.len() / 2);
    expect(signed(20, 20, "张三", &truncated), 400, "image_corrupt");
    let white = {
        let img = image::RgbImage::from_pixel(200, 200, image::Rgb([255, 255, 255]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    expect(signed(20, 20, "张三", &white), 400, "image_empty");
    // A decompression bomb: a tiny PNG whose header claims 60000 x 60000 pixels.
    let mut bomb = ring_png(16, 2.0);
    bomb[16..20].copy_from_slice(&60000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    expect(signed(20, 20, "张三", &bomb), 400, "image_dimensions");
    // An upload over the body limit.
    let huge = vec![0u8; 2 << 20];
    let (s, e) = post(&url, &request(&cert, &huge, 20, 20, "张三", &good));
    assert_eq!(s, 413, "{e}");
    assert_eq!(e["error"]["code"], "payload_too_large");
    // Malformed JSON.
    let (s, e) = post(&url, &json!({"certificate": 1}));
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error"]["code"], "invalid_body");

    // A revoked certificate gets no seal. (Nothing above made one.)
    let serial = certkey_serial(&cert);
    let (s, e) = common::call(
        reqwest::Method::POST,
        &format!("{}/admin/certificates/{serial}/revoke", svc.base),
        Some(&json!({})),
        Some(svc.admin.as_str()),
    );
    assert_eq!(s, 200, "{e}");
    expect(
        request(&cert, &image, 20, 20, "张三", &good),
        403,
        "certificate_revoked",
    );
}

/// The certificate serial as lowercase hex, read by OpenSSL.
fn certkey_serial(cert: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.pem"), pem(cert)).unwrap();
    let (ok, out) = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-serial"]);
    assert!(ok, "{out}");
    out.trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

/// CRC-32 (IEEE), as PNG chunks use it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
