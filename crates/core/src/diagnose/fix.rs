//! Fixes the engine can apply safely: each only on the user's word (the front end
//! asks first, showing [`Fix`]'s explanation from the catalog), each reversible, and
//! each saying how to undo it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::{Error, Result};

/// A fix offered with a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// Start the smart-card service (systemd's `pcscd.socket`; administrator).
    StartPcscd,
    /// Write the catalog's udev rule giving the logged-in user access to a vendor's
    /// USB keys (administrator).
    UdevRule {
        /// Catalog vendor id.
        vendor: String,
    },
    /// Register a module found on disk with p11-kit for this user, so that other
    /// programs (browsers, office suites) see its keys too.
    RegisterModule {
        /// Catalog vendor id.
        vendor: String,
        /// The module file.
        path: String,
    },
}

/// What applying a fix did, and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Applied {
    /// The file written, if any.
    pub file: Option<String>,
    /// The command that undoes it.
    pub undo: String,
}

/// Where fixes write (real system folders unless a test says otherwise).
#[derive(Debug, Clone)]
pub struct Places {
    /// udev's rules folder.
    pub udev_rules: PathBuf,
    /// p11-kit's per-user module folder.
    pub p11kit_user: Option<PathBuf>,
}

impl Default for Places {
    fn default() -> Self {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        Places {
            udev_rules: PathBuf::from("/etc/udev/rules.d"),
            p11kit_user: config.map(|c| c.join("pkcs11").join("modules")),
        }
    }
}

/// The file name of a vendor's rule or module file (vendor ids are `[a-z0-9_-]`).
fn file_for(vendor: &str, ext: &str) -> Result<String> {
    let ok = !vendor.is_empty()
        && vendor
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(Error::InvalidArgument {
            name: "vendor".into(),
            reason: format!("{vendor:?} is not a catalog vendor id"),
        });
    }
    Ok(format!("70-certkey-{vendor}.{ext}"))
}

/// The udev rule text for a vendor's USB ids: the logged-in user (`uaccess`) may
/// use the device.
pub fn udev_rule(catalog: &Catalog, vendor: &str) -> Result<String> {
    let v = catalog
        .vendor(vendor)
        .ok_or_else(|| Error::InvalidArgument {
            name: "vendor".into(),
            reason: format!("{vendor:?} is not in the catalog"),
        })?;
    if v.usb.is_empty() {
        return Err(Error::NotApplicable {
            reason: "no_usb_ids".into(),
            days_left: None,
        });
    }
    // The name comes from a catalog a user may edit: no control character may end
    // the comment line (a rule file is read as root).
    let name: String = v.name.chars().filter(|c| !c.is_control()).collect();
    let mut text = format!(
        "# Written by CertKey (certkey diagnose): {name} USB keys for the logged-in user.\n# Remove this file to undo.\n"
    );
    for id in &v.usb {
        match id.product {
            Some(p) => text.push_str(&format!(
                "SUBSYSTEM==\"usb\", ATTR{{idVendor}}==\"{:04x}\", ATTR{{idProduct}}==\"{p:04x}\", TAG+=\"uaccess\"\n",
                id.vendor
            )),
            None => text.push_str(&format!(
                "SUBSYSTEM==\"usb\", ATTR{{idVendor}}==\"{:04x}\", TAG+=\"uaccess\"\n",
                id.vendor
            )),
        }
    }
    Ok(text)
}

/// The p11-kit module file text registering `path`.
pub fn module_file(path: &str) -> Result<String> {
    if !Path::new(path).is_absolute() || path.chars().any(char::is_control) {
        return Err(Error::InvalidArgument {
            name: "module".into(),
            reason: format!("{path:?} is not an absolute path"),
        });
    }
    Ok(format!(
        "# Written by CertKey (certkey diagnose). Remove this file to undo.\nmodule: {path}\n"
    ))
}

