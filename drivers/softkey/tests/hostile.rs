//! Hostile callers of the exported C ABI. The `C_*` functions are called directly
//! through the rlib, with no cryptoki in between to tidy the arguments: null pointers,
//! lengths that disagree with their pointers, made-up handles, absurd counts, badly
//! shaped attribute values and plain garbage. Each call must give the exact CK_RV of
//! PKCS#11 v2.40, and nothing may panic (a caught panic shows as CKR_GENERAL_ERROR).
//!
//! The module state is one per process: the tests take a lock, point
//! CERTKEY_SOFTKEY_DIR at a fresh store and always C_Finalize (in a guard's Drop).

mod common;

use std::os::raw::c_void;
use std::ptr::null_mut;
use std::sync::{Mutex, MutexGuard};

use certkey_softkey::ffi::*;
use common::{SO_PIN, TWO_PROFILES, USER_PIN};
use cryptoki_sys::*;

// ----- harness -----------------------------------------------------------------------

static LOCK: Mutex<()> = Mutex::new(());

/// Exclusive use of the in-process module on a fresh store; finalizes on drop, also
/// when the test fails.
struct Module {
    _dir: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
}

impl Module {
    /// The lock and a fresh store, the module not initialised.
    fn fresh(config: Option<&str>) -> Module {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(c) = config {
            std::fs::write(dir.path().join("softkey.toml"), c).expect("softkey.toml");
        }
        std::env::set_var("CERTKEY_SOFTKEY_DIR", dir.path());
        let m = Module {
            _dir: dir,
            _guard: guard,
        };
        // Every earlier test finalized on its way out.
        expect(
            "C_Finalize of a finalized module",
            unsafe { C_Finalize(null_mut()) },
            CKR_CRYPTOKI_NOT_INITIALIZED,
        );
        m
    }

    /// The lock, a fresh store and C_Initialize(NULL).
    fn initialised(config: Option<&str>) -> Module {
        let m = Module::fresh(config);
        ok("C_Initialize", unsafe { C_Initialize(null_mut()) });
        m
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        unsafe {
            C_Finalize(null_mut());
        }
    }
}

/// The name of a return code, for messages.
fn name(rv: CK_RV) -> String {
    macro_rules! names {
        ($($c:ident),* $(,)?) => {
            $(if rv == $c { return stringify!($c).to_string(); })*
        };
    }
    names!(
        CKR_OK,
        CKR_HOST_MEMORY,
        CKR_SLOT_ID_INVALID,
        CKR_GENERAL_ERROR,
        CKR_FUNCTION_FAILED,
        CKR_ARGUMENTS_BAD,
        CKR_NO_EVENT,
        CKR_CANT_LOCK,
        CKR_ATTRIBUTE_READ_ONLY,
        CKR_ATTRIBUTE_SENSITIVE,
        CKR_ATTRIBUTE_TYPE_INVALID,
        CKR_ATTRIBUTE_VALUE_INVALID,
        CKR_ACTION_PROHIBITED,
        CKR_DATA_INVALID,
        CKR_DATA_LEN_RANGE,
        CKR_DEVICE_ERROR,
        CKR_DEVICE_MEMORY,
        CKR_DEVICE_REMOVED,
        CKR_FUNCTION_NOT_PARALLEL,
        CKR_FUNCTION_NOT_SUPPORTED,
        CKR_KEY_HANDLE_INVALID,
        CKR_KEY_TYPE_INCONSISTENT,
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        CKR_MECHANISM_INVALID,
        CKR_MECHANISM_PARAM_INVALID,
        CKR_OBJECT_HANDLE_INVALID,
        CKR_OPERATION_ACTIVE,
        CKR_OPERATION_NOT_INITIALIZED,
        CKR_PIN_INCORRECT,
        CKR_PIN_LEN_RANGE,
        CKR_PIN_LOCKED,
        CKR_SESSION_HANDLE_INVALID,
        CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        CKR_SESSION_READ_ONLY,
        CKR_SESSION_EXISTS,
        CKR_SIGNATURE_INVALID,
        CKR_SIGNATURE_LEN_RANGE,
        CKR_TEMPLATE_INCOMPLETE,
        CKR_TEMPLATE_INCONSISTENT,
        CKR_TOKEN_NOT_PRESENT,
        CKR_TOKEN_NOT_RECOGNIZED,
        CKR_USER_ALREADY_LOGGED_IN,
        CKR_USER_NOT_LOGGED_IN,
        CKR_USER_PIN_NOT_INITIALIZED,
        CKR_USER_TYPE_INVALID,
        CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
        CKR_RANDOM_SEED_NOT_SUPPORTED,
        CKR_CURVE_NOT_SUPPORTED,
        CKR_BUFFER_TOO_SMALL,
        CKR_CRYPTOKI_NOT_INITIALIZED,
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
    );
    format!("{rv:#x}")
}

#[track_caller]
fn expect(what: &str, got: CK_RV, want: CK_RV) {
    assert!(
        got == want,
        "{what}: got {}, want {}",
        name(got),
        name(want)
    );
}

#[track_caller]
fn ok(what: &str, rv: CK_RV) {
    expect(what, rv, CKR_OK);
}

/// `call!(C_Foo(args))`: the call and its function's name, for [`all_return`].
macro_rules! call {
    ($f:ident($($arg:expr),* $(,)?)) => {
        (stringify!($f), $f($($arg),*))
    };
}

/// Checks a list of (function, return code) against one expected code.
#[track_caller]
fn all_return(calls: &[(&str, CK_RV)], want: CK_RV, context: &str) {
    let wrong: Vec<String> = calls
        .iter()
        .filter(|(_, rv)| *rv != want)
        .map(|(f, rv)| format!("{f} -> {}", name(*rv)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{context}: want {} from every call, but {wrong:?}",
        name(want)
    );
}

// ----- PKCS#11 helpers ---------------------------------------------------------------

const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// TASS profile (slot 0 of TWO_PROFILES, and the default slot).
const TASS_SM2_KEYGEN: CK_MECHANISM_TYPE = 0x8000_8001;
const TASS_SM2_SIGN_RAW: CK_MECHANISM_TYPE = 0x8000_8000;
const TASS_SM2_SIGN_SM3: CK_MECHANISM_TYPE = 0x8000_8100;
/// Luna profile (slot 1 of TWO_PROFILES): DER SM2 signatures.
const LUNA_SM2_KEYGEN: CK_MECHANISM_TYPE = 0x8000_0B20;
const LUNA_SM2_SIGN_SM3: CK_MECHANISM_TYPE = 0x8000_0B22;
const TRUE: &[u8] = &[1];
const FALSE: &[u8] = &[0];
/// A handle no object has: slot 0's uid space, far beyond anything created.
const MADE_UP_OBJECT: CK_OBJECT_HANDLE = (1 << 32) | 0x00AB_CDEF;

fn ul(v: CK_ULONG) -> [u8; 8] {
    v.to_ne_bytes()
}

/// An input attribute pointing at `v` (a non-null pointer even when `v` is empty).
fn attr(t: CK_ATTRIBUTE_TYPE, v: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: t,
        pValue: v.as_ptr() as *mut c_void,
        ulValueLen: v.len() as CK_ULONG,
    }
}

/// An output attribute writing into `buf`.
fn out(t: CK_ATTRIBUTE_TYPE, buf: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: t,
        pValue: buf.as_mut_ptr() as *mut c_void,
        ulValueLen: buf.len() as CK_ULONG,
    }
}

/// An attribute with a null value pointer.
fn null_attr(t: CK_ATTRIBUTE_TYPE, len: CK_ULONG) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: t,
        pValue: null_mut(),
        ulValueLen: len,
    }
}

fn mech(m: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: m,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

fn tmpl(t: &[CK_ATTRIBUTE]) -> *mut CK_ATTRIBUTE {
    t.as_ptr() as *mut CK_ATTRIBUTE
}

fn pin(p: &str) -> (*mut u8, CK_ULONG) {
    (p.as_ptr() as *mut u8, p.len() as CK_ULONG)
}

fn login(h: CK_SESSION_HANDLE, user: CK_USER_TYPE, p: &str) -> CK_RV {
    let (ptr, len) = pin(p);
    unsafe { C_Login(h, user, ptr, len) }
}

fn open(slot: CK_SLOT_ID, rw: bool) -> CK_SESSION_HANDLE {
    let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
    let mut h = 0;
    ok("C_OpenSession", unsafe {
        C_OpenSession(slot, flags, null_mut(), None, &mut h)
    });
    h
}

/// C_InitToken with the SO PIN, then the SO sets the user PIN.
fn init_token(slot: CK_SLOT_ID) {
    let mut label = [b' '; 32];
    label[..7].copy_from_slice(b"hostile");
    let (so, so_len) = pin(SO_PIN);
    ok("C_InitToken", unsafe {
        C_InitToken(slot, so, so_len, label.as_mut_ptr())
    });
    let h = open(slot, true);
    ok("SO C_Login", login(h, CKU_SO, SO_PIN));
    let (user, user_len) = pin(USER_PIN);
    ok("C_InitPIN", unsafe { C_InitPIN(h, user, user_len) });
    ok("C_Logout", unsafe { C_Logout(h) });
    ok("C_CloseSession", unsafe { C_CloseSession(h) });
}

/// A R/W session logged in as the user.
fn user_session(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let h = open(slot, true);
    ok("user C_Login", login(h, CKU_USER, USER_PIN));
    h
}

fn generate(
    h: CK_SESSION_HANDLE,
    m: CK_MECHANISM_TYPE,
    public: &[CK_ATTRIBUTE],
    private: &[CK_ATTRIBUTE],
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let mut mm = mech(m);
    let (mut p, mut k) = (0, 0);
    let rv = unsafe {
        C_GenerateKeyPair(
            h,
            &mut mm,
            tmpl(public),
            public.len() as CK_ULONG,
            tmpl(private),
            private.len() as CK_ULONG,
            &mut p,
            &mut k,
        )
    };
    if rv == CKR_OK {
        Ok((p, k))
    } else {
        Err(rv)
    }
}

/// A P-256 key pair labelled `label`: (public, private).
fn p256_pair(
    h: CK_SESSION_HANDLE,
    token: bool,
    label: &[u8],
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let tok = [u8::from(token)];
    let public = [
        attr(CKA_EC_PARAMS, P256_PARAMS),
        attr(CKA_TOKEN, &tok),
        attr(CKA_LABEL, label),
    ];
    let private = [attr(CKA_TOKEN, &tok), attr(CKA_LABEL, label)];
    generate(h, CKM_EC_KEY_PAIR_GEN, &public, &private)
        .unwrap_or_else(|rv| panic!("P-256 key pair: {}", name(rv)))
}

/// A session SM2 key pair through a profile's vendor mechanism.
fn sm2_pair(
    h: CK_SESSION_HANDLE,
    keygen: CK_MECHANISM_TYPE,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    generate(h, keygen, &[], &[]).unwrap_or_else(|rv| panic!("SM2 key pair: {}", name(rv)))
}

fn create(h: CK_SESSION_HANDLE, t: &[CK_ATTRIBUTE]) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut o = 0;
    let rv = unsafe { C_CreateObject(h, tmpl(t), t.len() as CK_ULONG, &mut o) };
    if rv == CKR_OK {
        Ok(o)
    } else {
        Err(rv)
    }
}

/// A data object (public, modifiable).
fn data_object(h: CK_SESSION_HANDLE, token: bool, label: &[u8]) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let class = ul(CKO_DATA);
    let tok = [u8::from(token)];
    create(
        h,
        &[
            attr(CKA_CLASS, &class),
            attr(CKA_TOKEN, &tok),
            attr(CKA_LABEL, label),
            attr(CKA_VALUE, b"payload"),
        ],
    )
}

/// One attribute, by the two-call length convention.
fn get_attr(
    h: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    t: CK_ATTRIBUTE_TYPE,
) -> Result<Vec<u8>, CK_RV> {
    let mut a = [null_attr(t, 0)];
    let rv = unsafe { C_GetAttributeValue(h, o, a.as_mut_ptr(), 1) };
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut buf = vec![0u8; a[0].ulValueLen as usize];
    let mut a = [out(t, &mut buf)];
    let rv = unsafe { C_GetAttributeValue(h, o, a.as_mut_ptr(), 1) };
    if rv != CKR_OK {
        return Err(rv);
    }
    buf.truncate(a[0].ulValueLen as usize);
    Ok(buf)
}

/// Every object matching `t`.
fn find(h: CK_SESSION_HANDLE, t: &[CK_ATTRIBUTE]) -> Vec<CK_OBJECT_HANDLE> {
    ok("C_FindObjectsInit", unsafe {
        C_FindObjectsInit(h, tmpl(t), t.len() as CK_ULONG)
    });
    let mut all = Vec::new();
    loop {
        let mut buf = [0 as CK_OBJECT_HANDLE; 16];
        let mut n = 0;
        ok("C_FindObjects", unsafe {
            C_FindObjects(h, buf.as_mut_ptr(), 16, &mut n)
        });
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n as usize]);
    }
    ok("C_FindObjectsFinal", unsafe { C_FindObjectsFinal(h) });
    all
}

