//! Shared by the softkey test suites: loads the real libcertkey_softkey.so through
//! cryptoki with a fresh store per test. The module's state is per process, so tests
//! that load it take a global lock.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

pub const SO_PIN: &str = "87654321";
pub const USER_PIN: &str = "12345678";

static LOCK: Mutex<()> = Mutex::new(());

/// target/<profile>/, where cargo puts the module and the control tool.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// The built module.
pub fn module_path() -> PathBuf {
    let p = target_dir().join("libcertkey_softkey.so");
    assert!(
        p.exists(),
        "{} is missing: build the workspace first (cargo build)",
        p.display()
    );
    p
}

/// The control tool.
pub fn control_tool() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkey-softkey"))
}

/// Runs pkcs11-tool on the module with a store directory; returns (success, output).
pub fn pkcs11_tool(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module_path())
        .args(args)
        .env("CERTKEY_SOFTKEY_DIR", dir)
        .output()
        .expect("pkcs11-tool is installed by the test command");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs `certkey-softkey --dir DIR args...` and insists it succeeds.
pub fn control(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(control_tool())
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("run certkey-softkey");
    assert!(
        out.status.success(),
        "certkey-softkey {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loaded module on a fresh store. Finalizes on drop.
pub struct Token {
    pub ctx: Pkcs11,
    pub dir: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = self.ctx.clone().finalize();
    }
}

impl Token {
    /// A fresh store, with `softkey.toml` when given, and the module initialised.
    pub fn open(config: Option<&str>) -> Token {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(c) = config {
            std::fs::write(dir.path().join("softkey.toml"), c).expect("config");
        }
        std::env::set_var("CERTKEY_SOFTKEY_DIR", dir.path());
        let ctx = Pkcs11::new(module_path()).expect("load softkey");
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        Token {
            ctx,
            dir,
            _guard: guard,
        }
    }

    /// The module initialised on an existing store directory (kept by the caller).
    pub fn open_dir(dir: tempfile::TempDir) -> Token {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_var("CERTKEY_SOFTKEY_DIR", dir.path());
        let ctx = Pkcs11::new(module_path()).expect("load softkey");
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        Token {
            ctx,
            dir,
            _guard: guard,
        }
    }

    /// Slot `i` (slots are numbered from 0 in config order).
    pub fn slot(&self, i: usize) -> Slot {
        self.ctx.get_all_slots().expect("slots")[i]
    }

    /// Initialises the token in slot `i` with the SO PIN and sets the user PIN.
    pub fn init(&self, i: usize) -> Slot {
        let slot = self.slot(i);
        self.ctx
            .init_token(slot, &AuthPin::new(SO_PIN.into()), "softkey test")
            .expect("C_InitToken");
        let s = self.ctx.open_rw_session(slot).expect("session");
        s.login(UserType::So, Some(&AuthPin::new(SO_PIN.into())))
            .expect("SO login");
        s.init_pin(&AuthPin::new(USER_PIN.into()))
            .expect("C_InitPIN");
        s.logout().expect("logout");
        slot
    }

    /// A R/W session logged in as the user.
    pub fn user_session(&self, slot: Slot) -> Session {
        let s = self.ctx.open_rw_session(slot).expect("session");
        s.login(UserType::User, Some(&AuthPin::new(USER_PIN.into())))
            .expect("user login");
        s
    }
}

/// Two slots: TASS profile (raw SM2 signatures) and Luna profile (DER).
pub const TWO_PROFILES: &str = r#"
[[slot]]
serial = "TASS0001"
label = "tass"
profile = "tass"

[[slot]]
serial = "LUNA0001"
label = "luna"
profile = "luna"
"#;
