//! Online unlock against a real service and a real (softkey) key: a locked user PIN is
//! reset with the SO PIN the service releases, the SO PIN is rotated and confirmed, an
//! unconfirmed rotation loses no SO PIN, and a handler who does not match waits for an
//! operator — on SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use certkey_protocol::v1::WrappedSecret;
use certkey_protocol::wrap::ClientKey;
use common::{b64, call, openssl, softkey, Postgres, Service};
use serde_json::{json, Value};

fn p11(store: &Path, args: &[&str]) -> bool {
    Command::new("pkcs11-tool")
        .arg("--module")
        .arg(softkey())
        .args(args)
        .env("CERTKEY_SOFTKEY_DIR", store)
        .output()
        .expect("pkcs11-tool")
        .status
        .success()
}

fn user_tries_left(store: &Path) -> i64 {
    let out = Command::new(
        PathBuf::from(env!("CARGO_BIN_EXE_certkey-ca")).with_file_name("certkey-softkey"),
    )
    .args(["status", "--json", "--dir"])
    .arg(store)
    .output()
    .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["slots"][0]["user_tries_left"].as_i64().unwrap()
}

struct Key {
    store: tempfile::TempDir,
    serial: String,
    cert_serial: String,
}

/// A produced, activated key with a certificate (from an OpenSSL CSR).
fn activated_key(svc: &Service, db_url: Option<&str>) -> Key {
    let (store, p) = common::produce(
        svc,
        db_url,
        &[
            "--holder", "张三", "--type", "person", "--key", "p256", "--days", "40",
        ],
    );
    let client = ClientKey::generate().unwrap();
    let (s, a) = call(
        reqwest::Method::POST,
        &format!("{}/activation", svc.base),
        Some(
            &json!({"token_serial": p["token_serial"], "activation_code": p["activation_code"], "client_key": b64(&client.public_sec1())}),
        ),
        None,
    );
    assert_eq!(s, 200, "{a}");
    let dir = tempfile::tempdir().unwrap();
    assert!(
        openssl(
            dir.path(),
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "k.pem"
            ]
        )
        .0
    );
    assert!(
        openssl(
            dir.path(),
            &[
                "req", "-new", "-key", "k.pem", "-subj", "/CN=x", "-outform", "DER", "-out",
                "r.der"
            ]
        )
        .0
    );
    let csr = std::fs::read(dir.path().join("r.der")).unwrap();
    let (s, c) = call(
        reqwest::Method::POST,
        &format!(
            "{}/activation/{}/certificate",
            svc.base,
            a["activation_id"].as_str().unwrap()
        ),
        Some(&json!({"csr": b64(&csr)})),
        None,
    );
    assert_eq!(s, 200, "{c}");
    let der = base64::engine::general_purpose::STANDARD
        .decode(c["certificate"].as_str().unwrap())
        .unwrap();
    std::fs::write(dir.path().join("c.der"), der).unwrap();
    let (_, serial) = openssl(
        dir.path(),
        &[
            "x509", "-inform", "DER", "-in", "c.der", "-noout", "-serial",
        ],
    );
    Key {
        store,
        serial: p["token_serial"].as_str().unwrap().to_string(),
        cert_serial: serial
            .trim()
            .trim_start_matches("serial=")
            .to_ascii_lowercase(),
    }
}

fn lock_user_pin(k: &Key) {
    for _ in 0..6 {
        p11(k.store.path(), &["--login", "--pin", "00000000", "-O"]);
    }
    assert_eq!(user_tries_left(k.store.path()), 0, "the user PIN is locked");
}

fn ask(svc: &Service, k: &Key, client: &ClientKey, handler: (&str, &str, &str)) -> (u16, Value) {
    call(
        reqwest::Method::POST,
        &format!("{}/unlock", svc.base),
        Some(&json!({
            "token_serial": k.serial,
            "certificate_serial": k.cert_serial,
            "handler": {"name": handler.0, "id_number": handler.1, "phone": handler.2},
            "client_key": b64(&client.public_sec1()),
        })),
        None,
    )
}

const HANDLER: (&str, &str, &str) = ("李四", "110101199001011234", "13800000000");

