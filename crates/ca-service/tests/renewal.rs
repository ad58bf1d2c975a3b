//! Online renewal against a real service: challenge, proof of possession by the current
//! key (signed by OpenSSL), the new certificate continuing the old validity, retries
//! answered with the same certificate, and every refusal — plus the admin API pieces
//! renewal depends on (revocation, entitlements with their paid term), code reissue,
//! and the quote (each certificate type and state, payment required or not) with
//! renewals for a chosen term.

mod common;

use std::path::Path;

use certkey_protocol::v1::{renewal_signed_message, renewal_term_signed_message};
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
    certified_as(svc, db_url, dir, sm2, PERSON, validity)
}

/// `--holder`, `--type` (and `--org`) of each certificate type.
const PERSON: &[&str] = &["--holder", "张三", "--type", "person"];
const ORG_PERSON: &[&str] = &[
    "--holder",
    "张三",
    "--type",
    "org-person",
    "--org",
    "广东测试有限公司",
];
const ORGANISATION: &[&str] = &[
    "--holder",
    "广东测试有限公司",
    "--type",
    "org",
    "--org",
    "广东测试有限公司",
];

/// [`certified`] for a holder of another type (`who`: [`PERSON`], [`ORG_PERSON`],
/// [`ORGANISATION`]).
fn certified_as(
    svc: &Service,
    db_url: Option<&str>,
    dir: &Path,
    sm2: bool,
    who: &[&str],
    validity: &[&str],
) -> Vec<u8> {
    let mut args = who.to_vec();
    args.extend(["--key", if sm2 { "sm2" } else { "p256" }]);
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
    // Granted without a body: one year.
    let (s, g) = call(
        reqwest::Method::POST,
        &format!("{}/admin/certificates/{serial}/entitlement", svc.base),
        None,
        Some(&svc.admin),
    );
    assert_eq!((s, g["years"].as_u64()), (200, Some(1)), "{g}");
    // A request without a term (an older client) renews for the term paid for.
    let (s, r) = attempt("paid");
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        not_after(d, &unb64(&r["certificate"])) - not_after(d, &cert),
        time::Duration::days(365)
    );
}

fn quote_of(svc: &Service, serial: &str) -> (u16, Value) {
    call(
        reqwest::Method::GET,
        &format!("{}/renewal/quote?certificate_serial={serial}", svc.base),
        None,
        None,
    )
}

fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().expect("a time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339")
}

/// The default prices of certkey-ca.toml, fen: 300, 200 and 100 yuan a year.
fn default_prices(per_year: u64) -> Vec<u64> {
    (1..=5).map(|y| y * per_year).collect()
}

/// A challenge, then a renewal of `cert` (`dir/holder.key`) asking `years`, signed
/// over the message with the term; returns (status, answer).
fn renew_for(svc: &Service, dir: &Path, cert: &[u8], rid: &str, years: u32) -> (u16, Value) {
    let serial = serial_of(dir, cert);
    let (s, ch) = challenge(svc, &serial);
    assert_eq!(s, 200, "{ch}");
    let nonce = unb64(&ch["nonce"]);
    let csr = key_and_csr(dir, "next", false);
    let proof = sign(
        dir,
        "holder",
        &renewal_term_signed_message(&serial, years, &nonce, &csr),
        false,
    );
    post(
        &format!("{}/renewal", svc.base),
        &json!({"request_id": rid, "certificate": b64(cert), "csr": b64(&csr), "nonce": b64(&nonce), "signature": b64(&proof), "years": years}),
    )
}

