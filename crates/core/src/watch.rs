//! The live inventory behind the desktop app's overview: keys coming and going.
//!
//! Each loaded module gets its own worker thread that polls a cheap fingerprint of
//! its slots (C_GetSlotList and C_GetTokenInfo) and re-reads a token's objects only
//! when its fingerprint changes (or a refresh is asked for), so unchanged keys are
//! not re-read. A module that hangs blocks only its own worker: a supervisor marks
//! it as not responding once its call has taken longer than the timeout, and the
//! other modules go on being watched. Every change is published as a whole
//! [`LiveInventory`] through the callback given to [`Watch::start`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use cryptoki::slot::Slot;
use serde::Serialize;
use time::OffsetDateTime;

use crate::catalog::Catalog;
use crate::cert::{self, Parsed};
use crate::inventory::{self, Inventory, Modules, ScanOptions, TokenReport};
use crate::pkcs11::token::TokenDetails;
use crate::pkcs11::{ckr, LoadedModule};
use crate::{Error, Located};

/// How often and how patiently modules are polled.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Pause between two polls of a module.
    pub interval: Duration,
    /// A module whose poll takes longer is shown as not responding.
    pub timeout: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            interval: Duration::from_millis(250),
            timeout: Duration::from_secs(3),
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
    report: TokenReport,
    errors: Vec<Located>,
}

#[derive(Default)]
struct ModuleState {
    polled: bool,
    busy_since: Option<Instant>,
    stuck: Option<Error>,
    error: Option<Error>,
    slots: BTreeMap<u64, SlotState>,
}

struct Shared {
    catalog: Catalog,
    bundle: Vec<Vec<u8>>,
    modules: Arc<Modules>,
    states: Mutex<Vec<ModuleState>>,
    generation: AtomicU64,
    /// Bumped by [`Watch::refresh`]; each worker re-reads every token when it sees a
    /// value it has not handled yet.
    refresh: AtomicU64,
    stop: AtomicBool,
    publish: Box<dyn Fn(LiveInventory) + Send + Sync>,
}

/// A running watch; stops its threads when dropped (a worker stuck in a module call
/// ends when the call returns).
pub struct Watch {
    shared: Arc<Shared>,
}

impl Watch {
    /// Starts watching every loaded module of `modules`. `bundle` holds DER CA
    /// certificates for the signature checks, as in [`inventory::scan`]. `publish` is
    /// called (from a watch thread) after every change.
    pub fn start(
        modules: Arc<Modules>,
        catalog: Catalog,
        bundle: Vec<Vec<u8>>,
        opts: WatchOptions,
        publish: impl Fn(LiveInventory) + Send + Sync + 'static,
    ) -> Watch {
        let states = modules
            .loaded
            .iter()
            .map(|_| ModuleState::default())
            .collect();
        let shared = Arc::new(Shared {
            catalog,
            bundle,
            modules,
            states: Mutex::new(states),
            generation: AtomicU64::new(0),
            refresh: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            publish: Box::new(publish),
        });
        for index in 0..shared.modules.loaded.len() {
            let s = Arc::clone(&shared);
            let spawned = thread::Builder::new()
                .name(format!("certkey-watch-{index}"))
                .spawn(move || worker(&s, index, opts.interval));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a watch thread");
            }
        }
        let s = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("certkey-watch-supervisor".into())
            .spawn(move || supervisor(&s, opts));
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

    /// The modules being watched.
    pub fn modules(&self) -> &Arc<Modules> {
        &self.shared.modules
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

    fn assemble(&self, states: &[ModuleState]) -> LiveInventory {
        let mut inv = Inventory {
            schema: inventory::SCHEMA,
            ..Inventory::default()
        };
        inventory::push_failed_modules(&mut inv, &self.modules);
        for (m, st) in self.modules.loaded.iter().zip(states) {
            let path = m.spec.path.as_str();
            inventory::push_loaded_module(&mut inv, m);
            if let Some(e) = &st.stuck {
                inv.errors.push(Located::module(path, e.clone()));
                continue;
            }
            if let Some(e) = &st.error {
                inv.errors.push(Located::module(path, e.clone()));
            }
            for slot in st.slots.values() {
                inv.tokens.push(slot.report.clone());
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

fn worker(shared: &Shared, index: usize, interval: Duration) {
    let module = &shared.modules.loaded[index];
    let mut handled_refresh = 0;
    while !shared.stop.load(Ordering::SeqCst) {
        shared.lock()[index].busy_since = Some(Instant::now());
        let refresh = shared.refresh.load(Ordering::SeqCst);
        let reread_all = refresh != handled_refresh;
        handled_refresh = refresh;
        let seen = poll(module);
        // Read the tokens that changed before taking the lock: reading is slow.
        let mut fresh: BTreeMap<u64, SlotState> = BTreeMap::new();
        let mut kept: Vec<u64> = Vec::new();
        if let Ok(seen) = &seen {
            let known: Vec<(u64, bool)> = {
                let states = shared.lock();
                seen.iter()
                    .map(|(slot, d)| {
                        let same = states[index]
                            .slots
                            .get(&slot.id())
                            .is_some_and(|s| s.fingerprint == Fingerprint::of(d.clone()));
                        (slot.id(), same)
                    })
                    .collect()
            };
            for ((slot, details), (_, same)) in seen.iter().zip(known) {
                if same && !reread_all {
                    kept.push(slot.id());
                    continue;
                }
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
        st.busy_since = None;
        let mut change = was_stuck || first;
        match seen {
            Ok(_) => {
                change |= st.error.take().is_some();
                let before = st.slots.len();
                st.slots.retain(|id, _| kept.contains(id));
                change |= st.slots.len() != before || !fresh.is_empty();
                st.slots.append(&mut fresh);
            }
            Err(e) => {
                change |= st.error.as_ref() != Some(&e) || !st.slots.is_empty();
                st.error = Some(e);
                st.slots.clear();
            }
        }
        if change {
            shared.changed(states);
        } else {
            drop(states);
        }
        thread::sleep(interval);
    }
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
    match inventory::read_token(module, slot, &shared.catalog, &bundle, &opts, &mut errors) {
        Ok(Some(report)) => Some(SlotState {
            fingerprint: Fingerprint::of(details.clone()),
            report,
            errors,
        }),
        Ok(None) => None,
        // Pulled out while being read: seen again at the next poll.
        Err(e) => {
            tracing::debug!(slot = slot.id(), error = %e, "token read failed");
            None
        }
    }
}

fn supervisor(shared: &Shared, opts: WatchOptions) {
    while !shared.stop.load(Ordering::SeqCst) {
        thread::sleep(opts.interval);
        let mut states = shared.lock();
        let mut change = false;
        for (m, st) in shared.modules.loaded.iter().zip(states.iter_mut()) {
            if let (Some(since), None) = (st.busy_since, &st.stuck) {
                let busy = since.elapsed();
                if busy > opts.timeout {
                    tracing::warn!(module = %m.spec.path, "module not responding");
                    st.stuck = Some(Error::ModuleNotResponding {
                        module: m.spec.path.clone(),
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
