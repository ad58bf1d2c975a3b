//! Key pairs, signatures, requests and objects on real modules: the softkey virtual
//! key in its TASS profile (raw SM2 signatures, point on the private key) and its Luna
//! profile (DER SM2 signatures, no point on the private key), and SoftHSM2 (P-256
//! only). OpenSSL 3 checks every request and issues the certificates; OpenSC's
//! pkcs11-tool reads back what CertKey wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use certkey_core::catalog::Catalog;
use certkey_core::csr;
use certkey_core::pkcs11::keys::{self, KeyAlg, Sm2Support, TokenKey};
use certkey_core::Error;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const USER_PIN: &str = "12345678";
const SO_PIN: &str = "87654321";
const DISTID: &str = "distid:1234567812345678";
const TASS_SERIAL: &str = "SKTASS0001";
const LUNA_SERIAL: &str = "SKLUNA0001";
const TASS_LABEL: &str = "CertKey TASS";
const LUNA_LABEL: &str = "CertKey Luna";
const HSM_LABEL: &str = "CertKey SoftHSM";
const SEAL_APP: &str = "GB/T 38540 SESeal";

/// Which token a test uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Tass,
    Luna,
    SoftHsm,
}

struct Fixture {
    dir: PathBuf,
    softkey_path: PathBuf,
    softkey: Pkcs11,
    softhsm: Pkcs11,
    conf: PathBuf,
}

impl Fixture {
    fn ctx(&self, t: Tok) -> &Pkcs11 {
        match t {
            Tok::SoftHsm => &self.softhsm,
            _ => &self.softkey,
        }
    }

    fn module(&self, t: Tok) -> PathBuf {
        match t {
            Tok::SoftHsm => PathBuf::from(SOFTHSM),
            _ => self.softkey_path.clone(),
        }
    }

    fn label(t: Tok) -> &'static str {
        match t {
            Tok::Tass => TASS_LABEL,
            Tok::Luna => LUNA_LABEL,
            Tok::SoftHsm => HSM_LABEL,
        }
    }

    fn slot(&self, t: Tok) -> (Slot, String) {
        let ctx = self.ctx(t);
        for s in ctx.get_slots_with_token().expect("slots") {
            let info = ctx.get_token_info(s).expect("token info");
            if info.label().trim_end() == Self::label(t) {
                return (s, info.serial_number().trim().to_string());
            }
        }
        panic!("no token labelled {}", Self::label(t));
    }

    /// A R/W session with the user logged in.
    fn session(&self, t: Tok) -> (Session, String) {
        let (slot, serial) = self.slot(t);
        let s = self.ctx(t).open_rw_session(slot).expect("open session");
        match s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => panic!("login: {e}"),
        }
        (s, serial)
    }

    /// pkcs11-tool against the token, public objects only.
    fn pkcs11_tool(&self, t: Tok, args: &[&str]) -> String {
        let out = Command::new("pkcs11-tool")
            .arg("--module")
            .arg(self.module(t))
            .args(["--token-label", Self::label(t)])
            .args(args)
            .env("CERTKEY_SOFTKEY_DIR", self.dir.join("softkey"))
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .expect("pkcs11-tool is installed (OpenSC)");
        assert!(
            out.status.success(),
            "pkcs11-tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn softkey_library() -> PathBuf {
    // target/debug/deps/keys-... -> target/debug
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(debug) = exe.parent().and_then(Path::parent) {
            candidates.push(debug.join("libcertkey_softkey.so"));
        }
    }
    candidates.push(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/libcertkey_softkey.so"),
    );
    candidates
        .into_iter()
        .find(|p| p.exists())
        .expect("libcertkey_softkey.so is missing: build the workspace first (cargo build)")
}

fn load(path: &Path) -> Pkcs11 {
    let ctx = Pkcs11::new(path).expect("load module");
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    ctx
}

/// C_InitToken, then the user PIN through an SO session.
fn init_token(ctx: &Pkcs11, slot: Slot, label: &str) {
    ctx.init_token(slot, &AuthPin::new(SO_PIN.into()), label)
        .expect("C_InitToken");
}

