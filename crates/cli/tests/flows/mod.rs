//! Fixtures for the workflow tests: a real certkey-ca (SQLite) on a loopback port,
//! softkey stores with blank keys, and the peers (pkcs11-tool, OpenSSL) that check
//! what a workflow left on a key.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../../ca-service/tests/common/announce.rs"]
mod announce;
pub use announce::{serve_announced, try_serve_announced, ANY_PORT};

pub const PASSPHRASE: &str = "workflow test passphrase";
pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const DISTID: &str = "distid:1234567812345678";
pub const NEW_PIN: &str = "24680135";

pub fn sibling(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_certkey")).with_file_name(name);
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build)",
        p.display()
    );
    p
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `child` (called `what`) comes to listen on loopback `port` (true) or exits
/// first (false); panics after 30 s. A connection to itself (the system can pick the
/// very port as a connection's own when no one listens there yet) does not count.
pub fn comes_up(child: &mut Child, port: u16, what: &str) -> bool {
    let start = Instant::now();
    let listening = || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .and_then(|s| s.local_addr())
            .is_ok_and(|local| local.port() != port)
    };
    while !listening() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not start"
        );
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A read-write session on the first key of softkey, whose store is the
/// environment's, logged in with the test PIN when `login`: for a child process that
/// changes a key as a hand-made tool would, where the test's own modules cannot see it.
pub fn softkey_session(login: bool) -> cryptoki::session::Session {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    let ctx = Pkcs11::new(sibling("libcertkey_softkey.so")).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx.get_slots_with_token().unwrap()[0];
    let session = ctx.open_rw_session(slot).unwrap();
    if login {
        session
            .login(
                cryptoki::session::UserType::User,
                Some(&cryptoki::types::AuthPin::new(NEW_PIN.into())),
            )
            .unwrap();
    }
    session
}

/// A certkey-ca on SQLite, on a loopback port, for one test.
pub struct Ca {
    child: Child,
    pub url: String,
    pub data: tempfile::TempDir,
    pub admin: String,
}

impl Drop for Ca {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Ca {
    pub fn start() -> Ca {
        Ca::start_configured(&|text| text)
    }

