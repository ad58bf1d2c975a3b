//! Choosing the key and the CA service, as a new user meets them: SoftHSM2 installed
//! (it always shows a blank token in a free slot), several keys inserted, no service
//! named on the command line — only a CA directory in the config. Real certkey-ca,
//! softkey and SoftHSM2.

mod flows;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use flows::*;
use serde_json::Value;

/// SoftHSM2 with an empty token folder: one blank, uninitialised token.
fn blank_softhsm() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\n", tokens.display()),
    )
    .unwrap();
    let conf = conf.to_str().unwrap().to_string();
    (dir, conf)
}

/// The RFC 4514 subjects of the CA's issuing certificates, as `certkey info` shows
/// certificate issuers.
fn issuers(ca: &Ca) -> Vec<String> {
    ["sm2", "p256"]
        .iter()
        .map(|alg| {
            let pem = ca.data.path().join(format!("certs/{alg}-issuing.pem"));
            let out = Command::new("openssl")
                .args([
                    "x509",
                    "-noout",
                    "-subject",
                    "-nameopt",
                    "RFC2253,-esc_msb",
                    "-in",
                ])
                .arg(&pem)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", text(&out));
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .trim_start_matches("subject=")
                .to_string()
        })
        .collect()
}

/// A config whose CA directory lists an unreachable CA first and then, when `local`
/// is given, the test's CA (by the issuers of its certificates).
fn config(dir: &Path, local: Option<&Ca>, default_ca: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(d) = default_ca {
        text.push_str(&format!("default_ca = \"{d}\"\n"));
    }
    // Nothing listens on port 9 of this computer: the lookup there fails.
    text.push_str(
        "[[ca]]\nname = \"elsewhere\"\nissuers = [\"CN=Another Issuing CA,O=Another CA,C=CN\"]\nservice_url = \"http://127.0.0.1:9\"\n",
    );
    if let Some(ca) = local {
        let list = issuers(ca)
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        text.push_str(&format!(
            "[[ca]]\nname = \"local\"\nissuers = [{list}]\nservice_url = \"{}\"\n",
            ca.url
        ));
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// certkey with softkey and SoftHSM2 loaded and no `--service`: the config decides.
fn certkey_dir(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certkey"))
        .args(["--lang", "en", "--no-auto-modules", "--module"])
        .arg(sibling("libcertkey_softkey.so"))
        .args(["--module", SOFTHSM])
        .args(args)
        .env_remove("CERTKEY_SERVICE_URL")
        .env_remove("CERTKEY_PIN")
        .env_remove("CERTKEY_NEW_PIN")
        .env_remove("CERTKEY_ACTIVATION_CODE")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_key_and_the_ca_are_chosen_by_what_the_operation_needs() {
    let ca = Ca::start();
    let store = tempfile::tempdir().unwrap();
    std::fs::write(
        store.path().join("softkey.toml"),
        "[[slot]]\nserial = \"SKCHOICE01\"\nprofile = \"tass\"\n\n[[slot]]\nserial = \"SKCHOICE02\"\nprofile = \"tass\"\n",
    )
    .unwrap();
    let (first, code1) = ca.produce(store.path(), "sm2");
    let (_hsm, hsm_conf) = blank_softhsm();
    let cfg_dir = tempfile::tempdir().unwrap();
    let conf = config(cfg_dir.path(), Some(&ca), None);
    let store_env = store.path().to_str().unwrap().to_string();
    let env = |extra: &[(&'static str, String)]| -> Vec<(String, String)> {
        let mut v = vec![
            ("CERTKEY_SOFTKEY_DIR".to_string(), store_env.clone()),
            ("SOFTHSM2_CONF".to_string(), hsm_conf.clone()),
            ("CERTKEY_CONFIG".to_string(), conf.clone()),
            (
                "CERTKEY_STATE_DIR".to_string(),
                cfg_dir.path().join("state").display().to_string(),
            ),
        ];
        v.extend(extra.iter().map(|(k, val)| (k.to_string(), val.clone())));
        v
    };
    let run = |args: &[&str], extra: &[(&'static str, String)]| {
        let e = env(extra);
        let refs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        certkey_dir(args, &refs)
    };

    // The blank SoftHSM2 token and the second softkey slot (initialised by nobody)
    // do not make "which key?" ambiguous; the CA is found by asking the directory
    // (the unreachable CA is passed over).
    let out = run(
        &["--json", "activate", "--yes"],
        &[
            ("CERTKEY_ACTIVATION_CODE", code1.clone()),
            ("CERTKEY_NEW_PIN", NEW_PIN.to_string()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["token_serial"], first.as_str());

    // A second key produced: activation now takes the new key, not the activated one.
    let (second, code2) = ca.produce(store.path(), "p256");
    assert_ne!(first, second);
    let out = run(
        &["--json", "activate", "--yes"],
        &[
            ("CERTKEY_ACTIVATION_CODE", code2),
            ("CERTKEY_NEW_PIN", NEW_PIN.to_string()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["token_serial"], second.as_str());

    // Two keys hold certificates now: an operation on "the" certificate asks which,
    // naming both (and never the blank SoftHSM2 token).
    let out = run(&["seal", "show"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("several keys fit") && err.contains(&first) && err.contains(&second),
        "{err}"
    );

    // Unlock needs a locked key: none is, and it says so instead of picking one.
    let out = run(&["unlock"], &[]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));

    // A key can be named by slot as well as by serial.
    let listing = run(&["--json", "list"], &[]);
    assert!(listing.status.success(), "{}", text(&listing));
    let inv: Value = serde_json::from_slice(&listing.stdout).unwrap();
    let slot = inv["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["serial"] == first.as_str())
        .map(|t| t["slot"].as_u64().unwrap())
        .unwrap();
    let out = run(
        &[
            "--json",
            "pin",
            "change",
            "--token",
            &format!("slot:{slot}"),
        ],
        &[
            ("CERTKEY_PIN", NEW_PIN.to_string()),
            ("CERTKEY_NEW_PIN", "97531864".to_string()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["token_serial"], first.as_str());

    // A key without a serial (SoftHSM2's blank token in its free slot) is named by its
    // slot too.
    let blank = inv["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["serial"] == "")
        .map(|t| t["slot"].as_u64().unwrap())
        .expect("SoftHSM2's blank token, without a serial, is listed");
    let out = run(
        &["--json", "info", "--token", &format!("slot:{blank}")],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Only keys in that slot (one per module: slot numbers are per module), the
    // serial-less one among them.
    let tokens = v["tokens"].as_array().unwrap();
    assert!(tokens.iter().all(|t| t["slot"] == blank), "{v}");
    assert!(tokens.iter().any(|t| t["serial"] == ""), "{v}");
    assert!(
        tokens.len() < inv["tokens"].as_array().unwrap().len(),
        "{v}"
    );
    // A PIN is never tried on every key sharing a slot number; a bad name is an error.
    for (args, says) in [
        (
            vec!["info", "--token", "slot:0", "--login"],
            "--login needs the key's serial number",
        ),
        (vec!["info", "--token", "slot:x"], "slot:ID needs a number"),
    ] {
        let out = run(&args, &[("CERTKEY_PIN", NEW_PIN.to_string())]);
        assert!(!out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }

    // The CA is chosen by the certificate's issuer: the seal goes to the local CA.
    let image = cfg_dir.path().join("seal.png");
    ring_png(&image);
    let out = run(
        &[
            "--json",
            "seal",
            "write",
            "--token",
            &first,
            "--image",
            image.to_str().unwrap(),
        ],
        &[("CERTKEY_PIN", "97531864".to_string())],
    );
    assert!(out.status.success(), "{}", text(&out));

    // A directory that does not know the issuer: a clear refusal, no guess.
    let conf_unknown = config(cfg_dir.path(), None, None);
    let out = certkey_dir(
        &[
            "seal",
            "write",
            "--token",
            &second,
            "--image",
            image.to_str().unwrap(),
        ],
        &[
            ("CERTKEY_SOFTKEY_DIR", store_env.as_str()),
            ("SOFTHSM2_CONF", hsm_conf.as_str()),
            ("CERTKEY_CONFIG", conf_unknown.as_str()),
            ("CERTKEY_PIN", NEW_PIN),
        ],
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no CA service is configured for certificates issued by"),
        "{}",
        text(&out)
    );
}
