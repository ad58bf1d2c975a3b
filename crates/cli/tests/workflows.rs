//! The workflows end to end: `certkey activate` and `certkey pin change` against a real
//! certkey-ca (SQLite) started here, on softkey virtual keys (SM2 and P-256) and on
//! SoftHSM2 (P-256), with OpenSSL and pkcs11-tool as independent peers, and the key
//! pulled out at every step of an activation (`certkey-softkey fail-after N`) followed
//! by a rerun that must finish the job.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PASSPHRASE: &str = "workflow test passphrase";
const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const DISTID: &str = "distid:1234567812345678";
const NEW_PIN: &str = "24680135";

fn sibling(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_certkey")).with_file_name(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build)",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A certkey-ca on SQLite, on a loopback port, for one test.
struct Ca {
    child: Child,
    url: String,
    data: tempfile::TempDir,
    admin: String,
}

impl Drop for Ca {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Ca {
    fn start() -> Ca {
        let data = tempfile::tempdir().unwrap();
        let out = Command::new(sibling("certkey-ca"))
            .args(["init", "--json", "--data"])
            .arg(data.path())
            .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let admin = v["admin_token"].as_str().unwrap().to_string();
        // Tests activate many keys from one address within a minute.
        let cfg = data.path().join("certkey-ca.toml");
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(
            &cfg,
            text.replace(
                "activation_per_minute = 30",
                "activation_per_minute = 100000",
            ),
        )
        .unwrap();
        let port = free_port();
        let mut child = Command::new(sibling("certkey-ca"))
            .args(["serve", "--data"])
            .arg(data.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
            .env("CERTKEY_CA_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "certkey-ca did not start"
            );
            if let Ok(Some(s)) = child.try_wait() {
                panic!("certkey-ca exited: {s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ca {
            child,
            url,
            data,
            admin,
        }
    }

    /// `certkey-ca produce` on the blank softkey key of `store`: (serial, code).
    fn produce(&self, store: &Path, key: &str) -> (String, String) {
        let out = Command::new(sibling("certkey-ca"))
            .args(["produce", "--json", "--data"])
            .arg(self.data.path())
            .arg("--module")
            .arg(sibling("libcertkey_softkey.so"))
            .args([
                "--holder",
                "张三",
                "--type",
                "org-person",
                "--org",
                "广东测试有限公司",
                "--key",
                key,
                "--handler-name",
                "李四",
                "--handler-id",
                "110101199001011234",
                "--handler-phone",
                "13800000000",
            ])
            .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
            .env("CERTKEY_SOFTKEY_DIR", store)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["token_serial"].as_str().unwrap().to_string(),
            v["activation_code"].as_str().unwrap().to_string(),
        )
    }

    /// The issuing CA certificate of an algorithm ("sm2" or "p256"), DER.
    fn issuing(&self, alg: &str) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}/api/v1/cacerts", self.url)])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let chain = v["chains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key_algorithm"] == alg)
            .unwrap()
            .clone();
        b64d(chain["certificates"][0].as_str().unwrap())
    }
}

fn b64d(s: &str) -> Vec<u8> {
    // Small standard base64 decoder (the test avoids extra dependencies).
    let table = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = table(c) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn pem(der: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                b64.push(T[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(line).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// A softkey store with one blank key of `profile` ("tass": raw SM2 signatures).
fn blank_softkey(serial: &str, profile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("softkey.toml"),
        format!("[[slot]]\nserial = \"{serial}\"\nprofile = \"{profile}\"\n"),
    )
    .unwrap();
    dir
}

/// Runs certkey with only `module`, the service and `env`.
fn certkey(module: &Path, ca: &Ca, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", "en", "--no-auto-modules", "--module"])
        .arg(module)
        .args(["--service", &ca.url])
        .args(args)
        .env_remove("CERTKEY_PIN")
        .env_remove("CERTKEY_NEW_PIN")
        .env_remove("CERTKEY_ACTIVATION_CODE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn pkcs11_tool(module: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Checks the activated key with independent peers: pkcs11-tool reads the certificate
/// back, OpenSSL verifies it under the CA's issuing certificate, and the holder's new
/// PIN opens the key.
fn check_activated(ca: &Ca, module: &Path, env: &[(&str, &str)], done: &Value, alg: &str) {
    let dir = tempfile::tempdir().unwrap();
    let id = done["key_id"].as_str().unwrap();
    let cert = dir.path().join("cert.der");
    let out = pkcs11_tool(
        module,
        &[
            "--read-object",
            "--type",
            "cert",
            "--id",
            id,
            "-o",
            cert.to_str().unwrap(),
        ],
        env,
    );
    assert!(out.status.success(), "{}", text(&out));
    let der = std::fs::read(&cert).unwrap();
    std::fs::write(dir.path().join("leaf.pem"), pem(&der)).unwrap();
    std::fs::write(dir.path().join("issuing.pem"), pem(&ca.issuing(alg))).unwrap();
    let mut args = vec!["verify"];
    if alg == "sm2" {
        args.extend(["-vfyopt", DISTID]);
    }
    args.extend(["-partial_chain", "-CAfile", "issuing.pem", "leaf.pem"]);
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("leaf.pem: OK"),
        "{}",
        text(&out)
    );
    let out = pkcs11_tool(module, &["--login", "--pin", NEW_PIN, "-O"], env);
    assert!(
        out.status.success(),
        "the new PIN opens the key: {}",
        text(&out)
    );
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listing.contains("Private Key Object"), "{listing}");
}

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

    let out = certkey(&module, &ca, &["--json", "activate", "--yes"], &env);
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

    // pin change: the old PIN, a new one by the policy.
    let env = [
        base[0],
        ("CERTKEY_PIN", NEW_PIN),
        ("CERTKEY_NEW_PIN", "97531864"),
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
fn activate_on_softhsm2_p256_for_a_key_initialised_elsewhere() {
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
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-H", "content-type: application/json"])
        .args(["-H", &format!("Authorization: Bearer {}", ca.admin)])
        .args(["-d", &json!({
            "token_serial": serial,
            "holder": "王五",
            "cert_type": "person",
            "years": 1,
            "key_algorithm": "p256",
            "handler": {"name": "王五", "id_number": "110101199001011234", "phone": "13800000000"},
            "so_pin": "SoPin12345",
            "initial_pin": "13572468",
        }).to_string()])
        .arg(format!("{}/api/v1/admin/orders", ca.url))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let order: Value = serde_json::from_slice(&out.stdout).unwrap();
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
}

/// The key is pulled out after N PKCS#11 operations, for every N across the whole
/// activation; the key is put back and `certkey activate` run again must finish, with
/// a certificate OpenSSL verifies and the holder's PIN set.
#[test]
fn an_activation_cut_short_at_any_step_is_finished_by_a_rerun() {
    let ca = Ca::start();
    let module = sibling("libcertkey_softkey.so");
    let ctl = sibling("certkey-softkey");
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
        let arm = Command::new(&ctl)
            .args(["--dir", &s, "fail-after", &n.to_string()])
            .output()
            .unwrap();
        assert!(arm.status.success(), "{}", text(&arm));
        let first = certkey(&module, &ca, &["--json", "activate", "--yes"], &env);
        for args in [vec!["fail-after", "off"], vec!["insert"]] {
            let o = Command::new(&ctl)
                .args(["--dir", &s])
                .args(&args)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", text(&o));
        }
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
