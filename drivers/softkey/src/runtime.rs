//! The module's process-wide state and every PKCS#11 operation as a plain Rust method
//! returning `Result<_, CK_RV>`. `ffi.rs` only marshals pointers in and out.

use std::collections::{BTreeMap, HashMap};

use cryptoki_sys::*;
use zeroize::Zeroizing;

use crate::config::{self, SlotConfig};
use crate::control::{self, Control};
use crate::crypto;
use crate::object::{self, Hex, Object};
use crate::store::{Stamp, Store};
use crate::token::{padded, TokenState, Who};

/// Result of a PKCS#11 operation.
pub type Rv<T> = Result<T, CK_RV>;

/// Session objects get uids from here up, token objects below.
const SESSION_UID_BASE: u64 = 0x8000_0000;
/// Largest attribute value accepted (a seal image is ~50 KB).
pub const MAX_ATTR_LEN: usize = 1 << 20;
/// Largest data accepted by one sign/verify/digest call.
pub const MAX_DATA_LEN: usize = 16 << 20;

/// The logged-in state of one slot in this process.
struct Login {
    who: Who,
    kek: Zeroizing<[u8; 32]>,
}

/// One slot.
struct SlotRt {
    cfg: SlotConfig,
    token: TokenState,
    stamp: Option<Stamp>,
    login: Option<Login>,
    /// Presence last reported by C_WaitForSlotEvent.
    event_seen: bool,
    /// Insertion count of the control file when this process last looked.
    insertions_seen: u64,
    /// Session objects: uid -> (owning session, object).
    session_objects: BTreeMap<u64, (CK_SESSION_HANDLE, Object)>,
    next_session_uid: u64,
}

impl SlotRt {
    fn file(&self) -> String {
        format!("token-{}.json", self.cfg.serial)
    }
}

/// A running operation.
#[derive(Clone)]
struct Operation {
    mech: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    param: Vec<u8>,
    data: Vec<u8>,
    /// Output computed by a call that then reported CKR_BUFFER_TOO_SMALL.
    pending: Option<Vec<u8>>,
    /// A C_*Update call was made: only C_*Final may finish the operation.
    multi_part: bool,
}

struct Session {
    slot: usize,
    rw: bool,
    removed: bool,
    find: Option<Vec<CK_OBJECT_HANDLE>>,
    sign: Option<Operation>,
    verify: Option<Operation>,
    digest: Option<Operation>,
}

/// Result of reading one attribute.
pub enum AttrValue {
    /// The value.
    Value(Vec<u8>),
    /// Withheld (CKR_ATTRIBUTE_SENSITIVE).
    Sensitive,
    /// Not an attribute of the object (CKR_ATTRIBUTE_TYPE_INVALID).
    Invalid,
}

/// The whole state.
pub struct Runtime {
    store: Store,
    slots: Vec<SlotRt>,
    sessions: HashMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_SESSION_HANDLE,
    control: Control,
    control_stamp: Option<Stamp>,
    /// C_GetSlotList calls in this process (for the `crash-after` fault).
    slot_lists: u64,
}

fn mech_sm2(cfg: &SlotConfig) -> config::Sm2Constants {
    cfg.profile.sm2()
}

fn handle(slot: usize, uid: u64) -> CK_OBJECT_HANDLE {
    ((slot as u64 + 1) << 32) | uid
}

fn split_handle(h: CK_OBJECT_HANDLE) -> Option<(usize, u64)> {
    let slot = (h >> 32).checked_sub(1)? as usize;
    Some((slot, h & 0xFFFF_FFFF))
}

impl Runtime {
    /// Opens the store and reads the configuration.
    pub fn new() -> Rv<Runtime> {
        let store = Store::open().map_err(|e| fail(&e))?;
        let cfgs = config::load_store(store.dir(), store.explicit()).map_err(|e| fail(&e))?;
        let mut rt = Runtime {
            store,
            slots: cfgs
                .into_iter()
                .map(|cfg| SlotRt {
                    cfg,
                    token: TokenState::default(),
                    stamp: None,
                    login: None,
                    event_seen: true,
                    insertions_seen: 0,
                    session_objects: BTreeMap::new(),
                    next_session_uid: SESSION_UID_BASE,
                })
                .collect(),
            sessions: HashMap::new(),
            next_session: 1,
            control: Control::default(),
            control_stamp: None,
            slot_lists: 0,
        };
        rt.refresh_control();
        if let Some(ms) = rt.control.stall_ms {
            // C_Initialize "hangs" too, as a driver waiting on a stuck reader does.
            std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
        }
        for i in 0..rt.slots.len() {
            rt.reload(i)?;
            rt.slots[i].event_seen = rt.present(i);
            rt.slots[i].insertions_seen = rt.control.get(&rt.slots[i].cfg.serial).insertions;
        }
        Ok(rt)
    }

    // ----- presence, control, persistence -------------------------------------------

    fn refresh_control(&mut self) {
        let stamp = self.store.stamp(control::FILE);
        if stamp != self.control_stamp || stamp.is_none() {
            if let Ok(c) = Control::read(&self.store) {
                self.control = c;
            }
            self.control_stamp = stamp;
        }
    }

    fn present(&self, slot: usize) -> bool {
        self.control.get(&self.slots[slot].cfg.serial).present
    }

    /// Re-reads presence; on removal, drops the slot's login and marks its sessions.
    fn sync_presence(&mut self, slot: usize) -> bool {
        self.refresh_control();
        let c = self.control.get(&self.slots[slot].cfg.serial);
        if !c.present || c.insertions != self.slots[slot].insertions_seen {
            // Pulled out, or pulled out and put back since we last looked.
            self.on_removed(slot);
            self.slots[slot].insertions_seen = c.insertions;
        }
        c.present
    }

    fn on_removed(&mut self, slot: usize) {
        self.slots[slot].login = None;
        self.slots[slot].session_objects.clear();
        for s in self.sessions.values_mut().filter(|s| s.slot == slot) {
            s.removed = true;
            s.find = None;
            s.sign = None;
            s.verify = None;
            s.digest = None;
        }
    }