fn init_pin(ctx: &Pkcs11, label: &str) {
    let slot = ctx
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| i.label().trim_end() == label)
                .unwrap_or(false)
        })
        .expect("initialised token");
    let s = ctx.open_rw_session(slot).expect("session");
    s.login(UserType::So, Some(&AuthPin::new(SO_PIN.into())))
        .expect("SO login");
    s.init_pin(&AuthPin::new(USER_PIN.into()))
        .expect("C_InitPIN");
    s.logout().expect("logout");
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("core-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("softkey");
        std::fs::create_dir_all(&store).expect("store");
        std::fs::write(
            store.join("softkey.toml"),
            format!(
                "[[slot]]\nserial = \"{TASS_SERIAL}\"\nprofile = \"tass\"\nmemory = 1048576\n\n\
                 [[slot]]\nserial = \"{LUNA_SERIAL}\"\nprofile = \"luna\"\nmemory = 1048576\n"
            ),
        )
        .expect("softkey.toml");
        std::fs::create_dir_all(dir.join("tokens")).expect("tokendir");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.join("tokens").display()
            ),
        )
        .expect("softhsm2.conf");
        // Both modules read their store from the environment when they initialise;
        // this runs once, before either is loaded, and nothing changes it later.
        std::env::set_var("CERTKEY_SOFTKEY_DIR", &store);
        std::env::set_var("SOFTHSM2_CONF", &conf);

        let softkey_path = softkey_library();
        let softkey = load(&softkey_path);
        for s in softkey.get_slots_with_token().expect("softkey slots") {
            let serial = softkey
                .get_token_info(s)
                .expect("info")
                .serial_number()
                .trim()
                .to_string();
            let label = match serial.as_str() {
                TASS_SERIAL => TASS_LABEL,
                LUNA_SERIAL => LUNA_LABEL,
                other => panic!("unexpected softkey serial {other}"),
            };
            init_token(&softkey, s, label);
            init_pin(&softkey, label);
        }

        let softhsm = load(Path::new(SOFTHSM));
        let free = softhsm
            .get_slots_with_token()
            .expect("softhsm slots")
            .into_iter()
            .next()
            .expect("a free SoftHSM slot");
        init_token(&softhsm, free, HSM_LABEL);
        init_pin(&softhsm, HSM_LABEL);

        Fixture {
            dir,
            softkey_path,
            softkey,
            softhsm,
            conf,
        }
    })
}

/// Tests share one login state per token: run them one at a time.
fn serial_lock() -> MutexGuard<'static, ()> {
    static L: Mutex<()> = Mutex::new(());
    L.lock().unwrap_or_else(|e| e.into_inner())
}