/// The two SO PINs of an approved ticket.
fn so_pins(svc: &Service, client: &ClientKey, ticket: &str) -> (String, String) {
    let (s, v) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/{ticket}", svc.base),
        None,
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "approved");
    let open = |field: &str, label: &str| {
        let w: WrappedSecret = serde_json::from_value(v[field].clone()).unwrap();
        String::from_utf8(
            client
                .unwrap(&w, format!("{label}:{ticket}").as_bytes())
                .unwrap()
                .to_vec(),
        )
        .unwrap()
    };
    (
        open("so_pin", "unlock-so"),
        open("new_so_pin", "unlock-new-so"),
    )
}

/// Confirms with the proof keyed by the new SO PIN `next`.
fn confirm(svc: &Service, ticket: &str, result: &str, next: &str) -> (u16, Value) {
    let r = if result == "rotated" {
        certkey_protocol::v1::UnlockResult::Rotated
    } else {
        certkey_protocol::v1::UnlockResult::Failed
    };
    let proof = certkey_protocol::v1::unlock_confirm_proof(next.as_bytes(), ticket, r);
    call(
        reqwest::Method::POST,
        &format!("{}/unlock/{ticket}/confirm", svc.base),
        Some(&json!({"result": result, "proof": b64(&proof)})),
        None,
    )
}

fn unlock_flow(svc: &Service, db_url: Option<&str>) {
    let k = activated_key(svc, db_url);
    let store = k.store.path();
    lock_user_pin(&k);

    // 1. The handler on file: approved at once. The client resets the user PIN and
    //    rotates the SO PIN — and the confirm never arrives.
    let client = ClientKey::generate().unwrap();
    let (s, t) = ask(svc, &k, &client, HANDLER);
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["state"], "approved");
    let ticket1 = t["ticket"].as_str().unwrap().to_string();
    let (so, next) = so_pins(svc, &client, &ticket1);
    assert_ne!(so, next);
    assert!(p11(
        store,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &so,
            "--init-pin",
            "--new-pin",
            "24681357"
        ]
    ));
    assert!(p11(
        store,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &so,
            "--change-pin",
            "--new-pin",
            &next
        ]
    ));
    assert!(
        p11(store, &["--login", "--pin", "24681357", "-O"]),
        "the holder's new PIN works"
    );

    // 2. Locked again later: the service still has both SO PINs, and hands out the same
    //    pending one, which is what the key now holds.
    lock_user_pin(&k);
    let client2 = ClientKey::generate().unwrap();
    let (_, t) = ask(svc, &k, &client2, HANDLER);
    let ticket2 = t["ticket"].as_str().unwrap().to_string();
    let (so2, next2) = so_pins(svc, &client2, &ticket2);
    assert_eq!(so2, so, "not rotated on file without a confirm");
    assert_eq!(next2, next, "the pending SO PIN is reused");
    assert!(!p11(
        store,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &so2,
            "--init-pin",
            "--new-pin",
            "13572468"
        ]
    ));
    assert!(p11(
        store,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &next2,
            "--init-pin",
            "--new-pin",
            "13572468"
        ]
    ));
    // Without the proof, or with a proof not made with the new SO PIN, nothing happens.
    let (s, e) = call(
        reqwest::Method::POST,
        &format!("{}/unlock/{ticket2}/confirm", svc.base),
        Some(&json!({"result": "rotated"})),
        None,
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("proof_required")),
        "{e}"
    );
    let (s, e) = confirm(svc, &ticket2, "rotated", &so2);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("proof_invalid")),
        "{e}"
    );
    let (s, c) = confirm(svc, &ticket2, "rotated", &next2);
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["state"], "completed");
    // A repeated confirm is harmless; a confirm of another outcome is refused.
    assert_eq!(confirm(svc, &ticket2, "rotated", &next2).0, 200);
    assert_eq!(confirm(svc, &ticket2, "failed", &next2).0, 409);

    // 3. After the confirm the current SO PIN on file is the one the key holds.
    lock_user_pin(&k);
    let client3 = ClientKey::generate().unwrap();
    let (_, t) = ask(svc, &k, &client3, HANDLER);
    let ticket3 = t["ticket"].as_str().unwrap().to_string();
    let (so3, next3) = so_pins(svc, &client3, &ticket3);
    assert_eq!(so3, next);
    assert_ne!(next3, next);
    assert!(p11(
        store,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &so3,
            "--init-pin",
            "--new-pin",
            "97531864"
        ]
    ));
    // The client could not rotate: the pending PIN stays on file, the current one too.
    assert_eq!(confirm(svc, &ticket3, "failed", &next3).0, 200);
    assert!(p11(store, &["--login", "--pin", "97531864", "-O"]));

    // 4. A late confirm of the first ticket (superseded by the committed rotation) must
    //    not replace the SO PIN on file with the pending one the key does not hold.
    let (s, e) = confirm(svc, &ticket1, "rotated", &next);
    assert_eq!(s, 409, "{e}");
    let (_, v) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/{ticket1}", svc.base),
        None,
        None,
    );
    assert_eq!(v["state"], "rejected");
    assert!(v.get("so_pin").is_none());
    let client4 = ClientKey::generate().unwrap();
    let (_, t) = ask(svc, &k, &client4, HANDLER);
    let ticket4 = t["ticket"].as_str().unwrap().to_string();
    let (so4, next4) = so_pins(svc, &client4, &ticket4);
    assert_eq!(so4, so3, "the SO PIN on file is still the key's");
    assert_eq!(next4, next3, "the uncommitted pending PIN is reused");
    assert!(p11(
        store,
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            &so4,
            "--init-pin",
            "--new-pin",
            "86427531"
        ]
    ));
}

