//! Property tests of the service's readers of outside DER (CSRs in activation and
//! renewal, certificates and signatures in renewal and seal requests): arbitrary
//! bytes and mutations (flipped, truncated, extended bytes) of real OpenSSL-made
//! certificates and CSRs (P-256 and SM2) never panic and give `Ok` or a typed
//! `X509Error`.
//!
//! `PROPTEST_CASES` sets the number of cases (default 128 here, for CI); run longer
//! with `PROPTEST_CASES=100000 cargo test -p certkey-ca --test proptest_x509`.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use certkey_ca::x509;
use proptest::prelude::*;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs OpenSSL in `dir` with the whitespace-separated `args`.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Real inputs made by OpenSSL: (CA certificate, leaf certificate, P-256 CSR,
/// SM2 CSR), DER.
struct Fixtures {
    ca: Vec<u8>,
    leaf: Vec<u8>,
    csr_p256: Vec<u8>,
    csr_sm2: Vec<u8>,
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        openssl(d, &format!("req -x509 {ec} -keyout ca.key -out ca.pem -subj /CN=PropCA -days 30"));
        openssl(d, &format!("req -new {ec} -keyout leaf.key -out leaf.csr -subj /CN=张三"));
        openssl(d, "req -in leaf.csr -outform DER -out leaf.csr.der");
        openssl(d, "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 9 -days 30 -outform DER -out leaf.der");
        openssl(d, "x509 -in ca.pem -outform DER -out ca.der");
        // SM2 with the default user id: OpenSSL takes the id only with a key file.
        openssl(d, "genpkey -algorithm ec -pkeyopt ec_paramgen_curve:SM2 -out sm2.key");
        openssl(d, "req -new -key sm2.key -sm3 -sigopt distid:1234567812345678 -subj /CN=李四 -outform DER -out sm2.csr.der");
        let read = |f: &str| std::fs::read(d.join(f)).unwrap();
        Fixtures {
            ca: read("ca.der"),
            leaf: read("leaf.der"),
            csr_p256: read("leaf.csr.der"),
            csr_sm2: read("sm2.csr.der"),
        }
    })
}

/// Flip, truncate, extend or overwrite bytes of `base`.
fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    (
        prop::collection::vec((0..len, any::<u8>()), 1..8),
        0..=len,
        prop::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(move |(flips, cut, tail, truncate)| {
            let mut b = base.clone();
            for (i, x) in flips {
                b[i] ^= x;
            }
            if truncate {
                b.truncate(cut);
            } else {
                b.extend(tail);
            }
            b
        })
}

/// Everything the service does with a certificate from a request.
fn read_certificate(der: &[u8]) {
    let _ = x509::cert_serial_hex(der);
    if let Ok(spki) = x509::cert_spki(der) {
        let _ = x509::verify_signature(&spki, b"message", &[0x30, 0x00]);
    }
    let _ = x509::verify_cert_signature(der, &fixtures().ca);
    let _ = x509::verify_cert_signature(&fixtures().leaf, der);
}

#[test]
fn the_fixtures_are_accepted() {
    let f = fixtures();
    x509::verify_csr(&f.csr_p256).unwrap();
    x509::verify_csr(&f.csr_sm2).unwrap();
    x509::verify_cert_signature(&f.leaf, &f.ca).unwrap();
    assert_eq!(x509::cert_serial_hex(&f.leaf).unwrap(), "09");
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn csr_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = x509::verify_csr(&bytes);
    }

    #[test]
    fn csr_mutated_p256(bytes in mutated(fixtures().csr_p256.clone())) {
        let _ = x509::verify_csr(&bytes);
    }

    #[test]
    fn csr_mutated_sm2(bytes in mutated(fixtures().csr_sm2.clone())) {
        let _ = x509::verify_csr(&bytes);
    }

    #[test]
    fn certificate_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        read_certificate(&bytes);
    }

    #[test]
    fn certificate_mutated(bytes in mutated(fixtures().leaf.clone())) {
        read_certificate(&bytes);
    }

    #[test]
    fn signature_arbitrary(spki in prop::collection::vec(any::<u8>(), 0..128),
                           msg in prop::collection::vec(any::<u8>(), 0..64),
                           sig in prop::collection::vec(any::<u8>(), 0..96)) {
        let _ = x509::verify_signature(&spki, &msg, &sig);
        if let Ok(real) = x509::cert_spki(&fixtures().leaf) {
            let _ = x509::verify_signature(&real, &msg, &sig);
        }
    }
}
