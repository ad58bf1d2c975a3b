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
    let url = db_url.map(str::to_string).unwrap_or_else(|| {
        format!("sqlite://{}", svc.data.path().join("ca.db").display())
    });
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
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_certkey-ca")).with_file_name("certkey-softkey"),
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
fn cli_produce(svc: &Service, db_url: Option<&str>, store: &Path, org: &str) -> (bool, String, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey-ca"));
    cmd.args(["produce", "--json", "--data"])
        .arg(svc.data.path())
        .arg("--module")
        .arg(softkey())
        .args(["--slot", "0", "--holder", "王五", "--type", "org-person", "--org", org])
        .args(["--years", "1", "--key", "sm2"])
        .args(["--handler-name", "王五", "--handler-id", "110101199001011234"])
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
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("invalid_org")), "{e}");
    let mut long_holder = order.clone();
    long_holder["org"] = json!("某某有限公司");
    long_holder["holder"] = json!("x".repeat(65));
    let (s, e) = call(reqwest::Method::POST, &url, Some(&long_holder), Some(&svc.admin));
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("invalid_holder")), "{e}");

    // POST /admin/production on a blank softkey.
    let url = format!("{}/admin/production", svc.base);
    let (s, e) = call(
        reqwest::Method::POST,
        &url,
        Some(&production_order(&long_org)),
        Some(&svc.admin),
    );
    assert_eq!((s, e["error"]["code"].as_str()), (400, Some("invalid_org")), "{e}");

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
