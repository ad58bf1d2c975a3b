//! `certkey list/info/cert export` against real SoftHSM2 tokens, checked field by field
//! against OpenSSL's own reading of the same certificates.

mod common;

use common::{fixture, openssl, CertFile, DISTID};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn token<'a>(v: &'a Value, serial: &str) -> &'a Value {
    v["tokens"]
        .as_array()
        .expect("tokens array")
        .iter()
        .find(|t| t["serial"] == serial)
        .unwrap_or_else(|| panic!("token {serial} not listed: {v:#}"))
}

fn cert<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["certificates"]
        .as_array()
        .expect("certificates array")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("certificate {id} not listed: {t:#}"))
}

fn field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("openssl printed no {key}: {out}"))
        .trim()
        .to_string()
}

/// OpenSSL's `-dateopt iso_8601` form (`2026-11-21 23:28:19Z`) as a time.
fn iso(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(&s.replacen(' ', "T", 1), &Rfc3339).expect("openssl date")
}

fn fingerprint(f: &CertFile, alg: &str) -> String {
    let out = openssl(
        &fixture().dir,
        &[
            "x509",
            "-in",
            &f.pem.display().to_string(),
            "-noout",
            "-fingerprint",
            alg,
        ],
    );
    out.split('=')
        .nth(1)
        .expect("fingerprint")
        .trim()
        .replace(':', "")
        .to_lowercase()
}

/// What OpenSSL says of a certificate, in the CLI's vocabulary.
struct OpensslView {
    subject: String,
    issuer: String,
    serial_hex: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    key_algorithm: String,
    signature_algorithm: String,
    text: String,
}

fn openssl_view(f: &CertFile) -> OpensslView {
    let dir = &fixture().dir;
    let pem = f.pem.display().to_string();
    let names = openssl(
        dir,
        &[
            "x509",
            "-in",
            &pem,
            "-noout",
            "-subject",
            "-issuer",
            "-nameopt",
            "RFC2253,-esc_msb",
        ],
    );
    let meta = openssl(
        dir,
        &[
            "x509",
            "-in",
            &pem,
            "-noout",
            "-serial",
            "-startdate",
            "-enddate",
            "-dateopt",
            "iso_8601",
        ],
    );
    let text = openssl(dir, &["x509", "-in", &pem, "-noout", "-text"]);
    let key_algorithm = if text.contains("ASN1 OID: SM2") {
        "SM2".to_string()
    } else if text.contains("NIST CURVE: P-256") {
        "EC P-256".to_string()
    } else if text.contains("rsaEncryption") {
        let bits = field(
            text.lines()
                .find(|l| l.contains("Public-Key:"))
                .expect("Public-Key line")
                .trim(),
            "Public-Key: (",
        );
        format!("RSA-{}", bits.trim_end_matches(" bit)"))
    } else {
        panic!("unexpected key in {text}")
    };
    let sig = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Signature Algorithm: "))
        .expect("signature algorithm")
        .to_string();
    let signature_algorithm = match sig.as_str() {
        "SM2-with-SM3" => "SM3withSM2",
        "ecdsa-with-SHA256" => "ECDSA-SHA256",
        "sha256WithRSAEncryption" => "RSA-SHA256",
        other => panic!("unexpected signature algorithm {other}"),
    }
    .to_string();
    OpensslView {
        subject: field(&names, "subject="),
        issuer: field(&names, "issuer="),
        serial_hex: field(&meta, "serial=").to_lowercase(),
        not_before: iso(&field(&meta, "notBefore=")),
        not_after: iso(&field(&meta, "notAfter=")),
        key_algorithm,
        signature_algorithm,
        text,
    }
}

fn rfc3339(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().expect("time string"), &Rfc3339).expect("rfc3339")
}

