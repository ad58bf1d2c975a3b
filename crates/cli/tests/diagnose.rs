//! `certkey diagnose` against real set-ups, healthy and broken, each asserting the
//! finding and its code: a healthy softkey key with its self-test, the report's HTML
//! opened in headless Chromium with the holder's name masked; a missing module file, a
//! module whose C_Initialize fails (softkey on a damaged store), a module built for
//! another architecture (a real 32-bit library from gcc -m32); two modules claiming
//! one softkey key; a PIN at its final try (the self-test refuses it) and then locked;
//! SoftHSM2 holding an expired, a soon-expiring, a not-yet-valid and a garbage
//! certificate; a certificate without its private key and a seal that does not
//! verify; the CA service down, and its clock two hours ahead (certkey-ca under
//! faketime); and a sysfs-shaped USB tree with a known vendor's key and no module.

mod common;
mod flows;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flows::{
    blank_softkey, comes_up, free_port, pem, pkcs11_tool, serve_announced, sibling, text, Ca,
    ANY_PORT, NEW_PIN, PASSPHRASE,
};
use serde_json::Value;

/// Runs `certkey --json diagnose` with only `modules`; the USB tree is `usb_root`
/// (an empty folder unless a test gives one) and the smart-card socket a path where
/// nothing listens, so the machine's own devices never enter a test.
fn diagnose(
    dir: &Path,
    modules: &[&Path],
    service: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Value, Output) {
    let usb = dir.join("no-usb");
    std::fs::create_dir_all(&usb).unwrap();
    // No user configuration: an empty file.
    let config = dir.join("config.toml");
    std::fs::write(&config, "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey"));
    cmd.args(["--lang", "en", "--no-auto-modules", "--json"]);
    for m in modules {
        cmd.arg("--module").arg(m);
    }
    if let Some(url) = service {
        cmd.args(["--service", url]);
    }
    cmd.arg("diagnose");
    if !args.contains(&"--usb-root") {
        cmd.arg("--usb-root").arg(&usb);
    }
    cmd.arg("--pcsc-socket")
        .arg(dir.join("no-pcscd.comm"))
        .args(["--module-timeout", "20"])
        .args(args)
        .env_remove("CERTKEY_PIN")
        .env_remove("CERTKEY_MODULES")
        .env_remove("CERTKEY_SERVICE_URL")
        .env("CERTKEY_CONFIG", &config)
        .env("CERTKEY_STATE_DIR", dir.join("state"))
        .env("HOME", dir.join("home"))
        .env_remove("XDG_CONFIG_HOME")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", text(&out)));
    assert_eq!(v["schema"], "certkey.diagnose/1", "{}", text(&out));
    (v, out)
}

/// The findings' codes.
fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The finding with `code`; panics with the report when there is none.
fn finding<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {:?}", codes(v)))
}

fn softkey_module() -> PathBuf {
    sibling("libcertkey_softkey.so")
}

