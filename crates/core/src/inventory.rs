//! The listing of every token on every module: what `certkey list` and `certkey info`
//! show and what the desktop app's token view is built from.
//!
//! Each part is read on its own and fails on its own: a module that does not load, a
//! slot that errors, an object that does not parse is reported in `errors` (and, for
//! objects, in its own entry) while everything else is still listed.

use cryptoki::slot::Slot;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::catalog::{Catalog, VendorProfile};
use crate::cert::verify::{self, SignatureCheck};
use crate::cert::{self, CertificateInfo, Parsed};
use crate::pkcs11::mechanisms::{self, Mechanism};
use crate::pkcs11::module::LibraryInfo;
use crate::pkcs11::objects::{self, ObjectKind, TokenObject};
use crate::pkcs11::token::{SlotDetails, TokenDetails};
use crate::pkcs11::{ckr, trace, LoadedModule, ModuleSource, ModuleSpec};
use crate::{Error, Located, Result};

/// A user login for reading private objects of the one token a scan is limited to.
#[derive(Debug)]
pub struct LoginRequest {
    /// The user PIN.
    pub pin: secrecy::SecretString,
    /// The holder agreed to use the token's final try.
    pub final_try_ok: bool,
}

/// What to read.
#[derive(Debug)]
pub struct ScanOptions {
    /// Read each token's mechanism list.
    pub mechanisms: bool,
    /// Only the token so named (others are skipped, not read): a serial, `slot:ID` or
    /// `label:TEXT`, as [`crate::workflow::token::Selector`] reads it.
    pub token: Option<String>,
    /// The time against which validity is judged.
    pub now: OffsetDateTime,
    /// Log in to the token named by `token` (ignored without `token`), so that
    /// private keys are seen.
    pub login: Option<LoginRequest>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            mechanisms: false,
            token: None,
            now: OffsetDateTime::now_utc(),
            login: None,
        }
    }
}

/// A module as loaded (or not).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ModuleReport {
    /// Path.
    pub path: String,
    /// Why it was loaded.
    pub source: ModuleSource,
    /// C_GetInfo, when the module loaded and answered.
    pub library: Option<LibraryInfo>,
    /// Whether it loaded and initialised.
    pub loaded: bool,
}

/// A certificate on a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CertificateEntry {
    /// CKA_ID, lowercase hex.
    pub id: String,
    /// CKA_LABEL.
    pub label: String,
    /// What the certificate says; absent when it does not parse. (ts-rs cannot
    /// flatten an Option: TypeScript reads these fields as a `CertificateInfo`, present
    /// or not, through the app's `certInfo`.)
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub info: Option<CertificateInfo>,
    /// A private key with the same CKA_ID is on the token. `null` when private
    /// objects are hidden until login and none is visible.
    pub has_private_key: Option<bool>,
    /// A public key object with the same CKA_ID is on the token.
    pub has_public_key: bool,
    /// The signature checked against the issuer (token or CA bundle).
    pub signature_check: Option<SignatureCheck>,
    /// The electronic seal stored for this certificate, if any, checked.
    pub seal: Option<SealEntry>,
    /// Why the certificate could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub error: Option<Error>,
}

/// The electronic seal stored for a certificate, checked without the network (the
/// makers trusted are the CAs of the configured bundles; `certkey seal show` also asks
/// the CA service for its list). A seal object planted with a name of its own shows as
/// not valid, never under that name as the holder's seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SealEntry {
    /// The seal's name as the seal itself states it, when it decodes.
    pub name: Option<String>,
    /// It decodes, its maker's signature verifies, it lists this certificate and its
    /// maker chains to a CA of the bundles.
    pub valid: bool,
    /// Why it is not valid (stable codes): `seal_malformed`,
    /// `unknown_critical_extension`, `signature_invalid`, `not_bound`, or why the maker
    /// is not trusted (`maker_no_trusted_ca`,
    /// `maker_issuer_not_trusted`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub problem: Option<String>,
}