/// The quote of each certificate type in each state, and a renewal for two years.
fn quote_and_term_flow(svc: &Service, pg: Option<&Postgres>) {
    let url = pg.map(Postgres::url);
    let db_url = url.as_deref();

    // Open: an organisation certificate with 30 days left.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let org = certified_as(svc, db_url, d, false, ORGANISATION, &["--days", "30"]);
    let serial = serial_of(d, &org);
    let (s, q) = quote_of(svc, &serial);
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["certificate_serial"], serial.as_str());
    assert_eq!(q["cert_type"], "organisation");
    assert_eq!(q["state"], "open");
    assert_eq!(q["days_left"], 30);
    assert!(q.get("opens_at").is_none(), "{q}");
    assert_eq!(rfc3339(&q["not_after"]), not_after(d, &org));
    assert_eq!(q["currency"], "CNY");
    let terms = q["terms"].as_array().unwrap();
    let years: Vec<u64> = terms.iter().map(|t| t["years"].as_u64().unwrap()).collect();
    assert_eq!(years, [1, 2, 3, 4, 5]);
    let prices: Vec<u64> = terms.iter().map(|t| t["price"].as_u64().unwrap()).collect();
    assert_eq!(prices, default_prices(30_000));
    for t in terms {
        let y = t["years"].as_i64().unwrap();
        assert_eq!(
            rfc3339(&t["not_after"]) - not_after(d, &org),
            time::Duration::days(365 * y)
        );
    }
    assert_eq!(q["payment_required"], false);
    assert!(q.get("paid_years").is_none() && q.get("payment_instructions").is_none());

    // Too early: a person in an organisation with a year left; open 90 days ahead.
    let dir2 = tempfile::tempdir().unwrap();
    let year = certified_as(
        svc,
        db_url,
        dir2.path(),
        true,
        ORG_PERSON,
        &["--years", "1"],
    );
    let (s, q) = quote_of(svc, &serial_of(dir2.path(), &year));
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["cert_type"], "org_person");
    assert_eq!(q["state"], "not_yet_open");
    assert!(q["days_left"].as_i64().unwrap() > 360, "{q}");
    assert_eq!(
        rfc3339(&q["not_after"]) - rfc3339(&q["opens_at"]),
        time::Duration::days(90)
    );
    let prices: Vec<u64> = q["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["price"].as_u64().unwrap())
        .collect();
    assert_eq!(prices, default_prices(20_000));

    // Expired: a natural person's certificate past its notAfter.
    let dir3 = tempfile::tempdir().unwrap();
    let person = certified_as(svc, db_url, dir3.path(), false, PERSON, &["--days", "30"]);
    let person_serial = serial_of(dir3.path(), &person);
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 2 * 86_400;
    svc.sql(
        pg,
        &format!("UPDATE certificates SET not_after = {past} WHERE serial = '{person_serial}'"),
    );
    let (s, q) = quote_of(svc, &person_serial);
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["cert_type"], "person");
    assert_eq!(q["state"], "expired");
    assert!(q["days_left"].as_i64().unwrap() <= 0, "{q}");
    assert!(q.get("opens_at").is_none(), "{q}");
    assert_eq!(q["terms"][0]["price"], 10_000);

    // Refusals: unknown, malformed and missing serials.
    let (s, e) = quote_of(svc, "0badc0ffee");
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("certificate_not_found"))
    );
    let (s, e) = quote_of(svc, "not-hex");
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_certificate_serial"))
    );
    let (s, e) = call(
        reqwest::Method::GET,
        &format!("{}/renewal/quote", svc.base),
        None,
        None,
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );

    // A term outside 1..5 and a proof without the term are refused; two years give
    // the old notAfter plus 730 days.
    let (s, e) = renew_for(svc, d, &org, "term-6", 6);
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_term"))
    );
    let (_, ch) = challenge(svc, &serial);
    let nonce = unb64(&ch["nonce"]);
    let csr = key_and_csr(d, "next", false);
    let v1 = sign(
        d,
        "holder",
        &renewal_signed_message(&serial, &nonce, &csr),
        false,
    );
    let (s, e) = post(
        &format!("{}/renewal", svc.base),
        &json!({"request_id": "term-v1", "certificate": b64(&org), "csr": b64(&csr), "nonce": b64(&nonce), "signature": b64(&v1), "years": 2}),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (403, Some("proof_invalid"))
    );
    let (s, r) = renew_for(svc, d, &org, "term-2", 2);
    assert_eq!(s, 200, "{r}");
    let new = unb64(&r["certificate"]);
    assert_eq!(
        not_after(d, &new) - not_after(d, &org),
        time::Duration::days(730)
    );
    let (_, q) = quote_of(svc, &serial);
    assert_eq!(q["state"], "renewed");
    let (_, q) = quote_of(svc, &serial_of(d, &new));
    assert_eq!(q["state"], "not_yet_open");
    assert_eq!(q["cert_type"], "organisation");

    // Revoked.
    let (s, _) = call(
        reqwest::Method::POST,
        &format!(
            "{}/admin/certificates/{}/revoke",
            svc.base,
            serial_of(dir2.path(), &year)
        ),
        None,
        Some(&svc.admin),
    );
    assert_eq!(s, 200);
    let (_, q) = quote_of(svc, &serial_of(dir2.path(), &year));
    assert_eq!(q["state"], "revoked");
}

#[test]
fn the_quote_tells_each_type_and_state_and_a_two_year_term_renews_for_730_days_on_sqlite() {
    let svc = Service::start(None);
    quote_and_term_flow(&svc, None);
}

#[test]
fn the_quote_tells_each_type_and_state_and_a_two_year_term_renews_for_730_days_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    quote_and_term_flow(&svc, Some(&pg));
}

/// certkey-ca.toml requiring payment, with the natural person's prices changed.
fn paid_config(text: String) -> String {
    let mut cfg: toml::Table = toml::from_str(&text).expect("certkey-ca.toml");
    assert_eq!(cfg["require_renewal_entitlement"].as_bool(), Some(false));
    cfg.insert("require_renewal_entitlement".into(), true.into());
    let prices = cfg["renewal"]["prices"]
        .as_table()
        .expect("[renewal.prices]");
    let mut prices = prices.clone();
    prices.insert(
        "person".into(),
        toml::Value::Array(
            [9900, 18800, 26600, 33300, 40000]
                .map(toml::Value::from)
                .into(),
        ),
    );
    let mut renewal = cfg["renewal"].as_table().expect("[renewal]").clone();
    renewal.insert("prices".into(), prices.into());
    cfg.insert("renewal".into(), renewal.into());
    toml::to_string(&cfg).expect("toml")
}