/// A softkey store with one key produced by `ca` and activated with NEW_PIN.
fn activated(ca: &Ca, serial: &str) -> tempfile::TempDir {
    let store = blank_softkey(serial, "tass");
    let (_, code) = ca.produce(store.path(), "sm2");
    let s = store.path().to_str().unwrap();
    let out = flows::certkey(
        &softkey_module(),
        ca,
        &["activate", "--yes"],
        &[
            ("CERTKEY_SOFTKEY_DIR", s),
            ("CERTKEY_ACTIVATION_CODE", code.as_str()),
            ("CERTKEY_NEW_PIN", NEW_PIN),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    store
}

/// The CA's chain for SM2 (issuing CA, root) as one PEM bundle file in `dir`.
fn ca_bundle(ca: &Ca, dir: &Path) -> PathBuf {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/api/v1/cacerts", ca.url)])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut text = String::new();
    for chain in v["chains"].as_array().unwrap() {
        for c in chain["certificates"].as_array().unwrap() {
            text.push_str(&pem(&flows::b64d(c.as_str().unwrap())));
        }
    }
    let path = dir.join("ca-bundle.pem");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_healthy_key_shows_no_problem_passes_its_self_test_and_its_report_hides_the_holder() {
    let ca = Ca::start();
    let store = activated(&ca, "SKDIAGOK01");
    let dir = tempfile::tempdir().unwrap();
    let bundle = ca_bundle(&ca, dir.path());
    let s = store.path().to_str().unwrap();
    let html = dir.path().join("report.html");
    let (v, out) = diagnose(
        dir.path(),
        &[&softkey_module()],
        Some(&ca.url),
        &[
            "--self-test",
            "--token",
            "SKDIAGOK01",
            "--out",
            html.to_str().unwrap(),
        ],
        &[
            ("CERTKEY_SOFTKEY_DIR", s),
            ("CERTKEY_PIN", NEW_PIN),
            ("CERTKEY_CA_BUNDLE", bundle.to_str().unwrap()),
        ],
    );
    let bad: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["severity"] == "critical" || f["severity"] == "error" || f["severity"] == "warning"
        })
        .collect();
    assert!(bad.is_empty(), "a healthy set-up has no problem: {bad:?}");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        codes(&v).contains(&"self_test_ok".to_string()),
        "{:?}",
        codes(&v)
    );
    assert_eq!(v["self_test"]["outcome"], "ok");
    // Everything each probe saw is there.
    let service = &v["services"][0];
    assert_eq!(service["health"], "ok", "{service}");
    assert!(
        service["clock_skew_s"].as_i64().unwrap().abs() <= 5,
        "{service}"
    );
    assert_eq!(v["modules"][0]["loaded"], true);
    assert_eq!(v["tokens"][0]["serial"], "SKDIAGOK01");
    assert!(v["chains"][0]["trusted_ca"].is_string(), "{}", v["chains"]);
    let functions: Vec<&str> = v["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["function"].as_str().unwrap())
        .collect();
    for f in ["C_Initialize", "C_GetTokenInfo", "C_Login"] {
        assert!(functions.contains(&f), "{f} traced: {functions:?}");
    }
    // The holder (张三) is masked everywhere, the JSON and the page.
    let json = String::from_utf8_lossy(&out.stdout);
    assert_eq!(v["redacted"], true);
    assert!(!json.contains("张三") && json.contains("张*"), "{json}");
    assert!(!json.contains(NEW_PIN), "never the PIN");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("张三") && page.contains("张*"));
    assert!(!page.contains(NEW_PIN));
    // The page as a browser shows it (headless Chromium, no network, no script).
    let shown = browser_text(&html, dir.path());
    assert!(shown.contains("CertKey diagnostic report"), "{shown}");
    assert!(
        shown.contains(
            "Key SKDIAGOK01 signed a test message and the signature matches its certificate."
        ),
        "{shown}"
    );
    assert!(!shown.contains("张三"), "{shown}");
    // --no-redact keeps the name, for a help desk that asks for it.
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        Some(&ca.url),
        &["--no-redact", "--offline"],
        &[("CERTKEY_SOFTKEY_DIR", s)],
    );
    assert_eq!(v["redacted"], false);
    assert!(v.to_string().contains("张三"));
    // Without the CA's roots the certificate is read all the same, and named as not
    // chaining to a trusted root.
    assert!(v["chains"][0]["trusted_ca"].is_null(), "{}", v["chains"]);
    assert!(
        codes(&v).contains(&"cert_untrusted".to_string()),
        "{:?}",
        codes(&v)
    );
}

/// What a real browser shows of `page`: headless Chromium's DOM after layout where
/// Chromium is installed (Debian), else WebKitGTK's (Ubuntu ships Chromium only as a
/// snap, which the test command cannot install; `CERTKEY_TEST_BROWSER=webkit` picks
/// WebKitGTK anywhere).
fn browser_text(page: &Path, dir: &Path) -> String {
    let chromium = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if chromium && std::env::var("CERTKEY_TEST_BROWSER").as_deref() != Ok("webkit") {
        chromium_text(page, dir)
    } else {
        webkit_text(page)
    }
}