fn run(cmd: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| Error::InvalidArgument {
            name: cmd.into(),
            reason: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::InvalidArgument {
            name: cmd.into(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// `rm 'FILE'`, quoted for a shell.
fn rm_command(file: &Path) -> String {
    format!("rm '{}'", file.display().to_string().replace('\'', "'\\''"))
}

/// Applies `fix`. Call only after the user agreed to it.
pub fn apply(fix: &Fix, catalog: &Catalog, places: &Places) -> Result<Applied> {
    match fix {
        Fix::StartPcscd => {
            run("systemctl", &["start", "pcscd.socket"])?;
            Ok(Applied {
                file: None,
                undo: "systemctl stop pcscd.socket".into(),
            })
        }
        Fix::UdevRule { vendor } => {
            let text = udev_rule(catalog, vendor)?;
            let file = places.udev_rules.join(file_for(vendor, "rules")?);
            std::fs::write(&file, text).map_err(|e| Error::io(&file, &e))?;
            // Make it take effect for keys plugged in now; a failure here leaves the
            // rule for the next start, which is still the fix.
            if places.udev_rules == Path::new("/etc/udev/rules.d") {
                let _ = run("udevadm", &["control", "--reload"]);
                let _ = run("udevadm", &["trigger", "--subsystem-match=usb"]);
            }
            Ok(Applied {
                undo: rm_command(&file),
                file: Some(file.display().to_string()),
            })
        }
        Fix::RegisterModule { vendor, path } => {
            let text = module_file(path)?;
            let dir = places
                .p11kit_user
                .as_ref()
                .ok_or_else(|| Error::InvalidArgument {
                    name: "HOME".into(),
                    reason: "no home folder for the user's p11-kit modules".into(),
                })?;
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, &e))?;
            let file = dir.join(file_for(vendor, "module")?);
            std::fs::write(&file, text).map_err(|e| Error::io(&file, &e))?;
            Ok(Applied {
                undo: rm_command(&file),
                file: Some(file.display().to_string()),
            })
        }
    }
}

/// Whether p11-kit knows the module file `path` (a `.module` file in its system or
/// user folders names it, by path or by file name).
pub fn registered_with_p11kit(path: &str, places: &Places) -> bool {
    let mut dirs = vec![
        PathBuf::from("/usr/share/p11-kit/modules"),
        PathBuf::from("/etc/pkcs11/modules"),
    ];
    dirs.extend(places.p11kit_user.clone());
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    dirs.iter().any(|d| {
        std::fs::read_dir(d)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "module"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .any(|text| {
                        text.lines().any(|l| {
                            l.trim()
                                .strip_prefix("module:")
                                .map(str::trim)
                                .is_some_and(|m| m == path || Some(m.to_string()) == name)
                        })
                    })
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::parse(
            r#"
[[vendor]]
id = "acme"
name = "Acme keys"
usb = [{ vendor = 0x096E, product = 0x0813, name = "Acme K1" }, { vendor = 0x1234 }]
"#,
            "test",
        )
        .expect("catalog")
    }

    #[test]
    fn the_udev_rule_names_each_usb_id_and_is_undone_by_removing_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let places = Places {
            udev_rules: dir.path().to_path_buf(),
            p11kit_user: Some(dir.path().join("p11")),
        };
        let done = apply(
            &Fix::UdevRule {
                vendor: "acme".into(),
            },
            &catalog(),
            &places,
        )
        .expect("applied");
        let file = done.file.expect("file");
        let text = std::fs::read_to_string(&file).expect("rule");
        assert!(
            text.contains("ATTR{idVendor}==\"096e\", ATTR{idProduct}==\"0813\", TAG+=\"uaccess\""),
            "{text}"
        );
        assert!(
            text.contains("ATTR{idVendor}==\"1234\", TAG+=\"uaccess\""),
            "{text}"
        );
        assert_eq!(done.undo, format!("rm '{file}'"));
        let bad = apply(
            &Fix::UdevRule {
                vendor: "../x".into(),
            },
            &catalog(),
            &places,
        );
        assert!(bad.is_err());
    }

    #[test]
    fn a_registered_module_is_seen_by_p11kit_lookups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let places = Places {
            udev_rules: dir.path().to_path_buf(),
            p11kit_user: Some(dir.path().join("p11")),
        };
        let module = "/opt/acme/libacme_p11.so";
        assert!(!registered_with_p11kit(module, &places));
        apply(
            &Fix::RegisterModule {
                vendor: "acme".into(),
                path: module.into(),
            },
            &catalog(),
            &places,
        )
        .expect("applied");
        assert!(registered_with_p11kit(module, &places));
        assert!(module_file("relative.so").is_err());
        assert!(module_file("/a\nmodule: /evil.so").is_err());
        assert!(module_file("/a\rb.so").is_err());
    }
}
