//! Diagnostics for help desks (docs/diagnostics.md): independent probes of the
//! computer, its USB keys, the smart-card service, the PKCS#11 modules, the tokens and
//! what they hold, the CA services and the clock, and an optional self-test with the
//! PIN. Each probe records its own failure and never stops the others, so a report
//! always completes. Findings carry a severity and a stable code; their text (message
//! and fix, zh-CN and English) is the shared catalog's `diag-CODE` and `diag-CODE-fix`.
//!
//! `certkey diagnose` and the app's Diagnostics screen both run [`run`].

pub mod elf;
pub mod fix;
pub mod net;
pub mod redact;
pub mod system;
pub mod usb;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::catalog::Catalog;
use crate::cert::chain;
use crate::directory::Directory;
use crate::inventory::{self, Modules, ScanOptions, TokenReport};
use crate::pkcs11::module::LibraryInfo;
use crate::pkcs11::trace::{self, Call};
use crate::pkcs11::{LoadedModule, ModuleSource, ModuleSpec};
use crate::{Error, Located};

pub use fix::Fix;
pub use net::ServiceInfo;
pub use system::{PcscInfo, SystemInfo};
pub use usb::UsbDevice;

/// The JSON schema id of [`Report`].
pub const SCHEMA: &str = "certkey.diagnose/1";

/// Every finding code the engine reports (each has `diag-CODE` and `diag-CODE-fix`
/// in the catalog).
pub const CODES: &[&str] = &[
    "cert_expired",
    "cert_not_yet_valid",
    "cert_renewal_window",
    "cert_unreadable",
    "cert_untrusted",
    "cert_without_key",
    "clock_skew",
    "module_error",
    "module_init_failed",
    "module_load_failed",
    "module_missing",
    "module_not_registered",
    "module_not_responding",
    "module_wrong_arch",
    "no_module",
    "no_token",
    "pcsc_not_running",
    "pin_count_low",
    "pin_final_try",
    "pin_locked",
    "pin_to_be_changed",
    "probe_failed",
    "seal_invalid",
    "self_test_failed",
    "self_test_ok",
    "self_test_refused_final_try",
    "service_api",
    "service_dns",
    "service_proxy",
    "service_tls",
    "service_unreachable",
    "sm2_mechanism_missing",
    "so_pin_locked",
    "token_claimed_twice",
    "token_not_initialized",
    "usb_key_skf_only",
    "usb_key_without_module",
    "usb_no_access",
];

/// The default pcscd socket on Linux.
pub const PCSC_SOCKET: &str = "/run/pcscd/pcscd.comm";

/// Clock difference from the CA service that is worth a warning, and an error.
const SKEW_WARNING_S: i64 = 5 * 60;
const SKEW_ERROR_S: i64 = 60 * 60;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The key cannot work, or a lockout is one step away.
    Critical,
    /// Something the holder needs fails.
    Error,
    /// Something will fail soon, or may fail.
    Warning,
    /// Worth knowing.
    Info,
}

/// A parameter of a finding's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Param {
    /// A number.
    Number(i64),
    /// A text.
    Text(String),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_string())
    }
}
impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}
impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Number(n)
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Finding {
    /// Stable code: the catalog's message is `diag-CODE`, its fix `diag-CODE-fix`.
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// What it is about: a module path, a key's serial, a service URL.
    pub subject: Option<String>,
    /// The message's parameters.
    pub params: BTreeMap<String, Param>,
    /// A fix the engine can apply, with the user's consent.
    pub fix: Option<Fix>,
}

fn finding(
    code: &str,
    severity: Severity,
    subject: Option<&str>,
    params: &[(&str, Param)],
) -> Finding {
    Finding {
        code: code.to_string(),
        severity,
        subject: subject.map(str::to_string),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        fix: None,
    }
}

/// A catalog vendor's module for this OS: found on disk or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Candidate {
    /// Catalog vendor id.
    pub vendor: String,
    /// The file names the catalog knows for this OS.
    pub names: Vec<String>,
    /// Where one was found.
    pub found: Option<String>,
}

/// One module as the modules probe saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ModuleDiag {
    /// Path.
    pub path: String,
    /// Why it is in the list.
    pub source: ModuleSource,
    /// The file exists.
    pub exists: bool,
    /// The architecture its ELF header names.
    pub arch: Option<String>,
    /// That architecture is this program's.
    pub arch_matches: Option<bool>,
    /// It loaded and initialised.
    pub loaded: bool,
    /// C_GetInfo.
    pub library: Option<LibraryInfo>,
    /// Why it did not load, or why C_GetInfo failed.
    pub error: Option<Error>,
    /// Loading and reading it took this long, milliseconds.
    pub millis: u64,
    /// Tokens it showed.
    pub tokens: usize,
}

/// Whether a certificate chains to a CA of the configured bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainCheck {
    /// Token serial.
    pub token: String,
    /// The module it was read through.
    pub module: String,
    /// CKA_ID of the certificate.
    pub id: String,
    /// The trusted CA reached.
    pub trusted_ca: Option<String>,
    /// Why none was (a stable code of [`chain::Untrusted`]).
    pub problem: Option<String>,
}

/// What the self-test did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SelfTestResult {
    /// Token serial.
    pub token: String,
    /// The certificate's CKA_ID used.
    pub id: Option<String>,
    /// `ok`, `refused_final_try`, `failed`.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<Error>,
}

/// A probe that failed as a whole (the others went on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProbeError {
    /// The probe's name.
    pub probe: String,
    /// What went wrong.
    pub reason: String,
}

