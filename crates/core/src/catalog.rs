//! The vendor driver catalog: per-vendor PKCS#11 module names, manufacturer patterns,
//! SM2/SM3 constants, signature format, default PIN and PIN policy.
//!
//! The built-in catalog is `drivers/catalog/vendors.toml`, compiled in. A user file
//! is merged over it (same vendor id or family name replaces, new ones add).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const BUILTIN: &str = include_str!("../../../drivers/catalog/vendors.toml");

/// The PKCS#11 vendor-defined range starts here (CKM_VENDOR_DEFINED, CKK_VENDOR_DEFINED).
pub const VENDOR_DEFINED: u64 = 0x8000_0000;

/// The SM2/SM3 constants of one family of vendor headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sm2Family {
    /// CKK value of SM2 keys.
    pub key_type_sm2: u64,
    /// SM2 key pair generation mechanism.
    pub sm2_key_pair_gen: u64,
    /// Raw SM2 signature over a host-computed e = SM3(Z || M).
    #[serde(default)]
    pub sm2_sign_raw: Option<u64>,
    /// Raw SM2 signature returned without DER (Sansec).
    #[serde(default)]
    pub sm2_sign_raw_no_der: Option<u64>,
    /// SM3-with-SM2 signature: the token hashes.
    #[serde(default)]
    pub sm3_sm2_sign: Option<u64>,
    /// SM3-with-SM2 signature returned as DER (Sansec).
    #[serde(default)]
    pub sm3_sm2_sign_der: Option<u64>,
    /// SM3-with-SM2 signature where the token also computes Z (Sansec).
    #[serde(default)]
    pub sm3_sm2_sign_with_z: Option<u64>,
    /// SM3 digest mechanism.
    #[serde(default)]
    pub sm3_digest: Option<u64>,
}

impl Sm2Family {
    /// Every mechanism constant of the family with its CertKey name.
    pub fn mechanisms(&self) -> Vec<(&'static str, u64)> {
        let mut v = vec![("SM2_KEY_PAIR_GEN", self.sm2_key_pair_gen)];
        let opt = [
            ("SM2_SIGN_RAW", self.sm2_sign_raw),
            ("SM2_SIGN_RAW_NO_DER", self.sm2_sign_raw_no_der),
            ("SM3_SM2_SIGN", self.sm3_sm2_sign),
            ("SM3_SM2_SIGN_DER", self.sm3_sm2_sign_der),
            ("SM3_SM2_SIGN_WITH_Z", self.sm3_sm2_sign_with_z),
            ("SM3_DIGEST", self.sm3_digest),
        ];
        v.extend(opt.into_iter().filter_map(|(n, m)| m.map(|m| (n, m))));
        v
    }

    fn validate(&self, name: &str) -> std::result::Result<(), String> {
        if self.key_type_sm2 < VENDOR_DEFINED {
            return Err(format!(
                "family {name}: key_type_sm2 0x{:X} is not vendor-defined",
                self.key_type_sm2
            ));
        }
        for (m, v) in self.mechanisms() {
            if v < VENDOR_DEFINED {
                return Err(format!("family {name}: {m} 0x{v:X} is not vendor-defined"));
            }
        }
        if self.sm2_sign_raw.is_none() && self.sm3_sm2_sign.is_none() {
            return Err(format!("family {name}: needs sm2_sign_raw or sm3_sm2_sign"));
        }
        Ok(())
    }
}

/// How a module returns SM2 signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFormat {
    /// r || s, 32 bytes each.
    Raw,
    /// DER SEQUENCE { r INTEGER, s INTEGER }.
    Der,
}

/// PIN rules of a vendor's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinPolicy {
    /// Shortest PIN.
    #[serde(default = "default_min")]
    pub min_len: usize,
    /// Longest PIN.
    #[serde(default = "default_max")]
    pub max_len: usize,
    /// Wrong user PINs before the key locks, when known.
    #[serde(default)]
    pub user_retries: Option<u32>,
    /// Wrong SO PINs before the SO PIN locks, when known.
    #[serde(default)]
    pub so_retries: Option<u32>,
}

fn default_min() -> usize {
    6
}
fn default_max() -> usize {
    16
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            min_len: default_min(),
            max_len: default_max(),
            user_retries: None,
            so_retries: None,
        }
    }
}

