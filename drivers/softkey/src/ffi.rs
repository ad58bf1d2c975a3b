//! The C ABI. Every exported function runs its body through [`guard`], which catches
//! panics and turns `Err(rv)` into the return code; pointers and lengths are checked
//! before any slice is made. The bodies call [`Runtime`] methods.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use std::os::raw::c_void;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use cryptoki_sys::*;

use crate::runtime::{AttrValue, Runtime, Rv, MAX_ATTR_LEN, MAX_DATA_LEN};

static STATE: Mutex<Option<Runtime>> = Mutex::new(None);

/// Most attributes one template may carry.
const MAX_TEMPLATE: CK_ULONG = 1024;

fn guard(f: impl FnOnce() -> Rv<()>) -> CK_RV {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(rv)) => rv,
        Err(_) => CKR_GENERAL_ERROR,
    }
}

fn with_rt<T>(f: impl FnOnce(&mut Runtime) -> Rv<T>) -> Rv<T> {
    let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let rt = g.as_mut().ok_or(CKR_CRYPTOKI_NOT_INITIALIZED)?;
    f(rt)
}

fn unsupported(rv: CK_RV) -> CK_RV {
    guard(|| with_rt(|_| Err(rv)))
}

/// Input bytes; a null pointer is allowed only for length 0.
unsafe fn bytes<'a>(p: *const u8, len: CK_ULONG) -> Rv<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    let n = usize::try_from(len).map_err(|_| CKR_ARGUMENTS_BAD)?;
    if n > MAX_DATA_LEN {
        return Err(CKR_DATA_LEN_RANGE);
    }
    Ok(std::slice::from_raw_parts(p, n))
}

/// A template as (type, value) pairs.
unsafe fn template(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Rv<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() || count > MAX_TEMPLATE {
        return Err(CKR_ARGUMENTS_BAD);
    }
    let attrs = std::slice::from_raw_parts(p, count as usize);
    let mut out = Vec::with_capacity(attrs.len());
    for a in attrs {
        if a.ulValueLen as usize > MAX_ATTR_LEN {
            return Err(CKR_ATTRIBUTE_VALUE_INVALID);
        }
        let v = bytes(a.pValue as *const u8, a.ulValueLen)?;
        out.push((a.type_, v.to_vec()));
    }
    Ok(out)
}

/// A mechanism and its parameter bytes.
unsafe fn mechanism(p: *const CK_MECHANISM) -> Rv<(CK_MECHANISM_TYPE, Vec<u8>)> {
    let m = p.as_ref().ok_or(CKR_ARGUMENTS_BAD)?;
    let param = bytes(m.pParameter as *const u8, m.ulParameterLen)
        .map_err(|_| CKR_MECHANISM_PARAM_INVALID)?;
    Ok((m.mechanism, param.to_vec()))
}

/// Writes `data` with the PKCS#11 length convention: a null buffer asks for the
/// length; a short one gets CKR_BUFFER_TOO_SMALL and the needed length.
unsafe fn out_bytes(data: &[u8], p: *mut u8, plen: *mut CK_ULONG) -> Rv<()> {
    let len = plen.as_mut().ok_or(CKR_ARGUMENTS_BAD)?;
    let need = data.len() as CK_ULONG;
    if p.is_null() {
        *len = need;
        return Ok(());
    }
    if *len < need {
        *len = need;
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len());
    *len = need;
    Ok(())
}

