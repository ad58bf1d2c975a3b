//! `certkey seal write` and `certkey seal show` end to end: keys activated against a
//! real certkey-ca (SQLite) on softkey (SM2 and P-256), the seal made by the service
//! and written onto the key, then checked by independent peers — pkcs11-tool reads
//! the object back, OpenSSL verifies the seal maker's certificate and signature — and
//! the one-seal-per-certificate rule enforced by the key and by the service. The key
//! is also pulled out at every step of a seal write (`certkey-softkey fail-after N`)
//! and a rerun must leave exactly one good seal.

mod flows;

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Output};

use flows::*;
use serde_json::Value;

const APPLICATION: &str = "GB/T 38540 SESeal";

/// A red ring (with a dot) on white paper, as a scanner would give it.
fn ring(size: u32, thickness: f32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(size, size, |x, y| {
        let c = size as f32 / 2.0;
        let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
        let r = size as f32 * 0.4;
        if (d - r).abs() < thickness || d < r * 0.2 {
            image::Rgb([200, 20, 30])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A 1x1 GIF.
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// An activated softkey key: its store, the environment naming it, the activation.
struct Key {
    store: tempfile::TempDir,
    env_store: String,
    done: Value,
}

impl Key {
    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("CERTKEY_SOFTKEY_DIR", self.env_store.as_str()),
            ("CERTKEY_PIN", NEW_PIN),
        ]
    }

    fn base(&self) -> [(&str, &str); 1] {
        [("CERTKEY_SOFTKEY_DIR", self.env_store.as_str())]
    }
}

/// Produces a key for `alg` in a fresh store (with `extra` softkey slot settings)
/// and activates it with `certkey activate`.
fn activated(ca: &Ca, serial: &str, alg: &str, extra: &str) -> Key {
    activated_with(ca, serial, alg, extra, &[])
}

/// [`activated`] with `certkey-ca produce` arguments (e.g. `--days 30`).
fn activated_with(ca: &Ca, serial: &str, alg: &str, extra: &str, produce: &[&str]) -> Key {
    let store = tempfile::tempdir().unwrap();
    std::fs::write(
        store.path().join("softkey.toml"),
        format!("[[slot]]\nserial = \"{serial}\"\nprofile = \"tass\"\n{extra}"),
    )
    .unwrap();
    let (_, code) = ca.produce_with(store.path(), alg, produce);
    let env_store = store.path().to_str().unwrap().to_string();
    let module = sibling("libcertkey_softkey.so");
    let env = [
        ("CERTKEY_SOFTKEY_DIR", env_store.as_str()),
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, ca, &["--json", "activate", "--yes"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    Key {
        store,
        env_store,
        done,
    }
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// The DER of each seal object on the key, read by pkcs11-tool.
fn seal_objects(module: &Path, key: &Key) -> Vec<Vec<u8>> {
    let out = pkcs11_tool(module, &["--list-objects", "--type", "data"], &key.base());
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let count = listing
        .matches(&format!("application:    '{APPLICATION}'"))
        .count();
    if count == 0 {
        assert!(!listing.contains(APPLICATION), "{listing}");
        return Vec::new();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seal.der");
    let out = pkcs11_tool(
        module,
        &[
            "--read-object",
            "--type",
            "data",
            "--application-label",
            APPLICATION,
            "-o",
            file.to_str().unwrap(),
        ],
        &key.base(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let one = std::fs::read(&file).unwrap();
    // pkcs11-tool reads the first match only; the count comes from the listing.
    vec![one; count]
}

fn delete_seal(module: &Path, key: &Key) {
    let out = pkcs11_tool(
        module,
        &[
            "--login",
            "--pin",
            NEW_PIN,
            "--delete-object",
            "--type",
            "data",
            "--application-label",
            APPLICATION,
        ],
        &key.base(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(seal_objects(module, key).is_empty());
}

/// One DER TLV at the start of `b`: (tag, header length, content length).
fn tlv(b: &[u8]) -> (u8, usize, usize) {
    let first = b[1];
    if first < 0x80 {
        return (b[0], 2, usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    let len = b[2..2 + n]
        .iter()
        .fold(0usize, |acc, x| (acc << 8) | usize::from(*x));
    (b[0], 2 + n, len)
}

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// Splits a GB/T 38540-2020 SESeal by hand (no CertKey code): the bytes the maker
/// signed, the signature (DER) and the maker's certificate.
fn split_seal(der: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (tag, hdr, len) = tlv(der);
    assert_eq!(tag, 0x30);
    assert_eq!(hdr + len, der.len());
    let mut rest = &der[hdr..];
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let (t, h, l) = tlv(rest);
        fields.push((t, &rest[..h + l], &rest[h..h + l]));
        rest = &rest[h + l..];
    }
    assert_eq!(
        fields.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![0x30, 0x04, 0x06, 0x03],
        "SESeal of 2020: eSealInfo, cert, signAlgID, signedValue"
    );
    let body: Vec<u8> = fields[..3].iter().flat_map(|f| f.1.to_vec()).collect();
    let mut tbs = vec![0x30];
    tbs.extend(der_len(body.len()));
    tbs.extend(body);
    let signature = fields[3].2[1..].to_vec();
    (tbs, signature, fields[1].2.to_vec())
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

/// OpenSSL checks the seal: the maker certificate chains to the CA's issuing
/// certificate and its key verifies the signature over the signed bytes; the seal
/// lists the holder's certificate as pkcs11-tool reads it from the key.
fn check_seal_with_peers(ca: &Ca, module: &Path, key: &Key, der: &[u8], alg: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (tbs, sig, maker) = split_seal(der);
    std::fs::write(d.join("tbs"), tbs).unwrap();
    std::fs::write(d.join("sig"), sig).unwrap();
    std::fs::write(d.join("maker.pem"), pem(&maker)).unwrap();
    std::fs::write(d.join("issuing.pem"), pem(&ca.issuing(alg))).unwrap();
    let sm2 = alg == "sm2";
    let mut args = vec!["verify"];
    if sm2 {
        args.extend(["-vfyopt", DISTID]);
    }
    args.extend(["-partial_chain", "-CAfile", "issuing.pem", "maker.pem"]);
    let (ok, out) = openssl(d, &args);
    assert!(ok && out.contains("maker.pem: OK"), "{out}");
    let (ok, out) = openssl(
        d,
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
    let mut args = vec!["dgst"];
    if sm2 {
        args.extend(["-sm3", "-sigopt", DISTID]);
    } else {
        args.push("-sha256");
    }
    args.extend(["-verify", "maker.pub", "-signature", "sig", "tbs"]);
    let (ok, out) = openssl(d, &args);
    assert!(ok && out.contains("Verified OK"), "{out}");
    let (ok, out) = openssl(d, &["asn1parse", "-inform", "DER", "-in", "tbs"]);
    assert!(ok && out.contains(":ES"), "{out}");

    let cert = d.join("holder.der");
    let out = pkcs11_tool(
        module,
        &[
            "--read-object",
            "--type",
            "cert",
            "--id",
            key.done["key_id"].as_str().unwrap(),
            "-o",
            cert.to_str().unwrap(),
        ],
        &key.base(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let holder = std::fs::read(&cert).unwrap();
    assert!(
        der.windows(holder.len()).any(|w| w == holder.as_slice()),
        "the seal lists the holder's certificate"
    );
}

/// `seal show --json --export`: one seal, signature valid, bound; the exported picture
/// is a PNG with transparent corners and red ink.
fn check_show(module: &Path, ca: &Ca, key: &Key) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("out.png");
    let out = certkey(
        module,
        ca,
        &["--json", "seal", "show", "--export", png.to_str().unwrap()],
        &key.base(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let v = json_of(&out);
    let seals = v["seals"].as_array().unwrap();
    assert_eq!(seals.len(), 1, "{v}");
    let s = &seals[0];
    assert_eq!(s["signature_valid"], true, "{v}");
    assert_eq!(s["bound_to_certificate"], true, "{v}");
    assert_eq!(s["certificate_id"], key.done["key_id"], "{v}");
    assert_eq!(s["maker_trusted"], true, "{v}");
    assert_eq!(v["ca_list"]["source"], "service", "{v}");
    assert_eq!(s["form"], "GB/T 38540-2020", "{v}");
    assert_eq!(s["picture_kind"], "PNG", "{v}");
    assert_eq!(s["valid_now"], true, "{v}");
    assert!(s.get("picture").is_none(), "picture bytes stay out of JSON");
    let img = image::open(&png).unwrap().to_rgba8();
    let (w, h) = img.dimensions();
    assert_eq!(
        (
            s["picture_width_px"].as_u64(),
            s["picture_height_px"].as_u64()
        ),
        (Some(u64::from(w)), Some(u64::from(h)))
    );
    for (x, y) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
        assert_eq!(
            img.get_pixel(x, y)[3],
            0,
            "corner ({x}, {y}) is transparent"
        );
    }
    let centre = img.get_pixel(w / 2, h / 2);
    assert!(
        centre[3] > 200 && centre[0] > 150 && centre[1] < 100,
        "{centre:?}"
    );
    s.clone()
}

fn seal_flow(alg: &str) {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let key = activated(&ca, &format!("SKSEAL{}", alg.to_uppercase()), alg, "");
    let dir = tempfile::tempdir().unwrap();
    let ring_png = dir.path().join("ring.png");
    std::fs::write(&ring_png, ring(400, 10.0, image::ImageFormat::Png)).unwrap();
    let ring_path = ring_png.to_str().unwrap();

    // Without the PIN and without a terminal, nothing happens.
    let out = certkey(
        &module,
        &ca,
        &["seal", "write", "--image", ring_path],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(seal_objects(&module, &key).is_empty());

    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", ring_path],
        &key.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let written = json_of(&out);
    assert_eq!(written["name"], "张三", "{written}");
    assert_eq!(written["seal_type"], "personal", "{written}");
    assert_eq!(
        (written["width_mm"].as_u64(), written["height_mm"].as_u64()),
        (Some(20), Some(20))
    );
    assert_eq!(written["certificate_id"], key.done["key_id"]);

    let out = pkcs11_tool(&module, &["--list-objects", "--type", "data"], &key.base());
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listing.contains(&format!("application:    '{APPLICATION}'")),
        "{listing}"
    );
    let objects = seal_objects(&module, &key);
    assert_eq!(objects.len(), 1);
    let first = objects[0].clone();
    assert_eq!(written["seal_bytes"].as_u64(), Some(first.len() as u64));
    check_seal_with_peers(&ca, &module, &key, &first, alg);
    let shown = check_show(&module, &ca, &key);
    assert_eq!(shown["es_id"], written["es_id"]);
    assert_eq!(shown["name"], "张三");

    // The text forms, both languages.
    let out = certkey(&module, &ca, &["seal", "show"], &key.base());
    assert!(out.status.success(), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("张三") && t.contains("signature    valid") && t.contains("maker trusted yes"),
        "{t}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", "zh-CN", "--no-auto-modules", "--module"])
        .arg(&module)
        .args(["--service", &ca.url, "seal", "show"])
        .env("CERTKEY_STATE_DIR", ca.data.path().join("client-state"))
        .envs(key.base())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("制章签名    有效")
            && t.contains("制章者可信  是")
            && t.contains("个人印章")
            && t.contains("CA 证书列表：来自 CA 服务"),
        "{t}"
    );

    // A second seal: refused by the key's own check, before any PIN or service.
    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", ring_path],
        &key.env(),
    );
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let e = json_of(&out);
    assert_eq!(e["error"]["detail"]["reason"], "seal_exists", "{e}");

    // With the object gone from the key (a run cut short after the CA made the seal),
    // a different picture does not make a second seal: the CA answers 409 seal_exists
    // with the seal it made, and that one is written back.
    delete_seal(&module, &key);
    assert!(seal_objects(&module, &key).is_empty());
    let other = dir.path().join("other.png");
    std::fs::write(&other, ring(400, 25.0, image::ImageFormat::Png)).unwrap();
    let out = certkey(
        &module,
        &ca,
        &[
            "--json",
            "seal",
            "write",
            "--image",
            other.to_str().unwrap(),
        ],
        &key.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already made this certificate's seal"),
        "{}",
        text(&out)
    );
    assert_eq!(json_of(&out)["es_id"], written["es_id"]);
    assert_eq!(
        seal_objects(&module, &key),
        vec![first.clone()],
        "the one seal, again"
    );
    // The same picture again gets the same seal too.
    delete_seal(&module, &key);
    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", ring_path],
        &key.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(json_of(&out)["es_id"], written["es_id"]);
    let objects = seal_objects(&module, &key);
    assert_eq!(objects, vec![first], "the service's seal is the same seal");
    check_show(&module, &ca, &key);
}

#[test]
fn seal_write_and_show_on_softkey_sm2() {
    seal_flow("sm2");
}

#[test]
fn seal_write_and_show_on_softkey_p256() {
    seal_flow("p256");
}

#[test]
fn jpeg_and_bmp_pictures_make_seals_and_others_are_refused() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let dir = tempfile::tempdir().unwrap();
    let key = activated(&ca, "SKSEALJPG", "sm2", "");

    // Refused before the PIN is asked or the service is called: a GIF, a missing
    // file, a size out of range, an empty picture, a file above 4 MiB.
    let gif = dir.path().join("seal.gif");
    std::fs::write(&gif, GIF).unwrap();
    let out = certkey(
        &module,
        &ca,
        &["seal", "write", "--image", gif.to_str().unwrap()],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("image_format") && err.contains("PNG, JPEG or BMP"),
        "{err}"
    );
    let missing = dir.path().join("missing.png");
    let out = certkey(
        &module,
        &ca,
        &["seal", "write", "--image", missing.to_str().unwrap()],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.png"),
        "{}",
        text(&out)
    );
    let jpg = dir.path().join("ring.jpg");
    std::fs::write(&jpg, ring(300, 8.0, image::ImageFormat::Jpeg)).unwrap();
    let out = certkey(
        &module,
        &ca,
        &[
            "seal",
            "write",
            "--image",
            jpg.to_str().unwrap(),
            "--width-mm",
            "5",
        ],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("seal_size"),
        "{}",
        text(&out)
    );
    let blank = dir.path().join("blank.png");
    let white = image::RgbImage::from_pixel(50, 50, image::Rgb([255, 255, 255]));
    white.save(&blank).unwrap();
    let out = certkey(
        &module,
        &ca,
        &["seal", "write", "--image", blank.to_str().unwrap()],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("image_empty"),
        "{}",
        text(&out)
    );
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, vec![0u8; 4 * 1024 * 1024 + 1]).unwrap();
    let out = certkey(
        &module,
        &ca,
        &["seal", "write", "--image", huge.to_str().unwrap()],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("image_too_large"),
        "{}",
        text(&out)
    );
    // No seal on the key yet: `seal show` says so.
    let out = certkey(&module, &ca, &["seal", "show"], &key.base());
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));

    // JPEG, with a name and an oblong size of the holder's choice.
    let out = certkey(
        &module,
        &ca,
        &[
            "--json",
            "seal",
            "write",
            "--image",
            jpg.to_str().unwrap(),
            "--name",
            "张三之印",
            "--width-mm",
            "24",
            "--height-mm",
            "18",
        ],
        &key.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let objects = seal_objects(&module, &key);
    assert_eq!(objects.len(), 1);
    check_seal_with_peers(&ca, &module, &key, &objects[0], "sm2");
    let shown = check_show(&module, &ca, &key);
    assert_eq!(shown["name"], "张三之印");
    assert_eq!(
        (shown["width_mm"].as_u64(), shown["height_mm"].as_u64()),
        (Some(24), Some(18))
    );

    // BMP, on a P-256 key.
    let key = activated(&ca, "SKSEALBMP", "p256", "");
    let bmp = dir.path().join("ring.bmp");
    std::fs::write(&bmp, ring(300, 8.0, image::ImageFormat::Bmp)).unwrap();
    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", bmp.to_str().unwrap()],
        &key.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let objects = seal_objects(&module, &key);
    assert_eq!(objects.len(), 1);
    check_seal_with_peers(&ca, &module, &key, &objects[0], "p256");
    check_show(&module, &ca, &key);
}

/// A key whose memory cannot take the seal: refused before the PIN or the service,
/// nothing written.
#[test]
fn a_full_key_is_told_before_anything_is_made() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let key = activated(&ca, "SKSEALFULL", "sm2", "memory = 6144\n");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("ring.png");
    std::fs::write(&png, ring(400, 10.0, image::ImageFormat::Png)).unwrap();
    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", png.to_str().unwrap()],
        &key.base(),
    );
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let e = json_of(&out);
    assert_eq!(e["error"]["detail"]["reason"], "token_memory_full", "{e}");
    assert!(seal_objects(&module, &key).is_empty());
}

/// The key is pulled out after N PKCS#11 operations, for every N across a seal
/// write, and put back; a rerun must leave exactly one seal that checks out. When
/// the cut came after the seal was written, the rerun says `seal_exists`.
#[test]
fn a_seal_write_cut_short_at_any_step_is_finished_by_a_rerun() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let key = activated(&ca, "SKSEALCUT", "sm2", "");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("ring.png");
    std::fs::write(&png, ring(400, 10.0, image::ImageFormat::Png)).unwrap();
    let args = ["--json", "seal", "write", "--image", png.to_str().unwrap()];
    let s = key.env_store.clone();
    let mut first_seal: Option<Vec<u8>> = None;
    // How many cuts left no seal (rerun writes it) and how many came after the write.
    let (mut before, mut after) = (0, 0);
    let mut n = 0;
    loop {
        if !seal_objects(&module, &key).is_empty() {
            delete_seal(&module, &key);
        }
        let first = cut_after(&s, n, || certkey(&module, &ca, &args, &key.env()));
        let objects = seal_objects(&module, &key);
        if first.status.success() {
            eprintln!(
                "a seal write takes {n} operations: {before} cuts before the write, {after} after"
            );
            assert_eq!(objects.len(), 1);
            check_show(&module, &ca, &key);
            assert!(
                before > 5 && after > 0,
                "{before} cuts before the write, {after} after"
            );
            break;
        }
        let again = certkey(&module, &ca, &args, &key.env());
        match objects.len() {
            0 => {
                before += 1;
                assert!(
                    again.status.success(),
                    "cut after {n} operations, the rerun failed:\nfirst run: {}\nrerun: {}",
                    text(&first),
                    text(&again)
                );
            }
            1 => {
                after += 1;
                assert_eq!(again.status.code(), Some(8), "{}", text(&again));
                assert_eq!(json_of(&again)["error"]["detail"]["reason"], "seal_exists");
            }
            k => panic!("cut after {n} operations: {k} seal objects"),
        }
        let objects = seal_objects(&module, &key);
        assert_eq!(objects.len(), 1, "cut after {n} operations");
        // Every run gets the one seal the service made for this certificate.
        match &first_seal {
            Some(s) => assert_eq!(&objects[0], s, "cut after {n} operations"),
            None => first_seal = Some(objects[0].clone()),
        }
        check_show(&module, &ca, &key);
        n += 1;
        assert!(n < 300, "a seal write never completed without a cut");
    }
    drop(key.store);
}

/// SoftHSM2 refuses CKA_ID on data objects: the seal's id goes into CKA_OBJECT_ID,
/// and `seal show` and the one-seal check still find it by the certificate's id.
#[test]
fn seal_on_softhsm2_p256() {
    let ca = Ca::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let env = [("SOFTHSM2_CONF", conf.as_str())];
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "holder"])
        .args(["--pin", "13572468", "--so-pin", "SoPin12345"])
        .envs(env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let module = Path::new(SOFTHSM);
    let out = pkcs11_tool(module, &["--list-token-slots"], &env);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let serial = listing
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("serial num")
                .map(|s| s.trim_start_matches([' ', ':']).trim().to_string())
        })
        .unwrap_or_else(|| panic!("{listing}"));
    let order = serde_json::json!({
        "token_serial": serial,
        "holder": "广东测试有限公司",
        "org": "广东测试有限公司",
        "cert_type": "organisation",
        "years": 1,
        "key_algorithm": "p256",
        "handler": {"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"},
        "so_pin": "SoPin12345",
        "initial_pin": "13572468",
    });
    let order = admin_post(&ca, "/admin/orders", &order);
    let code = order["activation_code"].as_str().unwrap();
    let run_env = [
        env[0],
        ("CERTKEY_ACTIVATION_CODE", code),
        ("CERTKEY_NEW_PIN", NEW_PIN),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    let out = certkey(
        module,
        &ca,
        &["--json", "activate", "--yes", "--token", &serial],
        &run_env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();

    let png = dir.path().join("ring.png");
    std::fs::write(&png, ring(600, 14.0, image::ImageFormat::Png)).unwrap();
    let args = [
        "--json",
        "seal",
        "write",
        "--token",
        &serial,
        "--image",
        png.to_str().unwrap(),
    ];
    let out = certkey(module, &ca, &args, &run_env);
    assert!(out.status.success(), "{}", text(&out));
    let written = json_of(&out);
    // An organisation certificate: the round official seal, in the unit's name.
    assert_eq!(written["name"], "广东测试有限公司", "{written}");
    assert_eq!(written["seal_type"], "organisation", "{written}");
    assert_eq!(written["width_mm"], 42, "{written}");

    let out = certkey(
        module,
        &ca,
        &["--json", "seal", "show", "--token", &serial],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v = json_of(&out);
    let s = &v["seals"][0];
    assert_eq!(s["certificate_id"], done["key_id"], "{v}");
    assert_eq!(s["signature_valid"], true, "{v}");
    assert_eq!(s["bound_to_certificate"], true, "{v}");
    assert_eq!(s["width_mm"], 42, "{v}");
    let out = certkey(module, &ca, &args, &run_env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert_eq!(json_of(&out)["error"]["detail"]["reason"], "seal_exists");
}

/// `seal show` for a renewed key: exactly one seal, valid, bound to the new certificate
/// (its id and serial), with the name and size of the seal written before.
fn check_carried(module: &Path, ca: &Ca, key: &Key, renewed: &Value, name: &str) {
    assert_eq!(
        seal_objects(module, key).len(),
        1,
        "exactly one seal object"
    );
    let out = certkey(module, ca, &["--json", "seal", "show"], &key.base());
    assert!(out.status.success(), "{}", text(&out));
    let v = json_of(&out);
    let seals = v["seals"].as_array().unwrap();
    assert_eq!(seals.len(), 1, "{v}");
    let s = &seals[0];
    assert_eq!(s["signature_valid"], true, "{v}");
    assert_eq!(s["bound_to_certificate"], true, "{v}");
    assert_eq!(s["certificate_id"], renewed["key_id"], "{v}");
    assert_ne!(s["certificate_id"], key.done["key_id"], "{v}");
    assert_eq!(s["name"], name, "{v}");
    assert_eq!(
        (s["width_mm"].as_u64(), s["height_mm"].as_u64()),
        (Some(20), Some(20))
    );
    assert_eq!(s["valid_now"], true, "{v}");
    // The seal lists the new certificate (the one with the renewed serial).
    let listed = certkey(module, ca, &["--json", "list"], &key.base());
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listing.contains(renewed["new_serial"].as_str().unwrap()),
        "{listing}"
    );
}

/// Renewal keeps the seal: activate, write the seal, renew, and `seal show` reports
/// one valid seal bound to the new certificate. Then the same with the key pulled
/// out after N operations of the renewal, for every N: the key never holds no seal or
/// two once a rerun is done, and the seal always ends up on the new certificate.
#[test]
fn the_seal_moves_to_the_renewed_certificate_even_when_the_key_is_pulled_out() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("ring.png");
    std::fs::write(&png, ring(400, 10.0, image::ImageFormat::Png)).unwrap();
    let png = png.to_str().unwrap().to_string();
    let mut n = 0;
    loop {
        let key = activated_with(&ca, &format!("SKSLRN{n:03}"), "sm2", "", &["--days", "30"]);
        let out = certkey(
            &module,
            &ca,
            &[
                "--json",
                "seal",
                "write",
                "--image",
                &png,
                "--name",
                "张三财务章",
            ],
            &key.env(),
        );
        assert!(out.status.success(), "{}", text(&out));
        let first = cut_after(&key.env_store, n, || {
            certkey(&module, &ca, &["--json", "renew"], &key.env())
        });
        let renewed = if first.status.success() {
            json_of(&first)
        } else {
            // Between the runs the key holds the old seal, the new one, or (for a
            // moment) both: never none.
            let between = seal_objects(&module, &key).len();
            assert!((1..=2).contains(&between), "cut after {n}: {between} seals");
            let again = certkey(&module, &ca, &["--json", "renew"], &key.env());
            assert!(
                again.status.success(),
                "cut after {n} operations, the rerun failed:\nfirst run: {}\nrerun: {}",
                text(&first),
                text(&again)
            );
            json_of(&again)
        };
        check_carried(&module, &ca, &key, &renewed, "张三财务章");
        if first.status.success() {
            assert!(n > 10, "a renewal needs more than {n} operations");
            break;
        }
        n += 1;
        assert!(n < 400, "a renewal never completed without a cut");
    }
}

/// Not a test of its own: run by [`plant_seal`] in a child process, it writes a public
/// seal object through PKCS#11 (pkcs11-tool cannot give a data object a CKA_ID).
#[test]
#[ignore = "run by plant_seal in a child process"]
fn plant_seal_child() {
    use cryptoki::object::{Attribute, ObjectClass};
    let file = std::env::var("CERTKEY_TEST_PLANT_SEAL").expect("run by plant_seal");
    let id = hex::decode(std::env::var("CERTKEY_TEST_PLANT_ID").unwrap()).unwrap();
    let session = softkey_session(true);
    let app = Attribute::Application(APPLICATION.as_bytes().to_vec());
    for h in session
        .find_objects(&[Attribute::Class(ObjectClass::DATA), app.clone()])
        .unwrap()
    {
        session.destroy_object(h).unwrap();
    }
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            app,
            Attribute::Id(id),
            Attribute::Label("张三".as_bytes().to_vec()),
            Attribute::Value(std::fs::read(file).unwrap()),
        ])
        .unwrap();
}

/// Writes `der` as the key's only seal object, public, with CKA_ID `id` (hex), as an
/// attacker with a hand-made tool would (pkcs11-tool writes at most 5000 bytes and
/// gives a data object no CKA_ID). In a child process so that each planting loads
/// softkey afresh with the key's own store.
fn plant_seal(module: &Path, key: &Key, id: &str, der: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seal.der");
    std::fs::write(&file, der).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "plant_seal_child", "--ignored", "--nocapture"])
        .env("CERTKEY_SOFTKEY_DIR", &key.env_store)
        .env("CERTKEY_TEST_PLANT_SEAL", &file)
        .env("CERTKEY_TEST_PLANT_ID", id)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}",
        text(&out)
    );
    assert_eq!(seal_objects(module, key).len(), 1);
}