fn token_flags(slot: CK_SLOT_ID) -> CK_FLAGS {
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    ok("C_GetTokenInfo", unsafe { C_GetTokenInfo(slot, &mut info) });
    info.flags
}

/// Signs `data` in one C_Sign call with a big enough buffer.
fn sign(h: CK_SESSION_HANDLE, m: CK_MECHANISM_TYPE, key: CK_OBJECT_HANDLE, data: &[u8]) -> Vec<u8> {
    let mut mm = mech(m);
    ok("C_SignInit", unsafe { C_SignInit(h, &mut mm, key) });
    let mut sig = vec![0u8; 128];
    let mut len = sig.len() as CK_ULONG;
    ok("C_Sign", unsafe {
        C_Sign(
            h,
            data.as_ptr() as *mut u8,
            data.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut len,
        )
    });
    sig.truncate(len as usize);
    sig
}

fn verify(
    h: CK_SESSION_HANDLE,
    m: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    sig: &[u8],
) -> CK_RV {
    let mut mm = mech(m);
    ok("C_VerifyInit", unsafe { C_VerifyInit(h, &mut mm, key) });
    unsafe {
        C_Verify(
            h,
            data.as_ptr() as *mut u8,
            data.len() as CK_ULONG,
            sig.as_ptr() as *mut u8,
            sig.len() as CK_ULONG,
        )
    }
}

// ----- the same calls under different conditions --------------------------------------

/// The functions that need no slot or session, with well-formed arguments.
fn general_calls() -> Vec<(&'static str, CK_RV)> {
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    let mut n: CK_ULONG = 0;
    let mut slot: CK_SLOT_ID = 0;
    unsafe {
        vec![
            call!(C_GetInfo(&mut info)),
            call!(C_GetSlotList(CK_FALSE, null_mut(), &mut n)),
            call!(C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut())),
        ]
    }
}

/// Every function taking a slot id, with well-formed arguments.
fn slot_calls(slot: CK_SLOT_ID) -> Vec<(&'static str, CK_RV)> {
    let mut slot_info: CK_SLOT_INFO = unsafe { std::mem::zeroed() };
    let mut token_info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    let mut mech_info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
    let mut n: CK_ULONG = 0;
    let mut label = [b' '; 32];
    let (so, so_len) = pin(SO_PIN);
    let mut h: CK_SESSION_HANDLE = 0;
    unsafe {
        vec![
            call!(C_GetSlotInfo(slot, &mut slot_info)),
            call!(C_GetTokenInfo(slot, &mut token_info)),
            call!(C_GetMechanismList(slot, null_mut(), &mut n)),
            call!(C_GetMechanismInfo(slot, CKM_ECDSA, &mut mech_info)),
            call!(C_InitToken(slot, so, so_len, label.as_mut_ptr())),
            call!(C_OpenSession(
                slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                null_mut(),
                None,
                &mut h,
            )),
            call!(C_CloseAllSessions(slot)),
        ]
    }
}

/// Every implemented function taking a session, with well-formed arguments (buffers
/// big enough, lengths true) and `object` where an object or key is wanted.
fn session_calls(h: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let (user, user_len) = pin(USER_PIN);
    let mut data = *b"0123456789abcdef0123456789abcdef";
    let dp = data.as_mut_ptr();
    let dl = data.len() as CK_ULONG;
    let mut buf = [0u8; 128];
    let bp = buf.as_mut_ptr();
    let mut len: CK_ULONG = 128;
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    let class = ul(CKO_DATA);
    let label = *b"x";
    let t = [attr(CKA_CLASS, &class), attr(CKA_LABEL, &label)];
    let mut query = [null_attr(CKA_LABEL, 0)];
    let pubt = [attr(CKA_EC_PARAMS, P256_PARAMS)];
    let mut handles = [0 as CK_OBJECT_HANDLE; 4];
    let (mut o, mut p, mut k) = (0, 0, 0);
    let mut sha = mech(CKM_SHA256);
    let mut ecdsa = mech(CKM_ECDSA_SHA256);
    let mut keygen = mech(CKM_EC_KEY_PAIR_GEN);
    unsafe {
        vec![
            call!(C_InitPIN(h, user, user_len)),
            call!(C_SetPIN(h, user, user_len, user, user_len)),
            call!(C_GetSessionInfo(h, &mut info)),
            call!(C_Login(h, CKU_USER, user, user_len)),
            call!(C_Logout(h)),
            call!(C_CreateObject(h, tmpl(&t), 2, &mut o)),
            call!(C_DestroyObject(h, object)),
            call!(C_GetObjectSize(h, object, &mut len)),
            call!(C_GetAttributeValue(h, object, query.as_mut_ptr(), 1)),
            call!(C_SetAttributeValue(h, object, tmpl(&t[1..]), 1)),
            call!(C_FindObjectsInit(h, tmpl(&t), 2)),
            call!(C_FindObjects(h, handles.as_mut_ptr(), 4, &mut len)),
            call!(C_FindObjectsFinal(h)),
            call!(C_DigestInit(h, &mut sha)),
            call!(C_Digest(h, dp, dl, bp, &mut { 128 })),
            call!(C_DigestUpdate(h, dp, dl)),
            call!(C_DigestFinal(h, bp, &mut { 128 })),
            call!(C_SignInit(h, &mut ecdsa, object)),
            call!(C_Sign(h, dp, dl, bp, &mut { 128 })),
            call!(C_SignUpdate(h, dp, dl)),
            call!(C_SignFinal(h, bp, &mut { 128 })),
            call!(C_VerifyInit(h, &mut ecdsa, object)),
            call!(C_Verify(h, dp, dl, bp, 64)),
            call!(C_VerifyUpdate(h, dp, dl)),
            call!(C_VerifyFinal(h, bp, 64)),
            call!(C_GenerateKeyPair(
                h,
                &mut keygen,
                tmpl(&pubt),
                1,
                null_mut(),
                0,
                &mut p,
                &mut k,
            )),
            call!(C_GenerateRandom(h, bp, 16)),
            call!(C_CloseSession(h)),
        ]
    }
}

/// The functions a signing key does not offer.
fn unsupported_calls(h: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let mut buf = [0u8; 64];
    let bp = buf.as_mut_ptr();
    let mut len: CK_ULONG = 64;
    let mut m = mech(CKM_ECDSA);
    let mut o = 0;
    let label = *b"x";
    let t = [attr(CKA_LABEL, &label)];
    unsafe {
        vec![
            call!(C_GetOperationState(h, bp, &mut len)),
            call!(C_SetOperationState(h, bp, 64, 0, 0)),
            call!(C_CopyObject(h, object, tmpl(&t), 1, &mut o)),
            call!(C_EncryptInit(h, &mut m, object)),
            call!(C_Encrypt(h, bp, 16, bp, &mut len)),
            call!(C_EncryptUpdate(h, bp, 16, bp, &mut len)),
            call!(C_EncryptFinal(h, bp, &mut len)),
            call!(C_DecryptInit(h, &mut m, object)),
            call!(C_Decrypt(h, bp, 16, bp, &mut len)),
            call!(C_DecryptUpdate(h, bp, 16, bp, &mut len)),
            call!(C_DecryptFinal(h, bp, &mut len)),
            call!(C_DigestKey(h, object)),
            call!(C_SignRecoverInit(h, &mut m, object)),
            call!(C_SignRecover(h, bp, 16, bp, &mut len)),
            call!(C_VerifyRecoverInit(h, &mut m, object)),
            call!(C_VerifyRecover(h, bp, 16, bp, &mut len)),
            call!(C_DigestEncryptUpdate(h, bp, 16, bp, &mut len)),
            call!(C_DecryptDigestUpdate(h, bp, 16, bp, &mut len)),
            call!(C_SignEncryptUpdate(h, bp, 16, bp, &mut len)),
            call!(C_DecryptVerifyUpdate(h, bp, 16, bp, &mut len)),
            call!(C_GenerateKey(h, &mut m, tmpl(&t), 1, &mut o)),
            call!(C_WrapKey(h, &mut m, object, object, bp, &mut len)),
            call!(C_UnwrapKey(h, &mut m, object, bp, 16, tmpl(&t), 1, &mut o)),
            call!(C_DeriveKey(h, &mut m, object, tmpl(&t), 1, &mut o)),
            call!(C_SeedRandom(h, bp, 16)),
            call!(C_GetFunctionStatus(h)),
            call!(C_CancelFunction(h)),
        ]
    }
}

/// What an initialised module answers to one of [`unsupported_calls`].
fn unsupported_answer(f: &str) -> CK_RV {
    match f {
        "C_SeedRandom" => CKR_RANDOM_SEED_NOT_SUPPORTED,
        // The legacy parallel-function calls.
        "C_GetFunctionStatus" | "C_CancelFunction" => CKR_FUNCTION_NOT_PARALLEL,
        _ => CKR_FUNCTION_NOT_SUPPORTED,
    }
}

fn everything(slot: CK_SLOT_ID, h: CK_SESSION_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let mut calls = general_calls();
    calls.extend(slot_calls(slot));
    calls.extend(session_calls(h, MADE_UP_OBJECT));
    calls.extend(unsupported_calls(h, MADE_UP_OBJECT));
    calls
}

// ----- C_Initialize, C_Finalize, entry points -------------------------------------------

#[test]
fn every_function_but_the_entry_points_needs_c_initialize_first() {
    let _m = Module::fresh(None);
    let calls = everything(0, 1);
    assert!(calls.len() > 60, "the lists cover the whole function table");
    all_return(&calls, CKR_CRYPTOKI_NOT_INITIALIZED, "before C_Initialize");
    expect(
        "C_Finalize",
        unsafe { C_Finalize(null_mut()) },
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );

    // The same after a C_Initialize / C_Finalize round: nothing of the old state is used.
    ok("C_Initialize", unsafe { C_Initialize(null_mut()) });
    init_token(0);
    let h = open(0, true);
    ok("C_Finalize", unsafe { C_Finalize(null_mut()) });
    all_return(
        &everything(0, h),
        CKR_CRYPTOKI_NOT_INITIALIZED,
        "after C_Finalize",
    );
}

unsafe extern "C" fn create_mutex(m: *mut *mut c_void) -> CK_RV {
    *m = std::ptr::NonNull::<u8>::dangling().as_ptr() as *mut c_void;
    CKR_OK
}
unsafe extern "C" fn mutex_op(_m: *mut c_void) -> CK_RV {
    CKR_OK
}

fn init_args(callbacks: [bool; 4], flags: CK_FLAGS) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: if callbacks[0] {
            Some(create_mutex)
        } else {
            None
        },
        DestroyMutex: if callbacks[1] { Some(mutex_op) } else { None },
        LockMutex: if callbacks[2] { Some(mutex_op) } else { None },
        UnlockMutex: if callbacks[3] { Some(mutex_op) } else { None },
        flags,
        pReserved: null_mut(),
    }
}

fn initialized() -> bool {
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    match unsafe { C_GetInfo(&mut info) } {
        CKR_OK => true,
        CKR_CRYPTOKI_NOT_INITIALIZED => false,
        rv => panic!("C_GetInfo: {}", name(rv)),
    }
}

#[test]
fn c_initialize_rejects_bad_init_args_and_a_second_call() {
    let _m = Module::fresh(None);
    let mut reserved = 0u8;
    let mut args = init_args([false; 4], CKF_OS_LOCKING_OK);
    args.pReserved = &mut reserved as *mut u8 as *mut c_void;
    expect(
        "pReserved set",
        unsafe { C_Initialize(&mut args as *mut _ as *mut c_void) },
        CKR_ARGUMENTS_BAD,
    );
    assert!(
        !initialized(),
        "a refused C_Initialize leaves the module uninitialised"
    );

    // Some but not all of the four mutex callbacks.
    for mask in 1u8..15 {
        let cb = [mask & 1 != 0, mask & 2 != 0, mask & 4 != 0, mask & 8 != 0];
        for flags in [0, CKF_OS_LOCKING_OK] {
            let mut args = init_args(cb, flags);
            expect(
                &format!("mutex callbacks {cb:?}, flags {flags}"),
                unsafe { C_Initialize(&mut args as *mut _ as *mut c_void) },
                CKR_ARGUMENTS_BAD,
            );
        }
    }
    assert!(!initialized());
    // All four callbacks but OS locking not allowed: the module locks only with the OS.
    let mut args = init_args([true; 4], 0);
    expect(
        "own mutexes only",
        unsafe { C_Initialize(&mut args as *mut _ as *mut c_void) },
        CKR_CANT_LOCK,
    );
    assert!(!initialized());

    // All four and OS locking allowed: accepted. Then a second call, either way, is refused.
    let mut args = init_args([true; 4], CKF_OS_LOCKING_OK);
    ok("C_Initialize", unsafe {
        C_Initialize(&mut args as *mut _ as *mut c_void)
    });
    assert!(initialized());
    expect(
        "second C_Initialize(NULL)",
        unsafe { C_Initialize(null_mut()) },
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
    );
    let mut args = init_args([false; 4], CKF_OS_LOCKING_OK);
    expect(
        "second C_Initialize(args)",
        unsafe { C_Initialize(&mut args as *mut _ as *mut c_void) },
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
    );

    // C_Finalize insists on a null pReserved and then leaves the module running.
    expect(
        "C_Finalize(non-null)",
        unsafe { C_Finalize(&mut reserved as *mut u8 as *mut c_void) },
        CKR_ARGUMENTS_BAD,
    );
    assert!(
        initialized(),
        "a refused C_Finalize keeps the module initialised"
    );
    ok("C_Finalize", unsafe { C_Finalize(null_mut()) });
    assert!(!initialized());
    expect(
        "second C_Finalize",
        unsafe { C_Finalize(null_mut()) },
        CKR_CRYPTOKI_NOT_INITIALIZED,
    );
    ok("C_Initialize again", unsafe { C_Initialize(null_mut()) });
    assert!(initialized());
}

