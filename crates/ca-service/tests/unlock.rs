//! Online unlock against a real service and a real (softkey) key: a locked user PIN is
//! reset with the SO PIN the service releases, the SO PIN is rotated and confirmed, an
//! unconfirmed rotation loses no SO PIN, and a handler who does not match waits for an
//! operator — on SQLite and PostgreSQL. The attacks of the security review are performed
//! here: a confirm of a rotation without the key's signature (by someone who only knows
//! the handler's details), an expired approval, a bad client key.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use certkey_protocol::v1::{unlock_confirm_message, UnlockResult, WrappedSecret};
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
    /// Holds `k.pem`, the certificate's private key (the client's side in these tests).
    dir: tempfile::TempDir,
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
        dir,
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

fn result_of(result: &str) -> UnlockResult {
    if result == "rotated" {
        UnlockResult::Rotated
    } else {
        UnlockResult::Failed
    }
}

/// A DER ECDSA-SHA256 signature over `msg` by the PEM key `key` in `dir` (OpenSSL).
fn sign_with(dir: &Path, key: &str, msg: &[u8]) -> Vec<u8> {
    std::fs::write(dir.join("msg.bin"), msg).unwrap();
    let (ok, out) = openssl(
        dir,
        &[
            "dgst", "-sha256", "-sign", key, "-out", "sig.der", "msg.bin",
        ],
    );
    assert!(ok, "{out}");
    std::fs::read(dir.join("sig.der")).unwrap()
}

/// Posts a confirm with `proof` as it is.
fn confirm_with(svc: &Service, ticket: &str, result: &str, proof: Option<&[u8]>) -> (u16, Value) {
    let mut body = json!({ "result": result });
    if let Some(p) = proof {
        body["proof"] = json!(b64(p));
    }
    call(
        reqwest::Method::POST,
        &format!("{}/unlock/{ticket}/confirm", svc.base),
        Some(&body),
        None,
    )
}

/// Confirms as the real client does: signed by the certificate's key.
fn confirm(svc: &Service, k: &Key, ticket: &str, result: &str) -> (u16, Value) {
    let msg = unlock_confirm_message(ticket, &k.serial, result_of(result));
    let sig = sign_with(k.dir.path(), "k.pem", &msg);
    confirm_with(svc, ticket, result, Some(&sig))
}

/// Whether `so` opens the key as SO (pkcs11-tool, an independent client): a real SO
/// login, which also resets the user PIN to `user_pin`.
fn so_opens(k: &Key, so: &str, user_pin: &str) -> bool {
    p11(
        k.store.path(),
        &[
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            so,
            "--init-pin",
            "--new-pin",
            user_pin,
        ],
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
    // Without the key's signature nothing happens.
    let (s, e) = confirm_with(svc, &ticket2, "rotated", None);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("proof_required")),
        "{e}"
    );
    let (s, c) = confirm(svc, &k, &ticket2, "rotated");
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["state"], "completed");
    // A repeated confirm is harmless; a confirm of another outcome is refused.
    assert_eq!(confirm(svc, &k, &ticket2, "rotated").0, 200);
    assert_eq!(confirm(svc, &k, &ticket2, "failed").0, 409);

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
    assert_eq!(confirm(svc, &k, &ticket3, "failed").0, 200);
    assert!(p11(store, &["--login", "--pin", "97531864", "-O"]));

    // 4. A late confirm of the first ticket (superseded by the committed rotation) must
    //    not replace the SO PIN on file with the pending one the key does not hold.
    let (s, e) = confirm(svc, &k, &ticket1, "rotated");
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
    assert_eq!(confirm(&svc, &k, &ticket, "rotated").0, 409);

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
        dir: tempfile::tempdir().unwrap(),
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

/// Runs one SQL statement on the service's SQLite database (the sqlite3 tool).
fn sql(svc: &Service, statement: &str) {
    let out = Command::new("sqlite3")
        .arg(svc.data.path().join("ca.db"))
        .arg(statement)
        .output()
        .expect("sqlite3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn status_of(svc: &Service, ticket: &str) -> Value {
    let (s, v) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/{ticket}", svc.base),
        None,
        None,
    );
    assert_eq!(s, 200, "{v}");
    v
}

/// HMAC-SHA256 (RFC 2104), as the earlier confirm proof used it.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::digest([pad(0x36).as_slice(), msg].concat());
    Sha256::digest([pad(0x5c).as_slice(), inner.as_slice()].concat()).to_vec()
}