/// Module file names per operating system.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsModules {
    /// Linux file names or absolute paths.
    #[serde(default)]
    pub linux: Vec<String>,
    /// Windows DLL names or absolute paths.
    #[serde(default)]
    pub windows: Vec<String>,
    /// macOS file names or absolute paths.
    #[serde(default)]
    pub macos: Vec<String>,
}

impl OsModules {
    /// The names for the OS this binary runs on.
    pub fn current(&self) -> &[String] {
        if cfg!(target_os = "windows") {
            &self.windows
        } else if cfg!(target_os = "macos") {
            &self.macos
        } else {
            &self.linux
        }
    }
}

/// A USB vendor and product id of a vendor's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbId {
    /// idVendor.
    pub vendor: u16,
    /// idProduct; absent: every product of the vendor id (only for ids the vendor
    /// does not share).
    #[serde(default)]
    pub product: Option<u16>,
    /// The product's name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One vendor's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorProfile {
    /// Stable identifier.
    pub id: String,
    /// English display name.
    pub name: String,
    /// Chinese display name.
    #[serde(default)]
    pub name_zh: String,
    /// Glob patterns (`*`, `?`, case-insensitive) for CK_TOKEN_INFO.manufacturerID.
    #[serde(default)]
    pub manufacturer_patterns: Vec<String>,
    /// Module file names per OS.
    #[serde(default)]
    pub modules: OsModules,
    /// The [`Sm2Family`] the vendor's modules use, if they do SM2.
    #[serde(default)]
    pub sm2_family: Option<String>,
    /// How SM2 signatures come back.
    #[serde(default)]
    pub sm2_signature: Option<SignatureFormat>,
    /// The factory user PIN, never accepted as a holder's PIN.
    #[serde(default)]
    pub default_pin: Option<String>,
    /// PIN rules.
    #[serde(default)]
    pub pin_policy: PinPolicy,
    /// The vendor's keys keep the CA chain beside the holder's certificate: the
    /// issuing and root CA certificates are written onto the key too.
    #[serde(default)]
    pub store_chain: bool,
    /// USB ids of the vendor's keys (help-desk diagnostics: a key plugged in without
    /// its module).
    #[serde(default)]
    pub usb: Vec<UsbId>,
    /// The vendor ships only an SKF (GM/T 0016) library, no PKCS#11 module.
    #[serde(default)]
    pub skf_only: bool,
    /// Where the profile's facts come from.
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    family: BTreeMap<String, Sm2Family>,
    #[serde(default)]
    vendor: Vec<VendorProfile>,
    #[serde(default)]
    ca: Vec<crate::directory::CaEntry>,
}

/// The merged catalog. Its serialised form (for the module watch helpers) is
/// validated as it is read back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "CatalogParts")]
pub struct Catalog {
    families: BTreeMap<String, Sm2Family>,
    vendors: Vec<VendorProfile>,
    cas: Vec<crate::directory::CaEntry>,
}

/// [`Catalog`]'s fields as read, before validation.
#[derive(Deserialize)]
struct CatalogParts {
    families: BTreeMap<String, Sm2Family>,
    vendors: Vec<VendorProfile>,
    cas: Vec<crate::directory::CaEntry>,
}

impl TryFrom<CatalogParts> for Catalog {
    type Error = String;

    fn try_from(p: CatalogParts) -> std::result::Result<Self, String> {
        let cat = Catalog {
            families: p.families,
            vendors: p.vendors,
            cas: p.cas,
        };
        cat.validate()?;
        Ok(cat)
    }
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Self {
        // The built-in file is checked by a unit test, so this cannot fail at run time
        // unless the binary was built from a broken tree; fall back to empty then.
        Self::parse(BUILTIN, "<builtin>").unwrap_or_else(|e| {
            tracing::error!(error = %e, "built-in catalog is invalid");
            Catalog {
                families: BTreeMap::new(),
                vendors: Vec::new(),
                cas: Vec::new(),
            }
        })
    }