#[test]
fn function_list_and_interfaces_answer_before_c_initialize_and_refuse_bad_requests() {
    let _m = Module::fresh(None);
    unsafe {
        expect(
            "C_GetFunctionList(NULL)",
            C_GetFunctionList(null_mut()),
            CKR_ARGUMENTS_BAD,
        );
        let mut list: *mut CK_FUNCTION_LIST = null_mut();
        ok("C_GetFunctionList", C_GetFunctionList(&mut list));
        let fl = &*list;
        assert_eq!((fl.version.major, fl.version.minor), (2, 40));
        // The table leads to the module: initialise and ask for the info through it.
        ok(
            "C_Initialize via the list",
            (fl.C_Initialize.unwrap())(null_mut()),
        );
        let mut info: CK_INFO = std::mem::zeroed();
        ok("C_GetInfo via the list", (fl.C_GetInfo.unwrap())(&mut info));
        assert_eq!(
            &info.libraryDescription,
            b"CertKey softkey virtual USB key "
        );
        assert_eq!(
            (info.cryptokiVersion.major, info.cryptokiVersion.minor),
            (2, 40)
        );
        let mut n: CK_ULONG = 0;
        ok(
            "C_GetSlotList via the list",
            (fl.C_GetSlotList.unwrap())(CK_TRUE, null_mut(), &mut n),
        );
        assert_eq!(n, 1);
        // No session 0 exists: the session handle is checked before anything else.
        expect(
            "C_SeedRandom via the list",
            (fl.C_SeedRandom.unwrap())(0, null_mut(), 0),
            CKR_SESSION_HANDLE_INVALID,
        );
        ok(
            "C_Finalize via the list",
            (fl.C_Finalize.unwrap())(null_mut()),
        );

        // C_GetInterfaceList: the usual length convention.
        expect(
            "C_GetInterfaceList(NULL, NULL)",
            C_GetInterfaceList(null_mut(), null_mut()),
            CKR_ARGUMENTS_BAD,
        );
        let mut count: CK_ULONG = 0;
        ok(
            "C_GetInterfaceList count",
            C_GetInterfaceList(null_mut(), &mut count),
        );
        assert_eq!(count, 1);
        let mut ifaces: [CK_INTERFACE; 2] = std::mem::zeroed();
        count = 0;
        expect(
            "C_GetInterfaceList into 0",
            C_GetInterfaceList(ifaces.as_mut_ptr(), &mut count),
            CKR_BUFFER_TOO_SMALL,
        );
        assert_eq!(count, 1, "the needed count comes back");
        count = 2;
        ok(
            "C_GetInterfaceList",
            C_GetInterfaceList(ifaces.as_mut_ptr(), &mut count),
        );
        assert_eq!(count, 1);
        let iface = ifaces[0];
        assert_eq!(
            std::ffi::CStr::from_ptr(iface.pInterfaceName as *const _).to_bytes(),
            b"PKCS 11"
        );
        assert_eq!(iface.pFunctionList as *mut CK_FUNCTION_LIST, list);

        // C_GetInterface: by name, by name and version, or the default.
        let mut name11 = *b"PKCS 11\0";
        let mut other = *b"Vendor XYZ\0";
        let mut v240 = CK_VERSION {
            major: 2,
            minor: 40,
        };
        let mut v30 = CK_VERSION { major: 3, minor: 0 };
        let mut got: *mut CK_INTERFACE = null_mut();
        ok(
            "C_GetInterface(default)",
            C_GetInterface(null_mut(), null_mut(), &mut got, 0),
        );
        assert_eq!((*got).pFunctionList as *mut CK_FUNCTION_LIST, list);
        got = null_mut();
        ok(
            "C_GetInterface(PKCS 11, 2.40)",
            C_GetInterface(name11.as_mut_ptr(), &mut v240, &mut got, 0),
        );
        assert_eq!((*got).pFunctionList as *mut CK_FUNCTION_LIST, list);
        let refused: [(&str, CK_RV); 4] = [
            (
                "wrong name",
                C_GetInterface(other.as_mut_ptr(), null_mut(), &mut got, 0),
            ),
            (
                "wrong version",
                C_GetInterface(name11.as_mut_ptr(), &mut v30, &mut got, 0),
            ),
            (
                "flags it lacks",
                C_GetInterface(
                    name11.as_mut_ptr(),
                    null_mut(),
                    &mut got,
                    CKF_INTERFACE_FORK_SAFE,
                ),
            ),
            (
                "null out pointer",
                C_GetInterface(name11.as_mut_ptr(), &mut v240, null_mut(), 0),
            ),
        ];
        all_return(&refused, CKR_ARGUMENTS_BAD, "C_GetInterface");
    }
}

// ----- slots, sessions, objects that do not exist --------------------------------------

#[test]
fn null_output_pointers_are_arguments_bad() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, _) = p256_pair(h, false, b"k");
    let mut data = [7u8; 32];
    let dp = data.as_mut_ptr();
    let mut buf = [0u8; 80];
    let mut sha = mech(CKM_SHA256);
    let mut keygen = mech(CKM_EC_KEY_PAIR_GEN);
    let class = ul(CKO_DATA);
    let t = [attr(CKA_CLASS, &class)];
    let pubt = [attr(CKA_EC_PARAMS, P256_PARAMS)];
    let mut o = 0;
    unsafe {
        let mut calls = vec![
            call!(C_GetInfo(null_mut())),
            call!(C_GetSlotList(CK_FALSE, null_mut(), null_mut())),
            call!(C_GetSlotInfo(0, null_mut())),
            call!(C_GetTokenInfo(0, null_mut())),
            call!(C_GetMechanismList(0, null_mut(), null_mut())),
            call!(C_GetMechanismInfo(0, CKM_ECDSA, null_mut())),
            call!(C_OpenSession(
                0,
                CKF_SERIAL_SESSION,
                null_mut(),
                None,
                null_mut()
            )),
            call!(C_GetSessionInfo(h, null_mut())),
            call!(C_CreateObject(h, tmpl(&t), 1, null_mut())),
            call!(C_GetObjectSize(h, public, null_mut())),
            (
                "C_GenerateKeyPair pub",
                C_GenerateKeyPair(
                    h,
                    &mut keygen,
                    tmpl(&pubt),
                    1,
                    null_mut(),
                    0,
                    null_mut(),
                    &mut o,
                ),
            ),
            (
                "C_GenerateKeyPair priv",
                C_GenerateKeyPair(
                    h,
                    &mut keygen,
                    tmpl(&pubt),
                    1,
                    null_mut(),
                    0,
                    &mut o,
                    null_mut(),
                ),
            ),
            call!(C_GenerateRandom(h, null_mut(), 16)),
            call!(C_WaitForSlotEvent(CKF_DONT_BLOCK, null_mut(), null_mut())),
            (
                "C_SignInit(NULL mechanism)",
                C_SignInit(h, null_mut(), public),
            ),
            (
                "C_VerifyInit(NULL mechanism)",
                C_VerifyInit(h, null_mut(), public),
            ),
            ("C_DigestInit(NULL mechanism)", C_DigestInit(h, null_mut())),
            (
                "C_GenerateKeyPair(NULL mechanism)",
                C_GenerateKeyPair(h, null_mut(), tmpl(&pubt), 1, null_mut(), 0, &mut o, &mut o),
            ),
        ];
        ok("C_FindObjectsInit", C_FindObjectsInit(h, null_mut(), 0));
        calls.push((
            "C_FindObjects count",
            C_FindObjects(h, &mut o, 1, null_mut()),
        ));
        ok("C_FindObjectsFinal", C_FindObjectsFinal(h));
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        calls.push((
            "C_Digest length",
            C_Digest(h, dp, 32, buf.as_mut_ptr(), null_mut()),
        ));
        calls.push((
            "C_DigestFinal length",
            C_DigestFinal(h, buf.as_mut_ptr(), null_mut()),
        ));
        let mut ecdsa = mech(CKM_ECDSA);
        let (_, private) = p256_pair(h, false, b"k2");
        ok("C_SignInit", C_SignInit(h, &mut ecdsa, private));
        calls.push((
            "C_Sign length",
            C_Sign(h, dp, 32, buf.as_mut_ptr(), null_mut()),
        ));
        calls.push((
            "C_SignFinal length",
            C_SignFinal(h, buf.as_mut_ptr(), null_mut()),
        ));
        all_return(&calls, CKR_ARGUMENTS_BAD, "null output pointers");
    }
    // No object was made by the refused calls: the two key pairs only.
    assert_eq!(find(h, &[]).len(), 4);
}

#[test]
fn slot_ids_that_do_not_exist_are_slot_id_invalid() {
    let _m = Module::initialised(Some(TWO_PROFILES));
    for slot in [2, 3, 1 << 32, u64::MAX - 1, u64::MAX] {
        all_return(
            &slot_calls(slot),
            CKR_SLOT_ID_INVALID,
            &format!("slot {slot:#x}"),
        );
    }
    // The real slots answer.
    let mut n = 0;
    ok("C_GetMechanismList", unsafe {
        C_GetMechanismList(1, null_mut(), &mut n)
    });
    assert_eq!(n, 8);
}

#[test]
fn session_handles_never_opened_or_already_closed_are_session_handle_invalid() {
    let _m = Module::initialised(None);
    init_token(0);
    for h in [0, 2, 0xDEAD_BEEF, 1 << 40, u64::MAX] {
        all_return(
            &session_calls(h, MADE_UP_OBJECT),
            CKR_SESSION_HANDLE_INVALID,
            &format!("session {h:#x}"),
        );
    }
    let a = open(0, true);
    let b = open(0, false);
    let c = open(0, true);
    ok("C_CloseSession", unsafe { C_CloseSession(a) });
    all_return(
        &session_calls(a, MADE_UP_OBJECT),
        CKR_SESSION_HANDLE_INVALID,
        "closed session",
    );
    expect(
        "C_CloseSession twice",
        unsafe { C_CloseSession(a) },
        CKR_SESSION_HANDLE_INVALID,
    );
    // b and c are still usable, until C_CloseAllSessions.
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    ok("C_GetSessionInfo b", unsafe {
        C_GetSessionInfo(b, &mut info)
    });
    assert_eq!(info.state, CKS_RO_PUBLIC_SESSION);
    ok("C_CloseAllSessions", unsafe { C_CloseAllSessions(0) });
    for h in [b, c] {
        all_return(
            &session_calls(h, MADE_UP_OBJECT),
            CKR_SESSION_HANDLE_INVALID,
            "after C_CloseAllSessions",
        );
    }
    // A new session gets a handle of its own, not a recycled one.
    let d = open(0, false);
    assert!(![a, b, c].contains(&d), "handle {d} was reused");
    // Sessions without CKF_SERIAL_SESSION do not exist in PKCS#11 v2.40.
    let mut h = 0;
    expect(
        "C_OpenSession without CKF_SERIAL_SESSION",
        unsafe { C_OpenSession(0, CKF_RW_SESSION, null_mut(), None, &mut h) },
        CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    );
}