/// Same convention for lists of CK_ULONG values.
unsafe fn out_list(items: &[CK_ULONG], p: *mut CK_ULONG, plen: *mut CK_ULONG) -> Rv<()> {
    let len = plen.as_mut().ok_or(CKR_ARGUMENTS_BAD)?;
    let need = items.len() as CK_ULONG;
    if p.is_null() {
        *len = need;
        return Ok(());
    }
    if *len < need {
        *len = need;
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    std::ptr::copy_nonoverlapping(items.as_ptr(), p, items.len());
    *len = need;
    Ok(())
}

unsafe fn write<T>(p: *mut T, v: T) -> Rv<()> {
    if p.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    p.write(v);
    Ok(())
}

// ----- general ---------------------------------------------------------------------

/// The `os-locking off` fault of the control file.
fn refuses_os_locking() -> bool {
    crate::store::Store::open()
        .and_then(|store| crate::control::Control::read(&store))
        .is_ok_and(|c| c.refuse_os_locking)
}

#[no_mangle]
pub unsafe extern "C" fn C_Initialize(pInitArgs: *mut c_void) -> CK_RV {
    guard(|| {
        if let Some(args) = (pInitArgs as *const CK_C_INITIALIZE_ARGS).as_ref() {
            if !args.pReserved.is_null() {
                return Err(CKR_ARGUMENTS_BAD);
            }
            let fns = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            if fns.iter().any(|f| *f) && !fns.iter().all(|f| *f) {
                return Err(CKR_ARGUMENTS_BAD);
            }
            // We lock with the OS; an application that insists on its own mutexes
            // without allowing OS locking cannot use us.
            if fns[0] && args.flags & CKF_OS_LOCKING_OK == 0 {
                return Err(CKR_CANT_LOCK);
            }
            if args.flags & CKF_OS_LOCKING_OK != 0 && refuses_os_locking() {
                return Err(CKR_CANT_LOCK);
            }
        }
        let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_some() {
            return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED);
        }
        *g = Some(Runtime::new()?);
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Finalize(pReserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !pReserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
        g.take().map(|_| ()).ok_or(CKR_CRYPTOKI_NOT_INITIALIZED)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(pInfo: *mut CK_INFO) -> CK_RV {
    guard(|| {
        with_rt(|_| Ok(()))?;
        write(
            pInfo,
            CK_INFO {
                cryptokiVersion: CK_VERSION {
                    major: 2,
                    minor: 40,
                },
                manufacturerID: crate::token::padded::<32>("CertKey"),
                flags: 0,
                libraryDescription: crate::token::padded::<32>("CertKey softkey virtual USB key"),
                libraryVersion: CK_VERSION { major: 1, minor: 0 },
            },
        )
    })
}

static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
    version: CK_VERSION {
        major: 2,
        minor: 40,
    },
    C_Initialize: Some(C_Initialize),
    C_Finalize: Some(C_Finalize),
    C_GetInfo: Some(C_GetInfo),
    C_GetFunctionList: Some(C_GetFunctionList),
    C_GetSlotList: Some(C_GetSlotList),
    C_GetSlotInfo: Some(C_GetSlotInfo),
    C_GetTokenInfo: Some(C_GetTokenInfo),
    C_GetMechanismList: Some(C_GetMechanismList),
    C_GetMechanismInfo: Some(C_GetMechanismInfo),
    C_InitToken: Some(C_InitToken),
    C_InitPIN: Some(C_InitPIN),
    C_SetPIN: Some(C_SetPIN),
    C_OpenSession: Some(C_OpenSession),
    C_CloseSession: Some(C_CloseSession),
    C_CloseAllSessions: Some(C_CloseAllSessions),
    C_GetSessionInfo: Some(C_GetSessionInfo),
    C_GetOperationState: Some(C_GetOperationState),
    C_SetOperationState: Some(C_SetOperationState),
    C_Login: Some(C_Login),
    C_Logout: Some(C_Logout),
    C_CreateObject: Some(C_CreateObject),
    C_CopyObject: Some(C_CopyObject),
    C_DestroyObject: Some(C_DestroyObject),
    C_GetObjectSize: Some(C_GetObjectSize),
    C_GetAttributeValue: Some(C_GetAttributeValue),
    C_SetAttributeValue: Some(C_SetAttributeValue),
    C_FindObjectsInit: Some(C_FindObjectsInit),
    C_FindObjects: Some(C_FindObjects),
    C_FindObjectsFinal: Some(C_FindObjectsFinal),
    C_EncryptInit: Some(C_EncryptInit),
    C_Encrypt: Some(C_Encrypt),
    C_EncryptUpdate: Some(C_EncryptUpdate),
    C_EncryptFinal: Some(C_EncryptFinal),
    C_DecryptInit: Some(C_DecryptInit),
    C_Decrypt: Some(C_Decrypt),
    C_DecryptUpdate: Some(C_DecryptUpdate),
    C_DecryptFinal: Some(C_DecryptFinal),
    C_DigestInit: Some(C_DigestInit),
    C_Digest: Some(C_Digest),
    C_DigestUpdate: Some(C_DigestUpdate),
    C_DigestKey: Some(C_DigestKey),
    C_DigestFinal: Some(C_DigestFinal),
    C_SignInit: Some(C_SignInit),
    C_Sign: Some(C_Sign),
    C_SignUpdate: Some(C_SignUpdate),
    C_SignFinal: Some(C_SignFinal),
    C_SignRecoverInit: Some(C_SignRecoverInit),
    C_SignRecover: Some(C_SignRecover),
    C_VerifyInit: Some(C_VerifyInit),
    C_Verify: Some(C_Verify),
    C_VerifyUpdate: Some(C_VerifyUpdate),
    C_VerifyFinal: Some(C_VerifyFinal),
    C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
    C_VerifyRecover: Some(C_VerifyRecover),
    C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
    C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
    C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
    C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
    C_GenerateKey: Some(C_GenerateKey),
    C_GenerateKeyPair: Some(C_GenerateKeyPair),
    C_WrapKey: Some(C_WrapKey),
    C_UnwrapKey: Some(C_UnwrapKey),
    C_DeriveKey: Some(C_DeriveKey),
    C_SeedRandom: Some(C_SeedRandom),
    C_GenerateRandom: Some(C_GenerateRandom),
    C_GetFunctionStatus: Some(C_GetFunctionStatus),
    C_CancelFunction: Some(C_CancelFunction),
    C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
};

#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(ppFunctionList: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        write(
            ppFunctionList,
            &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST,
        )
    })
}

