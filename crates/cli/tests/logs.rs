//! The log every command writes (certkey_core::logs) and `certkey logs`: a command's
//! lines at the config's level in a daily file of the log folder, PKCS#11 calls at the
//! trace level and never a PIN, the last lines printed, exported into one private
//! file, and the level's edge cases. Against SoftHSM2 (the shared fixture).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// `certkey` on the fixture's SoftHSM2 with this config and log folder (by
/// CERTKEY_STATE_DIR, or CERTKEY_LOG_DIR when `log_dir` is set).
fn certkey(state: &Path, config: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let f = common::fixture();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey"));
    cmd.args([
        "--no-auto-modules",
        "--module",
        common::SOFTHSM,
        "--lang",
        "en",
    ])
    .args(args)
    .env("SOFTHSM2_CONF", &f.conf)
    .env("CERTKEY_CONFIG", config)
    .env("CERTKEY_STATE_DIR", state)
    .env_remove("CERTKEY_LOG")
    .env_remove("CERTKEY_LOG_DIR")
    .env_remove("CERTKEY_MODULES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run certkey")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file of the log folder, as one text.
fn log_of(dir: &Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn each_command_is_logged_pkcs11_calls_at_trace_never_a_pin_and_the_log_prints_and_exports() {
    let f = common::fixture();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let logs = state.join("logs");
    let config = tmp.path().join("config.toml");
    std::fs::write(&config, "log_level = \"trace\"\n").unwrap();

    // A login with a PIN that must never reach the log, at the most detailed level.
    const SECRET: &str = "Zq8-never-logged";
    let out = certkey(
        &state,
        &config,
        &[("CERTKEY_PIN", SECRET)],
        &["info", "--token", &f.serial, "--login"],
    );
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("TRACE"),
        "the log stays out of the terminal without CERTKEY_LOG: {}",
        text(&out)
    );
    let log = log_of(&logs);
    assert!(
        log.contains("certkey started") && log.contains("command=info"),
        "{log}"
    );
    assert!(
        log.contains("function=C_Login") && log.contains("rv=CKR_PIN_INCORRECT"),
        "{log}"
    );
    assert!(!log.contains(SECRET), "the PIN is in the log:\n{log}");
    // The key's mechanisms read (SoftHSM2 lists some cryptoki has no name for): not
    // cryptoki's "Mechanism type N is not supported" error for each of them.
    certkey(&state, &config, &[], &["info", "--token", &f.serial]);
    let log = log_of(&logs);
    assert_eq!(log.matches("command=info").count(), 2, "{log}");
    assert!(!log.contains("is not supported"), "{log}");
    // The folder is the user's only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&logs).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let files: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    // Today's file (the UTC day of the run, which may have just changed).
    let day = |d: time::Date| {
        format!(
            "certkey-cli.{}-{:02}-{:02}.log",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    };
    // One file, or two when the run went past midnight.
    let today = time::OffsetDateTime::now_utc().date();
    assert!((1..=2).contains(&files.len()), "{files:?}");
    for name in &files {
        assert!(
            *name == day(today) || today.previous_day().is_some_and(|d| *name == day(d)),
            "{name}"
        );
    }

    // Printed: the last lines, each with the program that wrote it.
    let out = certkey(&state, &config, &[], &["logs", "--lines", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(printed.lines().count(), 3, "{printed}");
    assert!(
        printed.lines().all(|l| l.starts_with("certkey-cli  ")),
        "{printed}"
    );
    // The whole of it, as JSON.
    let out = certkey(&state, &config, &[], &["--json", "logs", "--lines", "1000"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dir"], logs.display().to_string());
    assert_eq!(v["files"][0]["program"], "certkey-cli");
    let lines = v["lines"].as_array().unwrap();
    assert!(lines
        .iter()
        .any(|l| l["text"].as_str().unwrap().contains("command=info")));
    // Only the folder.
    let out = certkey(&state, &config, &[], &["logs", "--path"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        logs.display().to_string()
    );

    // Exported for the help-desk: one private file with every file under its name.
    let to = tmp.path().join("for-helpdesk.txt");
    let out = certkey(
        &state,
        &config,
        &[],
        &["logs", "--export", to.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(one file)"), "{}", text(&out));
    let exported = std::fs::read_to_string(&to).unwrap();
    assert!(
        exported.starts_with("==> ") && files.iter().all(|name| exported.contains(name)),
        "{exported}"
    );
    assert!(exported.contains("function=C_Login"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&to).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No lines is no request.
    let out = certkey(&state, &config, &[], &["logs", "--lines", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn off_writes_nothing_certkey_log_wins_and_an_unknown_level_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let dir = tmp.path().join("elsewhere");
    let config = tmp.path().join("config.toml");
    let at = |k: &'static str| -> [(&'static str, &str); 1] { [(k, dir.to_str().unwrap())] };

    std::fs::write(&config, "log_level = \"off\"\n").unwrap();
    // (`list` exits 3 on the fixture: one of its objects is broken on purpose.)
    certkey(&state, &config, &at("CERTKEY_LOG_DIR"), &["list"]);
    assert_eq!(log_of(&dir), "", "off: nothing written");
    assert!(
        !state.join("logs").exists(),
        "CERTKEY_LOG_DIR is the folder"
    );
    let out = certkey(&state, &config, &at("CERTKEY_LOG_DIR"), &["logs"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("Nothing logged yet"),
        "{}",
        text(&out)
    );

    // CERTKEY_LOG wins over the config, and the terminal sees the lines too.
    let env = [
        ("CERTKEY_LOG_DIR", dir.to_str().unwrap()),
        ("CERTKEY_LOG", "debug"),
    ];
    let out = certkey(&state, &config, &env, &["list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certkey started"),
        "{}",
        text(&out)
    );
    assert!(log_of(&dir).contains("command=list"));

    // A level the config cannot have: the command says so (exit 5).
    std::fs::write(&config, "log_level = \"loud\"\n").unwrap();
    let out = certkey(&state, &config, &at("CERTKEY_LOG_DIR"), &["list"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("loud"), "{}", text(&out));
}