#[test]
fn object_handles_made_up_destroyed_or_of_another_slot_are_object_handle_invalid() {
    let _m = Module::initialised(Some(TWO_PROFILES));
    init_token(0);
    init_token(1);
    let s0 = user_session(0);
    let s1 = user_session(1);
    let foreign_data = data_object(s1, true, b"slot 1").unwrap();
    let (foreign_pub, foreign_priv) = p256_pair(s1, false, b"slot 1 key");
    let (pub0, priv0) = p256_pair(s0, true, b"slot 0 key");
    let gone = data_object(s0, false, b"gone").unwrap();
    ok("C_DestroyObject", unsafe { C_DestroyObject(s0, gone) });
    let transient = {
        let other = open(0, true);
        let o = data_object(other, false, b"session object").unwrap();
        ok("C_CloseSession", unsafe { C_CloseSession(other) });
        o
    };

    let bogus = [
        ("0", 0),
        ("u64::MAX", u64::MAX),
        ("made up", MADE_UP_OBJECT),
        ("uid 0 of slot 0", 1 << 32),
        ("slot index 7", (8 << 32) | 1),
        ("slot 1's data object", foreign_data),
        ("slot 1's public key", foreign_pub),
        ("slot 1's private key", foreign_priv),
        ("destroyed", gone),
        ("session object of a closed session", transient),
    ];
    for (what, o) in bogus {
        let mut size = 0;
        let mut label = [0u8; 16];
        let mut query = [out(CKA_LABEL, &mut label)];
        let new_label = *b"renamed";
        let set = [attr(CKA_LABEL, &new_label)];
        let mut ecdsa = mech(CKM_ECDSA);
        unsafe {
            all_return(
                &[
                    call!(C_GetAttributeValue(s0, o, query.as_mut_ptr(), 1)),
                    (
                        "C_GetAttributeValue(0 attributes)",
                        C_GetAttributeValue(s0, o, null_mut(), 0),
                    ),
                    call!(C_SetAttributeValue(s0, o, tmpl(&set), 1)),
                    call!(C_GetObjectSize(s0, o, &mut size)),
                    call!(C_DestroyObject(s0, o)),
                ],
                CKR_OBJECT_HANDLE_INVALID,
                what,
            );
            all_return(
                &[
                    call!(C_SignInit(s0, &mut ecdsa, o)),
                    call!(C_VerifyInit(s0, &mut ecdsa, o)),
                ],
                CKR_KEY_HANDLE_INVALID,
                what,
            );
        }
    }
    // Slot 1's objects are untouched by all that.
    assert_eq!(get_attr(s1, foreign_data, CKA_LABEL).unwrap(), b"slot 1");
    assert_eq!(get_attr(s1, foreign_pub, CKA_LABEL).unwrap(), b"slot 1 key");

    // A private key is invisible (not merely refused) once nobody is logged in.
    assert_eq!(get_attr(s0, priv0, CKA_LABEL).unwrap(), b"slot 0 key");
    ok("C_Logout", unsafe { C_Logout(s0) });
    expect(
        "private key after logout",
        get_attr(s0, priv0, CKA_LABEL).unwrap_err(),
        CKR_OBJECT_HANDLE_INVALID,
    );
    assert_eq!(
        get_attr(s0, pub0, CKA_LABEL).unwrap(),
        b"slot 0 key",
        "public objects stay visible"
    );
}

// ----- pointers, lengths, counts, attribute values ----------------------------------------

#[test]
fn null_pointers_with_a_length_are_arguments_bad_and_empty_buffers_are_empty() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, private) = p256_pair(h, false, b"k");
    let mut ecdsa = mech(CKM_ECDSA);
    let mut sha = mech(CKM_SHA256);
    let mut keygen = mech(CKM_EC_KEY_PAIR_GEN);
    let mut sig = [0u8; 64];
    let mut len: CK_ULONG = 64;
    let mut o = 0;
    let mut label = [b' '; 32];
    let pubt = [attr(CKA_EC_PARAMS, P256_PARAMS)];
    let (user, user_len) = pin(USER_PIN);
    unsafe {
        // C_Sign / C_Verify operations are set up again before each call so that only
        // the argument under test can be wrong.
        let mut calls = vec![
            (
                "C_InitToken pin",
                C_InitToken(0, null_mut(), 8, label.as_mut_ptr()),
            ),
            (
                "C_InitToken label",
                C_InitToken(0, user, user_len, null_mut()),
            ),
            call!(C_InitPIN(h, null_mut(), 8)),
            ("C_SetPIN old", C_SetPIN(h, null_mut(), 8, user, user_len)),
            ("C_SetPIN new", C_SetPIN(h, user, user_len, null_mut(), 8)),
            call!(C_Login(h, CKU_USER, null_mut(), 8)),
            call!(C_CreateObject(h, null_mut(), 1, &mut o)),
            call!(C_FindObjectsInit(h, null_mut(), 2)),
            call!(C_SetAttributeValue(h, public, null_mut(), 1)),
            call!(C_GetAttributeValue(h, public, null_mut(), 1)),
            (
                "C_GenerateKeyPair public",
                C_GenerateKeyPair(h, &mut keygen, null_mut(), 1, null_mut(), 0, &mut o, &mut o),
            ),
            (
                "C_GenerateKeyPair private",
                C_GenerateKeyPair(
                    h,
                    &mut keygen,
                    tmpl(&pubt),
                    1,
                    null_mut(),
                    3,
                    &mut o,
                    &mut o,
                ),
            ),
            call!(C_GenerateRandom(h, null_mut(), 1)),
        ];
        ok("C_FindObjectsInit", C_FindObjectsInit(h, null_mut(), 0));
        calls.push(call!(C_FindObjects(h, null_mut(), 3, &mut len)));
        ok("C_FindObjectsFinal", C_FindObjectsFinal(h));
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        calls.push(call!(C_DigestUpdate(h, null_mut(), 5)));
        calls.push(call!(C_Digest(
            h,
            null_mut(),
            5,
            sig.as_mut_ptr(),
            &mut len
        )));
        ok("C_SignInit", C_SignInit(h, &mut ecdsa, private));
        calls.push(call!(C_Sign(h, null_mut(), 32, sig.as_mut_ptr(), &mut len)));
        ok("C_VerifyInit", C_VerifyInit(h, &mut ecdsa, public));
        calls.push((
            "C_Verify data",
            C_Verify(h, null_mut(), 32, sig.as_mut_ptr(), 64),
        ));
        calls.push((
            "C_Verify signature",
            C_Verify(h, sig.as_mut_ptr(), 32, null_mut(), 64),
        ));
        all_return(&calls, CKR_ARGUMENTS_BAD, "null pointer, non-zero length");

        // A mechanism parameter that is not there.
        let mut bad_param = CK_MECHANISM {
            mechanism: CKM_ECDSA,
            pParameter: null_mut(),
            ulParameterLen: 16,
        };
        expect(
            "C_VerifyInit, null pParameter",
            C_VerifyInit(h, &mut bad_param, public),
            CKR_MECHANISM_PARAM_INVALID,
        );
    }

    // Non-null pointers with length zero mean "empty", not "missing". (A new session:
    // the refused calls above need not have ended the operations they were made in.)
    let h = open(0, true);
    let mut scratch = [0xAAu8; 32];
    let mut none = [attr(CKA_LABEL, b"")];
    unsafe {
        ok(
            "C_GenerateRandom of 0 bytes",
            C_GenerateRandom(h, scratch.as_mut_ptr(), 0),
        );
        assert_eq!(scratch, [0xAA; 32], "nothing written");
        ok(
            "C_FindObjectsInit, empty template",
            C_FindObjectsInit(h, none.as_mut_ptr(), 0),
        );
        let mut found = [0 as CK_OBJECT_HANDLE; 8];
        let mut n = 0;
        ok(
            "C_FindObjects",
            C_FindObjects(h, found.as_mut_ptr(), 8, &mut n),
        );
        assert_eq!(n, 2, "an empty template matches every object");
        ok(
            "C_FindObjects into 0",
            C_FindObjects(h, found.as_mut_ptr(), 0, &mut n),
        );
        assert_eq!(n, 0);
        ok("C_FindObjectsFinal", C_FindObjectsFinal(h));
        expect(
            "C_CreateObject, empty template",
            C_CreateObject(h, none.as_mut_ptr(), 0, &mut o),
            CKR_TEMPLATE_INCOMPLETE,
        );
        // The digest of nothing, fed as an empty part.
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        ok(
            "C_DigestUpdate of 0 bytes",
            C_DigestUpdate(h, scratch.as_mut_ptr(), 0),
        );
        let mut digest = [0u8; 32];
        let mut dl: CK_ULONG = 32;
        ok(
            "C_DigestFinal",
            C_DigestFinal(h, digest.as_mut_ptr(), &mut dl),
        );
        assert_eq!(
            hex(&digest),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // CKM_ECDSA over an empty hash is out of range.
        ok("C_SignInit", C_SignInit(h, &mut ecdsa, private));
        expect(
            "C_Sign of 0 bytes",
            C_Sign(h, scratch.as_mut_ptr(), 0, sig.as_mut_ptr(), &mut len),
            CKR_DATA_LEN_RANGE,
        );
        // An empty signature is the wrong length.
        ok("C_VerifyInit", C_VerifyInit(h, &mut ecdsa, public));
        expect(
            "C_Verify with a 0-byte signature",
            C_Verify(h, scratch.as_mut_ptr(), 32, scratch.as_mut_ptr(), 0),
            CKR_SIGNATURE_LEN_RANGE,
        );
    }
    // An empty PIN is a wrong PIN (and costs a try, as on the real key).
    let ro = open(0, false);
    ok("C_Logout", unsafe { C_Logout(h) });
    let mut empty = [b'1'; 8];
    expect(
        "C_Login with 0 bytes",
        unsafe { C_Login(ro, CKU_USER, empty.as_mut_ptr(), 0) },
        CKR_PIN_INCORRECT,
    );
    assert_ne!(token_flags(0) & CKF_USER_PIN_COUNT_LOW, 0);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn template_counts_over_1024_are_arguments_bad_without_reading_the_template() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let target = data_object(h, false, b"target").unwrap();
    // One real attribute; the counts claim far more. The module must refuse on the count
    // alone (reading 1025 attributes from here would run off the array).
    let label = *b"x";
    let one = [attr(CKA_LABEL, &label)];
    let mut keygen = mech(CKM_EC_KEY_PAIR_GEN);
    let pubt = [attr(CKA_EC_PARAMS, P256_PARAMS)];
    let mut o = 0;
    let mut p = 0;
    for count in [1025, 4096, 1 << 32, u64::MAX] {
        let calls = unsafe {
            [
                call!(C_CreateObject(h, tmpl(&one), count, &mut o)),
                call!(C_FindObjectsInit(h, tmpl(&one), count)),
                call!(C_GetAttributeValue(h, target, tmpl(&one), count)),
                call!(C_SetAttributeValue(h, target, tmpl(&one), count)),
                (
                    "C_GenerateKeyPair public",
                    C_GenerateKeyPair(
                        h,
                        &mut keygen,
                        tmpl(&one),
                        count,
                        null_mut(),
                        0,
                        &mut p,
                        &mut o,
                    ),
                ),
                (
                    "C_GenerateKeyPair private",
                    C_GenerateKeyPair(
                        h,
                        &mut keygen,
                        tmpl(&pubt),
                        1,
                        tmpl(&one),
                        count,
                        &mut p,
                        &mut o,
                    ),
                ),
            ]
        };
        all_return(&calls, CKR_ARGUMENTS_BAD, &format!("ulCount {count}"));
    }
    // An attribute claiming a huge value is refused before the value is read.
    let mut big = [attr(CKA_LABEL, &label)];
    for len in [(1 << 20) + 1, 1 << 40, u64::MAX] {
        big[0].ulValueLen = len;
        let calls = unsafe {
            [
                call!(C_CreateObject(h, big.as_mut_ptr(), 1, &mut o)),
                call!(C_FindObjectsInit(h, big.as_mut_ptr(), 1)),
                call!(C_SetAttributeValue(h, target, big.as_mut_ptr(), 1)),
            ]
        };
        all_return(
            &calls,
            CKR_ATTRIBUTE_VALUE_INVALID,
            &format!("ulValueLen {len}"),
        );
    }
    // 1024 attributes is the limit, and allowed.
    let class = ul(CKO_DATA);
    let many: Vec<CK_ATTRIBUTE> = (0..1024).map(|_| attr(CKA_CLASS, &class)).collect();
    assert_eq!(find(h, &many), vec![target]);
    assert_eq!(
        get_attr(h, target, CKA_LABEL).unwrap(),
        b"target",
        "nothing was changed"
    );
}