/// Children killed when dropped (a test that fails half-way leaves none running).
struct Running(Vec<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for c in self.0.iter_mut().rev() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The text WebKitGTK's MiniBrowser shows of `page`, driven through WebKitWebDriver
/// on an Xvfb display of its own (the packages the window's tests use).
fn webkit_text(page: &Path) -> String {
    let mut display = 300 + std::process::id() % 400;
    while Path::new(&format!("/tmp/.X11-unix/X{display}")).exists()
        || Path::new(&format!("/tmp/.X{display}-lock")).exists()
    {
        display += 1;
    }
    let mut running = Running(Vec::new());
    running.0.push(
        Command::new("Xvfb")
            .arg(format!(":{display}"))
            .args(["-screen", "0", "1024x768x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (the test command installs it)"),
    );
    let start = std::time::Instant::now();
    while !Path::new(&format!("/tmp/.X11-unix/X{display}")).exists() {
        assert!(start.elapsed().as_secs() < 30, "Xvfb did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // WebKitWebDriver takes no port 0: a port found free a moment ago may be taken
    // when it binds (by another test's connection), and then it exits; another one is
    // tried.
    let mut attempts = 0;
    let port = loop {
        attempts += 1;
        let port = free_port();
        let mut driver = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .env("DISPLAY", format!(":{display}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("WebKitWebDriver (the test command installs it)");
        if comes_up(&mut driver, port, "WebKitWebDriver") {
            running.0.push(driver);
            break port;
        }
        assert!(attempts < 3, "WebKitWebDriver exited: {:?}", driver.wait());
    };
    let browser = multiarch_lib("webkit2gtk-4.1/MiniBrowser")
        .expect("WebKitGTK's MiniBrowser (libwebkit2gtk-4.1-0)");
    let call = |method: &str, path: &str, body: Value| -> Value {
        let out = Command::new("curl")
            .args(["-sS", "-X", method, "-H", "content-type: application/json"])
            .arg(format!("http://127.0.0.1:{port}/session{path}"))
            .args(["-d", &body.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["value"].clone()
    };
    let session = call(
        "POST",
        "",
        serde_json::json!({"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {
            "binary": browser, "args": ["--automation"]}}}}),
    );
    let id = session["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
        .to_string();
    call(
        "POST",
        &format!("/{id}/url"),
        serde_json::json!({"url": format!("file://{}", page.display())}),
    );
    let shown = call(
        "POST",
        &format!("/{id}/execute/sync"),
        serde_json::json!({"script": "return document.body.innerText", "args": []}),
    );
    call("DELETE", &format!("/{id}"), serde_json::json!({}));
    shown
        .as_str()
        .unwrap_or_else(|| panic!("no text: {shown}"))
        .to_string()
}

/// What headless Chromium renders of `page` (its DOM after layout, as text).
fn chromium_text(page: &Path, dir: &Path) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.join("chromium").display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs (the test command installs it)");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A real 32-bit shared library exporting C_GetFunctionList (gcc -m32).
fn module_32bit(dir: &Path) -> PathBuf {
    let src = dir.join("m32.c");
    std::fs::write(
        &src,
        "int C_GetFunctionList(void **list) { *list = 0; return 5; }\n",
    )
    .unwrap();
    let so = dir.join("libvendor32_pkcs11.so");
    let out = Command::new("gcc")
        .args(["-m32", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcc -m32 (gcc-multilib): {}",
        text(&out)
    );
    so
}

#[test]
fn a_missing_a_failing_and_a_32_bit_module_are_each_named_and_the_report_completes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libgone_pkcs11.so");
    let m32 = module_32bit(dir.path());
    // softkey on a damaged store: its C_Initialize fails.
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::write(damaged.join("softkey.toml"), "this is = = not toml\n").unwrap();
    let (v, out) = diagnose(
        dir.path(),
        &[&missing, &m32, &softkey_module()],
        None,
        &["--offline"],
        &[("CERTKEY_SOFTKEY_DIR", damaged.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    let f = finding(&v, "module_missing");
    assert_eq!(f["params"]["module"], missing.display().to_string());
    assert_eq!(f["severity"], "error");
    let f = finding(&v, "module_wrong_arch");
    assert_eq!(f["params"]["arch"], "x86 (32-bit)", "{f}");
    assert_eq!(f["params"]["expected"], "x86_64");
    let f = finding(&v, "module_init_failed");
    assert_eq!(f["params"]["function"], "C_Initialize");
    assert_eq!(f["params"]["ckr"], "CKR_GENERAL_ERROR");
    assert!(codes(&v).contains(&"no_module".to_string()));
    // Each module has its own entry, whatever happened to the others.
    assert_eq!(v["modules"].as_array().unwrap().len(), 3);
    // The text says it in the holder's words, in both languages.
    let zh = Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", "zh-CN", "--no-auto-modules", "--module"])
        .arg(&m32)
        .args(["diagnose", "--offline", "--usb-root"])
        .arg(dir.path().join("no-usb"))
        .env("CERTKEY_CONFIG", dir.path().join("config.toml"))
        .output()
        .unwrap();
    let zh_text = String::from_utf8_lossy(&zh.stdout);
    assert!(
        zh_text.contains("是为 x86 (32-bit) 编译的，而本机运行的是 x86_64"),
        "{}",
        text(&zh)
    );
}

#[test]
fn two_modules_claiming_one_softkey_key_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = blank_softkey("SKDIAGTWICE", "tass");
    // The same vendor module installed twice under two names (two drivers).
    let copy = dir.path().join("libother_vendor_pkcs11.so");
    std::fs::copy(softkey_module(), &copy).unwrap();
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module(), &copy],
        None,
        &["--offline"],
        &[("CERTKEY_SOFTKEY_DIR", store.path().to_str().unwrap())],
    );
    let f = finding(&v, "token_claimed_twice");
    assert_eq!(f["params"]["serial"], "SKDIAGTWICE");
    assert!(f["params"]["modules"]
        .as_str()
        .unwrap()
        .contains("libother_vendor_pkcs11.so"));
}

/// Wrong PINs from OpenSC's pkcs11-tool, as another program would enter them.
fn wrong_pins(store: &str, n: usize) {
    for _ in 0..n {
        let out = pkcs11_tool(
            &softkey_module(),
            &["--login", "--pin", "000000", "--list-objects"],
            &[("CERTKEY_SOFTKEY_DIR", store)],
        );
        assert!(!out.status.success());
    }
}

#[test]
fn a_pin_at_its_final_try_is_never_used_by_the_self_test_and_a_locked_pin_is_named() {
    let ca = Ca::start();
    let store = activated(&ca, "SKDIAGPIN1");
    let s = store.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // softkey locks after 6 wrong PINs: 5 leave the final try.
    wrong_pins(s, 5);
    let run = || {
        diagnose(
            dir.path(),
            &[&softkey_module()],
            None,
            &["--offline", "--self-test", "--token", "SKDIAGPIN1"],
            &[("CERTKEY_SOFTKEY_DIR", s), ("CERTKEY_PIN", NEW_PIN)],
        )
    };
    let (v, out) = run();
    assert_eq!(finding(&v, "pin_final_try")["severity"], "critical");
    assert_eq!(v["self_test"]["outcome"], "refused_final_try");
    assert!(codes(&v).contains(&"self_test_refused_final_try".to_string()));
    assert_eq!(out.status.code(), Some(10));
    // Not tried: the right PIN would have cleared the final-try flag.
    let (again, _) = run();
    assert!(
        codes(&again).contains(&"pin_final_try".to_string()),
        "{:?}",
        codes(&again)
    );
    wrong_pins(s, 1);
    let (v, _) = run();
    assert_eq!(finding(&v, "pin_locked")["params"]["serial"], "SKDIAGPIN1");
}

#[test]
fn expired_expiring_future_and_garbage_certificates_on_softhsm2_are_named() {
    let fx = common::fixture();
    let dir = tempfile::tempdir().unwrap();
    let conf = fx.conf.display().to_string();
    let (v, _) = diagnose(
        dir.path(),
        &[Path::new(common::SOFTHSM)],
        None,
        &["--offline"],
        &[("SOFTHSM2_CONF", conf.as_str())],
    );
    let by_id = |code: &str, id: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == code && f["params"]["id"] == id)
    };
    assert!(by_id("cert_expired", "05"), "{:?}", codes(&v));
    assert!(by_id("cert_renewal_window", "06"), "{:?}", codes(&v));
    assert!(by_id("cert_not_yet_valid", "07"), "{:?}", codes(&v));
    assert!(by_id("cert_unreadable", fx.garbage_id), "{:?}", codes(&v));
    let soon = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "cert_renewal_window")
        .unwrap();
    let days = soon["params"]["days"].as_i64().unwrap();
    assert!((1..=90).contains(&days), "{soon}");
}

/// Run by [`break_key`] in a child process (the softkey module holds its state per
/// process): removes the private key of the certificate `CERTKEY_TEST_ID` and plants
/// a seal object for it that is no seal at all.
#[test]
#[ignore = "run by break_key in a child process"]
fn break_key_child() {
    use cryptoki::object::{Attribute, ObjectClass};
    let id = std::env::var("CERTKEY_TEST_ID").expect("run by break_key");
    let id = hex::decode(id).unwrap();
    let session = flows::softkey_session(true);
    for h in session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.clone()),
        ])
        .unwrap()
    {
        session.destroy_object(h).unwrap();
    }
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Application(b"GB/T 38540 SESeal".to_vec()),
            Attribute::Id(id),
            Attribute::Label(b"seal".to_vec()),
            Attribute::Value(b"\x30\x03\x02\x01\x01 not a seal".to_vec()),
        ])
        .unwrap();
}