#[test]
fn list_json_agrees_with_openssl_field_by_field() {
    let f = fixture();
    let (v, code) = f.json(&["list"]);
    let t = token(&v, &f.serial);
    assert_eq!(t["label"], "CertKey 测试");
    assert_eq!(t["manufacturer"], "SoftHSM project");
    assert_eq!(t["vendor"], "softhsm2");
    assert!(t["flags"]
        .as_array()
        .unwrap()
        .contains(&Value::from("CKF_TOKEN_INITIALIZED")));
    for k in [
        "min_len",
        "max_len",
        "count_low",
        "final_try",
        "locked",
        "to_be_changed",
    ] {
        assert!(!t["pin"][k].is_null(), "pin.{k} missing");
    }
    for file in &f.certs {
        let c = cert(t, file.id);
        let o = openssl_view(file);
        let now = OffsetDateTime::now_utc();
        assert_eq!(c["subject"], o.subject.as_str(), "subject of {}", file.id);
        assert_eq!(c["issuer"], o.issuer.as_str(), "issuer of {}", file.id);
        assert_eq!(
            c["serial_hex"],
            o.serial_hex.as_str(),
            "serial of {}",
            file.id
        );
        assert_eq!(
            rfc3339(&c["not_before"]),
            o.not_before,
            "not_before of {}",
            file.id
        );
        assert_eq!(
            rfc3339(&c["not_after"]),
            o.not_after,
            "not_after of {}",
            file.id
        );
        assert_eq!(
            c["key_algorithm"],
            o.key_algorithm.as_str(),
            "key of {}",
            file.id
        );
        assert_eq!(
            c["signature_algorithm"],
            o.signature_algorithm.as_str(),
            "sig of {}",
            file.id
        );
        assert_eq!(
            c["sha256"],
            fingerprint(file, "-sha256").as_str(),
            "sha256 of {}",
            file.id
        );
        assert_eq!(
            c["sm3"],
            fingerprint(file, "-sm3").as_str(),
            "sm3 of {}",
            file.id
        );
        assert_eq!(
            c["days_left"].as_i64().unwrap(),
            certkey_protocol::days_left(o.not_after, now),
            "days_left of {}",
            file.id
        );
        let want = certkey_protocol::RenewalStatus::at(o.not_before, o.not_after, now);
        assert_eq!(c["renewal"], want.as_str(), "renewal of {}", file.id);
        let cn = o
            .subject
            .split(',')
            .find_map(|p| p.strip_prefix("CN="))
            .expect("every fixture certificate has a CN");
        assert_eq!(c["subject_cn"], cn);
        if o.text.contains("Digital Signature, Non Repudiation") {
            assert_eq!(
                c["key_usage"],
                serde_json::json!(["digital_signature", "non_repudiation"])
            );
        }
        if o.text
            .contains("TLS Web Client Authentication, E-mail Protection")
        {
            assert_eq!(
                c["extended_key_usage"],
                serde_json::json!(["client_auth", "email_protection"])
            );
        }
    }
    // The fixture covers each renewal status.
    assert_eq!(cert(t, "05")["renewal"], "expired");
    assert_eq!(cert(t, "06")["renewal"], "renewable");
    assert_eq!(cert(t, "06")["days_left"], 30);
    assert_eq!(cert(t, "07")["renewal"], "not_yet_valid");
    assert_eq!(cert(t, "03")["renewal"], "valid");
    // The broken object makes the exit code 3, without hiding anything else.
    assert_eq!(code, 3, "{v:#}");
}

#[test]
fn chinese_names_and_certificate_types_come_out_exact() {
    let f = fixture();
    let (v, _) = f.json(&["list"]);
    let t = token(&v, &f.serial);
    let leaf = cert(t, "02");
    assert_eq!(leaf["subject"], "CN=张三,O=广东测试有限公司,C=CN");
    assert_eq!(leaf["subject_cn"], "张三");
    assert_eq!(leaf["subject_o"], "广东测试有限公司");
    assert_eq!(leaf["issuer_cn"], "广东测试根CA");
    assert_eq!(leaf["serial_hex"], "abcdef0123");
    assert_eq!(leaf["cert_type_hint"], "org_person");
    assert_eq!(cert(t, "06")["cert_type_hint"], "person");
    assert_eq!(cert(t, "03")["cert_type_hint"], "organisation");
    assert!(
        cert(t, "01")["cert_type_hint"].is_null(),
        "a CA has no holder type"
    );
}

#[test]
fn signatures_are_checked_against_the_issuer_on_the_token_like_openssl_does() {
    let f = fixture();
    let (v, _) = f.json(&["list"]);
    let t = token(&v, &f.serial);
    let leaf = &cert(t, "02")["signature_check"];
    assert_eq!(leaf["status"], "valid", "{leaf}");
    assert_eq!(leaf["source"], "token");
    assert_eq!(leaf["issuer"], "CN=广东测试根CA,O=广东测试有限公司,C=CN");
    let root = &cert(t, "01")["signature_check"];
    assert_eq!(root["status"], "valid");
    assert_eq!(root["source"], "self_signed");
    for id in ["03", "04", "05", "06", "07"] {
        assert_eq!(cert(t, id)["signature_check"]["status"], "valid", "{id}");
    }
    // OpenSSL agrees on the SM2 chain.
    let out = openssl(
        &f.dir,
        &[
            "verify",
            "-vfyopt",
            DISTID,
            "-CAfile",
            "sm2root.pem",
            "sm2leaf.pem",
        ],
    );
    assert!(out.contains("sm2leaf.pem: OK"), "{out}");
}