/// The review's attack: someone who knows the handler's name, ID and phone (personal
/// data, no secret) gets an approved ticket and the SO PINs, then claims a rotation that
/// never happened. Without a signature by the certificate's key the service commits
/// nothing, and the SO PIN on record still opens the key.
#[test]
fn a_rotation_is_committed_only_on_the_signature_of_the_keys_certificate() {
    let svc = Service::start(None);
    let k = activated_key(&svc, None);
    lock_user_pin(&k);

    let attacker = ClientKey::generate().unwrap();
    let (s, t) = ask(&svc, &k, &attacker, HANDLER);
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["state"], "approved");
    let ticket = t["ticket"].as_str().unwrap().to_string();
    let (so, next) = so_pins(&svc, &attacker, &ticket);

    // No proof at all.
    let (s, e) = confirm_with(&svc, &ticket, "rotated", None);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("proof_required")),
        "{e}"
    );
    // Anything the attacker can make: garbage, an HMAC-sized value, a signature of the
    // right message by another key, the certificate's key signing another ticket,
    // result or key serial.
    let other = tempfile::tempdir().unwrap();
    assert!(
        openssl(
            other.path(),
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "o.pem"
            ]
        )
        .0
    );
    let right = unlock_confirm_message(&ticket, &k.serial, UnlockResult::Rotated);
    let forged: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", vec![0x30, 0x03, 0x02, 0x01, 0x01]),
        (
            "the earlier proof, an HMAC keyed by the new SO PIN the attacker unwrapped",
            hmac_sha256(
                next.as_bytes(),
                &[
                    b"certkey-unlock-confirm-v1\0".as_slice(),
                    ticket.as_bytes(),
                    &[0],
                    b"rotated",
                ]
                .concat(),
            ),
        ),
        ("another key", sign_with(other.path(), "o.pem", &right)),
        (
            "another ticket",
            sign_with(
                k.dir.path(),
                "k.pem",
                &unlock_confirm_message("unl-other", &k.serial, UnlockResult::Rotated),
            ),
        ),
        (
            "another result",
            sign_with(
                k.dir.path(),
                "k.pem",
                &unlock_confirm_message(&ticket, &k.serial, UnlockResult::Failed),
            ),
        ),
        (
            "another key serial",
            sign_with(
                k.dir.path(),
                "k.pem",
                &unlock_confirm_message(&ticket, "OTHER", UnlockResult::Rotated),
            ),
        ),
    ];
    for (what, proof) in &forged {
        let (s, e) = confirm_with(&svc, &ticket, "rotated", Some(proof));
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (403, Some("proof_invalid")),
            "{what}: {e}"
        );
    }
    assert_eq!(
        status_of(&svc, &ticket)["state"],
        "approved",
        "nothing changed"
    );

    // The holder asks later: the SO PIN on record is the one the key holds.
    let holder = ClientKey::generate().unwrap();
    let (_, t) = ask(&svc, &k, &holder, HANDLER);
    let ticket2 = t["ticket"].as_str().unwrap().to_string();
    let (so2, next2) = so_pins(&svc, &holder, &ticket2);
    assert_eq!(so2, so, "no rotation was committed");
    assert_eq!(next2, next);
    assert!(
        so_opens(&k, &so2, "24681357"),
        "the SO PIN on record opens the key"
    );
    assert!(p11(k.store.path(), &["--login", "--pin", "24681357", "-O"]));

    // The restore call of the operator: authenticated, and only where a previous SO
    // PIN is on file.
    let restore = |serial: &str, token: Option<&str>| {
        call(
            reqwest::Method::POST,
            &format!("{}/admin/tokens/{serial}/so-pin/restore-previous", svc.base),
            None,
            token,
        )
    };
    assert_eq!(restore(&k.serial, None).0, 401);
    let (s, e) = restore(&k.serial, Some(&svc.admin));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("no_previous_so_pin")),
        "{e}"
    );
    let (s, e) = restore("NOPE", Some(&svc.admin));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("token_not_found")),
        "{e}"
    );
}

