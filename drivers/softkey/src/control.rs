//! `control.json`: whether each token is inserted, and fault injection (remove the token
//! after N more operations). Written by `certkey-softkey` and by the module.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::Store;

/// The control file name.
pub const FILE: &str = "control.json";

fn yes() -> bool {
    true
}

/// One token's control state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotControl {
    /// The token is inserted.
    #[serde(default = "yes")]
    pub present: bool,
    /// Operations left before the token is removed automatically.
    #[serde(default)]
    pub fail_after: Option<u64>,
    /// How many times the token was put back in; a change tells a process that the
    /// token it had sessions with was pulled out meanwhile.
    #[serde(default)]
    pub insertions: u64,
}

impl Default for SlotControl {
    fn default() -> Self {
        SlotControl {
            present: true,
            fail_after: None,
            insertions: 0,
        }
    }
}

/// The whole control file, keyed by token serial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Per-serial state; a missing serial is present with no fault.
    #[serde(default)]
    pub slots: BTreeMap<String, SlotControl>,
    /// Fault injection for the whole module: C_Initialize and every C_GetSlotList
    /// take this many milliseconds, as a module that hangs on a reader does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_ms: Option<u64>,
    /// Fault injection: C_Initialize refuses CKF_OS_LOCKING_OK with CKR_CANT_LOCK, as
    /// a module that cannot lock for itself does (the application must then call it
    /// from one thread at a time).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refuse_os_locking: bool,
    /// Fault injection: after this many C_GetSlotList calls in one process, the next
    /// one aborts the process, as a vendor library crashing (often while a key is
    /// pulled out) takes its caller down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_after: Option<u64>,
}

impl Control {
    /// Reads the control file (missing: everything present).
    pub fn read(store: &Store) -> Result<Control, String> {
        Ok(store.read_json(FILE)?.unwrap_or_default())
    }

    /// Writes it atomically.
    pub fn write(&self, store: &Store) -> Result<(), String> {
        store.write_json(FILE, self)
    }

    /// The state of one serial.
    pub fn get(&self, serial: &str) -> SlotControl {
        self.slots.get(serial).copied().unwrap_or_default()
    }

    /// Sets the state of one serial.
    pub fn set(&mut self, serial: &str, c: SlotControl) {
        self.slots.insert(serial.to_string(), c);
    }
}