fn break_key(store: &str, id: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "break_key_child", "--ignored", "--nocapture"])
        .env("CERTKEY_SOFTKEY_DIR", store)
        .env("CERTKEY_TEST_ID", id)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_certificate_without_its_key_and_a_seal_that_does_not_verify_are_named() {
    let ca = Ca::start();
    let store = activated(&ca, "SKDIAGBRK1");
    let s = store.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (before, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        None,
        &["--offline"],
        &[("CERTKEY_SOFTKEY_DIR", s)],
    );
    let id = before["tokens"][0]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["is_ca"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    break_key(s, &id);
    // Private keys show only after login: the self-test logs in.
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        None,
        &["--offline", "--self-test", "--token", "SKDIAGBRK1"],
        &[("CERTKEY_SOFTKEY_DIR", s), ("CERTKEY_PIN", NEW_PIN)],
    );
    let f = finding(&v, "cert_without_key");
    assert_eq!(f["params"]["id"], id.as_str());
    assert_eq!(
        finding(&v, "seal_invalid")["params"]["reason"],
        "seal_malformed",
        "{}",
        v["findings"]
    );
    assert_eq!(v["self_test"]["outcome"], "failed");
    assert!(codes(&v).contains(&"self_test_failed".to_string()));
}

/// `cmd` with its clock moved by `offset` (`+2h`, `-3d`): libfaketime preloaded, as
/// the faketime wrapper does, without the wrapper's own process (which would outlive
/// a kill, and leaves its shared memory behind).
fn faketime<'a>(cmd: &'a mut Command, offset: &str) -> &'a mut Command {
    let lib = multiarch_lib("faketime/libfaketime.so.1")
        .expect("libfaketime (the test command installs faketime)");
    cmd.env("LD_PRELOAD", lib).env("FAKETIME", offset)
}