/// An approval not collected in time hands out nothing: `unlock_ticket_minutes` from
/// certkey-ca.toml counts (here 2), and 30 minutes when it is not set. The approval time
/// is moved back in the database. A confirm signed by the key still counts afterwards.
#[test]
fn an_approval_not_collected_in_time_hands_out_no_so_pin() {
    let svc = Service::start_configured(None, &|t| {
        assert!(
            t.contains("unlock_ticket_minutes = 30"),
            "init writes the default: {t}"
        );
        t.replace("unlock_ticket_minutes = 30", "unlock_ticket_minutes = 2")
    });
    let k = activated_key(&svc, None);
    lock_user_pin(&k);
    let client = ClientKey::generate().unwrap();
    let (_, t) = ask(&svc, &k, &client, HANDLER);
    let ticket = t["ticket"].as_str().unwrap().to_string();
    assert_eq!(status_of(&svc, &ticket)["state"], "approved");
    sql(
        &svc,
        &format!(
            "UPDATE unlock_tickets SET decided_at = decided_at - 100 WHERE ticket = '{ticket}'"
        ),
    );
    assert_eq!(
        status_of(&svc, &ticket)["state"],
        "approved",
        "within 2 minutes"
    );
    sql(
        &svc,
        &format!(
            "UPDATE unlock_tickets SET decided_at = decided_at - 30 WHERE ticket = '{ticket}'"
        ),
    );
    let v = status_of(&svc, &ticket);
    assert_eq!(v["state"], "expired", "{v}");
    assert!(
        v.get("so_pin").is_none() && v.get("new_so_pin").is_none(),
        "{v}"
    );
    // The key's own confirmation is still taken (a rotation done in time is never lost).
    let (s, c) = confirm(&svc, &k, &ticket, "failed");
    assert_eq!(s, 200, "{c}");

    // The default: 30 minutes.
    let svc = Service::start(None);
    let k = activated_key(&svc, None);
    let client = ClientKey::generate().unwrap();
    let (_, t) = ask(&svc, &k, &client, HANDLER);
    let ticket = t["ticket"].as_str().unwrap().to_string();
    sql(
        &svc,
        &format!(
            "UPDATE unlock_tickets SET decided_at = decided_at - 29 * 60 WHERE ticket = '{ticket}'"
        ),
    );
    assert_eq!(status_of(&svc, &ticket)["state"], "approved");
    sql(
        &svc,
        &format!(
            "UPDATE unlock_tickets SET decided_at = decided_at - 2 * 60 WHERE ticket = '{ticket}'"
        ),
    );
    assert_eq!(status_of(&svc, &ticket)["state"], "expired");

    // A configured value out of range stops the service at start.
    let data = tempfile::tempdir().unwrap();
    common::init(data.path(), None);
    let cfg = data.path().join("certkey-ca.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("unlock_ticket_minutes = 30", "unlock_ticket_minutes = 0"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["serve", "--data"])
        .arg(data.path())
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unlock_ticket_minutes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `client_key` that is no P-256 point is a 400 `invalid_client_key` when the request
/// arrives (unlock and activation), not a failure later.
#[test]
fn a_client_key_that_is_no_p256_point_is_refused_at_once() {
    let svc = Service::start(None);
    let k = activated_key(&svc, None);
    let (_, p) = common::produce(
        &svc,
        None,
        &[
            "--holder", "张三", "--type", "person", "--key", "p256", "--days", "40",
        ],
    );
    let good = ClientKey::generate().unwrap().public_sec1();
    let mut off_curve = good;
    off_curve[64] ^= 1;
    let mut compressed = vec![2 + (good[64] & 1)];
    compressed.extend_from_slice(&good[1..33]);
    let mut garbage = vec![4u8];
    garbage.extend_from_slice(&[0xff; 64]);
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("garbage point", garbage),
        ("wrong length", good[..64].to_vec()),
        ("too long", [good.as_slice(), &[0]].concat()),
        ("compressed", compressed),
        ("not on the curve", off_curve.to_vec()),
        ("identity", vec![0]),
    ];
    for (what, key) in &bad {
        let (s, e) = call(
            reqwest::Method::POST,
            &format!("{}/unlock", svc.base),
            Some(&json!({
                "token_serial": k.serial,
                "certificate_serial": k.cert_serial,
                "handler": {"name": HANDLER.0, "id_number": HANDLER.1, "phone": HANDLER.2},
                "client_key": b64(key),
            })),
            None,
        );
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalid_client_key")),
            "unlock, {what}: {e}"
        );
        let (s, e) = call(
            reqwest::Method::POST,
            &format!("{}/activation", svc.base),
            Some(&json!({
                "token_serial": p["token_serial"],
                "activation_code": p["activation_code"],
                "client_key": b64(key),
            })),
            None,
        );
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (400, Some("invalid_client_key")),
            "activation, {what}: {e}"
        );
    }
    // The right key still works: nothing was used up by the bad ones.
    let (s, a) = call(
        reqwest::Method::POST,
        &format!("{}/activation", svc.base),
        Some(&json!({
            "token_serial": p["token_serial"],
            "activation_code": p["activation_code"],
            "client_key": b64(&good),
        })),
        None,
    );
    assert_eq!(s, 200, "{a}");
}

