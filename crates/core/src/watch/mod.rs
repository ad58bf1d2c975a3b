//! The live inventory behind the desktop app's overview: keys coming and going.
//!
//! Each module gets its own worker thread that loads it (C_Initialize) and then polls
//! a cheap fingerprint of its slots (C_GetSlotList and C_GetTokenInfo), re-reading a
//! token's objects only when its fingerprint changes (or a refresh is asked for), so
//! unchanged keys are not re-read. A module that hangs blocks only its own worker:
//! a supervisor marks it as not responding once a call has taken longer than its
//! budget (loading, polling and reading a token each have their own), and the other
//! modules go on being watched. Every change is published as a whole
//! [`LiveInventory`] through the callback given to [`Watch::start`].

mod isolated;

pub use isolated::{helper_main, serve, HelperCommand, IsolatedWatch, Report, Setup, WireLocated};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use cryptoki::slot::Slot;
use serde::Serialize;
use time::OffsetDateTime;

use crate::catalog::Catalog;
use crate::cert::{self, Parsed};
use crate::inventory::{self, Inventory, ScanOptions, TokenReport};
use crate::pkcs11::module::ModuleSpec;
use crate::pkcs11::token::TokenDetails;
use crate::pkcs11::{ckr, LoadedModule};
use crate::{Error, Located};

/// How often and how patiently modules are polled.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Pause between two polls of a module.
    pub interval: Duration,
    /// A poll (C_GetSlotList and each token's C_GetTokenInfo) taking longer shows
    /// the module as not responding.
    pub timeout: Duration,
    /// The same for loading a module (C_Initialize, C_GetInfo).
    pub load_timeout: Duration,
    /// The same for reading one token's objects.
    pub read_timeout: Duration,
    /// A token that could not be read is tried again after this long.
    pub retry: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            interval: Duration::from_millis(250),
            timeout: Duration::from_secs(3),
            load_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(15),
            retry: Duration::from_secs(5),
        }
    }
}

/// The inventory as last seen, with whether every module has been read once.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LiveInventory {
    /// Every module has answered (or timed out) at least once.
    pub complete: bool,
    /// Increases with every change.
    pub generation: u64,
    /// Modules, keys and errors.
    pub inventory: Inventory,
}

/// What a poll saw of one token, for comparison with the next poll. The session
/// counts and the token's clock change on their own and are left out.
#[derive(PartialEq)]
struct Fingerprint(TokenDetails);

impl Fingerprint {
    fn of(mut d: TokenDetails) -> Self {
        d.sessions = Default::default();
        d.utc_time = None;
        Fingerprint(d)
    }
}

struct SlotState {
    fingerprint: Fingerprint,
    /// None when the token could not be read at all (the error is in `errors`).
    report: Option<TokenReport>,
    errors: Vec<Located>,
    /// When a failed read is tried again.
    retry_at: Option<Instant>,
}

#[derive(Default)]
struct ModuleState {
    /// Loaded (or failed to load) and polled at least once.
    polled: bool,
    /// The call in progress: since when, and how long it may take.
    busy: Option<(Instant, Duration)>,
    stuck: Option<Error>,
    load_error: Option<Error>,
    error: Option<Error>,
    slots: BTreeMap<u64, SlotState>,
}

/// One module: what to load and, once its worker loaded it, the module.
struct Entry {
    spec: ModuleSpec,
    loaded: OnceLock<LoadedModule>,
}

struct Shared {
    catalog: Catalog,
    bundle: Vec<Vec<u8>>,
    modules: Vec<Entry>,
    states: Mutex<Vec<ModuleState>>,
    generation: AtomicU64,
    /// Bumped by [`Watch::refresh`]; each worker re-reads every token when it sees a
    /// value it has not handled yet.
    refresh: AtomicU64,
    stop: AtomicBool,
    opts: WatchOptions,
    publish: Box<dyn Fn(LiveInventory) + Send + Sync>,
}

/// A running watch; stops its threads when dropped (a worker stuck in a module call
/// ends when the call returns).
pub struct Watch {
    shared: Arc<Shared>,
}

