//! Hardening of the CA service against a real `certkey-ca serve`: orders that could
//! never be issued are refused up front, bad CSRs and signing faults get honest codes,
//! every unauthenticated endpoint is rate limited per client address (X-Forwarded-For
//! only from trusted proxies), old rows are pruned, and a production interrupted while
//! `producing` can be retried with the SO PIN on record.

mod common;

use std::path::Path;
use std::process::Command;

use common::{call, softkey, Postgres, Service};
use serde_json::{json, Value};
use sqlx::Row;

/// Rows of `table` in the service's database (SQLite file or PostgreSQL).
fn count(svc: &Service, db_url: Option<&str>, table: &str) -> i64 {
    let url = db_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{}", svc.data.path().join("ca.db").display()));
    common::reqwest::tokio_rt().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("database");
        let row = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .expect("count");
        row.try_get::<i64, _>(0).expect("count")
    })
}

fn softkey_ctl(store: &Path, args: &[&str]) -> Value {
    let out = Command::new(
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_certkey-ca"))
            .with_file_name("certkey-softkey"),
    )
    .arg("--dir")
    .arg(store)
    .args(args)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "certkey-softkey {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A service allowed to produce keys on softkey in `store`.
fn producing_service(db_url: Option<&str>, store: &Path) -> Service {
    let module_s = softkey().to_str().unwrap().to_string();
    let store_s = store.to_str().unwrap().to_string();
    let env = [("CERTKEY_SOFTKEY_DIR", store_s.as_str())];
    Service::start_with(
        db_url,
        &common::Options {
            init_args: &[],
            env: &env,
        },
        &|t| {
            t.replace(
                "production_modules = []",
                &format!("production_modules = [{module_s:?}]"),
            )
        },
    )
}

fn production_order(org: &str) -> Value {
    json!({
        "module": softkey().to_str().unwrap(),
        "slot": 0,
        "holder": "王五",
        "org": org,
        "cert_type": "org_person",
        "years": 1,
        "key_algorithm": "sm2",
        "handler": {"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"},
    })
}

/// `certkey-ca produce` with `org` on the softkey store: (success, stderr).
fn cli_produce(
    svc: &Service,
    db_url: Option<&str>,
    store: &Path,
    org: &str,
) -> (bool, String, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey-ca"));
    cmd.args(["produce", "--json", "--data"])
        .arg(svc.data.path())
        .arg("--module")
        .arg(softkey())
        .args([
            "--slot",
            "0",
            "--holder",
            "王五",
            "--type",
            "org-person",
            "--org",
            org,
        ])
        .args(["--years", "1", "--key", "sm2"])
        .args([
            "--handler-name",
            "王五",
            "--handler-id",
            "110101199001011234",
        ])
        .args(["--handler-phone", "13800000000"])
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .env("CERTKEY_SOFTKEY_DIR", store);
    if let Some(u) = db_url {
        cmd.args(["--database-url", u]);
    }
    let out = cmd.output().expect("certkey-ca produce");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

fn names_that_cannot_be_issued_are_refused_before_anything_is_written(db_url: Option<&str>) {
    let store = tempfile::tempdir().unwrap();
    let svc = producing_service(db_url, store.path());
    let long_org = "机".repeat(100);
    let before: Vec<i64> = ["tokens", "orders", "audit"]
        .iter()
        .map(|t| count(&svc, db_url, t))
        .collect();

    // POST /admin/orders for a key initialised elsewhere.
    let order = json!({
        "token_serial": "EXT-0001", "holder": "钱七", "org": long_org, "cert_type": "org_person",
        "years": 1, "key_algorithm": "p256",
        "handler": {"name": "钱七", "id_number": "110101199001015678", "phone": "13700000000"},
        "so_pin": "SoPin2026x", "initial_pin": "73918264",
    });
    let url = format!("{}/admin/orders", svc.base);
    let (s, e) = call(reqwest::Method::POST, &url, Some(&order), Some(&svc.admin));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_org")),
        "{e}"
    );
    let mut long_holder = order.clone();
    long_holder["org"] = json!("某某有限公司");
    long_holder["holder"] = json!("x".repeat(65));
    let (s, e) = call(
        reqwest::Method::POST,
        &url,
        Some(&long_holder),
        Some(&svc.admin),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_holder")),
        "{e}"
    );

    // POST /admin/production on a blank softkey.
    let url = format!("{}/admin/production", svc.base);
    let (s, e) = call(
        reqwest::Method::POST,
        &url,
        Some(&production_order(&long_org)),
        Some(&svc.admin),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_org")),
        "{e}"
    );

    // certkey-ca produce.
    let (ok, err, _) = cli_produce(&svc, db_url, store.path(), &long_org);
    assert!(!ok);
    assert!(err.contains("invalid_org"), "{err}");

    // Nothing written, the key untouched.
    let after: Vec<i64> = ["tokens", "orders", "audit"]
        .iter()
        .map(|t| count(&svc, db_url, t))
        .collect();
    assert_eq!(before, after, "tokens, orders, audit rows");
    assert_eq!(after[..2], [0, 0]);
    let status = softkey_ctl(store.path(), &["status", "--json"]);
    assert_eq!(status["slots"][0]["initialized"], false, "{status}");

    // 64 characters is the X.520 bound: accepted, and the key is produced.
    let (s, p) = call(
        reqwest::Method::POST,
        &url,
        Some(&production_order(&"机".repeat(64))),
        Some(&svc.admin),
    );
    assert_eq!(s, 200, "{p}");
}

#[test]
fn names_that_cannot_be_issued_are_refused_on_sqlite() {
    names_that_cannot_be_issued_are_refused_before_anything_is_written(None);
}

#[test]
fn names_that_cannot_be_issued_are_refused_on_postgresql() {
    let pg = Postgres::start();
    names_that_cannot_be_issued_are_refused_before_anything_is_written(Some(&pg.url()));
}

// ---------------------------------------------------------------------------
// Honest errors: a bad CSR is the client's fault, a failing HSM is not.
// ---------------------------------------------------------------------------

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn openssl_p256_csr(dir: &Path) -> Vec<u8> {
    let (ok, out) = common::openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = common::openssl(
        dir,
        &[
            "req", "-new", "-key", "k.pem", "-subj", "/CN=x", "-outform", "DER", "-out", "r.der",
        ],
    );
    assert!(ok, "{out}");
    std::fs::read(dir.join("r.der")).unwrap()
}

#[test]
fn a_bad_csr_is_400_and_a_vanished_hsm_token_is_503_signing_unavailable() {
    let hsm = tempfile::tempdir().unwrap();
    let tokens = hsm.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = hsm.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "certkey-ca"])
        .args(["--pin", "24681357", "--so-pin", "13572468"])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = [
        ("SOFTHSM2_CONF", conf.as_str()),
        ("CERTKEY_CA_PKCS11_PIN", "24681357"),
    ];
    let svc = Service::start_with(
        None,
        &common::Options {
            init_args: &["--pkcs11-module", SOFTHSM, "--pkcs11-token", "certkey-ca"],
            env: &env,
        },
        &|t| t,
    );
    let (_store, p) = common::produce(
        &svc,
        None,
        &[
            "--holder", "张三", "--type", "person", "--years", "1", "--key", "p256",
        ],
    );
    let client = certkey_protocol::wrap::ClientKey::generate().unwrap();
    let (s, a) = common::post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": p["token_serial"], "activation_code": p["activation_code"],
                "client_key": common::b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{a}");
    let url = format!(
        "{}/activation/{}/certificate",
        svc.base,
        a["activation_id"].as_str().unwrap()
    );

    // A malformed CSR and one whose signature does not verify: 400 csr_invalid.
    let (s, e) = common::post(&url, &json!({"csr": common::b64(b"\x30\x03\x02\x01\x00")}));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("csr_invalid")),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let csr = openssl_p256_csr(dir.path());
    let mut tampered = csr.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let (s, e) = common::post(&url, &json!({"csr": common::b64(&tampered)}));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("csr_invalid")),
        "{e}"
    );

    // The CA's token goes away under the running service (its files are moved off):
    // signing fails, which is 503 signing_unavailable, not the client's CSR.
    let away = hsm.path().join("away");
    std::fs::rename(&tokens, &away).unwrap();
    let (s, e) = common::post(&url, &json!({"csr": common::b64(&csr)}));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (503, Some("signing_unavailable")),
        "{e}"
    );
    // Nothing was consumed: the order still waits for its CSR.
    let (s, o) = common::post(
        &format!("{}/activation/lookup", svc.base),
        &json!({"token_serial": p["token_serial"]}),
    );
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["state"], "awaiting_csr");
    // The service keeps answering.
    assert_eq!(
        common::reqwest::blocking_get(&format!("{}/health", svc.base)),
        Ok(200)
    );
}