fn sm2_support(t: Tok) -> Sm2Support {
    let cat = Catalog::builtin();
    match t {
        Tok::Tass => Sm2Support::from_profile(&cat, cat.vendor("softkey").unwrap()).unwrap(),
        // The softkey Luna profile: Luna constants, DER signatures.
        Tok::Luna => Sm2Support {
            family: cat.family("luna").unwrap().clone(),
            der_signatures: true,
        },
        Tok::SoftHsm => panic!("SoftHSM2 has no SM2"),
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let (ok, text) = run(dir, "openssl", args);
    assert!(ok, "openssl {args:?}: {text}");
    text
}

fn workdir(name: &str) -> PathBuf {
    let d = fixture().dir.join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("workdir");
    d
}

/// Checks a DER CSR with OpenSSL: self-signature and public key.
fn check_csr_with_openssl(dir: &Path, alg: KeyAlg, der: &[u8], point: &[u8; 65]) {
    std::fs::write(dir.join("req.der"), der).unwrap();
    let mut args = vec![
        "req", "-inform", "DER", "-in", "req.der", "-verify", "-noout",
    ];
    if alg == KeyAlg::Sm2 {
        args.extend_from_slice(&["-vfyopt", DISTID]);
    }
    let (ok, text) = run(dir, "openssl", &args);
    // OpenSSL 3.0 prints "Certificate request self-signature verify OK" on stderr.
    assert!(
        ok && text.contains("verify OK"),
        "openssl req -verify: {text}"
    );
    openssl(
        dir,
        &[
            "req", "-inform", "DER", "-in", "req.der", "-noout", "-pubkey", "-out", "pub.pem",
        ],
    );
    openssl(
        dir,
        &[
            "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der",
        ],
    );
    assert_eq!(
        std::fs::read(dir.join("pub.der")).unwrap(),
        keys::spki_der(alg, point).unwrap(),
        "the request's public key is the token key"
    );
    // Without the right distid an SM2 request must not verify: Z really is computed
    // with the default user id.
    if alg == KeyAlg::Sm2 {
        let (ok, text) = run(
            dir,
            "openssl",
            &[
                "req",
                "-inform",
                "DER",
                "-in",
                "req.der",
                "-verify",
                "-noout",
                "-vfyopt",
                "distid:other",
            ],
        );
        assert!(!ok || !text.contains("verify OK"), "{text}");
    }
}

/// Issues a certificate for the request in `dir/req.der` with a throwaway OpenSSL CA.
fn issue(dir: &Path, alg: KeyAlg) -> Vec<u8> {
    openssl(
        dir,
        &["req", "-inform", "DER", "-in", "req.der", "-out", "req.pem"],
    );
    match alg {
        KeyAlg::Sm2 => {
            openssl(dir, &["genpkey", "-algorithm", "SM2", "-out", "ca.key"]);
            openssl(
                dir,
                &[
                    "req",
                    "-new",
                    "-x509",
                    "-key",
                    "ca.key",
                    "-sm3",
                    "-sigopt",
                    DISTID,
                    "-utf8",
                    "-subj",
                    "/CN=Test SM2 CA",
                    "-days",
                    "30",
                    "-out",
                    "ca.pem",
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "req.pem",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-sm3",
                    "-sigopt",
                    DISTID,
                    "-vfyopt",
                    DISTID,
                    "-days",
                    "10",
                    "-set_serial",
                    "0x00A1B2C3D4",
                    "-outform",
                    "DER",
                    "-out",
                    "cert.der",
                ],
            );
        }
        KeyAlg::P256 => {
            openssl(
                dir,
                &[
                    "req",
                    "-new",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    "ca.key",
                    "-subj",
                    "/CN=Test P-256 CA",
                    "-days",
                    "30",
                    "-out",
                    "ca.pem",
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "req.pem",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-sha256",
                    "-days",
                    "10",
                    "-set_serial",
                    "0x00A1B2C3D4",
                    "-outform",
                    "DER",
                    "-out",
                    "cert.der",
                ],
            );
        }
    }
    std::fs::read(dir.join("cert.der")).unwrap()
}

fn private_flags(session: &Session, key: &TokenKey) -> (Option<bool>, Option<bool>, bool) {
    let attrs = session
        .get_attributes(
            key.private,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Value,
            ],
        )
        .expect("C_GetAttributeValue");
    let mut sensitive = None;
    let mut extractable = None;
    let mut value = false;
    for a in attrs {
        match a {
            Attribute::Sensitive(b) => sensitive = Some(b),
            Attribute::Extractable(b) => extractable = Some(b),
            Attribute::Value(_) => value = true,
            _ => {}
        }
    }
    (sensitive, extractable, value)
}

