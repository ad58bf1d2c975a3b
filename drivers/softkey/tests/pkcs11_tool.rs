//! OpenSC's `pkcs11-tool` (Debian package opensc) and `p11-kit` as independent clients
//! of the built module, with OpenSSL checking what comes out. Each test runs the tools
//! as child processes on a store of its own (CERTKEY_SOFTKEY_DIR in the child's
//! environment); nothing is loaded in this process, so no lock is needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{SO_PIN, USER_PIN};

/// A fresh store, a scratch directory for files, and the tools pointed at them.
struct Bench {
    store: tempfile::TempDir,
    work: tempfile::TempDir,
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Bench {
    fn new() -> Bench {
        Bench {
            store: tempfile::tempdir().expect("store dir"),
            work: tempfile::tempdir().expect("work dir"),
        }
    }

    /// A token initialised by pkcs11-tool, with the user PIN set by the SO.
    fn initialised() -> Bench {
        let b = Bench::new();
        b.tool_ok(&[
            "--init-token",
            "--label",
            "CertKey Test",
            "--so-pin",
            SO_PIN,
        ]);
        b.tool_ok(&[
            "--init-pin",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ]);
        b
    }

    fn file(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn file_arg(&self, name: &str) -> String {
        self.file(name).display().to_string()
    }

    /// `pkcs11-tool --module <softkey> args...`
    fn tool(&self, args: &[&str]) -> Output {
        Command::new("pkcs11-tool")
            .arg("--module")
            .arg(common::module_path())
            .args(args)
            .env("CERTKEY_SOFTKEY_DIR", self.store.path())
            .output()
            .expect("run pkcs11-tool (Debian package opensc)")
    }

    /// Runs pkcs11-tool, insists on success; stdout and stderr together.
    #[track_caller]
    fn tool_ok(&self, args: &[&str]) -> String {
        let out = self.tool(args);
        let t = text(&out);
        assert!(out.status.success(), "pkcs11-tool {args:?} failed:\n{t}");
        t
    }

    /// Runs pkcs11-tool, insists on failure; stdout and stderr together.
    #[track_caller]
    fn tool_fails(&self, args: &[&str]) -> String {
        let out = self.tool(args);
        let t = text(&out);
        assert!(
            !out.status.success(),
            "pkcs11-tool {args:?} should have failed:\n{t}"
        );
        t
    }

    /// `openssl args...` in the scratch directory.
    fn openssl(&self, args: &[&str]) -> Output {
        Command::new("openssl")
            .args(args)
            .current_dir(self.work.path())
            .output()
            .expect("run openssl")
    }

    #[track_caller]
    fn openssl_ok(&self, args: &[&str]) -> String {
        let out = self.openssl(args);
        let t = text(&out);
        assert!(out.status.success(), "openssl {args:?} failed:\n{t}");
        t
    }

    /// The serial the store's one default slot reports.
    fn serial(&self) -> String {
        let slots = certkey_softkey::config::load(self.store.path()).expect("config");
        slots[0].serial.clone()
    }

    /// The token's flags as pkcs11-tool -T names them.
    fn token_flags(&self) -> Vec<String> {
        let t = self.tool_ok(&["-T"]);
        field(&t, "token flags")
            .split(',')
            .map(|f| f.trim().to_string())
            .collect()
    }
}

/// The value of a `name : value` line of pkcs11-tool's listing.
#[track_caller]
fn field(listing: &str, name: &str) -> String {
    listing
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no `{name}` in:\n{listing}"))
}

#[test]
fn init_token_and_init_pin_show_in_the_slot_and_token_listings() {
    let b = Bench::new();
    let blank = b.tool_ok(&["-L"]);
    assert!(
        blank.contains("Slot 0 (0x0): CertKey softkey reader 0"),
        "{blank}"
    );
    assert_eq!(field(&blank, "token state"), "uninitialized");

    let out = b.tool_ok(&[
        "--init-token",
        "--label",
        "CertKey Test",
        "--so-pin",
        SO_PIN,
    ]);
    assert!(out.contains("Token successfully initialized"), "{out}");
    let listing = b.tool_ok(&["-T"]);
    assert_eq!(field(&listing, "token label"), "CertKey Test");
    assert_eq!(field(&listing, "serial num"), b.serial());
    assert_eq!(field(&listing, "token manufacturer"), "CertKey softkey");
    assert_eq!(field(&listing, "token model"), "softkey v1");
    assert_eq!(field(&listing, "pin min/max"), "6/16");
    let flags = b.token_flags();
    for f in ["login required", "rng", "token initialized"] {
        assert!(flags.iter().any(|x| x == f), "no `{f}` in {flags:?}");
    }
    assert!(!flags.iter().any(|x| x == "PIN initialized"), "{flags:?}");

    let out = b.tool_ok(&[
        "--init-pin",
        "--login",
        "--login-type",
        "so",
        "--so-pin",
        SO_PIN,
        "--pin",
        USER_PIN,
    ]);
    assert!(out.contains("User PIN successfully initialized"), "{out}");
    let flags = b.token_flags();
    assert!(flags.iter().any(|x| x == "PIN initialized"), "{flags:?}");
    assert!(!flags.iter().any(|x| x.contains("count low")), "{flags:?}");

    // -L shows the same token.
    let slots = b.tool_ok(&["-L"]);
    assert_eq!(field(&slots, "token label"), "CertKey Test");
    assert_eq!(field(&slots, "serial num"), b.serial());
    // -I: the library; -M: the mechanisms, vendor SM2 ones included.
    let info = b.tool_ok(&["-I"]);
    assert!(info.contains("Cryptoki version 2.40"), "{info}");
    assert!(info.contains("CertKey softkey virtual USB key"), "{info}");
    let mechs = b.tool_ok(&["-M"]);
    for m in [
        "ECDSA-KEY-PAIR-GEN",
        "ECDSA, ",
        "ECDSA-SHA256",
        "SHA256, digest",
        "mechtype-0x80008100",
    ] {
        assert!(mechs.contains(m), "no `{m}` in:\n{mechs}");
    }
}

#[test]
fn p256_key_generated_by_pkcs11_tool_signs_what_openssl_verifies() {
    let b = Bench::initialised();
    let out = b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--id",
        "01",
        "--label",
        "k",
    ]);
    assert!(out.contains("Key pair generated"), "{out}");
    assert!(
        out.contains("EC_PARAMS:  06082a8648ce3d030107"),
        "P-256: {out}"
    );

