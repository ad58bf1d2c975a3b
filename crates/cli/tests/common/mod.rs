//! Test fixtures: SoftHSM2 tokens in a temporary directory, loaded with pkcs11-tool
//! with certificates made by OpenSSL 3. Nothing here is mocked: the CLI under test
//! loads the real SoftHSM2 module.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use time::OffsetDateTime;

pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const USER_PIN: &str = "12345678";
pub const SO_PIN: &str = "87654321";
pub const DISTID: &str = "distid:1234567812345678";

/// Runs a tool and insists it succeeds; a missing tool is a test failure with a
/// clear message (the README's test command installs them all).
pub fn tool(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}); run the README's test command, it installs it")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn openssl(dir: &Path, args: &[&str]) -> String {
    String::from_utf8_lossy(&tool(dir, "openssl", args, &[]).stdout).into_owned()
}

/// One certificate put on the token.
#[derive(Debug, Clone)]
pub struct CertFile {
    pub id: &'static str,
    pub pem: PathBuf,
    pub der: PathBuf,
}

pub struct Fixture {
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub serial: String,
    pub certs: Vec<CertFile>,
    /// CKA_ID of the garbage certificate object.
    pub garbage_id: &'static str,
}

impl Fixture {
    pub fn env(&self) -> Vec<(&str, String)> {
        vec![("SOFTHSM2_CONF", self.conf.display().to_string())]
    }

    pub fn cert(&self, id: &str) -> &CertFile {
        self.certs
            .iter()
            .find(|c| c.id == id)
            .expect("fixture cert")
    }

    /// Runs `certkey` with only the SoftHSM2 module and the given arguments.
    pub fn certkey(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey"));
        cmd.args(["--no-auto-modules", "--module", SOFTHSM])
            .args(args)
            .env("SOFTHSM2_CONF", &self.conf)
            .env_remove("CERTKEY_MODULES")
            .env("CERTKEY_CONFIG", self.dir.join("no-config.toml"))
            // Its logs and caches stay in the fixture, not in the user's home.
            .env("CERTKEY_STATE_DIR", self.dir.join("state"))
            .env_remove("CERTKEY_LOG_DIR")
            .env_remove("CERTKEY_CATALOG")
            .env_remove("CERTKEY_CA_BUNDLE");
        cmd.output().expect("run certkey")
    }

    pub fn json(&self, args: &[&str]) -> (serde_json::Value, i32) {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.certkey(&all);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "certkey {all:?} printed no JSON ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out.status.code().unwrap_or(-1))
    }
}

