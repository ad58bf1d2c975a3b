//! Production and activation against a real service: a blank softkey virtual key is
//! produced over PKCS#11, the right code releases the initial PIN (which then opens the
//! key), wrong codes count against 5 tries even when 20 arrive at once, and OpenSSL-made
//! CSRs become certificates that `openssl verify` accepts — on SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use certkey_protocol::wrap::ClientKey;
use common::{
    b64, openssl, pem, post, reqwest::tokio_rt, softkey, unb64, Postgres, Service, DISTID,
};
use serde_json::{json, Value};

struct Produced {
    store: tempfile::TempDir,
    serial: String,
    code: String,
}

/// `certkey-ca produce` on a fresh softkey store.
fn produce(svc: &Service, db_url: Option<&str>, key: &str, extra: &[&str]) -> Produced {
    let mut args = vec!["--key", key];
    args.extend_from_slice(extra);
    let (store, v) = common::produce(svc, db_url, &args);
    let code = v["activation_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 6);
    assert!(v["order_id"].as_str().unwrap().starts_with("ord-"));
    assert!(v["code_expires_at"].is_string());
    Produced {
        store,
        serial: v["token_serial"].as_str().unwrap().to_string(),
        code,
    }
}

fn wrong(code: &str) -> String {
    let d = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{d}{}", &code[1..])
}

fn activate(svc: &Service, p: &Produced, code: &str, client: &ClientKey) -> (u16, Value) {
    post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": p.serial, "activation_code": code, "client_key": b64(&client.public_sec1())}),
    )
}

/// An OpenSSL key and CSR in `dir`; returns the CSR DER.
fn openssl_csr(dir: &Path, name: &str, sm2: bool) -> Vec<u8> {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    if sm2 {
        assert!(openssl(dir, &["genpkey", "-algorithm", "SM2", "-out", &key]).0);
        let (ok, out) = openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-sm3",
                "-sigopt",
                DISTID,
                "-subj",
                "/CN=ignored",
                "-outform",
                "DER",
                "-out",
                &csr,
            ],
        );
        assert!(ok, "{out}");
    } else {
        assert!(
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    &key
                ]
            )
            .0
        );
        let (ok, out) = openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                "/CN=ignored",
                "-outform",
                "DER",
                "-out",
                &csr,
            ],
        );
        assert!(ok, "{out}");
    }
    std::fs::read(dir.join(csr)).unwrap()
}