// Materials for a request under review: the operator asks for them, the holder
// attaches scans, the operator reads them and decides.

const OTHER_HANDLER: (&str, &str, &str) = ("王五", "110101199001019999", "13900000000");

/// A new request of a handler who is not the one on file: its ticket, under review.
fn ticket_under_review(svc: &Service, k: &Key) -> String {
    let (s, t) = ask(svc, k, &ClientKey::generate().unwrap(), OTHER_HANDLER);
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["state"], "pending_review");
    t["ticket"].as_str().unwrap().to_string()
}

/// A small real picture in `format` (the image crate's encoder).
fn picture(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 12, |x, y| image::Rgb([x as u8 * 15, y as u8 * 20, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A small PDF document with one empty page.
fn pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut doc = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(doc.len());
        doc.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = doc.len();
    doc.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for o in offsets {
        doc.push_str(&format!("{o:010} 00000 n \n"));
    }
    doc.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    doc.into_bytes()
}

fn upload(svc: &Service, ticket: &str, name: &str, data: &[u8]) -> (u16, Value) {
    call(
        reqwest::Method::POST,
        &format!("{}/unlock/{ticket}/attachments", svc.base),
        Some(&json!({"file_name": name, "data": b64(data)})),
        None,
    )
}

/// An upload whose body is over the service's limit, on a raw socket: the service answers
/// 413 and closes without reading the rest, so a client that stops at the failed write
/// (reqwest does, at random) never sees the answer. The body is written from another
/// thread, its errors ignored, while this one reads the answer.
fn upload_over_limit(svc: &Service, ticket: &str, data: &[u8]) -> (u16, Value) {
    use std::io::{Read, Write};
    let addr = svc.base.trim_start_matches("http://");
    let (host, path) = addr.split_once('/').expect("base has a path");
    let body = serde_json::to_vec(&json!({"file_name": "huge.pdf", "data": b64(data)})).unwrap();
    let head = format!(
        "POST /{path}/unlock/{ticket}/attachments HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut conn = std::net::TcpStream::connect(host).expect("connect");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            // The reset after the answer: what was read before it stands.
            Err(e) if !answer.is_empty() && e.kind() == std::io::ErrorKind::ConnectionReset => {
                break
            }
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
    sender.join().unwrap();
    let text = String::from_utf8_lossy(&answer);
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "a plain body expected: {head}"
    );
    (status, serde_json::from_str(rest).unwrap_or(Value::Null))
}

fn admin(svc: &Service, method: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    call(
        method,
        &format!("{}/admin{path}", svc.base),
        body,
        Some(&svc.admin),
    )
}

/// GET with the admin token: (status, headers, body bytes).
fn admin_raw(svc: &Service, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    common::reqwest::tokio_rt().block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{}/admin{path}", svc.base))
            .bearer_auth(&svc.admin)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.bytes().await.unwrap().to_vec())
    })
}

