//! Choosing the key a workflow works on, and opening it.

use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::{Slot, TokenInfo};

use crate::catalog::{Catalog, VendorProfile};
use crate::inventory::Modules;
use crate::pkcs11::ckr;
use crate::pkcs11::keys::Sm2Support;
use crate::pkcs11::module::LoadedModule;
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

/// What an operation needs of the key it works on; it decides which key is meant
/// when none is named.
#[derive(Clone, Copy)]
pub enum Need<'a> {
    /// Activation: an initialised key with a user PIN that is not locked. When several
    /// fit, `has_order` (a lookup with the CA service) keeps those with a pending order.
    Activation {
        /// Whether the CA has a pending order for a token serial.
        has_order: Option<&'a dyn Fn(&str) -> bool>,
    },
    /// PIN change, renewal, seal: a key holding a holder's end-entity certificate.
    HolderCertificate,
    /// Unlock: a key whose user PIN is locked.
    LockedPin,
}

/// How a key is named: by serial, or — for keys without a usable serial — by
/// `slot:ID` or `label:TEXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The token serial.
    Serial(String),
    /// The slot id (current insertion only).
    Slot(u64),
    /// The token label.
    Label(String),
}

impl Selector {
    /// Parses `SERIAL`, `slot:ID` or `label:TEXT`.
    pub fn parse(s: &str) -> Result<Selector> {
        let s = s.trim();
        if let Some(id) = s.strip_prefix("slot:") {
            return id
                .trim()
                .parse()
                .map(Selector::Slot)
                .map_err(|_| Error::InvalidArgument {
                    name: "token".into(),
                    reason: format!("{s}: slot:ID needs a number"),
                });
        }
        if let Some(label) = s.strip_prefix("label:") {
            return Ok(Selector::Label(label.trim().to_string()));
        }
        Ok(Selector::Serial(s.to_string()))
    }

    /// Whether the key in `slot` with this serial and label is the one named.
    pub fn matches(&self, slot: u64, serial: &str, label: &str) -> bool {
        match self {
            Selector::Serial(want) => want == serial,
            Selector::Slot(id) => *id == slot,
            Selector::Label(want) => want == label,
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Serial(s) => f.write_str(s),
            Selector::Slot(id) => write!(f, "slot:{id}"),
            Selector::Label(l) => write!(f, "label:{l}"),
        }
    }
}

/// A key present now, before choosing.
struct Candidate<'m> {
    module: &'m LoadedModule,
    slot: Slot,
    info: TokenInfo,
    serial: String,
    label: String,
}

impl Candidate<'_> {
    /// How the user can name this key: its serial, else its slot.
    fn name(&self) -> String {
        let file = std::path::Path::new(&self.module.spec.path)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = if self.serial.is_empty() {
            format!("slot:{}", self.slot.id())
        } else {
            self.serial.clone()
        };
        if self.label.is_empty() {
            format!("{id} ({file})")
        } else {
            format!("{id} (\u{201c}{}\u{201d}, {file})", self.label)
        }
    }

    /// Whether the key holds an end-entity certificate of the holder (public objects:
    /// no login needed).
    fn holds_certificate(&self) -> bool {
        let Ok(session) = self.module.ctx.open_ro_session(self.slot) else {
            return false;
        };
        super::certs::end_entity_certificates(&session, time::OffsetDateTime::now_utc())
            .is_ok_and(|c| !c.is_empty())
    }
}

/// Every key present on the given modules. A module or slot that fails is skipped
/// here (listing commands report it in its own place).
fn candidates<'m>(modules: &[&'m LoadedModule]) -> Vec<Candidate<'m>> {
    let mut found = Vec::new();
    for m in modules.iter().copied() {
        let Ok(slots) = m.ctx.get_slots_with_token() else {
            continue;
        };
        for slot in slots {
            let Ok(info) = m.ctx.get_token_info(slot) else {
                continue;
            };
            found.push(Candidate {
                module: m,
                slot,
                serial: info.serial_number().trim().to_string(),
                label: info.label().trim().to_string(),
                info,
            });
        }
    }
    found
}

/// Finds the key an operation applies to: the one `selector` names, else the one key
/// present that fits `need`. Blank (uninitialised) tokens — SoftHSM2 always shows one
/// in a free slot — never make the choice ambiguous; when no key fits but exactly one
/// initialised key is present, that key is taken so that the operation can say why it
/// does not apply.
pub fn select(
    modules: &Modules,
    catalog: &Catalog,
    selector: Option<&Selector>,
    need: Need<'_>,
) -> Result<Token> {
    let all: Vec<&LoadedModule> = modules.loaded.iter().collect();
    select_among(&all, catalog, selector, need)
}