/// A seal object planted on a key under its certificate's id — a genuine seal of this
/// CA, copied from another holder's key — is not carried over by a renewal: the CA is
/// asked for nothing, the new certificate has no seal, and the holder can still have
/// the one seal of the new certificate made with a picture and name of their choice.
#[test]
fn a_planted_seal_is_not_carried_over_by_a_renewal() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("ring.png");
    std::fs::write(&png, ring(400, 10.0, image::ImageFormat::Png)).unwrap();
    let png = png.to_str().unwrap().to_string();
    let other = activated(&ca, "SKSLOTHER", "sm2", "");
    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", &png],
        &other.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let copied = seal_objects(&module, &other).remove(0);

    let key = activated_with(&ca, "SKSLPLANT", "sm2", "", &["--days", "30"]);
    let old_id = key.done["key_id"].as_str().unwrap().to_string();
    plant_seal(&module, &key, &old_id, &copied);
    assert_eq!(seal_objects(&module, &key).len(), 1);
    let out = certkey(&module, &ca, &["--json", "renew"], &key.env());
    assert!(out.status.success(), "{}", text(&out));
    let renewed = json_of(&out);
    // The planted object is left as it was: not carried, not acted on.
    let out = certkey(&module, &ca, &["--json", "seal", "show"], &key.base());
    let v = json_of(&out);
    let seals = v["seals"].as_array().unwrap();
    assert_eq!(seals.len(), 1, "{v}");
    assert_eq!(seals[0]["certificate_id"], old_id.as_str(), "{v}");
    assert_eq!(seals[0]["bound_to_certificate"], false, "{v}");
    // The CA made no seal for the new certificate: the holder's own request makes it.
    let out = certkey(
        &module,
        &ca,
        &[
            "--json",
            "seal",
            "write",
            "--image",
            &png,
            "--name",
            "张三合同章",
        ],
        &key.env(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let written = json_of(&out);
    assert_eq!(written["name"], "张三合同章", "{written}");
    assert_eq!(written["certificate_id"], renewed["key_id"], "{written}");
}

/// The CA's seal re-made by a foreign maker: the same eSealInfo (name, picture, the
/// holder's certificate in certList), but a self-signed P-256 maker certificate made
/// with OpenSSL and an ECDSA-SHA256 signature by its key, so that the signature
/// verifies and the binding holds — only the maker's chain is wrong.
fn forge_seal(real: &[u8], dir: &Path) -> Vec<u8> {
    self_made_maker(dir);
    resign(real, dir, "maker.der", "maker.key")
}

fn self_made_maker(dir: &Path) {
    let (ok, err) = openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "maker.key",
            "-outform",
            "DER",
            "-out",
            "maker.der",
            "-subj",
            "/C=CN/O=CertKey Demo CA/CN=CertKey Demo Seal Maker",
            "-days",
            "365",
        ],
    );
    assert!(ok, "{err}");
}

