//! The mechanism list of a slot, named through the catalog for vendor values.

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, VendorProfile};
use crate::Result;

use super::raw::RawModule;

/// One mechanism a token supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Mechanism {
    /// CK_MECHANISM_TYPE as `0x...`.
    pub value: String,
    /// CKM_ name; vendor values are named through the vendor profile.
    pub name: String,
    /// ulMinKeySize, when the module answered C_GetMechanismInfo.
    pub min_key_size: Option<u64>,
    /// ulMaxKeySize.
    pub max_key_size: Option<u64>,
    /// CKF_ flags of the mechanism, lowercase without prefix (`sign`, `verify`...).
    pub flags: Vec<String>,
}

/// Names of the CKF_ bits of CK_MECHANISM_INFO.flags, lowercase without prefix.
const FLAG_NAMES: [(&str, cryptoki_sys::CK_FLAGS); 20] = [
    ("hw", cryptoki_sys::CKF_HW),
    ("encrypt", cryptoki_sys::CKF_ENCRYPT),
    ("decrypt", cryptoki_sys::CKF_DECRYPT),
    ("digest", cryptoki_sys::CKF_DIGEST),
    ("sign", cryptoki_sys::CKF_SIGN),
    ("sign_recover", cryptoki_sys::CKF_SIGN_RECOVER),
    ("verify", cryptoki_sys::CKF_VERIFY),
    ("verify_recover", cryptoki_sys::CKF_VERIFY_RECOVER),
    ("generate", cryptoki_sys::CKF_GENERATE),
    ("generate_key_pair", cryptoki_sys::CKF_GENERATE_KEY_PAIR),
    ("wrap", cryptoki_sys::CKF_WRAP),
    ("unwrap", cryptoki_sys::CKF_UNWRAP),
    ("derive", cryptoki_sys::CKF_DERIVE),
    ("ec_f_p", cryptoki_sys::CKF_EC_F_P),
    ("ec_f_2m", cryptoki_sys::CKF_EC_F_2M),
    ("ec_ecparameters", cryptoki_sys::CKF_EC_ECPARAMETERS),
    ("ec_oid", cryptoki_sys::CKF_EC_OID),
    ("ec_uncompress", cryptoki_sys::CKF_EC_UNCOMPRESS),
    ("ec_compress", cryptoki_sys::CKF_EC_COMPRESS),
    ("extension", cryptoki_sys::CKF_EXTENSION),
];

/// Lists a slot's mechanisms with their info, vendor-defined ones included. A
/// mechanism whose info fails is still listed, without sizes and flags.
pub fn list(
    raw: &RawModule,
    slot: cryptoki_sys::CK_SLOT_ID,
    catalog: &Catalog,
    vendor: Option<&VendorProfile>,
) -> Result<Vec<Mechanism>> {
    let types = raw.mechanism_list(slot)?;
    Ok(types
        .into_iter()
        .map(|t| {
            let value = super::ulong(t);
            let info = raw.mechanism_info(slot, t).ok();
            Mechanism {
                value: format!("0x{value:08X}"),
                name: catalog.mechanism_name(vendor, value),
                min_key_size: info.as_ref().map(|i| super::ulong(i.ulMinKeySize)),
                max_key_size: info.as_ref().map(|i| super::ulong(i.ulMaxKeySize)),
                flags: info
                    .map(|i| {
                        FLAG_NAMES
                            .iter()
                            .filter(|(_, bit)| i.flags & bit != 0)
                            .map(|(n, _)| n.to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect())
}