    let msg = b.file("message.txt");
    std::fs::write(&msg, "pay 100 yuan to the bearer\n").unwrap();
    b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--sign",
        "-m",
        "ECDSA-SHA256",
        "--id",
        "01",
        "--signature-format",
        "openssl",
        "-i",
        &b.file_arg("message.txt"),
        "-o",
        &b.file_arg("sig.der"),
    ]);
    let sig = std::fs::read(b.file("sig.der")).unwrap();
    assert_eq!(sig[0], 0x30, "DER ECDSA-Sig-Value");

    // The public key, as pkcs11-tool exports it (SubjectPublicKeyInfo), to PEM.
    b.tool_ok(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        "01",
        "-o",
        &b.file_arg("pub.der"),
    ]);
    b.openssl_ok(&[
        "pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem",
    ]);
    let described = b.openssl_ok(&["pkey", "-pubin", "-in", "pub.pem", "-text", "-noout"]);
    assert!(described.contains("prime256v1"), "{described}");

    let ok = b.openssl_ok(&[
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig.der",
        "message.txt",
    ]);
    assert!(ok.contains("Verified OK"), "{ok}");
    // The same signature over other bytes does not verify.
    std::fs::write(b.file("forged.txt"), "pay 900 yuan to the bearer\n").unwrap();
    let bad = b.openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig.der",
        "forged.txt",
    ]);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        text(&bad).contains("Verification failure"),
        "{}",
        text(&bad)
    );

    // CKM_ECDSA over a hash computed by OpenSSL verifies as the same message.
    b.openssl_ok(&[
        "dgst",
        "-sha256",
        "-binary",
        "-out",
        "message.sha256",
        "message.txt",
    ]);
    b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--sign",
        "-m",
        "ECDSA",
        "--id",
        "01",
        "--signature-format",
        "openssl",
        "-i",
        &b.file_arg("message.sha256"),
        "-o",
        &b.file_arg("sig2.der"),
    ]);
    let ok = b.openssl_ok(&[
        "dgst",
        "-sha256",
        "-verify",
        "pub.pem",
        "-signature",
        "sig2.der",
        "message.txt",
    ]);
    assert!(ok.contains("Verified OK"), "{ok}");
}