struct Interface(CK_INTERFACE);
// SAFETY: the pointers inside point to immutable statics.
unsafe impl Sync for Interface {}

static INTERFACE_NAME: &[u8] = b"PKCS 11\0";
static INTERFACE: Interface = Interface(CK_INTERFACE {
    pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
    pFunctionList: &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut c_void,
    flags: 0,
});

/// PKCS#11 3.0 entry point: one interface, "PKCS 11" version 2.40.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterfaceList(
    pInterfacesList: *mut CK_INTERFACE,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let count = pulCount.as_mut().ok_or(CKR_ARGUMENTS_BAD)?;
        if pInterfacesList.is_null() {
            *count = 1;
            return Ok(());
        }
        if *count < 1 {
            *count = 1;
            return Err(CKR_BUFFER_TOO_SMALL);
        }
        pInterfacesList.write(CK_INTERFACE { ..INTERFACE.0 });
        *count = 1;
        Ok(())
    })
}

/// PKCS#11 3.0 entry point.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    pInterfaceName: *mut CK_UTF8CHAR,
    pVersion: *mut CK_VERSION,
    ppInterface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard(|| {
        if ppInterface.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if !pInterfaceName.is_null() {
            let name = std::ffi::CStr::from_ptr(pInterfaceName as *const std::os::raw::c_char);
            if name.to_bytes() != b"PKCS 11" {
                return Err(CKR_ARGUMENTS_BAD);
            }
        }
        if let Some(v) = pVersion.as_ref() {
            if v.major != 2 || v.minor != 40 {
                return Err(CKR_ARGUMENTS_BAD);
            }
        }
        if flags != 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        *ppInterface = &INTERFACE.0 as *const CK_INTERFACE as *mut CK_INTERFACE;
        Ok(())
    })
}