/// The file `rel` in this machine's multiarch library folder (`/usr/lib/<triplet>/`).
fn multiarch_lib(rel: &str) -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .map(|e| e.path().join(rel))
        .find(|p| p.is_file())
}

/// certkey-ca serving `ca`'s data with its clock `offset` ahead, on a new loopback
/// port; returns it and its URL.
fn skewed_ca(ca: &Ca, offset: &str) -> (std::process::Child, String) {
    let (child, port) = serve_announced(
        faketime(&mut Command::new(sibling("certkey-ca")), offset)
            .args(["serve", "--data"])
            .arg(ca.data.path())
            .args(["--listen", ANY_PORT])
            .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
            .env("CERTKEY_CA_LOG", "warn")
            .stdout(Stdio::null()),
        "certkey-ca with its clock ahead",
    );
    (child, format!("http://127.0.0.1:{port}"))
}

#[test]
fn the_service_down_and_a_service_clock_two_hours_ahead_are_named() {
    let mut ca = Ca::start();
    let store = blank_softkey("SKDIAGNET1", "tass");
    let s = store.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Down: nothing listens on its port any more.
    let url = ca.url.clone();
    ca.stop();
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        Some(&url),
        &[],
        &[("CERTKEY_SOFTKEY_DIR", s)],
    );
    let f = finding(&v, "service_unreachable");
    assert_eq!(f["params"]["host"], "127.0.0.1");
    assert_eq!(v["services"][0]["tcp_connected"], false);
    // Its clock two hours ahead of this computer's.
    let (mut skewed_service, skewed) = skewed_ca(&ca, "+2h");
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        Some(&skewed),
        &[],
        &[("CERTKEY_SOFTKEY_DIR", s)],
    );
    // Ended as Ctrl-C would: a graceful end, at which libfaketime removes the shared
    // memory it made (a kill would leave it in /dev/shm).
    if let Ok(pid) = i32::try_from(skewed_service.id()) {
        // SAFETY: kill has no memory preconditions; the pid is our child's, not reaped.
        unsafe { libc::kill(pid, libc::SIGINT) };
    }
    let _ = skewed_service.wait();
    let f = finding(&v, "clock_skew");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["params"]["direction"], "behind");
    let minutes = f["params"]["minutes"].as_i64().unwrap();
    assert!((119..=121).contains(&minutes), "{f}");
}