impl Watch {
    /// Loads and watches every module of `specs`, each on its own thread (a module
    /// whose C_Initialize hangs is shown as not responding; the others go on).
    /// `bundle` holds DER CA certificates for the signature checks, as in
    /// [`inventory::scan`]. `publish` is called (from a watch thread) after every
    /// change.
    pub fn start(
        specs: Vec<ModuleSpec>,
        catalog: Catalog,
        bundle: Vec<Vec<u8>>,
        opts: WatchOptions,
        publish: impl Fn(LiveInventory) + Send + Sync + 'static,
    ) -> Watch {
        let states = specs.iter().map(|_| ModuleState::default()).collect();
        let shared = Arc::new(Shared {
            catalog,
            bundle,
            modules: specs
                .into_iter()
                .map(|spec| Entry {
                    spec,
                    loaded: OnceLock::new(),
                })
                .collect(),
            states: Mutex::new(states),
            generation: AtomicU64::new(0),
            refresh: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            opts,
            publish: Box::new(publish),
        });
        for index in 0..shared.modules.len() {
            let s = Arc::clone(&shared);
            let spawned = thread::Builder::new()
                .name(format!("certkey-watch-{index}"))
                .spawn(move || worker(&s, index));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a watch thread");
                let mut states = shared.lock();
                states[index].polled = true;
                states[index].load_error = Some(Error::ModuleMisbehaved {
                    reason: format!("cannot start a thread for the module: {e}"),
                });
            }
        }
        let s = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("certkey-watch-supervisor".into())
            .spawn(move || supervisor(&s));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the watch supervisor");
        }
        Watch { shared }
    }

    /// The inventory as last seen.
    pub fn snapshot(&self) -> LiveInventory {
        let states = self.shared.lock();
        self.shared.assemble(&states)
    }

    /// Re-reads every token at the next poll (after an operation changed a key's
    /// objects without changing its token information).
    pub fn refresh(&self) {
        self.shared.refresh.fetch_add(1, Ordering::SeqCst);
    }

    /// The module the key with `serial` was last seen in, without calling any module:
    /// an operation then touches only that module, so a module that hangs never
    /// holds up operations on keys of other modules. A key last seen in a module that
    /// stopped responding gives that module's error at once.
    pub fn module_for(&self, serial: &str) -> Result<&LoadedModule, Error> {
        let states = self.shared.lock();
        let mut found: Vec<usize> = Vec::new();
        for (index, st) in states.iter().enumerate() {
            let here = st.slots.values().any(|s| {
                s.report
                    .as_ref()
                    .is_some_and(|r| !serial.is_empty() && r.details.serial == serial)
            });
            if here {
                if let Some(e) = &st.stuck {
                    return Err(e.clone());
                }
                found.push(index);
            }
        }
        let not_found = || Error::TokenNotFound {
            serial: serial.to_string(),
        };
        match found.as_slice() {
            [index] => self.shared.modules[*index]
                .loaded
                .get()
                .ok_or_else(not_found),
            [] => Err(not_found()),
            several => Err(Error::TokenAmbiguous {
                serial: serial.to_string(),
                modules: several
                    .iter()
                    .map(|i| self.shared.modules[*i].spec.path.clone())
                    .collect(),
            }),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<ModuleState>> {
        // A worker that panicked left consistent data behind (each update is one
        // assignment), so a poisoned lock is still usable.
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the start of a call into module `index` that may take `budget`.
    fn busy(&self, index: usize, budget: Duration) {
        self.lock()[index].busy = Some((Instant::now(), budget));
    }

    fn assemble(&self, states: &[ModuleState]) -> LiveInventory {
        let mut inv = Inventory {
            schema: inventory::SCHEMA,
            ..Inventory::default()
        };
        for (entry, st) in self.modules.iter().zip(states) {
            let path = entry.spec.path.as_str();
            if let Some(e) = &st.load_error {
                inventory::push_failed_module(&mut inv, &entry.spec, e);
                continue;
            }
            match entry.loaded.get() {
                Some(m) => inventory::push_loaded_module(&mut inv, m),
                // Still loading: listed, not loaded (yet).
                None => inventory::push_unloaded_module(&mut inv, &entry.spec),
            }
            if let Some(e) = &st.stuck {
                inv.errors.push(Located::module(path, e.clone()));
                continue;
            }
            if let Some(e) = &st.error {
                inv.errors.push(Located::module(path, e.clone()));
            }
            for slot in st.slots.values() {
                if let Some(report) = &slot.report {
                    inv.tokens.push(report.clone());
                }
                inv.errors.extend(slot.errors.iter().cloned());
            }
        }
        LiveInventory {
            complete: states.iter().all(|s| s.polled || s.stuck.is_some()),
            generation: self.generation.load(Ordering::SeqCst),
            inventory: inv,
        }
    }

    /// Records a change and publishes the new inventory (outside the lock).
    fn changed(&self, states: MutexGuard<'_, Vec<ModuleState>>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let live = self.assemble(&states);
        drop(states);
        (self.publish)(live);
    }
}

/// One poll's view of a module: each slot with a token and its fingerprint.
fn poll(m: &LoadedModule) -> Result<Vec<(Slot, TokenDetails)>, Error> {
    let slots = m
        .ctx
        .get_slots_with_token()
        .map_err(|e| ckr::convert(e, "C_GetSlotList"))?;
    let mut seen = Vec::with_capacity(slots.len());
    for slot in slots {
        match m.ctx.get_token_info(slot) {
            Ok(info) => seen.push((slot, TokenDetails::from(&info))),
            // Pulled out between the two calls: gone until the next poll.
            Err(e) => tracing::debug!(slot = slot.id(), error = %e, "C_GetTokenInfo"),
        }
    }
    Ok(seen)
}

fn worker(shared: &Shared, index: usize) {
    let entry = &shared.modules[index];
    shared.busy(index, shared.opts.load_timeout);
    let loaded = LoadedModule::load(entry.spec.clone());
    let module = match loaded {
        Ok(m) => entry.loaded.get_or_init(|| m),
        Err(e) => {
            tracing::warn!(module = %entry.spec.path, error = %e, "module failed");
            let mut states = shared.lock();
            let st = &mut states[index];
            st.busy = None;
            st.stuck = None;
            st.polled = true;
            st.load_error = Some(e);
            shared.changed(states);
            return;
        }
    };
    let mut handled_refresh = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        // A module that cannot lock for itself is called by one thread at a time: an
        // operation holding it pauses the polls (its keys stay as last seen).
        match module.hold(Duration::ZERO) {
            Ok(held) => {
                let change = poll_once(shared, index, module, &mut handled_refresh);
                // Published once the module is free again.
                drop(held);
                if change {
                    shared.changed(shared.lock());
                }
            }
            Err(_) => tracing::trace!(module = %entry.spec.path, "busy with an operation"),
        }
        thread::sleep(shared.opts.interval);
    }
}

/// Whether a token read failed because the key went away meanwhile:
/// CKR_SLOT_ID_INVALID, CKR_DEVICE_REMOVED, CKR_SESSION_CLOSED,
/// CKR_SESSION_HANDLE_INVALID, CKR_TOKEN_NOT_PRESENT.
fn pulled_out(e: &Error) -> bool {
    [0x03, 0x32, 0xB0, 0xB3, 0xE0]
        .iter()
        .any(|c| ckr::is_ckr(e, *c))
}

/// One poll of module `index`; whether anything changed.
fn poll_once(
    shared: &Shared,
    index: usize,
    module: &LoadedModule,
    handled_refresh: &mut u64,
) -> bool {
    shared.busy(index, shared.opts.timeout);
    let refresh = shared.refresh.load(Ordering::SeqCst);
    let reread_all = refresh != *handled_refresh;
    *handled_refresh = refresh;
    let seen = poll(module);
    // Read the tokens that changed before taking the lock: reading is slow.
    let mut fresh: BTreeMap<u64, SlotState> = BTreeMap::new();
    let mut kept: Vec<u64> = Vec::new();
    if let Ok(seen) = &seen {
        let now = Instant::now();
        let known: Vec<bool> = {
            let states = shared.lock();
            seen.iter()
                .map(|(slot, d)| {
                    states[index].slots.get(&slot.id()).is_some_and(|s| {
                        s.fingerprint == Fingerprint::of(d.clone())
                            && s.retry_at.is_none_or(|at| now < at)
                    })
                })
                .collect()
        };
        for ((slot, details), same) in seen.iter().zip(known) {
            if same && !reread_all {
                kept.push(slot.id());
                continue;
            }
            shared.busy(index, shared.opts.read_timeout);
            if let Some(state) = read(shared, module, *slot, details) {
                fresh.insert(slot.id(), state);
            }
        }
    }
    let mut states = shared.lock();
    let st = &mut states[index];
    let was_stuck = st.stuck.take().is_some();
    let first = !st.polled;
    st.polled = true;
    st.busy = None;
    let mut change = was_stuck || first;
    match seen {
        Ok(_) => {
            change |= st.error.take().is_some();
            // A token that failed again the same way is no change.
            let repeated = |id: &u64, new: &SlotState| {
                st.slots.get(id).is_some_and(|old| {
                    old.report.is_none() && new.report.is_none() && old.errors == new.errors
                })
            };
            let news = fresh.iter().filter(|(id, new)| !repeated(id, new)).count();
            for (id, new) in &fresh {
                if new.report.is_none() && !repeated(id, new) {
                    tracing::warn!(module = %module.spec.path, slot = id, "token cannot be read");
                }
            }
            let before = st.slots.len();
            st.slots
                .retain(|id, _| kept.contains(id) || fresh.contains_key(id));
            change |= st.slots.len() != before || news > 0;
            st.slots.append(&mut fresh);
        }
        Err(e) => {
            change |= st.error.as_ref() != Some(&e) || !st.slots.is_empty();
            st.error = Some(e);
            st.slots.clear();
        }
    }
    change
}

fn read(
    shared: &Shared,
    module: &LoadedModule,
    slot: Slot,
    details: &TokenDetails,
) -> Option<SlotState> {
    let bundle: Vec<Parsed<'_>> = shared
        .bundle
        .iter()
        .filter_map(|d| cert::parse(d).ok())
        .collect();
    let opts = ScanOptions {
        now: OffsetDateTime::now_utc(),
        ..ScanOptions::default()
    };
    let mut errors = Vec::new();
    let fingerprint = Fingerprint::of(details.clone());
    match inventory::read_token(module, slot, &shared.catalog, &bundle, &opts, &mut errors) {
        // Pulled out while being read: gone at the next poll (no error to flash).
        Ok(Some(_)) if errors.iter().any(|e| pulled_out(&e.error)) => None,
        Ok(Some(report)) => Some(SlotState {
            fingerprint,
            report: Some(report),
            errors,
            retry_at: None,
        }),
        Ok(None) => None,
        // Pulled out while being read: gone at the next poll (no error to flash).
        Err(e) if pulled_out(&e) => {
            tracing::debug!(slot = slot.id(), error = %e, "token gone while read");
            None
        }
        // Unreadable: shown in the slot's place, tried again later.
        Err(e) => {
            tracing::debug!(module = %module.spec.path, slot = slot.id(), error = %e, "token read failed");
            errors.push(Located {
                module: Some(module.spec.path.clone()),
                slot: Some(slot.id()),
                token: Some(details.serial.clone()).filter(|s| !s.is_empty()),
                object: None,
                error: e,
            });
            Some(SlotState {
                fingerprint,
                report: None,
                errors,
                retry_at: Some(Instant::now() + shared.opts.retry),
            })
        }
    }
}

fn supervisor(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        thread::sleep(shared.opts.interval);
        let mut states = shared.lock();
        let mut change = false;
        for (entry, st) in shared.modules.iter().zip(states.iter_mut()) {
            if let (Some((since, budget)), None) = (st.busy, &st.stuck) {
                let busy = since.elapsed();
                if busy > budget {
                    tracing::warn!(module = %entry.spec.path, "module not responding");
                    st.stuck = Some(Error::ModuleNotResponding {
                        module: entry.spec.path.clone(),
                        seconds: busy.as_secs(),
                    });
                    change = true;
                }
            }
        }
        if change {
            shared.changed(states);
        }
    }
}