fn code(r: &(u16, Value)) -> (u16, Option<&str>) {
    (r.0, r.1["error"]["code"].as_str())
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn materials_flow(svc: &Service, db_url: Option<&str>) {
    let k = activated_key(svc, db_url);
    let ticket = ticket_under_review(svc, &k);
    let v = status_of(svc, &ticket);
    assert_eq!(v["attachments"], json!([]), "{v}");
    assert!(v.get("note").is_none(), "{v}");

    // The operator asks for materials (with the admin token, and a note that says which).
    let ask_for = format!("/unlock/{ticket}/request-materials");
    let note = "请上传经办人身份证正反面和授权委托书\nID card (both sides) and the letter of authorisation";
    let (s, _) = call(
        reqwest::Method::POST,
        &format!("{}/admin{ask_for}", svc.base),
        Some(&json!({"note": note})),
        None,
    );
    assert_eq!(s, 401);
    for bad in [
        json!({"note": "  "}),
        json!({"note": "a\u{7}b"}),
        json!({"note": "字".repeat(501)}),
    ] {
        let r = admin(svc, reqwest::Method::POST, &ask_for, Some(&bad));
        assert_eq!(code(&r), (400, Some("invalid_note")), "{bad}: {}", r.1);
    }
    let r = admin(
        svc,
        reqwest::Method::POST,
        &ask_for,
        Some(&json!({"text": note})),
    );
    assert_eq!(code(&r), (422, Some("invalid_body")), "{}", r.1);
    let r = admin(
        svc,
        reqwest::Method::POST,
        &ask_for,
        Some(&json!({"note": note})),
    );
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["state"], "needs_materials");
    let v = status_of(svc, &ticket);
    assert_eq!(v["state"], "needs_materials", "{v}");
    assert_eq!(v["note"], note);
    let r = admin(
        svc,
        reqwest::Method::POST,
        &ask_for,
        Some(&json!({"note": "again"})),
    );
    assert_eq!(
        code(&r),
        (409, Some("invalid_state")),
        "only from under review"
    );

    // A real PDF puts the request back under review; the note stays for reference.
    let doc = pdf();
    let (s, a) = upload(svc, &ticket, "C:\\扫描\\授权委托书.pdf", &doc);
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        a["file_name"], "授权委托书.pdf",
        "only the base name is kept"
    );
    assert_eq!(a["media_type"], "pdf");
    assert_eq!(a["size"], doc.len());
    assert_eq!(a["sha256"], sha256_hex(&doc));
    assert!(a["id"].is_i64() && a["uploaded_at"].is_i64(), "{a}");
    let v = status_of(svc, &ticket);
    assert_eq!(v["state"], "pending_review", "{v}");
    assert_eq!(v["note"], note);
    assert_eq!(v["attachments"], json!([a]));

    // Real JPEG and PNG pictures, and a PDF of exactly 5 MiB.
    let jpeg = picture(image::ImageFormat::Jpeg);
    let png = picture(image::ImageFormat::Png);
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(certkey_protocol::MAX_ATTACHMENT_BYTES, b' ');
    let mut sent = vec![(doc.clone(), "application/pdf", "授权委托书.pdf")];
    for (name, data, media) in [
        ("身份证 正面.jpg", &jpeg, "image/jpeg"),
        ("id-back.png", &png, "image/png"),
        ("big.pdf", &big, "application/pdf"),
    ] {
        let (s, a) = upload(svc, &ticket, name, data);
        assert_eq!(s, 201, "{name}: {a}");
        assert_eq!(a["size"], data.len());
        sent.push((data.clone(), media, name));
    }

    // Refused, each with its own code, and nothing stored.
    let mut over = b"%PDF-1.7\n".to_vec();
    over.resize(certkey_protocol::MAX_ATTACHMENT_BYTES + 1, b' ');
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let html = b"<html>%PDF-1.4</html>".to_vec();
    let long_name = "长".repeat(129);
    let refusals: Vec<(&str, &[u8], (u16, &str))> = vec![
        ("scan.pdf", b"not a PDF at all", (422, "attachment_type")),
        ("photo.png", &gif, (422, "attachment_type")),
        ("doc.pdf", &html, (422, "attachment_type")),
        ("empty.pdf", b"", (422, "attachment_type")),
        ("over.pdf", &over, (413, "attachment_too_large")),
        ("", &doc, (400, "invalid_file_name")),
        ("a\nb.pdf", &doc, (400, "invalid_file_name")),
        ("dir/", &doc, (400, "invalid_file_name")),
        (&long_name, &doc, (400, "invalid_file_name")),
    ];
    for (name, data, want) in &refusals {
        let r = upload(svc, &ticket, name, data);
        assert_eq!(code(&r), (want.0, Some(want.1)), "{name:?}: {}", r.1);
    }
    let r = call(
        reqwest::Method::POST,
        &format!("{}/unlock/{ticket}/attachments", svc.base),
        Some(&json!({"file_name": "a.pdf", "data": "not base64!"})),
        None,
    );
    assert_eq!(code(&r), (422, Some("invalid_body")), "{}", r.1);
    let r = upload(svc, "unl-nope", "a.pdf", &doc);
    assert_eq!(code(&r), (404, Some("ticket_not_found")), "{}", r.1);
    let huge = vec![b'%'; 8 << 20];
    let r = upload_over_limit(svc, &ticket, &huge);
    assert_eq!(code(&r), (413, Some("payload_too_large")), "{}", r.1);

    // The fifth is taken, a sixth is not.
    let (s, a) = upload(svc, &ticket, "extra.png", &png);
    assert_eq!(s, 201, "{a}");
    sent.push((png.clone(), "image/png", "extra.png"));
    let r = upload(svc, &ticket, "sixth.jpg", &jpeg);
    assert_eq!(code(&r), (409, Some("attachment_limit")), "{}", r.1);

    // The operator lists them and fetches each: the same bytes, as a download of the
    // sniffed type.
    let list_path = format!("/unlock/{ticket}/attachments");
    assert_eq!(
        call(
            reqwest::Method::GET,
            &format!("{}/admin{list_path}", svc.base),
            None,
            None
        )
        .0,
        401
    );
    let (s, list) = admin(svc, reqwest::Method::GET, &list_path, None);
    assert_eq!(s, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 5);
    assert_eq!(
        Value::Array(list.clone()),
        status_of(svc, &ticket)["attachments"]
    );
    for (entry, (data, media, name)) in list.iter().zip(&sent) {
        assert_eq!(entry["file_name"], *name);
        assert_eq!(entry["sha256"], sha256_hex(data));
        let (s, headers, body) = admin_raw(svc, &format!("{list_path}/{}", entry["id"]));
        assert_eq!(s, 200, "{name}");
        assert!(&body == data, "{name}: the bytes come back unchanged");
        assert_eq!(headers["content-type"], *media);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename*=UTF-8''"),
            "{disposition}"
        );
    }
    let (_, headers, _) = admin_raw(svc, &format!("{list_path}/{}", list[1]["id"]));
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81%20%E6%AD%A3%E9%9D%A2.jpg"
    );
    // Another request's attachments are not reachable through this one.
    let other = ticket_under_review(svc, &k);
    let (s, a) = upload(svc, &other, "other.png", &png);
    assert_eq!(s, 201, "{a}");
    for id in [
        a["id"].to_string(),
        "999999".into(),
        "abc".into(),
        "-1".into(),
    ] {
        let (s, _, body) = admin_raw(svc, &format!("{list_path}/{id}"));
        let e: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (404, Some("attachment_not_found")),
            "{id}"
        );
    }
    let r = admin(
        svc,
        reqwest::Method::GET,
        "/unlock/unl-nope/attachments",
        None,
    );
    assert_eq!(code(&r), (404, Some("ticket_not_found")));

    // Audited: uploads, the request for materials and the fetches, without the file
    // names (personal data).
    let (_, audit) = admin(svc, reqwest::Method::GET, "/audit?limit=1000", None);
    let entries = audit["entries"].as_array().unwrap();
    let of = |action: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["detail"]["ticket"] == ticket.as_str())
            .collect::<Vec<_>>()
    };
    let uploads = of("unlock_attachment_uploaded");
    assert_eq!(uploads.len(), 5, "{audit}");
    assert!(uploads.iter().all(|e| e["subject"] == k.serial.as_str()));
    assert_eq!(of("unlock_materials_requested").len(), 1);
    assert_eq!(of("unlock_attachment_fetched").len(), 6);
    let text = audit.to_string();
    assert!(
        !text.contains("授权委托书") && !text.contains("id-back"),
        "{text}"
    );

    // Approved after the materials: nothing more is taken.
    let r = admin(
        svc,
        reqwest::Method::POST,
        &format!("/unlock/{ticket}/approve"),
        None,
    );
    assert_eq!(r.0, 200, "{}", r.1);
    let r = upload(svc, &ticket, "late.pdf", &doc);
    assert_eq!(code(&r), (409, Some("unlock_not_pending")), "{}", r.1);
    let v = status_of(svc, &ticket);
    assert_eq!(v["state"], "approved");
    assert_eq!(v["attachments"].as_array().unwrap().len(), 5);

    // Approved straight from needs_materials.
    let t2 = ticket_under_review(svc, &k);
    let ask2 = format!("/unlock/{t2}/request-materials");
    assert_eq!(
        admin(
            svc,
            reqwest::Method::POST,
            &ask2,
            Some(&json!({"note": "x"}))
        )
        .0,
        200
    );
    let r = admin(
        svc,
        reqwest::Method::POST,
        &format!("/unlock/{t2}/approve"),
        None,
    );
    assert_eq!(r.0, 200, "{}", r.1);
    let v = status_of(svc, &t2);
    assert_eq!(v["state"], "approved");
    assert!(v.get("so_pin").is_some() && v["note"] == "x", "{v}");

    // Rejected with a reason the holder sees; then nothing more is taken.
    let t3 = ticket_under_review(svc, &k);
    let reject3 = format!("/unlock/{t3}/reject");
    for bad in [
        json!({"reason": "a\tb"}),
        json!({"reason": "x".repeat(501)}),
    ] {
        let r = admin(svc, reqwest::Method::POST, &reject3, Some(&bad));
        assert_eq!(code(&r), (400, Some("invalid_note")), "{bad}");
    }
    let r = admin(
        svc,
        reqwest::Method::POST,
        &reject3,
        Some(&json!({"why": "x"})),
    );
    assert_eq!(code(&r), (422, Some("invalid_body")), "{}", r.1);
    assert_eq!(
        status_of(svc, &t3)["state"],
        "pending_review",
        "nothing decided"
    );
    let reason = "经办人信息与登记信息不符，请携带证件到柜台办理";
    let r = admin(
        svc,
        reqwest::Method::POST,
        &reject3,
        Some(&json!({"reason": reason})),
    );
    assert_eq!(r.0, 200, "{}", r.1);
    assert_eq!(r.1["reason"], reason);
    let v = status_of(svc, &t3);
    assert_eq!(
        (v["state"].as_str(), v["note"].as_str()),
        (Some("rejected"), Some(reason))
    );
    let r = upload(svc, &t3, "late.pdf", &doc);
    assert_eq!(code(&r), (409, Some("unlock_not_pending")), "{}", r.1);
    let r = admin(
        svc,
        reqwest::Method::POST,
        &format!("/unlock/{t3}/request-materials"),
        Some(&json!({"note": "x"})),
    );
    assert_eq!(code(&r), (409, Some("invalid_state")));

    // Rejected from needs_materials without a body: the earlier note is not a reason.
    let t4 = ticket_under_review(svc, &k);
    let ask4 = format!("/unlock/{t4}/request-materials");
    assert_eq!(
        admin(
            svc,
            reqwest::Method::POST,
            &ask4,
            Some(&json!({"note": "营业执照"}))
        )
        .0,
        200
    );
    let r = admin(
        svc,
        reqwest::Method::POST,
        &format!("/unlock/{t4}/reject"),
        None,
    );
    assert_eq!(r.0, 200, "{}", r.1);
    let v = status_of(svc, &t4);
    assert_eq!(v["state"], "rejected");
    assert!(v.get("note").is_none(), "{v}");
}