/// OpenSSL's standard output.
fn openssl_out(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A maker certificate that names the CA's real issuing CA as its issuer, signed by a
/// look-alike CA made with OpenSSL under the same name: (maker DER file, key file).
fn look_alike_maker(dir: &Path, issuing: &[u8]) -> (&'static str, &'static str) {
    std::fs::write(dir.join("issuing.der"), issuing).unwrap();
    let name_of = |file: &str, which: &str| {
        let line = openssl_out(
            dir,
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                file,
                "-noout",
                which,
                "-nameopt",
                "oneline,-esc_msb",
            ],
        );
        line.split_once('=')
            .map(|(_, n)| n.trim().to_string())
            .unwrap()
    };
    let subject = name_of("issuing.der", "-subject");
    let slashed: String = subject
        .split(", ")
        .map(|rdn| format!("/{}", rdn.replacen(" = ", "=", 1)))
        .collect();
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "fakeca.key",
            "-out",
            "fakeca.pem",
            "-utf8",
            "-subj",
            &slashed,
            "-days",
            "365",
        ],
        vec![
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "maker2.key",
            "-out",
            "maker2.csr",
            "-subj",
            "/C=CN/O=CertKey Demo CA/CN=CertKey Demo Seal Maker",
        ],
        vec![
            "x509",
            "-req",
            "-in",
            "maker2.csr",
            "-CA",
            "fakeca.pem",
            "-CAkey",
            "fakeca.key",
            "-set_serial",
            "7",
            "-days",
            "365",
            "-outform",
            "DER",
            "-out",
            "maker2.der",
        ],
    ] {
        openssl_out(dir, &args);
    }
    // The look-alike's name is the real issuing CA's.
    assert_eq!(name_of("maker2.der", "-issuer"), subject);
    ("maker2.der", "maker2.key")
}