/// Full activation and issuance, checked by OpenSSL.
fn activate_and_issue(svc: &Service, db_url: Option<&str>, sm2: bool) {
    let key = if sm2 { "sm2" } else { "p256" };
    let p = produce(
        svc,
        db_url,
        key,
        &[
            "--holder",
            "张三",
            "--type",
            "org-person",
            "--org",
            "广东测试有限公司",
            "--years",
            "2",
        ],
    );

    // The key is initialised: label, SO PIN and user PIN set by production.
    let status = Command::new(
        PathBuf::from(env!("CARGO_BIN_EXE_certkey-ca")).with_file_name("certkey-softkey"),
    )
    .args(["status", "--json", "--dir"])
    .arg(p.store.path())
    .output()
    .unwrap();
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["slots"][0]["initialized"], true);
    assert_eq!(status["slots"][0]["user_pin_initialized"], true);
    assert_eq!(status["slots"][0]["label"], "张三 证书 Key");

    let (s, order) = post(
        &format!("{}/activation/lookup", svc.base),
        &json!({"token_serial": p.serial}),
    );
    assert_eq!(s, 200, "{order}");
    assert_eq!(order["holder"], "张*");
    assert_eq!(order["cert_type"], "org_person");
    assert_eq!(order["years"], 2);
    assert_eq!(order["key_algorithm"], key);
    assert_eq!(order["state"], "awaiting_activation");

    let client = ClientKey::generate().unwrap();
    let (s, e) = activate(svc, &p, &wrong(&p.code), &client);
    assert_eq!(s, 403, "{e}");
    assert_eq!(e["error"]["code"], "activation_code_invalid");
    assert_eq!(e["error"]["attempts_left"], 4);

    let (s, a) = activate(svc, &p, &p.code, &client);
    assert_eq!(s, 200, "{a}");
    let activation_id = a["activation_id"].as_str().unwrap().to_string();
    let wrapped: certkey_protocol::v1::WrappedSecret =
        serde_json::from_value(a["initial_pin"].clone()).unwrap();
    let pin = client
        .unwrap(&wrapped, format!("activation:{}", p.serial).as_bytes())
        .unwrap();
    let pin = String::from_utf8(pin.to_vec()).unwrap();
    // The released PIN opens the key.
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(softkey())
        .args(["--login", "--pin", &pin, "-O"])
        .env("CERTKEY_SOFTKEY_DIR", p.store.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the initial PIN must open the key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The step is safe to retry: the same activation, a right code costs no try.
    let (s, again) = activate(svc, &p, &p.code, &ClientKey::generate().unwrap());
    assert_eq!(s, 200);
    assert_eq!(again["activation_id"], activation_id.as_str());

    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/activation/{activation_id}/certificate", svc.base);
    // A CSR of the other algorithm is refused.
    let other = openssl_csr(dir.path(), "other", !sm2);
    let (s, e) = post(&url, &json!({"csr": b64(&other)}));
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "csr_key_mismatch");
    let (s, e) = post(&url, &json!({"csr": b64(b"not a CSR")}));
    assert_eq!(s, 400);
    assert_eq!(e["error"]["code"], "csr_invalid");

    let csr = openssl_csr(dir.path(), "holder", sm2);
    let (s, issued) = post(&url, &json!({"csr": b64(&csr)}));
    assert_eq!(s, 200, "{issued}");
    let cert = unb64(&issued["certificate"]);
    let chain = issued["chain"].as_array().unwrap();
    std::fs::write(dir.path().join("leaf.pem"), pem(&cert)).unwrap();
    std::fs::write(dir.path().join("issuing.pem"), pem(&unb64(&chain[0]))).unwrap();
    std::fs::write(dir.path().join("root.pem"), pem(&unb64(&chain[1]))).unwrap();
    // OpenSSL 3.0 applies -vfyopt only to the target certificate, so an SM2 chain is
    // checked link by link.
    let mut args: Vec<&str> = vec!["verify"];
    if sm2 {
        args.extend([
            "-vfyopt",
            DISTID,
            "-partial_chain",
            "-CAfile",
            "issuing.pem",
            "leaf.pem",
        ]);
    } else {
        args.extend([
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ]);
    }
    let (ok, out) = openssl(dir.path(), &args);
    assert!(ok && out.contains("leaf.pem: OK"), "{out}");
    let (_, text) = openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "leaf.pem",
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253,-esc_msb",
            "-dates",
        ],
    );
    assert!(
        text.contains("subject=CN=张三,O=广东测试有限公司,C=CN"),
        "{text}"
    );
    // The certificate is for the CSR's key.
    let (_, csr_pub) = openssl(
        dir.path(),
        &[
            "req",
            "-inform",
            "DER",
            "-in",
            "holder.csr",
            "-noout",
            "-pubkey",
        ],
    );
    let (_, cert_pub) = openssl(
        dir.path(),
        &["x509", "-in", "leaf.pem", "-noout", "-pubkey"],
    );
    assert_eq!(csr_pub, cert_pub);

    // Retrying returns the same certificate; another key gets nothing.
    let (s, again) = post(&url, &json!({"csr": b64(&csr)}));
    assert_eq!(s, 200);
    assert_eq!(again["certificate"], issued["certificate"]);
    let csr2 = openssl_csr(dir.path(), "second", sm2);
    let (s, e) = post(&url, &json!({"csr": b64(&csr2)}));
    assert_eq!(s, 409);
    assert_eq!(e["error"]["code"], "already_activated");
    // The code is single use.
    let (s, e) = activate(svc, &p, &p.code, &client);
    assert_eq!(s, 409);
    assert_eq!(e["error"]["code"], "already_activated");
    let (_, order) = post(
        &format!("{}/activation/lookup", svc.base),
        &json!({"token_serial": p.serial}),
    );
    assert_eq!(order["state"], "completed");
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[test]
fn p256_ca_keys_held_in_softhsm2_issue_certificates_openssl_verifies() {
    // A SoftHSM2 token of its own for the CA keys.
    let hsm = tempfile::tempdir().unwrap();
    let conf = hsm.path().join("softhsm2.conf");
    std::fs::create_dir(hsm.path().join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            hsm.path().join("tokens").display()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let out = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "certkey-ca",
            "--pin",
            "24681357",
            "--so-pin",
            "13572468",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without the token PIN neither init nor serve starts.
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
        .args(["init", "--data"])
        .arg(data.path().join("ca"))
        .args(["--pkcs11-module", SOFTHSM, "--pkcs11-token", "certkey-ca"])
        .env("CERTKEY_CA_PASSPHRASE", common::PASSPHRASE)
        .env("SOFTHSM2_CONF", &conf)
        .env_remove("CERTKEY_CA_PKCS11_PIN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CERTKEY_CA_PKCS11_PIN"),
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
    // The P-256 keys are on the token only; the SM2 keys stay in sealed files.
    let files: Vec<String> = std::fs::read_dir(svc.data.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.iter().all(|f| !f.starts_with("p256-")), "{files:?}");
    assert!(
        files.iter().any(|f| f.starts_with("sm2-issuing")),
        "{files:?}"
    );
    // OpenSC's view of the token: three P-256 private keys, sensitive and never
    // extractable.
    let out = Command::new("pkcs11-tool")
        .args(["--module", SOFTHSM, "--token-label", "certkey-ca"])
        .args([
            "--login",
            "--pin",
            "24681357",
            "--list-objects",
            "--type",
            "privkey",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    for id in ["p256-root", "p256-issuing", "p256-seal"] {
        assert!(listing.contains(&format!("certkey-ca {id}")), "{listing}");
    }
    assert_eq!(listing.matches("never extractable").count(), 3, "{listing}");
    assert!(svc.data.path().join("certkey-ca.toml").exists());
    let cfg = std::fs::read_to_string(svc.data.path().join("certkey-ca.toml")).unwrap();
    assert!(cfg.contains("token_label = \"certkey-ca\""), "{cfg}");
    assert!(!cfg.contains("24681357"), "the token PIN is never stored");

    // Issuance signs on the token: the certificate verifies with OpenSSL under the
    // token-held root and issuing CA; SM2 still works from files.
    activate_and_issue(&svc, None, false);
    activate_and_issue(&svc, None, true);
}

#[test]
fn an_sm2_key_is_produced_activated_and_certified_on_sqlite() {
    let svc = Service::start(None);
    activate_and_issue(&svc, None, true);
}

#[test]
fn a_p256_key_is_produced_activated_and_certified_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    activate_and_issue(&svc, Some(&pg.url()), false);
}

fn twenty_wrong_codes_at_once(svc: &Service, db_url: Option<&str>) {
    let p = produce(
        svc,
        db_url,
        "p256",
        &["--holder", "王五", "--type", "person", "--years", "1"],
    );
    let bad = wrong(&p.code);
    let results: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| scope.spawn(|| activate(svc, &p, &bad, &ClientKey::generate().unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |code: &str| {
        results
            .iter()
            .filter(|(_, v)| v["error"]["code"] == code)
            .count()
    };
    assert_eq!(count("activation_code_invalid"), 4, "{results:?}");
    assert_eq!(count("order_locked"), 16, "{results:?}");
    // Locked: even the right code is refused now.
    let (s, e) = activate(svc, &p, &p.code, &ClientKey::generate().unwrap());
    assert_eq!(s, 423);
    assert_eq!(e["error"]["attempts_left"], 0);
    let (_, order) = post(
        &format!("{}/activation/lookup", svc.base),
        &json!({"token_serial": p.serial}),
    );
    assert_eq!(order["state"], "locked");
}

#[test]
fn twenty_concurrent_wrong_codes_cannot_pass_five_tries_on_sqlite() {
    let svc = Service::start(None);
    twenty_wrong_codes_at_once(&svc, None);
}

#[test]
fn twenty_concurrent_wrong_codes_cannot_pass_five_tries_on_postgresql() {
    let pg = Postgres::start();
    let svc = Service::start(Some(&pg.url()));
    twenty_wrong_codes_at_once(&svc, Some(&pg.url()));
}

#[test]
fn bad_requests_get_4xx_json_errors() {
    let svc = Service::start(None);
    let url = format!("{}/activation", svc.base);
    let (s, e) = post(
        &format!("{}/activation/lookup", svc.base),
        &json!({"token_serial": "NOPE"}),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("order_not_found"))
    );
    let (s, e) = post(
        &url,
        &json!({"token_serial": "X", "activation_code": "12ab56", "client_key": b64(&[4u8; 65])}),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_code_format"))
    );
    let (s, e) = post(
        &url,
        &json!({"token_serial": "X", "activation_code": "123456", "client_key": b64(&[2u8; 33])}),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_client_key"))
    );
    let (s, e) = post(&url, &json!({"token_serial": "X"}));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_body"))
    );
    let (s, e) = post(
        &url,
        &json!({"token_serial": "X", "activation_code": "123456", "client_key": "***"}),
    );
    assert_eq!(s, 422, "{e}");
    let (s, e) = post(
        &format!("{}/activation/act-nope/certificate", svc.base),
        &json!({"csr": b64(b"x")}),
    );
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("activation_not_found"))
    );
    let (s, e) = tokio_rt().block_on(async {
        let r = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (s, e) = tokio_rt().block_on(async {
        let r = reqwest::Client::new()
            .post(&url)
            .body("{}")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    });
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let huge = "x".repeat(2 << 20);
    let (s, e) = tokio_rt().block_on(async {
        let r = reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .body(format!("{{\"token_serial\":\"{huge}\"}}"))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<Value>().await.unwrap_or(Value::Null),
        )
    });
    assert_eq!(s, 413, "{e}");
}

#[test]
fn one_client_address_is_rate_limited_with_a_retry_delay() {
    let svc = Service::start(None);
    // 61 requests in a row: whichever minute windows they fall in, one window holds at
    // least 31, more than the 30 allowed.
    let mut limited = 0;
    // A real P-256 point: a bad one is refused before the rate limit counts.
    let client_key = b64(&ClientKey::generate().unwrap().public_sec1());
    for i in 0..61 {
        let (s, e) = post(
            &format!("{}/activation", svc.base),
            &json!({"token_serial": format!("NOPE{i}"), "activation_code": "123456", "client_key": client_key}),
        );
        match s {
            404 => assert_eq!(e["error"]["code"], "order_not_found"),
            429 => {
                assert_eq!(e["error"]["code"], "rate_limited");
                let after = e["error"]["retry_after_s"].as_u64().unwrap();
                assert!((1..=60).contains(&after), "{after}");
                limited += 1;
            }
            other => panic!("unexpected {other}: {e}"),
        }
    }
    assert!(limited >= 1, "the 31st request in a minute is refused");
}

#[test]
fn the_admin_orders_for_a_key_initialised_elsewhere_and_its_pin_is_released_at_activation() {
    let svc = Service::start(None);
    let store = tempfile::tempdir().unwrap();
    let p11 = |args: &[&str]| {
        let out = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(softkey())
            .args(args)
            .env("CERTKEY_SOFTKEY_DIR", store.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    p11(&[
        "--init-token",
        "--label",
        "vendor key",
        "--so-pin",
        "SoPin2026x",
    ]);
    p11(&[
        "--init-pin",
        "--login",
        "--login-type",
        "so",
        "--so-pin",
        "SoPin2026x",
        "--pin",
        "73918264",
    ]);
    let slots = p11(&["-L"]);
    let serial = slots
        .lines()
        .find_map(|l| l.trim().strip_prefix("serial num"))
        .unwrap()
        .trim_start_matches([' ', ':'])
        .trim()
        .to_string();

    let order = json!({
        "token_serial": serial, "holder": "钱七", "cert_type": "person", "years": 1, "key_algorithm": "p256",
        "handler": {"name": "钱七", "id_number": "110101199001015678", "phone": "13700000000"},
        "so_pin": "SoPin2026x", "initial_pin": "73918264",
    });
    let url = format!("{}/admin/orders", svc.base);
    let send = |body: &Value, token: Option<&str>| {
        tokio_rt().block_on(async {
            let mut r = reqwest::Client::new().post(&url).json(body);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            let r = r.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        })
    };
    assert_eq!(send(&order, None).0, 401);
    let mut no_pins = order.clone();
    no_pins["so_pin"] = Value::Null;
    let (s, e) = send(&no_pins, Some(&svc.admin));
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (400, Some("invalid_order"))
    );
    let (s, o) = send(&order, Some(&svc.admin));
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["activation_code"].as_str().unwrap().len(), 6);
    let (s, e) = send(&order, Some(&svc.admin));
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("order_open")));

    let client = ClientKey::generate().unwrap();
    let (s, a) = post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": serial, "activation_code": o["activation_code"], "client_key": b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{a}");
    let wrapped: certkey_protocol::v1::WrappedSecret =
        serde_json::from_value(a["initial_pin"].clone()).unwrap();
    let pin = client
        .unwrap(&wrapped, format!("activation:{serial}").as_bytes())
        .unwrap();
    assert_eq!(pin.as_slice(), b"73918264");
}