impl SealEntry {
    /// Checks the seal object `value` stored for the certificate `holder` (DER):
    /// `trusted` are the trusted CA certificates, `pool` CA certificates that may fill
    /// a gap in the maker's path (those on the key).
    pub fn check(
        value: &[u8],
        holder: &[u8],
        trusted: &[Vec<u8>],
        pool: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> SealEntry {
        use crate::workflow::seal::{
            lists_certificate, maker_signature_valid, maker_trusted, seal_refusal,
        };
        let refused = |name: Option<String>, problem: &str| SealEntry {
            name,
            valid: false,
            problem: Some(problem.to_string()),
        };
        let seal = match certkey_seal::Seal::decode(value) {
            Ok(s) => s,
            Err(e) => return refused(None, e.code()),
        };
        let name = Some(seal.info.name.clone());
        if seal_refusal(&seal).is_some() {
            return refused(name, "unknown_critical_extension");
        }
        if !maker_signature_valid(&seal) {
            return refused(name, "signature_invalid");
        }
        if !lists_certificate(&seal, holder) {
            return refused(name, "not_bound");
        }
        if now < seal.info.valid_start || now >= seal.info.valid_end {
            return refused(name, "seal_not_valid_now");
        }
        if let Err(why) = maker_trusted(&seal, trusted, pool, now) {
            return refused(name, &format!("maker_{}", why.code()));
        }
        SealEntry {
            name,
            valid: true,
            problem: None,
        }
    }
}

/// A key object on a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyEntry {
    /// `private_key`, `public_key` or `secret_key`.
    pub class: ObjectKind,
    /// CKA_ID, lowercase hex.
    pub id: String,
    /// CKA_LABEL.
    pub label: String,
    /// Key type: `RSA`, `EC`, `SM2` (through the vendor profile), ... or `0x...`.
    pub key_type: Option<String>,
    /// A certificate with the same CKA_ID is on the token.
    pub has_certificate: bool,
}

/// A data object on a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DataEntry {
    /// CKA_ID, lowercase hex.
    pub id: String,
    /// CKA_LABEL.
    pub label: String,
    /// CKA_APPLICATION.
    pub application: Option<String>,
    /// Size of CKA_VALUE in bytes, when readable.
    pub size: Option<usize>,
    /// CKA_PRIVATE.
    pub private: Option<bool>,
}

/// One token: identity (module, serial), info, and what it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TokenReport {
    /// Module path.
    pub module: String,
    /// Slot id (changes between insertions; not an identity).
    pub slot: u64,
    /// CK_SLOT_INFO.
    pub slot_info: Option<SlotDetails>,
    /// CK_TOKEN_INFO.
    #[serde(flatten)]
    pub details: TokenDetails,
    /// Catalog vendor id matched by manufacturer.
    pub vendor: Option<String>,
    /// The vendor's name (English), from the catalog.
    pub vendor_name: Option<String>,
    /// The vendor's name in Chinese, from the catalog.
    pub vendor_name_zh: Option<String>,
    /// Mechanisms, when asked for and readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanisms: Option<Vec<Mechanism>>,
    /// Private objects are visible (no login needed, or logged in).
    pub private_objects_visible: bool,
    /// Certificates.
    pub certificates: Vec<CertificateEntry>,
    /// Key objects.
    pub keys: Vec<KeyEntry>,
    /// Data objects.
    pub data_objects: Vec<DataEntry>,
}

/// The whole listing: `{"modules": [...], "tokens": [...], "errors": [...]}`.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Inventory {
    /// Schema identifier of this JSON shape.
    pub schema: &'static str,
    /// Modules tried.
    pub modules: Vec<ModuleReport>,
    /// Tokens read.
    pub tokens: Vec<TokenReport>,
    /// Everything that failed, where it failed.
    pub errors: Vec<Located>,
}

/// The JSON schema id of [`Inventory`].
pub const SCHEMA: &str = "certkey.inventory/1";

