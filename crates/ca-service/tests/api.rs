//! The service as a client meets it: health, time, the CA chains (checked by OpenSSL),
//! JSON errors for anything else — on SQLite and on a real PostgreSQL server.

mod common;

use common::{openssl, pem, reqwest::tokio_rt, unb64, Postgres, Service};
use serde_json::Value;

fn get(url: &str) -> (u16, Value) {
    tokio_rt().block_on(async {
        let r = reqwest::get(url).await.expect("GET");
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    })
}

fn send(
    method: reqwest::Method,
    url: &str,
    body: Option<&str>,
    content_type: &str,
) -> (u16, Value) {
    tokio_rt().block_on(async {
        let client = reqwest::Client::new();
        let mut req = client
            .request(method, url)
            .header("content-type", content_type);
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    })
}

fn check_service(svc: &Service) {
    let (status, health) = get(&format!("{}/health", svc.base));
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");

    let (status, t) = get(&format!("{}/time", svc.base));
    assert_eq!(status, 200);
    let server = time::OffsetDateTime::parse(
        t["time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((server - time::OffsetDateTime::now_utc()).abs() < time::Duration::seconds(30));

    let (status, ca) = get(&format!("{}/cacerts", svc.base));
    assert_eq!(status, 200);
    let chains = ca["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    for chain in chains {
        let alg = chain["key_algorithm"].as_str().unwrap();
        let certs = chain["certificates"].as_array().unwrap();
        assert_eq!(certs.len(), 2, "issuing CA then root");
        std::fs::write(dir.path().join("issuing.pem"), pem(&unb64(&certs[0]))).unwrap();
        std::fs::write(dir.path().join("root.pem"), pem(&unb64(&certs[1]))).unwrap();
        let mut args = vec!["verify"];
        if alg == "sm2" {
            args.extend(["-vfyopt", "distid:1234567812345678"]);
        }
        args.extend(["-CAfile", "root.pem", "issuing.pem"]);
        let (ok, out) = openssl(dir.path(), &args);
        assert!(ok && out.contains("issuing.pem: OK"), "{alg}: {out}");
        let (_, text) = openssl(
            dir.path(),
            &["x509", "-in", "issuing.pem", "-noout", "-text"],
        );
        let want = if alg == "sm2" {
            "SM2-with-SM3"
        } else {
            "ecdsa-with-SHA256"
        };
        assert!(text.contains(want), "{alg}: {text}");
        assert!(text.contains("CA:TRUE"), "{text}");
    }

    // Anything else is a JSON error with a stable code.
    let (status, e) = get(&format!("{}/no/such/thing", svc.base));
    assert_eq!(status, 404);
    assert_eq!(e["error"]["code"], "not_found");
    let (status, e) = send(
        reqwest::Method::DELETE,
        &format!("{}/health", svc.base),
        None,
        "application/json",
    );
    assert_eq!(status, 405);
    assert_eq!(e["error"]["code"], "method_not_allowed");
}

#[test]
fn health_time_and_ca_chains_on_sqlite() {
    let svc = Service::start(None);
    check_service(&svc);
}

#[test]
fn health_time_and_ca_chains_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    check_service(&svc);
    // The audit log is in PostgreSQL, not in a local file.
    assert!(!svc.data.path().join("ca.db").exists());
}

#[test]
fn keys_are_encrypted_at_rest_and_need_the_passphrase() {
    let data = tempfile::tempdir().unwrap();
    common::init(data.path(), None);
    for entry in std::fs::read_dir(data.path().join("keys"))
        .unwrap()
        .flatten()
    {
        let meta = entry.metadata().unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o600,
            "{:?}",
            entry.path()
        );
        let v: Value = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
        assert_eq!(v["kdf"], "pbkdf2-hmac-sha256");
        assert!(v["sealed"].as_str().unwrap().len() > 64);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["serve", "--listen", common::ANY_PORT, "--data"])
        .arg(data.path())
        .env("CERTKEY_CA_PASSPHRASE", "a wrong passphrase here")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A second init on the same directory is refused.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["init", "--data"])
        .arg(data.path())
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a CA"));
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let data = tempfile::tempdir().unwrap();
    common::init(data.path(), None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(data.path())
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("plain HTTP is only for loopback"));
}

