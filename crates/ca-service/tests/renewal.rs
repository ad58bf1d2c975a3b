//! Online renewal against a real service: challenge, proof of possession by the current
//! key (signed by OpenSSL), the new certificate continuing the old validity, retries
//! answered with the same certificate, and every refusal — plus the admin API pieces
//! renewal depends on (revocation, entitlements) and code reissue.

mod common;

use std::path::Path;

use certkey_protocol::v1::renewal_signed_message;
use certkey_protocol::wrap::ClientKey;
use common::{b64, call, openssl, post, unb64, Postgres, Service, DISTID};
use serde_json::{json, Value};

/// A key and its CSR made by OpenSSL in `dir` (`name.key`, `name.csr` DER).
fn key_and_csr(dir: &Path, name: &str, sm2: bool) -> Vec<u8> {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let ok = if sm2 {
        openssl(dir, &["genpkey", "-algorithm", "SM2", "-out", &key]).0
            && openssl(
                dir,
                &[
                    "req", "-new", "-key", &key, "-sm3", "-sigopt", DISTID, "-subj", "/CN=x",
                    "-outform", "DER", "-out", &csr,
                ],
            )
            .0
    } else {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &key,
            ],
        )
        .0 && openssl(
            dir,
            &[
                "req", "-new", "-key", &key, "-subj", "/CN=x", "-outform", "DER", "-out", &csr,
            ],
        )
        .0
    };
    assert!(ok, "openssl key and CSR");
    std::fs::read(dir.join(csr)).unwrap()
}

/// A DER signature by `name.key` over `msg`, made by OpenSSL.
fn sign(dir: &Path, name: &str, msg: &[u8], sm2: bool) -> Vec<u8> {
    std::fs::write(dir.join("msg.bin"), msg).unwrap();
    let key = format!("{name}.key");
    let (ok, out) = if sm2 {
        openssl(
            dir,
            &[
                "dgst", "-sm3", "-sign", &key, "-sigopt", DISTID, "-out", "sig.der", "msg.bin",
            ],
        )
    } else {
        openssl(
            dir,
            &[
                "dgst", "-sha256", "-sign", &key, "-out", "sig.der", "msg.bin",
            ],
        )
    };
    assert!(ok, "{out}");
    std::fs::read(dir.join("sig.der")).unwrap()
}

fn not_after(dir: &Path, der: &[u8]) -> time::OffsetDateTime {
    std::fs::write(dir.join("c.der"), der).unwrap();
    let (_, out) = openssl(
        dir,
        &[
            "x509", "-inform", "DER", "-in", "c.der", "-noout", "-enddate", "-dateopt", "iso_8601",
        ],
    );
    let v = out
        .trim()
        .strip_prefix("notAfter=")
        .expect("notAfter")
        .replacen(' ', "T", 1);
    time::OffsetDateTime::parse(&v, &time::format_description::well_known::Rfc3339).expect("date")
}

fn serial_of(dir: &Path, der: &[u8]) -> String {
    std::fs::write(dir.join("s.der"), der).unwrap();
    let (_, out) = openssl(
        dir,
        &[
            "x509", "-inform", "DER", "-in", "s.der", "-noout", "-serial",
        ],
    );
    out.trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

/// Produces a key, activates it with an OpenSSL CSR (`dir/holder.key`); returns the
/// certificate DER.
fn certified(
    svc: &Service,
    db_url: Option<&str>,
    dir: &Path,
    sm2: bool,
    validity: &[&str],
) -> Vec<u8> {
    let mut args = vec![
        "--holder",
        "张三",
        "--type",
        "person",
        "--key",
        if sm2 { "sm2" } else { "p256" },
    ];
    args.extend_from_slice(validity);
    let (_store, p) = common::produce(svc, db_url, &args);
    let client = ClientKey::generate().unwrap();
    let (s, a) = post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": p["token_serial"], "activation_code": p["activation_code"], "client_key": b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{a}");
    let csr = key_and_csr(dir, "holder", sm2);
    let (s, c) = post(
        &format!(
            "{}/activation/{}/certificate",
            svc.base,
            a["activation_id"].as_str().unwrap()
        ),
        &json!({"csr": b64(&csr)}),
    );
    assert_eq!(s, 200, "{c}");
    unb64(&c["certificate"])
}

fn challenge(svc: &Service, serial: &str) -> (u16, Value) {
    post(
        &format!("{}/renewal/challenge", svc.base),
        &json!({"certificate_serial": serial}),
    )
}