// ---------------------------------------------------------------------------
// Rate limits on every unauthenticated endpoint, per client address.
// ---------------------------------------------------------------------------

/// Sets every `*_per_minute` to `n` and the trusted proxies.
fn limited(text: String, n: u32, proxies: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.split_once(" = ") {
            Some((k, _)) if k.ends_with("_per_minute") => out.push_str(&format!("{k} = {n}")),
            Some(("trusted_proxies", _)) => out.push_str(&format!("trusted_proxies = {proxies}")),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Waits, if needed, so that a burst of requests falls in one one-minute window.
fn fresh_window() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 60 > 45 {
        std::thread::sleep(std::time::Duration::from_secs(61 - now % 60));
    }
}

fn send(
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
    xff: Option<&str>,
) -> (u16, Value) {
    common::reqwest::tokio_rt().block_on(async {
        let mut r = reqwest::Client::new().request(method, url);
        if let Some(b) = body {
            r = r.json(b);
        }
        if let Some(x) = xff {
            r = r.header("X-Forwarded-For", x);
        }
        let r = r.send().await.expect("request");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    })
}

fn endpoints(base: &str) -> Vec<(reqwest::Method, String, Option<Value>)> {
    // A valid P-256 point: a malformed one is refused (400) before the limit counts.
    let key = common::b64(
        &certkey_protocol::wrap::ClientKey::generate()
            .unwrap()
            .public_sec1(),
    );
    let cert = common::b64(b"not a certificate");
    let handler =
        json!({"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"});
    use reqwest::Method;
    vec![
        (
            Method::POST,
            format!("{base}/activation/lookup"),
            Some(json!({"token_serial": "NOPE-1"})),
        ),
        (
            Method::POST,
            format!("{base}/activation"),
            Some(json!({"token_serial": "NOPE-1", "activation_code": "123456", "client_key": key})),
        ),
        (
            Method::POST,
            format!("{base}/activation/act-none/certificate"),
            Some(json!({"csr": cert})),
        ),
        // Challenges and renewals share one limit: the first two requests below are
        // renewals (the second through this entry's own third request).
        (
            Method::POST,
            format!("{base}/renewal"),
            Some(
                json!({"request_id": "r-1", "certificate": cert, "csr": cert, "nonce": cert, "signature": cert}),
            ),
        ),
        (
            Method::POST,
            format!("{base}/unlock"),
            Some(
                json!({"token_serial": "NOPE-1", "certificate_serial": "0a", "handler": handler, "client_key": key}),
            ),
        ),
        (Method::GET, format!("{base}/unlock/t-none"), None),
        (
            Method::POST,
            format!("{base}/seal"),
            Some(
                json!({"certificate": cert, "image": cert, "width_mm": 40, "height_mm": 40, "name": "章", "signature": cert}),
            ),
        ),
        (Method::GET, format!("{base}/openapi.json"), None),
    ]
}

fn every_unauthenticated_endpoint_is_rate_limited(db_url: Option<&str>) {
    let svc = Service::start_configured(db_url, &|t| limited(t, 2, "[]"));
    let challenge = json!({"certificate_serial": "0a"});
    for (method, url, body) in endpoints(&svc.base) {
        fresh_window();
        if url.ends_with("/renewal") {
            // One challenge counts against the renewal limit too.
            let (s, e) = send(
                method.clone(),
                &format!("{url}/challenge"),
                Some(&challenge),
                None,
            );
            assert_eq!(s, 404, "{e}");
            let (s, e) = send(method.clone(), &url, body.as_ref(), Some("198.51.100.0"));
            assert_ne!(s, 429, "{e}");
            let (s, e) = send(
                method.clone(),
                &format!("{url}/challenge"),
                Some(&challenge),
                None,
            );
            assert_eq!(s, 429, "{e}");
            let (s, e) = send(method.clone(), &url, body.as_ref(), Some("203.0.113.77"));
            assert_eq!(
                (s, e["error"]["code"].as_str()),
                (429, Some("rate_limited")),
                "{e}"
            );
            continue;
        }
        // A client that forges X-Forwarded-For without being a trusted proxy is still
        // counted by its own address.
        for i in 0..2 {
            let (s, e) = send(
                method.clone(),
                &url,
                body.as_ref(),
                Some(&format!("198.51.100.{i}")),
            );
            assert_ne!(s, 429, "{method} {url}: request {i} limited too early: {e}");
        }
        let (s, e) = send(method.clone(), &url, body.as_ref(), Some("203.0.113.77"));
        assert_eq!(s, 429, "{method} {url}: {e}");
        if url.ends_with("/unlock/t-none") {
            // A ticket's confirm and attachments share the ticket limit.
            let (s, e) = send(
                reqwest::Method::POST,
                &format!("{url}/confirm"),
                Some(&json!({"result": "rotated", "proof": common::b64(b"x")})),
                None,
            );
            assert_eq!(s, 429, "{e}");
            let (s, e) = send(
                reqwest::Method::POST,
                &format!("{url}/attachments"),
                Some(&json!({"file_name": "a.pdf", "data": common::b64(b"%PDF-1.4")})),
                None,
            );
            assert_eq!(s, 429, "{e}");
        }
        assert_eq!(e["error"]["code"], "rate_limited", "{method} {url}");
        let retry = e["error"]["retry_after_s"].as_u64().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
    }
    // Not limited: health, and the admin API behind its token.
    for _ in 0..4 {
        assert_eq!(
            common::reqwest::blocking_get(&format!("{}/health", svc.base)),
            Ok(200)
        );
        let (s, _) = call(
            reqwest::Method::GET,
            &format!("{}/admin/audit", svc.base),
            None,
            Some(&svc.admin),
        );
        assert_eq!(s, 200);
    }
}

#[test]
fn every_unauthenticated_endpoint_is_rate_limited_on_sqlite() {
    every_unauthenticated_endpoint_is_rate_limited(None);
}

#[test]
fn every_unauthenticated_endpoint_is_rate_limited_on_postgresql() {
    let pg = Postgres::start();
    every_unauthenticated_endpoint_is_rate_limited(Some(&pg.url()));
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let svc = Service::start_configured(None, &|t| limited(t, 2, r#"["127.0.0.0/8"]"#));
    let url = format!("{}/activation/lookup", svc.base);
    let body = json!({"token_serial": "NOPE-1"});
    fresh_window();
    // One client behind the proxy: limited after 2, even when it varies the part of
    // the header it controls (left of what the proxy appended).
    for i in 0..2 {
        let (s, e) = send(
            reqwest::Method::POST,
            &url,
            Some(&body),
            Some(&format!("10.9.9.{i}, 198.51.100.1")),
        );
        assert_eq!(s, 404, "{e}");
    }
    let (s, e) = send(
        reqwest::Method::POST,
        &url,
        Some(&body),
        Some("6.6.6.6, 198.51.100.1"),
    );
    assert_eq!(s, 429, "{e}");
    // Another client through the same proxy is not held back by the first.
    let (s, e) = send(
        reqwest::Method::POST,
        &url,
        Some(&body),
        Some("198.51.100.2"),
    );
    assert_eq!(s, 404, "{e}");
    // The proxy's own requests (no header) are counted as the proxy's.
    for _ in 0..2 {
        assert_eq!(send(reqwest::Method::POST, &url, Some(&body), None).0, 404);
    }
    assert_eq!(send(reqwest::Method::POST, &url, Some(&body), None).0, 429);
}

// ---------------------------------------------------------------------------
// Pruning.
// ---------------------------------------------------------------------------

/// Runs one statement on the pool, in the runtime the pool was made in (its
/// connections belong to that runtime).
fn exec(rt: &tokio::runtime::Runtime, pool: &sqlx::AnyPool, sql: &str) {
    rt.block_on(async {
        sqlx::query(sql).execute(pool).await.expect(sql);
    });
}

fn old_rows_are_pruned_and_live_ones_stay(db_url: Option<&str>) {
    let svc = Service::start_configured(db_url, &|t| {
        t.replace("prune_interval_s = 600", "prune_interval_s = 1")
            .replace("finished_tickets_days = 90", "finished_tickets_days = 30")
    });
    let url = db_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{}", svc.data.path().join("ca.db").display()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = 86_400;
    let rt = common::reqwest::tokio_rt();
    let pool = rt.block_on(async {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&url).await.unwrap()
    });
    let blob = if db_url.is_some() {
        "'\\x00'::bytea"
    } else {
        "X'00'"
    };
    exec(&rt, &pool, &format!(
        "INSERT INTO tokens (serial, label, so_pin, initial_pin, handler_name, handler_id, handler_phone, state, created_at) \
         VALUES ('T1', '', {blob}, {blob}, 'a', 'b', 'c', 'produced', {now})"
    ));
    // One transaction for every row: the service prunes every second, an attachment
    // needs its request, and a pass between two inserts would leave rows behind that
    // the wait below does not look for.
    let mut statements = Vec::new();
    for (ticket, state, decided) in [
        ("old-done", "completed", Some(now - 40 * day)),
        ("old-rejected", "rejected", Some(now - 40 * day)),
        ("recent-done", "completed", Some(now - day)),
        ("old-pending", "pending_review", None),
        ("old-materials", "needs_materials", None),
        ("old-approved", "approved", Some(now - 40 * day)),
    ] {
        let decided = decided.map_or("NULL".to_string(), |d| d.to_string());
        statements.push(format!(
            "INSERT INTO unlock_tickets (ticket, token_serial, certificate_serial, client_key, handler_match, state, created_at, decided_at) \
             VALUES ('{ticket}', 'T1', '0a', {blob}, 1, '{state}', {}, {decided})",
            now - 50 * day
        ));
    }
    // Attachments go with their request.
    for ticket in ["old-rejected", "old-materials"] {
        statements.push(format!(
            "INSERT INTO unlock_attachments (ticket, file_name, media_type, size, sha256, data, created_at) \
             VALUES ('{ticket}', 'a.pdf', 'pdf', 1, '00', {blob}, {})",
            now - 45 * day
        ));
    }
    for (nonce, expires) in [("expired", now - 2 * 3600), ("live", now + 300)] {
        statements.push(format!(
            "INSERT INTO challenges (nonce, certificate_serial, expires_at, used) VALUES ('{nonce}', '0a', {expires}, 0)"
        ));
    }
    let window = now - now % 60;
    for (key, start) in [("old:1.2.3.4", window - 3 * 3600), ("live:1.2.3.4", window)] {
        statements.push(format!(
            "INSERT INTO rate_limits (key, window_start, count) VALUES ('{key}', {start}, 1)"
        ));
    }
    rt.block_on(async {
        let mut tx = pool.begin().await.unwrap();
        for sql in &statements {
            sqlx::query(sql).execute(&mut *tx).await.expect(sql);
        }
        tx.commit().await.unwrap();
    });
    let names = |table: &str, col: &str| -> Vec<String> {
        rt.block_on(async {
            let mut v: Vec<String> = sqlx::query(&format!("SELECT {col} FROM {table}"))
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>(0).unwrap())
                .collect();
            v.sort();
            v
        })
    };
    let start = std::time::Instant::now();
    while names("challenges", "nonce").len() > 1
        || names("unlock_tickets", "ticket").len() > 4
        || names("rate_limits", "key").contains(&"old:1.2.3.4".to_string())
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "nothing was pruned"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(names("challenges", "nonce"), ["live"]);
    assert_eq!(
        names("unlock_tickets", "ticket"),
        [
            "old-approved",
            "old-materials",
            "old-pending",
            "recent-done"
        ]
    );
    assert_eq!(names("unlock_attachments", "ticket"), ["old-materials"]);
    let limits = names("rate_limits", "key");
    assert!(limits.contains(&"live:1.2.3.4".to_string()), "{limits:?}");
    assert!(!limits.contains(&"old:1.2.3.4".to_string()), "{limits:?}");
}

#[test]
fn old_rows_are_pruned_and_live_ones_stay_on_sqlite() {
    old_rows_are_pruned_and_live_ones_stay(None);
}

#[test]
fn old_rows_are_pruned_and_live_ones_stay_on_postgresql() {
    let pg = Postgres::start();
    old_rows_are_pruned_and_live_ones_stay(Some(&pg.url()));
}

// ---------------------------------------------------------------------------
// A production killed while `producing` is retried with the SO PIN on record.
// ---------------------------------------------------------------------------

/// Runs `certkey-ca produce` (P-256, slot 0) under gdb and kills it (SIGKILL) when it
/// reaches `function` of the key's PKCS#11 module.
fn produce_killed_at(svc: &Service, db_url: Option<&str>, store: &Path, function: &str) {
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx", "-ex", "set breakpoint pending on"])
        .args([
            "-ex",
            &format!("break {function}"),
            "-ex",
            "run",
            "-ex",
            "kill",
        ])
        .arg("--args")
        .arg(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["produce", "--json", "--data"])
        .arg(svc.data.path())
        .arg("--module")
        .arg(softkey())
        .args([
            "--slot", "0", "--holder", "王五", "--type", "person", "--years", "1",
        ])
        .args(["--key", "p256", "--handler-name", "王五"])
        .args([
            "--handler-id",
            "110101199001011234",
            "--handler-phone",
            "13800000000",
        ])
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .env("CERTKEY_SOFTKEY_DIR", store);
    if let Some(u) = db_url {
        cmd.args(["--database-url", u]);
    }
    let out = cmd.output().expect("gdb");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("hit Breakpoint 1") && text.contains("killed"),
        "gdb did not stop and kill at {function}: {text}"
    );
}

