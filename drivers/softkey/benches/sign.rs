//! Signatures per second through `cryptoki`: softkey SM2 (SM3withSM2 and raw over a
//! host e), softkey P-256 (ECDSA over a SHA-256 hash), and SoftHSM2 P-256 as the peer,
//! in one run. Prints a Markdown table; `scripts/bench-softkey` writes it to
//! BENCHMARKS.md.
//!
//! Run: `cargo bench -p certkey-softkey --bench sign` (needs softhsm2-util).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::{vendor_defined::VendorDefinedMechanism, Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

const PIN: &str = "12345678";
const SO: &str = "87654321";
const RUN: Duration = Duration::from_secs(3);
const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn vendor(v: u64) -> Mechanism<'static> {
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(
        MechanismType::new_vendor_defined(v).unwrap(),
        None,
    ))
}

fn p256_params() -> Vec<u8> {
    vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
}

/// Makes a session's key, mechanism and data to sign.
type Setup = dyn Fn(&Session) -> (ObjectHandle, Mechanism<'static>, Vec<u8>) + Sync;

/// Signs for RUN with `threads` sessions in parallel; returns signatures per second.
fn rate(ctx: &Pkcs11, slot: Slot, threads: usize, make: &Setup) -> f64 {
    let start = Instant::now();
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let s = ctx.open_ro_session(slot).unwrap();
                    let (key, mech, data) = make(&s);
                    let mut n = 0u64;
                    while start.elapsed() < RUN {
                        s.sign(&mech, key, &data).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}

fn login_and_keys(ctx: &Pkcs11, slot: Slot, sm2: bool) {
    let s = ctx.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::EcParams(p256_params()),
            Attribute::Label(b"p256".to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Sign(true),
            Attribute::Label(b"p256".to_vec()),
        ],
    )
    .unwrap();
    if sm2 {
        let kt = KeyType::new_vendor_defined(0x8000_0004).unwrap();
        s.generate_key_pair(
            &vendor(0x8000_8001),
            &[
                Attribute::Token(true),
                Attribute::KeyType(kt),
                Attribute::Label(b"sm2".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Sign(true),
                Attribute::Label(b"sm2".to_vec()),
            ],
        )
        .unwrap();
    }
    // Keep this session open: it holds the login for the benchmark sessions.
    std::mem::forget(s);
}

fn key(s: &Session, label: &str) -> ObjectHandle {
    s.find_objects(&[
        Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .unwrap()[0]
}

fn init(path: &Path) -> (Pkcs11, Slot) {
    let ctx = Pkcs11::new(path).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx.get_slots_with_token().unwrap()[0];
    (ctx, slot)
}

fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows: Vec<(String, usize, f64)> = Vec::new();
    let hash = vec![0x11u8; 32];
    let msg = b"CertKey benchmark message: a CSR or a seal is signed like this".to_vec();

    // softkey
    let target = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    let softkey: PathBuf = target.join("libcertkey_softkey.so");
    std::env::set_var("CERTKEY_SOFTKEY_DIR", tmp.path().join("softkey"));
    let (ctx, slot) = init(&softkey);
    ctx.init_token(slot, &AuthPin::new(SO.into()), "bench")
        .unwrap();
    {
        let s = ctx.open_rw_session(slot).unwrap();
        s.login(UserType::So, Some(&AuthPin::new(SO.into())))
            .unwrap();
        s.init_pin(&AuthPin::new(PIN.into())).unwrap();
    }
    login_and_keys(&ctx, slot, true);
    for threads in [1, 2] {
        let m = msg.clone();
        rows.push((
            "softkey SM2, SM3withSM2 over a 64-byte message".into(),
            threads,
            rate(&ctx, slot, threads, &move |s| {
                (key(s, "sm2"), vendor(0x8000_8100), m.clone())
            }),
        ));
        let h = hash.clone();
        rows.push((
            "softkey SM2, raw over a host-computed e".into(),
            threads,
            rate(&ctx, slot, threads, &move |s| {
                (key(s, "sm2"), vendor(0x8000_8000), h.clone())
            }),
        ));
        let h = hash.clone();
        rows.push((
            "softkey P-256, CKM_ECDSA over a SHA-256 hash".into(),
            threads,
            rate(&ctx, slot, threads, &move |s| {
                (key(s, "p256"), Mechanism::Ecdsa, h.clone())
            }),
        ));
    }

    // SoftHSM2, same machine, same run.
    let tokens = tmp.path().join("softhsm");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let ok = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "bench",
            "--so-pin",
            SO,
            "--pin",
            PIN,
        ])
        .output()
        .expect("softhsm2-util")
        .status
        .success();
    assert!(ok, "softhsm2-util --init-token failed");
    let (hctx, hslot) = init(Path::new(SOFTHSM));
    login_and_keys(&hctx, hslot, false);
    for threads in [1, 2] {
        let h = hash.clone();
        rows.push((
            "SoftHSM2 P-256, CKM_ECDSA over a SHA-256 hash".into(),
            threads,
            rate(&hctx, hslot, threads, &move |s| {
                (key(s, "p256"), Mechanism::Ecdsa, h.clone())
            }),
        ));
    }

    println!("| module and mechanism | threads | signatures/s |");
    println!("|---|---:|---:|");
    for (name, threads, r) in rows {
        println!("| {name} | {threads} | {r:.0} |");
    }
}
