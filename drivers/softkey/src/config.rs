//! `softkey.toml`: the slots of a store and how each token behaves.

use std::path::Path;

use serde::Deserialize;

/// Which vendor family the token emulates: its SM2 constants and signature format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// TASS constants (CKK_SM2 0x80000004, ...), raw r||s SM2 signatures.
    Tass,
    /// SafeNet Luna constants (CKK_SM2 0x80000016, ...), DER SM2 signatures.
    Luna,
}

/// SM2 constants of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sm2Constants {
    /// CKK value of SM2 keys.
    pub key_type: u64,
    /// Key pair generation.
    pub keygen: u64,
    /// Raw SM2 signing of a host-computed e.
    pub sign_raw: u64,
    /// SM3-with-SM2 signing (the token computes Z and e).
    pub sign_sm3: u64,
    /// SM3 digest.
    pub digest_sm3: u64,
    /// Signatures are DER SEQUENCE{r, s} rather than raw r||s.
    pub der_signatures: bool,
}

impl Profile {
    /// The profile's SM2 constants (see drivers/catalog/vendors.toml).
    pub fn sm2(self) -> Sm2Constants {
        match self {
            Profile::Tass => Sm2Constants {
                key_type: 0x8000_0004,
                keygen: 0x8000_8001,
                sign_raw: 0x8000_8000,
                sign_sm3: 0x8000_8100,
                digest_sm3: 0x8000_0005,
                der_signatures: false,
            },
            Profile::Luna => Sm2Constants {
                key_type: 0x8000_0016,
                keygen: 0x8000_0B20,
                sign_raw: 0x8000_0B21,
                sign_sm3: 0x8000_0B22,
                digest_sm3: 0x8000_0B01,
                der_signatures: true,
            },
        }
    }
}

fn default_label() -> String {
    String::new()
}
fn default_manufacturer() -> String {
    "CertKey softkey".into()
}
fn default_model() -> String {
    "softkey v1".into()
}
fn default_profile() -> Profile {
    Profile::Tass
}
fn default_memory() -> u64 {
    128 * 1024
}
fn default_user_retries() -> u32 {
    6
}
fn default_so_retries() -> u32 {
    10
}
fn default_min_pin() -> u64 {
    6
}
fn default_max_pin() -> u64 {
    16
}

/// One slot and the token in it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    /// Label a blank token reports before C_InitToken (after it, the label given there).
    #[serde(default = "default_label")]
    pub label: String,
    /// Token serial number (up to 16 characters). Unique in the store.
    pub serial: String,
    /// manufacturerID (up to 32 characters).
    #[serde(default = "default_manufacturer")]
    pub manufacturer: String,
    /// model (up to 16 characters).
    #[serde(default = "default_model")]
    pub model: String,
    /// Emulated vendor family.
    #[serde(default = "default_profile")]
    pub profile: Profile,
    /// Token memory in bytes.
    #[serde(default = "default_memory")]
    pub memory: u64,
    /// Wrong user PINs before the user PIN locks.
    #[serde(default = "default_user_retries")]
    pub user_retries: u32,
    /// Wrong SO PINs before the SO PIN locks.
    #[serde(default = "default_so_retries")]
    pub so_retries: u32,
    /// ulMinPinLen.
    #[serde(default = "default_min_pin")]
    pub min_pin_len: u64,
    /// ulMaxPinLen.
    #[serde(default = "default_max_pin")]
    pub max_pin_len: u64,
    /// A user PIN set by C_InitPIN must be changed by the holder (like CA-produced keys).
    #[serde(default)]
    pub init_pin_to_be_changed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    slot: Vec<SlotConfig>,
}

/// The file describing a store's slots.
pub const FILE: &str = "softkey.toml";

/// Reads `softkey.toml`; a missing file gives one default slot.
pub fn load(dir: &Path) -> Result<Vec<SlotConfig>, String> {
    load_store(dir, true)
}

/// The slots of the store in `dir`. Without `softkey.toml`, a store named explicitly
/// (`CERTKEY_SOFTKEY_DIR`, `--dir`) has one blank slot, and the default store has
/// none: the trial key of an installed CertKey shows only once trial mode is on
/// (`certkey-softkey trial on` writes the file).
pub fn load_store(dir: &Path, explicit: bool) -> Result<Vec<SlotConfig>, String> {
    let path = dir.join(FILE);
    let slots = match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str::<ConfigFile>(&text)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .slot
        }
        // Trial mode off: no slot at all (not a config to validate).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![default_slot(dir)],
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    validate(&slots)?;
    Ok(slots)
}