/// A TLS root and the service's certificate under it, made by OpenSSL: the leaf for
/// `san`, one day valid from now, or from `shift` (a faketime offset, e.g. `-3d`).
/// (root, leaf certificate, leaf key), PEM.
fn service_cert(
    dir: &Path,
    name: &str,
    san: &str,
    shift: Option<&str>,
) -> (PathBuf, PathBuf, PathBuf) {
    let p = |ext: &str| dir.join(format!("{name}{ext}"));
    let openssl = |args: &[&str], shifted: bool| {
        let mut cmd = Command::new("openssl");
        if let Some(offset) = shift.filter(|_| shifted) {
            faketime(&mut cmd, offset);
        }
        let out = cmd.args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let (root, root_key) = (p("-root.pem"), p("-root.key"));
    let (leaf, key, csr, ext) = (p(".pem"), p(".key"), p(".csr"), p(".ext"));
    let s = |x: &PathBuf| x.to_str().unwrap().to_string();
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    let (root_s, root_key_s) = (s(&root), s(&root_key));
    args.extend([
        "-days",
        "30",
        "-subj",
        "/CN=Test Service Root",
        "-keyout",
        &root_key_s,
        "-out",
        &root_s,
    ]);
    openssl(&args, false);
    let mut args = vec!["req"];
    args.extend(ec);
    let subj = format!("/CN={name}");
    let (key_s, csr_s) = (s(&key), s(&csr));
    args.extend(["-subj", &subj, "-keyout", &key_s, "-out", &csr_s]);
    openssl(&args, false);
    std::fs::write(
        &ext,
        format!("subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"),
    )
    .unwrap();
    let (leaf_s, ext_s) = (s(&leaf), s(&ext));
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr_s,
            "-CA",
            &root_s,
            "-CAkey",
            &root_key_s,
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext_s,
            "-out",
            &leaf_s,
        ],
        true,
    );
    (root, leaf, key)
}

