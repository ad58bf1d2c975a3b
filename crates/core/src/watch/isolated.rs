//! Watching each module in a helper process, so that a module that crashes takes
//! only its helper down, never the app (docs/module-isolation.md).
//!
//! [`IsolatedWatch`] starts one helper per module (a program that calls [`serve`]:
//! the desktop app runs itself as `certkey-app --watch-module PATH`). It sends the
//! helper one [`Setup`] line on stdin; the helper watches the module with the
//! in-process [`Watch`] and writes one JSON [`Report`] line on stdout per change,
//! and an `alive` line every second. A helper that ends abnormally is shown as
//! `module_crashed` in its module's place and started again after 1, 5, 30, then
//! every 60 seconds; one that stops writing lines is shown as not responding, ended
//! and started again the same way. The other modules go on being watched.

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{LiveInventory, Watch, WatchOptions};
use crate::catalog::Catalog;
use crate::inventory::{self, Inventory, ModuleReport, TokenReport};
use crate::pkcs11::module::ModuleSpec;
use crate::{Error, Located};

/// The longest line either side accepts.
const LINE_LIMIT: u64 = 4 << 20;

/// Pauses before a crashed helper is started again; the last repeats.
const BACKOFF: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(60),
];

/// A helper that ran this long before ending starts the back-off afresh.
const HEALTHY: Duration = Duration::from_secs(60);

/// How often a helper says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The program that serves one module: `program args... MODULE_PATH`, reading the
/// [`Setup`] on stdin (see [`serve`]).
#[derive(Debug, Clone)]
pub struct HelperCommand {
    /// The executable.
    pub program: PathBuf,
    /// Arguments before the module's path.
    pub args: Vec<String>,
}

/// What a helper is told on its first stdin line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Setup {
    /// The module to watch.
    pub spec: ModuleSpec,
    /// The vendor catalog (validated as it is read).
    pub catalog: Catalog,
    /// DER CA certificates for the signature checks.
    pub bundle: Vec<certkey_protocol::Base64>,
    /// Poll pause, ms.
    pub interval_ms: u64,
    /// Poll budget, ms.
    pub timeout_ms: u64,
    /// Load budget, ms.
    pub load_timeout_ms: u64,
    /// Token read budget, ms.
    pub read_timeout_ms: u64,
    /// Retry pause for an unreadable token, ms.
    pub retry_ms: u64,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Setup {
    fn options(&self) -> WatchOptions {
        WatchOptions {
            interval: Duration::from_millis(self.interval_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            load_timeout: Duration::from_millis(self.load_timeout_ms),
            read_timeout: Duration::from_millis(self.read_timeout_ms),
            retry: Duration::from_millis(self.retry_ms),
        }
    }
}

/// One line a helper writes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// Each report lives for one line: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Report {
    /// The module as now seen.
    State {
        /// The module has been loaded and polled (or failed) at least once.
        complete: bool,
        /// The module (absent while it loads).
        module: Option<ModuleReport>,
        /// Its keys.
        tokens: Vec<TokenReport>,
        /// What failed, where.
        errors: Vec<WireLocated>,
    },
    /// Nothing changed; the helper is alive.
    Alive,
    /// The setup could not be used; the helper ends.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A [`Located`] on the wire: the error nested, not flattened (a flattened error
/// with a `module` field of its own would not read back).
#[derive(Debug, Serialize, Deserialize)]
pub struct WireLocated {
    module: Option<String>,
    slot: Option<u64>,
    token: Option<String>,
    object: Option<String>,
    error: Error,
}

impl From<Located> for WireLocated {
    fn from(l: Located) -> Self {
        WireLocated {
            module: l.module,
            slot: l.slot,
            token: l.token,
            object: l.object,
            error: l.error,
        }
    }
}

impl From<WireLocated> for Located {
    fn from(l: WireLocated) -> Self {
        Located {
            module: l.module,
            slot: l.slot,
            token: l.token,
            object: l.object,
            error: l.error,
        }
    }
}

/// Reads one line of at most [`LINE_LIMIT`] bytes; `None` at the end.
fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = String::new();
    let n = r.by_ref().take(LINE_LIMIT).read_line(&mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if !line.ends_with('\n') && n as u64 == LINE_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a line longer than 4 MiB",
        ));
    }
    Ok(Some(line))
}