/// Generate, find, sign, request, certificate, and the key found again without its
/// public key object.
fn key_round_trip(t: Tok, alg: KeyAlg) {
    let f = fixture();
    let _g = serial_lock();
    let dir = workdir(&format!("{t:?}-{alg:?}"));
    let (session, serial) = f.session(t);
    let sm2 = (alg == KeyAlg::Sm2).then(|| sm2_support(t));

    let id = keys::new_id(&session);
    assert_eq!(id.len(), keys::ID_LEN);
    assert_ne!(id, keys::new_id(&session));
    let label = format!("{alg:?} key");
    let key = keys::generate(&session, &serial, alg, sm2.as_ref(), &id, &label).unwrap();
    assert_eq!(key.alg, alg);
    assert_eq!(key.id, id);
    assert_eq!(key.point[0], 4);
    assert!(key.public.is_some(), "{t:?} keeps a public key object");

    // The private key stays on the token.
    let (sensitive, extractable, value) = private_flags(&session, &key);
    assert_eq!(sensitive, Some(true));
    assert_eq!(extractable, Some(false));
    assert!(!value, "CKA_VALUE of the private key must not be readable");

    // The same id cannot make a second key.
    let again = keys::generate(&session, &serial, alg, sm2.as_ref(), &id, &label).unwrap_err();
    assert_eq!(again.code(), "invalid_argument", "{again}");

    let found = keys::find(&session, &id).unwrap().expect("key found");
    assert_eq!(found, key);
    assert!(keys::find(&session, b"no such id").unwrap().is_none());

    // A signature, checked independently of the one check inside sign().
    let msg = "CertKey 签名测试".as_bytes();
    let sig = keys::sign(&session, &serial, &found, sm2.as_ref(), msg).unwrap();
    assert_eq!(sig[0], 0x30, "DER SEQUENCE");
    match alg {
        KeyAlg::Sm2 => {
            use sm2::dsa::signature::Verifier;
            let vk =
                sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", &key.point).unwrap();
            vk.verify(msg, &sm2::dsa::Signature::from_der(&sig).unwrap())
                .unwrap();
        }
        KeyAlg::P256 => {
            use p256::ecdsa::signature::Verifier;
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&key.point).unwrap();
            vk.verify(msg, &p256::ecdsa::Signature::from_der(&sig).unwrap())
                .unwrap();
        }
    }

    // A PKCS#10 request signed on the token, checked by OpenSSL.
    let req = csr::build(alg, &key.point, "张三 CertKey", |info| {
        keys::sign(&session, &serial, &found, sm2.as_ref(), info)
    })
    .unwrap();
    check_csr_with_openssl(&dir, alg, &req, &key.point);

    // The certificate for it, on the token with the key's id.
    let cert = issue(&dir, alg);
    let cert_label = format!("cert {t:?} {alg:?}");
    let ch = keys::write_certificate(&session, &id, &cert_label, &cert).unwrap();
    let certs = keys::certificates(&session).unwrap();
    assert!(
        certs.contains(&(ch, id.clone(), cert.clone())),
        "certificates() lists the new certificate"
    );
    let listed = f.pkcs11_tool(t, &["--list-objects", "--type", "cert"]);
    assert!(listed.contains(&cert_label), "{listed}");
    // CKA_SUBJECT / CKA_ISSUER / CKA_SERIAL_NUMBER as pkcs11-tool and others expect.
    let attrs = session
        .get_attributes(ch, &[AttributeType::SerialNumber])
        .unwrap();
    assert_eq!(
        attrs,
        vec![Attribute::SerialNumber(vec![
            0x02, 0x05, 0x00, 0xA1, 0xB2, 0xC3, 0xD4
        ])]
    );
    let with_id = keys::objects_with_id(&session, &id).unwrap();
    assert_eq!(with_id.len(), 3, "private key, public key, certificate");

    // Without the public key object the point comes from the private key (TASS) or
    // the certificate (Luna, SoftHSM2); signing still works and verifies.
    keys::destroy(&session, key.public.unwrap()).unwrap();
    let found = keys::find(&session, &id).unwrap().expect("key found");
    assert_eq!(found.public, None);
    assert_eq!(found.point, key.point);
    assert_eq!(found.alg, alg);
    keys::sign(&session, &serial, &found, sm2.as_ref(), b"again").unwrap();

    // Clean up what this test made.
    for h in keys::objects_with_id(&session, &id).unwrap() {
        keys::destroy(&session, h).unwrap();
    }
    assert!(keys::find(&session, &id).unwrap().is_none());
    assert!(keys::objects_with_id(&session, &id).unwrap().is_empty());
}

#[test]
fn sm2_on_softkey_tass_profile_raw_signatures() {
    key_round_trip(Tok::Tass, KeyAlg::Sm2);
}

#[test]
fn sm2_on_softkey_luna_profile_der_signatures() {
    key_round_trip(Tok::Luna, KeyAlg::Sm2);
}

#[test]
fn p256_on_softkey() {
    key_round_trip(Tok::Tass, KeyAlg::P256);
}

#[test]
fn p256_on_softhsm2() {
    key_round_trip(Tok::SoftHsm, KeyAlg::P256);
}