#[test]
fn keys_with_one_byte_ids_are_told_apart() {
    // pkcs11-tool finds the key for `--id 02` by a C_FindObjects template holding the
    // one-byte CKA_ID; the key with ID 01 must not answer it.
    let b = Bench::initialised();
    for id in ["01", "02"] {
        b.tool_ok(&[
            "--login",
            "--pin",
            USER_PIN,
            "--keypairgen",
            "--key-type",
            "EC:prime256v1",
            "--id",
            id,
            "--label",
            id,
        ]);
    }
    std::fs::write(b.file("m"), "which key?").unwrap();
    for id in ["01", "02"] {
        b.tool_ok(&[
            "--read-object",
            "--type",
            "pubkey",
            "--id",
            id,
            "-o",
            &b.file_arg(&format!("{id}.der")),
        ]);
        b.openssl_ok(&[
            "pkey",
            "-pubin",
            "-inform",
            "DER",
            "-in",
            &format!("{id}.der"),
            "-out",
            &format!("{id}.pem"),
        ]);
        b.tool_ok(&[
            "--login",
            "--pin",
            USER_PIN,
            "--sign",
            "-m",
            "ECDSA-SHA256",
            "--id",
            id,
            "--signature-format",
            "openssl",
            "-i",
            &b.file_arg("m"),
            "-o",
            &b.file_arg(&format!("{id}.sig")),
        ]);
    }
    assert_ne!(
        std::fs::read(b.file("01.der")).unwrap(),
        std::fs::read(b.file("02.der")).unwrap(),
        "two different public keys"
    );
    for (key, sig, good) in [
        ("01", "01", true),
        ("02", "02", true),
        ("01", "02", false),
        ("02", "01", false),
    ] {
        let out = b.openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            &format!("{key}.pem"),
            "-signature",
            &format!("{sig}.sig"),
            "m",
        ]);
        assert_eq!(
            out.status.success(),
            good,
            "signature by --id {sig} checked with key {key}: {}",
            text(&out)
        );
    }
}

#[test]
fn certificate_written_by_pkcs11_tool_reads_back_byte_identical() {
    let b = Bench::initialised();
    b.openssl_ok(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "cert.key",
        "-subj",
        "/CN=softkey test/O=CertKey",
        "-days",
        "1",
        "-outform",
        "DER",
        "-out",
        "cert.der",
    ]);
    let out = b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--write-object",
        &b.file_arg("cert.der"),
        "--type",
        "cert",
        "--id",
        "02",
        "--label",
        "signing cert",
    ]);
    assert!(out.contains("Created certificate"), "{out}");
    // Read back without logging in: a certificate is public.
    b.tool_ok(&[
        "--read-object",
        "--type",
        "cert",
        "--id",
        "02",
        "-o",
        &b.file_arg("back.der"),
    ]);
    let written = std::fs::read(b.file("cert.der")).unwrap();
    assert_eq!(std::fs::read(b.file("back.der")).unwrap(), written);
    let listing = b.tool_ok(&["--list-objects", "--type", "cert"]);
    assert!(
        listing.contains("Certificate Object; type = X.509 cert"),
        "{listing}"
    );
    assert_eq!(field(&listing, "label"), "signing cert");
    assert_eq!(field(&listing, "ID"), "02");
    assert!(
        field(&listing, "subject").contains("CN=softkey test"),
        "{listing}"
    );
    // And OpenSSL still reads it as the certificate it made.
    let shown = b.openssl_ok(&[
        "x509", "-inform", "DER", "-in", "back.der", "-noout", "-subject",
    ]);
    assert!(shown.contains("softkey test"), "{shown}");
}

