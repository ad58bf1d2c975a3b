//! Several processes on one store: the file lock serialises their writes, PIN
//! counters are shared, and a process killed mid-write leaves a readable store.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{control, pkcs11_tool, Token, SO_PIN, USER_PIN};
use cryptoki::object::{Attribute, ObjectClass};

fn initialised_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out) = pkcs11_tool(
        dir.path(),
        &["--init-token", "--label", "shared", "--so-pin", SO_PIN],
    );
    assert!(ok, "{out}");
    let (ok, out) = pkcs11_tool(
        dir.path(),
        &[
            "--init-pin",
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ],
    );
    assert!(ok, "{out}");
    dir
}

#[test]
fn writes_from_four_processes_at_once_are_all_kept() {
    let dir = initialised_store();
    let data = dir.path().join("blob.bin");
    std::fs::write(&data, [0x5Au8; 300]).unwrap();
    let module = common::module_path();
    let children: Vec<_> = (0..4)
        .map(|p| {
            let script = format!(
                "for i in 1 2 3 4 5; do pkcs11-tool --module '{}' --login --pin {USER_PIN} --write-object '{}' --type data --label p{p}-$i >/dev/null 2>&1 || exit 1; done",
                module.display(),
                data.display()
            );
            Command::new("sh").arg("-c").arg(script).env("CERTKEY_SOFTKEY_DIR", dir.path()).spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let t = Token::open_dir(dir);
    let s = t.user_session(t.slot(0));
    let found = s
        .find_objects(&[Attribute::Class(ObjectClass::DATA)])
        .unwrap();
    assert_eq!(
        found.len(),
        20,
        "every write of every process is on the token"
    );
}

#[test]
fn wrong_pins_from_two_processes_count_against_one_counter() {
    let dir = initialised_store();
    let module = common::module_path();
    let children: Vec<_> = (0..2)
        .map(|_| {
            let script = format!(
                "for i in 1 2; do pkcs11-tool --module '{}' --login --pin 99999999 -O >/dev/null 2>&1; done; true",
                module.display()
            );
            Command::new("sh").arg("-c").arg(script).env("CERTKEY_SOFTKEY_DIR", dir.path()).spawn().unwrap()
        })
        .collect();
    for mut c in children {
        c.wait().unwrap();
    }
    let status: serde_json::Value =
        serde_json::from_str(&control(dir.path(), &["status", "--json"])).unwrap();
    assert_eq!(
        status["slots"][0]["user_tries_left"], 2,
        "4 wrong PINs from 2 processes: 2 tries left"
    );
}

#[test]
fn a_process_killed_while_writing_leaves_a_working_store() {
    let dir = initialised_store();
    let data = dir.path().join("blob.bin");
    std::fs::write(&data, vec![0xA5u8; 4000]).unwrap();
    let module = common::module_path();
    for round in 0..6u64 {
        let script = format!(
            "while true; do pkcs11-tool --module '{}' --login --pin {USER_PIN} --write-object '{}' --type data --label k >/dev/null 2>&1; pkcs11-tool --module '{}' --login --pin {USER_PIN} --delete-object --type data --label k >/dev/null 2>&1; done",
            module.display(),
            data.display(),
            module.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec sh -c \"{}\"", script.replace('"', "\\\"")))
            .env("CERTKEY_SOFTKEY_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 70 * round));
        // Kill the whole group, pkcs11-tool included, wherever it is.
        unsafe {
            libc::kill(-(child.id() as i32), libc::SIGKILL);
        }
        let _ = child.wait();
        let (ok, out) = pkcs11_tool(dir.path(), &["--login", "--pin", USER_PIN, "-O"]);
        assert!(ok, "round {round}: the store must still work: {out}");
    }
    let status: serde_json::Value =
        serde_json::from_str(&control(dir.path(), &["status", "--json"])).unwrap();
    assert_eq!(status["slots"][0]["initialized"], true);
}