/// [`select`], looking only at `modules` (the app names the module where it saw the
/// key, so that other modules are not called).
pub fn select_among(
    modules: &[&LoadedModule],
    catalog: &Catalog,
    selector: Option<&Selector>,
    need: Need<'_>,
) -> Result<Token> {
    let all = candidates(modules);
    let chosen = match selector {
        Some(sel) => {
            let mut named: Vec<Candidate<'_>> = all
                .into_iter()
                .filter(|c| sel.matches(c.slot.id(), &c.serial, &c.label))
                .collect();
            // A blank token sharing the slot number or empty label is not meant.
            if named.len() > 1 && named.iter().any(|c| c.info.token_initialized()) {
                named.retain(|c| c.info.token_initialized());
            }
            if named.len() > 1 {
                return Err(match sel {
                    Selector::Serial(s) => Error::TokenAmbiguous {
                        serial: s.clone(),
                        modules: named.iter().map(|c| c.module.spec.path.clone()).collect(),
                    },
                    _ => Error::SeveralTokens {
                        keys: named.iter().map(Candidate::name).collect(),
                    },
                });
            }
            named.pop().ok_or_else(|| Error::TokenNotFound {
                serial: sel.to_string(),
            })?
        }
        None => choose(all, need)?,
    };
    Ok(open(catalog, chosen))
}

fn choose<'m>(all: Vec<Candidate<'m>>, need: Need<'_>) -> Result<Candidate<'m>> {
    let mut initialised: Vec<Candidate<'m>> = all
        .into_iter()
        .filter(|c| c.info.token_initialized())
        .collect();
    if initialised.is_empty() {
        return Err(not_applicable("no_token"));
    }
    let fits = |c: &Candidate<'_>| match need {
        Need::Activation { .. } => c.info.user_pin_initialized() && !c.info.user_pin_locked(),
        Need::HolderCertificate => c.holds_certificate(),
        Need::LockedPin => c.info.user_pin_locked(),
    };
    let (mut fitting, rest): (Vec<_>, Vec<_>) = initialised.drain(..).partition(|c| fits(c));
    if let Need::Activation { has_order } = need {
        // A new key holds no certificate yet: prefer those, then ask the CA.
        if fitting.len() > 1 {
            let (fresh, used): (Vec<_>, Vec<_>) =
                fitting.into_iter().partition(|c| !c.holds_certificate());
            fitting = if fresh.is_empty() { used } else { fresh };
        }
        if let (true, Some(has_order)) = (fitting.len() > 1, has_order) {
            let ordered: Vec<_> = fitting
                .iter()
                .filter(|c| !c.serial.is_empty() && has_order(&c.serial))
                .map(|c| (c.module.spec.path.clone(), c.slot.id()))
                .collect();
            if !ordered.is_empty() {
                fitting.retain(|c| ordered.contains(&(c.module.spec.path.clone(), c.slot.id())));
            }
        }
    }
    match fitting.len() {
        1 => return Ok(fitting.remove(0)),
        0 => {}
        _ => {
            return Err(Error::SeveralTokens {
                keys: fitting.iter().map(Candidate::name).collect(),
            })
        }
    }
    let mut rest = rest;
    if rest.len() == 1 {
        return Ok(rest.remove(0));
    }
    Err(not_applicable(match need {
        Need::Activation { .. } => "no_token",
        Need::HolderCertificate => "no_certificate",
        Need::LockedPin => "pin_not_locked",
    }))
}

fn not_applicable(reason: &str) -> Error {
    Error::NotApplicable {
        reason: reason.into(),
        days_left: None,
    }
}

fn open(catalog: &Catalog, c: Candidate<'_>) -> Token {
    let vendor = catalog
        .profile_for_manufacturer(c.info.manufacturer_id().trim())
        .cloned();
    let sm2 = vendor
        .as_ref()
        .and_then(|v| Sm2Support::from_profile(catalog, v));
    Token {
        module: c.module.spec.path.clone(),
        ctx: c.module.ctx.clone(),
        slot: c.slot,
        serial: c.serial,
        label: c.label,
        vendor,
        sm2,
    }
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