fn softkey_ctl(store: &Path, args: &[&str]) -> Value {
    let out = Command::new(
        PathBuf::from(env!("CARGO_BIN_EXE_certkey-ca")).with_file_name("certkey-softkey"),
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

#[test]
fn the_admin_api_produces_keys_and_a_production_cut_short_can_be_retried() {
    let store = tempfile::tempdir().unwrap();
    let module = softkey();
    let module_s = module.to_str().unwrap().to_string();
    let store_s = store.path().to_str().unwrap().to_string();
    let env = [("CERTKEY_SOFTKEY_DIR", store_s.as_str())];
    let svc = Service::start_with(
        None,
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
    );
    let url = format!("{}/admin/production", svc.base);
    let order = |module: &str, slot: Option<u32>| {
        let mut v = json!({
            "module": module,
            "holder": "王五",
            "cert_type": "person",
            "years": 1,
            "key_algorithm": "sm2",
            "handler": {"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"},
        });
        if let Some(s) = slot {
            v["slot"] = json!(s);
        }
        v
    };
    let admin = |body: &Value| {
        common::call(
            reqwest::Method::POST,
            &url,
            Some(body),
            Some(svc.admin.as_str()),
        )
    };

    // Only the token can order production, and only of configured modules.
    let (s, e) = post(&url, &order(&module_s, None));
    assert_eq!(s, 401, "{e}");
    let (s, e) = admin(&order("/usr/lib/x86_64-linux-gnu/libc.so.6", None));
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["code"], "module_not_allowed");
    let mut bad = order(&module_s, None);
    bad["years"] = json!(9);
    let (s, e) = admin(&bad);
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["code"], "invalid_order");

    // The key is pulled out part-way through production, at later and later points,
    // until the cut falls after the key was initialised with the recorded SO PIN.
    let mut touched = false;
    for n in 0..40 {
        softkey_ctl(store.path(), &["fail-after", &n.to_string()]);
        let (s, e) = admin(&order(&module_s, Some(0)));
        softkey_ctl(store.path(), &["fail-after", "off"]);
        softkey_ctl(store.path(), &["insert"]);
        if s == 200 {
            // Cut after the last operation: production completed.
            break;
        }
        assert!(s == 502 || s == 404, "{s} {e}");
        let status = softkey_ctl(store.path(), &["status", "--json"]);
        if status["slots"][0]["initialized"] == true {
            touched = true;
            break;
        }
    }
    assert!(touched, "no cut left the key initialised");
    // The retry re-initialises the key with the SO PIN on record and completes.
    let (s, p) = admin(&order(&module_s, Some(0)));
    assert_eq!(s, 200, "{p}");
    let serial = p["token_serial"].as_str().unwrap().to_string();
    let code = p["activation_code"].as_str().unwrap().to_string();
    // Produced once: a second order for it is refused, and there is no blank key left.
    let (s, e) = admin(&order(&module_s, Some(0)));
    assert_eq!(s, 409, "{e}");
    assert_eq!(e["error"]["code"], "already_produced");
    let (s, e) = admin(&order(&module_s, None));
    assert_eq!(s, 404, "{e}");
    assert_eq!(e["error"]["code"], "key_not_found");

    // The code works and its PIN opens the key; the audit shows the failed attempts.
    let client = ClientKey::generate().unwrap();
    let (s, a) = post(
        &format!("{}/activation", svc.base),
        &json!({"token_serial": serial, "activation_code": code, "client_key": b64(&client.public_sec1())}),
    );
    assert_eq!(s, 200, "{a}");
    let wrapped: certkey_protocol::v1::WrappedSecret =
        serde_json::from_value(a["initial_pin"].clone()).unwrap();
    let pin = client
        .unwrap(&wrapped, format!("activation:{serial}").as_bytes())
        .unwrap();
    let pin = String::from_utf8(pin.to_vec()).unwrap();
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(&module)
        .args(["--login", "--pin", &pin, "-O"])
        .env("CERTKEY_SOFTKEY_DIR", store.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, audit) = common::call(
        reqwest::Method::GET,
        &format!("{}/admin/audit?limit=100", svc.base),
        None,
        Some(svc.admin.as_str()),
    );
    assert_eq!(s, 200);
    let text = audit.to_string();
    assert!(text.contains("production_failed"), "{text}");
    assert!(text.contains("token_produced"), "{text}");
}
