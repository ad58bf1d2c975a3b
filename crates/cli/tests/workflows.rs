//! The workflows end to end: `certkey activate` and `certkey pin change` against a real
//! certkey-ca (SQLite) started here, on softkey virtual keys (SM2 and P-256) and on
//! SoftHSM2 (P-256), with OpenSSL and pkcs11-tool as independent peers, and the key
//! pulled out at every step of an activation (`certkey-softkey fail-after N`) followed
//! by a rerun that must finish the job.

mod flows;

use std::path::Path;
use std::process::Command;

use flows::*;
use serde_json::{json, Value};

fn activate_softkey(key: &str) {
    let ca = Ca::start();
    let serial = format!("SKWF{}", key.to_uppercase());
    let store = blank_softkey(&serial, "tass");
    let (serial, code) = ca.produce(store.path(), key);
    let module = sibling("libcertkey_softkey.so");
    let env_store = store.path().to_str().unwrap().to_string();
    let base = [("CERTKEY_SOFTKEY_DIR", env_store.as_str())];

    // A wrong code: the service's remaining tries are shown, nothing changes.
    let wrong = format!("{}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let wrong = format!("{wrong:0>6}");
    let env = [
        base[0],
        ("CERTKEY_ACTIVATION_CODE", wrong.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["activate", "--yes"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("4 tries left"),
        "{}",
        text(&out)
    );
    // Without --yes and without a terminal, nothing is done.
    let env = [
        base[0],
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["activate"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A new PIN the policy refuses is refused before anything changes.
    let bad_pin = [
        base[0],
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", "123456"),
    ];
    let out = certkey(&module, &ca, &["activate", "--yes"], &bad_pin);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));

    // The code and the new PIN from files (the form README recommends), each written
    // with a line end as `echo` would.
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = |name: &str, value: &str| {
        let path = secrets.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.to_str().unwrap().to_string()
    };
    let code_file = secret_file("code", &code);
    let new_pin_file = secret_file("new-pin", NEW_PIN);
    let from_files = [
        base[0],
        ("CERTKEY_ACTIVATION_CODE_FILE", code_file.as_str()),
        ("CERTKEY_NEW_PIN_FILE", new_pin_file.as_str()),
    ];
    // A code given twice (variable and file) is refused before anything is done.
    let twice = [
        from_files[0],
        from_files[1],
        from_files[2],
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
    ];
    let out = certkey(&module, &ca, &["activate", "--yes"], &twice);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("CERTKEY_ACTIVATION_CODE and CERTKEY_ACTIVATION_CODE_FILE are both set"),
        "{}",
        text(&out)
    );
    let out = certkey(&module, &ca, &["--json", "activate", "--yes"], &from_files);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["token_serial"], serial.as_str());
    assert_eq!(done["resumed"], false);
    assert!(
        done["subject"].as_str().unwrap().contains("CN=张三"),
        "{done}"
    );
    check_activated(&ca, &module, &base, &done, key);
    // The journal is gone and a second activation is refused.
    let out = pkcs11_tool(&module, &["--list-objects", "--type", "data"], &base);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("certkey-journal"),
        "{}",
        text(&out)
    );
    let out = certkey(&module, &ca, &["activate", "--yes"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));

    // pin change: the old PIN, a new one by the policy, both read from files.
    let empty = secret_file("empty", "");
    let env = [
        base[0],
        ("CERTKEY_PIN_FILE", empty.as_str()),
        ("CERTKEY_NEW_PIN", "97531864"),
    ];
    let out = certkey(&module, &ca, &["pin", "change"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("CERTKEY_PIN_FILE: {empty} is empty")),
        "{}",
        text(&out)
    );
    let pin_file = secret_file("pin", NEW_PIN);
    let next_pin_file = secret_file("next-pin", "97531864");
    let env = [
        base[0],
        ("CERTKEY_PIN_FILE", pin_file.as_str()),
        ("CERTKEY_NEW_PIN_FILE", next_pin_file.as_str()),
    ];
    let out = certkey(&module, &ca, &["pin", "change"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let out = pkcs11_tool(&module, &["--login", "--pin", "97531864", "-O"], &base);
    assert!(out.status.success(), "{}", text(&out));
    // A wrong current PIN: the key's state after it is reported, exit 6.
    let env = [
        base[0],
        ("CERTKEY_PIN", "11112222"),
        ("CERTKEY_NEW_PIN", "86420975"),
    ];
    let out = certkey(&module, &ca, &["pin", "change"], &env);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrong PIN"),
        "{}",
        text(&out)
    );
}

#[test]
fn activate_and_change_the_pin_on_softkey_sm2() {
    activate_softkey("sm2");
}

#[test]
fn activate_and_change_the_pin_on_softkey_p256() {
    activate_softkey("p256");
}

#[test]
fn activate_change_pin_and_renew_on_softhsm2_p256_for_a_key_initialised_elsewhere() {
    let ca = Ca::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap().to_string();
    let env = [("SOFTHSM2_CONF", conf.as_str())];
    let out = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "holder",
            "--pin",
            "13572468",
            "--so-pin",
            "SoPin12345",
        ])
        .envs(env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The token's serial as SoftHSM2 reports it.
    let out = pkcs11_tool(Path::new(SOFTHSM), &["--list-token-slots"], &env);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let serial = listing
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("serial num")
                .map(|s| s.trim_start_matches([' ', ':']).trim().to_string())
        })
        .unwrap_or_else(|| panic!("{listing}"));
    let order = admin_post(
        &ca,
        "/admin/orders",
        &json!({
            "token_serial": serial,
            "holder": "王五",
            "cert_type": "person",
            "years": 1,
            "days": 30,
            "key_algorithm": "p256",
            "handler": {"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"},
            "so_pin": "SoPin12345",
            "initial_pin": "13572468",
        }),
    );
    let code = order["activation_code"].as_str().unwrap();
    let module = Path::new(SOFTHSM);
    let run_env = [
        env[0],
        ("CERTKEY_ACTIVATION_CODE", code),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(
        module,
        &ca,
        &["--json", "activate", "--yes", "--token", &serial],
        &run_env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_activated(&ca, module, &env, &done, "p256");

    // PIN change, renewal and the seal on SoftHSM2 too (it never locks a PIN, so no
    // unlock here: kryoptic and softkey cover that).
    let run = [
        env[0],
        ("CERTKEY_PIN", NEW_PIN),
        ("CERTKEY_NEW_PIN", "97531864"),
    ];
    let out = certkey(module, &ca, &["pin", "change", "--token", &serial], &run);
    assert!(out.status.success(), "{}", text(&out));
    let run = [
        env[0],
        ("CERTKEY_PIN", "97531864"),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(module, &ca, &["pin", "change", "--token", &serial], &run);
    assert!(out.status.success(), "{}", text(&out));
    let run = [env[0], ("CERTKEY_PIN", NEW_PIN)];
    let out = certkey(module, &ca, &["--json", "renew", "--token", &serial], &run);
    assert!(out.status.success(), "{}", text(&out));
    let renewed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(renewed["new_serial"], done["certificate_serial"]);
    check_activated(&ca, module, &env, &renewed, "p256");
    assert_eq!(certificate_count(module, &env), 1);
}

/// The key is pulled out after N PKCS#11 operations, for every N across the whole
/// activation; the key is put back and `certkey activate` run again must finish, with
/// a certificate OpenSSL verifies and the holder's PIN set.
#[test]
fn an_activation_cut_short_at_any_step_is_finished_by_a_rerun() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let mut n = 0;
    loop {
        let store = blank_softkey(&format!("SKCUT{n:03}"), "tass");
        let (_, code) = ca.produce(store.path(), "sm2");
        let s = store.path().to_str().unwrap().to_string();
        let env = [
            ("CERTKEY_SOFTKEY_DIR", s.as_str()),
            ("CERTKEY_ACTIVATION_CODE", code.as_str()),
            ("CERTKEY_NEW_PIN", NEW_PIN),
            ("CERTKEY_PIN", NEW_PIN),
        ];
        let first = cut_after(&s, n, || {
            certkey(&module, &ca, &["--json", "activate", "--yes"], &env)
        });
        if first.status.success() {
            // The cut came after the last operation: every step has been cut once.
            assert!(n > 10, "activation needs more than {n} operations");
            let done: Value = serde_json::from_slice(&first.stdout).unwrap();
            check_activated(&ca, &module, &env[..1], &done, "sm2");
            break;
        }
        let again = certkey(&module, &ca, &["--json", "activate", "--yes"], &env);
        assert!(
            again.status.success(),
            "cut after {n} operations, the rerun failed:\nfirst run: {}\nrerun: {}",
            text(&first),
            text(&again)
        );
        let done: Value = serde_json::from_slice(&again.stdout).unwrap();
        check_activated(&ca, &module, &env[..1], &done, "sm2");
        n += 1;
        assert!(n < 400, "activation never completed without a cut");
    }
}

/// A softkey key produced with `extra` and activated with NEW_PIN: (store, serial).
fn activated_softkey(ca: &Ca, serial: &str, key: &str, extra: &[&str]) -> tempfile::TempDir {
    let store = blank_softkey(serial, "tass");
    let (_, code) = ca.produce_with(store.path(), key, extra);
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(
        &sibling("libcertkey_softkey.so"),
        ca,
        &["activate", "--yes"],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out));
    store
}