/// The whole report: what each probe saw, the findings, the PKCS#11 call trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// When the report was made, RFC 3339 UTC.
    pub generated_at: String,
    /// Personal data was redacted.
    pub redacted: bool,
    /// The computer.
    pub system: SystemInfo,
    /// USB devices.
    pub usb: Vec<UsbDevice>,
    /// The smart-card service.
    pub pcsc: PcscInfo,
    /// The catalog's modules for this OS.
    pub candidates: Vec<Candidate>,
    /// Modules tried.
    pub modules: Vec<ModuleDiag>,
    /// Tokens read (with mechanisms, certificates, keys and the seal).
    pub tokens: Vec<TokenReport>,
    /// Where reading a token or object failed.
    pub errors: Vec<Located>,
    /// Certificates against the CA bundles.
    pub chains: Vec<ChainCheck>,
    /// CA services.
    pub services: Vec<ServiceInfo>,
    /// The self-test, when asked for.
    pub self_test: Option<SelfTestResult>,
    /// Findings, worst first.
    pub findings: Vec<Finding>,
    /// Probes that failed as a whole.
    pub probe_errors: Vec<ProbeError>,
    /// The last PKCS#11 calls of this process.
    pub trace: Vec<Call>,
}

/// A sign-and-verify test on one key, with its PIN.
pub struct SelfTest {
    /// The key's serial.
    pub token: String,
    /// Its user PIN.
    pub pin: SecretString,
}

impl std::fmt::Debug for SelfTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfTest")
            .field("token", &self.token)
            .finish()
    }
}

/// How to run.
#[derive(Debug)]
pub struct Options {
    /// The front end's version, for the report.
    pub app_version: Option<String>,
    /// The sysfs folder of USB devices.
    pub usb_root: PathBuf,
    /// The pcscd socket.
    pub pcsc_socket: PathBuf,
    /// How long one module may take to load and be read.
    pub module_timeout: Duration,
    /// Probe the CA services (and the clock against them).
    pub network: bool,
    /// The time validity is judged against.
    pub now: OffsetDateTime,
    /// The self-test, when asked for.
    pub self_test: Option<SelfTest>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            app_version: None,
            usb_root: PathBuf::from(usb::SYSFS_USB),
            pcsc_socket: PathBuf::from(PCSC_SOCKET),
            module_timeout: Duration::from_secs(20),
            network: true,
            now: OffsetDateTime::now_utc(),
            self_test: None,
        }
    }
}

/// Told before each step: the stage, steps done, all steps, and for a
/// [`Stage::Module`] step the module's path.
pub type Progress<'a> = dyn FnMut(Stage, usize, usize, Option<&str>) + 'a;

/// The steps, for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The computer.
    System,
    /// USB devices.
    Usb,
    /// The smart-card service.
    Pcsc,
    /// Modules, tokens and objects (one step per module).
    Module,
    /// CA services and the clock.
    Service,
    /// Findings.
    Findings,
}

/// What the engine needs from the front end's set-up.
pub struct Inputs<'a> {
    /// The vendor catalog.
    pub catalog: &'a Catalog,
    /// The modules to try (as [`crate::setup::prepare`] lists them).
    pub specs: Vec<ModuleSpec>,
    /// DER CA certificates trusted for chains.
    pub bundle: &'a [Vec<u8>],
    /// The CA directory in force.
    pub directory: &'a Directory,
    /// Problems the set-up already found (unreadable bundles).
    pub setup_errors: Vec<Located>,
}

/// The set-up read the way every front end reads it ([`crate::setup::prepare`]), but
/// never failing: a configuration that cannot be read is kept as a problem (a probe
/// error in the report) and the built-in catalog with the modules of the environment
/// and of `extra` is used instead.
pub struct Prepared {
    /// The vendor catalog.
    pub catalog: Catalog,
    /// The modules to try.
    pub specs: Vec<ModuleSpec>,
    /// DER CA certificates of the bundles.
    pub bundle: Vec<Vec<u8>>,
    /// The CA directory in force.
    pub directory: Directory,
    /// Bundle files that could not be read.
    pub errors: Vec<Located>,
    /// Why the configuration could not be read.
    pub problem: Option<Error>,
}

/// See [`Prepared`]; `service` and `service_ca` are the front end's explicit service.
pub fn prepare(
    extra: &crate::setup::Extra,
    service: Option<String>,
    service_ca: Option<PathBuf>,
) -> Prepared {
    let mut problem = None;
    let (catalog, specs, bundle, config, errors) = match crate::setup::prepare(extra) {
        Ok(p) => (p.catalog, p.specs, p.bundle, p.config, p.errors),
        Err(e) => {
            problem = Some(e);
            let catalog = Catalog::builtin();
            let env = std::env::var(crate::config::ENV_MODULES)
                .map(|v| crate::config::split_path_list(&v))
                .unwrap_or_default();
            let specs = crate::pkcs11::discover_modules(
                &catalog,
                !extra.no_auto_modules,
                &[],
                &env,
                &extra.modules,
            );
            (
                catalog,
                specs,
                Vec::new(),
                crate::config::Config::default(),
                Vec::new(),
            )
        }
    };
    let directory =
        crate::setup::directory(&config, &catalog, service, service_ca).unwrap_or_else(|e| {
            problem.get_or_insert(e);
            Directory::default()
        });
    Prepared {
        catalog,
        specs,
        bundle,
        directory,
        errors,
        problem,
    }
}