fn renew_flow(svc: &Service, db_url: Option<&str>, sm2: bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = certified(svc, db_url, d, sm2, &["--days", "30"]);
    let serial = serial_of(d, &old);
    let (s, ch) = challenge(svc, &serial);
    assert_eq!(s, 200, "{ch}");
    let nonce = unb64(&ch["nonce"]);
    assert_eq!(nonce.len(), 32);
    let csr = key_and_csr(d, "next", sm2);
    let proof = sign(
        d,
        "holder",
        &renewal_signed_message(&serial, &nonce, &csr),
        sm2,
    );
    let body = json!({"request_id": "renew-1", "certificate": b64(&old), "csr": b64(&csr), "nonce": b64(&nonce), "signature": b64(&proof)});
    let (s, r) = post(&format!("{}/renewal", svc.base), &body);
    assert_eq!(s, 200, "{r}");
    let new = unb64(&r["certificate"]);
    assert_ne!(new, old);
    // The new certificate continues the old validity by the order's term (30 days).
    assert_eq!(
        not_after(d, &new) - not_after(d, &old),
        time::Duration::days(30)
    );
    // It is for the new key, and chains to the CA.
    std::fs::write(d.join("new.der"), &new).unwrap();
    let (_, cert_pub) = openssl(
        d,
        &[
            "x509", "-inform", "DER", "-in", "new.der", "-noout", "-pubkey",
        ],
    );
    let (_, csr_pub) = openssl(
        d,
        &[
            "req", "-inform", "DER", "-in", "next.csr", "-noout", "-pubkey",
        ],
    );
    assert_eq!(cert_pub, csr_pub);
    let chain = r["chain"].as_array().unwrap();
    std::fs::write(d.join("issuing.der"), unb64(&chain[0])).unwrap();
    assert!(
        openssl(
            d,
            &[
                "x509",
                "-inform",
                "DER",
                "-in",
                "issuing.der",
                "-out",
                "issuing.pem"
            ]
        )
        .0
    );
    assert!(
        openssl(
            d,
            &["x509", "-inform", "DER", "-in", "new.der", "-out", "new.pem"]
        )
        .0
    );
    let mut args = vec!["verify", "-partial_chain"];
    if sm2 {
        args.extend(["-vfyopt", DISTID]);
    }
    args.extend(["-CAfile", "issuing.pem", "new.pem"]);
    let (ok, out) = openssl(d, &args);
    assert!(ok, "{out}");

    // A retry of the same request gets the same certificate, never a second one.
    let (s, again) = post(&format!("{}/renewal", svc.base), &body);
    assert_eq!(s, 200, "{again}");
    assert_eq!(again["certificate"], r["certificate"]);
    // The old certificate cannot be renewed a second time.
    let (s, e) = challenge(svc, &serial);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("already_renewed"))
    );
    let mut other = body.clone();
    other["request_id"] = json!("renew-2");
    let (s, e) = post(&format!("{}/renewal", svc.base), &other);
    assert_eq!(s, 409, "{e}");
}

#[test]
fn an_sm2_certificate_renews_once_and_retries_return_the_same_certificate_on_sqlite() {
    let svc = Service::start(None);
    renew_flow(&svc, None, true);
}

#[test]
fn a_p256_certificate_renews_once_and_retries_return_the_same_certificate_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    renew_flow(&svc, Some(&pg.url()), false);
}