fn token_state(svc: &Service, db_url: Option<&str>) -> Vec<String> {
    let url = db_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{}", svc.data.path().join("ca.db").display()));
    common::reqwest::tokio_rt().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::query("SELECT state FROM tokens")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>(0).unwrap())
            .collect()
    })
}

/// Keys left `producing` (the PostgreSQL database is shared by the test's services).
fn producing(svc: &Service, db_url: Option<&str>) -> usize {
    token_state(svc, db_url)
        .iter()
        .filter(|s| *s == "producing")
        .count()
}

/// Activates the produced key, has a certificate issued, and gets the SO PIN on record
/// through an unlock (the handler matches): that SO PIN must open the key as SO.
fn so_pin_on_record_opens_the_key(svc: &Service, store: &Path, serial: &str, code: &str) {
    use certkey_protocol::wrap::ClientKey;
    let client = ClientKey::generate().unwrap();
    let (s, a) = common::post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": serial, "activation_code": code, "client_key": common::b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{a}");
    let w: certkey_protocol::v1::WrappedSecret =
        serde_json::from_value(a["initial_pin"].clone()).unwrap();
    let pin = client
        .unwrap(&w, format!("activation:{serial}").as_bytes())
        .unwrap();
    let pin = String::from_utf8(pin.to_vec()).unwrap();
    let p11 = |args: &[&str]| {
        Command::new("pkcs11-tool")
            .arg("--module")
            .arg(softkey())
            .args(args)
            .env("CERTKEY_SOFTKEY_DIR", store)
            .output()
            .unwrap()
    };
    let out = p11(&["--login", "--pin", &pin, "-O"]);
    assert!(
        out.status.success(),
        "initial PIN: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let csr = openssl_p256_csr(dir.path());
    let (s, c) = common::post(
        &format!(
            "{}/activation/{}/certificate",
            svc.base,
            a["activation_id"].as_str().unwrap()
        ),
        &json!({"csr": common::b64(&csr)}),
    );
    assert_eq!(s, 200, "{c}");
    std::fs::write(dir.path().join("c.der"), common::unb64(&c["certificate"])).unwrap();
    let (_, cert_serial) = common::openssl(
        dir.path(),
        &[
            "x509", "-inform", "DER", "-in", "c.der", "-noout", "-serial",
        ],
    );
    let cert_serial = cert_serial
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase();
    let client = ClientKey::generate().unwrap();
    let (s, t) = common::post(
        &format!("{}/unlock", svc.base),
        &json!({"token_serial": serial, "certificate_serial": cert_serial,
                "handler": {"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"},
                "client_key": common::b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{t}");
    let ticket = t["ticket"].as_str().unwrap();
    let (s, v) = call(
        reqwest::Method::GET,
        &format!("{}/unlock/{ticket}", svc.base),
        None,
        None,
    );
    assert_eq!(s, 200, "{v}");
    let w: certkey_protocol::v1::WrappedSecret =
        serde_json::from_value(v["so_pin"].clone()).unwrap();
    let so = client
        .unwrap(&w, format!("unlock-so:{ticket}").as_bytes())
        .unwrap();
    let so = String::from_utf8(so.to_vec()).unwrap();
    let out = p11(&[
        "--login",
        "--login-type",
        "so",
        "--so-pin",
        &so,
        "--init-pin",
        "--new-pin",
        "58209417",
    ]);
    assert!(
        out.status.success(),
        "SO PIN on record: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn a_production_killed_while_producing_can_be_retried(db_url: Option<&str>) {
    // Killed just before C_InitToken (the key untouched) or just after it (at the next
    // call, C_OpenSession: the key holds the SO PIN on record but no user PIN); the row
    // says `producing`. Retried from the CLI or the admin API, each completes once,
    // and the SO PIN on record opens the key.
    for (kill_at, initialised) in [("C_InitToken", false), ("C_OpenSession", true)] {
        for via_admin in [false, true] {
            let case = format!(
                "killed at {kill_at}, retried through the {}",
                if via_admin { "admin API" } else { "CLI" }
            );
            let store = tempfile::tempdir().unwrap();
            let svc = producing_service(db_url, store.path());
            produce_killed_at(&svc, db_url, store.path(), kill_at);
            assert_eq!(producing(&svc, db_url), 1, "{case}");
            let status = softkey_ctl(store.path(), &["status", "--json"]);
            assert_eq!(
                status["slots"][0]["initialized"], initialised,
                "{case}: {status}"
            );
            let p = if via_admin {
                let mut order = production_order("某某有限公司");
                order["key_algorithm"] = json!("p256");
                order["cert_type"] = json!("person");
                let (s, p) = call(
                    reqwest::Method::POST,
                    &format!("{}/admin/production", svc.base),
                    Some(&order),
                    Some(&svc.admin),
                );
                assert_eq!(s, 200, "{case}: {p}");
                // Produced once: another production of it is refused.
                let (s, e) = call(
                    reqwest::Method::POST,
                    &format!("{}/admin/production", svc.base),
                    Some(&order),
                    Some(&svc.admin),
                );
                assert_eq!(
                    (s, e["error"]["code"].as_str()),
                    (409, Some("already_produced")),
                    "{case}: {e}"
                );
                p
            } else {
                let (ok, err, p) = cli_produce_p256(&svc, db_url, store.path());
                assert!(ok, "{case}: {err}");
                p
            };
            assert_eq!(producing(&svc, db_url), 0, "{case}");
            so_pin_on_record_opens_the_key(
                &svc,
                store.path(),
                p["token_serial"].as_str().unwrap(),
                p["activation_code"].as_str().unwrap(),
            );
        }
    }
}

fn cli_produce_p256(svc: &Service, db_url: Option<&str>, store: &Path) -> (bool, String, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey-ca"));
    cmd.args(["produce", "--json", "--data"])
        .arg(svc.data.path())
        .arg("--module")
        .arg(softkey())
        .args([
            "--slot", "0", "--holder", "王五", "--type", "person", "--years", "1",
        ])
        .args(["--key", "p256", "--handler-name", "王五"])
        .args([
            "--handler-id",
            "110101199001011234",
            "--handler-phone",
            "13800000000",
        ])
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .env("CERTKEY_SOFTKEY_DIR", store);
    if let Some(u) = db_url {
        cmd.args(["--database-url", u]);
    }
    let out = cmd.output().expect("certkey-ca produce");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
    )
}

#[test]
fn a_production_killed_while_producing_can_be_retried_on_sqlite() {
    a_production_killed_while_producing_can_be_retried(None);
}

#[test]
fn a_production_killed_while_producing_can_be_retried_on_postgresql() {
    let pg = Postgres::start();
    a_production_killed_while_producing_can_be_retried(Some(&pg.url()));
}