/// [`run`] on a [`Prepared`] set-up; its problem becomes a probe error (`config`)
/// described by `describe`.
pub fn run_prepared(
    prepared: &Prepared,
    opts: Options,
    describe: &dyn Fn(&Error) -> String,
    progress: &mut Progress<'_>,
) -> Report {
    let mut report = run(
        Inputs {
            catalog: &prepared.catalog,
            specs: prepared.specs.clone(),
            bundle: &prepared.bundle,
            directory: &prepared.directory,
            setup_errors: prepared.errors.clone(),
        },
        opts,
        progress,
    );
    if let Some(e) = &prepared.problem {
        report.probe_errors.push(ProbeError {
            probe: "config".into(),
            reason: describe(e),
        });
        report.findings = findings(&report, &prepared.catalog);
    }
    report
}

/// What one module's worker sends back.
struct ModuleOutcome {
    diag: ModuleDiag,
    tokens: Vec<TokenReport>,
    errors: Vec<Located>,
    chains: Vec<ChainCheck>,
    self_test: Option<SelfTestResult>,
}

/// Runs every probe; `progress(stage, done, total, module)` is called before each
/// step (`module`: the path of the module a [`Stage::Module`] step examines).
pub fn run(inputs: Inputs<'_>, opts: Options, progress: &mut Progress<'_>) -> Report {
    let total = 5 + inputs.specs.len();
    let mut done = 0;
    let mut step = |stage: Stage, module: Option<&str>, progress: &mut Progress<'_>| {
        progress(stage, done, total, module);
        done += 1;
    };
    let mut report = Report {
        schema: SCHEMA.to_string(),
        generated_at: opts
            .now
            .replace_nanosecond(0)
            .unwrap_or(opts.now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        redacted: false,
        system: system::read(opts.app_version.as_deref()),
        usb: Vec::new(),
        pcsc: PcscInfo {
            socket: opts.pcsc_socket.display().to_string(),
            running: false,
            smart_card_devices: 0,
        },
        candidates: Vec::new(),
        modules: Vec::new(),
        tokens: Vec::new(),
        errors: inputs.setup_errors.clone(),
        chains: Vec::new(),
        services: Vec::new(),
        self_test: None,
        findings: Vec::new(),
        probe_errors: Vec::new(),
        trace: Vec::new(),
    };
    step(Stage::System, None, progress);

    step(Stage::Usb, None, progress);
    match usb::devices(&opts.usb_root, inputs.catalog) {
        Ok(d) => report.usb = d,
        Err(e) => report.probe_errors.push(ProbeError {
            probe: "usb".into(),
            reason: format!("{}: {e}", opts.usb_root.display()),
        }),
    }

    step(Stage::Pcsc, None, progress);
    report.pcsc.running = system::pcsc_running(&opts.pcsc_socket);
    report.pcsc.smart_card_devices = report.usb.iter().filter(|d| d.smart_card).count();

    report.candidates = candidates(inputs.catalog, &inputs.specs);
    let mut self_test = opts.self_test;
    for spec in &inputs.specs {
        step(Stage::Module, Some(&spec.path), progress);
        let wanted = self_test.take();
        let out = probe_module(
            spec.clone(),
            inputs.catalog,
            inputs.bundle,
            opts.now,
            opts.module_timeout,
            wanted.as_ref(),
        );
        // The self-test goes to the module that has the key; until then it waits.
        if out.self_test.is_none() {
            self_test = wanted;
        }
        report.modules.push(out.diag);
        report.tokens.extend(out.tokens);
        report.errors.extend(out.errors);
        report.chains.extend(out.chains);
        if out.self_test.is_some() {
            report.self_test = out.self_test;
        }
    }
    if let Some(t) = self_test {
        report.self_test = Some(SelfTestResult {
            token: t.token.clone(),
            id: None,
            outcome: "failed".into(),
            error: Some(Error::TokenNotFound { serial: t.token }),
        });
    }

    step(Stage::Service, None, progress);
    if opts.network {
        for (url, ca, roots) in services(inputs.directory, &report.tokens) {
            report
                .services
                .push(net::probe(&url, ca.as_deref(), roots.as_deref()));
        }
    }

    step(Stage::Findings, None, progress);
    report.findings = findings(&report, inputs.catalog);
    report.trace = trace::recent();
    report
}

