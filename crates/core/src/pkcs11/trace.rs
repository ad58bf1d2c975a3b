//! A trace of the PKCS#11 calls this process made through core: a ring buffer of the
//! last [`CAPACITY`] calls, each with its module's file name, the C function, the slot,
//! the return value and how long it took. Diagnostic reports include it.
//!
//! Nothing else is recorded: no argument, no attribute value, no PIN (the recorder is
//! never given one), so the trace is safe to send to a help desk.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::error::Error as CkError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ckr;

/// How many calls the trace keeps.
pub const CAPACITY: usize = 256;

/// One call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Call {
    /// When it returned, RFC 3339 UTC.
    pub at: String,
    /// The module's file name (no folder: folders can name the user).
    pub module: String,
    /// The C function, e.g. `C_GetTokenInfo`.
    pub function: String,
    /// The slot it was about, if any.
    pub slot: Option<u64>,
    /// `CKR_OK`, another CKR_ name, or what went wrong outside PKCS#11.
    pub rv: String,
    /// How long it took, microseconds.
    pub micros: u64,
}

/// A call as kept: its time is formatted only when the trace is read.
struct Kept {
    at: OffsetDateTime,
    call: Call,
}

static RING: Mutex<VecDeque<Kept>> = Mutex::new(VecDeque::new());

fn ring() -> MutexGuard<'static, VecDeque<Kept>> {
    // A panic while holding the lock leaves a ring that is still a valid ring.
    RING.lock().unwrap_or_else(|p| p.into_inner())
}

/// The file name of a module path.
fn file_name(module: &str) -> String {
    std::path::Path::new(module)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| module.to_string())
}

/// Records one call that returned `rv` after `took`.
pub fn record(module: &str, function: &str, slot: Option<u64>, rv: &str, took: Duration) {
    let at = OffsetDateTime::now_utc();
    let call = Call {
        at: String::new(),
        module: file_name(module),
        function: function.to_string(),
        slot,
        rv: rv.to_string(),
        micros: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    };
    // At the log's trace level, each call goes into the log too (never an argument).
    tracing::trace!(
        module = %call.module,
        function = %call.function,
        slot = ?call.slot,
        rv = %call.rv,
        micros = call.micros,
        "PKCS#11 call"
    );
    let mut r = ring();
    if r.len() == CAPACITY {
        r.pop_front();
    }
    r.push_back(Kept { at, call });
}

/// The CKR_ name (or a short word for failures outside PKCS#11) of a cryptoki result.
pub fn outcome<T>(result: &Result<T, CkError>) -> String {
    match result {
        Ok(_) => "CKR_OK".into(),
        Err(CkError::Pkcs11(rv, _)) => ckr::rv_name(rv),
        Err(CkError::LibraryLoading(_)) => "library_loading".into(),
        Err(CkError::MissingSymbol(_)) => "missing_symbol".into(),
        Err(_) => "client_error".into(),
    }
}

/// Runs `f` (one PKCS#11 call through cryptoki) and records it.
pub fn call<T>(
    module: &str,
    function: &str,
    slot: Option<u64>,
    f: impl FnOnce() -> Result<T, CkError>,
) -> Result<T, CkError> {
    let start = Instant::now();
    let result = f();
    record(module, function, slot, &outcome(&result), start.elapsed());
    result
}

/// The calls kept, oldest first.
pub fn recent() -> Vec<Call> {
    ring()
        .iter()
        .map(|k| Call {
            at: k
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            ..k.call.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;
    use cryptoki::error::RvError;

    #[test]
    fn calls_are_kept_in_order_up_to_the_capacity_with_their_outcome() {
        for i in 0..CAPACITY + 10 {
            let r: Result<(), CkError> = if i % 2 == 0 {
                Ok(())
            } else {
                Err(CkError::Pkcs11(RvError::PinIncorrect, Function::Login))
            };
            let _ = call("/home/someone/lib/libx.so", "C_Login", Some(i as u64), || r);
        }
        let calls = recent();
        // Other tests may record concurrently; ours are the last ones in order.
        let ours: Vec<_> = calls.iter().filter(|c| c.module == "libx.so").collect();
        assert!(calls.len() <= CAPACITY);
        let last = ours.last().expect("recorded");
        assert_eq!(last.slot, Some((CAPACITY + 9) as u64));
        assert_eq!(last.rv, "CKR_PIN_INCORRECT");
        assert_eq!(last.function, "C_Login");
        let before = ours[ours.len() - 2];
        assert_eq!(before.rv, "CKR_OK");
        assert!(
            !calls.iter().any(|c| c.module.contains('/')),
            "no folder names"
        );
    }
}