#[test]
fn materials_are_asked_for_attached_checked_read_and_decided_on_sqlite() {
    let svc = Service::start(None);
    materials_flow(&svc, None);
}

#[test]
fn materials_are_asked_for_attached_checked_read_and_decided_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    materials_flow(&svc, Some(&pg.url()));
}

/// Uploads racing for the last places of a request: exactly five are taken, whatever
/// the interleaving (the count is kept in the database, not in the process).
fn concurrent_uploads_stop_at_five(svc: &Service, db_url: Option<&str>) {
    let k = activated_key(svc, db_url);
    let ticket = ticket_under_review(svc, &k);
    let png = picture(image::ImageFormat::Png);
    let results: Vec<u16> = common::reqwest::tokio_rt().block_on(async {
        let client = reqwest::Client::new();
        let sends = (0..12).map(|i| {
            let client = client.clone();
            let url = format!("{}/unlock/{ticket}/attachments", svc.base);
            let body = json!({"file_name": format!("p{i}.png"), "data": b64(&png)});
            async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        });
        futures_join_all(sends).await
    });
    assert_eq!(
        results.iter().filter(|s| **s == 201).count(),
        5,
        "{results:?}"
    );
    assert!(
        results.iter().all(|s| *s == 201 || *s == 409),
        "{results:?}"
    );
    assert_eq!(
        status_of(svc, &ticket)["attachments"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// Runs the futures concurrently on the current runtime.
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[test]
fn concurrent_uploads_stop_at_five_on_sqlite() {
    let svc = Service::start(None);
    concurrent_uploads_stop_at_five(&svc, None);
}

#[test]
fn concurrent_uploads_stop_at_five_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    concurrent_uploads_stop_at_five(&svc, Some(&pg.url()));
}