/// Loaded modules, kept for the lifetime of a command.
#[derive(Debug, Default)]
pub struct Modules {
    /// Modules that loaded.
    pub loaded: Vec<LoadedModule>,
    /// Modules that did not, with why.
    pub failed: Vec<(ModuleSpec, Error)>,
}

impl Modules {
    /// Loads every module; failures are kept, not fatal.
    pub fn load(specs: Vec<ModuleSpec>) -> Self {
        let mut m = Modules::default();
        for spec in specs {
            match LoadedModule::load(spec.clone()) {
                Ok(l) => m.loaded.push(l),
                Err(e) => {
                    tracing::warn!(module = %spec.path, error = %e, "module failed");
                    m.failed.push((spec, e));
                }
            }
        }
        m
    }
}

fn located(
    module: &str,
    slot: Option<u64>,
    token: Option<&str>,
    object: Option<String>,
    error: Error,
) -> Located {
    Located {
        module: Some(module.to_string()),
        slot,
        token: token.map(str::to_string),
        object,
        error,
    }
}

/// Lists the modules that did not load, with why.
pub(crate) fn push_failed_modules(inv: &mut Inventory, modules: &Modules) {
    for (spec, e) in &modules.failed {
        push_failed_module(inv, spec, e);
    }
}

/// Lists a module that did not load, with why.
pub(crate) fn push_failed_module(inv: &mut Inventory, spec: &ModuleSpec, e: &Error) {
    push_unloaded_module(inv, spec);
    inv.errors.push(Located::module(&spec.path, e.clone()));
}

/// Lists a module that is not loaded (failed, or still loading).
pub(crate) fn push_unloaded_module(inv: &mut Inventory, spec: &ModuleSpec) {
    inv.modules.push(ModuleReport {
        path: spec.path.clone(),
        source: spec.source.clone(),
        library: None,
        loaded: false,
    });
}

/// Lists a loaded module (and the error of its C_GetInfo, if any).
pub(crate) fn push_loaded_module(inv: &mut Inventory, m: &LoadedModule) {
    let path = m.spec.path.as_str();
    inv.modules.push(ModuleReport {
        path: path.to_string(),
        source: m.spec.source.clone(),
        library: m.info.as_ref().ok().cloned(),
        loaded: true,
    });
    if let Err(e) = &m.info {
        inv.errors.push(Located::module(path, e.clone()));
    }
}

/// Reads every token of every loaded module. `bundle` holds DER CA certificates
/// against which signatures are checked.
pub fn scan(
    modules: &Modules,
    catalog: &Catalog,
    bundle: &[Vec<u8>],
    opts: &ScanOptions,
) -> Inventory {
    let mut inv = Inventory {
        schema: SCHEMA,
        ..Inventory::default()
    };
    push_failed_modules(&mut inv, modules);
    let bundle_parsed: Vec<Parsed<'_>> =
        bundle.iter().filter_map(|d| cert::parse(d).ok()).collect();
    for m in &modules.loaded {
        let path = m.spec.path.as_str();
        push_loaded_module(&mut inv, m);
        let slots = match trace::call(path, "C_GetSlotList", None, || m.ctx.get_slots_with_token())
        {
            Ok(s) => s,
            Err(e) => {
                inv.errors
                    .push(Located::module(path, ckr::convert(e, "C_GetSlotList")));
                continue;
            }
        };
        for slot in slots {
            match read_token(m, slot, catalog, &bundle_parsed, opts, &mut inv.errors) {
                Ok(Some(t)) => inv.tokens.push(t),
                Ok(None) => {}
                Err(e) => inv
                    .errors
                    .push(located(path, Some(slot.id()), None, None, e)),
            }
        }
    }
    inv
}

