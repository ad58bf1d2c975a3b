//! The mechanism list of a slot, named through the catalog for vendor values.

use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;
use serde::Serialize;

use crate::catalog::{Catalog, VendorProfile};
use crate::Result;

use super::ckr;

/// One mechanism a token supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    pub flags: Vec<&'static str>,
}

/// Lists a slot's mechanisms with their info. A mechanism whose info fails is still
/// listed, without sizes and flags.
pub fn list(
    ctx: &Pkcs11,
    slot: Slot,
    catalog: &Catalog,
    vendor: Option<&VendorProfile>,
) -> Result<Vec<Mechanism>> {
    let types = ctx
        .get_mechanism_list(slot)
        .map_err(|e| ckr::convert(e, "C_GetMechanismList"))?;
    let mut out = Vec::with_capacity(types.len());
    for t in types {
        let value = super::ulong(*t);
        let info = ctx.get_mechanism_info(slot, t).ok();
        let flags = info
            .as_ref()
            .map(|i| {
                [
                    ("hw", i.hardware()),
                    ("encrypt", i.encrypt()),
                    ("decrypt", i.decrypt()),
                    ("digest", i.digest()),
                    ("sign", i.sign()),
                    ("sign_recover", i.sign_recover()),
                    ("verify", i.verify()),
                    ("verify_recover", i.verify_recover()),
                    ("generate", i.generate()),
                    ("generate_key_pair", i.generate_key_pair()),
                    ("wrap", i.wrap()),
                    ("unwrap", i.unwrap()),
                    ("derive", i.derive()),
                    ("ec_oid", i.ec_from_oid()),
                    ("ec_uncompressed", i.ec_uncompressed()),
                ]
                .into_iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| n)
                .collect()
            })
            .unwrap_or_default();
        out.push(Mechanism {
            value: format!("0x{value:08X}"),
            name: catalog.mechanism_name(vendor, value),
            min_key_size: info.as_ref().map(|i| i.min_key_size() as u64),
            max_key_size: info.as_ref().map(|i| i.max_key_size() as u64),
            flags,
        });
    }
    Ok(out)
}