/// Certificate objects on a key, as pkcs11-tool lists them.
fn certificate_count(module: &Path, env: &[(&str, &str)]) -> usize {
    let out = pkcs11_tool(module, &["--list-objects", "--type", "cert"], env);
    String::from_utf8_lossy(&out.stdout)
        .matches("Certificate Object")
        .count()
}

fn renew_on_softkey(key: &str) {
    let ca = Ca::start();
    let store = activated_softkey(
        &ca,
        &format!("SKRN{}", key.to_uppercase()),
        key,
        &["--days", "30"],
    );
    let module = sibling("libcertkey_softkey.so");
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["--json", "renew"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(done["new_serial"], done["old_serial"]);
    // The new certificate continues the old validity: 30 days left + a 30-day term.
    let left = done["days_left"].as_i64().unwrap();
    assert!((59..=61).contains(&left), "{done}");
    assert_eq!(
        certificate_count(&module, &env[..1]),
        1,
        "the old certificate is gone"
    );
    check_activated(&ca, &module, &env[..1], &done, key);
}

#[test]
fn renew_on_softkey_sm2() {
    renew_on_softkey("sm2");
}

#[test]
fn renew_on_softkey_p256() {
    renew_on_softkey("p256");
}

#[test]
fn renewal_is_refused_outside_its_window_and_says_why() {
    let ca = Ca::start();
    let store = activated_softkey(&ca, "SKRNEARLY", "p256", &["--years", "1"]);
    let module = sibling("libcertkey_softkey.so");
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["renew"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("renewal opens 90 days before expiry") && err.contains("365 days left"),
        "{}",
        text(&out)
    );
}

/// Private key objects on a key, as pkcs11-tool lists them after logging in.
fn private_key_count(module: &Path, env: &[(&str, &str)]) -> usize {
    let out = pkcs11_tool(module, &["--login", "--pin", NEW_PIN, "-O"], env);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .matches("Private Key Object")
        .count()
}

/// `certkey renew --quote` in both languages and as JSON, then `renew --years 2`: the
/// new certificate is valid two years (730 days) past the old expiry.
#[test]
fn the_quote_shows_the_terms_in_both_languages_and_renew_years_2_adds_730_days() {
    let ca = Ca::start();
    let store = activated_softkey(&ca, "SKRNTERM", "p256", &["--days", "30"]);
    let module = sibling("libcertkey_softkey.so");
    let s = store.path().to_str().unwrap().to_string();
    let env = [("CERTKEY_SOFTKEY_DIR", s.as_str())];

    // No PIN is needed for the quote.
    let out = certkey(&module, &ca, &["renew", "--quote"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let en = String::from_utf8_lossy(&out.stdout).to_string();
    for want in [
        "on key SKRNTERM: person in organisation certificate",
        "(30 days left)",
        "Online renewal is open now.",
        "1 year",
        "¥200.00",
        "5 years",
        "¥1000.00",
        "Payment: online renewal needs no payment",
    ] {
        assert!(en.contains(want), "{want:?} missing from:\n{en}");
    }
    let out = certkey_in("zh-CN", &module, &ca, &["renew", "--quote"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let zh = String::from_utf8_lossy(&out.stdout).to_string();
    for want in [
        "Key SKRNTERM 上的证书",
        "机构个人证书",
        "（还有 30 天）",
        "现在可以在线续期。",
        "2 年",
        "400.00 元",
        "缴费：在线续期无需事先向 CA 缴费。",
    ] {
        assert!(zh.contains(want), "{want:?} missing from:\n{zh}");
    }
    let out = certkey(&module, &ca, &["--json", "renew", "--quote"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let q: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(q["token_serial"], "SKRNTERM");
    assert_eq!(q["quote"]["state"], "open");
    assert_eq!(q["quote"]["cert_type"], "org_person");
    assert_eq!(q["quote"]["terms"][1]["years"], 2);
    let two_years = q["quote"]["terms"][1]["not_after"]
        .as_str()
        .unwrap()
        .to_string();
    // The term is checked before anything happens.
    let out = certkey(&module, &ca, &["renew", "--years", "6"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    let env = [env[0], ("CERTKEY_PIN", NEW_PIN)];
    let out = certkey(&module, &ca, &["--json", "renew", "--years", "2"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["years"], 2);
    assert_eq!(done["not_after"].as_str().unwrap(), two_years);
    let left = done["days_left"].as_i64().unwrap();
    assert!((759..=761).contains(&left), "30 days left + 730: {done}");
    check_activated(&ca, &module, &env[..1], &done, "p256");
    // Text output names the term.
    let out = certkey(&module, &ca, &["renew", "--quote"], &env[..1]);
    let en = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(en.contains("Online renewal opens on "), "{en}");
}

/// With payment required, the quote says how to pay; a term other than the paid one
/// is refused and leaves the key as it was; the paid term renews.
#[test]
fn a_renewal_for_another_term_than_the_paid_one_is_refused_and_explained() {
    let ca = Ca::start_configured(&|t| {
        t.replace(
            "require_renewal_entitlement = false",
            "require_renewal_entitlement = true",
        )
    });
    let store = activated_softkey(&ca, "SKRNPAID", "sm2", &["--days", "30"]);
    let module = sibling("libcertkey_softkey.so");
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["renew", "--quote"], &env[..1]);
    assert!(out.status.success(), "{}", text(&out));
    let en = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        en.contains("Payment: required before renewing")
            && en.contains("How to pay: Online renewal must be paid for first"),
        "{en}"
    );
    let out = certkey_in("zh-CN", &module, &ca, &["renew", "--quote"], &env[..1]);
    let zh = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        zh.contains("缴费：续期前需先缴费") && zh.contains("缴费方式：在线续期需先缴费"),
        "{zh}"
    );
    // Not paid: refused, the key unchanged.
    let out = certkey(&module, &ca, &["renew"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only once the renewal is paid for"),
        "{}",
        text(&out)
    );

    // The CA records three paid years.
    let q = certkey(&module, &ca, &["--json", "renew", "--quote"], &env[..1]);
    let q: Value = serde_json::from_slice(&q.stdout).unwrap();
    let serial = q["quote"]["certificate_serial"]
        .as_str()
        .unwrap()
        .to_string();
    admin_post(
        &ca,
        &format!("/admin/certificates/{serial}/entitlement"),
        &json!({"years": 3}),
    );
    let out = certkey(&module, &ca, &["renew", "--quote"], &env[..1]);
    let en = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        en.contains("Payment: 3 years are paid for: renew with certkey renew --years 3."),
        "{en}"
    );

    // Another term: refused; the new key pair it made is gone again.
    let out = certkey(&module, &ca, &["renew", "--years", "1"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("the renewal was paid for 3 years, not the term asked for")
            && err.contains("--years 3"),
        "{}",
        text(&out)
    );
    let out = certkey_in("zh-CN", &module, &ca, &["renew", "--years", "2"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("已缴费的续期年限是 3 年"),
        "{}",
        text(&out)
    );
    assert_eq!(certificate_count(&module, &env[..1]), 1);
    assert_eq!(private_key_count(&module, &env[..1]), 1);

    // The paid term, without --years or with it: renewed for three years.
    let out = certkey(&module, &ca, &["--json", "renew", "--years", "3"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let left = done["days_left"].as_i64().unwrap();
    assert!((1124..=1126).contains(&left), "30 days + 3 x 365: {done}");
    assert_eq!(certificate_count(&module, &env[..1]), 1);
    check_activated(&ca, &module, &env[..1], &done, "sm2");

    // A renewal for two years stopped for want of payment: once the CA records the
    // payment, a rerun without --years finishes it for the two years it asked for.
    let store = activated_softkey(&ca, "SKRNPAID2", "sm2", &["--days", "30"]);
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["renew", "--years", "2"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let q = certkey(&module, &ca, &["--json", "renew", "--quote"], &env[..1]);
    let q: Value = serde_json::from_slice(&q.stdout).unwrap();
    let serial = q["quote"]["certificate_serial"]
        .as_str()
        .unwrap()
        .to_string();
    admin_post(
        &ca,
        &format!("/admin/certificates/{serial}/entitlement"),
        &json!({"years": 2}),
    );
    let out = certkey(&module, &ca, &["--json", "renew"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (done["years"].as_u64(), done["resumed"].as_bool()),
        (Some(2), Some(true))
    );
    let left = done["days_left"].as_i64().unwrap();
    assert!((759..=761).contains(&left), "30 days + 2 x 365: {done}");
}

/// The key pulled out after N operations of a renewal, for every N; and the service
/// stopped mid-flow. Each time the key keeps a working certificate and key, and a rerun
/// completes with exactly one certificate (never a second issuance for one request).
#[test]
fn a_renewal_cut_short_at_any_step_or_by_the_service_is_finished_by_a_rerun() {
    let mut ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");

    // The service is down: nothing changes on the key; with it back, renewal works.
    let store = activated_softkey(&ca, "SKRNDOWN", "sm2", &["--days", "20"]);
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    ca.stop();
    let out = certkey(&module, &ca, &["renew"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert_eq!(certificate_count(&module, &env[..1]), 1);
    ca.restart();
    let out = certkey(&module, &ca, &["--json", "renew"], &env);
    assert!(out.status.success(), "{}", text(&out));

    let mut n = 0;
    loop {
        let store = activated_softkey(&ca, &format!("SKRN{n:03}"), "sm2", &["--days", "20"]);
        let s = store.path().to_str().unwrap().to_string();
        let env = [
            ("CERTKEY_SOFTKEY_DIR", s.as_str()),
            ("CERTKEY_PIN", NEW_PIN),
        ];
        let first = cut_after(&s, n, || certkey(&module, &ca, &["--json", "renew"], &env));
        if first.status.success() {
            assert!(n > 10, "renewal needs more than {n} operations");
            break;
        }
        // The key still holds a certificate with its key pair.
        assert!(certificate_count(&module, &env[..1]) >= 1, "cut at {n}");
        let again = certkey(&module, &ca, &["--json", "renew"], &env);
        assert!(
            again.status.success(),
            "cut after {n} operations, the rerun failed:\nfirst run: {}\nrerun: {}",
            text(&first),
            text(&again)
        );
        let done: Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(certificate_count(&module, &env[..1]), 1, "cut at {n}");
        let left = done["days_left"].as_i64().unwrap();
        assert!((39..=41).contains(&left), "one renewal, not two: {done}");
        check_activated(&ca, &module, &env[..1], &done, "sm2");
        n += 1;
        assert!(n < 400, "renewal never completed without a cut");
    }
}

/// Locks the user PIN of a softkey key with wrong PINs.
fn lock_pin(module: &Path, env: &[(&str, &str)]) {
    for _ in 0..20 {
        let out = pkcs11_tool(module, &["--login", "--pin", "00000000", "-O"], env);
        let all = text(&out);
        if all.contains("CKR_PIN_LOCKED") {
            return;
        }
    }
    panic!("the PIN did not lock");
}

const HANDLER: [&str; 6] = [
    "--handler-name",
    "李四",
    "--handler-id",
    "110101199001011234",
    "--handler-phone",
    "13800000000",
];

/// Gives this test process (and so every certkey it starts) one kernel session
/// keyring, as a login session has: without one each process would get a keyring of
/// its own and nothing could be remembered between runs. Whether there is one: a
/// container may forbid the kernel keyring (Docker's default seccomp profile refuses
/// keyctl), and then certkey must say it could not remember, and go on.
fn join_session_keyring() -> bool {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = c"certkey-test";
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a NUL-terminated string.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        assert!(
            matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::EACCES | libc::ENOSYS)
            ),
            "keyctl join session keyring: {e}"
        );
        eprintln!("no kernel keyring here ({e}): the handler cannot be remembered");
        return false;
    }
    true
}

#[test]
fn unlock_online_auto_approved_after_review_and_rejected() {
    let keyring = join_session_keyring();
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = activated_softkey(&ca, "SKUNLOCK", "sm2", &[]);
    let state = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap().to_string();
    let st = state.path().to_str().unwrap().to_string();
    let base = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_STATE_DIR", st.as_str()),
    ];

    // Not locked: nothing to do.
    let mut args = vec!["unlock"];
    args.extend(HANDLER);
    let out = certkey(&module, &ca, &args, &base);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not locked"),
        "{}",
        text(&out)
    );

    // The handler on file: approved at once; a new PIN, the SO PIN rotated.
    lock_pin(&module, &base[..1]);
    let env = [base[0], base[1], ("CERTKEY_NEW_PIN", "13579246")];
    let mut args = vec!["--json", "unlock"];
    args.extend(HANDLER);
    let out = certkey(&module, &ca, &args, &env);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "unlocked");
    let out = pkcs11_tool(&module, &["--login", "--pin", "13579246", "-O"], &base[..1]);
    assert!(
        out.status.success(),
        "the new PIN opens the key: {}",
        text(&out)
    );
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Authorization: Bearer {}", ca.admin)])
        .arg(format!("{}/api/v1/admin/audit?limit=50", ca.url))
        .output()
        .unwrap();
    let audit = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(audit.contains("so_pin_rotated"), "{audit}");

    // Another handler: the CA reviews. Waiting, then approved by an operator.
    lock_pin(&module, &base[..1]);
    let env = [base[0], base[1], ("CERTKEY_NEW_PIN", "86421357")];
    let other = [
        "--handler-name",
        "王五",
        "--handler-id",
        "110101198001011111",
        "--handler-phone",
        "13900000000",
    ];
    let mut args = vec!["--json", "unlock", "--remember"];
    args.extend(other);
    let out = certkey(&module, &ca, &args, &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let remember_warned =
        String::from_utf8_lossy(&out.stderr).contains("could not remember the handler");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "pending_review");
    let ticket = v["ticket"].as_str().unwrap().to_string();
    let out = certkey(&module, &ca, &["unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    admin_post(&ca, &format!("/admin/unlock/{ticket}/approve"), &json!({}));
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let out = pkcs11_tool(&module, &["--login", "--pin", "86421357", "-O"], &base[..1]);
    assert!(out.status.success(), "{}", text(&out));
    // Nothing waits any more.
    let out = certkey(&module, &ca, &["unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));

    // Rejected by an operator; the handler comes from the OS keyring this time (given
    // again where there is no keyring to remember it).
    assert_eq!(
        remember_warned, !keyring,
        "the kernel session keyring remembers, and only it"
    );
    lock_pin(&module, &base[..1]);
    let mut args = vec!["--json", "unlock"];
    if !keyring {
        args.extend(other);
    }
    let out = certkey(&module, &ca, &args, &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ticket = v["ticket"].as_str().unwrap().to_string();
    admin_post(&ca, &format!("/admin/unlock/{ticket}/reject"), &json!({}));
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "rejected");
    if keyring {
        certkey_core::workflow::unlock::forget_handler().unwrap();
    }
}

/// `GET` of the service's admin API (`path` under /api/v1) with the admin token, into
/// `out`; the call must succeed.
fn admin_get(ca: &Ca, path: &str, out: &Path) {
    let o = Command::new("curl")
        .args(["-sf", "-H", &format!("Authorization: Bearer {}", ca.admin)])
        .arg("-o")
        .arg(out)
        .arg(format!("{}/api/v1{path}", ca.url))
        .output()
        .unwrap();
    assert!(o.status.success(), "{path}: {}", text(&o));
}

/// The attachments of an unlock request, as the CA operator lists them.
fn attachments_on_file(ca: &Ca, ticket: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.json");
    admin_get(ca, &format!("/admin/unlock/{ticket}/attachments"), &list);
    serde_json::from_slice::<Value>(&std::fs::read(&list).unwrap())
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The review asks for materials; the holder attaches real scans with `certkey unlock
/// --attach` (checked on this side first: a file named .pdf that is not one, a file
/// over 5 MiB never leave the computer), sees the note and what was sent, and the CA
/// reads the very bytes. A rejection shows the CA's reason, in both languages.
#[test]
fn unlock_materials_are_attached_from_the_command_line_and_a_rejection_shows_its_reason() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = activated_softkey(&ca, "SKMATERIALS", "p256", &[]);
    let state = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap().to_string();
    let st = state.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_STATE_DIR", st.as_str()),
        ("CERTKEY_NEW_PIN", "86421357"),
    ];
    let other = [
        "--handler-name",
        "王五",
        "--handler-id",
        "110101198001011111",
        "--handler-phone",
        "13900000000",
    ];
    lock_pin(&module, &env[..1]);

    // Nothing waits yet: --status with --attach says so.
    let id_card = files.path().join("身份证.png");
    ring_png(&id_card);
    let id_arg = id_card.to_str().unwrap();
    let out = certkey(
        &module,
        &ca,
        &["unlock", "--status", "--attach", id_arg],
        &env,
    );
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));

    // Another handler: the CA reviews, and asks for materials.
    let mut args = vec!["--json", "unlock"];
    args.extend(other);
    let out = certkey(&module, &ca, &args, &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["needs_materials"], false, "{v}");
    assert_eq!(v["attachments"], json!([]), "{v}");
    let ticket = v["ticket"].as_str().unwrap().to_string();
    let note = "请上传经办人身份证正反面扫描件和授权委托书";
    admin_post(
        &ca,
        &format!("/admin/unlock/{ticket}/request-materials"),
        &json!({ "note": note }),
    );
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["state"].as_str(),
            v["needs_materials"].as_bool(),
            v["note"].as_str()
        ),
        (Some("pending_review"), Some(true), Some(note)),
        "{v}"
    );
    let out = certkey_in("zh-CN", &module, &ca, &["unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        shown.contains(&format!("CA 要求为解锁申请 {ticket} 补充材料：{note}"))
            && shown.contains("certkey unlock --attach"),
        "{shown}"
    );

    // Refused on this computer, before anything is sent: a text file named .pdf, a file
    // over 5 MiB (even with a PDF header).
    let fake = files.path().join("授权委托书.pdf");
    std::fs::write(&fake, "this is not a PDF").unwrap();
    let big = files.path().join("big.pdf");
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.resize(certkey_protocol::MAX_ATTACHMENT_BYTES + 1, b' ');
    std::fs::write(&big, &bytes).unwrap();
    for (file, says) in [(&fake, "PDF, JPEG or PNG"), (&big, "at most 5 MiB")] {
        let out = certkey(
            &module,
            &ca,
            &[
                "unlock",
                "--attach",
                id_arg,
                "--attach",
                file.to_str().unwrap(),
            ],
            &env,
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{}",
            text(&out)
        );
    }
    assert!(
        attachments_on_file(&ca, &ticket).is_empty(),
        "nothing was sent"
    );

    // Two real scans: a PNG and a JPEG.
    let letter = files.path().join("letter.jpg");
    image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 128]))
        .save(&letter)
        .unwrap();
    let out = certkey(
        &module,
        &ca,
        &[
            "unlock",
            "--attach",
            id_arg,
            "--attach",
            letter.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    let png_size = std::fs::metadata(&id_card).unwrap().len();
    assert!(
        shown.contains(&format!(
            "Attached 身份证.png (PNG, {png_size} bytes) to the unlock request."
        )) && shown.contains("Attached letter.jpg (JPEG,")
            && shown.contains("waits for the CA's review"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("Materials the CA asked for: {note}")),
        "{shown}"
    );
    assert!(
        shown.contains("Materials sent: 身份证.png, letter.jpg"),
        "{shown}"
    );
    // The CA reads the very bytes.
    let on_file = attachments_on_file(&ca, &ticket);
    assert_eq!(on_file.len(), 2);
    for (entry, path) in on_file.iter().zip([&id_card, &letter]) {
        let got = files.path().join("fetched");
        admin_get(
            &ca,
            &format!("/admin/unlock/{ticket}/attachments/{}", entry["id"]),
            &got,
        );
        assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(path).unwrap());
    }
    // The outcome as the app gets it from core.
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &env);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["needs_materials"], false, "back under review: {v}");
    assert_eq!(v["attachments"], Value::Array(on_file.clone()));

    // Approved: nothing more is taken; the unlock completes.
    admin_post(&ca, &format!("/admin/unlock/{ticket}/approve"), &json!({}));
    let out = certkey(&module, &ca, &["unlock", "--attach", id_arg], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already decided"),
        "{}",
        text(&out)
    );
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let out = pkcs11_tool(&module, &["--login", "--pin", "86421357", "-O"], &env[..1]);
    assert!(out.status.success(), "{}", text(&out));

    // Locked again, asked with a scan at once: the request is made, then the scan sent.
    lock_pin(&module, &env[..1]);
    let mut args = vec!["--json", "unlock", "--attach", id_arg];
    args.extend(other);
    let out = certkey(&module, &ca, &args, &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["attached"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["attachments"], v["attached"], "{v}");
    let ticket = v["ticket"].as_str().unwrap().to_string();

    // Rejected with a reason: shown (JSON and text), in both languages.
    let reason = "经办人信息与登记信息不符，请携带证件到柜台办理";
    admin_post(
        &ca,
        &format!("/admin/unlock/{ticket}/reject"),
        &json!({ "reason": reason }),
    );
    let out = certkey(&module, &ca, &["--json", "unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["state"].as_str(), v["reason"].as_str()),
        (Some("rejected"), Some(reason))
    );
    for (lang, says) in [
        (
            "en",
            format!("The CA rejected unlock request {{}}: {reason}"),
        ),
        ("zh-CN", format!("CA 拒绝了解锁申请 {{}}，原因：{reason}")),
    ] {
        let mut args = vec!["unlock"];
        args.extend(other);
        let out = certkey_in(lang, &module, &ca, &args, &env);
        assert_eq!(out.status.code(), Some(9), "{}", text(&out));
        let v = String::from_utf8_lossy(&out.stdout).to_string();
        let ticket = v
            .split_whitespace()
            .find(|w| w.starts_with("unl-"))
            .unwrap()
            .to_string();
        admin_post(
            &ca,
            &format!("/admin/unlock/{ticket}/reject"),
            &json!({ "reason": reason }),
        );
        let out = certkey_in(lang, &module, &ca, &["unlock", "--status"], &env);
        assert_eq!(out.status.code(), Some(8), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&says.replace("{}", &ticket)),
            "{}",
            text(&out)
        );
    }
}

/// (SO tries left, CKF_SO_PIN_FINAL_TRY-equivalent: one try left) of a softkey key.
fn so_tries_left(store: &str) -> i64 {
    let o = Command::new(sibling("certkey-softkey"))
        .args(["status", "--json", "--dir", store])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["slots"][0]["so_tries_left"].as_i64().unwrap()
}

/// Runs one SQL statement on the CA's SQLite database: the crafted change that makes
/// the SO PIN on file diverge from the key's.
fn ca_sql(ca: &Ca, statement: &str) {
    let out = Command::new("sqlite3")
        .arg(ca.data.path().join("ca.db"))
        .arg(statement)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// The SO PIN on file stops opening the key (here: the service's record moved back to
/// the SO PIN before the last committed rotation, which the key no longer holds).
/// `certkey unlock` spends at most two SO tries (one when the key already counts
/// failures), never the final one, and says to contact the CA; the CA's documented
/// restore call then makes the next unlock succeed. A key with few SO tries shows the
/// final try is never used.
#[test]
fn an_so_pin_on_file_that_is_not_the_keys_costs_at_most_two_tries_and_the_ca_restores_it() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = activated_softkey(&ca, "SKDIVERGE", "p256", &[]);
    let state = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap().to_string();
    let st = state.path().to_str().unwrap().to_string();
    let base = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_STATE_DIR", st.as_str()),
    ];
    let mut args = vec!["unlock"];
    args.extend(HANDLER);

    // A first unlock commits a rotation: on file now the key's SO PIN and the previous.
    lock_pin(&module, &base[..1]);
    let env = [base[0], base[1], ("CERTKEY_NEW_PIN", "13579246")];
    let out = certkey(&module, &ca, &args, &env);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(so_tries_left(&s), 10);

    // The crafted divergence: the record rotated back (both are sealed alike).
    ca_sql(
        &ca,
        "UPDATE tokens SET so_pin = so_pin_prev, so_pin_prev = so_pin WHERE serial = 'SKDIVERGE'",
    );
    lock_pin(&module, &base[..1]);
    let env = [base[0], base[1], ("CERTKEY_NEW_PIN", "24681357")];
    let out = certkey(&module, &ca, &args, &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not open this key") && err.contains("contact the CA"),
        "{}",
        text(&out)
    );
    assert_eq!(so_tries_left(&s), 8, "two SO logins at most");
    // Again, before the CA acts: the key already counts failures, so one try only.
    let out = certkey(&module, &ca, &args, &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert_eq!(
        so_tries_left(&s),
        7,
        "one SO login when failures are counted"
    );

    // The CA restores the previous SO PIN (audited); the next unlock succeeds.
    admin_post(
        &ca,
        "/admin/tokens/SKDIVERGE/so-pin/restore-previous",
        &json!({}),
    );
    let out = certkey(&module, &ca, &args, &env);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(so_tries_left(&s), 10, "the right SO PIN resets the counter");
    let out = pkcs11_tool(&module, &["--login", "--pin", "24681357", "-O"], &base[..1]);
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Authorization: Bearer {}", ca.admin)])
        .arg(format!("{}/api/v1/admin/audit?limit=50", ca.url))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("so_pin_restored_previous"));

    // A key with 3 SO tries: the two failed logins leave the final try, which no run
    // ever uses.
    let store3 = blank_softkey("SKSOFEW", "tass");
    let cfg = store3.path().join("softkey.toml");
    let mut text3 = std::fs::read_to_string(&cfg).unwrap();
    text3.push_str("so_retries = 3\n");
    std::fs::write(&cfg, text3).unwrap();
    let (_, code) = ca.produce_with(store3.path(), "p256", &[]);
    let s3 = store3.path().to_str().unwrap().to_string();
    let env3 = [
        ("CERTKEY_SOFTKEY_DIR", s3.as_str()),
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["activate", "--yes"], &env3);
    assert!(out.status.success(), "{}", text(&out));
    let env3 = [
        ("CERTKEY_SOFTKEY_DIR", s3.as_str()),
        ("CERTKEY_STATE_DIR", st.as_str()),
        ("CERTKEY_NEW_PIN", "13579246"),
    ];
    lock_pin(&module, &env3[..1]);
    let out = certkey(&module, &ca, &args, &env3);
    assert!(out.status.success(), "{}", text(&out));
    ca_sql(
        &ca,
        "UPDATE tokens SET so_pin = so_pin_prev, so_pin_prev = so_pin WHERE serial = 'SKSOFEW'",
    );
    lock_pin(&module, &env3[..1]);
    let out = certkey(&module, &ca, &args, &env3);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert_eq!(so_tries_left(&s3), 1);
    for _ in 0..2 {
        let out = certkey(&module, &ca, &args, &env3);
        assert_eq!(out.status.code(), Some(8), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("final try"),
            "{}",
            text(&out)
        );
        assert_eq!(so_tries_left(&s3), 1, "the final SO try is never used");
    }
}

/// An approval left unused past the CA's `unlock_ticket_minutes`: the client is told it
/// expired (exit 8), the SO PIN is not touched, and the next run asks afresh.
#[test]
fn an_unlock_approval_left_unused_expires_and_the_next_run_asks_again() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = activated_softkey(&ca, "SKEXPIRE", "p256", &[]);
    let state = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap().to_string();
    let st = state.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_STATE_DIR", st.as_str()),
        ("CERTKEY_NEW_PIN", "13579246"),
    ];
    lock_pin(&module, &env[..1]);
    let other = [
        "--json",
        "unlock",
        "--handler-name",
        "王五",
        "--handler-id",
        "110101198001011111",
        "--handler-phone",
        "13900000000",
    ];
    let out = certkey(&module, &ca, &other, &env);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ticket = v["ticket"].as_str().unwrap().to_string();
    admin_post(&ca, &format!("/admin/unlock/{ticket}/approve"), &json!({}));
    ca_sql(
        &ca,
        &format!(
            "UPDATE unlock_tickets SET decided_at = decided_at - 31 * 60 WHERE ticket = '{ticket}'"
        ),
    );
    let out = certkey(&module, &ca, &["unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expired"),
        "{}",
        text(&out)
    );
    assert_eq!(so_tries_left(&s), 10, "no SO login");
    // Nothing waits any more; a new request (the handler on file) unlocks.
    let out = certkey(&module, &ca, &["unlock", "--status"], &env);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    let mut args = vec!["unlock"];
    args.extend(HANDLER);
    let out = certkey(&module, &ca, &args, &env);
    assert!(out.status.success(), "{}", text(&out));
}

/// A key whose PIN set by the SO must be changed by the holder
/// (CKF_USER_PIN_TO_BE_CHANGED): activation sets the holder's PIN anyway; after an
/// online unlock the next operation (here a renewal) first makes the holder choose a
/// new PIN, then carries on.
#[test]
fn a_pin_the_key_says_must_change_is_changed_before_anything_else() {
    let _ = join_session_keyring();
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = tempfile::tempdir().unwrap();
    std::fs::write(
        store.path().join("softkey.toml"),
        "[[slot]]\nserial = \"SKMUST\"\nprofile = \"tass\"\ninit_pin_to_be_changed = true\n",
    )
    .unwrap();
    let (_, code) = ca.produce_with(store.path(), "p256", &["--days", "30"]);
    let state = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap().to_string();
    let st = state.path().to_str().unwrap().to_string();
    let base = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_STATE_DIR", st.as_str()),
    ];
    // What the key says, as pkcs11-tool shows it.
    let must_change = || {
        let out = pkcs11_tool(&module, &["--list-token-slots"], &base[..1]);
        String::from_utf8_lossy(&out.stdout).contains("user PIN to be changed")
    };
    assert!(
        must_change(),
        "production leaves a PIN the holder must change"
    );
    let env = [
        base[0],
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["activate", "--yes"], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!must_change());

    lock_pin(&module, &base[..1]);
    let env = [base[0], base[1], ("CERTKEY_NEW_PIN", "13579246")];
    let mut args = vec!["unlock"];
    args.extend(HANDLER);
    let out = certkey(&module, &ca, &args, &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(must_change());

    let env = [
        base[0],
        ("CERTKEY_PIN", "13579246"),
        ("CERTKEY_NEW_PIN", "86421357"),
    ];
    let out = certkey(&module, &ca, &["--json", "renew"], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("requires a new PIN first"),
        "{}",
        text(&out)
    );
    assert!(!must_change());
    let out = pkcs11_tool(&module, &["--login", "--pin", "86421357", "-O"], &base[..1]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The service goes away in the middle of an activation: the key was pulled out after
/// its key pair was made (so the journal holds the activation), and the rerun meets a
/// stopped service. It fails cleanly, the key keeps its state, and once the service is
/// back a rerun finishes.
#[test]
fn an_activation_whose_service_stops_mid_flow_finishes_when_it_is_back() {
    let mut ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = blank_softkey("SKSVCDOWN", "tass");
    let (_, code) = ca.produce(store.path(), "sm2");
    let s = store.path().to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    // Find a cut that leaves a journal with the key pair on the key.
    let mut cut = None;
    for n in 20..80 {
        let out = cut_after(&s, n, || {
            certkey(&module, &ca, &["activate", "--yes"], &env)
        });
        assert!(
            !out.status.success(),
            "cut at {n} should stop the activation"
        );
        let data = pkcs11_tool(&module, &["--list-objects", "--type", "data"], &env[..1]);
        let listing = String::from_utf8_lossy(&data.stdout).to_string();
        let keys = pkcs11_tool(
            &module,
            &[
                "--login",
                "--pin",
                NEW_PIN,
                "--list-objects",
                "--type",
                "privkey",
            ],
            &env[..1],
        );
        if listing.contains("certkey-journal")
            && String::from_utf8_lossy(&keys.stdout).contains("Private Key Object")
        {
            cut = Some(n);
            break;
        }
    }
    assert!(cut.is_some(), "no cut left a journal and a key pair");
    ca.stop();
    let out = certkey(&module, &ca, &["activate", "--yes"], &env);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot reach the CA service"),
        "{}",
        text(&out)
    );
    ca.restart();
    let out = certkey(&module, &ca, &["--json", "activate", "--yes"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["resumed"], true);
    check_activated(&ca, &module, &env[..1], &done, "sm2");
}

/// A vendor whose keys keep the CA chain (catalog `store_chain = true`, here from a
/// user catalog): activation writes the issuing and root CA beside the holder's
/// certificate, renewal does not write them twice.
#[test]
fn the_chain_is_written_where_the_vendor_profile_keeps_it() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let store = tempfile::tempdir().unwrap();
    std::fs::write(
        store.path().join("softkey.toml"),
        "[[slot]]\nserial = \"SKCHAIN\"\nprofile = \"tass\"\nmanufacturer = \"ChainKey Ltd\"\n",
    )
    .unwrap();
    let catalog = store.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "[[vendor]]\nid = \"chainkey\"\nname = \"ChainKey\"\nmanufacturer_patterns = [\"ChainKey*\"]\n\
         sm2_family = \"tass\"\nsm2_signature = \"raw\"\nstore_chain = true\n",
    )
    .unwrap();
    let (_, code) = ca.produce_with(store.path(), "sm2", &["--days", "30"]);
    let s = store.path().to_str().unwrap().to_string();
    let c = catalog.to_str().unwrap().to_string();
    let env = [
        ("CERTKEY_SOFTKEY_DIR", s.as_str()),
        ("CERTKEY_CATALOG", c.as_str()),
        ("CERTKEY_ACTIVATION_CODE", code.as_str()),
        ("CERTKEY_NEW_PIN", NEW_PIN),
        ("CERTKEY_PIN", NEW_PIN),
    ];
    let out = certkey(&module, &ca, &["--json", "activate", "--yes"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_activated(&ca, &module, &env[..1], &done, "sm2");
    assert_eq!(
        certificate_count(&module, &env[..1]),
        3,
        "holder, issuing CA, root CA"
    );
    let listing = pkcs11_tool(&module, &["--list-objects", "--type", "cert"], &env[..1]);
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(
        listing.contains("签发 CA (SM2)") && listing.contains("根 CA (SM2)"),
        "{listing}"
    );

    let out = certkey(&module, &ca, &["--json", "renew"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let renewed: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_activated(&ca, &module, &env[..1], &renewed, "sm2");
    assert_eq!(
        certificate_count(&module, &env[..1]),
        3,
        "the chain once, the new leaf"
    );
}

/// The objects pkcs11-tool lists (after logging in) with CKA_ID `id` (hex): their
/// kinds ("Private Key", "Public Key", "Certificate", "Data").
fn objects_with_id(module: &Path, env: &[(&str, &str)], id: &str) -> Vec<String> {
    let out = pkcs11_tool(
        module,
        &["--login", "--pin", NEW_PIN, "--list-objects"],
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let mut found = Vec::new();
    let mut kind = String::new();
    for line in listing.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            kind = line
                .split(" Object")
                .next()
                .unwrap_or_default()
                .split(" object")
                .next()
                .unwrap_or_default()
                .to_string();
        } else if let Some(v) = line.trim().strip_prefix("ID:") {
            if v.trim().eq_ignore_ascii_case(id) {
                found.push(kind.clone());
            }
        }
    }
    found.sort();
    found
}

/// A P-256 key pair made with pkcs11-tool, as a vendor tool makes one (for
/// encryption, say), with CKA_ID `id` and the holder's name as its label.
fn vendor_pair(module: &Path, env: &[(&str, &str)], id: &str) {
    let out = pkcs11_tool(
        module,
        &[
            "--login",
            "--pin",
            NEW_PIN,
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--id",
            id,
            "--label",
            "张三",
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// Writes an end-entity certificate (OpenSSL, for a key elsewhere, valid ten years)
/// under CKA_ID `id` with the holder's name as label.
fn vendor_certificate(module: &Path, env: &[(&str, &str)], id: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=张三",
            "-days",
            "3650",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-outform",
            "DER",
            "-out",
            "c.der",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let cert = dir.path().join("c.der");
    let out = pkcs11_tool(
        module,
        &[
            "--login",
            "--pin",
            NEW_PIN,
            "--write-object",
            cert.to_str().unwrap(),
            "--type",
            "cert",
            "--id",
            id,
            "--label",
            "张三",
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
}

const PAIR: [&str; 2] = ["Private Key", "Public Key"];
const PAIR_AND_CERT: [&str; 3] = ["Certificate", "Private Key", "Public Key"];

/// A security review found renewal deleting key pairs by label: a vendor's P-256 pair
/// labelled with the holder's name (CKA_ID 77, no certificate) was gone after
/// `certkey renew`. Such pairs, with or without a certificate, survive a renewal — a
/// plain one and one cut short and rerun.
#[test]
fn renewal_never_removes_a_key_pair_it_did_not_make() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    for cut in [None, Some(40)] {
        let serial = format!("SKRNVENDOR{}", cut.unwrap_or(0));
        let store = activated_softkey(&ca, &serial, "p256", &["--days", "30"]);
        let s = store.path().to_str().unwrap().to_string();
        let env = [
            ("CERTKEY_SOFTKEY_DIR", s.as_str()),
            ("CERTKEY_PIN", NEW_PIN),
        ];
        vendor_pair(&module, &env[..1], "77");
        vendor_pair(&module, &env[..1], "78");
        vendor_certificate(&module, &env[..1], "78");
        assert_eq!(objects_with_id(&module, &env[..1], "77"), PAIR);
        assert_eq!(objects_with_id(&module, &env[..1], "78"), PAIR_AND_CERT);

        let run = || certkey(&module, &ca, &["--json", "renew"], &env);
        let out = match cut {
            Some(n) => {
                let first = cut_after(&s, n, run);
                assert!(!first.status.success(), "cut after {n}: {}", text(&first));
                certkey(&module, &ca, &["--json", "renew"], &env)
            }
            None => run(),
        };
        assert!(out.status.success(), "{}", text(&out));
        let done: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!["77", "78"].contains(&done["key_id"].as_str().unwrap()));
        assert_eq!(
            objects_with_id(&module, &env[..1], "77"),
            PAIR,
            "cut {cut:?}"
        );
        assert_eq!(
            objects_with_id(&module, &env[..1], "78"),
            PAIR_AND_CERT,
            "cut {cut:?}"
        );
        check_activated(&ca, &module, &env[..1], &done, "p256");
    }
}

/// Plants a public journal record of renewal (as anyone holding the key can, without
/// the PIN): a CKO_DATA object with CKA_APPLICATION "CertKey journal" and CKA_ID
/// "renew", written through PKCS#11 by [`plant_journal_child`] in a child process
/// (pkcs11-tool cannot give a data object a CKA_ID, and the module reads its store
/// from the environment).
fn plant_journal(store: &str, record: &Value) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "plant_journal_child", "--ignored", "--nocapture"])
        .env("CERTKEY_SOFTKEY_DIR", store)
        .env("CERTKEY_TEST_PLANT", record.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}",
        text(&out)
    );
}

/// Not a test of its own: the child process of [`plant_journal`].
#[test]
#[ignore = "run by plant_journal in a child process"]
fn plant_journal_child() {
    use cryptoki::object::{Attribute, ObjectClass};
    let record = std::env::var("CERTKEY_TEST_PLANT").expect("run by plant_journal");
    let session = softkey_session(false);
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Application(b"CertKey journal".to_vec()),
            Attribute::Id(b"renew".to_vec()),
            Attribute::Label(b"certkey-journal".to_vec()),
            Attribute::Value(record.into_bytes()),
        ])
        .unwrap();
}

/// Public journal objects planted on the key — naming a vendor's key pair as the new
/// key, as the pair to clean up after a refusal, or as an installed renewal — make
/// `certkey renew` destroy nothing: the planted records are ignored and removed, the
/// renewal runs as a fresh one, and the vendor's pair is still there.
#[test]
fn a_planted_public_journal_destroys_nothing() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    for stage in ["started", "installed"] {
        let serial = format!("SKRNPL{}", stage[..3].to_uppercase());
        let store = activated_softkey(&ca, &serial, "sm2", &["--days", "30"]);
        let s = store.path().to_str().unwrap().to_string();
        let env = [
            ("CERTKEY_SOFTKEY_DIR", s.as_str()),
            ("CERTKEY_PIN", NEW_PIN),
        ];
        vendor_pair(&module, &env[..1], "77");
        plant_journal(
            &s,
            &json!({"seq": 1000, "stage": stage, "key_id": "77", "request_id": "rn-planted"}),
        );
        let out = certkey(&module, &ca, &["--json", "renew"], &env);
        assert!(out.status.success(), "{stage}: {}", text(&out));
        let done: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(done["resumed"], false, "{done}");
        assert_ne!(done["key_id"], "77");
        assert_eq!(objects_with_id(&module, &env[..1], "77"), PAIR, "{stage}");
        assert_eq!(certificate_count(&module, &env[..1]), 1, "{stage}");
        let data = pkcs11_tool(&module, &["--list-objects", "--type", "data"], &env[..1]);
        assert!(
            !String::from_utf8_lossy(&data.stdout).contains("CertKey journal"),
            "the planted record is gone: {}",
            text(&data)
        );
        check_activated(&ca, &module, &env[..1], &done, "sm2");
    }
}

/// The SQLite database of a test service.
fn ca_database(ca: &Ca) -> std::path::PathBuf {
    std::fs::read_dir(ca.data.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.extension()
                .is_some_and(|x| x == "db" || x == "sqlite" || x == "sqlite3")
        })
        .expect("the service's SQLite file")
}

/// A renewal cut short after its new key pair was made; then the certificate expires
/// (the service's clock passes its notAfter) before the rerun. The service refuses the
/// challenge; the rerun says the certificate expired and removes the new key pair and
/// the journal, instead of failing the same way forever. The old certificate and key
/// stay as they were.
#[test]
fn a_renewal_whose_certificate_expired_between_runs_is_cleaned_up() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let mut n = 0;
    loop {
        let store = activated_softkey(&ca, &format!("SKRNEXP{n:02}"), "sm2", &["--days", "20"]);
        let s = store.path().to_str().unwrap().to_string();
        let env = [
            ("CERTKEY_SOFTKEY_DIR", s.as_str()),
            ("CERTKEY_PIN", NEW_PIN),
        ];
        let private_keys = || {
            let o = pkcs11_tool(
                &module,
                &[
                    "--login",
                    "--pin",
                    NEW_PIN,
                    "--list-objects",
                    "--type",
                    "privkey",
                ],
                &env[..1],
            );
            String::from_utf8_lossy(&o.stdout)
                .matches("Private Key Object")
                .count()
        };
        let first = cut_after(&s, n, || certkey(&module, &ca, &["--json", "renew"], &env));
        assert!(
            !first.status.success(),
            "no cut came before the new key was made"
        );
        if private_keys() == 1 {
            n += 1;
            assert!(n < 100, "the renewal never made its key pair");
            continue;
        }
        assert_eq!(private_keys(), 2);
        // The certificate expires at the CA.
        let out = Command::new("sqlite3")
            .arg(ca_database(&ca))
            .arg("UPDATE certificates SET not_after = strftime('%s','now') - 3600 WHERE revoked_at IS NULL AND serial NOT IN (SELECT old_serial FROM renewals)")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let again = certkey(&module, &ca, &["renew"], &env);
        assert!(!again.status.success(), "{}", text(&again));
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("expired"),
            "{}",
            text(&again)
        );
        assert_eq!(private_keys(), 1, "the new key pair is gone");
        assert_eq!(certificate_count(&module, &env[..1]), 1);
        let data = pkcs11_tool(
            &module,
            &[
                "--login",
                "--pin",
                NEW_PIN,
                "--list-objects",
                "--type",
                "data",
            ],
            &env[..1],
        );
        assert!(
            !String::from_utf8_lossy(&data.stdout).contains("CertKey journal"),
            "the journal is gone: {}",
            text(&data)
        );
        // A third run says the same, with nothing left to clean.
        let third = certkey(&module, &ca, &["renew"], &env);
        assert!(
            String::from_utf8_lossy(&third.stderr).contains("expired"),
            "{}",
            text(&third)
        );
        break;
    }
}