/// Reads one token (the slot's), as [`scan`] does; errors of its parts go to `errors`.
pub(crate) fn read_token(
    m: &LoadedModule,
    slot: Slot,
    catalog: &Catalog,
    bundle: &[Parsed<'_>],
    opts: &ScanOptions,
    errors: &mut Vec<Located>,
) -> Result<Option<TokenReport>> {
    let path = m.spec.path.as_str();
    let info = trace::call(path, "C_GetTokenInfo", Some(slot.id()), || {
        m.ctx.get_token_info(slot)
    })
    .map_err(|e| ckr::convert(e, "C_GetTokenInfo"))?;
    let details = TokenDetails::from(&info);
    if let Some(want) = &opts.token {
        let named = crate::workflow::token::Selector::parse(want)
            .is_ok_and(|sel| sel.matches(slot.id(), &details.serial, &details.label));
        if !named {
            return Ok(None);
        }
    }
    let serial = details.serial.clone();
    let loc =
        |object: Option<String>, e: Error| located(path, Some(slot.id()), Some(&serial), object, e);
    let slot_info = match trace::call(path, "C_GetSlotInfo", Some(slot.id()), || {
        m.ctx.get_slot_info(slot)
    }) {
        Ok(s) => Some(SlotDetails::from(&s)),
        Err(e) => {
            errors.push(loc(None, ckr::convert(e, "C_GetSlotInfo")));
            None
        }
    };
    let vendor = catalog.profile_for_manufacturer(&details.manufacturer);
    let mechanisms = if opts.mechanisms {
        let listed = crate::pkcs11::raw::RawModule::open(path).and_then(|raw| {
            mechanisms::list(&raw, slot.id() as cryptoki_sys::CK_SLOT_ID, catalog, vendor)
        });
        match listed {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(loc(None, e));
                None
            }
        }
    } else {
        None
    };
    let mut report = TokenReport {
        module: path.to_string(),
        slot: slot.id(),
        slot_info,
        vendor: vendor.map(|v| v.id.clone()),
        vendor_name: vendor.map(|v| v.name.clone()),
        vendor_name_zh: vendor.map(|v| v.name_zh.clone()),
        details,
        mechanisms,
        private_objects_visible: !info.login_required(),
        certificates: Vec::new(),
        keys: Vec::new(),
        data_objects: Vec::new(),
    };
    if !info.token_initialized() {
        // A blank key from the factory: nothing to read.
        return Ok(Some(report));
    }
    let session = match trace::call(path, "C_OpenSession", Some(slot.id()), || {
        m.ctx.open_ro_session(slot)
    }) {
        Ok(s) => s,
        Err(e) => {
            errors.push(loc(None, ckr::convert(e, "C_OpenSession")));
            return Ok(Some(report));
        }
    };
    if let (Some(login), Some(_)) = (&opts.login, &opts.token) {
        match crate::pkcs11::login::login_user(
            &m.ctx,
            slot,
            &session,
            &login.pin,
            login.final_try_ok,
        ) {
            Ok(()) => report.private_objects_visible = true,
            Err(e) => errors.push(loc(None, e)),
        }
    }
    match objects::read_all(&session) {
        Ok((objs, errs)) => {
            for (h, e) in errs {
                errors.push(loc(Some(format!("handle {h}")), e));
            }
            fill_objects(&mut report, objs, catalog, vendor, bundle, opts.now, errors);
        }
        Err(e) => errors.push(loc(None, e)),
    }
    Ok(Some(report))
}

fn key_type_name(catalog: &Catalog, vendor: Option<&VendorProfile>, v: u64) -> String {
    if let Some(fam) = vendor.and_then(|p| catalog.sm2_of(p)) {
        if fam.key_type_sm2 == v {
            return "SM2".into();
        }
    }
    match v {
        0x0 => "RSA".into(),
        0x1 => "DSA".into(),
        0x2 => "DH".into(),
        0x3 => "EC".into(),
        0x40 => "EC_EDWARDS".into(),
        0x10 => "GENERIC_SECRET".into(),
        0x15 => "DES3".into(),
        0x1F => "AES".into(),
        other => format!("0x{other:08X}"),
    }
}