/// The seal `real` with its eSealInfo unchanged, re-signed with ECDSA-SHA256 by the
/// key in `key_file` and carrying the maker certificate in `maker_file`.
fn resign(real: &[u8], dir: &Path, maker_file: &str, key_file: &str) -> Vec<u8> {
    let maker = std::fs::read(dir.join(maker_file)).unwrap();
    // The eSealInfo of the real seal, unchanged.
    let (tag, hdr, len) = tlv(real);
    assert_eq!((tag, hdr + len), (0x30, real.len()));
    let (t, h, l) = tlv(&real[hdr..]);
    assert_eq!(t, 0x30);
    let info = &real[hdr..hdr + h + l];
    let mut body = info.to_vec();
    body.push(0x04);
    body.extend(der_len(maker.len()));
    body.extend(&maker);
    // ecdsa-with-SHA256
    body.extend([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);
    let mut tbs = vec![0x30];
    tbs.extend(der_len(body.len()));
    tbs.extend(&body);
    std::fs::write(dir.join("tbs.bin"), &tbs).unwrap();
    let (ok, err) = openssl(
        dir,
        &[
            "dgst", "-sha256", "-sign", key_file, "-out", "sig.der", "tbs.bin",
        ],
    );
    assert!(ok, "{err}");
    let sig = std::fs::read(dir.join("sig.der")).unwrap();
    body.push(0x03);
    body.extend(der_len(sig.len() + 1));
    body.push(0);
    body.extend(&sig);
    let mut seal = vec![0x30];
    seal.extend(der_len(body.len()));
    seal.extend(body);
    seal
}

/// The seal maker's certificate must chain to a trusted CA: a seal re-signed by a
/// self-made maker and planted on the key is not valid (exit 3) although its
/// signature verifies and it names the holder's certificate; the CA's own seal is
/// trusted through the service's /cacerts, through the cached list when the service
/// is down, through --ca-bundle without any list, and not at all when there is
/// neither — and the answer says why.
#[test]
fn a_seal_by_a_foreign_maker_is_not_trusted() {
    let mut ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let key = activated(&ca, "SKSEALTRUST", "sm2", "");
    let id = key.done["key_id"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state_env = state.to_str().unwrap().to_string();
    let env = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = key
            .env()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.push(("CERTKEY_STATE_DIR".into(), state_env.clone()));
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        v
    };
    let run = |ca: &Ca, args: &[&str], env: &[(String, String)]| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        certkey(&module, ca, args, &env)
    };
    let png = dir.path().join("ring.png");
    std::fs::write(&png, ring(400, 10.0, image::ImageFormat::Png)).unwrap();
    let out = run(
        &ca,
        &["--json", "seal", "write", "--image", png.to_str().unwrap()],
        &env(&[]),
    );
    assert!(out.status.success(), "{}", text(&out));
    let real = seal_objects(&module, &key).remove(0);

    // The CA's seal: trusted through the service's list, which is now cached.
    let out = run(&ca, &["--json", "seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["seals"][0]["maker_trusted"], true, "{v}");
    assert_eq!(v["ca_list"]["source"], "service", "{v}");
    let issuing = ca.issuing("sm2");
    // The listing checks the seal too (no network: against the configured bundle).
    let bundle = dir.path().join("issuing.pem");
    std::fs::write(&bundle, pem(&issuing)).unwrap();
    let bundle = bundle.to_str().unwrap().to_string();
    let listed_seal = |ca: &Ca| {
        let out = run(ca, &["--json", "--ca-bundle", &bundle, "list"], &env(&[]));
        let v = json_of(&out);
        let cert = v["tokens"][0]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("certificate {id} listed: {v}"));
        cert["seal"].clone()
    };
    let seal = listed_seal(&ca);
    assert_eq!(seal["valid"], true, "{seal}");
    assert!(
        seal["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{seal}"
    );
    let port = ca.url.rsplit(':').next().unwrap().to_string();
    let cache = state.join("cacerts").join(format!("127.0.0.1_{port}.json"));
    assert!(cache.exists(), "{}", cache.display());

    // The attack: the same seal re-signed by a self-made maker, planted on the key.
    let forged = forge_seal(&real, dir.path());
    plant_seal(&module, &key, &id, &forged);
    let out = run(&ca, &["--json", "seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json_of(&out);
    let s = &v["seals"][0];
    assert_eq!(
        s["signature_valid"], true,
        "the forger's signature verifies: {v}"
    );
    assert_eq!(s["bound_to_certificate"], true, "{v}");
    assert_eq!(s["maker_trusted"], false, "{v}");
    assert_eq!(s["maker_untrusted_reason"], "self_issued", "{v}");
    // Listed as a seal object that is not valid, never as the holder's seal.
    let seal = listed_seal(&ca);
    assert_eq!(seal["valid"], false, "{seal}");
    assert_eq!(seal["problem"], "maker_self_issued", "{seal}");
    let out = run(&ca, &["seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("maker trusted NO (the maker's certificate is self-issued, not issued by a CA)"),
        "{t}"
    );
    // Even with the forger's certificate offered as a CA bundle (OpenSSL made it a
    // CA): a maker must be issued by a CA other than itself.
    let fake_bundle = dir.path().join("maker.pem");
    std::fs::write(
        &fake_bundle,
        pem(&std::fs::read(dir.path().join("maker.der")).unwrap()),
    )
    .unwrap();
    let out = run(
        &ca,
        &[
            "--json",
            "--ca-bundle",
            fake_bundle.to_str().unwrap(),
            "seal",
            "show",
        ],
        &env(&[]),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["seals"][0]["maker_trusted"], false, "{v}");
    assert_eq!(
        v["seals"][0]["maker_untrusted_reason"], "self_issued",
        "{v}"
    );

    // A maker certificate issued in the real issuing CA's name by a look-alike CA:
    // the names match, the signature does not.
    let (maker_file, key_file) = look_alike_maker(dir.path(), &issuing);
    let look_alike = resign(&real, dir.path(), maker_file, key_file);
    plant_seal(&module, &key, &id, &look_alike);
    let out = run(&ca, &["--json", "seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json_of(&out);
    let s = &v["seals"][0];
    assert_eq!(s["signature_valid"], true, "{v}");
    assert_eq!(s["bound_to_certificate"], true, "{v}");
    assert_eq!(s["maker_trusted"], false, "{v}");
    assert_eq!(s["maker_untrusted_reason"], "issuer_not_trusted", "{v}");
    assert_eq!(listed_seal(&ca)["problem"], "maker_issuer_not_trusted");
    let out = run(&ca, &["seal", "show"], &env(&[]));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("maker trusted NO (the maker's certificate is not issued by a trusted CA)"),
        "{t}"
    );

    // The writer: the service's database holds the look-alike seal in place of the
    // one the CA made (a tampered or impersonated service); writing the seal again
    // gets it back from the service and refuses it before anything is written.
    delete_seal(&module, &key);
    std::fs::write(dir.path().join("look-alike.der"), &look_alike).unwrap();
    let db = ca.data.path().join("ca.db");
    let sql = format!(
        "UPDATE seals SET seal = readfile('{}');",
        dir.path().join("look-alike.der").display()
    );
    let out = Command::new("sqlite3").arg(&db).arg(&sql).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = run(
        &ca,
        &["--json", "seal", "write", "--image", png.to_str().unwrap()],
        &env(&[]),
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let e = json_of(&out);
    assert!(
        e["error"]["detail"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("does not chain to the CA's certificates"),
        "{e}"
    );
    assert!(seal_objects(&module, &key).is_empty(), "nothing written");

    // The CA's seal back; the service down: the cached list still vouches, and the
    // answer says the list is a cached one.
    plant_seal(&module, &key, &id, &real);
    ca.stop();
    let out = run(&ca, &["--json", "seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["seals"][0]["maker_trusted"], true, "{v}");
    assert_eq!(v["ca_list"]["source"], "cache", "{v}");
    assert_eq!(v["ca_list"]["service_error"]["code"], "network", "{v}");
    let out = run(&ca, &["seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("the CA service cannot be used") && t.contains("using its list cached at"),
        "{t}"
    );
    // The forged seal stays untrusted with the cached list too.
    plant_seal(&module, &key, &id, &forged);
    let out = run(&ca, &["--json", "seal", "show"], &env(&[]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    plant_seal(&module, &key, &id, &real);

    // No cache and no bundle: nothing vouches for the maker, and the answer says why.
    let empty = dir.path().join("empty-state");
    let empty = empty.to_str().unwrap();
    let out = run(
        &ca,
        &["--json", "seal", "show"],
        &env(&[("CERTKEY_STATE_DIR", empty)]),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["seals"][0]["maker_trusted"], false, "{v}");
    assert_eq!(
        v["seals"][0]["maker_untrusted_reason"], "no_trusted_ca",
        "{v}"
    );
    assert_eq!(v["ca_list"]["source"], "none", "{v}");
    let out = run(
        &ca,
        &["seal", "show"],
        &env(&[("CERTKEY_STATE_DIR", empty)]),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("there is no trusted CA certificate to check it against")
            && t.contains("no usable cache")
            && t.contains("--ca-bundle"),
        "{t}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", "zh-CN", "--no-auto-modules", "--module"])
        .arg(&module)
        .args(["--service", &ca.url, "seal", "show"])
        .env("CERTKEY_STATE_DIR", empty)
        .envs(key.base())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        t.contains("制章者可信  否！（没有任何可信的 CA 证书可供核对")
            && t.contains("没有可用的缓存"),
        "{t}"
    );

    // A configured CA bundle (the issuing CA) is enough without any list.
    let bundle = dir.path().join("issuing.pem");
    std::fs::write(&bundle, pem(&issuing)).unwrap();
    let out = run(
        &ca,
        &["--json", "seal", "show"],
        &env(&[
            ("CERTKEY_STATE_DIR", empty),
            ("CERTKEY_CA_BUNDLE", bundle.to_str().unwrap()),
        ]),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v = json_of(&out);
    assert_eq!(v["seals"][0]["maker_trusted"], true, "{v}");
    assert_eq!(v["ca_list"]["bundle_certificates"], 1, "{v}");
}