/// The catalog's modules for this OS, found on disk or not (only vendors that name
/// a module for this OS).
fn candidates(catalog: &Catalog, specs: &[ModuleSpec]) -> Vec<Candidate> {
    let dirs = crate::pkcs11::module::library_dirs();
    catalog
        .vendors()
        .iter()
        .filter(|v| !v.modules.current().is_empty())
        .map(|v| {
            let from_specs = specs
                .iter()
                .find(|s| matches!(&s.source, ModuleSource::Catalog { vendor } if vendor == &v.id));
            let found = from_specs.map(|s| s.path.clone()).or_else(|| {
                v.modules.current().iter().find_map(|name| {
                    let p = std::path::Path::new(name);
                    if p.is_absolute() {
                        p.is_file().then(|| name.clone())
                    } else {
                        dirs.iter()
                            .map(|d| d.join(name))
                            .find(|p| p.is_file())
                            .map(|p| p.display().to_string())
                    }
                })
            });
            Candidate {
                vendor: v.id.clone(),
                names: v.modules.current().to_vec(),
                found,
            }
        })
        .collect()
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Loads and reads one module on a worker thread, waiting at most `timeout`: a
/// module that hangs is reported as not responding (its thread is left behind) and
/// the report goes on.
fn probe_module(
    spec: ModuleSpec,
    catalog: &Catalog,
    bundle: &[Vec<u8>],
    now: OffsetDateTime,
    timeout: Duration,
    self_test: Option<&SelfTest>,
) -> ModuleOutcome {
    let path = std::path::Path::new(&spec.path);
    let exists = path.is_file();
    let arch = elf::of_file(path);
    let own = elf::own();
    let mut diag = ModuleDiag {
        path: spec.path.clone(),
        source: spec.source.clone(),
        exists,
        arch: arch.map(elf::ElfArch::name),
        arch_matches: arch.zip(own).map(|(a, o)| a == o),
        loaded: false,
        library: None,
        error: None,
        millis: 0,
        tokens: 0,
    };
    let empty = |diag: ModuleDiag| ModuleOutcome {
        diag,
        tokens: Vec::new(),
        errors: Vec::new(),
        chains: Vec::new(),
        self_test: None,
    };
    if !exists {
        diag.error = Some(Error::ModuleNotFound {
            path: spec.path.clone(),
        });
        return empty(diag);
    }
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    let catalog = catalog.clone();
    let bundle = bundle.to_vec();
    let test = self_test.map(|t| (t.token.clone(), t.pin.clone()));
    let worker_spec = spec.clone();
    let spawned = std::thread::Builder::new()
        .name("diagnose-module".into())
        .spawn(move || {
            let out = read_module(worker_spec, &catalog, &bundle, now, test);
            let _ = tx.send(out);
        });
    if let Err(e) = spawned {
        diag.error = Some(Error::ModuleMisbehaved {
            reason: format!("cannot start a worker: {e}"),
        });
        return empty(diag);
    }
    match rx.recv_timeout(timeout) {
        Ok(Ok(mut out)) => {
            out.diag.exists = true;
            out.diag.arch = diag.arch;
            out.diag.arch_matches = diag.arch_matches;
            out.diag.millis = millis(start);
            out
        }
        Ok(Err(e)) => {
            diag.error = Some(e);
            diag.millis = millis(start);
            empty(diag)
        }
        Err(_) => {
            diag.error = Some(Error::ModuleNotResponding {
                module: spec.path.clone(),
                seconds: timeout.as_secs(),
            });
            diag.millis = millis(start);
            empty(diag)
        }
    }
}

/// The worker's part of [`probe_module`].
fn read_module(
    spec: ModuleSpec,
    catalog: &Catalog,
    bundle: &[Vec<u8>],
    now: OffsetDateTime,
    self_test: Option<(String, SecretString)>,
) -> crate::Result<ModuleOutcome> {
    let m = LoadedModule::load(spec.clone())?;
    let library = m.info.as_ref().ok().cloned();
    let info_error = m.info.as_ref().err().cloned();
    let modules = Modules {
        loaded: vec![m],
        failed: Vec::new(),
    };
    let opts = ScanOptions {
        mechanisms: true,
        token: None,
        now,
        login: None,
    };
    let mut inv = inventory::scan(&modules, catalog, bundle, &opts);
    let mut result = None;
    if let Some((serial, pin)) = self_test {
        let state = inv
            .tokens
            .iter()
            .find(|t| t.details.serial == serial)
            .map(|t| t.details.pin);
        match state {
            None => {}
            // Never the final try: not even one login.
            Some(p) if p.final_try && !p.locked => {
                result = Some(SelfTestResult {
                    token: serial.clone(),
                    id: None,
                    outcome: "refused_final_try".into(),
                    error: None,
                })
            }
            Some(_) => {
                // One login: the key's private keys are looked for and one signs.
                let (tested, pairs) = self_test_on(&modules.loaded[0], &serial, &pin, catalog);
                if let Some(t) = inv.tokens.iter_mut().find(|t| t.details.serial == serial) {
                    t.private_objects_visible |= !pairs.is_empty();
                    for c in &mut t.certificates {
                        if let Some((_, has)) = pairs.iter().find(|(id, _)| *id == c.id) {
                            c.has_private_key = Some(*has);
                        }
                    }
                }
                result = Some(tested);
            }
        }
    }
    let m = &modules.loaded[0];
    let mut chains = Vec::new();
    for t in &inv.tokens {
        // Every certificate of the key read in one session: the CA ones make the pool
        // a chain may go through, the others are checked.
        let certs: Vec<(&str, bool, Vec<u8>)> = t
            .certificates
            .iter()
            .filter_map(|c| {
                let is_ca = c.info.as_ref()?.is_ca;
                Some((c.id.as_str(), is_ca, hex::decode(&c.id).ok()?))
            })
            .collect();
        let ids: Vec<Vec<u8>> = certs.iter().map(|(_, _, id)| id.clone()).collect();
        let Ok(ders) = inventory::certificates_in_slot(m, t.slot, &t.details.serial, &ids) else {
            continue;
        };
        let (cas, leaves): (Vec<_>, Vec<_>) = certs
            .into_iter()
            .zip(ders)
            .filter_map(|((id, is_ca, _), der)| Some(((id, is_ca), der?)))
            .partition(|((_, is_ca), _)| *is_ca);
        let pool: Vec<Vec<u8>> = cas.into_iter().map(|(_, der)| der).collect();
        for ((id, _), der) in leaves {
            let checked = chain::chains_to(&der, bundle, &pool, now);
            chains.push(ChainCheck {
                token: t.details.serial.clone(),
                module: spec.path.clone(),
                id: id.to_string(),
                trusted_ca: checked.as_ref().ok().cloned(),
                problem: checked.err().map(|u| u.code().to_string()),
            });
        }
    }
    let diag = ModuleDiag {
        path: spec.path.clone(),
        source: spec.source.clone(),
        exists: true,
        arch: None,
        arch_matches: None,
        loaded: true,
        library,
        error: info_error,
        millis: 0,
        tokens: inv.tokens.len(),
    };
    Ok(ModuleOutcome {
        diag,
        tokens: inv.tokens,
        errors: inv.errors,
        chains,
        self_test: result,
    })
}

/// Logs in once, finds the private key of each certificate on the key (returned as
/// (CKA_ID hex, has a private key)), and has the first pair that can sign a test
/// message do so; the signature is checked, and the key that signed must be the
/// certificate's.
fn self_test_on(
    m: &LoadedModule,
    serial: &str,
    pin: &SecretString,
    catalog: &Catalog,
) -> (SelfTestResult, Vec<(String, bool)>) {
    let failed = |id: Option<String>, e: Error| SelfTestResult {
        token: serial.to_string(),
        id,
        outcome: "failed".into(),
        error: Some(e),
    };
    let selector = crate::workflow::token::Selector::Serial(serial.to_string());
    let token = match crate::workflow::token::select_among(
        &[m],
        catalog,
        Some(&selector),
        crate::workflow::token::Need::HolderCertificate,
    ) {
        Ok(t) => t,
        Err(e) => return (failed(None, e), Vec::new()),
    };
    let session = match token.session() {
        Ok(s) => s,
        Err(e) => return (failed(None, e), Vec::new()),
    };
    if let Err(e) = crate::pkcs11::login::login_user(&m.ctx, token.slot, &session, pin, false) {
        return (failed(None, e), Vec::new());
    }
    let mut pairs = Vec::new();
    let mut outcome: Option<SelfTestResult> = None;
    let mut first_error: Option<(Option<String>, Error)> = None;
    let certs = match crate::pkcs11::keys::certificates(&session) {
        Ok(c) => c,
        Err(e) => {
            let _ = session.logout();
            return (failed(None, e), Vec::new());
        }
    };
    for (_, cert_id, der) in certs {
        let id = hex::encode(&cert_id);
        let key = match crate::pkcs11::keys::find(&session, &cert_id) {
            Ok(Some(k)) => k,
            Ok(None) => {
                pairs.push((id, false));
                continue;
            }
            // A key CertKey cannot use (RSA, say): another pair may still sign.
            Err(e) => {
                pairs.push((id.clone(), true));
                first_error.get_or_insert((Some(id), e));
                continue;
            }
        };
        pairs.push((id.clone(), true));
        if outcome.is_some() {
            continue;
        }
        let msg = b"CertKey self-test: this signature is checked and thrown away";
        let signed = crate::pkcs11::keys::sign(&session, serial, &key, token.sm2.as_ref(), msg);
        let matches =
            crate::pkcs11::keys::cert_key(&der).map(|(_, p)| p) == Some(key.point.to_vec());
        match (signed, matches) {
            (Ok(_), true) => {
                outcome = Some(SelfTestResult {
                    token: serial.to_string(),
                    id: Some(id),
                    outcome: "ok".into(),
                    error: None,
                })
            }
            (Ok(_), false) => {
                first_error.get_or_insert((
                    Some(id),
                    Error::TokenSignatureInvalid {
                        reason: "the key that signed is not the certificate's".into(),
                    },
                ));
            }
            (Err(e), _) => {
                first_error.get_or_insert((Some(id), e));
            }
        }
    }
    let _ = session.logout();
    let result = outcome.unwrap_or_else(|| match first_error {
        Some((id, e)) => failed(id, e),
        None => failed(
            None,
            Error::NotApplicable {
                reason: "no_key_pair".into(),
                days_left: None,
            },
        ),
    });
    (result, pairs)
}

/// The services to probe, with the CA's name and TLS roots: the explicitly named
/// service; else the CAs of the directory that serve the certificates found on keys,
/// else its default CA.
fn services(
    directory: &Directory,
    tokens: &[TokenReport],
) -> Vec<(String, Option<String>, Option<PathBuf>)> {
    if let Some(x) = directory.explicit() {
        return vec![(x.url.clone(), None, x.tls_roots.clone())];
    }
    let mut out: Vec<(String, Option<String>, Option<PathBuf>)> = Vec::new();
    let issuers = tokens
        .iter()
        .flat_map(|t| &t.certificates)
        .filter_map(|c| c.info.as_ref())
        .filter(|i| !i.is_ca)
        .map(|i| i.issuer.as_str());
    let add = |out: &mut Vec<(String, Option<String>, Option<PathBuf>)>,
               e: &crate::directory::CaEntry| {
        if !out.iter().any(|(u, _, _)| u == &e.service_url) {
            out.push((
                e.service_url.clone(),
                Some(e.name.clone()),
                e.tls_roots.as_ref().map(PathBuf::from),
            ));
        }
    };
    for issuer in issuers {
        for e in directory.entries().iter().filter(|e| e.serves(issuer)) {
            add(&mut out, e);
        }
    }
    if out.is_empty() {
        if let Some(e) = directory.default_entry() {
            add(&mut out, e);
        }
    }
    out
}

fn text(s: &str) -> Param {
    Param::Text(s.to_string())
}

/// The findings a report's data shows, worst first.
pub fn findings(report: &Report, catalog: &Catalog) -> Vec<Finding> {
    let mut out = Vec::new();
    modules_findings(report, &mut out);
    usb_findings(report, catalog, &mut out);
    token_findings(report, catalog, &mut out);
    service_findings(report, &mut out);
    if let Some(t) = &report.self_test {
        let subject = Some(t.token.as_str());
        match t.outcome.as_str() {
            "ok" => out.push(finding(
                "self_test_ok",
                Severity::Info,
                subject,
                &[("serial", text(&t.token))],
            )),
            "refused_final_try" => out.push(finding(
                "self_test_refused_final_try",
                Severity::Warning,
                subject,
                &[("serial", text(&t.token))],
            )),
            _ => out.push(finding(
                "self_test_failed",
                Severity::Error,
                subject,
                &[
                    ("serial", text(&t.token)),
                    (
                        "reason",
                        text(t.error.as_ref().map(|e| e.code()).unwrap_or("unknown")),
                    ),
                ],
            )),
        }
    }
    for p in &report.probe_errors {
        out.push(finding(
            "probe_failed",
            Severity::Info,
            Some(&p.probe),
            &[("probe", text(&p.probe)), ("reason", text(&p.reason))],
        ));
    }
    // Worst first; the order within a severity is the probes' order.
    out.sort_by_key(|f| f.severity);
    out
}

fn modules_findings(report: &Report, out: &mut Vec<Finding>) {
    for m in &report.modules {
        let subject = Some(m.path.as_str());
        let module = ("module", text(&m.path));
        if !m.exists {
            out.push(finding(
                "module_missing",
                Severity::Error,
                subject,
                &[module],
            ));
            continue;
        }
        if m.arch_matches == Some(false) {
            out.push(finding(
                "module_wrong_arch",
                Severity::Error,
                subject,
                &[
                    module.clone(),
                    ("arch", text(m.arch.as_deref().unwrap_or("?"))),
                    (
                        "expected",
                        text(&elf::own().map(elf::ElfArch::name).unwrap_or_default()),
                    ),
                ],
            ));
            continue;
        }
        match &m.error {
            None => {}
            Some(Error::ModuleLoadFailed { reason, .. }) => out.push(finding(
                "module_load_failed",
                Severity::Error,
                subject,
                &[module.clone(), ("reason", text(reason))],
            )),
            Some(Error::Pkcs11 {
                function, ckr_name, ..
            }) if !m.loaded => out.push(finding(
                "module_init_failed",
                Severity::Error,
                subject,
                &[
                    module.clone(),
                    ("function", text(function)),
                    ("ckr", text(ckr_name)),
                ],
            )),
            Some(Error::ModuleNotResponding { seconds, .. }) => out.push(finding(
                "module_not_responding",
                Severity::Error,
                subject,
                &[
                    module.clone(),
                    (
                        "seconds",
                        Param::Number(i64::try_from(*seconds).unwrap_or(i64::MAX)),
                    ),
                ],
            )),
            Some(e) => out.push(finding(
                "module_error",
                Severity::Warning,
                subject,
                &[module.clone(), ("reason", text(&e.to_string()))],
            )),
        }
    }
    let places = fix::Places::default();
    for c in &report.candidates {
        let Some(path) = &c.found else { continue };
        let works = report.modules.iter().any(|m| &m.path == path && m.loaded);
        if works && !fix::registered_with_p11kit(path, &places) {
            let mut f = finding(
                "module_not_registered",
                Severity::Info,
                Some(path),
                &[("module", text(path)), ("vendor", text(&c.vendor))],
            );
            f.fix = Some(Fix::RegisterModule {
                vendor: c.vendor.clone(),
                path: path.clone(),
            });
            out.push(f);
        }
    }
    let loaded = report.modules.iter().filter(|m| m.loaded).count();
    if loaded == 0 {
        out.push(finding("no_module", Severity::Error, None, &[]));
    } else if report.tokens.is_empty() {
        out.push(finding(
            "no_token",
            Severity::Warning,
            None,
            &[("modules", Param::Number(loaded as i64))],
        ));
    }
}

fn usb_findings(report: &Report, catalog: &Catalog, out: &mut Vec<Finding>) {
    for d in &report.usb {
        let Some(vendor_id) = &d.vendor else { continue };
        let Some(vendor) = catalog.vendor(vendor_id) else {
            continue;
        };
        let module_loaded = report.modules.iter().any(|m| {
            m.loaded
                && (matches!(&m.source, ModuleSource::Catalog { vendor } if vendor == vendor_id)
                    || m.library.as_ref().is_some_and(|l| {
                        vendor
                            .manufacturer_patterns
                            .iter()
                            .any(|p| crate::catalog::glob_match(p, &l.manufacturer))
                    }))
        }) || report
            .tokens
            .iter()
            .any(|t| t.vendor.as_deref() == Some(vendor_id));
        let name = if vendor.name_zh.is_empty() {
            vendor.name.clone()
        } else {
            vendor.name_zh.clone()
        };
        let product = d
            .catalog_product
            .clone()
            .or_else(|| d.product.clone())
            .unwrap_or_else(|| format!("{}:{}", d.vendor_id, d.product_id));
        let params = [
            ("vendor", text(&vendor.id)),
            ("vendor_name", text(&vendor.name)),
            ("vendor_name_zh", text(&name)),
            ("product", text(&product)),
            ("usb_id", text(&format!("{}:{}", d.vendor_id, d.product_id))),
            ("modules", text(&vendor.modules.current().join(", "))),
        ];
        if vendor.skf_only {
            out.push(finding(
                "usb_key_skf_only",
                Severity::Warning,
                Some(&d.bus_path),
                &params,
            ));
        } else if !module_loaded {
            out.push(finding(
                "usb_key_without_module",
                Severity::Error,
                Some(&d.bus_path),
                &params,
            ));
        }
        // A key read all the same, or a smart-card device (pcscd opens it, not the
        // user), needs no access of the user's own.
        let read = report
            .tokens
            .iter()
            .any(|t| t.vendor.as_deref() == Some(vendor_id));
        if d.accessible == Some(false) && !read && !d.smart_card {
            let mut f = finding("usb_no_access", Severity::Error, Some(&d.bus_path), &params);
            if !vendor.usb.is_empty() {
                f.fix = Some(Fix::UdevRule {
                    vendor: vendor.id.clone(),
                });
            }
            out.push(f);
        }
    }
    if report.pcsc.smart_card_devices > 0 && !report.pcsc.running {
        let mut f = finding(
            "pcsc_not_running",
            Severity::Warning,
            None,
            &[
                (
                    "devices",
                    Param::Number(report.pcsc.smart_card_devices as i64),
                ),
                ("socket", text(&report.pcsc.socket)),
            ],
        );
        f.fix = Some(Fix::StartPcscd);
        out.push(f);
    }
}

fn token_findings(report: &Report, catalog: &Catalog, out: &mut Vec<Finding>) {
    // One key seen through two modules: the same serial (a vendor's module and OpenSC
    // may name the maker differently). A blank or all-zero serial tells nothing.
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &report.tokens {
        let serial = t.details.serial.trim();
        if serial.chars().any(|c| c != '0') {
            seen.entry(serial.to_string())
                .or_default()
                .push(t.module.clone());
        }
    }
    for (serial, modules) in &seen {
        let mut distinct = modules.clone();
        distinct.sort();
        distinct.dedup();
        if distinct.len() > 1 {
            out.push(finding(
                "token_claimed_twice",
                Severity::Error,
                Some(serial),
                &[
                    ("serial", text(serial)),
                    ("modules", text(&distinct.join(", "))),
                ],
            ));
        }
    }
    for t in &report.tokens {
        let serial = t.details.serial.as_str();
        let s = ("serial", text(serial));
        let subject = Some(serial);
        let flags = &t.details.flags;
        if !flags.iter().any(|f| f == "CKF_TOKEN_INITIALIZED") {
            out.push(finding(
                "token_not_initialized",
                Severity::Info,
                subject,
                std::slice::from_ref(&s),
            ));
            continue;
        }
        let pin = &t.details.pin;
        if pin.locked {
            out.push(finding(
                "pin_locked",
                Severity::Critical,
                subject,
                std::slice::from_ref(&s),
            ));
        } else if pin.final_try {
            out.push(finding(
                "pin_final_try",
                Severity::Critical,
                subject,
                std::slice::from_ref(&s),
            ));
        } else if pin.count_low {
            out.push(finding(
                "pin_count_low",
                Severity::Warning,
                subject,
                std::slice::from_ref(&s),
            ));
        }
        if pin.to_be_changed && !pin.locked {
            out.push(finding(
                "pin_to_be_changed",
                Severity::Warning,
                subject,
                std::slice::from_ref(&s),
            ));
        }
        if t.details.so_pin.locked {
            out.push(finding(
                "so_pin_locked",
                Severity::Error,
                subject,
                std::slice::from_ref(&s),
            ));
        }
        // The vendor profile's SM2 mechanisms, when the key holds an SM2 certificate
        // or key.
        let vendor = t.vendor.as_deref().and_then(|v| catalog.vendor(v));
        let holds_sm2 = t.certificates.iter().any(|c| {
            c.info
                .as_ref()
                .is_some_and(|i| i.key_algorithm == "SM2" && !i.is_ca)
        }) || t.keys.iter().any(|k| k.key_type.as_deref() == Some("SM2"));
        if let (Some(v), Some(mechs), true) = (vendor, &t.mechanisms, holds_sm2) {
            if let Some(fam) = catalog.sm2_of(v) {
                let listed = |value: u64| {
                    mechs
                        .iter()
                        .any(|m| m.value.eq_ignore_ascii_case(&format!("0x{value:08X}")))
                };
                let signs = [fam.sm2_sign_raw, fam.sm3_sm2_sign]
                    .into_iter()
                    .flatten()
                    .any(listed);
                if !signs {
                    out.push(finding(
                        "sm2_mechanism_missing",
                        Severity::Warning,
                        subject,
                        &[s.clone(), ("vendor", text(&v.id))],
                    ));
                }
            }
        }
        for c in &t.certificates {
            let Some(info) = &c.info else {
                out.push(finding(
                    "cert_unreadable",
                    Severity::Warning,
                    subject,
                    &[s.clone(), ("id", text(&c.id))],
                ));
                continue;
            };
            if info.is_ca {
                continue;
            }
            let id = ("id", text(&c.id));
            let holder = (
                "holder",
                text(info.subject_cn.as_deref().unwrap_or(&info.subject)),
            );
            let not_after = ("not_after", text(&info.not_after));
            match info.renewal {
                certkey_protocol::rules::RenewalStatus::Expired => out.push(finding(
                    "cert_expired",
                    Severity::Error,
                    subject,
                    &[s.clone(), id.clone(), holder.clone(), not_after.clone()],
                )),
                certkey_protocol::rules::RenewalStatus::NotYetValid => out.push(finding(
                    "cert_not_yet_valid",
                    Severity::Warning,
                    subject,
                    &[
                        s.clone(),
                        id.clone(),
                        holder.clone(),
                        ("not_before", text(&info.not_before)),
                    ],
                )),
                certkey_protocol::rules::RenewalStatus::Renewable => out.push(finding(
                    "cert_renewal_window",
                    Severity::Warning,
                    subject,
                    &[
                        s.clone(),
                        id.clone(),
                        holder.clone(),
                        ("days", Param::Number(info.days_left)),
                        not_after.clone(),
                    ],
                )),
                certkey_protocol::rules::RenewalStatus::Valid => {}
            }
            if c.has_private_key == Some(false) {
                out.push(finding(
                    "cert_without_key",
                    Severity::Error,
                    subject,
                    &[s.clone(), id.clone(), holder.clone()],
                ));
            }
            let expired = matches!(
                info.renewal,
                certkey_protocol::rules::RenewalStatus::Expired
                    | certkey_protocol::rules::RenewalStatus::NotYetValid
            );
            if let Some(ch) = report
                .chains
                .iter()
                .find(|ch| ch.token == serial && ch.module == t.module && ch.id == c.id)
            {
                if let (Some(problem), false) = (&ch.problem, expired) {
                    out.push(finding(
                        "cert_untrusted",
                        Severity::Warning,
                        subject,
                        &[
                            s.clone(),
                            id.clone(),
                            holder.clone(),
                            ("reason", text(problem)),
                        ],
                    ));
                }
            }
            if let Some(seal) = &c.seal {
                if !seal.valid {
                    out.push(finding(
                        "seal_invalid",
                        Severity::Error,
                        subject,
                        &[
                            s.clone(),
                            id.clone(),
                            ("reason", text(seal.problem.as_deref().unwrap_or("unknown"))),
                        ],
                    ));
                }
            }
        }
    }
}

fn service_findings(report: &Report, out: &mut Vec<Finding>) {
    for s in &report.services {
        let subject = Some(s.url.as_str());
        let url = ("url", text(&s.url));
        if let Some(p) = &s.proxy {
            out.push(finding(
                "service_proxy",
                Severity::Info,
                subject,
                &[url.clone(), ("proxy", text(p))],
            ));
        }
        if let Some(e) = &s.dns_error {
            out.push(finding(
                "service_dns",
                Severity::Error,
                subject,
                &[url.clone(), ("host", text(&s.host)), ("reason", text(e))],
            ));
            continue;
        }
        if s.tcp_connected == Some(false) {
            out.push(finding(
                "service_unreachable",
                Severity::Error,
                subject,
                &[
                    url.clone(),
                    ("host", text(&s.host)),
                    ("port", Param::Number(i64::from(s.port))),
                    ("reason", text(s.tcp_error.as_deref().unwrap_or(""))),
                ],
            ));
            continue;
        }
        if s.tls_trusted == Some(false) {
            out.push(finding(
                "service_tls",
                Severity::Error,
                subject,
                &[
                    url.clone(),
                    ("reason", text(s.tls_error.as_deref().unwrap_or(""))),
                ],
            ));
            continue;
        }
        if let Some(e) = &s.api_error {
            out.push(finding(
                "service_api",
                Severity::Error,
                subject,
                &[url.clone(), ("reason", text(e))],
            ));
            continue;
        }
        if let Some(skew) = s.clock_skew_s {
            if skew.abs() >= SKEW_WARNING_S {
                let severity = if skew.abs() >= SKEW_ERROR_S {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                out.push(finding(
                    "clock_skew",
                    severity,
                    subject,
                    &[
                        url.clone(),
                        ("seconds", Param::Number(skew)),
                        ("minutes", Param::Number(skew.abs() / 60)),
                        // The service's clock is ahead: this computer's is behind.
                        ("direction", text(if skew > 0 { "behind" } else { "ahead" })),
                    ],
                ));
            }
        }
    }
}

/// The report with personal data redacted (see [`redact`]).
pub fn redacted(report: &Report) -> Report {
    let mut names: Vec<String> = Vec::new();
    for t in &report.tokens {
        for c in &t.certificates {
            if let Some(i) = &c.info {
                if !i.is_ca {
                    names.extend(i.subject_cn.clone());
                }
            }
            if let Some(seal) = &c.seal {
                names.extend(seal.name.clone());
            }
        }
    }
    let Ok(mut value) = serde_json::to_value(report) else {
        return report.clone();
    };
    let home = std::env::var("HOME").ok();
    redact::redact_value(&mut value, &names, home.as_deref());
    match serde_json::from_value::<Report>(value) {
        Ok(mut r) => {
            r.redacted = true;
            r
        }
        // Cannot happen (the shape is unchanged); never hand out the unredacted one:
        // only what holds no personal data is kept.
        Err(e) => Report {
            schema: report.schema.clone(),
            generated_at: report.generated_at.clone(),
            redacted: true,
            system: report.system.clone(),
            usb: report.usb.clone(),
            pcsc: report.pcsc.clone(),
            candidates: report.candidates.clone(),
            modules: Vec::new(),
            tokens: Vec::new(),
            errors: Vec::new(),
            chains: Vec::new(),
            services: Vec::new(),
            self_test: None,
            findings: Vec::new(),
            probe_errors: vec![ProbeError {
                probe: "redact".into(),
                reason: e.to_string(),
            }],
            trace: report.trace.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_engine_reports_is_listed() {
        let source = include_str!("mod.rs");
        // The engine's part of this file (not these tests).
        let mut rest = source.split("#[cfg(test)]").next().unwrap_or(source);
        let mut seen = 0;
        while let Some(at) = rest.find("finding(") {
            rest = &rest[at + "finding(".len()..];
            let arg = rest.trim_start();
            if let Some(code) = arg.strip_prefix('"').and_then(|a| a.split('"').next()) {
                assert!(CODES.contains(&code), "{code} is reported but not in CODES");
                seen += 1;
            }
        }
        assert!(seen >= CODES.len(), "found {seen} finding sites");
    }
}