#[test]
fn data_objects_written_by_pkcs11_tool_read_back_and_private_ones_need_the_pin() {
    let b = Bench::initialised();
    let public: Vec<u8> = (0..=255u8).cycle().take(700).collect();
    std::fs::write(b.file("data.bin"), &public).unwrap();
    let out = b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--write-object",
        &b.file_arg("data.bin"),
        "--type",
        "data",
        "--label",
        "x",
        "--application-label",
        "app",
    ]);
    assert!(out.contains("Created Data Object"), "{out}");
    b.tool_ok(&[
        "--read-object",
        "--type",
        "data",
        "--application-label",
        "app",
        "-o",
        &b.file_arg("back.bin"),
    ]);
    assert_eq!(std::fs::read(b.file("back.bin")).unwrap(), public);
    let listing = b.tool_ok(&["--list-objects", "--type", "data"]);
    assert_eq!(field(&listing, "label"), "'x'");
    assert_eq!(field(&listing, "application"), "'app'");

    // A private data object is there only for whoever logged in.
    let secret = b"the seal image, say".to_vec();
    std::fs::write(b.file("secret.bin"), &secret).unwrap();
    b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--write-object",
        &b.file_arg("secret.bin"),
        "--type",
        "data",
        "--label",
        "s",
        "--application-label",
        "seal",
        "--private",
    ]);
    let hidden = b.tool_fails(&[
        "--read-object",
        "--type",
        "data",
        "--application-label",
        "seal",
        "-o",
        &b.file_arg("nope.bin"),
    ]);
    assert!(hidden.contains("object not found"), "{hidden}");
    b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--read-object",
        "--type",
        "data",
        "--application-label",
        "seal",
        "-o",
        &b.file_arg("secret.back"),
    ]);
    assert_eq!(std::fs::read(b.file("secret.back")).unwrap(), secret);
    let public_listing = b.tool_ok(&["--list-objects", "--type", "data"]);
    assert!(!public_listing.contains("'seal'"), "{public_listing}");
}

#[test]
fn change_pin_makes_the_old_pin_wrong_and_the_new_one_right() {
    let b = Bench::initialised();
    let out = b.tool_ok(&["--change-pin", "--pin", USER_PIN, "--new-pin", "24681357"]);
    assert!(out.contains("PIN successfully changed"), "{out}");
    let refused = b.tool_fails(&["--login", "--pin", USER_PIN, "--list-objects"]);
    assert!(
        refused.contains("C_Login failed: rv = CKR_PIN_INCORRECT"),
        "{refused}"
    );
    b.tool_ok(&["--login", "--pin", "24681357", "--list-objects"]);
    // A too-short new PIN is refused by the token.
    let short = b.tool_fails(&["--change-pin", "--pin", "24681357", "--new-pin", "123"]);
    assert!(short.contains("CKR_PIN_LEN_RANGE"), "{short}");
    b.tool_ok(&["--login", "--pin", "24681357", "--list-objects"]);
}

#[test]
fn wrong_pins_are_reported_counted_and_lock_until_the_so_resets() {
    let b = Bench::initialised();
    for attempt in 1..=5 {
        let out = b.tool_fails(&["--login", "--pin", "00000000", "--list-objects"]);
        assert!(
            out.contains("C_Login failed: rv = CKR_PIN_INCORRECT"),
            "attempt {attempt}: {out}"
        );
        let flags = b.token_flags();
        assert!(flags.iter().any(|f| f == "user PIN count low"), "{flags:?}");
        assert_eq!(
            flags.iter().any(|f| f == "final user PIN try"),
            attempt == 5,
            "after {attempt} wrong PINs: {flags:?}"
        );
    }
    let out = b.tool_fails(&["--login", "--pin", "00000000", "--list-objects"]);
    assert!(out.contains("CKR_PIN_LOCKED"), "{out}");
    assert!(b.token_flags().iter().any(|f| f == "user PIN locked"));
    let out = b.tool_fails(&["--login", "--pin", USER_PIN, "--list-objects"]);
    assert!(
        out.contains("CKR_PIN_LOCKED"),
        "the right PIN no longer opens it: {out}"
    );

    b.tool_ok(&[
        "--init-pin",
        "--login",
        "--login-type",
        "so",
        "--so-pin",
        SO_PIN,
        "--pin",
        "13572468",
    ]);
    let flags = b.token_flags();
    assert!(!flags.iter().any(|f| f.contains("user PIN")), "{flags:?}");
    b.tool_ok(&["--login", "--pin", "13572468", "--list-objects"]);
}