/// The seal stored for certificate `cert` (one per certificate: a second seal object
/// makes neither valid).
fn seal_of(
    objs: &[TokenObject],
    cert: &TokenObject,
    trusted: &[Vec<u8>],
    pool: &[Vec<u8>],
    now: OffsetDateTime,
) -> Option<SealEntry> {
    let seals: Vec<&TokenObject> = objs
        .iter()
        .filter(|d| {
            d.kind == ObjectKind::Data
                && d.id == cert.id
                && d.application.as_deref() == Some(crate::workflow::seal::APPLICATION)
        })
        .collect();
    let refused = |problem: &str| SealEntry {
        name: None,
        valid: false,
        problem: Some(problem.into()),
    };
    match (seals.as_slice(), &cert.value) {
        ([], _) => None,
        ([one], Some(holder)) => Some(match &one.value {
            Some(seal) => SealEntry::check(seal, holder, trusted, pool, now),
            None => refused("unreadable"),
        }),
        ([_], None) => Some(refused("unreadable")),
        _ => Some(refused("several_seals")),
    }
}

fn fill_objects(
    report: &mut TokenReport,
    objs: Vec<TokenObject>,
    catalog: &Catalog,
    vendor: Option<&VendorProfile>,
    bundle: &[Parsed<'_>],
    now: OffsetDateTime,
    errors: &mut Vec<Located>,
) {
    let has = |kind: ObjectKind, id: &[u8]| objs.iter().any(|o| o.kind == kind && o.id == id);
    let certs: Vec<&TokenObject> = objs
        .iter()
        .filter(|o| o.kind == ObjectKind::Certificate)
        .collect();
    let parsed: Vec<Option<Parsed<'_>>> = certs
        .iter()
        .map(|o| o.value.as_deref().and_then(|v| cert::parse(v).ok()))
        .collect();
    let on_token: Vec<Parsed<'_>> = parsed
        .iter()
        .flatten()
        .map(|p| Parsed {
            der: p.der,
            cert: p.cert.clone(),
        })
        .collect();
    // For seal checks: the bundles' CAs are trusted, CA certificates on the key may
    // fill a gap in a maker's path.
    let trusted: Vec<Vec<u8>> = bundle.iter().map(|b| b.der.to_vec()).collect();
    let pool: Vec<Vec<u8>> = on_token.iter().map(|c| c.der.to_vec()).collect();
    for (o, p) in certs.iter().zip(parsed.iter()) {
        let id = hex::encode(&o.id);
        let has_private_key = if has(ObjectKind::PrivateKey, &o.id) {
            Some(true)
        } else if report.private_objects_visible {
            Some(false)
        } else {
            None
        };
        let mut entry = CertificateEntry {
            id: id.clone(),
            label: o.label.clone(),
            info: None,
            has_private_key,
            has_public_key: has(ObjectKind::PublicKey, &o.id),
            signature_check: None,
            seal: seal_of(&objs, o, &trusted, &pool, now),
            error: None,
        };
        match (p, &o.value) {
            (Some(p), _) => {
                entry.info = Some(CertificateInfo::from_parsed(p, now));
                entry.signature_check = Some(verify::check(p, &on_token, bundle));
            }
            (None, value) => {
                let e = match value {
                    None => Error::CertificateInvalid {
                        reason: "CKA_VALUE is not readable".into(),
                    },
                    Some(v) => cert::parse(v).err().unwrap_or(Error::CertificateInvalid {
                        reason: "unreadable".into(),
                    }),
                };
                errors.push(Located {
                    module: Some(report.module.clone()),
                    slot: Some(report.slot),
                    token: Some(report.details.serial.clone()),
                    object: Some(id),
                    error: e.clone(),
                });
                entry.error = Some(e);
            }
        }
        report.certificates.push(entry);
    }
    for o in &objs {
        match o.kind {
            ObjectKind::PrivateKey | ObjectKind::PublicKey | ObjectKind::SecretKey => {
                report.keys.push(KeyEntry {
                    class: o.kind,
                    id: hex::encode(&o.id),
                    label: o.label.clone(),
                    key_type: o.key_type.map(|k| key_type_name(catalog, vendor, k)),
                    has_certificate: has(ObjectKind::Certificate, &o.id),
                })
            }
            ObjectKind::Data => report.data_objects.push(DataEntry {
                id: hex::encode(&o.id),
                label: o.label.clone(),
                application: o.application.clone(),
                size: o.value.as_ref().map(Vec::len),
                private: o.private,
            }),
            _ => {}
        }
    }
}

/// Finds the DER of the certificate with CKA_ID `id` on the token with `serial`.
pub fn export_certificate(modules: &Modules, serial: &str, id: &[u8]) -> Result<Vec<u8>> {
    let all: Vec<&LoadedModule> = modules.loaded.iter().collect();
    export_certificate_among(&all, serial, id)
}

/// [`export_certificate`], looking only at `modules`.
pub fn export_certificate_among(
    modules: &[&LoadedModule],
    serial: &str,
    id: &[u8],
) -> Result<Vec<u8>> {
    let mut found: Vec<(&LoadedModule, Slot)> = Vec::new();
    for m in modules {
        let Ok(slots) = m.ctx.get_slots_with_token() else {
            continue;
        };
        for slot in slots {
            if let Ok(info) = m.ctx.get_token_info(slot) {
                if info.serial_number().trim() == serial.trim() {
                    found.push((m, slot));
                }
            }
        }
    }
    let (m, slot) = match found.len() {
        0 => {
            return Err(Error::TokenNotFound {
                serial: serial.to_string(),
            })
        }
        1 => found.remove(0),
        _ => {
            return Err(Error::TokenAmbiguous {
                serial: serial.to_string(),
                modules: found
                    .into_iter()
                    .map(|(m, _)| m.spec.path.clone())
                    .collect(),
            })
        }
    };
    let session = m
        .ctx
        .open_ro_session(slot)
        .map_err(|e| ckr::convert(e, "C_OpenSession"))?;
    certificate_in(&session, serial, id)
}

/// The DER of the certificates with CKA_IDs `ids` on the token in slot `slot` of `m`,
/// which must still be the one with `serial`: all read in one session (no slot list
/// per certificate). A certificate that is not there, or does not parse, is `None`.
pub fn certificates_in_slot(
    m: &LoadedModule,
    slot: u64,
    serial: &str,
    ids: &[Vec<u8>],
) -> Result<Vec<Option<Vec<u8>>>> {
    let gone = || Error::TokenNotFound {
        serial: serial.to_string(),
    };
    let slot = Slot::try_from(slot).map_err(|_| gone())?;
    let session = m
        .ctx
        .open_ro_session(slot)
        .map_err(|e| ckr::convert(e, "C_OpenSession"))?;
    // Checked with the session open: a key put in its place after that point ends
    // the session, so what is read is this key's.
    let info = m
        .ctx
        .get_token_info(slot)
        .map_err(|e| ckr::convert(e, "C_GetTokenInfo"))?;
    if info.serial_number().trim() != serial.trim() {
        return Err(gone());
    }
    Ok(ids
        .iter()
        .map(|id| certificate_in(&session, serial, id).ok())
        .collect())
}

/// The DER of the certificate with CKA_ID `id` seen through `session`, parsed.
fn certificate_in(
    session: &cryptoki::session::Session,
    serial: &str,
    id: &[u8],
) -> Result<Vec<u8>> {
    let template = [
        cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::CERTIFICATE),
        cryptoki::object::Attribute::Id(id.to_vec()),
    ];
    let handles = session
        .find_objects(&template)
        .map_err(|e| ckr::convert(e, "C_FindObjects"))?;
    let not_found = || Error::CertificateNotFound {
        serial: serial.to_string(),
        id: hex::encode(id),
    };
    let h = handles.first().ok_or_else(not_found)?;
    let attrs = session
        .get_attributes(*h, &[cryptoki::object::AttributeType::Value])
        .map_err(|e| ckr::convert(e, "C_GetAttributeValue"))?;
    for a in attrs {
        if let cryptoki::object::Attribute::Value(v) = a {
            cert::parse(&v)?;
            return Ok(v);
        }
    }
    Err(not_found())
}