#[test]
fn a_broken_certificate_object_is_reported_in_its_place_and_the_rest_still_lists() {
    let f = fixture();
    let (v, _) = f.json(&["list"]);
    let t = token(&v, &f.serial);
    let broken = cert(t, f.garbage_id);
    assert_eq!(broken["error"]["code"], "certificate_invalid");
    assert_eq!(broken["label"], "broken");
    assert!(broken["subject"].is_null());
    let e = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["object"] == f.garbage_id)
        .expect("error for the broken object");
    assert_eq!(e["token"], f.serial.as_str());
    assert_eq!(e["code"], "certificate_invalid");
    assert_eq!(t["certificates"].as_array().unwrap().len(), 9);
}

#[test]
fn keys_are_paired_with_certificates_by_cka_id() {
    let f = fixture();
    let (v, _) = f.json(&["list"]);
    let t = token(&v, &f.serial);
    assert_eq!(cert(t, "03")["has_public_key"], true);
    assert_eq!(cert(t, "02")["has_public_key"], false);
    // SoftHSM2 requires login: private objects stay hidden, and CertKey says so
    // instead of claiming there is no key.
    assert_eq!(t["private_objects_visible"], false);
    assert!(cert(t, "03")["has_private_key"].is_null());
    let pubkey = t["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["class"] == "public_key")
        .expect("public key listed");
    assert_eq!(pubkey["id"], "03");
    assert_eq!(pubkey["key_type"], "EC");
    assert_eq!(pubkey["has_certificate"], true);
}

#[test]
fn a_missing_module_is_an_error_while_the_softhsm_token_still_lists() {
    let f = fixture();
    let (v, code) = f.json(&["--module", "/nonexistent/libvendor_p11.so", "list"]);
    token(&v, &f.serial);
    let e = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["module"] == "/nonexistent/libvendor_p11.so")
        .expect("error for the missing module");
    assert_eq!(e["code"], "module_not_found");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/libvendor_p11.so"));
    assert_ne!(code, 0);

    // Human output names the path and the reason, on stdout with the listing.
    let out = f.certkey(&[
        "--lang",
        "en",
        "--module",
        "/nonexistent/libvendor_p11.so",
        "list",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("PKCS#11 module /nonexistent/libvendor_p11.so does not exist"),
        "{text}"
    );
    assert!(text.contains("张三"), "{text}");
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_file_that_is_not_a_module_reports_the_loader_message() {
    let f = fixture();
    let bogus = f.dir.join("not-a-module.so");
    std::fs::write(&bogus, b"\x7fELF but not really").unwrap();
    let bogus = bogus.display().to_string();
    let (v, _) = f.json(&["--module", &bogus, "list"]);
    token(&v, &f.serial);
    let e = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["module"] == bogus.as_str())
        .unwrap();
    assert_eq!(e["code"], "module_load_failed");
    assert!(!e["reason"].as_str().unwrap().is_empty());
}

#[test]
fn info_shows_mechanisms_and_flags_for_one_token() {
    let f = fixture();
    let (v, _) = f.json(&["info", "--token", &f.serial]);
    assert_eq!(v["tokens"].as_array().unwrap().len(), 1);
    let t = token(&v, &f.serial);
    let names: Vec<&str> = t["mechanisms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"CKM_ECDSA"), "{names:?}");
    assert!(names.contains(&"CKM_RSA_PKCS"), "{names:?}");
    let ecdsa = t["mechanisms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "CKM_ECDSA")
        .unwrap();
    assert_eq!(ecdsa["value"], "0x00001041");
    assert!(ecdsa["flags"]
        .as_array()
        .unwrap()
        .contains(&Value::from("sign")));

    let (v, code) = f.json(&["info", "--token", "NO-SUCH-SERIAL"]);
    assert_eq!(code, 4);
    assert_eq!(v["error"]["detail"]["code"], "token_not_found");
}

#[test]
fn export_returns_the_exact_certificate_in_der_and_pem() {
    let f = fixture();
    let file = f.cert("02");
    let out = f.certkey(&["cert", "export", "--token", &f.serial, "--id", "02"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, std::fs::read(&file.der).unwrap());

    let pem_path = f.dir.join("exported.pem");
    let out = f.certkey(&[
        "cert",
        "export",
        "--token",
        &f.serial,
        "--id",
        "02",
        "--pem",
        "-o",
        &pem_path.display().to_string(),
    ]);
    assert!(out.status.success());
    let back = openssl(
        &f.dir,
        &[
            "x509",
            "-in",
            &pem_path.display().to_string(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    );
    let orig = openssl(
        &f.dir,
        &[
            "x509",
            "-in",
            &file.pem.display().to_string(),
            "-noout",
            "-fingerprint",
            "-sha256",
        ],
    );
    assert_eq!(back, orig);

    let out = f.certkey(&[
        "--lang", "en", "cert", "export", "--token", &f.serial, "--id", "7f",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no certificate with id 7f"));
    let out = f.certkey(&["cert", "export", "--token", &f.serial, "--id", "zz"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--id"));
}

#[test]
fn human_output_speaks_chinese_or_english() {
    let f = fixture();
    let zh = String::from_utf8_lossy(&f.certkey(&["--lang", "zh-CN", "list"]).stdout).into_owned();
    for want in [
        "序列号",
        "张三",
        "已过期",
        "可续期",
        "尚未生效",
        "证书无法解析",
    ] {
        assert!(zh.contains(want), "missing {want} in:\n{zh}");
    }
    let en = String::from_utf8_lossy(&f.certkey(&["--lang", "en", "list"]).stdout).into_owned();
    for want in [
        "serial",
        "expired",
        "renewable",
        "not yet valid",
        "does not parse",
    ] {
        assert!(en.contains(want), "missing {want} in:\n{en}");
    }
}

#[test]
fn a_ca_bundle_checks_a_certificate_whose_issuer_is_not_on_the_token() {
    let f = fixture();
    let (v, _) = f.json(&["list"]);
    let check = &cert(token(&v, &f.serial), "09")["signature_check"];
    assert_eq!(check["status"], "issuer_not_found", "{check}");

    let (v, _) = f.json(&[
        "--ca-bundle",
        &f.dir.join("extca.pem").display().to_string(),
        "list",
    ]);
    let check = &cert(token(&v, &f.serial), "09")["signature_check"];
    assert_eq!(check["status"], "valid", "{check}");
    assert_eq!(check["source"], "bundle");
    assert_eq!(check["issuer"], "CN=外部测试CA,C=CN");

    // Same issuer name, other key: the signature does not verify, as OpenSSL agrees.
    let (v, _) = f.json(&[
        "--ca-bundle",
        &f.dir.join("fakeca.pem").display().to_string(),
        "list",
    ]);
    let check = &cert(token(&v, &f.serial), "09")["signature_check"];
    assert_eq!(check["status"], "invalid", "{check}");
    let out = std::process::Command::new("openssl")
        .args([
            "verify",
            "-vfyopt",
            DISTID,
            "-CAfile",
            "fakeca.pem",
            "extleaf.pem",
        ])
        .current_dir(&f.dir)
        .output()
        .unwrap();
    assert!(!out.status.success());

    // A bundle that is not a certificate is reported, not fatal.
    let junk = f.dir.join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let (v, code) = f.json(&["--ca-bundle", &junk.display().to_string(), "list"]);
    assert_eq!(code, 3);
    assert!(v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["code"] == "certificate_invalid" && e["module"].is_null()));
    token(&v, &f.serial);
}

#[test]
fn login_reveals_private_keys_and_pairs_them_by_cka_id() {
    let f = fixture();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_certkey"));
    let out = cmd
        .args([
            "--no-auto-modules",
            "--module",
            common::SOFTHSM,
            "--json",
            "info",
            "--token",
            &f.serial,
            "--login",
        ])
        .env("SOFTHSM2_CONF", &f.conf)
        .env("CERTKEY_PIN", common::USER_PIN)
        .env("CERTKEY_CONFIG", f.dir.join("no-config.toml"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = token(&v, &f.serial);
    assert_eq!(t["private_objects_visible"], true, "{v:#}");
    assert_eq!(cert(t, "03")["has_private_key"], true);
    assert_eq!(cert(t, "02")["has_private_key"], false);
    let private = t["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["class"] == "private_key")
        .expect("private key listed");
    assert_eq!(private["id"], "03");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(common::USER_PIN),
        "the PIN must never be printed"
    );
}

#[test]
fn a_wrong_pin_is_reported_with_the_token_state_and_exit_code_6() {
    let f = fixture();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args([
            "--no-auto-modules",
            "--module",
            common::SOFTHSM,
            "--json",
            "info",
            "--token",
            &f.serial,
            "--login",
        ])
        .env("SOFTHSM2_CONF", &f.conf)
        .env("CERTKEY_PIN", "99999999")
        .env("CERTKEY_CONFIG", f.dir.join("no-config.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "pin_incorrect")
        .expect("pin_incorrect");
    // SoftHSM2 marks COUNT_LOW after a wrong PIN and never locks.
    assert_eq!(e["count_low"], true);
    assert_eq!(e["locked"], false);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("99999999"));
    // The public part of the listing is still there.
    assert_eq!(cert(token(&v, &f.serial), "02")["subject_cn"], "张三");

    // Too short for the token's range: refused before any login attempt.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args([
            "--no-auto-modules",
            "--module",
            common::SOFTHSM,
            "--json",
            "info",
            "--token",
            &f.serial,
            "--login",
        ])
        .env("SOFTHSM2_CONF", &f.conf)
        .env("CERTKEY_PIN", "12")
        .env("CERTKEY_CONFIG", f.dir.join("no-config.toml"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "pin_length"),
        "{v:#}"
    );
}