#[test]
fn a_short_passphrase_is_refused_at_init() {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["init", "--data"])
        .arg(data.path())
        .env("CERTKEY_CA_PASSPHRASE", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));
}

#[test]
fn tls_is_served_with_the_configured_certificate() {
    let data = tempfile::tempdir().unwrap();
    common::init(data.path(), None);
    let d = data.path();
    let (ok, out) = openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "tls.key",
            "-out",
            "tls.pem",
            "-days",
            "30",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
    );
    assert!(ok, "{out}");
    let cfg_path = d.join("certkey-ca.toml");
    let mut cfg = std::fs::read_to_string(&cfg_path).unwrap();
    cfg.push_str(&format!(
        "\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        d.join("tls.pem").display(),
        d.join("tls.key").display()
    ));
    std::fs::write(&cfg_path, cfg).unwrap();
    let (mut child, port) = common::serve_announced(
        std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
            .args(["serve", "--listen", common::ANY_PORT, "--data"])
            .arg(d)
            .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
            .env("CERTKEY_CA_LOG", "warn"),
        "certkey-ca serve over TLS",
    );
    let url = format!("https://127.0.0.1:{port}/api/v1/health");
    let start = std::time::Instant::now();
    let body = loop {
        let out = std::process::Command::new("curl")
            .args(["-s", "--cacert"])
            .arg(d.join("tls.pem"))
            .arg(&url)
            .output()
            .expect("curl is installed by the test command");
        if out.status.success() && !out.stdout.is_empty() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no TLS answer"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // Plain HTTP on the TLS port gets no JSON answer.
    let plain = std::process::Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(url.replace("https", "http"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"status\":\"ok\""));
}

/// `certkey-ca serve --data DATA` on a loopback port the system picks, with `env`
/// (and no passphrase variable but those given).
fn serve_with(data: &std::path::Path, env: &[(&str, &std::ffi::OsStr)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_certkey-ca"));
    cmd.args(["serve", "--listen", common::ANY_PORT, "--data"])
        .arg(data)
        .env_remove("CERTKEY_CA_PASSPHRASE")
        .env_remove("CERTKEY_CA_PASSPHRASE_FILE")
        .env("CERTKEY_CA_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn the_passphrase_is_read_from_the_file_certkey_ca_passphrase_file_names() {
    let data = tempfile::tempdir().unwrap();
    common::init(data.path(), None);
    let files = tempfile::tempdir().unwrap();
    let good = files.path().join("passphrase");
    // As an editor or `echo` writes it: with a line end, which is not part of it.
    std::fs::write(&good, format!("{}\n", common::PASSPHRASE)).unwrap();
    let wrong = files.path().join("wrong");
    std::fs::write(&wrong, "a wrong passphrase here\n").unwrap();
    let empty = files.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let file_var = "CERTKEY_CA_PASSPHRASE_FILE";

    // The right passphrase from the file opens the CA keys: the service comes up.
    let (mut child, port) = common::serve_announced(
        serve_with(data.path(), &[(file_var, good.as_os_str())])
            .stdout(std::process::Stdio::null()),
        "certkey-ca serve with the passphrase file",
    );
    let health = common::reqwest::blocking_get(&format!("http://127.0.0.1:{port}/api/v1/health"));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(health, Ok(200));

    let run = |env: &[(&str, &std::ffi::OsStr)]| {
        let out = serve_with(data.path(), env).output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // The file's content is what is used: a wrong one is refused as wrong.
    let err = run(&[(file_var, wrong.as_os_str())]);
    assert!(err.contains("wrong passphrase"), "{err}");
    // Both forms at once: refused with a stable code, even when they agree.
    let err = run(&[
        (file_var, good.as_os_str()),
        (
            "CERTKEY_CA_PASSPHRASE",
            std::ffi::OsStr::new(common::PASSPHRASE),
        ),
    ]);
    assert!(err.contains("secret_env_conflict"), "{err}");
    let err = run(&[(file_var, empty.as_os_str())]);
    assert!(err.contains("secret_file_empty"), "{err}");
    let missing = files.path().join("missing");
    let err = run(&[(file_var, missing.as_os_str())]);
    assert!(err.contains("secret_file_unreadable"), "{err}");
    // The secret itself is never in a message.
    assert!(!err.contains(common::PASSPHRASE));
}