// ----- slots and tokens ------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    tokenPresent: CK_BBOOL,
    pSlotList: *mut CK_SLOT_ID,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let list = with_rt(|rt| Ok(rt.slot_list(tokenPresent != 0)))?;
        out_list(&list, pSlotList, pulCount)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| {
        if pInfo.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let info = with_rt(|rt| rt.slot_info(slotID))?;
        write(pInfo, info)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| {
        if pInfo.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let info = with_rt(|rt| rt.token_info(slotID))?;
        write(pInfo, info)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slotID: CK_SLOT_ID,
    pMechanismList: *mut CK_MECHANISM_TYPE,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if pulCount.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let list = with_rt(|rt| rt.mechanisms(slotID))?;
        out_list(&list, pMechanismList, pulCount)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slotID: CK_SLOT_ID,
    type_: CK_MECHANISM_TYPE,
    pInfo: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| {
        if pInfo.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let info = with_rt(|rt| rt.mechanism_info(slotID, type_))?;
        write(pInfo, info)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    slotID: CK_SLOT_ID,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
    pLabel: *mut CK_UTF8CHAR,
) -> CK_RV {
    guard(|| {
        if pLabel.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let pin = zeroize::Zeroizing::new(bytes(pPin, ulPinLen)?.to_vec());
        let mut label = [0u8; 32];
        label.copy_from_slice(std::slice::from_raw_parts(pLabel, 32));
        with_rt(|rt| rt.init_token(slotID, &pin, &label))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    hSession: CK_SESSION_HANDLE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let pin = zeroize::Zeroizing::new(bytes(pPin, ulPinLen)?.to_vec());
        with_rt(|rt| rt.init_pin(hSession, &pin))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SetPIN(
    hSession: CK_SESSION_HANDLE,
    pOldPin: *mut CK_UTF8CHAR,
    ulOldLen: CK_ULONG,
    pNewPin: *mut CK_UTF8CHAR,
    ulNewLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let old = zeroize::Zeroizing::new(bytes(pOldPin, ulOldLen)?.to_vec());
        let new = zeroize::Zeroizing::new(bytes(pNewPin, ulNewLen)?.to_vec());
        with_rt(|rt| rt.set_pin(hSession, &old, &new))
    })
}

// ----- sessions --------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slotID: CK_SLOT_ID,
    flags: CK_FLAGS,
    _pApplication: *mut c_void,
    _Notify: CK_NOTIFY,
    phSession: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        if phSession.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let h = with_rt(|rt| rt.open_session(slotID, flags))?;
        write(phSession, h)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseSession(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_rt(|rt| rt.close_session(hSession)))
}

#[no_mangle]
pub unsafe extern "C" fn C_CloseAllSessions(slotID: CK_SLOT_ID) -> CK_RV {
    guard(|| with_rt(|rt| rt.close_all(slotID)))
}

#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    hSession: CK_SESSION_HANDLE,
    pInfo: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard(|| {
        if pInfo.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let info = with_rt(|rt| rt.session_info(hSession))?;
        write(pInfo, info)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Login(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: *mut CK_UTF8CHAR,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let pin = zeroize::Zeroizing::new(bytes(pPin, ulPinLen)?.to_vec());
        with_rt(|rt| rt.login(hSession, userType, &pin))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Logout(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_rt(|rt| rt.logout(hSession)))
}

// ----- objects ---------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_CreateObject(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phObject: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        if phObject.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let t = template(pTemplate, ulCount)?;
        let h = with_rt(|rt| rt.create_object(hSession, &t))?;
        write(phObject, h)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_DestroyObject(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| with_rt(|rt| rt.destroy_object(hSession, hObject)))
}

#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pulSize: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if pulSize.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let n = with_rt(|rt| rt.object_size(hSession, hObject))?;
        write(pulSize, n)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if ulCount == 0 {
            return with_rt(|rt| rt.get_attributes(hSession, hObject, &[]).map(|_| ()));
        }
        if pTemplate.is_null() || ulCount > MAX_TEMPLATE {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let attrs = std::slice::from_raw_parts_mut(pTemplate, ulCount as usize);
        let types: Vec<CK_ATTRIBUTE_TYPE> = attrs.iter().map(|a| a.type_).collect();
        let values = with_rt(|rt| rt.get_attributes(hSession, hObject, &types))?;
        let mut rv = CKR_OK;
        for (a, v) in attrs.iter_mut().zip(values) {
            match v {
                AttrValue::Sensitive => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_SENSITIVE;
                }
                AttrValue::Invalid => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_TYPE_INVALID;
                }
                AttrValue::Value(bytes) => {
                    if a.pValue.is_null() {
                        a.ulValueLen = bytes.len() as CK_ULONG;
                    } else if (a.ulValueLen as usize) < bytes.len() {
                        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        rv = CKR_BUFFER_TOO_SMALL;
                    } else {
                        std::ptr::copy_nonoverlapping(
                            bytes.as_ptr(),
                            a.pValue as *mut u8,
                            bytes.len(),
                        );
                        a.ulValueLen = bytes.len() as CK_ULONG;
                    }
                }
            }
        }
        if rv == CKR_OK {
            Ok(())
        } else {
            Err(rv)
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let t = template(pTemplate, ulCount)?;
        with_rt(|rt| rt.set_attributes(hSession, hObject, &t))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let t = template(pTemplate, ulCount)?;
        with_rt(|rt| rt.find_init(hSession, &t))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    hSession: CK_SESSION_HANDLE,
    phObject: *mut CK_OBJECT_HANDLE,
    ulMaxObjectCount: CK_ULONG,
    pulObjectCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        if pulObjectCount.is_null() || (phObject.is_null() && ulMaxObjectCount > 0) {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let max = usize::try_from(ulMaxObjectCount).unwrap_or(usize::MAX);
        let found = with_rt(|rt| rt.find(hSession, max))?;
        if !found.is_empty() {
            std::ptr::copy_nonoverlapping(found.as_ptr(), phObject, found.len());
        }
        write(pulObjectCount, found.len() as CK_ULONG)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| with_rt(|rt| rt.find_final(hSession)))
}

// ----- digest, sign, verify ---------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_DigestInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
) -> CK_RV {
    guard(|| {
        let (m, _) = mechanism(pMechanism)?;
        with_rt(|rt| rt.digest_init(hSession, m))
    })
}

/// C_Digest (`data` Some: pointer and length) or C_DigestFinal (`data` None).
/// Every error but CKR_BUFFER_TOO_SMALL, and CKR_OPERATION_ACTIVE for C_Digest on a
/// multi-part operation, ends the operation, as PKCS#11 says: a caller that passed
/// bad arguments must start again with C_DigestInit.
unsafe fn digest_out(
    hSession: CK_SESSION_HANDLE,
    data: Option<(*mut CK_BYTE, CK_ULONG)>,
    pDigest: *mut CK_BYTE,
    pulDigestLen: *mut CK_ULONG,
) -> Rv<()> {
    let result = digest_call(hSession, data, pDigest, pulDigestLen);
    match result {
        Ok(()) | Err(CKR_BUFFER_TOO_SMALL) | Err(CKR_OPERATION_ACTIVE) => {}
        Err(_) => {
            // Best effort: without a runtime there is no operation to end.
            let _ = with_rt(|rt| {
                rt.abort_digest(hSession);
                Ok(())
            });
        }
    }
    result
}

unsafe fn digest_call(
    hSession: CK_SESSION_HANDLE,
    data: Option<(*mut CK_BYTE, CK_ULONG)>,
    pDigest: *mut CK_BYTE,
    pulDigestLen: *mut CK_ULONG,
) -> Rv<()> {
    let data = match data {
        Some((p, n)) => Some(bytes(p, n)?),
        None => None,
    };
    let len = pulDigestLen.as_mut().ok_or(CKR_ARGUMENTS_BAD)?;
    if pDigest.is_null() {
        // Checks the operation is active without ending it.
        with_rt(|rt| {
            rt.digest(hSession, data, 0).map(|_| ()).or_else(|e| {
                if e == CKR_BUFFER_TOO_SMALL {
                    Ok(())
                } else {
                    Err(e)
                }
            })
        })?;
        *len = 32;
        return Ok(());
    }
    let cap = *len as usize;
    match with_rt(|rt| rt.digest(hSession, data, cap)) {
        Ok(d) => out_bytes(&d, pDigest, pulDigestLen),
        Err(CKR_BUFFER_TOO_SMALL) => {
            *len = 32;
            Err(CKR_BUFFER_TOO_SMALL)
        }
        Err(e) => Err(e),
    }
}

#[no_mangle]
pub unsafe extern "C" fn C_Digest(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pDigest: *mut CK_BYTE,
    pulDigestLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| digest_out(hSession, Some((pData, ulDataLen)), pDigest, pulDigestLen))
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let part = bytes(pPart, ulPartLen)?;
        with_rt(|rt| rt.digest_update(hSession, part))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestFinal(
    hSession: CK_SESSION_HANDLE,
    pDigest: *mut CK_BYTE,
    pulDigestLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| digest_out(hSession, None, pDigest, pulDigestLen))
}