/// Payment required: the quote says how to pay until the admin records a term; then
/// only that term renews.
fn paid_term_flow(svc: &Service, pg: Option<&Postgres>) {
    let url = pg.map(Postgres::url);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cert = certified_as(svc, url.as_deref(), d, false, PERSON, &["--days", "40"]);
    let serial = serial_of(d, &cert);
    let (s, q) = quote_of(svc, &serial);
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["state"], "open");
    assert_eq!(q["payment_required"], true);
    assert!(q.get("paid_years").is_none(), "{q}");
    let how = &q["payment_instructions"];
    assert!(how["zh_cn"].as_str().unwrap().contains("缴费"), "{q}");
    assert!(how["en"].as_str().unwrap().contains("pay"), "{q}");
    let prices: Vec<u64> = q["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["price"].as_u64().unwrap())
        .collect();
    assert_eq!(prices, [9900, 18800, 26600, 33300, 40000]);

    let grant = |body: Value| {
        call(
            reqwest::Method::POST,
            &format!("{}/admin/certificates/{serial}/entitlement", svc.base),
            Some(&body),
            Some(&svc.admin),
        )
    };
    let (s, e) = grant(json!({"years": 9}));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_term"))
    );
    let (s, g) = grant(json!({"years": 3}));
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["years"], 3);
    let (_, q) = quote_of(svc, &serial);
    assert_eq!(q["paid_years"], 3);
    assert!(q.get("payment_instructions").is_none(), "{q}");

    // Another term than the one paid for: refused, nothing used up.
    let (s, e) = renew_for(svc, d, &cert, "paid-2", 2);
    assert_eq!(
        (
            s,
            e["error"]["code"].as_str(),
            e["error"]["paid_years"].as_u64()
        ),
        (409, Some("renewal_term_mismatch"), Some(3)),
        "{e}"
    );
    let (_, q) = quote_of(svc, &serial);
    assert_eq!(
        (q["state"].as_str(), q["paid_years"].as_u64()),
        (Some("open"), Some(3))
    );
    let (s, r) = renew_for(svc, d, &cert, "paid-3", 3);
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        not_after(d, &unb64(&r["certificate"])) - not_after(d, &cert),
        time::Duration::days(3 * 365)
    );
    let (_, q) = quote_of(svc, &serial);
    assert_eq!(q["state"], "renewed");
    assert!(q.get("paid_years").is_none(), "used once: {q}");

    let (_, log) = call(
        reqwest::Method::GET,
        &format!("{}/admin/audit?limit=20", svc.base),
        None,
        Some(&svc.admin),
    );
    let entries = log["entries"].as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action && e["subject"] == serial.as_str())
            .unwrap_or_else(|| panic!("no {action} in {log}"))
    };
    assert_eq!(find("renewal_entitled")["detail"]["years"], 3);
    assert_eq!(find("certificate_renewed")["detail"]["years"], 3);
}

#[test]
fn payment_required_quotes_how_to_pay_and_only_the_paid_term_renews_on_sqlite() {
    let svc = Service::start_configured(None, &paid_config);
    paid_term_flow(&svc, None);
}

#[test]
fn payment_required_quotes_how_to_pay_and_only_the_paid_term_renews_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start_configured(Some(&pg.url()), &paid_config);
    paid_term_flow(&svc, Some(&pg));
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

/// Renewal prices need one price per term (five), and a currency code: a config
/// without them stops the service at start, naming what is wrong.
#[test]
fn a_price_list_without_five_terms_or_a_bad_currency_stops_the_service() {
    let data = tempfile::tempdir().unwrap();
    common::init(data.path(), None);
    let path = data.path().join("certkey-ca.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edit = |f: &dyn Fn(&mut toml::Table)| {
        let mut cfg: toml::Table = toml::from_str(&text).unwrap();
        let mut renewal = cfg["renewal"].as_table().unwrap().clone();
        f(&mut renewal);
        cfg.insert("renewal".into(), renewal.into());
        toml::to_string(&cfg).unwrap()
    };
    let four = edit(&|r| {
        let mut prices = r["prices"].as_table().unwrap().clone();
        prices.insert("org_person".into(), vec![1, 2, 3, 4].into());
        r.insert("prices".into(), prices.into());
    });
    let yuan = edit(&|r| {
        r.insert("currency".into(), "yuan".into());
    });
    for (config, says) in [(four, "org_person"), (yuan, "currency")] {
        std::fs::write(&path, config).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
            .args(["serve", "--data"])
            .arg(data.path())
            .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{err}");
    }
}