fn asn1_time(t: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

const CA_CNF: &str = r#"
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = ./index.txt
new_certs_dir = ./newcerts
serial = ./serial
default_md = sha256
policy = policy_any
email_in_dn = no
unique_subject = no
[ policy_any ]
commonName = supplied
organizationName = optional
countryName = optional
"#;

/// A P-256 certificate with explicit validity dates (`openssl ca -selfsign`).
fn dated_p256(dir: &Path, name: &str, subj: &str, start: OffsetDateTime, end: OffsetDateTime) {
    std::fs::write(dir.join("ca.cnf"), CA_CNF).expect("cnf");
    std::fs::create_dir_all(dir.join("newcerts")).expect("newcerts");
    if !dir.join("index.txt").exists() {
        std::fs::write(dir.join("index.txt"), "").expect("index");
        std::fs::write(dir.join("serial"), "1000\n").expect("serial");
    }
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
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
    );
    openssl(
        dir,
        &[
            "req", "-new", "-key", &key, "-utf8", "-subj", subj, "-out", &csr,
        ],
    );
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-selfsign",
            "-keyfile",
            &key,
            "-in",
            &csr,
            "-notext",
            "-utf8",
            "-startdate",
            &asn1_time(start),
            "-enddate",
            &asn1_time(end),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn self_signed(dir: &Path, name: &str, keyalg: &[&str], subj: &str, days: &str, extra: &[&str]) {
    let key = format!("{name}.key");
    let mut gen = vec!["genpkey"];
    gen.extend_from_slice(keyalg);
    gen.extend_from_slice(&["-out", &key]);
    openssl(dir, &gen);
    let out = format!("{name}.pem");
    let mut req = vec![
        "req", "-new", "-x509", "-key", &key, "-utf8", "-subj", subj, "-days", days, "-out", &out,
    ];
    req.extend_from_slice(extra);
    openssl(dir, &req);
}

fn build() -> Fixture {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("softhsm-list-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("tokens")).expect("tokendir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .expect("conf");
    let conf_s = conf.display().to_string();
    let env = [("SOFTHSM2_CONF", conf_s.as_str())];
    tool(
        &dir,
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "CertKey 测试",
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ],
        &env,
    );

    let now = OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    // 01 SM2 root CA, 02 SM2 holder certificate issued by it.
    self_signed(
        &dir,
        "sm2root",
        &["-algorithm", "SM2"],
        "/C=CN/O=广东测试有限公司/CN=广东测试根CA",
        "3650",
        &["-sm3", "-sigopt", DISTID],
    );
    openssl(
        &dir,
        &["genpkey", "-algorithm", "SM2", "-out", "sm2leaf.key"],
    );
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "sm2leaf.key",
            "-sm3",
            "-sigopt",
            DISTID,
            "-utf8",
            "-subj",
            "/C=CN/O=广东测试有限公司/CN=张三",
            "-out",
            "sm2leaf.csr",
        ],
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "keyUsage = critical, digitalSignature, nonRepudiation\nextendedKeyUsage = clientAuth, emailProtection\nbasicConstraints = CA:FALSE\n",
    )
    .expect("ext");
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "sm2leaf.csr",
            "-CA",
            "sm2root.pem",
            "-CAkey",
            "sm2root.key",
            "-sm3",
            "-sigopt",
            DISTID,
            "-vfyopt",
            DISTID,
            "-days",
            "365",
            "-extfile",
            "leaf.ext",
            "-set_serial",
            "0x00ABCDEF0123",
            "-out",
            "sm2leaf.pem",
        ],
    );
    // 03 P-256 with its key pair on the token, 04 RSA-2048.
    self_signed(
        &dir,
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "/C=CN/O=示例机构/CN=示例机构",
        "400",
        &["-addext", "basicConstraints=CA:FALSE"],
    );
    self_signed(
        &dir,
        "rsa",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "/C=CN/CN=RSA Test",
        "800",
        &["-addext", "basicConstraints=CA:FALSE"],
    );
    // 05 expired, 06 SM2 person expiring in 30 days, 07 not yet valid.
    dated_p256(
        &dir,
        "expired",
        "/CN=过期证书",
        now - day * 400,
        now - day * 10,
    );
    self_signed(
        &dir,
        "soon",
        &["-algorithm", "SM2"],
        "/C=CN/CN=李四",
        "30",
        &[
            "-sm3",
            "-sigopt",
            DISTID,
            "-addext",
            "basicConstraints=CA:FALSE",
        ],
    );
    dated_p256(
        &dir,
        "future",
        "/CN=未来证书",
        now + day * 10,
        now + day * 400,
    );

    // 09: issued by an SM2 CA that is not on the token (for CA bundle checks), and a
    // CA with the same name but another key (a bundle that must not verify it).
    for ca in ["extca", "fakeca"] {
        self_signed(
            &dir,
            ca,
            &["-algorithm", "SM2"],
            "/C=CN/CN=外部测试CA",
            "3650",
            &["-sm3", "-sigopt", DISTID],
        );
    }
    openssl(
        &dir,
        &["genpkey", "-algorithm", "SM2", "-out", "extleaf.key"],
    );
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "extleaf.key",
            "-sm3",
            "-sigopt",
            DISTID,
            "-utf8",
            "-subj",
            "/C=CN/CN=王五",
            "-out",
            "extleaf.csr",
        ],
    );
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "extleaf.csr",
            "-CA",
            "extca.pem",
            "-CAkey",
            "extca.key",
            "-sm3",
            "-sigopt",
            DISTID,
            "-vfyopt",
            DISTID,
            "-days",
            "200",
            "-extfile",
            "leaf.ext",
            "-out",
            "extleaf.pem",
        ],
    );

    let names = [
        ("01", "sm2root"),
        ("02", "sm2leaf"),
        ("03", "p256"),
        ("04", "rsa"),
        ("05", "expired"),
        ("06", "soon"),
        ("07", "future"),
        ("09", "extleaf"),
    ];
    let mut certs = Vec::new();
    for (id, name) in names {
        let pem = dir.join(format!("{name}.pem"));
        let der = dir.join(format!("{name}.der"));
        openssl(
            &dir,
            &[
                "x509",
                "-in",
                &pem.display().to_string(),
                "-outform",
                "DER",
                "-out",
                &der.display().to_string(),
            ],
        );
        tool(
            &dir,
            "pkcs11-tool",
            &[
                "--module",
                SOFTHSM,
                "--login",
                "--pin",
                USER_PIN,
                "--write-object",
                &der.display().to_string(),
                "--type",
                "cert",
                "--id",
                id,
                "--label",
                name,
            ],
            &env,
        );
        certs.push(CertFile { id, pem, der });
    }
    // The P-256 key pair, paired by CKA_ID 03.
    openssl(
        &dir,
        &[
            "pkey",
            "-in",
            "p256.key",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "p256.pub.der",
        ],
    );
    tool(
        &dir,
        "pkcs11-tool",
        &[
            "--module",
            SOFTHSM,
            "--login",
            "--pin",
            USER_PIN,
            "--write-object",
            "p256.key",
            "--type",
            "privkey",
            "--id",
            "03",
            "--label",
            "p256",
        ],
        &env,
    );
    tool(
        &dir,
        "pkcs11-tool",
        &[
            "--module",
            SOFTHSM,
            "--login",
            "--pin",
            USER_PIN,
            "--write-object",
            "p256.pub.der",
            "--type",
            "pubkey",
            "--id",
            "03",
            "--label",
            "p256",
        ],
        &env,
    );

    // An empty config, so that no user configuration interferes with the tests.
    std::fs::write(dir.join("no-config.toml"), "").expect("config");
    let serial = token_serial(&dir, &env);
    write_garbage_certificate(&conf, "08");
    Fixture {
        dir,
        conf,
        serial,
        certs,
        garbage_id: "08",
    }
}

fn token_serial(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = tool(
        dir,
        "pkcs11-tool",
        &["--module", SOFTHSM, "--list-token-slots"],
        env,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("serial num")
                .map(|s| s.trim_start_matches([' ', ':']).trim().to_string())
        })
        .expect("pkcs11-tool shows the serial")
}

/// A certificate object whose value is not a certificate, as a broken token might hold.
fn write_garbage_certificate(conf: &Path, id: &str) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, CertificateType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    // SAFETY (edition 2021): set once, while the fixture is built under the OnceLock.
    std::env::set_var("SOFTHSM2_CONF", conf);
    let ctx = Pkcs11::new(SOFTHSM).expect("load softhsm");
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("init");
    let slot = ctx.get_slots_with_initialized_token().expect("slots")[0];
    let session = ctx.open_rw_session(slot).expect("session");
    session
        .login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))
        .expect("login");
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Id(hex_id(id)),
            Attribute::Label(b"broken".to_vec()),
            Attribute::Subject(vec![0x30, 0x00]),
            Attribute::Value(b"this is not a certificate".to_vec()),
        ])
        .expect("create garbage cert");
    drop(session);
    ctx.finalize().expect("finalize");
}

fn hex_id(id: &str) -> Vec<u8> {
    (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build)
}