    /// Counts one operation against `fail-after`; removes the token when it runs out.
    fn tick(&mut self, slot: usize) -> Rv<()> {
        let serial = self.slots[slot].cfg.serial.clone();
        if self.control.get(&serial).fail_after.is_none() {
            return Ok(());
        }
        let _lock = self.store.lock().map_err(|e| fail(&e))?;
        let mut c = Control::read(&self.store).map_err(|e| fail(&e))?;
        let mut sc = c.get(&serial);
        let removed = match sc.fail_after {
            Some(0) => {
                sc.present = false;
                sc.fail_after = None;
                true
            }
            Some(n) => {
                sc.fail_after = Some(n - 1);
                false
            }
            None => false,
        };
        c.set(&serial, sc);
        c.write(&self.store).map_err(|e| fail(&e))?;
        self.control = c;
        self.control_stamp = self.store.stamp(control::FILE);
        if removed {
            self.on_removed(slot);
            return Err(CKR_DEVICE_REMOVED);
        }
        Ok(())
    }

    fn reload(&mut self, slot: usize) -> Rv<()> {
        let name = self.slots[slot].file();
        let stamp = self.store.stamp(&name);
        if stamp == self.slots[slot].stamp && stamp.is_some() {
            return Ok(());
        }
        let token = self
            .store
            .read_json::<TokenState>(&name)
            .map_err(|e| fail(&e))?
            .unwrap_or_default();
        let reinitialised = self.slots[slot].token.token_id != token.token_id;
        let s = &mut self.slots[slot];
        s.token = token;
        s.stamp = stamp;
        if reinitialised && s.stamp.is_some() {
            // Another process ran C_InitToken: this process's login and sessions belong
            // to the token that no longer exists.
            self.on_removed(slot);
        }
        Ok(())
    }

    /// Read-modify-write of a token under the store lock. The state is saved whether
    /// `f` succeeds or not (a wrong PIN must cost a try), but only if it changed.
    fn mutate<T>(
        &mut self,
        slot: usize,
        f: impl FnOnce(&mut TokenState, &SlotConfig) -> Rv<T>,
    ) -> Rv<T> {
        let _lock = self.store.lock().map_err(|e| fail(&e))?;
        // Always re-read under the lock: a file stamp (inode, mtime, length) can repeat
        // across writes, and a stale copy written back would undo another process's
        // change (a PIN try, an object).
        self.slots[slot].stamp = None;
        self.reload(slot)?;
        let s = &mut self.slots[slot];
        let mut next = s.token.clone();
        let out = f(&mut next, &s.cfg);
        if next != s.token {
            self.store
                .write_json(&s.file(), &next)
                .map_err(|e| fail(&e))?;
            s.token = next;
            s.stamp = self.store.stamp(&s.file());
        }
        out
    }

    fn slot_index(&self, id: CK_SLOT_ID) -> Rv<usize> {
        let i = usize::try_from(id).map_err(|_| CKR_SLOT_ID_INVALID)?;
        if i < self.slots.len() {
            Ok(i)
        } else {
            Err(CKR_SLOT_ID_INVALID)
        }
    }

    /// A present token's slot, counted as one operation.
    fn token_slot(&mut self, id: CK_SLOT_ID) -> Rv<usize> {
        let i = self.slot_index(id)?;
        if !self.sync_presence(i) {
            return Err(CKR_TOKEN_NOT_PRESENT);
        }
        self.tick(i).map_err(|_| CKR_TOKEN_NOT_PRESENT)?;
        self.reload(i)?;
        Ok(i)
    }

    /// A live session's slot, counted as one operation.
    fn session_slot(&mut self, h: CK_SESSION_HANDLE) -> Rv<usize> {
        let slot = self
            .sessions
            .get(&h)
            .map(|s| s.slot)
            .ok_or(CKR_SESSION_HANDLE_INVALID)?;
        self.sync_presence(slot);
        // Reloading first notices a re-initialisation by another process.
        self.reload(slot)?;
        if self.sessions.get(&h).is_some_and(|s| s.removed) {
            return Err(CKR_DEVICE_REMOVED);
        }
        self.tick(slot)?;
        Ok(slot)
    }

    fn session(&mut self, h: CK_SESSION_HANDLE) -> Rv<&mut Session> {
        self.sessions.get_mut(&h).ok_or(CKR_SESSION_HANDLE_INVALID)
    }

    fn user_logged_in(&self, slot: usize) -> bool {
        matches!(self.slots[slot].login, Some(Login { who: Who::User, .. }))
    }

    // ----- general, slot and token ---------------------------------------------------

    /// C_GetSlotList.
    pub fn slot_list(&mut self, present_only: bool) -> Vec<CK_SLOT_ID> {
        self.refresh_control();
        if let Some(ms) = self.control.stall_ms {
            // The module "hangs" (holding its lock, as a stuck driver does).
            std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
            self.refresh_control();
        }
        self.slot_lists += 1;
        if self
            .control
            .crash_after
            .is_some_and(|n| self.slot_lists > n)
        {
            // The `crash-after` fault: the library takes its caller down.
            eprintln!("certkey-softkey: crash-after fault: aborting the process");
            std::process::abort();
        }
        (0..self.slots.len())
            .filter(|i| !present_only || self.present(*i))
            .map(|i| i as CK_SLOT_ID)
            .collect()
    }

    /// C_GetSlotInfo.
    pub fn slot_info(&mut self, id: CK_SLOT_ID) -> Rv<CK_SLOT_INFO> {
        let i = self.slot_index(id)?;
        let present = self.sync_presence(i);
        let cfg = &self.slots[i].cfg;
        let mut flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
        if present {
            flags |= CKF_TOKEN_PRESENT;
        }
        Ok(CK_SLOT_INFO {
            slotDescription: padded::<64>(&format!("CertKey softkey reader {i}")),
            manufacturerID: padded::<32>(&cfg.manufacturer),
            flags,
            hardwareVersion: CK_VERSION { major: 1, minor: 0 },
            firmwareVersion: CK_VERSION { major: 1, minor: 0 },
        })
    }

    /// C_GetTokenInfo.
    pub fn token_info(&mut self, id: CK_SLOT_ID) -> Rv<CK_TOKEN_INFO> {
        let i = self.token_slot(id)?;
        let (count, rw) = self
            .sessions
            .values()
            .filter(|s| s.slot == i && !s.removed)
            .fold((0, 0), |(c, r), s| (c + 1, r + u64::from(s.rw)));
        let s = &self.slots[i];
        let label = if s.token.initialized {
            s.token.label.as_str()
        } else {
            s.cfg.label.as_str()
        };
        let free = s.cfg.memory.saturating_sub(s.token.used_memory());
        Ok(CK_TOKEN_INFO {
            label: padded::<32>(label),
            manufacturerID: padded::<32>(&s.cfg.manufacturer),
            model: padded::<16>(&s.cfg.model),
            serialNumber: padded::<16>(&s.cfg.serial),
            flags: s.token.flags(&s.cfg),
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: count,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: rw,
            ulMaxPinLen: s.cfg.max_pin_len,
            ulMinPinLen: s.cfg.min_pin_len,
            ulTotalPublicMemory: s.cfg.memory,
            ulFreePublicMemory: free,
            ulTotalPrivateMemory: s.cfg.memory,
            ulFreePrivateMemory: free,
            hardwareVersion: CK_VERSION { major: 1, minor: 0 },
            firmwareVersion: CK_VERSION { major: 1, minor: 0 },
            utcTime: [b' '; 16],
        })
    }