    /// [`Ca::start`] serving over TLS with this certificate chain and PKCS#8 key (PEM);
    /// its URL is `https://127.0.0.1:PORT`.
    pub fn start_tls(cert: &Path, key: &Path) -> Ca {
        let tls = format!(
            "\n[tls]\ncert = {:?}\nkey = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        );
        let mut ca = Ca::start_configured(&|text| text + &tls);
        ca.url = ca.url.replacen("http://", "https://", 1);
        ca
    }

    /// [`Ca::start`] with certkey-ca.toml edited by `edit` before serving.
    pub fn start_configured(edit: &dyn Fn(String) -> String) -> Ca {
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
        // Every per-address limit raised: each line `NAME_per_minute = N`.
        let raised: String = text
            .lines()
            .map(|l| match l.split_once("_per_minute = ") {
                Some((name, _)) => format!("{name}_per_minute = 100000\n"),
                None => format!("{l}\n"),
            })
            .collect();
        std::fs::write(&cfg, edit(raised)).unwrap();
        let (child, port) = serve_announced(
            Command::new(sibling("certkey-ca"))
                .args(["serve", "--data"])
                .arg(data.path())
                .args(["--listen", ANY_PORT])
                .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
                .env("CERTKEY_CA_LOG", "warn")
                .stdout(Stdio::null()),
            "certkey-ca",
        );
        let url = format!("http://127.0.0.1:{port}");
        Ca {
            child,
            url,
            data,
            admin,
        }
    }

    /// `certkey-ca produce` on the blank softkey key of `store`: (serial, code).
    pub fn produce(&self, store: &Path, key: &str) -> (String, String) {
        self.produce_with(store, key, &[])
    }

    /// [`Ca::produce`] with extra arguments (e.g. `--days 30`).
    pub fn produce_with(&self, store: &Path, key: &str, extra: &[&str]) -> (String, String) {
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
            .args(extra)
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

    /// Stops the service (the data stays).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the service again on the same address and data.
    pub fn restart(&mut self) {
        self.stop();
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap();
        // The port it had: free again once it stopped, unless a connection took it
        // meanwhile; then it is tried again for a while.
        let mut attempts = 0;
        self.child = loop {
            attempts += 1;
            let started = try_serve_announced(
                Command::new(sibling("certkey-ca"))
                    .args(["serve", "--data"])
                    .arg(self.data.path())
                    .args(["--listen", &format!("127.0.0.1:{port}")])
                    .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
                    .env("CERTKEY_CA_LOG", "warn")
                    .stdout(Stdio::null()),
                "certkey-ca (restarted)",
            );
            match started {
                Ok((child, _)) => break child,
                Err(e) if attempts < 40 && e.contains("cannot listen") => {
                    std::thread::sleep(Duration::from_millis(250));
                }
                Err(e) => panic!("{e}"),
            }
        };
    }

    /// The issuing CA certificate of an algorithm ("sm2" or "p256"), DER.
    pub fn issuing(&self, alg: &str) -> Vec<u8> {
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

pub fn b64d(s: &str) -> Vec<u8> {
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

pub fn pem(der: &[u8]) -> String {
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
pub fn blank_softkey(serial: &str, profile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("softkey.toml"),
        format!("[[slot]]\nserial = \"{serial}\"\nprofile = \"{profile}\"\n"),
    )
    .unwrap();
    dir
}

/// Runs certkey in English with only `module`, the service and `env`.
pub fn certkey(module: &Path, ca: &Ca, args: &[&str], env: &[(&str, &str)]) -> Output {
    certkey_in("en", module, ca, args, env)
}

/// [`certkey`] in another language (`zh-CN`, `en`).
pub fn certkey_in(
    lang: &str,
    module: &Path,
    ca: &Ca,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", lang, "--no-auto-modules", "--module"])
        .arg(module)
        .args(["--service", &ca.url])
        .args(args)
        .env_remove("CERTKEY_PIN")
        .env_remove("CERTKEY_NEW_PIN")
        .env_remove("CERTKEY_ACTIVATION_CODE")
        .env_remove("CERTKEY_PIN_FILE")
        .env_remove("CERTKEY_NEW_PIN_FILE")
        .env_remove("CERTKEY_ACTIVATION_CODE_FILE")
        // The client's state (the cached CA lists) stays with the test's service,
        // never in the user's home; a test may name another directory in `env`.
        .env("CERTKEY_STATE_DIR", ca.data.path().join("client-state"))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn pkcs11_tool(module: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
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
pub fn check_activated(ca: &Ca, module: &Path, env: &[(&str, &str)], done: &Value, alg: &str) {
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

/// `certkey-softkey --dir store ARGS`, which must succeed.
pub fn softkey_ctl(store: &str, args: &[&str]) {
    let o = Command::new(sibling("certkey-softkey"))
        .args(["--dir", store])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "certkey-softkey {args:?}: {}", text(&o));
}

/// Runs `run` with the softkey key of `store` pulled out after `n` more PKCS#11
/// operations, then disarms the cut and puts the key back.
pub fn cut_after(store: &str, n: usize, run: impl FnOnce() -> Output) -> Output {
    softkey_ctl(store, &["fail-after", &n.to_string()]);
    let out = run();
    softkey_ctl(store, &["fail-after", "off"]);
    softkey_ctl(store, &["insert"]);
    out
}

/// POSTs `body` to the service's admin API (`path` under /api/v1) with the admin token;
/// the call must succeed. Returns the answer.
pub fn admin_post(ca: &Ca, path: &str, body: &Value) -> Value {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-H", "content-type: application/json"])
        .args(["-H", &format!("Authorization: Bearer {}", ca.admin)])
        .args(["-d", &body.to_string()])
        .arg(format!("{}/api/v1{path}", ca.url))
        .output()
        .unwrap();
    assert!(out.status.success(), "{path}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A seal picture: a red ring on white, 300x300 PNG, written to `path`.
pub fn ring_png(path: &Path) {
    let img = image::RgbImage::from_fn(300, 300, |x, y| {
        let d = ((x as f32 - 150.0).powi(2) + (y as f32 - 150.0).powi(2)).sqrt();
        if (d - 120.0).abs() < 8.0 {
            image::Rgb([200, 20, 30])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    img.save(path).unwrap();
}