#[test]
fn attribute_values_missing_or_of_the_wrong_size_are_refused_and_create_nothing() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, _) = p256_pair(h, false, b"k");
    let class = ul(CKO_DATA);
    let label = *b"x";
    let mut o = 0;

    // A value pointer that is null while the length says there is a value.
    for (what, missing) in [
        ("CKA_LABEL", null_attr(CKA_LABEL, 4)),
        ("CKA_TOKEN", null_attr(CKA_TOKEN, 1)),
    ] {
        let t = [attr(CKA_CLASS, &class), missing];
        let pubt = [attr(CKA_EC_PARAMS, P256_PARAMS), missing];
        let mut keygen = mech(CKM_EC_KEY_PAIR_GEN);
        let mut p = 0;
        unsafe {
            all_return(
                &[
                    call!(C_CreateObject(h, tmpl(&t), 2, &mut o)),
                    call!(C_FindObjectsInit(h, tmpl(&t), 2)),
                    call!(C_SetAttributeValue(h, public, tmpl(&t[1..]), 1)),
                    call!(C_GenerateKeyPair(
                        h,
                        &mut keygen,
                        tmpl(&pubt),
                        2,
                        null_mut(),
                        0,
                        &mut p,
                        &mut o,
                    )),
                ],
                CKR_ARGUMENTS_BAD,
                what,
            );
        }
    }

    // CK_BBOOL must be one byte and CK_ULONG eight.
    let short_class = (CKO_DATA as u32).to_ne_bytes();
    let wrong: [(&str, CK_ATTRIBUTE_TYPE, &[u8]); 7] = [
        ("CKA_TOKEN empty", CKA_TOKEN, &[]),
        ("CKA_TOKEN 2 bytes", CKA_TOKEN, &[1, 0]),
        ("CKA_PRIVATE 8 bytes", CKA_PRIVATE, &ul(1)),
        ("CKA_MODIFIABLE 4 bytes", CKA_MODIFIABLE, &[1, 0, 0, 0]),
        ("CKA_CLASS 4 bytes", CKA_CLASS, &short_class),
        ("CKA_CLASS 1 byte", CKA_CLASS, &[0]),
        ("CKA_CLASS 9 bytes", CKA_CLASS, &[0; 9]),
    ];
    for (what, t, v) in wrong {
        let template = [attr(CKA_CLASS, &class), attr(CKA_LABEL, &label), attr(t, v)];
        expect(
            what,
            create(h, &template).unwrap_err(),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    let wrong_keygen: [(&str, CK_ATTRIBUTE_TYPE, &[u8]); 3] = [
        ("CKA_SIGN 2 bytes", CKA_SIGN, &[1, 1]),
        ("CKA_TOKEN 8 bytes", CKA_TOKEN, &ul(1)),
        ("CKA_KEY_TYPE 1 byte", CKA_KEY_TYPE, &[3]),
    ];
    for (what, t, v) in wrong_keygen {
        let public_t = [attr(CKA_EC_PARAMS, P256_PARAMS)];
        let private_t = [attr(t, v)];
        expect(
            what,
            generate(h, CKM_EC_KEY_PAIR_GEN, &public_t, &private_t).unwrap_err(),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    let wrong_set: [(&str, CK_ATTRIBUTE_TYPE, &[u8]); 3] = [
        ("CKA_VERIFY 2 bytes", CKA_VERIFY, &[1, 0]),
        ("CKA_VERIFY empty", CKA_VERIFY, &[]),
        ("CKA_START_DATE 3 bytes", CKA_START_DATE, b"202"),
    ];
    for (what, t, v) in wrong_set {
        let set = [attr(t, v)];
        expect(
            what,
            unsafe { C_SetAttributeValue(h, public, tmpl(&set), 1) },
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    assert_eq!(
        get_attr(h, public, CKA_VERIFY).unwrap(),
        TRUE,
        "CKA_VERIFY unchanged"
    );
    assert_eq!(find(h, &[]).len(), 2, "only the first key pair exists");
}

// ----- the length conventions ---------------------------------------------------------------

#[test]
fn slot_and_mechanism_lists_follow_the_length_query_convention() {
    let _m = Module::initialised(Some(TWO_PROFILES));
    for present in [CK_FALSE, CK_TRUE] {
        let mut n: CK_ULONG = 0;
        ok("C_GetSlotList(NULL)", unsafe {
            C_GetSlotList(present, null_mut(), &mut n)
        });
        assert_eq!(n, 2);
        let mut slots = [0xFFFF as CK_SLOT_ID; 4];
        n = 1;
        expect(
            "C_GetSlotList into 1",
            unsafe { C_GetSlotList(present, slots.as_mut_ptr(), &mut n) },
            CKR_BUFFER_TOO_SMALL,
        );
        assert_eq!(n, 2, "the needed count comes back");
        n = 0;
        expect(
            "C_GetSlotList into 0",
            unsafe { C_GetSlotList(present, slots.as_mut_ptr(), &mut n) },
            CKR_BUFFER_TOO_SMALL,
        );
        assert_eq!(n, 2);
        n = 4;
        ok("C_GetSlotList", unsafe {
            C_GetSlotList(present, slots.as_mut_ptr(), &mut n)
        });
        assert_eq!(n, 2);
        assert_eq!(
            slots,
            [0, 1, 0xFFFF, 0xFFFF],
            "two ids written, the rest untouched"
        );
    }

    for (slot, sm2_sign) in [(0, TASS_SM2_SIGN_SM3), (1, LUNA_SM2_SIGN_SM3)] {
        let mut n: CK_ULONG = 0;
        ok("C_GetMechanismList(NULL)", unsafe {
            C_GetMechanismList(slot, null_mut(), &mut n)
        });
        assert_eq!(n, 8);
        let mut mechs = vec![0 as CK_MECHANISM_TYPE; 8];
        n = 3;
        expect(
            "C_GetMechanismList into 3",
            unsafe { C_GetMechanismList(slot, mechs.as_mut_ptr(), &mut n) },
            CKR_BUFFER_TOO_SMALL,
        );
        assert_eq!(n, 8);
        ok("C_GetMechanismList", unsafe {
            C_GetMechanismList(slot, mechs.as_mut_ptr(), &mut n)
        });
        assert_eq!(n, 8);
        for m in [
            CKM_EC_KEY_PAIR_GEN,
            CKM_ECDSA,
            CKM_ECDSA_SHA256,
            CKM_SHA256,
            sm2_sign,
        ] {
            assert!(
                mechs.contains(&m),
                "slot {slot} lacks mechanism {m:#x}: {mechs:x?}"
            );
        }
        let mut info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
        expect(
            "C_GetMechanismInfo of RSA",
            unsafe { C_GetMechanismInfo(slot, CKM_RSA_PKCS, &mut info) },
            CKR_MECHANISM_INVALID,
        );
    }
}

/// C_Sign's length conventions, then C_Verify of what it produced.
fn sign_with_short_buffers(
    h: CK_SESSION_HANDLE,
    m: CK_MECHANISM_TYPE,
    private: CK_OBJECT_HANDLE,
    public: CK_OBJECT_HANDLE,
    query_len: CK_ULONG,
) -> Vec<u8> {
    let mut data = b"the contract to be signed".to_vec();
    let mut mm = mech(m);
    ok("C_SignInit", unsafe { C_SignInit(h, &mut mm, private) });
    let dp = data.as_mut_ptr();
    let dl = data.len() as CK_ULONG;

    // A null buffer asks for the length and keeps the operation.
    let mut len: CK_ULONG = 0;
    ok("C_Sign(NULL)", unsafe {
        C_Sign(h, dp, dl, null_mut(), &mut len)
    });
    assert_eq!(len, query_len);
    ok("C_Sign(NULL) again", unsafe {
        C_Sign(h, dp, dl, null_mut(), &mut len)
    });
    assert_eq!(len, query_len, "still the same operation");
    // So does a buffer that is too small, which also says the exact length needed.
    let mut sig = vec![0u8; 128];
    len = 10;
    expect(
        "C_Sign into 10 bytes",
        unsafe { C_Sign(h, dp, dl, sig.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL,
    );
    let needed = len;
    assert!(
        (8..=query_len).contains(&needed),
        "needed {needed}, at most {query_len}"
    );
    assert_eq!(sig[..10], [0; 10], "nothing written into the short buffer");
    len = 0;
    expect(
        "C_Sign into 0 bytes",
        unsafe { C_Sign(h, dp, dl, sig.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL,
    );
    assert_eq!(len, needed);
    // A buffer of exactly that length gets the signature and ends the operation.
    len = needed;
    ok("C_Sign", unsafe {
        C_Sign(h, dp, dl, sig.as_mut_ptr(), &mut len)
    });
    assert_eq!(len, needed);
    sig.truncate(len as usize);
    expect(
        "C_Sign after the operation ended",
        unsafe { C_Sign(h, dp, dl, null_mut(), &mut len) },
        CKR_OPERATION_NOT_INITIALIZED,
    );

    ok("C_Verify", verify(h, m, public, &data, &sig));
    let mut tampered = sig.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let rv = verify(h, m, public, &data, &tampered);
    assert!(
        rv == CKR_SIGNATURE_INVALID,
        "tampered signature: {}",
        name(rv)
    );
    sig
}

#[test]
fn c_sign_reports_the_length_keeps_the_operation_and_the_retry_verifies() {
    let _m = Module::initialised(Some(TWO_PROFILES));
    init_token(0);
    init_token(1);
    let h0 = user_session(0);
    let (public, private) = p256_pair(h0, false, b"p256");
    let sig = sign_with_short_buffers(h0, CKM_ECDSA_SHA256, private, public, 64);
    assert_eq!(sig.len(), 64, "raw r||s");
    let (sm2_pub, sm2_priv) = sm2_pair(h0, TASS_SM2_KEYGEN);
    let sig = sign_with_short_buffers(h0, TASS_SM2_SIGN_SM3, sm2_priv, sm2_pub, 64);
    assert_eq!(sig.len(), 64);

    // Luna: DER signatures. The length query gives the most a signature can take; the
    // short-buffer answer gives this one's exact length.
    let h1 = user_session(1);
    let (sm2_pub, sm2_priv) = sm2_pair(h1, LUNA_SM2_KEYGEN);
    for _ in 0..4 {
        let sig = sign_with_short_buffers(h1, LUNA_SM2_SIGN_SM3, sm2_priv, sm2_pub, 72);
        assert_eq!(sig[0], 0x30, "DER SEQUENCE");
        assert_eq!(sig[1] as usize, sig.len() - 2);
    }

    // C_SignFinal follows the same rules for multi-part signing.
    let mut mm = mech(CKM_ECDSA_SHA256);
    ok("C_SignInit", unsafe { C_SignInit(h0, &mut mm, private) });
    let mut part = *b"the contract ";
    ok("C_SignUpdate", unsafe {
        C_SignUpdate(h0, part.as_mut_ptr(), part.len() as CK_ULONG)
    });
    let mut part2 = *b"to be signed";
    ok("C_SignUpdate", unsafe {
        C_SignUpdate(h0, part2.as_mut_ptr(), part2.len() as CK_ULONG)
    });
    let mut len: CK_ULONG = 0;
    ok("C_SignFinal(NULL)", unsafe {
        C_SignFinal(h0, null_mut(), &mut len)
    });
    assert_eq!(len, 64);
    let mut sig = [0u8; 64];
    len = 63;
    expect(
        "C_SignFinal into 63",
        unsafe { C_SignFinal(h0, sig.as_mut_ptr(), &mut len) },
        CKR_BUFFER_TOO_SMALL,
    );
    assert_eq!(len, 64);
    ok("C_SignFinal", unsafe {
        C_SignFinal(h0, sig.as_mut_ptr(), &mut len)
    });
    ok(
        "C_Verify of the multi-part signature",
        verify(
            h0,
            CKM_ECDSA_SHA256,
            public,
            b"the contract to be signed",
            &sig,
        ),
    );
}

#[test]
fn get_attribute_value_fills_what_it_can_and_flags_the_rest() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, private) = p256_pair(h, true, b"signing key");

    // CKA_VALUE of a private key is withheld; the other attributes still come back.
    let mut label = [0u8; 32];
    let mut value = [0x55u8; 64];
    let mut key_type = [0u8; 8];
    let mut can_sign = [0u8; 1];
    let mut t = [
        out(CKA_LABEL, &mut label),
        out(CKA_VALUE, &mut value),
        out(CKA_KEY_TYPE, &mut key_type),
        out(CKA_SIGN, &mut can_sign),
    ];
    expect(
        "private CKA_VALUE",
        unsafe { C_GetAttributeValue(h, private, t.as_mut_ptr(), 4) },
        CKR_ATTRIBUTE_SENSITIVE,
    );
    assert_eq!(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(value, [0x55; 64], "nothing of the secret written");
    assert_eq!(t[0].ulValueLen, 11);
    assert_eq!(&label[..11], b"signing key");
    assert_eq!(t[2].ulValueLen, 8);
    assert_eq!(key_type, ul(CKK_EC));
    assert_eq!(t[3].ulValueLen, 1);
    assert_eq!(can_sign, [1]);
    // Asking for its length only is no different.
    let mut q = [null_attr(CKA_VALUE, 0), null_attr(CKA_LABEL, 0)];
    expect(
        "private CKA_VALUE length",
        unsafe { C_GetAttributeValue(h, private, q.as_mut_ptr(), 2) },
        CKR_ATTRIBUTE_SENSITIVE,
    );
    assert_eq!(q[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(q[1].ulValueLen, 11);

    // An attribute the object does not have.
    let mut label = [0u8; 32];
    let mut modulus = [0u8; 256];
    let mut vendor = [0u8; 8];
    let mut t = [
        out(CKA_MODULUS, &mut modulus),
        out(CKA_LABEL, &mut label),
        out(CKA_VENDOR_DEFINED | 0x1234, &mut vendor),
    ];
    expect(
        "unknown attribute",
        unsafe { C_GetAttributeValue(h, public, t.as_mut_ptr(), 3) },
        CKR_ATTRIBUTE_TYPE_INVALID,
    );
    assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(t[1].ulValueLen, 11);
    assert_eq!(&label[..11], b"signing key");

    // A buffer too small for the value.
    let mut point = [0u8; 10];
    let mut params = [0u8; 10];
    let mut t = [
        out(CKA_EC_POINT, &mut point),
        out(CKA_EC_PARAMS, &mut params),
    ];
    expect(
        "short buffer",
        unsafe { C_GetAttributeValue(h, public, t.as_mut_ptr(), 2) },
        CKR_BUFFER_TOO_SMALL,
    );
    assert_eq!(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(point, [0; 10], "nothing written into the short buffer");
    assert_eq!(t[1].ulValueLen, 10);
    assert_eq!(params, P256_PARAMS);
    let point = get_attr(h, public, CKA_EC_POINT).unwrap();
    assert_eq!(
        point.len(),
        67,
        "DER OCTET STRING of an uncompressed P-256 point"
    );
    assert_eq!(&point[..3], &[0x04, 0x41, 0x04]);
}

// ----- who may do what ------------------------------------------------------------------------

#[test]
fn fixed_attributes_are_read_only_and_a_refused_change_changes_nothing() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, private) = p256_pair(h, true, b"before");
    let cert_class = ul(CKO_CERTIFICATE);
    let rsa = ul(CKK_RSA);
    let new_label = *b"after";
    for (what, o) in [("public key", public), ("private key", private)] {
        for (a, v) in [
            (CKA_CLASS, &cert_class[..]),
            (CKA_KEY_TYPE, &rsa[..]),
            (CKA_EC_PARAMS, P256_PARAMS),
            (CKA_TOKEN, FALSE),
            (CKA_LOCAL, FALSE),
        ] {
            let set = [attr(CKA_LABEL, &new_label), attr(a, v)];
            expect(
                &format!("{what}: set {a:#x}"),
                unsafe { C_SetAttributeValue(h, o, tmpl(&set), 2) },
                CKR_ATTRIBUTE_READ_ONLY,
            );
        }
        assert_eq!(
            get_attr(h, o, CKA_LABEL).unwrap(),
            b"before",
            "{what}: all or nothing"
        );
        assert_eq!(
            get_attr(h, o, CKA_CLASS).unwrap(),
            ul(if o == public {
                CKO_PUBLIC_KEY
            } else {
                CKO_PRIVATE_KEY
            })
        );
    }
    // A private key stays sensitive and unextractable.
    let set = [attr(CKA_SENSITIVE, FALSE)];
    expect(
        "CKA_SENSITIVE to false",
        unsafe { C_SetAttributeValue(h, private, tmpl(&set), 1) },
        CKR_ATTRIBUTE_READ_ONLY,
    );
    let set = [attr(CKA_EXTRACTABLE, TRUE)];
    expect(
        "CKA_EXTRACTABLE to true",
        unsafe { C_SetAttributeValue(h, private, tmpl(&set), 1) },
        CKR_ATTRIBUTE_READ_ONLY,
    );
    let set = [attr(CKA_VALUE, &[1; 32])];
    expect(
        "CKA_VALUE of a private key",
        unsafe { C_SetAttributeValue(h, private, tmpl(&set), 1) },
        CKR_ATTRIBUTE_READ_ONLY,
    );
    // The label itself may change.
    let set = [attr(CKA_LABEL, &new_label)];
    ok("CKA_LABEL", unsafe {
        C_SetAttributeValue(h, private, tmpl(&set), 1)
    });
    assert_eq!(get_attr(h, private, CKA_LABEL).unwrap(), b"after");
}

#[test]
fn signing_and_private_objects_need_the_user_logged_in() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, private) = p256_pair(h, true, b"k");
    ok("C_Logout", unsafe { C_Logout(h) });
    expect(
        "C_Logout twice",
        unsafe { C_Logout(h) },
        CKR_USER_NOT_LOGGED_IN,
    );

    let mut ecdsa = mech(CKM_ECDSA);
    expect(
        "C_SignInit",
        unsafe { C_SignInit(h, &mut ecdsa, private) },
        CKR_USER_NOT_LOGGED_IN,
    );
    let mut len: CK_ULONG = 0;
    let mut data = [1u8; 32];
    expect(
        "C_Sign",
        unsafe { C_Sign(h, data.as_mut_ptr(), 32, null_mut(), &mut len) },
        CKR_OPERATION_NOT_INITIALIZED,
    );
    let public_t = [attr(CKA_EC_PARAMS, P256_PARAMS)];
    expect(
        "C_GenerateKeyPair",
        generate(h, CKM_EC_KEY_PAIR_GEN, &public_t, &[]).unwrap_err(),
        CKR_USER_NOT_LOGGED_IN,
    );
    let class = ul(CKO_DATA);
    expect(
        "private data object",
        create(h, &[attr(CKA_CLASS, &class), attr(CKA_PRIVATE, TRUE)]).unwrap_err(),
        CKR_USER_NOT_LOGGED_IN,
    );
    let (user, user_len) = pin(USER_PIN);
    expect(
        "C_InitPIN without the SO",
        unsafe { C_InitPIN(h, user, user_len) },
        CKR_USER_NOT_LOGGED_IN,
    );
    // Verifying with the public key needs nobody.
    ok("C_VerifyInit", unsafe {
        C_VerifyInit(h, &mut ecdsa, public)
    });
    // Logged in as SO is not logged in as the user.
    ok("SO login", login(h, CKU_SO, SO_PIN));
    expect(
        "C_SignInit as SO",
        unsafe { C_SignInit(h, &mut ecdsa, private) },
        CKR_USER_NOT_LOGGED_IN,
    );
    expect(
        "user login over SO",
        login(h, CKU_USER, USER_PIN),
        CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    );
}

#[test]
fn read_only_sessions_cannot_write_token_objects() {
    let _m = Module::initialised(None);
    init_token(0);
    let rw = user_session(0);
    let stored = data_object(rw, true, b"stored").unwrap();
    let ro = open(0, false);
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    ok("C_GetSessionInfo", unsafe {
        C_GetSessionInfo(ro, &mut info)
    });
    assert_eq!(
        info.state, CKS_RO_USER_FUNCTIONS,
        "the login covers the R/O session too"
    );

    expect(
        "token data object",
        data_object(ro, true, b"t").unwrap_err(),
        CKR_SESSION_READ_ONLY,
    );
    let public_t = [attr(CKA_EC_PARAMS, P256_PARAMS), attr(CKA_TOKEN, TRUE)];
    expect(
        "token key pair",
        generate(ro, CKM_EC_KEY_PAIR_GEN, &public_t, &[attr(CKA_TOKEN, TRUE)]).unwrap_err(),
        CKR_SESSION_READ_ONLY,
    );
    let label = *b"changed";
    let set = [attr(CKA_LABEL, &label)];
    expect(
        "C_SetAttributeValue",
        unsafe { C_SetAttributeValue(ro, stored, tmpl(&set), 1) },
        CKR_SESSION_READ_ONLY,
    );
    expect(
        "C_DestroyObject",
        unsafe { C_DestroyObject(ro, stored) },
        CKR_SESSION_READ_ONLY,
    );
    let (user, user_len) = pin(USER_PIN);
    expect(
        "C_SetPIN",
        unsafe { C_SetPIN(ro, user, user_len, user, user_len) },
        CKR_SESSION_READ_ONLY,
    );
    assert_eq!(get_attr(ro, stored, CKA_LABEL).unwrap(), b"stored");

    // Session objects are fine from a R/O session.
    let mine = data_object(ro, false, b"session").unwrap();
    ok("C_SetAttributeValue on a session object", unsafe {
        C_SetAttributeValue(ro, mine, tmpl(&set), 1)
    });
    ok("C_DestroyObject of a session object", unsafe {
        C_DestroyObject(ro, mine)
    });
    let (_, private) = generate(
        ro,
        CKM_EC_KEY_PAIR_GEN,
        &[attr(CKA_EC_PARAMS, P256_PARAMS)],
        &[],
    )
    .unwrap();
    assert_eq!(get_attr(ro, private, CKA_TOKEN).unwrap(), FALSE);
}

#[test]
fn private_and_secret_keys_cannot_be_imported() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let private_class = ul(CKO_PRIVATE_KEY);
    let secret_class = ul(CKO_SECRET_KEY);
    let ec = ul(CKK_EC);
    let aes = ul(CKK_AES);
    let scalar = [0x11u8; 32];
    let private_key = [
        attr(CKA_CLASS, &private_class),
        attr(CKA_KEY_TYPE, &ec),
        attr(CKA_EC_PARAMS, P256_PARAMS),
        attr(CKA_VALUE, &scalar),
        attr(CKA_TOKEN, TRUE),
        attr(CKA_SIGN, TRUE),
    ];
    expect(
        "C_CreateObject(private key)",
        create(h, &private_key).unwrap_err(),
        CKR_TEMPLATE_INCONSISTENT,
    );
    let secret_key = [
        attr(CKA_CLASS, &secret_class),
        attr(CKA_KEY_TYPE, &aes),
        attr(CKA_VALUE, &scalar),
    ];
    expect(
        "C_CreateObject(secret key)",
        create(h, &secret_key).unwrap_err(),
        CKR_TEMPLATE_INCONSISTENT,
    );
    assert!(find(h, &[]).is_empty(), "nothing was stored");
    // Nor may a generated key be made extractable or non-sensitive.
    let public_t = [attr(CKA_EC_PARAMS, P256_PARAMS)];
    for private_t in [[attr(CKA_EXTRACTABLE, TRUE)], [attr(CKA_SENSITIVE, FALSE)]] {
        expect(
            "exportable key pair",
            generate(h, CKM_EC_KEY_PAIR_GEN, &public_t, &private_t).unwrap_err(),
            CKR_ATTRIBUTE_VALUE_INVALID,
        );
    }
    assert!(find(h, &[]).is_empty());
}

#[test]
fn find_compares_one_byte_ids_and_labels_by_bytes_and_only_booleans_by_truth() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    // pkcs11-tool's `--id 01` and `--id 02`: one-byte CKA_IDs.
    let mut pairs = Vec::new();
    for id in [1u8, 2] {
        let id = [id];
        let public = [attr(CKA_EC_PARAMS, P256_PARAMS), attr(CKA_ID, &id)];
        let private = [attr(CKA_ID, &id)];
        pairs.push(generate(h, CKM_EC_KEY_PAIR_GEN, &public, &private).unwrap());
    }
    let a = data_object(h, true, b"a").unwrap();
    let b = data_object(h, false, b"b").unwrap();
    let private_class = ul(CKO_PRIVATE_KEY);
    let id2 = [2u8];
    assert_eq!(
        find(h, &[attr(CKA_CLASS, &private_class), attr(CKA_ID, &id2)]),
        vec![pairs[1].1],
        "the key with ID 02 only"
    );
    let id0 = [0u8];
    assert!(
        find(h, &[attr(CKA_ID, &id0)]).is_empty(),
        "no object has ID 00"
    );
    assert_eq!(find(h, &[attr(CKA_LABEL, b"b")]), vec![b]);
    assert!(find(h, &[attr(CKA_LABEL, b"c")]).is_empty());
    // CK_BBOOL attributes: any non-zero byte is CK_TRUE.
    assert_eq!(
        find(h, &[attr(CKA_LABEL, b"a"), attr(CKA_TOKEN, &[0x80])]),
        vec![a]
    );
    assert!(find(h, &[attr(CKA_LABEL, b"b"), attr(CKA_TOKEN, &[0x80])]).is_empty());
}

#[test]
fn operations_must_be_started_once_and_in_order() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (public, private) = p256_pair(h, false, b"k");
    let mut found = [0 as CK_OBJECT_HANDLE; 4];
    let mut n: CK_ULONG = 0;
    let mut buf = [0u8; 64];
    let mut len: CK_ULONG = 64;
    let mut data = [3u8; 32];
    unsafe {
        expect(
            "C_FindObjects before Init",
            C_FindObjects(h, found.as_mut_ptr(), 4, &mut n),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        expect(
            "C_FindObjectsFinal before Init",
            C_FindObjectsFinal(h),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        ok("C_FindObjectsInit", C_FindObjectsInit(h, null_mut(), 0));
        expect(
            "second C_FindObjectsInit",
            C_FindObjectsInit(h, null_mut(), 0),
            CKR_OPERATION_ACTIVE,
        );
        ok(
            "C_FindObjects",
            C_FindObjects(h, found.as_mut_ptr(), 1, &mut n),
        );
        assert_eq!(n, 1);
        ok(
            "C_FindObjects",
            C_FindObjects(h, found.as_mut_ptr(), 4, &mut n),
        );
        assert_eq!(n, 1, "the second object, then nothing");
        ok(
            "C_FindObjects",
            C_FindObjects(h, found.as_mut_ptr(), 4, &mut n),
        );
        assert_eq!(n, 0);
        ok("C_FindObjectsFinal", C_FindObjectsFinal(h));
        expect(
            "C_FindObjects after Final",
            C_FindObjects(h, found.as_mut_ptr(), 4, &mut n),
            CKR_OPERATION_NOT_INITIALIZED,
        );

        let mut ecdsa = mech(CKM_ECDSA);
        expect(
            "C_Sign before Init",
            C_Sign(h, data.as_mut_ptr(), 32, buf.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        expect(
            "C_SignFinal before Init",
            C_SignFinal(h, buf.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        expect(
            "C_Verify before Init",
            C_Verify(h, data.as_mut_ptr(), 32, buf.as_mut_ptr(), 64),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        expect(
            "C_DigestUpdate before Init",
            C_DigestUpdate(h, data.as_mut_ptr(), 32),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        expect(
            "C_Digest before Init",
            C_Digest(h, data.as_mut_ptr(), 32, buf.as_mut_ptr(), &mut len),
            CKR_OPERATION_NOT_INITIALIZED,
        );
        ok("C_SignInit", C_SignInit(h, &mut ecdsa, private));
        expect(
            "second C_SignInit",
            C_SignInit(h, &mut ecdsa, private),
            CKR_OPERATION_ACTIVE,
        );
        ok("C_VerifyInit", C_VerifyInit(h, &mut ecdsa, public));
        expect(
            "second C_VerifyInit",
            C_VerifyInit(h, &mut ecdsa, public),
            CKR_OPERATION_ACTIVE,
        );
        let mut sha = mech(CKM_SHA256);
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        expect(
            "second C_DigestInit",
            C_DigestInit(h, &mut sha),
            CKR_OPERATION_ACTIVE,
        );
        // The wrong kind of key for the operation.
        let other = open(0, false);
        expect(
            "C_SignInit with the public key",
            C_SignInit(other, &mut ecdsa, public),
            CKR_KEY_TYPE_INCONSISTENT,
        );
        expect(
            "C_VerifyInit with the private key",
            C_VerifyInit(other, &mut ecdsa, private),
            CKR_KEY_TYPE_INCONSISTENT,
        );
        let mut rsa = mech(CKM_RSA_PKCS);
        expect(
            "C_SignInit with RSA",
            C_SignInit(other, &mut rsa, private),
            CKR_MECHANISM_INVALID,
        );
    }
}

#[test]
fn functions_a_signing_key_lacks_say_so() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (_, private) = p256_pair(h, false, b"k");
    let wrong: Vec<String> = unsupported_calls(h, private)
        .into_iter()
        .filter(|(f, got)| *got != unsupported_answer(f))
        .map(|(f, got)| {
            format!(
                "{f}: got {}, want {}",
                name(got),
                name(unsupported_answer(f))
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
    // The session is intact afterwards.
    let mut random = [0u8; 32];
    ok("C_GenerateRandom", unsafe {
        C_GenerateRandom(h, random.as_mut_ptr(), 32)
    });
    assert_ne!(random, [0; 32]);
}

// ----- garbage ----------------------------------------------------------------------------------

/// splitmix64: deterministic, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What a well-behaved module may answer to these four functions. CKR_GENERAL_ERROR
/// (a caught panic, or a store failure) and CKR_FUNCTION_FAILED are not among them.
const FUZZ_ANSWERS: &[CK_RV] = &[
    CKR_OK,
    CKR_ARGUMENTS_BAD,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_BUFFER_TOO_SMALL,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_MEMORY,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_READ_ONLY,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_USER_NOT_LOGGED_IN,
];

const SM2_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d];

/// A plausible-or-not attribute value for `t`.
fn garbage_value(rng: &mut Rng, t: CK_ATTRIBUTE_TYPE, point: &[u8]) -> Vec<u8> {
    if rng.chance(25) {
        return rng.bytes(24);
    }
    match t {
        CKA_CLASS => {
            let any = rng.next();
            ul(rng.pick(&[
                CKO_DATA,
                CKO_CERTIFICATE,
                CKO_PUBLIC_KEY,
                CKO_PRIVATE_KEY,
                CKO_SECRET_KEY,
                any,
            ]))
            .to_vec()
        }
        CKA_KEY_TYPE => ul(rng.pick(&[CKK_EC, 0x8000_0004, 0x8000_0016, CKK_RSA])).to_vec(),
        CKA_CERTIFICATE_TYPE => ul(rng.pick(&[CKC_X_509, CKC_X_509_ATTR_CERT])).to_vec(),
        CKA_EC_PARAMS => rng.pick(&[P256_PARAMS, SM2_PARAMS]).to_vec(),
        CKA_EC_POINT => point.to_vec(),
        CKA_START_DATE | CKA_END_DATE => b"20250101".to_vec(),
        CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_SIGN | CKA_VERIFY | CKA_SENSITIVE
        | CKA_EXTRACTABLE | CKA_DESTROYABLE => vec![rng.pick(&[0u8, 1, 0xFF])],
        _ => rng.bytes(64),
    }
}

const GARBAGE_TYPES: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_APPLICATION,
    CKA_VALUE,
    CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE,
    CKA_ID,
    CKA_KEY_TYPE,
    CKA_SENSITIVE,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_EXTRACTABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_MODIFIABLE,
    CKA_DESTROYABLE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_SUBJECT,
    CKA_MODULUS,
    CKA_VENDOR_DEFINED | 7,
];

/// A template of owned values: the values live in `values`, the attributes point at them.
struct Garbage {
    values: Vec<Vec<u8>>,
    attrs: Vec<CK_ATTRIBUTE>,
}

fn garbage_template(rng: &mut Rng, point: &[u8], outputs: bool) -> Garbage {
    let n = rng.pick(&[0, 1, 2, 3, 4, 5, 6, 8]);
    let mut values: Vec<Vec<u8>> = Vec::new();
    let mut types = Vec::new();
    let mut nulls = Vec::new();
    for k in 0..n {
        let t = if k == 0 && !outputs && rng.chance(70) {
            CKA_CLASS
        } else if rng.chance(5) {
            rng.next()
        } else {
            rng.pick(GARBAGE_TYPES)
        };
        types.push(t);
        let v = if outputs {
            vec![0u8; rng.below(80) as usize]
        } else {
            garbage_value(rng, t, point)
        };
        // Outputs: sometimes only the length is asked for (null pValue, any length).
        nulls.push(outputs && rng.chance(25));
        values.push(v);
    }
    let attrs = types
        .iter()
        .zip(values.iter_mut())
        .zip(&nulls)
        .map(|((t, v), null)| {
            if *null {
                null_attr(*t, v.len() as CK_ULONG)
            } else {
                out(*t, v)
            }
        })
        .collect();
    Garbage { values, attrs }
}

#[test]
fn thousands_of_garbage_calls_get_known_answers_and_never_a_panic() {
    let _m = Module::initialised(Some(TWO_PROFILES));
    init_token(0);
    init_token(1);
    let s0 = user_session(0);
    let s0_ro = open(0, false);
    let s1 = open(1, true);
    let closed = open(1, false);
    ok("C_CloseSession", unsafe { C_CloseSession(closed) });
    let sessions = [s0, s0_ro, s1];
    let dead_sessions = [closed, 0, 99, u64::MAX];

    let (pub0, priv0) = p256_pair(s0, false, b"p256");
    let (sm2_pub, sm2_priv) = sm2_pair(s0, TASS_SM2_KEYGEN);
    let (tok_pub, tok_priv) = p256_pair(s0, true, b"stored");
    let point = get_attr(s0, pub0, CKA_EC_POINT).unwrap();
    let mut objects = vec![pub0, priv0, sm2_pub, sm2_priv, tok_pub, tok_priv];
    let mechs = [
        CKM_ECDSA,
        CKM_ECDSA_SHA256,
        TASS_SM2_SIGN_RAW,
        TASS_SM2_SIGN_SM3,
        CKM_SHA256,
        CKM_RSA_PKCS,
        0x8000_0B22,
    ];

    let mut rng = Rng(0x5EED_50F7_04E7_0001);
    let mut seen: std::collections::BTreeMap<(&str, CK_RV), u32> = Default::default();
    let mut record = |f: &'static str, rv: CK_RV, i: usize| {
        assert!(
            FUZZ_ANSWERS.contains(&rv),
            "call {i}: {f} returned {}",
            name(rv)
        );
        *seen.entry((f, rv)).or_default() += 1;
    };
    let calls = 3000;
    for i in 0..calls {
        let h = if rng.chance(85) {
            rng.pick(&sessions)
        } else {
            rng.pick(&dead_sessions)
        };
        let object = match rng.below(10) {
            0 => rng.next(),
            1 => rng.pick(&[
                0,
                u64::MAX,
                MADE_UP_OBJECT,
                (2 << 32) | 1,
                (9 << 32) | 0x8000_0000,
            ]),
            _ => rng.pick(&objects),
        };
        match rng.below(4) {
            0 => {
                let mut g = garbage_template(&mut rng, &point, true);
                let (p, n) = if g.attrs.is_empty() && rng.chance(50) {
                    (null_mut(), 0)
                } else {
                    (g.attrs.as_mut_ptr(), g.attrs.len() as CK_ULONG)
                };
                let rv = unsafe { C_GetAttributeValue(h, object, p, n) };
                // Whatever came back must describe the buffers honestly.
                for (a, v) in g.attrs.iter().zip(&g.values) {
                    let l = a.ulValueLen;
                    let null = a.pValue.is_null();
                    assert!(
                        l == CK_UNAVAILABLE_INFORMATION || null || l <= v.len() as CK_ULONG,
                        "call {i}: ulValueLen {l} beyond a {}-byte buffer",
                        v.len()
                    );
                }
                record("C_GetAttributeValue", rv, i);
            }
            1 => {
                let g = garbage_template(&mut rng, &point, false);
                let rv = unsafe { C_FindObjectsInit(h, tmpl(&g.attrs), g.attrs.len() as CK_ULONG) };
                record("C_FindObjectsInit", rv, i);
                if rng.chance(70) {
                    let max = rng.below(6);
                    let mut found = vec![0 as CK_OBJECT_HANDLE; max as usize];
                    let mut n: CK_ULONG = 0xFFFF;
                    let fp = if max == 0 && rng.chance(50) {
                        null_mut()
                    } else {
                        found.as_mut_ptr()
                    };
                    let rv = unsafe { C_FindObjects(h, fp, max, &mut n) };
                    if rv == CKR_OK {
                        assert!(
                            n <= max,
                            "call {i}: C_FindObjects found {n} of at most {max}"
                        );
                        objects.extend_from_slice(&found[..n as usize]);
                    }
                    record("C_FindObjects", rv, i);
                }
                if rng.chance(80) {
                    record("C_FindObjectsFinal", unsafe { C_FindObjectsFinal(h) }, i);
                }
            }
            2 => {
                let g = garbage_template(&mut rng, &point, false);
                let mut o = 0;
                let rv =
                    unsafe { C_CreateObject(h, tmpl(&g.attrs), g.attrs.len() as CK_ULONG, &mut o) };
                if rv == CKR_OK {
                    objects.push(o);
                }
                record("C_CreateObject", rv, i);
            }
            _ => {
                if rng.chance(70) {
                    let max = if rng.chance(80) { 0 } else { 40 };
                    let param = rng.bytes(max);
                    let mechanism = rng.pick(&mechs);
                    let key = match (rng.below(10), mechanism) {
                        (0..=6, CKM_ECDSA | CKM_ECDSA_SHA256) => rng.pick(&[priv0, tok_priv]),
                        (0..=6, _) => sm2_priv,
                        (7, _) => rng.pick(&[pub0, sm2_pub, tok_pub]),
                        _ => object,
                    };
                    let mut m = CK_MECHANISM {
                        mechanism,
                        pParameter: if param.is_empty() {
                            null_mut()
                        } else {
                            param.as_ptr() as *mut c_void
                        },
                        ulParameterLen: param.len() as CK_ULONG,
                    };
                    record("C_SignInit", unsafe { C_SignInit(h, &mut m, key) }, i);
                }
                let max = rng.pick(&[0, 16, 32, 33, 100]);
                let mut data = rng.bytes(max);
                let (dp, dl) = if data.is_empty() && rng.chance(50) {
                    (null_mut(), 0)
                } else {
                    (data.as_mut_ptr(), data.len() as CK_ULONG)
                };
                let mut sig = vec![0u8; rng.below(90) as usize];
                let mut len = sig.len() as CK_ULONG;
                let sp = if rng.chance(20) {
                    null_mut()
                } else {
                    sig.as_mut_ptr()
                };
                let rv = if rng.chance(15) {
                    let rv = unsafe { C_SignUpdate(h, dp, dl) };
                    record("C_SignUpdate", rv, i);
                    unsafe { C_SignFinal(h, sp, &mut len) }
                } else {
                    unsafe { C_Sign(h, dp, dl, sp, &mut len) }
                };
                if rv == CKR_OK && !sp.is_null() {
                    assert!(
                        len as usize <= sig.len(),
                        "call {i}: signature of {len} bytes in {}",
                        sig.len()
                    );
                    assert!(
                        len == 64 || (sig[0] == 0x30 && len <= 72),
                        "call {i}: odd signature {:x?}",
                        &sig[..len as usize]
                    );
                }
                record("C_Sign", rv, i);
            }
        }
        // Now and then the login state changes under the garbage.
        if rng.chance(1) {
            let rv = if rng.chance(30) {
                unsafe { C_Logout(s0) }
            } else {
                login(s0, CKU_USER, USER_PIN)
            };
            assert!(
                [CKR_OK, CKR_USER_NOT_LOGGED_IN, CKR_USER_ALREADY_LOGGED_IN].contains(&rv),
                "call {i}: login/logout: {}",
                name(rv)
            );
        }
    }

    // The garbage reached past the argument checks: every function succeeded sometimes
    // and failed in several ways.
    for f in [
        "C_GetAttributeValue",
        "C_FindObjectsInit",
        "C_CreateObject",
        "C_Sign",
        "C_SignInit",
    ] {
        let answers: Vec<String> = seen
            .iter()
            .filter(|((g, _), _)| *g == f)
            .map(|((_, rv), n)| format!("{}x{n}", name(*rv)))
            .collect();
        let successes = seen.get(&(f, CKR_OK)).copied().unwrap_or(0);
        assert!(
            successes >= 20,
            "{f} succeeded {successes} times only: {answers:?}"
        );
        assert!(
            answers.len() >= 3,
            "{f} answered too uniformly: {answers:?}"
        );
    }
    // And the module is still sound: a clean signature verifies.
    let _ = unsafe { C_FindObjectsFinal(s0) };
    let _ = login(s0, CKU_USER, USER_PIN);
    let other = open(0, true);
    let sig = sign(other, CKM_ECDSA_SHA256, priv0, b"after the storm");
    ok(
        "C_Verify",
        verify(other, CKM_ECDSA_SHA256, pub0, b"after the storm", &sig),
    );
}

#[test]
fn a_c_sign_that_fails_on_its_arguments_ends_the_operation() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = user_session(0);
    let (_, private) = p256_pair(h, false, b"end");
    let mut mm = mech(CKM_ECDSA_SHA256);
    ok("C_SignInit", unsafe { C_SignInit(h, &mut mm, private) });
    let mut data = *b"data";
    let mut sig = [0u8; 64];
    expect(
        "C_Sign with a null length pointer",
        unsafe { C_Sign(h, data.as_mut_ptr(), 4, sig.as_mut_ptr(), null_mut()) },
        CKR_ARGUMENTS_BAD,
    );
    let mut len = sig.len() as CK_ULONG;
    expect(
        "C_Sign after the failed call",
        unsafe { C_Sign(h, data.as_mut_ptr(), 4, sig.as_mut_ptr(), &mut len) },
        CKR_OPERATION_NOT_INITIALIZED,
    );
    // A new C_SignInit is accepted: nothing is left active.
    ok("C_SignInit", unsafe { C_SignInit(h, &mut mm, private) });
}

// ----- answers a conformance run found wrong -----------------------------------------------

/// C_InitToken on the initialised token with `so`; the label "wiped".
fn reinit(slot: CK_SLOT_ID, so: &str) -> CK_RV {
    let mut label = [b' '; 32];
    label[..5].copy_from_slice(b"wiped");
    let (p, n) = pin(so);
    unsafe { C_InitToken(slot, p, n, label.as_mut_ptr()) }
}

const SO_FLAGS: CK_FLAGS = CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED;

#[test]
fn c_init_token_with_a_wrong_so_pin_is_pin_incorrect_and_counts_toward_the_so_lock() {
    // Three SO tries, to reach the lock quickly.
    let _m = Module::initialised(Some("[[slot]]\nserial = \"SO3\"\nso_retries = 3\n"));
    init_token(0);
    let h = user_session(0);
    let keep = data_object(h, true, b"keep").expect("token object");
    ok("C_CloseSession", unsafe { C_CloseSession(h) });
    assert_eq!(token_flags(0) & SO_FLAGS, 0);

    // An attacker who may not log in as SO tries to wipe the key with guessed SO PINs:
    // a PIN of a plausible length and one of a length no PIN has both cost a try.
    expect(
        "C_InitToken, wrong SO PIN",
        reinit(0, "11112222"),
        CKR_PIN_INCORRECT,
    );
    assert_eq!(token_flags(0) & SO_FLAGS, CKF_SO_PIN_COUNT_LOW);
    // The same counter as C_Login of the SO: a wrong SO login brings the final try.
    let rw = open(0, true);
    expect(
        "SO C_Login, wrong PIN",
        login(rw, CKU_SO, "99990000"),
        CKR_PIN_INCORRECT,
    );
    ok("C_CloseSession", unsafe { C_CloseSession(rw) });
    assert_eq!(
        token_flags(0) & SO_FLAGS,
        CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY
    );
    // A length no PIN has is a wrong PIN too, not a free CKR_PIN_LEN_RANGE.
    expect(
        "C_InitToken, 3-byte SO PIN",
        reinit(0, "123"),
        CKR_PIN_LOCKED,
    );
    assert_eq!(token_flags(0) & SO_FLAGS, CKF_SO_PIN_LOCKED);
    // Locked: the right SO PIN no longer wipes the token either.
    expect(
        "C_InitToken, right SO PIN after the lock",
        reinit(0, SO_PIN),
        CKR_PIN_LOCKED,
    );
    // Nothing was destroyed: the holder still opens the key and finds the object.
    let h = user_session(0);
    let cls = ul(CKO_DATA);
    let found = find(h, &[attr(CKA_CLASS, &cls[..])]);
    assert!(
        found.contains(&keep),
        "the token object survived: {found:?}"
    );
    ok("C_CloseSession", unsafe { C_CloseSession(h) });
}

#[test]
fn c_init_token_with_the_right_so_pin_resets_the_so_count() {
    let _m = Module::initialised(Some("[[slot]]\nserial = \"SO3\"\nso_retries = 3\n"));
    init_token(0);
    expect(
        "C_InitToken, wrong SO PIN",
        reinit(0, "11112222"),
        CKR_PIN_INCORRECT,
    );
    expect(
        "C_InitToken, wrong SO PIN",
        reinit(0, "1"),
        CKR_PIN_INCORRECT,
    );
    ok("C_InitToken, right SO PIN", reinit(0, SO_PIN));
    assert_eq!(token_flags(0) & SO_FLAGS, 0);
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    ok("C_GetTokenInfo", unsafe { C_GetTokenInfo(0, &mut info) });
    assert_eq!(&info.label[..5], b"wiped");
    // A blank token has no SO PIN to check: there the length rule answers.
    drop(_m);
    let _m = Module::initialised(None);
    expect(
        "C_InitToken of a blank token, 3-byte SO PIN",
        reinit(0, "123"),
        CKR_PIN_LEN_RANGE,
    );
}

#[test]
fn c_seed_random_checks_the_session_handle_first() {
    let _m = Module::initialised(None);
    init_token(0);
    let mut seed = [7u8; 16];
    for h in [0, 0xDEAD_BEEF, u64::MAX] {
        expect(
            "C_SeedRandom, made-up session",
            unsafe { C_SeedRandom(h, seed.as_mut_ptr(), 16) },
            CKR_SESSION_HANDLE_INVALID,
        );
        // Even with a bad seed pointer the session is what is wrong.
        expect(
            "C_SeedRandom, made-up session, NULL seed",
            unsafe { C_SeedRandom(h, null_mut(), 16) },
            CKR_SESSION_HANDLE_INVALID,
        );
    }
    let h = open(0, false);
    expect(
        "C_SeedRandom, NULL seed with a length",
        unsafe { C_SeedRandom(h, null_mut(), 16) },
        CKR_ARGUMENTS_BAD,
    );
    expect(
        "C_SeedRandom",
        unsafe { C_SeedRandom(h, seed.as_mut_ptr(), 16) },
        CKR_RANDOM_SEED_NOT_SUPPORTED,
    );
    ok("C_CloseSession", unsafe { C_CloseSession(h) });
    expect(
        "C_SeedRandom, closed session",
        unsafe { C_SeedRandom(h, seed.as_mut_ptr(), 16) },
        CKR_SESSION_HANDLE_INVALID,
    );
}

/// C_Digest into a 32-byte buffer.
fn digest_once(h: CK_SESSION_HANDLE, data: &[u8]) -> (CK_RV, Vec<u8>) {
    let mut out = [0u8; 32];
    let mut n: CK_ULONG = 32;
    let rv = unsafe {
        C_Digest(
            h,
            data.as_ptr() as *mut u8,
            data.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut n,
        )
    };
    (rv, out[..n as usize].to_vec())
}

const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[test]
fn c_digest_errors_end_the_operation_except_buffer_too_small() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = open(0, false);
    let mut sha = mech(CKM_SHA256);
    let mut out = [0u8; 32];
    unsafe {
        // Too small a buffer and a length query keep the operation for the next call.
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        let mut n: CK_ULONG = 31;
        expect(
            "C_Digest into 31 bytes",
            C_Digest(h, b"abc".as_ptr() as *mut u8, 3, out.as_mut_ptr(), &mut n),
            CKR_BUFFER_TOO_SMALL,
        );
        assert_eq!(n, 32);
        ok(
            "C_Digest length query",
            C_Digest(h, b"abc".as_ptr() as *mut u8, 3, null_mut(), &mut n),
        );
        let (rv, d) = digest_once(h, b"abc");
        ok("C_Digest after BUFFER_TOO_SMALL", rv);
        assert_eq!(hex(&d), SHA256_ABC);

        // Bad data (NULL with a length): the operation is over.
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        let mut n: CK_ULONG = 32;
        expect(
            "C_Digest, NULL data with a length",
            C_Digest(h, null_mut(), 3, out.as_mut_ptr(), &mut n),
            CKR_ARGUMENTS_BAD,
        );
        let (rv, _) = digest_once(h, b"abc");
        expect(
            "C_Digest after ARGUMENTS_BAD",
            rv,
            CKR_OPERATION_NOT_INITIALIZED,
        );
        // ... and a new one can start at once.
        ok("C_DigestInit after the failure", C_DigestInit(h, &mut sha));

        // A NULL length pointer ends it too, for C_Digest and for C_DigestFinal.
        expect(
            "C_Digest, NULL length",
            C_Digest(
                h,
                b"abc".as_ptr() as *mut u8,
                3,
                out.as_mut_ptr(),
                null_mut(),
            ),
            CKR_ARGUMENTS_BAD,
        );
        ok("C_DigestInit after it ended", C_DigestInit(h, &mut sha));
        ok(
            "C_DigestUpdate",
            C_DigestUpdate(h, b"abc".as_ptr() as *mut u8, 3),
        );
        expect(
            "C_DigestFinal, NULL length",
            C_DigestFinal(h, out.as_mut_ptr(), null_mut()),
            CKR_ARGUMENTS_BAD,
        );
        let mut n: CK_ULONG = 32;
        expect(
            "C_DigestFinal after it ended",
            C_DigestFinal(h, out.as_mut_ptr(), &mut n),
            CKR_OPERATION_NOT_INITIALIZED,
        );
    }
    ok("C_CloseSession", unsafe { C_CloseSession(h) });
}

#[test]
fn c_digest_refuses_to_finish_a_multi_part_digest() {
    let _m = Module::initialised(None);
    init_token(0);
    let h = open(0, false);
    let mut sha = mech(CKM_SHA256);
    let mut out = [0u8; 32];
    unsafe {
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        ok(
            "C_DigestUpdate",
            C_DigestUpdate(h, b"ab".as_ptr() as *mut u8, 2),
        );
        // Hashing only C_Digest's own data would silently drop the "ab" already fed.
        let (rv, _) = digest_once(h, b"xyz");
        expect("C_Digest after C_DigestUpdate", rv, CKR_OPERATION_ACTIVE);
        let mut n: CK_ULONG = 32;
        expect(
            "C_Digest length query after C_DigestUpdate",
            C_Digest(h, b"c".as_ptr() as *mut u8, 1, null_mut(), &mut n),
            CKR_OPERATION_ACTIVE,
        );
        // The multi-part operation is intact: it finishes with the parts it was fed.
        ok(
            "C_DigestUpdate",
            C_DigestUpdate(h, b"c".as_ptr() as *mut u8, 1),
        );
        let mut n: CK_ULONG = 32;
        ok("C_DigestFinal", C_DigestFinal(h, out.as_mut_ptr(), &mut n));
        assert_eq!(hex(&out), SHA256_ABC);
        // C_DigestInit .. C_Digest without updates is still a single-part digest.
        ok("C_DigestInit", C_DigestInit(h, &mut sha));
        let (rv, d) = digest_once(h, b"abc");
        ok("C_Digest", rv);
        assert_eq!(hex(&d), SHA256_ABC);
    }
    ok("C_CloseSession", unsafe { C_CloseSession(h) });
}