/// Data objects (seals): write, find by application and id, visible to pkcs11-tool,
/// destroy.
fn data_round_trip(t: Tok) {
    let f = fixture();
    let _g = serial_lock();
    let (session, _) = f.session(t);
    let id = keys::new_id(&session);
    let other = keys::new_id(&session);
    let value: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let h = keys::write_data(&session, SEAL_APP, &id, "seal one", &value).unwrap();
    let h2 = keys::write_data(&session, "CertKey test", &other, "other", b"x").unwrap();

    let all = keys::find_data(&session, SEAL_APP, None).unwrap();
    assert!(all.contains(&(h, id.clone(), value.clone())));
    assert!(
        !all.iter().any(|(x, _, _)| *x == h2),
        "other applications stay out"
    );
    assert_eq!(
        keys::find_data(&session, SEAL_APP, Some(&id)).unwrap(),
        vec![(h, id.clone(), value.clone())]
    );
    assert!(keys::find_data(&session, SEAL_APP, Some(&other))
        .unwrap()
        .is_empty());

    assert_eq!(keys::objects_with_id(&session, &id).unwrap(), vec![h]);

    let listed = f.pkcs11_tool(t, &["--list-objects", "--type", "data"]);
    assert!(listed.contains("seal one"), "{listed}");
    assert!(listed.contains(SEAL_APP), "{listed}");

    keys::destroy(&session, h).unwrap();
    keys::destroy(&session, h2).unwrap();
    assert!(keys::find_data(&session, SEAL_APP, Some(&id))
        .unwrap()
        .is_empty());
    let listed = f.pkcs11_tool(t, &["--list-objects", "--type", "data"]);
    assert!(!listed.contains("seal one"), "{listed}");
}

#[test]
fn data_objects_on_softkey() {
    data_round_trip(Tok::Luna);
}

#[test]
fn data_objects_on_softhsm2() {
    data_round_trip(Tok::SoftHsm);
}

#[test]
fn sm2_where_the_profile_has_none_is_unsupported() {
    let f = fixture();
    let _g = serial_lock();
    let (session, serial) = f.session(Tok::SoftHsm);
    let cat = Catalog::builtin();
    let profile = cat.vendor("softhsm2").unwrap();
    assert!(Sm2Support::from_profile(&cat, profile).is_none());
    let id = keys::new_id(&session);

    let e = keys::generate(&session, &serial, KeyAlg::Sm2, None, &id, "sm2").unwrap_err();
    assert!(
        matches!(&e, Error::MechanismUnsupported { serial: s, .. } if *s == serial),
        "{e:?}"
    );
    // A wrong catalog entry: the module does not know the vendor mechanism.
    let tass = sm2_support(Tok::Tass);
    let e = keys::generate(&session, &serial, KeyAlg::Sm2, Some(&tass), &id, "sm2").unwrap_err();
    assert_eq!(e.code(), "mechanism_unsupported", "{e:?}");
    assert!(keys::objects_with_id(&session, &id).unwrap().is_empty());
}

#[test]
fn the_wrong_family_constants_are_unsupported_not_a_crash() {
    let f = fixture();
    let _g = serial_lock();
    let (session, serial) = f.session(Tok::Tass);
    let id = keys::new_id(&session);
    let luna = sm2_support(Tok::Luna);
    let tass = sm2_support(Tok::Tass);
    let e = keys::generate(&session, &serial, KeyAlg::Sm2, Some(&luna), &id, "x").unwrap_err();
    assert_eq!(e.code(), "mechanism_unsupported", "{e:?}");
    let key = keys::generate(&session, &serial, KeyAlg::Sm2, Some(&tass), &id, "x").unwrap();
    let e = keys::sign(&session, &serial, &key, Some(&luna), b"m").unwrap_err();
    assert_eq!(e.code(), "mechanism_unsupported", "{e:?}");
    // A format guess that is wrong still gives a good signature.
    let wrong_format = Sm2Support {
        der_signatures: true,
        ..tass.clone()
    };
    keys::sign(&session, &serial, &key, Some(&wrong_format), b"m").unwrap();
    for h in keys::objects_with_id(&session, &id).unwrap() {
        keys::destroy(&session, h).unwrap();
    }
}