#[test]
fn renewal_is_refused_outside_the_window_without_proof_or_when_revoked() {
    let svc = Service::start(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // A one-year certificate: not yet in the 90-day window.
    let year = certified(&svc, None, d, false, &["--years", "1"]);
    let (s, e) = challenge(&svc, &serial_of(d, &year));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("renewal_not_open"))
    );
    assert!(e["error"]["days_left"].as_i64().unwrap() > 360);

    let dir2 = tempfile::tempdir().unwrap();
    let d2 = dir2.path();
    let cert = certified(&svc, None, d2, false, &["--days", "10"]);
    let serial = serial_of(d2, &cert);
    let (_, ch) = challenge(&svc, &serial);
    let nonce = unb64(&ch["nonce"]);
    let csr = key_and_csr(d2, "next", false);
    // Signed by a key that is not the certificate's.
    key_and_csr(d2, "stranger", false);
    let bad_proof = sign(
        d2,
        "stranger",
        &renewal_signed_message(&serial, &nonce, &csr),
        false,
    );
    let mut body = json!({"request_id": "r-bad", "certificate": b64(&cert), "csr": b64(&csr), "nonce": b64(&nonce), "signature": b64(&bad_proof)});
    let (s, e) = post(&format!("{}/renewal", svc.base), &body);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("proof_invalid"))
    );
    // Signed over the nonce alone, over nonce || CSR without the label and serial,
    // or for another certificate's serial: never a proof for this renewal.
    for other in [
        nonce.clone(),
        [nonce.as_slice(), &csr].concat(),
        renewal_signed_message("01", &nonce, &csr),
    ] {
        body["signature"] = json!(b64(&sign(d2, "holder", &other, false)));
        let (s, e) = post(&format!("{}/renewal", svc.base), &body);
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (403, Some("proof_invalid"))
        );
    }
    // A challenge taken before the revocation below, for the proof made after it.
    let (_, late) = challenge(&svc, &serial);
    let late_nonce = unb64(&late["nonce"]);
    // A nonce the service never gave.
    body["nonce"] = json!(b64(&[7u8; 32]));
    let (s, e) = post(&format!("{}/renewal", svc.base), &body);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("challenge_invalid"))
    );
    // A certificate this CA did not issue.
    body["certificate"] = json!(b64(&year[..year.len() - 1]));
    let (s, _) = post(&format!("{}/renewal", svc.base), &body);
    assert!(s == 400 || s == 404, "{s}");

    // Revoked through the admin API: no renewal. Without the token: 401.
    let revoke = format!("{}/admin/certificates/{serial}/revoke", svc.base);
    let (s, e) = call(reqwest::Method::POST, &revoke, None, None);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (s, e) = call(reqwest::Method::POST, &revoke, None, Some("wrong-token"));
    assert_eq!(s, 401, "{e}");
    let (s, _) = call(reqwest::Method::POST, &revoke, None, Some(&svc.admin));
    assert_eq!(s, 200);
    let (s, e) = challenge(&svc, &serial);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("certificate_revoked"))
    );
    // A renewal with a challenge and a valid proof from before the revocation: the
    // issuing transaction (the only place /renewal checks revocation) refuses it.
    let proof = sign(
        d2,
        "holder",
        &renewal_signed_message(&serial, &late_nonce, &csr),
        false,
    );
    let (s, e) = post(
        &format!("{}/renewal", svc.base),
        &json!({"request_id": "r-late", "certificate": b64(&cert), "csr": b64(&csr), "nonce": b64(&late_nonce), "signature": b64(&proof)}),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("certificate_revoked")),
        "{e}"
    );

    // Everything above is in the audit log.
    let (s, log) = call(
        reqwest::Method::GET,
        &format!("{}/admin/audit?limit=50", svc.base),
        None,
        Some(&svc.admin),
    );
    assert_eq!(s, 200);
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "certificate_revoked",
        "certificate_issued",
        "token_produced",
        "ca_initialised",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    assert!(
        !actions.contains(&"certificate_renewed"),
        "nothing was renewed: {actions:?}"
    );
}

#[test]
fn a_required_entitlement_is_granted_by_the_admin_and_used_once() {
    let svc = Service::start_configured(None, &|t| {
        assert!(t.contains("require_renewal_entitlement = false"), "{t}");
        t.replace(
            "require_renewal_entitlement = false",
            "require_renewal_entitlement = true",
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = certified(&svc, None, d, true, &["--days", "20"]);
    let serial = serial_of(d, &cert);
    let attempt = |rid: &str| {
        let (_, ch) = challenge(&svc, &serial);
        let nonce = unb64(&ch["nonce"]);
        let csr = key_and_csr(d, "next", true);
        let proof = sign(
            d,
            "holder",
            &renewal_signed_message(&serial, &nonce, &csr),
            true,
        );
        post(
            &format!("{}/renewal", svc.base),
            &json!({"request_id": rid, "certificate": b64(&cert), "csr": b64(&csr), "nonce": b64(&nonce), "signature": b64(&proof)}),
        )
    };
    let (s, e) = attempt("unpaid");
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (402, Some("renewal_entitlement_required"))
    );
    let (s, _) = call(
        reqwest::Method::POST,
        &format!("{}/admin/certificates/{serial}/entitlement", svc.base),
        None,
        Some(&svc.admin),
    );
    assert_eq!(s, 200);
    let (s, r) = attempt("paid");
    assert_eq!(s, 200, "{r}");
}

#[test]
fn the_admin_reissues_a_code_for_a_locked_order() {
    let svc = Service::start(None);
    let (_store, p) = common::produce(
        &svc,
        None,
        &["--holder", "赵六", "--type", "person", "--key", "p256"],
    );
    let code = p["activation_code"].as_str().unwrap();
    let bad = if code == "000000" { "111111" } else { "000000" };
    let client = ClientKey::generate().unwrap();
    let try_code = |c: &str| {
        post(
            &format!("{}/activation", svc.base),
            &json!({"token_serial": p["token_serial"], "activation_code": c, "client_key": b64(&client.public_sec1())}),
        )
    };
    for _ in 0..5 {
        try_code(bad);
    }
    assert_eq!(try_code(code).0, 423);
    let (s, fresh) = call(
        reqwest::Method::POST,
        &format!(
            "{}/admin/orders/{}/code",
            svc.base,
            p["order_id"].as_str().unwrap()
        ),
        None,
        Some(&svc.admin),
    );
    assert_eq!(s, 200, "{fresh}");
    let new_code = fresh["activation_code"].as_str().unwrap();
    assert_eq!(try_code(code).0, 403, "the old code is gone");
    let (s, a) = try_code(new_code);
    assert_eq!(s, 200, "{a}");
}