    fn mechanism_table(cfg: &SlotConfig) -> Vec<(CK_MECHANISM_TYPE, CK_MECHANISM_INFO)> {
        let sm2 = mech_sm2(cfg);
        let ec = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
        let info = |flags| CK_MECHANISM_INFO {
            ulMinKeySize: 256,
            ulMaxKeySize: 256,
            flags,
        };
        let digest = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: CKF_DIGEST,
        };
        vec![
            (CKM_EC_KEY_PAIR_GEN, info(CKF_GENERATE_KEY_PAIR | ec)),
            (CKM_ECDSA, info(CKF_SIGN | CKF_VERIFY | ec)),
            (CKM_ECDSA_SHA256, info(CKF_SIGN | CKF_VERIFY | ec)),
            (CKM_SHA256, digest),
            (sm2.keygen, info(CKF_GENERATE_KEY_PAIR | ec)),
            (sm2.sign_raw, info(CKF_SIGN | CKF_VERIFY | ec)),
            (sm2.sign_sm3, info(CKF_SIGN | CKF_VERIFY | ec)),
            (sm2.digest_sm3, digest),
        ]
    }

    /// C_GetMechanismList.
    pub fn mechanisms(&mut self, id: CK_SLOT_ID) -> Rv<Vec<CK_MECHANISM_TYPE>> {
        let i = self.token_slot(id)?;
        Ok(Self::mechanism_table(&self.slots[i].cfg)
            .into_iter()
            .map(|(m, _)| m)
            .collect())
    }

    /// C_GetMechanismInfo.
    pub fn mechanism_info(
        &mut self,
        id: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> Rv<CK_MECHANISM_INFO> {
        let i = self.token_slot(id)?;
        Self::mechanism_table(&self.slots[i].cfg)
            .into_iter()
            .find(|(m, _)| *m == mech)
            .map(|(_, info)| info)
            .ok_or(CKR_MECHANISM_INVALID)
    }

    /// C_InitToken.
    pub fn init_token(&mut self, id: CK_SLOT_ID, so_pin: &[u8], label: &[u8; 32]) -> Rv<()> {
        let i = self.token_slot(id)?;
        if self.sessions.values().any(|s| s.slot == i && !s.removed) {
            return Err(CKR_SESSION_EXISTS);
        }
        let label = std::str::from_utf8(label)
            .map_err(|_| CKR_ARGUMENTS_BAD)?
            .trim_end()
            .to_string();
        self.mutate(i, |t, cfg| t.init_token(cfg, so_pin, &label))?;
        self.slots[i].login = None;
        Ok(())
    }

    // ----- sessions and login ------------------------------------------------------

    /// C_OpenSession.
    pub fn open_session(&mut self, id: CK_SLOT_ID, flags: CK_FLAGS) -> Rv<CK_SESSION_HANDLE> {
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
        }
        let i = self.token_slot(id)?;
        if !self.slots[i].token.initialized {
            return Err(CKR_TOKEN_NOT_RECOGNIZED);
        }
        let rw = flags & CKF_RW_SESSION != 0;
        if !rw && matches!(self.slots[i].login, Some(Login { who: Who::So, .. })) {
            return Err(CKR_SESSION_READ_WRITE_SO_EXISTS);
        }
        let h = self.next_session;
        self.next_session += 1;
        self.sessions.insert(
            h,
            Session {
                slot: i,
                rw,
                removed: false,
                find: None,
                sign: None,
                verify: None,
                digest: None,
            },
        );
        Ok(h)
    }

    /// C_CloseSession.
    pub fn close_session(&mut self, h: CK_SESSION_HANDLE) -> Rv<()> {
        let s = self.sessions.remove(&h).ok_or(CKR_SESSION_HANDLE_INVALID)?;
        let slot = &mut self.slots[s.slot];
        slot.session_objects.retain(|_, (owner, _)| *owner != h);
        if !self
            .sessions
            .values()
            .any(|o| o.slot == s.slot && !o.removed)
        {
            self.slots[s.slot].login = None;
        }
        Ok(())
    }

    /// C_CloseAllSessions.
    pub fn close_all(&mut self, id: CK_SLOT_ID) -> Rv<()> {
        let i = self.slot_index(id)?;
        let handles: Vec<_> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.slot == i)
            .map(|(h, _)| *h)
            .collect();
        for h in handles {
            self.close_session(h)?;
        }
        self.slots[i].login = None;
        Ok(())
    }

    /// C_GetSessionInfo.
    pub fn session_info(&mut self, h: CK_SESSION_HANDLE) -> Rv<CK_SESSION_INFO> {
        let slot = self.session_slot(h)?;
        let rw = self.session(h)?.rw;
        let state = match (&self.slots[slot].login, rw) {
            (Some(Login { who: Who::So, .. }), _) => CKS_RW_SO_FUNCTIONS,
            (Some(Login { who: Who::User, .. }), true) => CKS_RW_USER_FUNCTIONS,
            (Some(Login { who: Who::User, .. }), false) => CKS_RO_USER_FUNCTIONS,
            (None, true) => CKS_RW_PUBLIC_SESSION,
            (None, false) => CKS_RO_PUBLIC_SESSION,
        };
        let mut flags = CKF_SERIAL_SESSION;
        if rw {
            flags |= CKF_RW_SESSION;
        }
        Ok(CK_SESSION_INFO {
            slotID: slot as CK_SLOT_ID,
            state,
            flags,
            ulDeviceError: 0,
        })
    }

    /// C_Login.
    pub fn login(&mut self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let who = match user {
            CKU_USER => Who::User,
            CKU_SO => Who::So,
            CKU_CONTEXT_SPECIFIC => return Err(CKR_OPERATION_NOT_INITIALIZED),
            _ => return Err(CKR_USER_TYPE_INVALID),
        };
        match (&self.slots[slot].login, who) {
            (Some(l), w) if l.who == w => return Err(CKR_USER_ALREADY_LOGGED_IN),
            (Some(_), _) => return Err(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
            (None, _) => {}
        }
        if who == Who::So
            && self
                .sessions
                .values()
                .any(|s| s.slot == slot && !s.rw && !s.removed)
        {
            return Err(CKR_SESSION_READ_ONLY_EXISTS);
        }
        let kek = self.mutate(slot, |t, cfg| t.verify(cfg, who, pin))?;
        self.slots[slot].login = Some(Login { who, kek });
        Ok(())
    }

    /// C_Logout.
    pub fn logout(&mut self, h: CK_SESSION_HANDLE) -> Rv<()> {
        let slot = self.session_slot(h)?;
        if self.slots[slot].login.take().is_none() {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        // Private session objects stay but become invisible; drop their operations.
        for s in self.sessions.values_mut().filter(|s| s.slot == slot) {
            s.sign = None;
            s.verify = None;
            s.find = None;
        }
        Ok(())
    }

    /// C_InitPIN: the SO sets (resets) the user PIN.
    pub fn init_pin(&mut self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let rw = self.session(h)?.rw;
        let kek = match &self.slots[slot].login {
            Some(Login { who: Who::So, kek }) => kek.clone(),
            _ => return Err(CKR_USER_NOT_LOGGED_IN),
        };
        if !rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        self.mutate(slot, |t, cfg| {
            let change = cfg.init_pin_to_be_changed;
            t.set_pin(cfg, Who::User, &kek, pin, change)
        })
    }

    /// C_SetPIN: the logged-in user or SO, or the user when nobody is logged in.
    pub fn set_pin(&mut self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Rv<()> {
        let slot = self.session_slot(h)?;
        if !self.session(h)?.rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        let who = self.slots[slot].login.as_ref().map_or(Who::User, |l| l.who);
        self.mutate(slot, |t, cfg| {
            let kek = t.verify(cfg, who, old)?;
            t.set_pin(cfg, who, &kek, new, false)
        })
    }

    // ----- objects -----------------------------------------------------------------

    /// The object behind a handle, if this session may see it.
    fn object(&self, slot: usize, h: CK_OBJECT_HANDLE) -> Rv<&Object> {
        let (s, uid) = split_handle(h).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
        if s != slot {
            return Err(CKR_OBJECT_HANDLE_INVALID);
        }
        let rt = &self.slots[slot];
        let obj = if uid >= SESSION_UID_BASE {
            rt.session_objects.get(&uid).map(|(_, o)| o)
        } else {
            u32::try_from(uid)
                .ok()
                .and_then(|u| rt.token.objects.get(&u))
        }
        .ok_or(CKR_OBJECT_HANDLE_INVALID)?;
        if obj.is_private() && !self.user_logged_in(slot) {
            return Err(CKR_OBJECT_HANDLE_INVALID);
        }
        Ok(obj)
    }

    /// Stores a new object (token or session) and returns its handle.
    fn insert_object(
        &mut self,
        h: CK_SESSION_HANDLE,
        slot: usize,
        obj: Object,
    ) -> Rv<CK_OBJECT_HANDLE> {
        if obj.is_token() {
            let size = obj.size();
            let uid = self.mutate(slot, |t, cfg| {
                if t.used_memory() + size > cfg.memory {
                    return Err(CKR_DEVICE_MEMORY);
                }
                let uid = t.next_uid.max(1);
                t.next_uid = uid
                    .checked_add(1)
                    .filter(|n| u64::from(*n) < SESSION_UID_BASE)
                    .ok_or(CKR_DEVICE_MEMORY)?;
                t.objects.insert(uid, obj);
                Ok(uid)
            })?;
            Ok(handle(slot, u64::from(uid)))
        } else {
            let rt = &mut self.slots[slot];
            let uid = rt.next_session_uid;
            if uid > 0xFFFF_FFFF {
                return Err(CKR_HOST_MEMORY);
            }
            rt.next_session_uid += 1;
            rt.session_objects.insert(uid, (h, obj));
            Ok(handle(slot, uid))
        }
    }

    /// Checks that a session may create or change an object with these properties.
    fn check_write(&self, h: CK_SESSION_HANDLE, slot: usize, token: bool, private: bool) -> Rv<()> {
        let rw = self.sessions.get(&h).map(|s| s.rw).unwrap_or(false);
        if token && !rw {
            return Err(CKR_SESSION_READ_ONLY);
        }
        if private && !self.user_logged_in(slot) {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        Ok(())
    }

    /// C_CreateObject: data objects, certificates and public keys.
    pub fn create_object(
        &mut self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Rv<CK_OBJECT_HANDLE> {
        let slot = self.session_slot(h)?;
        for (t, v) in template {
            object::check_value_shape(*t, v)?;
        }
        let mut obj = Object::from_pairs(template);
        let class = obj.class().ok_or(CKR_TEMPLATE_INCOMPLETE)?;
        match class {
            CKO_DATA => {}
            CKO_CERTIFICATE => {
                if obj.ulong(CKA_CERTIFICATE_TYPE) != Some(CKC_X_509) {
                    return Err(if obj.get(CKA_CERTIFICATE_TYPE).is_none() {
                        CKR_TEMPLATE_INCOMPLETE
                    } else {
                        CKR_ATTRIBUTE_VALUE_INVALID
                    });
                }
                if obj.get(CKA_VALUE).is_none_or(|v| v.is_empty()) {
                    return Err(CKR_TEMPLATE_INCOMPLETE);
                }
                default(&mut obj, CKA_TRUSTED, vec![0]);
                default(&mut obj, CKA_CERTIFICATE_CATEGORY, object::ulong_bytes(0));
                for a in [CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER] {
                    default(&mut obj, a, Vec::new());
                }
            }
            CKO_PUBLIC_KEY => {
                let kt = obj.ulong(CKA_KEY_TYPE).ok_or(CKR_TEMPLATE_INCOMPLETE)?;
                let sm2 = mech_sm2(&self.slots[slot].cfg).key_type;
                if kt != CKK_EC && kt != sm2 {
                    return Err(CKR_KEY_TYPE_INCONSISTENT);
                }
                let params = obj.get(CKA_EC_PARAMS).ok_or(CKR_TEMPLATE_INCOMPLETE)?;
                let want = if kt == sm2 {
                    crypto::SM2_EC_PARAMS
                } else {
                    crypto::P256_EC_PARAMS
                };
                if params != want {
                    return Err(CKR_CURVE_NOT_SUPPORTED);
                }
                let point = obj.get(CKA_EC_POINT).ok_or(CKR_TEMPLATE_INCOMPLETE)?;
                let p = crypto::parse_ec_point(point).map_err(|_| CKR_ATTRIBUTE_VALUE_INVALID)?;
                obj.set(CKA_EC_POINT, crypto::ec_point_der(&p));
                default(&mut obj, CKA_VERIFY, vec![1]);
                default(&mut obj, CKA_LOCAL, vec![0]);
            }
            // Keys are made on the token only.
            CKO_PRIVATE_KEY | CKO_SECRET_KEY => return Err(CKR_TEMPLATE_INCONSISTENT),
            _ => return Err(CKR_ATTRIBUTE_VALUE_INVALID),
        }
        default(&mut obj, CKA_TOKEN, vec![0]);
        default(&mut obj, CKA_PRIVATE, vec![0]);
        default(&mut obj, CKA_MODIFIABLE, vec![1]);
        default(&mut obj, CKA_LABEL, Vec::new());
        if class != CKO_DATA {
            default(&mut obj, CKA_ID, Vec::new());
        } else {
            default(&mut obj, CKA_APPLICATION, Vec::new());
            default(&mut obj, CKA_VALUE, Vec::new());
        }
        self.check_write(h, slot, obj.is_token(), obj.is_private())?;
        self.insert_object(h, slot, obj)
    }

    /// C_DestroyObject.
    pub fn destroy_object(&mut self, h: CK_SESSION_HANDLE, oh: CK_OBJECT_HANDLE) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let obj = self.object(slot, oh)?;
        let (token, private) = (obj.is_token(), obj.is_private());
        if !obj.flag(CKA_DESTROYABLE, true) {
            return Err(CKR_ACTION_PROHIBITED);
        }
        self.check_write(h, slot, token, private)?;
        let (_, uid) = split_handle(oh).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
        if token {
            let uid = u32::try_from(uid).map_err(|_| CKR_OBJECT_HANDLE_INVALID)?;
            self.mutate(slot, |t, _| {
                t.objects
                    .remove(&uid)
                    .map(|_| ())
                    .ok_or(CKR_OBJECT_HANDLE_INVALID)
            })
        } else {
            self.slots[slot].session_objects.remove(&uid);
            Ok(())
        }
    }

    /// C_GetObjectSize.
    pub fn object_size(&mut self, h: CK_SESSION_HANDLE, oh: CK_OBJECT_HANDLE) -> Rv<u64> {
        let slot = self.session_slot(h)?;
        Ok(self.object(slot, oh)?.size())
    }

    /// C_GetAttributeValue: one answer per requested type.
    pub fn get_attributes(
        &mut self,
        h: CK_SESSION_HANDLE,
        oh: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Rv<Vec<AttrValue>> {
        let slot = self.session_slot(h)?;
        let obj = self.object(slot, oh)?;
        Ok(types
            .iter()
            .map(|t| {
                if obj.is_sensitive(*t) {
                    AttrValue::Sensitive
                } else {
                    match obj.get(*t) {
                        Some(v) => AttrValue::Value(v.to_vec()),
                        None => AttrValue::Invalid,
                    }
                }
            })
            .collect())
    }

    /// C_SetAttributeValue: all or nothing.
    pub fn set_attributes(
        &mut self,
        h: CK_SESSION_HANDLE,
        oh: CK_OBJECT_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let obj = self.object(slot, oh)?;
        let (token, private) = (obj.is_token(), obj.is_private());
        for (t, v) in template {
            obj.check_settable(*t, v)?;
        }
        let mut changed = obj.clone();
        for (t, v) in template {
            changed.set(*t, v.clone());
        }
        self.check_write(h, slot, token, private)?;
        let (_, uid) = split_handle(oh).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
        if token {
            let uid = u32::try_from(uid).map_err(|_| CKR_OBJECT_HANDLE_INVALID)?;
            let grow = changed.size().saturating_sub(self.object(slot, oh)?.size());
            self.mutate(slot, |t, cfg| {
                if t.used_memory() + grow > cfg.memory {
                    return Err(CKR_DEVICE_MEMORY);
                }
                let o = t.objects.get_mut(&uid).ok_or(CKR_OBJECT_HANDLE_INVALID)?;
                *o = changed;
                Ok(())
            })
        } else {
            if let Some((_, o)) = self.slots[slot].session_objects.get_mut(&uid) {
                *o = changed;
            }
            Ok(())
        }
    }

    /// C_FindObjectsInit.
    pub fn find_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Rv<()> {
        let slot = self.session_slot(h)?;
        if self.session(h)?.find.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let visible_private = self.user_logged_in(slot);
        let rt = &self.slots[slot];
        let token = rt.token.objects.iter().map(|(uid, o)| (u64::from(*uid), o));
        let session = rt.session_objects.iter().map(|(uid, (_, o))| (*uid, o));
        let found: Vec<CK_OBJECT_HANDLE> = token
            .chain(session)
            .filter(|(_, o)| visible_private || !o.is_private())
            .filter(|(_, o)| o.matches(template))
            .map(|(uid, _)| handle(slot, uid))
            .collect();
        self.session(h)?.find = Some(found);
        Ok(())
    }

    /// C_FindObjects.
    pub fn find(&mut self, h: CK_SESSION_HANDLE, max: usize) -> Rv<Vec<CK_OBJECT_HANDLE>> {
        self.session_slot(h)?;
        let list = self
            .session(h)?
            .find
            .as_mut()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let n = max.min(list.len());
        Ok(list.drain(..n).collect())
    }

    /// C_FindObjectsFinal.
    pub fn find_final(&mut self, h: CK_SESSION_HANDLE) -> Rv<()> {
        self.session_slot(h)?;
        self.session(h)?
            .find
            .take()
            .map(|_| ())
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)
    }

    // ----- keys and crypto ---------------------------------------------------------

    /// C_GenerateKeyPair: P-256 (CKM_EC_KEY_PAIR_GEN) or SM2 (the profile's mechanism).
    pub fn generate_key_pair(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        public_t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
        private_t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Rv<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let slot = self.session_slot(h)?;
        let sm2 = mech_sm2(&self.slots[slot].cfg);
        let (key_type, params) = if mech == CKM_EC_KEY_PAIR_GEN {
            (CKK_EC, crypto::P256_EC_PARAMS)
        } else if mech == sm2.keygen {
            (sm2.key_type, crypto::SM2_EC_PARAMS)
        } else {
            return Err(CKR_MECHANISM_INVALID);
        };
        for (t, v) in public_t.iter().chain(private_t) {
            object::check_value_shape(*t, v)?;
        }
        let pub_in = Object::from_pairs(public_t);
        let priv_in = Object::from_pairs(private_t);
        match pub_in.get(CKA_EC_PARAMS) {
            Some(p) if p == params => {}
            Some(_) => return Err(CKR_CURVE_NOT_SUPPORTED),
            None if mech == CKM_EC_KEY_PAIR_GEN => return Err(CKR_TEMPLATE_INCOMPLETE),
            None => {}
        }
        for (o, class) in [(&pub_in, CKO_PUBLIC_KEY), (&priv_in, CKO_PRIVATE_KEY)] {
            if o.class().is_some_and(|c| c != class) {
                return Err(CKR_TEMPLATE_INCONSISTENT);
            }
            if o.ulong(CKA_KEY_TYPE).is_some_and(|k| k != key_type) {
                return Err(CKR_TEMPLATE_INCONSISTENT);
            }
        }
        if !priv_in.flag(CKA_SENSITIVE, true) || priv_in.flag(CKA_EXTRACTABLE, false) {
            // Private keys never leave the key.
            return Err(CKR_ATTRIBUTE_VALUE_INVALID);
        }
        let mut public = pub_in.clone();
        let mut private = priv_in.clone();
        let kp = if key_type == CKK_EC {
            crypto::p256_generate()
        } else {
            crypto::sm2_generate()
        }
        .map_err(|_| CKR_FUNCTION_FAILED)?;
        for o in [&mut public, &mut private] {
            o.set(CKA_KEY_TYPE, object::ulong_bytes(key_type));
            o.set(CKA_EC_PARAMS, params.to_vec());
            o.set_bool(CKA_LOCAL, true);
            o.set(CKA_KEY_GEN_MECHANISM, object::ulong_bytes(mech));
            default(o, CKA_TOKEN, vec![0]);
            default(o, CKA_LABEL, Vec::new());
            default(o, CKA_ID, Vec::new());
            default(o, CKA_MODIFIABLE, vec![1]);
            default(o, CKA_DERIVE, vec![0]);
        }
        public.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
        public.set(CKA_EC_POINT, crypto::ec_point_der(&kp.public));
        default(&mut public, CKA_PRIVATE, vec![0]);
        default(&mut public, CKA_VERIFY, vec![1]);
        private.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
        default(&mut private, CKA_PRIVATE, vec![1]);
        default(&mut private, CKA_SIGN, vec![1]);
        private.set_bool(CKA_SENSITIVE, true);
        private.set_bool(CKA_EXTRACTABLE, false);
        private.set_bool(CKA_ALWAYS_SENSITIVE, true);
        private.set_bool(CKA_NEVER_EXTRACTABLE, true);
        default(&mut private, CKA_SUBJECT, Vec::new());
        for a in [
            CKA_DECRYPT,
            CKA_UNWRAP,
            CKA_SIGN_RECOVER,
            CKA_ALWAYS_AUTHENTICATE,
            CKA_WRAP_WITH_TRUSTED,
        ] {
            default(&mut private, a, vec![0]);
        }
        for a in [CKA_ENCRYPT, CKA_WRAP, CKA_VERIFY_RECOVER, CKA_TRUSTED] {
            default(&mut public, a, vec![0]);
        }
        default(&mut public, CKA_SUBJECT, Vec::new());
        for o in [&mut public, &mut private] {
            default(o, CKA_START_DATE, Vec::new());
            default(o, CKA_END_DATE, Vec::new());
        }
        // The TASS family keeps the public point on the private key; Luna does not.
        if !sm2.der_signatures {
            private.set(CKA_EC_POINT, crypto::ec_point_der(&kp.public));
        }
        self.check_write(h, slot, public.is_token(), public.is_private())?;
        self.check_write(h, slot, private.is_token(), true)?;
        let kek = match &self.slots[slot].login {
            Some(Login {
                who: Who::User,
                kek,
            }) => kek.clone(),
            _ => return Err(CKR_USER_NOT_LOGGED_IN),
        };
        let sealed = crypto::aead_seal(&kek, kp.secret.as_slice(), KEY_AAD)
            .map_err(|_| CKR_FUNCTION_FAILED)?;
        private.sealed_secret = Some(Hex(sealed));
        private.public_point = Some(Hex(kp.public.to_vec()));
        if private.is_token() && public.is_token() {
            // Both or neither: check memory for the pair before writing either.
            let need = private.size() + public.size();
            let used = self.slots[slot].token.used_memory();
            if used + need > self.slots[slot].cfg.memory {
                return Err(CKR_DEVICE_MEMORY);
            }
        }
        let ph = self.insert_object(h, slot, public)?;
        match self.insert_object(h, slot, private) {
            Ok(kh) => Ok((ph, kh)),
            Err(e) => {
                let _ = self.destroy_object(h, ph);
                Err(e)
            }
        }
    }

    fn sign_kind(&self, slot: usize, mech: CK_MECHANISM_TYPE) -> Option<(SignKind, CK_KEY_TYPE)> {
        let sm2 = mech_sm2(&self.slots[slot].cfg);
        Some(match mech {
            CKM_ECDSA => (SignKind::EcdsaRaw, CKK_EC),
            CKM_ECDSA_SHA256 => (SignKind::EcdsaSha256, CKK_EC),
            m if m == sm2.sign_raw => (SignKind::Sm2Raw, sm2.key_type),
            m if m == sm2.sign_sm3 => (SignKind::Sm2Sm3, sm2.key_type),
            _ => return None,
        })
    }

    fn start_op(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        key: CK_OBJECT_HANDLE,
        sign: bool,
    ) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let busy = {
            let s = self.session(h)?;
            if sign {
                s.sign.is_some()
            } else {
                s.verify.is_some()
            }
        };
        if busy {
            return Err(CKR_OPERATION_ACTIVE);
        }
        let (_, want_type) = self.sign_kind(slot, mech).ok_or(CKR_MECHANISM_INVALID)?;
        if param.len() > 8191 {
            return Err(CKR_MECHANISM_PARAM_INVALID);
        }
        if sign && !self.user_logged_in(slot) {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        let obj = self.object(slot, key).map_err(|_| CKR_KEY_HANDLE_INVALID)?;
        let (class, usage) = if sign {
            (CKO_PRIVATE_KEY, CKA_SIGN)
        } else {
            (CKO_PUBLIC_KEY, CKA_VERIFY)
        };
        if obj.class() != Some(class) {
            return Err(CKR_KEY_TYPE_INCONSISTENT);
        }
        if obj.ulong(CKA_KEY_TYPE) != Some(want_type) {
            return Err(CKR_KEY_TYPE_INCONSISTENT);
        }
        if !obj.flag(usage, false) {
            return Err(CKR_KEY_FUNCTION_NOT_PERMITTED);
        }
        let op = Operation {
            mech,
            key,
            param: param.to_vec(),
            data: Vec::new(),
            pending: None,
            multi_part: false,
        };
        let s = self.session(h)?;
        if sign {
            s.sign = Some(op);
        } else {
            s.verify = Some(op);
        }
        Ok(())
    }

    /// C_SignInit.
    pub fn sign_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        key: CK_OBJECT_HANDLE,
    ) -> Rv<()> {
        self.start_op(h, mech, param, key, true)
    }

    /// C_VerifyInit.
    pub fn verify_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        key: CK_OBJECT_HANDLE,
    ) -> Rv<()> {
        self.start_op(h, mech, param, key, false)
    }

    /// Largest signature the session's signing operation can produce.
    pub fn sign_len(&mut self, h: CK_SESSION_HANDLE) -> Rv<usize> {
        let slot = self.session_slot(h)?;
        let op = self
            .session(h)?
            .sign
            .clone()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        if let Some(p) = &op.pending {
            return Ok(p.len());
        }
        let (kind, _) = self.sign_kind(slot, op.mech).ok_or(CKR_MECHANISM_INVALID)?;
        let der = mech_sm2(&self.slots[slot].cfg).der_signatures;
        Ok(if kind.is_sm2() && der { 72 } else { 64 })
    }

    /// C_SignUpdate / C_VerifyUpdate: accumulates data for the multi-part mechanisms.
    pub fn update(&mut self, h: CK_SESSION_HANDLE, part: &[u8], sign: bool) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let s = self.session(h)?;
        let op = if sign {
            s.sign.as_mut()
        } else {
            s.verify.as_mut()
        }
        .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let mech = op.mech;
        let Some((kind, _)) = self.sign_kind(slot, mech) else {
            return Err(CKR_MECHANISM_INVALID);
        };
        let s = self.session(h)?;
        let op = if sign {
            s.sign.as_mut()
        } else {
            s.verify.as_mut()
        }
        .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let result = if !kind.multi_part() {
            Err(CKR_FUNCTION_NOT_SUPPORTED)
        } else if op.data.len() + part.len() > MAX_DATA_LEN {
            Err(CKR_DATA_LEN_RANGE)
        } else {
            op.data.extend_from_slice(part);
            Ok(())
        };
        if result.is_err() {
            if sign {
                s.sign = None
            } else {
                s.verify = None
            }
        }
        result
    }

    /// Ends the session's signing operation (a failed C_Sign/C_SignFinal ends it).
    pub fn abort_sign(&mut self, h: CK_SESSION_HANDLE) {
        if let Some(s) = self.sessions.get_mut(&h) {
            s.sign = None;
        }
    }

    /// C_Sign (with `data`) or C_SignFinal (`data` None). `cap` is the caller's buffer
    /// size; on CKR_BUFFER_TOO_SMALL the signature is kept for the next call, and the
    /// needed length is returned in the error path through `needed`.
    pub fn sign(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: Option<&[u8]>,
        cap: usize,
        needed: &mut usize,
    ) -> Rv<Vec<u8>> {
        let slot = self.session_slot(h)?;
        let mut op = self
            .session(h)?
            .sign
            .clone()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let sig = match op.pending.take() {
            Some(sig) => sig,
            None => {
                let result = self.compute_signature(slot, &op, data);
                match result {
                    Ok(sig) => sig,
                    Err(e) => {
                        self.session(h)?.sign = None;
                        return Err(e);
                    }
                }
            }
        };
        *needed = sig.len();
        if cap < sig.len() {
            op.pending = Some(sig);
            self.session(h)?.sign = Some(op);
            return Err(CKR_BUFFER_TOO_SMALL);
        }
        self.session(h)?.sign = None;
        Ok(sig)
    }

    fn compute_signature(&self, slot: usize, op: &Operation, data: Option<&[u8]>) -> Rv<Vec<u8>> {
        let (kind, _) = self.sign_kind(slot, op.mech).ok_or(CKR_MECHANISM_INVALID)?;
        let input: &[u8] = match data {
            Some(d) => d,
            None if kind.multi_part() => &op.data,
            None => return Err(CKR_FUNCTION_NOT_SUPPORTED),
        };
        let key = self
            .object(slot, op.key)
            .map_err(|_| CKR_KEY_HANDLE_INVALID)?;
        let kek = match &self.slots[slot].login {
            Some(Login {
                who: Who::User,
                kek,
            }) => kek,
            _ => return Err(CKR_USER_NOT_LOGGED_IN),
        };
        let sealed = key.sealed_secret.as_ref().ok_or(CKR_KEY_HANDLE_INVALID)?;
        let secret = crypto::aead_open(kek, &sealed.0, KEY_AAD).map_err(|_| CKR_DEVICE_ERROR)?;
        let raw = match kind {
            SignKind::EcdsaRaw => {
                if input.is_empty() || input.len() > 64 {
                    return Err(CKR_DATA_LEN_RANGE);
                }
                crypto::p256_sign_prehash(&secret, input)
            }
            SignKind::EcdsaSha256 => crypto::p256_sign_sha256(&secret, input),
            SignKind::Sm2Raw => {
                if input.len() != 32 {
                    return Err(CKR_DATA_LEN_RANGE);
                }
                crypto::sm2_sign_prehash(&secret, input)
            }
            SignKind::Sm2Sm3 => {
                let id: &[u8] = if op.param.is_empty() {
                    crypto::SM2_DEFAULT_DISTID
                } else {
                    &op.param
                };
                crypto::sm2_sign_message(&secret, id, input)
            }
        }
        .map_err(|_| CKR_FUNCTION_FAILED)?;
        let der = mech_sm2(&self.slots[slot].cfg).der_signatures;
        if kind.is_sm2() && der {
            crypto::sig_raw_to_der(&raw).map_err(|_| CKR_FUNCTION_FAILED)
        } else {
            Ok(raw.to_vec())
        }
    }

    /// C_Verify (with `data`) or C_VerifyFinal (`data` None). Ends the operation.
    pub fn verify(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: Option<&[u8]>,
        signature: &[u8],
    ) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let op = self
            .session(h)?
            .verify
            .take()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let (kind, _) = self.sign_kind(slot, op.mech).ok_or(CKR_MECHANISM_INVALID)?;
        let input: &[u8] = match data {
            Some(d) => d,
            None if kind.multi_part() => &op.data,
            None => return Err(CKR_FUNCTION_NOT_SUPPORTED),
        };
        let key = self
            .object(slot, op.key)
            .map_err(|_| CKR_KEY_HANDLE_INVALID)?;
        let point = key.get(CKA_EC_POINT).ok_or(CKR_KEY_HANDLE_INVALID)?;
        let point = crypto::parse_ec_point(point).map_err(|_| CKR_KEY_HANDLE_INVALID)?;
        let der = mech_sm2(&self.slots[slot].cfg).der_signatures;
        let raw: Vec<u8> = if kind.is_sm2() && der {
            crypto::sig_der_to_raw(signature)
                .map_err(|_| CKR_SIGNATURE_INVALID)?
                .to_vec()
        } else {
            if signature.len() != 64 {
                return Err(CKR_SIGNATURE_LEN_RANGE);
            }
            signature.to_vec()
        };
        let ok = match kind {
            SignKind::EcdsaRaw => crypto::p256_verify_prehash(&point, input, &raw),
            SignKind::EcdsaSha256 => crypto::p256_verify_sha256(&point, input, &raw),
            SignKind::Sm2Raw => {
                if input.len() != 32 {
                    return Err(CKR_DATA_LEN_RANGE);
                }
                crypto::sm2_verify_prehash(&point, input, &raw)
            }
            SignKind::Sm2Sm3 => {
                let id: &[u8] = if op.param.is_empty() {
                    crypto::SM2_DEFAULT_DISTID
                } else {
                    &op.param
                };
                crypto::sm2_verify_message(&point, id, input, &raw)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(CKR_SIGNATURE_INVALID)
        }
    }

    /// C_DigestInit.
    pub fn digest_init(&mut self, h: CK_SESSION_HANDLE, mech: CK_MECHANISM_TYPE) -> Rv<()> {
        let slot = self.session_slot(h)?;
        let sm3 = mech_sm2(&self.slots[slot].cfg).digest_sm3;
        if mech != CKM_SHA256 && mech != sm3 {
            return Err(CKR_MECHANISM_INVALID);
        }
        let s = self.session(h)?;
        if s.digest.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        s.digest = Some(Operation {
            mech,
            key: 0,
            param: Vec::new(),
            data: Vec::new(),
            pending: None,
            multi_part: false,
        });
        Ok(())
    }

    /// C_DigestUpdate.
    pub fn digest_update(&mut self, h: CK_SESSION_HANDLE, part: &[u8]) -> Rv<()> {
        self.session_slot(h)?;
        let s = self.session(h)?;
        let op = s.digest.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        if op.data.len() + part.len() > MAX_DATA_LEN {
            s.digest = None;
            return Err(CKR_DATA_LEN_RANGE);
        }
        op.data.extend_from_slice(part);
        op.multi_part = true;
        Ok(())
    }

    /// C_Digest (`data` Some) or C_DigestFinal. Output is always 32 bytes.
    ///
    /// C_Digest after C_DigestUpdate is refused with CKR_OPERATION_ACTIVE: PKCS#11
    /// says C_Digest cannot finish a multi-part operation, and hashing only its own
    /// data would silently drop the parts. The multi-part operation is left running,
    /// so C_DigestFinal still finishes it. Every other error ends the operation
    /// (the caller does that through [`Runtime::abort_digest`] for argument errors).
    pub fn digest(&mut self, h: CK_SESSION_HANDLE, data: Option<&[u8]>, cap: usize) -> Rv<Vec<u8>> {
        self.session_slot(h)?;
        let s = self.session(h)?;
        let op = s.digest.as_ref().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        if data.is_some() && op.multi_part {
            return Err(CKR_OPERATION_ACTIVE);
        }
        if cap < 32 {
            return Err(CKR_BUFFER_TOO_SMALL);
        }
        let input = data.unwrap_or(&op.data);
        let out = if op.mech == CKM_SHA256 {
            crypto::sha256(input)
        } else {
            crypto::sm3(input)
        };
        s.digest = None;
        Ok(out.to_vec())
    }

    /// Ends the session's digest operation (a failed C_Digest/C_DigestFinal ends it).
    pub fn abort_digest(&mut self, h: CK_SESSION_HANDLE) {
        if let Some(s) = self.sessions.get_mut(&h) {
            s.digest = None;
        }
    }

    /// C_SeedRandom: softkey's generator is the operating system's and takes no
    /// seed, but like every session function it answers for the session first.
    pub fn seed_random(&mut self, h: CK_SESSION_HANDLE) -> Rv<()> {
        self.session_slot(h)?;
        Err(CKR_RANDOM_SEED_NOT_SUPPORTED)
    }

    /// C_GenerateRandom.
    pub fn random(&mut self, h: CK_SESSION_HANDLE, n: usize) -> Rv<Vec<u8>> {
        self.session_slot(h)?;
        if n > MAX_DATA_LEN {
            return Err(CKR_DATA_LEN_RANGE);
        }
        crypto::random_bytes(n).map_err(|_| CKR_FUNCTION_FAILED)
    }

    /// One pass of C_WaitForSlotEvent: a slot whose presence changed since it was last
    /// reported.
    pub fn poll_slot_event(&mut self) -> Option<CK_SLOT_ID> {
        self.refresh_control();
        for i in 0..self.slots.len() {
            let present = self.present(i);
            if present != self.slots[i].event_seen {
                self.slots[i].event_seen = present;
                if !present {
                    self.on_removed(i);
                }
                return Some(i as CK_SLOT_ID);
            }
        }
        None
    }
}

/// AAD binding sealed private keys to their purpose.
const KEY_AAD: &[u8] = b"certkey-softkey private key v1";

#[derive(Clone, Copy, PartialEq, Eq)]
enum SignKind {
    EcdsaRaw,
    EcdsaSha256,
    Sm2Raw,
    Sm2Sm3,
}

impl SignKind {
    fn is_sm2(self) -> bool {
        matches!(self, SignKind::Sm2Raw | SignKind::Sm2Sm3)
    }
    fn multi_part(self) -> bool {
        matches!(self, SignKind::EcdsaSha256 | SignKind::Sm2Sm3)
    }
}

fn default(o: &mut Object, t: CK_ATTRIBUTE_TYPE, v: Vec<u8>) {
    if o.get(t).is_none() {
        o.set(t, v);
    }
}

/// Logs a store/config failure (when CERTKEY_SOFTKEY_DEBUG is set) and maps it to
/// CKR_GENERAL_ERROR: the host application gets a code, the operator the reason.
fn fail(reason: &str) -> CK_RV {
    if std::env::var_os("CERTKEY_SOFTKEY_DEBUG").is_some() {
        eprintln!("softkey: {reason}");
    }
    CKR_GENERAL_ERROR
}