enum Event {
    Changed(LiveInventory),
    Refresh,
    End,
}

fn write_report(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Serves one module as a helper: reads the [`Setup`] line from `input`, watches
/// the module and writes [`Report`] lines to `output` until `input` ends (the app
/// went away) or `output` cannot be written. A later `refresh` line on `input`
/// re-reads every token. A setup that cannot be used is reported as
/// [`Report::Failed`] (and returned).
pub fn serve(input: impl Read + Send + 'static, mut output: impl Write) -> Result<(), String> {
    let mut input = BufReader::new(input);
    let setup = read_line(&mut input)
        .map_err(|e| format!("cannot read the setup: {e}"))
        .and_then(|l| l.ok_or_else(|| "no setup line on stdin".to_string()))
        .and_then(|l| {
            serde_json::from_str::<Setup>(&l)
                .map_err(|e| format!("the setup line is not valid: {e}"))
        });
    let setup = match setup {
        Ok(s) => s,
        Err(reason) => {
            let _ = write_report(
                &mut output,
                &Report::Failed {
                    reason: reason.clone(),
                },
            );
            return Err(reason);
        }
    };
    let opts = setup.options();
    let (tx, rx) = mpsc::channel();
    let changes = tx.clone();
    let watch = Watch::start(
        vec![setup.spec],
        setup.catalog,
        setup.bundle.into_iter().map(|b| b.0).collect(),
        opts,
        move |live| {
            let _ = changes.send(Event::Changed(live));
        },
    );
    thread::Builder::new()
        .name("certkey-helper-stdin".into())
        .spawn(move || loop {
            match read_line(&mut input) {
                Ok(Some(l)) if l.trim() == "refresh" => {
                    let _ = tx.send(Event::Refresh);
                }
                Ok(Some(l)) => tracing::warn!(line = %l.trim(), "unknown request"),
                Ok(None) | Err(_) => {
                    let _ = tx.send(Event::End);
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let mut last_write = Instant::now();
    loop {
        // Alive at least every HEARTBEAT, however busy the channel is.
        let wait = HEARTBEAT.saturating_sub(last_write.elapsed());
        let report = match rx.recv_timeout(wait) {
            Ok(Event::Changed(live)) => {
                let inv = live.inventory;
                Report::State {
                    complete: live.complete,
                    module: inv.modules.into_iter().next(),
                    tokens: inv.tokens,
                    errors: inv.errors.into_iter().map(WireLocated::from).collect(),
                }
            }
            Ok(Event::Refresh) => {
                watch.refresh();
                if last_write.elapsed() < HEARTBEAT {
                    continue;
                }
                Report::Alive
            }
            Ok(Event::End) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => Report::Alive,
        };
        if let Err(e) = write_report(&mut output, &report) {
            // The app went away.
            tracing::debug!(error = %e, "cannot write to the app");
            return Ok(());
        }
        last_write = Instant::now();
    }
}

/// The whole of a helper process: [`serve`] on stdin and stdout, then the process
/// ends at once (exit status 0, or 2 when the setup could not be used) — without
/// running library destructors, which could wait forever on a module call still in
/// progress on a watch thread. On Unix, anything a module prints to stdout goes to
/// stderr instead, so that only reports reach the app, and a crash leaves no core
/// dump (a crashing module is expected here and reported by the app).
pub fn helper_main() -> ! {
    let result = serve_stdio();
    if let Err(e) = &result {
        eprintln!("module watch: {e}");
    }
    let code = if result.is_ok() { 0 } else { 2 };
    #[cfg(unix)]
    // SAFETY: ends the process without running destructors; nothing is left to
    // flush (reports are flushed line by line, stderr is unbuffered).
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}

fn serve_stdio() -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: prctl, fcntl and dup2 on this process and its own standard
        // descriptors; the duplicate is owned by the File from here on. The
        // duplicate is close-on-exec: a program a module starts must not hold the
        // report pipe open (the app would never see this helper end).
        let out = unsafe {
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
            if fd < 0 || libc::dup2(2, 1) < 0 {
                return Err(format!(
                    "cannot set up stdout: {}",
                    io::Error::last_os_error()
                ));
            }
            std::fs::File::from_raw_fd(fd)
        };
        serve(io::stdin(), io::BufWriter::new(out))
    }
    #[cfg(not(unix))]
    serve(io::stdin(), io::stdout())
}

/// What the app knows of one helper's module.
#[derive(Default)]
struct Seen {
    /// The helper's last report.
    complete: bool,
    module: Option<ModuleReport>,
    tokens: Vec<TokenReport>,
    errors: Vec<Located>,
    /// Why the module is not shown (crashed, not responding, no helper).
    down: Option<Error>,
    /// Serials listed while the module last answered: an operation on one of them
    /// gets the module's error while it is down or stuck.
    known: BTreeSet<String>,
    /// The running helper.
    child: Option<Arc<Mutex<Child>>>,
    stdin: Option<ChildStdin>,
    /// When its last line came.
    last_line: Option<Instant>,
    /// The supervisor ended it for not writing.
    killed: bool,
}

struct Shared {
    helper: HelperCommand,
    specs: Vec<ModuleSpec>,
    catalog: Catalog,
    bundle: Vec<Vec<u8>>,
    opts: WatchOptions,
    seen: Mutex<Vec<Seen>>,
    generation: AtomicU64,
    stop: AtomicBool,
    publish: Box<dyn Fn(LiveInventory) + Send + Sync>,
}

/// The live inventory, each module watched by a helper process; stops the helpers
/// when dropped.
pub struct IsolatedWatch {
    shared: Arc<Shared>,
}

impl IsolatedWatch {
    /// Starts one helper per module of `specs` (each with `helper`), as
    /// [`Watch::start`] watches them in-process. `publish` is called after every
    /// change.
    pub fn start(
        specs: Vec<ModuleSpec>,
        helper: HelperCommand,
        catalog: Catalog,
        bundle: Vec<Vec<u8>>,
        opts: WatchOptions,
        publish: impl Fn(LiveInventory) + Send + Sync + 'static,
    ) -> IsolatedWatch {
        let shared = Arc::new(Shared {
            helper,
            seen: Mutex::new(specs.iter().map(|_| Seen::default()).collect()),
            specs,
            catalog,
            bundle,
            opts,
            generation: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            publish: Box::new(publish),
        });
        for index in 0..shared.specs.len() {
            let s = Arc::clone(&shared);
            let spawned = thread::Builder::new()
                .name(format!("certkey-helper-{index}"))
                .spawn(move || keep_helper(&s, index));
            if let Err(e) = spawned {
                let mut seen = shared.lock();
                seen[index].down = Some(Error::ModuleMisbehaved {
                    reason: format!("cannot start a thread for the module: {e}"),
                });
            }
        }
        let s = Arc::clone(&shared);
        if let Err(e) = thread::Builder::new()
            .name("certkey-helper-supervisor".into())
            .spawn(move || supervise(&s))
        {
            tracing::error!(error = %e, "cannot start the helper supervisor");
        }
        IsolatedWatch { shared }
    }

    /// The inventory as last seen.
    pub fn snapshot(&self) -> LiveInventory {
        let seen = self.shared.lock();
        self.shared.assemble(&seen)
    }

    /// Re-reads every token (after an operation changed a key's objects).
    pub fn refresh(&self) {
        let mut seen = self.shared.lock();
        for s in seen.iter_mut() {
            if let Some(stdin) = &mut s.stdin {
                // A helper that is gone is started again with a full read anyway.
                let _ = stdin.write_all(b"refresh\n").and_then(|()| stdin.flush());
            }
        }
    }

    /// The module the key with `serial` was last seen in, for an operation to load
    /// (only that module is touched). A key last seen in a module that crashed or
    /// stopped responding gives that module's error.
    pub fn module_for(&self, serial: &str) -> Result<ModuleSpec, Error> {
        let seen = self.shared.lock();
        let mut found = Vec::new();
        for (index, s) in seen.iter().enumerate() {
            if serial.is_empty() || !s.known.contains(serial) {
                continue;
            }
            if let Some(e) = s.down.as_ref().or_else(|| stuck(s)) {
                return Err(e.clone());
            }
            if s.tokens.iter().any(|t| t.details.serial == serial) {
                found.push(index);
            }
        }
        match found.as_slice() {
            [index] => Ok(self.shared.specs[*index].clone()),
            [] => Err(Error::TokenNotFound {
                serial: serial.to_string(),
            }),
            several => Err(Error::TokenAmbiguous {
                serial: serial.to_string(),
                modules: several
                    .iter()
                    .map(|i| self.shared.specs[*i].path.clone())
                    .collect(),
            }),
        }
    }
}

/// The helper's own report that its module does not answer.
fn stuck(s: &Seen) -> Option<&Error> {
    s.errors
        .iter()
        .find(|e| e.slot.is_none() && matches!(e.error, Error::ModuleNotResponding { .. }))
        .map(|e| &e.error)
}

impl Drop for IsolatedWatch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut seen = self.shared.lock();
        for s in seen.iter_mut() {
            s.stdin = None;
            if let Some(child) = &s.child {
                let _ = lock_child(child).kill();
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<Seen>> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn assemble(&self, seen: &[Seen]) -> LiveInventory {
        let mut inv = Inventory {
            schema: inventory::SCHEMA,
            ..Inventory::default()
        };
        for (spec, s) in self.specs.iter().zip(seen) {
            match &s.module {
                Some(m) => inv.modules.push(m.clone()),
                None => inventory::push_unloaded_module(&mut inv, spec),
            }
            if let Some(e) = &s.down {
                inv.errors.push(Located::module(&spec.path, e.clone()));
                continue;
            }
            inv.tokens.extend(s.tokens.iter().cloned());
            inv.errors.extend(s.errors.iter().cloned());
        }
        LiveInventory {
            complete: seen.iter().all(|s| s.complete || s.down.is_some()),
            generation: self.generation.load(Ordering::SeqCst),
            inventory: inv,
        }
    }

    fn changed(&self, seen: MutexGuard<'_, Vec<Seen>>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let live = self.assemble(&seen);
        drop(seen);
        (self.publish)(live);
    }

    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stop.load(Ordering::SeqCst) && Instant::now() < until {
            thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }

    fn setup_line(&self, index: usize) -> Result<Vec<u8>, Error> {
        let setup = Setup {
            spec: self.specs[index].clone(),
            catalog: self.catalog.clone(),
            bundle: self
                .bundle
                .iter()
                .cloned()
                .map(certkey_protocol::Base64)
                .collect(),
            interval_ms: ms(self.opts.interval),
            timeout_ms: ms(self.opts.timeout),
            load_timeout_ms: ms(self.opts.load_timeout),
            read_timeout_ms: ms(self.opts.read_timeout),
            retry_ms: ms(self.opts.retry),
        };
        let mut line = serde_json::to_vec(&setup).map_err(|e| Error::ModuleMisbehaved {
            reason: format!("cannot describe the module to its watch: {e}"),
        })?;
        line.push(b'\n');
        Ok(line)
    }
}

/// Runs module `index`'s helper, again and again with a back-off, until the watch
/// stops.
fn keep_helper(shared: &Shared, index: usize) {
    let path = shared.specs[index].path.clone();
    let mut failures = 0usize;
    while !shared.stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let ended = run_helper(shared, index);
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if started.elapsed() >= HEALTHY {
            failures = 0;
        }
        let pause = BACKOFF[failures.min(BACKOFF.len() - 1)];
        failures += 1;
        let mut seen = shared.lock();
        let s = &mut seen[index];
        let error = match ended {
            Ended::Status(_) if s.killed => Error::ModuleNotResponding {
                module: path.clone(),
                seconds: s.last_line.map_or(0, |t| t.elapsed().as_secs()),
            },
            Ended::Status(status) => {
                tracing::warn!(module = %path, %status, "the module's watch ended");
                crashed(&path, status, pause)
            }
            Ended::Failed(e) => {
                tracing::warn!(module = %path, error = %e, "the module's watch failed");
                e
            }
        };
        // Its keys are hidden (and an operation on one gets this error) until a new
        // helper reports its state.
        s.down = Some(error);
        s.child = None;
        s.stdin = None;
        s.killed = false;
        shared.changed(seen);
        shared.sleep(pause);
    }
}

fn crashed(path: &str, status: ExitStatus, pause: Duration) -> Error {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = None;
    Error::ModuleCrashed {
        module: path.to_string(),
        signal,
        status: status.code(),
        retry_s: pause.as_secs(),
    }
}

enum Ended {
    /// The helper ended (by itself, by a signal, or killed as not responding).
    Status(ExitStatus),
    /// It could not be started, or said something that is not a report.
    Failed(Error),
}

/// Starts module `index`'s helper and follows its reports until it ends.
fn run_helper(shared: &Shared, index: usize) -> Ended {
    let path = &shared.specs[index].path;
    let failed = |reason: String| Error::ModuleMisbehaved { reason };
    let line = match shared.setup_line(index) {
        Ok(l) => l,
        Err(e) => return Ended::Failed(e),
    };
    let spawned = Command::new(&shared.helper.program)
        .args(&shared.helper.args)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Ended::Failed(failed(format!(
                "cannot start the module's watch ({}): {e}",
                shared.helper.program.display()
            )))
        }
    };
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Ended::Failed(failed("the module's watch has no pipes".into()));
    };
    // Writes to a helper never block the app (a helper that stops reading is ended
    // by the supervisor; a lost `refresh` is made up by the next helper's full read).
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor this function owns.
        unsafe {
            let fd = stdin.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
        }
    }
    let child = Arc::new(Mutex::new(child));
    {
        // Registered before anything is written, so that the supervisor can end it
        // and a watch being dropped meanwhile ends it too.
        let mut seen = shared.lock();
        let s = &mut seen[index];
        s.child = Some(Arc::clone(&child));
        s.stdin = Some(stdin);
        s.last_line = Some(Instant::now());
        s.killed = false;
        // Shown as loading (or as still down) until its first report.
        s.complete = false;
        s.module = None;
        if shared.stop.load(Ordering::SeqCst) {
            let _ = lock_child(&child).kill();
        } else if let Some(stdin) = &mut s.stdin {
            let _ = stdin.write_all(&line).and_then(|()| stdin.flush());
        }
    }
    let mut out = BufReader::new(stdout);
    let mut problem = None;
    loop {
        let line = match read_line(&mut out) {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                problem = Some(format!("the module's watch wrote an unreadable line: {e}"));
                break;
            }
        };
        let report: Report = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                problem = Some(format!("the module's watch wrote something else: {e}"));
                break;
            }
        };
        let mut seen = shared.lock();
        let s = &mut seen[index];
        s.last_line = Some(Instant::now());
        match report {
            Report::Alive => {}
            Report::Failed { reason } => {
                problem = Some(format!("the module's watch could not start: {reason}"));
                break;
            }
            Report::State {
                complete,
                module,
                tokens,
                errors,
            } => {
                s.down = None;
                s.complete = complete;
                // Only this module's report, keys and errors, whatever the helper says.
                s.module = module.filter(|m| &m.path == path);
                s.tokens = tokens.into_iter().filter(|t| &t.module == path).collect();
                s.errors = errors
                    .into_iter()
                    .map(Located::from)
                    .filter(|e| e.module.as_deref() == Some(path))
                    .collect();
                if stuck(s).is_none() {
                    s.known = s.tokens.iter().map(|t| t.details.serial.clone()).collect();
                }
                shared.changed(seen);
            }
        }
    }
    // Its output ended (it exited, or said something else): make sure it is gone.
    let mut child = lock_child(&child);
    let _ = child.kill();
    match (child.wait(), problem) {
        (_, Some(p)) => Ended::Failed(failed(p)),
        (Ok(status), None) => Ended::Status(status),
        (Err(e), None) => Ended::Failed(failed(format!("the module's watch is lost: {e}"))),
    }
}

