//! Choosing the key a workflow works on, and opening it.

use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::{Slot, TokenInfo};

use crate::catalog::{Catalog, VendorProfile};
use crate::inventory::Modules;
use crate::pkcs11::ckr;
use crate::pkcs11::keys::Sm2Support;
use crate::pkcs11::token::PinState;
use crate::{Error, Result};

/// One key (token) in one slot of one module, with its vendor profile.
#[derive(Clone)]
pub struct Token {
    /// Module path.
    pub module: String,
    /// The module's context.
    pub ctx: Pkcs11,
    /// The slot the key is in now.
    pub slot: Slot,
    /// The key's serial number.
    pub serial: String,
    /// The key's label.
    pub label: String,
    /// The catalog profile matching the key's manufacturer, if any.
    pub vendor: Option<VendorProfile>,
    /// How the key does SM2, when its profile says it can.
    pub sm2: Option<Sm2Support>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("module", &self.module)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// The PIN flags of a token info.
pub fn pin_state(info: &TokenInfo) -> PinState {
    PinState {
        min_len: info.min_pin_length(),
        max_len: info.max_pin_length(),
        initialized: info.user_pin_initialized(),
        count_low: info.user_pin_count_low(),
        final_try: info.user_pin_final_try(),
        locked: info.user_pin_locked(),
        to_be_changed: info.user_pin_to_be_changed(),
    }
}

/// Finds the key with `serial`, or the only key present when `serial` is None.
pub fn select(modules: &Modules, catalog: &Catalog, serial: Option<&str>) -> Result<Token> {
    let mut found = Vec::new();
    for m in &modules.loaded {
        let Ok(slots) = m.ctx.get_slots_with_token() else {
            continue;
        };
        for slot in slots {
            let Ok(info) = m.ctx.get_token_info(slot) else {
                continue;
            };
            let s = info.serial_number().trim().to_string();
            if serial.is_none_or(|want| want.trim() == s) {
                found.push((m, slot, info, s));
            }
        }
    }
    if found.len() > 1 {
        let mut serials: Vec<String> = found.iter().map(|f| f.3.clone()).collect();
        serials.dedup();
        return Err(match serial {
            Some(s) => Error::TokenAmbiguous {
                serial: s.to_string(),
                modules: found.iter().map(|f| f.0.spec.path.clone()).collect(),
            },
            None => Error::InvalidArgument {
                name: "token".into(),
                reason: format!(
                    "several keys are present ({}): name one",
                    serials.join(", ")
                ),
            },
        });
    }
    let Some((m, slot, info, s)) = found.pop() else {
        return Err(match serial {
            Some(s) => Error::TokenNotFound {
                serial: s.to_string(),
            },
            None => Error::NotApplicable {
                reason: "no_token".into(),
                days_left: None,
            },
        });
    };
    let vendor = catalog
        .profile_for_manufacturer(info.manufacturer_id().trim())
        .cloned();
    let sm2 = vendor
        .as_ref()
        .and_then(|v| Sm2Support::from_profile(catalog, v));
    Ok(Token {
        module: m.spec.path.clone(),
        ctx: m.ctx.clone(),
        slot,
        serial: s,
        label: info.label().trim().to_string(),
        vendor,
        sm2,
    })
}

impl Token {
    /// Fresh token information.
    pub fn info(&self) -> Result<TokenInfo> {
        self.ctx
            .get_token_info(self.slot)
            .map_err(|e| ckr::convert(e, "C_GetTokenInfo"))
    }

    /// A read-write session.
    pub fn session(&self) -> Result<Session> {
        self.ctx
            .open_rw_session(self.slot)
            .map_err(|e| ckr::convert(e, "C_OpenSession"))
    }

    /// The factory PIN of the key's profile, refused as a holder's PIN.
    pub fn default_pin(&self) -> Option<&str> {
        self.vendor.as_ref().and_then(|v| v.default_pin.as_deref())
    }
}