#[test]
fn unlock_resets_a_locked_key_and_never_loses_the_so_pin_on_sqlite() {
    let svc = Service::start(None);
    unlock_flow(&svc, None);
}

#[test]
fn unlock_resets_a_locked_key_and_never_loses_the_so_pin_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    unlock_flow(&svc, Some(&pg.url()));
}

#[test]
fn a_different_handler_waits_for_review_and_the_operator_decides() {
    let svc = Service::start(None);
    let k = activated_key(&svc, None);
    let client = ClientKey::generate().unwrap();
    let (s, t) = ask(
        &svc,
        &k,
        &client,
        ("王五", "110101199001019999", "13900000000"),
    );
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["state"], "pending_review");
    let ticket = t["ticket"].as_str().unwrap().to_string();
    let (s, v) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/{ticket}", svc.base),
        None,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(v["state"], "pending_review");
    assert!(v.get("so_pin").is_none(), "no SO PIN before approval");
    assert_eq!(confirm(&svc, &ticket, "rotated", "whatever").0, 409);

    let approve = format!("{}/admin/unlock/{ticket}/approve", svc.base);
    assert_eq!(call(reqwest::Method::POST, &approve, None, None).0, 401);
    let (s, d) = call(reqwest::Method::POST, &approve, None, Some(&svc.admin));
    assert_eq!(s, 200, "{d}");
    let (so, _) = so_pins(&svc, &client, &ticket);
    assert!(
        p11(
            k.store.path(),
            &[
                "--login",
                "--login-type",
                "so",
                "--so-pin",
                &so,
                "--init-pin",
                "--new-pin",
                "11335577"
            ]
        ),
        "the released SO PIN is the key's"
    );
    assert!(p11(k.store.path(), &["--login", "--pin", "11335577", "-O"]));
    assert_eq!(
        call(reqwest::Method::POST, &approve, None, Some(&svc.admin)).0,
        409,
        "decided once"
    );

    let (_, t) = ask(
        &svc,
        &k,
        &client,
        ("王五", "110101199001019999", "13900000000"),
    );
    let ticket = t["ticket"].as_str().unwrap().to_string();
    let (s, _) = call(
        reqwest::Method::POST,
        &format!("{}/admin/unlock/{ticket}/reject", svc.base),
        None,
        Some(&svc.admin),
    );
    assert_eq!(s, 200);
    let (_, v) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/{ticket}", svc.base),
        None,
        None,
    );
    assert_eq!(v["state"], "rejected");

    // Bad requests.
    let mut bad = Key {
        store: tempfile::tempdir().unwrap(),
        serial: "NOPE".into(),
        cert_serial: k.cert_serial.clone(),
    };
    assert_eq!(
        ask(&svc, &bad, &client, HANDLER).1["error"]["code"],
        "token_not_found"
    );
    bad.serial = k.serial.clone();
    bad.cert_serial = "abcdef".into();
    assert_eq!(
        ask(&svc, &bad, &client, HANDLER).1["error"]["code"],
        "certificate_not_found"
    );
    let (s, e) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/unl-nope", svc.base),
        None,
        None,
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("ticket_not_found"))
    );
}