fn lock_child(child: &Mutex<Child>) -> MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(|p| p.into_inner())
}

/// Ends helpers that stopped writing (their module froze the whole helper).
fn supervise(shared: &Shared) {
    // A helper writes at least every second; its own watch reports calls that hang.
    let budget = shared.opts.load_timeout.max(HEARTBEAT * 5);
    while !shared.stop.load(Ordering::SeqCst) {
        shared.sleep(shared.opts.interval);
        let mut seen = shared.lock();
        let mut change = false;
        for (spec, s) in shared.specs.iter().zip(seen.iter_mut()) {
            let silent = s.last_line.map_or(Duration::ZERO, |t| t.elapsed());
            let Some(child) = &s.child else { continue };
            if s.killed || silent <= budget {
                continue;
            }
            tracing::warn!(module = %spec.path, "the module's watch stopped answering");
            s.killed = true;
            s.down = Some(Error::ModuleNotResponding {
                module: spec.path.clone(),
                seconds: silent.as_secs(),
            });
            change = true;
            if let Ok(mut child) = child.try_lock() {
                let _ = child.kill();
            } else {
                // Being waited for: it ends on its own; try again at the next round.
                s.killed = false;
            }
        }
        if change {
            shared.changed(seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::verify::{IssuerSource, SignatureCheck};
    use crate::cert::CertificateInfo;
    use crate::inventory::{CertificateEntry, DataEntry, KeyEntry, SealEntry};
    use crate::pkcs11::module::{LibraryInfo, ModuleSource};
    use crate::pkcs11::objects::ObjectKind;
    use crate::pkcs11::token::{Memory, PinState, Sessions, SlotDetails, SoPinState, TokenDetails};

    /// A report with every kind of field reads back into the same JSON: what the app
    /// shows from a helper is what the helper saw.
    #[test]
    fn a_full_report_reads_back_unchanged() {
        let (_, der) = crate::workflow::seal::tests::p256_maker();
        let now = time::OffsetDateTime::now_utc();
        let info = CertificateInfo::from_der(&der, now).expect("certificate");
        let token = TokenReport {
            module: "/m.so".into(),
            slot: 3,
            slot_info: Some(SlotDetails {
                description: "reader".into(),
                manufacturer: "maker".into(),
                token_present: true,
                removable: true,
                hardware: true,
                hardware_version: "1.0".into(),
                firmware_version: "2.0".into(),
            }),
            details: TokenDetails {
                label: "键".into(),
                manufacturer: "M".into(),
                model: "X".into(),
                serial: "S1".into(),
                hardware_version: "1.0".into(),
                firmware_version: "1.1".into(),
                flags: vec!["CKF_RNG".into(), "CKF_USER_PIN_FINAL_TRY".into()],
                pin: PinState {
                    min_len: 6,
                    max_len: 16,
                    initialized: true,
                    count_low: true,
                    final_try: true,
                    locked: false,
                    to_be_changed: false,
                },
                so_pin: SoPinState {
                    count_low: false,
                    final_try: false,
                    locked: true,
                    to_be_changed: false,
                },
                memory: Memory {
                    total_public: Some(65536),
                    free_public: Some(1000),
                    total_private: None,
                    free_private: None,
                },
                sessions: Sessions {
                    count: Some(1),
                    max: None,
                    rw_count: Some(0),
                    rw_max: None,
                },
                utc_time: Some("20261202120000".into()),
            },
            vendor: Some("v".into()),
            vendor_name: Some("Vendor".into()),
            vendor_name_zh: Some("厂商".into()),
            mechanisms: None,
            private_objects_visible: false,
            certificates: vec![
                CertificateEntry {
                    id: "01".into(),
                    label: "sign".into(),
                    info: Some(info),
                    has_private_key: None,
                    has_public_key: true,
                    signature_check: Some(SignatureCheck::Valid {
                        issuer: "CN=CA".into(),
                        source: IssuerSource::Bundle,
                    }),
                    seal: Some(SealEntry {
                        name: Some("章".into()),
                        valid: false,
                        problem: Some("maker_no_trusted_ca".into()),
                    }),
                    error: None,
                },
                CertificateEntry {
                    id: "02".into(),
                    label: "broken".into(),
                    info: None,
                    has_private_key: Some(false),
                    has_public_key: false,
                    signature_check: None,
                    seal: None,
                    error: Some(Error::CertificateInvalid {
                        reason: "bad".into(),
                    }),
                },
            ],
            keys: vec![KeyEntry {
                class: ObjectKind::PrivateKey,
                id: "01".into(),
                label: "k".into(),
                key_type: Some("SM2".into()),
                has_certificate: true,
            }],
            data_objects: vec![DataEntry {
                id: "01".into(),
                label: "seal".into(),
                application: Some("app".into()),
                size: Some(900),
                private: Some(false),
            }],
        };
        let report = Report::State {
            complete: true,
            module: Some(ModuleReport {
                path: "/m.so".into(),
                source: ModuleSource::Catalog { vendor: "v".into() },
                library: Some(LibraryInfo {
                    cryptoki_version: "2.40".into(),
                    manufacturer: "M".into(),
                    description: "D".into(),
                    version: "1.0".into(),
                }),
                loaded: true,
            }),
            tokens: vec![token],
            errors: [
                Located::module(
                    "/m.so",
                    Error::ModuleCrashed {
                        module: "/m.so".into(),
                        signal: Some(11),
                        status: None,
                        retry_s: 5,
                    },
                ),
                Located::module("/m.so", Error::Cancelled),
            ]
            .into_iter()
            .map(WireLocated::from)
            .collect(),
        };
        let json = serde_json::to_value(&report).unwrap();
        let back: Report = serde_json::from_value(json.clone()).expect("reads back");
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        let Report::State { tokens, .. } = back else {
            panic!("a state")
        };
        assert!(tokens[0].certificates[0].info.is_some());
        assert!(tokens[0].certificates[1].info.is_none());
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused() {
        let long = vec![b'x'; LINE_LIMIT as usize + 10];
        let mut r = io::Cursor::new(long);
        assert!(read_line(&mut r).is_err());
        let mut r = io::Cursor::new(b"{}\nrest".to_vec());
        assert_eq!(read_line(&mut r).unwrap().as_deref(), Some("{}\n"));
        assert_eq!(read_line(&mut r).unwrap().as_deref(), Some("rest"));
        assert_eq!(read_line(&mut r).unwrap(), None);
    }

    #[test]
    fn a_helper_without_a_setup_stops_with_an_error() {
        let out = serve(io::Cursor::new(b"not json\n".to_vec()), Vec::new());
        assert!(out.unwrap_err().contains("setup"));
        let out = serve(io::Cursor::new(Vec::new()), Vec::new());
        assert!(out.unwrap_err().contains("setup"));
    }
}