#[test]
fn the_services_tls_certificate_is_read_and_a_wrong_name_or_an_expired_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = blank_softkey("SKDIAGTLS1", "tass");
    let env = [("CERTKEY_SOFTKEY_DIR", store.path().to_str().unwrap())];
    // Right: a certificate for 127.0.0.1 under the root given with --service-ca.
    let (root, cert, key) = service_cert(dir.path(), "good", "IP:127.0.0.1", None);
    let ca = Ca::start_tls(&cert, &key);
    assert!(ca.url.starts_with("https://127.0.0.1:"));
    let roots = root.to_str().unwrap();
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        Some(&ca.url),
        &["--service-ca", roots],
        &env,
    );
    let s = &v["services"][0];
    assert_eq!(s["tls_trusted"], true, "{s:#}");
    assert_eq!(s["tls_names"], serde_json::json!(["127.0.0.1"]));
    assert!(
        s["tls_issuer"]
            .as_str()
            .unwrap()
            .contains("Test Service Root"),
        "{s:#}"
    );
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(
        !codes.iter().any(|c| c.starts_with("service_")),
        "{codes:?}"
    );
    drop(ca);

    // Wrong: another name, and expired two days ago.
    let (root, cert, key) = service_cert(dir.path(), "wrong", "DNS:wrong.example", Some("-3d"));
    let ca = Ca::start_tls(&cert, &key);
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        Some(&ca.url),
        &["--service-ca", root.to_str().unwrap()],
        &env,
    );
    let s = &v["services"][0];
    assert_eq!(s["tcp_connected"], true);
    assert_eq!(s["tls_trusted"], false, "{s:#}");
    assert_eq!(s["tls_names"], serde_json::json!(["wrong.example"]));
    let not_after = time::OffsetDateTime::parse(
        s["tls_not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        not_after < time::OffsetDateTime::now_utc() - time::Duration::days(1),
        "{s:#}"
    );
    let f = finding(&v, "service_tls");
    assert_eq!(f["severity"], "error");
    assert!(!f["params"]["reason"].as_str().unwrap().is_empty(), "{f}");
}

/// A sysfs-shaped USB tree: a root hub, a Feitian ePass3000GM with a smart-card
/// interface, and a mouse.
fn usb_tree(root: &Path) {
    let dev = |name: &str, files: &[(&str, &str)]| {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (f, v) in files {
            std::fs::write(d.join(f), format!("{v}\n")).unwrap();
        }
    };
    dev("usb1", &[("idVendor", "1d6b"), ("idProduct", "0002")]);
    dev(
        "1-1",
        &[
            ("idVendor", "096e"),
            ("idProduct", "0309"),
            ("manufacturer", "FT"),
            ("product", "ePass3000GM"),
        ],
    );
    dev("1-1/1-1:1.0", &[("bInterfaceClass", "0b")]);
    dev("1-1:1.0", &[("bInterfaceClass", "0b")]);
    dev(
        "1-2",
        &[
            ("idVendor", "046d"),
            ("idProduct", "c077"),
            ("product", "USB Optical Mouse"),
        ],
    );
    dev("1-2/1-2:1.0", &[("bInterfaceClass", "03")]);
}

#[test]
fn a_known_vendors_key_plugged_in_without_its_module_and_no_smart_card_service_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let usb = dir.path().join("sys-bus-usb-devices");
    usb_tree(&usb);
    let store = blank_softkey("SKDIAGUSB1", "tass");
    let (v, _) = diagnose(
        dir.path(),
        &[&softkey_module()],
        None,
        &["--offline", "--usb-root", usb.to_str().unwrap()],
        &[("CERTKEY_SOFTKEY_DIR", store.path().to_str().unwrap())],
    );
    assert_eq!(
        v["usb"].as_array().unwrap().len(),
        2,
        "root hubs are left out: {}",
        v["usb"]
    );
    let f = finding(&v, "usb_key_without_module");
    assert_eq!(f["params"]["vendor"], "feitian");
    assert_eq!(f["params"]["usb_id"], "096e:0309");
    assert_eq!(f["params"]["product"], "ePass3000GM");
    assert!(f["params"]["modules"]
        .as_str()
        .unwrap()
        .contains("libshuttle_p11v220.so"));
    let f = finding(&v, "pcsc_not_running");
    assert_eq!(f["params"]["devices"], 1);
    assert_eq!(f["fix"]["kind"], "start_pcscd");
    // In the holder's language, with the vendor's Chinese name.
    let zh = Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", "zh-CN", "--no-auto-modules", "--module"])
        .arg(softkey_module())
        .args(["diagnose", "--offline", "--usb-root"])
        .arg(&usb)
        .arg("--pcsc-socket")
        .arg(dir.path().join("none"))
        .env("CERTKEY_SOFTKEY_DIR", store.path())
        .env("CERTKEY_CONFIG", dir.path().join("config.toml"))
        .output()
        .unwrap();
    let zh_text = String::from_utf8_lossy(&zh.stdout);
    assert!(
        zh_text.contains(
            "已插入一个飞天诚信的 Key（ePass3000GM，USB 096e:0309），但没有安装该厂商的模块。"
        ),
        "{}",
        text(&zh)
    );
}
