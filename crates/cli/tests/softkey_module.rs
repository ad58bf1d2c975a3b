//! certkey against two modules at once, SoftHSM2 and the softkey virtual key: vendor SM2
//! mechanisms named through the catalog, and a key pulled out in the middle of the
//! listing reported in its place while everything else still lists.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{fixture, SOFTHSM};
use serde_json::Value;

fn sibling(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_certkey")).with_file_name(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build)",
        p.display()
    );
    p
}

/// A softkey store holding an initialised key with the fixture's SM2 certificate.
fn softkey_store(serial: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("softkey.toml"),
        format!("[[slot]]\nserial = \"{serial}\"\nprofile = \"tass\"\n"),
    )
    .unwrap();
    let module = sibling("libcertkey_softkey.so");
    let env = [("CERTKEY_SOFTKEY_DIR", dir.path().to_str().unwrap())];
    let m = module.to_str().unwrap();
    common::tool(
        dir.path(),
        "pkcs11-tool",
        &[
            "--module",
            m,
            "--init-token",
            "--label",
            "虚拟 Key",
            "--so-pin",
            "87654321",
        ],
        &env,
    );
    common::tool(
        dir.path(),
        "pkcs11-tool",
        &[
            "--module",
            m,
            "--init-pin",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            "87654321",
            "--pin",
            "12345678",
        ],
        &env,
    );
    let cert = fixture().cert("02").der.display().to_string();
    common::tool(
        dir.path(),
        "pkcs11-tool",
        &[
            "--module",
            m,
            "--login",
            "--pin",
            "12345678",
            "--write-object",
            &cert,
            "--type",
            "cert",
            "--id",
            "02",
        ],
        &env,
    );
    dir
}

fn list(store: &tempfile::TempDir, args: &[&str]) -> (Value, i32) {
    let f = fixture();
    let out = Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--no-auto-modules", "--module", SOFTHSM, "--module"])
        .arg(sibling("libcertkey_softkey.so"))
        .arg("--json")
        .args(args)
        .env("SOFTHSM2_CONF", &f.conf)
        .env("CERTKEY_SOFTKEY_DIR", store.path())
        .env("CERTKEY_CONFIG", f.dir.join("no-config.toml"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap_or(-1))
}

fn control(store: &tempfile::TempDir, args: &[&str]) {
    let out = Command::new(sibling("certkey-softkey"))
        .arg("--dir")
        .arg(store.path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn token<'a>(v: &'a Value, serial: &str) -> Option<&'a Value> {
    v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["serial"] == serial)
}

#[test]
fn both_modules_list_and_softkey_vendor_mechanisms_are_named_through_the_catalog() {
    let store = softkey_store("SKCLI0001");
    let (v, code) = list(&store, &["info"]);
    assert_eq!(
        code, 3,
        "the fixture's broken certificate object is an error: {v:#}"
    );
    assert!(token(&v, &fixture().serial).is_some());
    let sk = token(&v, "SKCLI0001").expect("softkey token listed");
    assert_eq!(sk["vendor"], "softkey");
    assert_eq!(sk["label"], "虚拟 Key");
    let names: Vec<&str> = sk["mechanisms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for want in [
        "CKM_SM2_KEY_PAIR_GEN",
        "CKM_SM2_SIGN_RAW",
        "CKM_SM3_SM2_SIGN",
        "CKM_SM3_DIGEST",
        "CKM_ECDSA",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let raw = sk["mechanisms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "CKM_SM2_SIGN_RAW")
        .unwrap();
    assert_eq!(raw["value"], "0x80008000");
    assert_eq!(sk["certificates"][0]["subject_cn"], "张三");
    assert_eq!(sk["pin"]["min_len"], 6);
    assert!(
        sk["memory"]["free_public"].as_u64().unwrap()
            < sk["memory"]["total_public"].as_u64().unwrap()
    );
}

#[test]
fn a_key_pulled_out_while_its_objects_are_read_is_reported_there_and_the_rest_still_lists() {
    let store = softkey_store("SKCLI0002");
    // Token info and C_OpenSession pass, C_FindObjectsInit meets a removed key.
    control(&store, &["fail-after", "2"]);
    let (v, code) = list(&store, &["list"]);
    assert_eq!(code, 3);
    let e = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["token"] == "SKCLI0002")
        .unwrap_or_else(|| panic!("error for the pulled key: {v:#}"));
    assert_eq!(e["code"], "pkcs11");
    assert_eq!(e["function"], "C_FindObjectsInit");
    assert_eq!(e["ckr_name"], "CKR_DEVICE_REMOVED");
    assert_eq!(e["ckr"], 0x32);
    assert!(e["module"]
        .as_str()
        .unwrap()
        .ends_with("libcertkey_softkey.so"));
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("CKR_DEVICE_REMOVED"));
    // What was read before the removal is shown; the other module is untouched.
    let sk = token(&v, "SKCLI0002").expect("the key's info is still listed");
    assert_eq!(sk["label"], "虚拟 Key");
    let softhsm = token(&v, &fixture().serial).expect("SoftHSM2 token listed");
    assert!(softhsm["certificates"].as_array().unwrap().len() >= 8);
}

#[test]
fn a_key_pulled_out_before_its_info_is_read_is_a_slot_error() {
    let store = softkey_store("SKCLI0003");
    control(&store, &["fail-after", "0"]);
    let (v, _) = list(&store, &["list"]);
    let e = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["module"]
                .as_str()
                .is_some_and(|m| m.ends_with("libcertkey_softkey.so"))
        })
        .unwrap_or_else(|| panic!("slot error: {v:#}"));
    assert_eq!(e["function"], "C_GetTokenInfo");
    assert_eq!(e["ckr_name"], "CKR_TOKEN_NOT_PRESENT");
    assert_eq!(e["slot"], 0);
    assert!(token(&v, "SKCLI0003").is_none());
    assert!(token(&v, &fixture().serial).is_some());
}