#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let (m, p) = mechanism(pMechanism)?;
        with_rt(|rt| rt.sign_init(hSession, m, &p, hKey))
    })
}

unsafe fn sign_out(
    hSession: CK_SESSION_HANDLE,
    data: Option<&[u8]>,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> Rv<()> {
    let len = pulSignatureLen.as_mut().ok_or(CKR_ARGUMENTS_BAD)?;
    if pSignature.is_null() {
        *len = with_rt(|rt| rt.sign_len(hSession))? as CK_ULONG;
        return Ok(());
    }
    let cap = usize::try_from(*len).unwrap_or(usize::MAX);
    let mut needed = 0usize;
    match with_rt(|rt| rt.sign(hSession, data, cap, &mut needed)) {
        Ok(sig) => out_bytes(&sig, pSignature, pulSignatureLen),
        Err(CKR_BUFFER_TOO_SMALL) => {
            *len = needed as CK_ULONG;
            Err(CKR_BUFFER_TOO_SMALL)
        }
        Err(e) => Err(e),
    }
}

/// C_Sign and C_SignFinal end the operation on every error but CKR_BUFFER_TOO_SMALL.
fn end_sign_on_error(h: CK_SESSION_HANDLE, r: Rv<()>) -> Rv<()> {
    if let Err(e) = r {
        if e != CKR_BUFFER_TOO_SMALL {
            let _ = with_rt(|rt| {
                rt.abort_sign(h);
                Ok(())
            });
        }
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let r = bytes(pData, ulDataLen)
            .and_then(|data| sign_out(hSession, Some(data), pSignature, pulSignatureLen));
        end_sign_on_error(hSession, r)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let part = bytes(pPart, ulPartLen)?;
        with_rt(|rt| rt.update(hSession, part, true))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut CK_BYTE,
    pulSignatureLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        end_sign_on_error(
            hSession,
            sign_out(hSession, None, pSignature, pulSignatureLen),
        )
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hKey: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let (m, p) = mechanism(pMechanism)?;
        with_rt(|rt| rt.verify_init(hSession, m, &p, hKey))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_Verify(
    hSession: CK_SESSION_HANDLE,
    pData: *mut CK_BYTE,
    ulDataLen: CK_ULONG,
    pSignature: *mut CK_BYTE,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let data = bytes(pData, ulDataLen)?;
        let sig = bytes(pSignature, ulSignatureLen)?;
        with_rt(|rt| rt.verify(hSession, Some(data), sig))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyUpdate(
    hSession: CK_SESSION_HANDLE,
    pPart: *mut CK_BYTE,
    ulPartLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let part = bytes(pPart, ulPartLen)?;
        with_rt(|rt| rt.update(hSession, part, false))
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut CK_BYTE,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let sig = bytes(pSignature, ulSignatureLen)?;
        with_rt(|rt| rt.verify(hSession, None, sig))
    })
}

// ----- keys and random ----------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_GenerateKeyPair(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    pPublicKeyTemplate: *mut CK_ATTRIBUTE,
    ulPublicKeyAttributeCount: CK_ULONG,
    pPrivateKeyTemplate: *mut CK_ATTRIBUTE,
    ulPrivateKeyAttributeCount: CK_ULONG,
    phPublicKey: *mut CK_OBJECT_HANDLE,
    phPrivateKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        if phPublicKey.is_null() || phPrivateKey.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let (m, _) = mechanism(pMechanism)?;
        let pubt = template(pPublicKeyTemplate, ulPublicKeyAttributeCount)?;
        let privt = template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)?;
        let (p, k) = with_rt(|rt| rt.generate_key_pair(hSession, m, &pubt, &privt))?;
        write(phPublicKey, p)?;
        write(phPrivateKey, k)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(
    hSession: CK_SESSION_HANDLE,
    RandomData: *mut CK_BYTE,
    ulRandomLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        if RandomData.is_null() && ulRandomLen > 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let n = usize::try_from(ulRandomLen).map_err(|_| CKR_ARGUMENTS_BAD)?;
        let r = with_rt(|rt| rt.random(hSession, n))?;
        if n > 0 {
            std::ptr::copy_nonoverlapping(r.as_ptr(), RandomData, n);
        }
        Ok(())
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    pSlot: *mut CK_SLOT_ID,
    pReserved: *mut c_void,
) -> CK_RV {
    guard(|| {
        if pSlot.is_null() || !pReserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        loop {
            // The lock is released between polls so other threads (and C_Finalize) run.
            if let Some(slot) = with_rt(|rt| Ok(rt.poll_slot_event()))? {
                return write(pSlot, slot);
            }
            if flags & CKF_DONT_BLOCK != 0 {
                return Err(CKR_NO_EVENT);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

// ----- not supported by a signing key ----------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn C_GetOperationState(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_SetOperationState(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: CK_OBJECT_HANDLE,
    _a5: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_CopyObject(
    _a1: CK_SESSION_HANDLE,
    _a2: CK_OBJECT_HANDLE,
    _a3: *mut CK_ATTRIBUTE,
    _a4: CK_ULONG,
    _a5: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_EncryptInit(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_Encrypt(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_EncryptUpdate(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_EncryptFinal(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptInit(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_Decrypt(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptUpdate(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptFinal(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestKey(_a1: CK_SESSION_HANDLE, _a2: CK_OBJECT_HANDLE) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_SignRecoverInit(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_SignRecover(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyRecoverInit(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_VerifyRecover(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DigestEncryptUpdate(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptDigestUpdate(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_SignEncryptUpdate(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DecryptVerifyUpdate(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_BYTE,
    _a3: CK_ULONG,
    _a4: *mut CK_BYTE,
    _a5: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_GenerateKey(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: *mut CK_ATTRIBUTE,
    _a4: CK_ULONG,
    _a5: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_WrapKey(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
    _a4: CK_OBJECT_HANDLE,
    _a5: *mut CK_BYTE,
    _a6: *mut CK_ULONG,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_UnwrapKey(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
    _a4: *mut CK_BYTE,
    _a5: CK_ULONG,
    _a6: *mut CK_ATTRIBUTE,
    _a7: CK_ULONG,
    _a8: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_DeriveKey(
    _a1: CK_SESSION_HANDLE,
    _a2: *mut CK_MECHANISM,
    _a3: CK_OBJECT_HANDLE,
    _a4: *mut CK_ATTRIBUTE,
    _a5: CK_ULONG,
    _a6: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_SUPPORTED)
}

#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(
    hSession: CK_SESSION_HANDLE,
    pSeed: *mut CK_BYTE,
    ulSeedLen: CK_ULONG,
) -> CK_RV {
    // The session first (PKCS#11 lists CKR_SESSION_HANDLE_INVALID for it), then the
    // arguments, then the answer that softkey takes no seed.
    guard(|| {
        with_rt(|rt| match rt.seed_random(hSession) {
            Err(CKR_RANDOM_SEED_NOT_SUPPORTED) => Ok(()),
            other => other,
        })?;
        bytes(pSeed, ulSeedLen)?;
        Err(CKR_RANDOM_SEED_NOT_SUPPORTED)
    })
}

#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionStatus(_a1: CK_SESSION_HANDLE) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_PARALLEL)
}

#[no_mangle]
pub unsafe extern "C" fn C_CancelFunction(_a1: CK_SESSION_HANDLE) -> CK_RV {
    unsupported(CKR_FUNCTION_NOT_PARALLEL)
}
