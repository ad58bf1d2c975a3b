//! Every workflow on kryoptic, a third-party PKCS#11 soft token that — unlike
//! SoftHSM2 — locks the user PIN after 10 wrong tries: activation (P-256; kryoptic has
//! no SM2), PIN change, renewal, seal, then the PIN locked for real and unlocked online,
//! auto-approved and after review. The module is built by `scripts/test` (see
//! scripts/lib/deps.sh) and named by CERTKEY_KRYOPTIC.

mod flows;

use std::path::{Path, PathBuf};

use flows::*;
use serde_json::{json, Value};

fn kryoptic() -> PathBuf {
    let p = std::env::var_os("CERTKEY_KRYOPTIC").map(PathBuf::from).expect(
        "CERTKEY_KRYOPTIC must name libkryoptic_pkcs11.so: scripts/test builds it (scripts/lib/deps.sh ensure_kryoptic)",
    );
    assert!(p.exists(), "{} does not exist", p.display());
    p
}

/// A kryoptic token in its own directory, initialised with an SO PIN and a user PIN.
struct Kryoptic {
    _dir: tempfile::TempDir,
    conf: String,
    serial: String,
}

impl Kryoptic {
    fn new(so_pin: &str, user_pin: &str) -> Kryoptic {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("kryoptic.conf");
        std::fs::write(
            &conf,
            format!(
                "[[slots]]\nslot = 7\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                dir.path().join("token.sql").display()
            ),
        )
        .unwrap();
        let conf = conf.to_str().unwrap().to_string();
        let k = Kryoptic {
            _dir: dir,
            conf,
            serial: String::new(),
        };
        let m = kryoptic();
        let env = k.env();
        let out = pkcs11_tool(
            &m,
            &["--init-token", "--label", "holder", "--so-pin", so_pin],
            &env,
        );
        assert!(out.status.success(), "{}", text(&out));
        let out = pkcs11_tool(
            &m,
            &[
                "--init-pin",
                "--login",
                "--login-type",
                "so",
                "--so-pin",
                so_pin,
                "--pin",
                user_pin,
            ],
            &env,
        );
        assert!(out.status.success(), "{}", text(&out));
        let out = pkcs11_tool(&m, &["--list-token-slots"], &env);
        let listing = String::from_utf8_lossy(&out.stdout).to_string();
        let serial = listing
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("serial num")
                    .map(|s| s.trim_start_matches([' ', ':']).trim().to_string())
            })
            .unwrap_or_else(|| panic!("{listing}"));
        Kryoptic { serial, ..k }
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("KRYOPTIC_CONF", self.conf.as_str())]
    }
}

/// An order for a key initialised elsewhere; returns the activation code.
fn order(ca: &Ca, serial: &str, days: u32, so_pin: &str, initial_pin: &str) -> String {
    let v = admin_post(
        ca,
        "/admin/orders",
        &json!({
            "token_serial": serial,
            "holder": "广东测试有限公司",
            "org": "广东测试有限公司",
            "cert_type": "organisation",
            "years": 1,
            "days": days,
            "key_algorithm": "p256",
            "handler": {"name": "李四", "id_number": "110101199001011234", "phone": "13800000000"},
            "so_pin": so_pin,
            "initial_pin": initial_pin,
        }),
    );
    v["activation_code"].as_str().unwrap().to_string()
}

/// Wrong PINs until the token says locked; returns how many it took.
fn lock(module: &Path, env: &[(&str, &str)]) -> usize {
    for n in 1..=20 {
        let out = pkcs11_tool(module, &["--login", "--pin", "99990000", "-O"], env);
        if text(&out).contains("CKR_PIN_LOCKED") {
            return n;
        }
    }
    panic!("kryoptic did not lock the PIN");
}

#[test]
fn every_workflow_on_kryoptic_and_an_online_unlock_after_lockout() {
    let module = kryoptic();
    let ca = Ca::start();
    let k = Kryoptic::new("SoPin-2468", "13572468");
    let env = k.env();
    let code = order(&ca, &k.serial, 30, "SoPin-2468", "13572468");

    // Activate.
    let run = [
        env[0],
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["--json", "activate", "--yes"], &run);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_activated(&ca, &module, &env, &done, "p256");

    // Change the PIN and back.
    let run = [
        env[0],
        ("CERTKEY_PIN", NEW_PIN),
        ("CERTKEY_NEW_PIN", "97531864"),
    ];
    let out = certkey(&module, &ca, &["pin", "change"], &run);
    assert!(out.status.success(), "{}", text(&out));
    let run = [
        env[0],
        ("CERTKEY_PIN", "97531864"),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["pin", "change"], &run);
    assert!(out.status.success(), "{}", text(&out));

    // Renew (a 30-day certificate is in its window).
    let run = [env[0], ("CERTKEY_PIN", NEW_PIN)];
    let out = certkey(&module, &ca, &["--json", "renew"], &run);
    assert!(out.status.success(), "{}", text(&out));
    let renewed: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_activated(&ca, &module, &env, &renewed, "p256");

    // The seal.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("ring.png");
    ring_png(&png);
    let out = certkey(
        &module,
        &ca,
        &["--json", "seal", "write", "--image", png.to_str().unwrap()],
        &run,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = certkey(&module, &ca, &["--json", "seal", "show"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["seals"][0]["signature_valid"], true, "{shown}");
    assert_eq!(shown["seals"][0]["bound_to_certificate"], true, "{shown}");

    // Locked for real after 10 wrong PINs; the right one no longer works.
    let tries = lock(&module, &env);
    assert_eq!(tries, 10, "kryoptic locks on the 10th wrong PIN");
    let out = pkcs11_tool(&module, &["--login", "--pin", NEW_PIN, "-O"], &env);
    assert!(
        !out.status.success(),
        "a locked PIN refuses even the right one"
    );
    // certkey refuses to try a PIN on a locked key.
    let out = certkey(&module, &ca, &["pin", "change"], &run);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));

    // Online unlock, auto-approved (the handler on file).
    let state = tempfile::tempdir().unwrap();
    let st = state.path().to_str().unwrap().to_string();
    let run = [
        env[0],
        ("CERTKEY_STATE_DIR", st.as_str()),
        ("CERTKEY_NEW_PIN", "24681357"),
    ];
    let out = certkey(
        &module,
        &ca,
        &[
            "--json",
            "unlock",
            "--handler-name",
            "李四",
            "--handler-id",
            "110101199001011234",
            "--handler-phone",
            "13800000000",
        ],
        &run,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = pkcs11_tool(&module, &["--login", "--pin", "24681357", "-O"], &env);
    assert!(out.status.success(), "{}", text(&out));

    // Locked again; another handler: reviewed, approved, applied.
    assert_eq!(lock(&module, &env), 10);
    let run = [
        env[0],
        ("CERTKEY_STATE_DIR", st.as_str()),
        ("CERTKEY_NEW_PIN", "86420975"),
    ];
    let out = certkey(
        &module,
        &ca,
        &[
            "--json",
            "unlock",
            "--handler-name",
            "王五",
            "--handler-id",
            "110101198001011111",
            "--handler-phone",
            "13900000000",
        ],
        &run,
    );
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ticket = v["ticket"].as_str().unwrap().to_string();
    admin_post(&ca, &format!("/admin/unlock/{ticket}/approve"), &json!({}));
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &run);
    assert!(out.status.success(), "{}", text(&out));
    let out = pkcs11_tool(&module, &["--login", "--pin", "86420975", "-O"], &env);
    assert!(out.status.success(), "{}", text(&out));
}