    /// Parses and validates a catalog text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let bad = |reason: String| Error::ConfigInvalid {
            path: origin.to_string(),
            reason,
        };
        let file: CatalogFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let cat = Catalog {
            families: file.family,
            vendors: file.vendor,
            cas: file.ca,
        };
        cat.validate().map_err(bad)?;
        Ok(cat)
    }

    /// The built-in catalog with the user file at `path` merged over it.
    pub fn with_user_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
        let mut user = Self::parse_unchecked(&text, &path.display().to_string())?;
        for ca in &mut user.cas {
            ca.resolve_paths(path);
        }
        let mut cat = Self::builtin();
        cat.merge(user);
        cat.validate().map_err(|reason| Error::ConfigInvalid {
            path: path.display().to_string(),
            reason,
        })?;
        Ok(cat)
    }

    fn parse_unchecked(text: &str, origin: &str) -> Result<Self> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| Error::ConfigInvalid {
            path: origin.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Catalog {
            families: file.family,
            vendors: file.vendor,
            cas: file.ca,
        })
    }

    fn merge(&mut self, other: Catalog) {
        self.families.extend(other.families);
        for v in other.vendors {
            match self.vendors.iter_mut().find(|x| x.id == v.id) {
                Some(slot) => *slot = v,
                None => self.vendors.push(v),
            }
        }
        for ca in other.cas {
            match self.cas.iter_mut().find(|x| x.name == ca.name) {
                Some(slot) => *slot = ca,
                None => self.cas.push(ca),
            }
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        for (name, fam) in &self.families {
            fam.validate(name)?;
        }
        let mut names = std::collections::BTreeSet::new();
        for ca in &self.cas {
            ca.validate()?;
            if !names.insert(ca.name.as_str()) {
                return Err(format!("CA {} appears twice", ca.name));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in &self.vendors {
            let id_ok = !v.id.is_empty()
                && v.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !id_ok {
                return Err(format!("vendor id {:?} must be [a-z0-9_-]+", v.id));
            }
            if !seen.insert(v.id.as_str()) {
                return Err(format!("vendor id {} appears twice", v.id));
            }
            if let Some(f) = &v.sm2_family {
                if !self.families.contains_key(f) {
                    return Err(format!("vendor {}: unknown sm2_family {f}", v.id));
                }
                if v.sm2_signature.is_none() {
                    return Err(format!("vendor {}: sm2_family needs sm2_signature", v.id));
                }
            }
            let p = v.pin_policy;
            if p.min_len == 0 || p.min_len > p.max_len || p.max_len > 255 {
                return Err(format!(
                    "vendor {}: pin_policy lengths {}..{} are not sensible",
                    v.id, p.min_len, p.max_len
                ));
            }
        }
        Ok(())
    }

    /// The CA directory entries of the catalog.
    pub fn cas(&self) -> &[crate::directory::CaEntry] {
        &self.cas
    }

    /// Every vendor profile.
    pub fn vendors(&self) -> &[VendorProfile] {
        &self.vendors
    }

    /// A vendor by id.
    pub fn vendor(&self, id: &str) -> Option<&VendorProfile> {
        self.vendors.iter().find(|v| v.id == id)
    }

    /// An SM2 family by name.
    pub fn family(&self, name: &str) -> Option<&Sm2Family> {
        self.families.get(name)
    }

    /// The SM2 constants of a vendor, if it does SM2.
    pub fn sm2_of(&self, vendor: &VendorProfile) -> Option<&Sm2Family> {
        vendor.sm2_family.as_deref().and_then(|f| self.family(f))
    }

    /// The vendor (and the product's name) whose USB ids match a device's.
    pub fn vendor_for_usb(
        &self,
        vendor: u16,
        product: u16,
    ) -> Option<(&VendorProfile, Option<&str>)> {
        // An exact product match wins over a vendor-wide entry.
        let exact = self.vendors.iter().find_map(|v| {
            v.usb
                .iter()
                .find(|u| u.vendor == vendor && u.product == Some(product))
                .map(|u| (v, u.name.as_deref()))
        });
        exact.or_else(|| {
            self.vendors.iter().find_map(|v| {
                v.usb
                    .iter()
                    .find(|u| u.vendor == vendor && u.product.is_none())
                    .map(|u| (v, u.name.as_deref()))
            })
        })
    }

    /// The profile whose manufacturer pattern matches a token's manufacturerID.
    pub fn profile_for_manufacturer(&self, manufacturer: &str) -> Option<&VendorProfile> {
        let m = manufacturer.trim();
        self.vendors
            .iter()
            .find(|v| v.manufacturer_patterns.iter().any(|p| glob_match(p, m)))
    }

    /// Names a mechanism: the standard CKM_ name, or for a vendor-defined value the
    /// profile's family name (`SM2_SIGN_RAW`), else `CKM_VENDOR_DEFINED+0x...`.
    pub fn mechanism_name(&self, vendor: Option<&VendorProfile>, value: u64) -> String {
        if value >= VENDOR_DEFINED {
            if let Some(fam) = vendor.and_then(|v| self.sm2_of(v)) {
                if let Some((name, _)) = fam.mechanisms().into_iter().find(|(_, m)| *m == value) {
                    return format!("CKM_{name}");
                }
            }
            return format!("CKM_VENDOR_DEFINED+0x{:X}", value - VENDOR_DEFINED);
        }
        let named = cryptoki_sys::CK_MECHANISM_TYPE::try_from(value)
            .ok()
            .and_then(|v| cryptoki::mechanism::MechanismType::try_from(v).ok())
            .map(|t| t.to_string());
        match named {
            // cryptoki prints unknown values as a number; keep only real names.
            Some(n) if n.starts_with("CKM_") => n,
            _ => format!("0x{value:08X}"),
        }
    }
}

/// Case-insensitive glob match supporting `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_is_valid_and_has_softkey_and_the_families() {
        let cat = Catalog::parse(BUILTIN, "builtin").unwrap();
        for f in ["tass", "sansec", "luna", "ibm", "westone"] {
            assert!(cat.family(f).is_some(), "family {f}");
        }
        let sk = cat.vendor("softkey").unwrap();
        assert_eq!(cat.sm2_of(sk).unwrap().key_type_sm2, 0x8000_0004);
        assert_eq!(sk.sm2_signature, Some(SignatureFormat::Raw));
        assert!(sk
            .modules
            .linux
            .contains(&"libcertkey_softkey.so".to_string()));
    }

    #[test]
    fn manufacturer_patterns_pick_the_profile() {
        let cat = Catalog::builtin();
        assert_eq!(
            cat.profile_for_manufacturer("SoftHSM project").unwrap().id,
            "softhsm2"
        );
        assert_eq!(
            cat.profile_for_manufacturer("Beijing TASS Ltd").unwrap().id,
            "tass"
        );
        assert_eq!(
            cat.profile_for_manufacturer("江南天安科技").unwrap().id,
            "tass"
        );
        assert!(cat.profile_for_manufacturer("Nobody").is_none());
    }

    #[test]
    fn vendor_mechanisms_are_named_through_the_profile() {
        let cat = Catalog::builtin();
        let luna = cat.vendor("luna");
        assert_eq!(cat.mechanism_name(luna, 0x8000_0B21), "CKM_SM2_SIGN_RAW");
        assert_eq!(
            cat.mechanism_name(None, 0x8000_0B21),
            "CKM_VENDOR_DEFINED+0xB21"
        );
        assert_eq!(cat.mechanism_name(None, 0x1041), "CKM_ECDSA");
    }

    #[test]
    fn user_file_overrides_and_adds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.toml");
        std::fs::write(
            &path,
            r#"
[[vendor]]
id = "softkey"
name = "My softkey"
sm2_family = "luna"
sm2_signature = "der"

[[vendor]]
id = "acme"
name = "ACME keys"
manufacturer_patterns = ["ACME*"]
"#,
        )
        .unwrap();
        let cat = Catalog::with_user_file(&path).unwrap();
        assert_eq!(cat.vendor("softkey").unwrap().name, "My softkey");
        assert_eq!(
            cat.profile_for_manufacturer("acme corp").unwrap().id,
            "acme"
        );
    }

    #[test]
    fn bad_user_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.toml");
        std::fs::write(&path, "[[vendor]]\nid = \"x\"\nname = \"X\"\nsm2_family = \"nope\"\nsm2_signature = \"raw\"\n").unwrap();
        let err = Catalog::with_user_file(&path).unwrap_err();
        assert_eq!(err.code(), "config_invalid");
        assert!(err.to_string().contains("unknown sm2_family nope"), "{err}");

        std::fs::write(&path, "[family.x]\nkey_type_sm2 = 4\nsm2_key_pair_gen = 0x80000001\nsm2_sign_raw = 0x80000002\n").unwrap();
        assert!(Catalog::with_user_file(&path)
            .unwrap_err()
            .to_string()
            .contains("not vendor-defined"));

        std::fs::write(&path, "not toml [").unwrap();
        assert_eq!(
            Catalog::with_user_file(&path).unwrap_err().code(),
            "config_invalid"
        );
    }

    #[test]
    fn glob_matching() {
        assert!(glob_match("*TASS*", "beijing tass"));
        assert!(glob_match("Soft?SM*", "SoftHSM project"));
        assert!(!glob_match("SoftHSM", "SoftHSM project"));
        assert!(glob_match("*", ""));
    }
}