/// The trial key's `softkey.toml`: one slot, named after the store like the blank
/// slot, labelled as a trial.
pub fn trial_file(dir: &Path) -> String {
    let slot = default_slot(dir);
    format!(
        "# CertKey trial mode: one virtual key (`certkey-softkey trial off` removes this file;\n\
         # the key's data stays in this folder and comes back with `trial on`).\n\
         [[slot]]\nserial = \"{}\"\nlabel = \"试用 Key / trial key\"\nprofile = \"tass\"\n",
        slot.serial
    )
}

fn default_slot(dir: &Path) -> SlotConfig {
    // A stable serial per store, so that a token keeps its identity across runs.
    let digest = crate::crypto::sha256(dir.display().to_string().as_bytes());
    SlotConfig {
        label: default_label(),
        serial: format!("SK{}", &hex::encode_upper(&digest[..7])),
        manufacturer: default_manufacturer(),
        model: default_model(),
        profile: default_profile(),
        memory: default_memory(),
        user_retries: default_user_retries(),
        so_retries: default_so_retries(),
        min_pin_len: default_min_pin(),
        max_pin_len: default_max_pin(),
        init_pin_to_be_changed: false,
    }
}

fn validate(slots: &[SlotConfig]) -> Result<(), String> {
    if slots.is_empty() {
        return Err("softkey.toml: at least one [[slot]] is needed".into());
    }
    for (i, s) in slots.iter().enumerate() {
        let fits = |v: &str, n: usize| v.len() <= n;
        let serial_ok = !s.serial.is_empty()
            && fits(&s.serial, 16)
            && s.serial
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !serial_ok {
            return Err(format!("slot {i}: serial must be 1-16 of [A-Za-z0-9_-]"));
        }
        if !fits(&s.label, 32) || !fits(&s.manufacturer, 32) || !fits(&s.model, 16) {
            return Err(format!(
                "slot {i}: label/manufacturer up to 32 bytes, model up to 16"
            ));
        }
        if s.user_retries == 0 || s.so_retries == 0 || s.user_retries > 255 || s.so_retries > 255 {
            return Err(format!("slot {i}: retries must be 1-255"));
        }
        if s.min_pin_len == 0 || s.min_pin_len > s.max_pin_len || s.max_pin_len > 255 {
            return Err(format!(
                "slot {i}: PIN lengths must satisfy 1 <= min <= max <= 255"
            ));
        }
        if s.memory < 4096 {
            return Err(format!("slot {i}: memory must be at least 4096 bytes"));
        }
        if slots[..i].iter().any(|o| o.serial == s.serial) {
            return Err(format!("slot {i}: serial {} appears twice", s.serial));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_means_one_blank_slot_with_a_stable_serial() {
        let dir = tempfile::tempdir().unwrap();
        let a = load(dir.path()).unwrap();
        let b = load(dir.path()).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a, b);
        assert!(a[0].serial.starts_with("SK"));
        assert_eq!(a[0].user_retries, 6);
        assert_eq!(a[0].so_retries, 10);
    }

    #[test]
    fn the_default_store_has_no_slot_until_trial_mode_is_on() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_store(dir.path(), false).unwrap().is_empty());
        std::fs::write(dir.path().join(FILE), trial_file(dir.path())).unwrap();
        let trial = load_store(dir.path(), false).unwrap();
        assert_eq!(trial.len(), 1);
        assert_eq!(trial, load(dir.path()).unwrap());
        assert_eq!(trial[0].serial, default_slot(dir.path()).serial);
        assert!(trial[0].label.contains("trial"));
    }

    #[test]
    fn slots_are_read_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("softkey.toml"),
            "[[slot]]\nserial = \"A1\"\nprofile = \"luna\"\nuser_retries = 3\n[[slot]]\nserial = \"A2\"\n",
        )
        .unwrap();
        let s = load(dir.path()).unwrap();
        assert_eq!(s[0].profile, Profile::Luna);
        assert_eq!(s[0].user_retries, 3);
        assert_eq!(s[1].profile, Profile::Tass);

        std::fs::write(
            dir.path().join("softkey.toml"),
            "[[slot]]\nserial = \"A1\"\n[[slot]]\nserial = \"A1\"\n",
        )
        .unwrap();
        assert!(load(dir.path()).unwrap_err().contains("twice"));
        std::fs::write(
            dir.path().join("softkey.toml"),
            "[[slot]]\nserial = \"bad serial!\"\n",
        )
        .unwrap();
        assert!(load(dir.path()).is_err());
        std::fs::write(
            dir.path().join("softkey.toml"),
            "[[slot]]\nserial = \"A\"\nretries = 3\n",
        )
        .unwrap();
        assert!(load(dir.path()).is_err());
    }
}