#[test]
fn pkcs11_tool_self_test_passes_on_a_token_with_a_p256_key_pair() {
    let b = Bench::initialised();
    b.tool_ok(&[
        "--login",
        "--pin",
        USER_PIN,
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--id",
        "01",
        "--label",
        "k",
    ]);
    let out = b.tool_ok(&["--test", "--login", "--pin", USER_PIN]);
    let bad: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("ERR") || l.to_lowercase().contains("fail"))
        .collect();
    assert!(bad.is_empty(), "{bad:?} in:\n{out}");
    for expected in [
        "C_SeedRandom() and C_GenerateRandom():",
        "seeding (C_SeedRandom) not supported",
        "SHA256: OK",
        "testing key 0 (k)",
        "No errors",
    ] {
        assert!(out.contains(expected), "no `{expected}` in:\n{out}");
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The ordinary user p11-kit runs as when the tests run as root.
const ORDINARY_UID: u32 = 1000;

/// Gives `dir` and everything in it to `uid` (group the same number).
fn chown_tree(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", dir.display()));
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            chown_tree(&path, uid);
        } else {
            std::os::unix::fs::chown(&path, Some(uid), Some(uid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }
}

#[test]
fn p11_kit_lists_the_module_registered_in_the_user_config() {
    let b = Bench::initialised();
    // The shipped module file, pointed at the built library.
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../packaging/p11-kit/certkey-softkey.module");
    let shipped = std::fs::read_to_string(&shipped).expect("packaging/p11-kit module file");
    let module_line = format!("module: {}", common::module_path().display());
    let registered: String = shipped
        .lines()
        .map(|l| {
            if l.starts_with("module:") {
                module_line.as_str()
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(registered.contains(&module_line));
    let config = b.file("xdg-config");
    std::fs::create_dir_all(config.join("pkcs11/modules")).unwrap();
    std::fs::write(
        config.join("pkcs11/modules/certkey-softkey.module"),
        registered,
    )
    .unwrap();

    // p11-kit reads ~/.config/pkcs11 ($XDG_CONFIG_HOME/pkcs11) only for ordinary users
    // (there is no /etc/pkcs11/pkcs11.conf here to say otherwise, and root's user config
    // is ignored): as root, run it as uid 1000. setpriv only drops privileges, so this
    // works in containers and chroots that allow no user namespaces; the home, config
    // and store it uses are handed to that uid first.
    let mut cmd = if running_as_root() {
        for dir in [b.work.path(), b.store.path()] {
            chown_tree(dir, ORDINARY_UID);
        }
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={ORDINARY_UID}"),
            &format!("--regid={ORDINARY_UID}"),
            "--clear-groups",
            "p11-kit",
        ]);
        c
    } else {
        Command::new("p11-kit")
    };
    let out = cmd
        .arg("list-modules")
        .env("XDG_CONFIG_HOME", &config)
        .env("HOME", b.work.path())
        .env("CERTKEY_SOFTKEY_DIR", b.store.path())
        .output()
        .expect("run p11-kit (Debian package p11-kit) and setpriv (util-linux)");
    let listing = text(&out);
    assert!(out.status.success(), "p11-kit list-modules:\n{listing}");

    // Our module's block: from its `name: path` line to the next module's.
    let start = listing
        .find(&format!(
            "certkey-softkey: {}",
            common::module_path().display()
        ))
        .unwrap_or_else(|| panic!("module not listed:\n{listing}"));
    let block: String = listing[start..]
        .lines()
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with(' '))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    assert_eq!(
        field(&block, "library-description"),
        "CertKey softkey virtual USB key"
    );
    assert_eq!(field(&block, "library-manufacturer"), "CertKey");
    assert_eq!(field(&block, "token"), "CertKey Test");
    assert_eq!(field(&block, "serial-number"), b.serial());
    assert_eq!(field(&block, "manufacturer"), "CertKey softkey");
    for flag in [
        "rng",
        "login-required",
        "user-pin-initialized",
        "token-initialized",
    ] {
        assert!(
            block.lines().any(|l| l.trim() == flag),
            "no `{flag}` flag in:\n{block}"
        );
    }
}
