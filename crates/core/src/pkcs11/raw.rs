//! Direct calls into a module's function list, for what `cryptoki` cannot express:
//! it drops mechanism types it does not know (every vendor SM2/SM3 mechanism) from
//! C_GetMechanismList. The library is opened a second time (the loader returns the
//! same instance, already initialised through cryptoki) and its CK_FUNCTION_LIST used.

use cryptoki_sys::{
    CKR_BUFFER_TOO_SMALL, CKR_OK, CK_FUNCTION_LIST, CK_MECHANISM_INFO, CK_MECHANISM_TYPE, CK_RV,
    CK_SLOT_ID, CK_ULONG,
};

use crate::{Error, Result};

use super::ckr;

/// A module's function list, kept valid by holding the library open.
pub struct RawModule {
    _lib: cryptoki_sys::Pkcs11,
    list: *const CK_FUNCTION_LIST,
}

// SAFETY: the function list is immutable static data of the loaded library, which
// stays loaded while `_lib` lives; PKCS#11 modules initialised with OS locking are
// safe to call from several threads.
unsafe impl Send for RawModule {}
// SAFETY: as above.
unsafe impl Sync for RawModule {}

fn rv(rv: CK_RV, function: &str) -> Result<()> {
    if rv == CKR_OK {
        return Ok(());
    }
    Err(ckr::from_raw(rv, function))
}

impl RawModule {
    /// Opens the module at `path` again and fetches its function list.
    pub fn open(path: &str) -> Result<Self> {
        // SAFETY: loading a PKCS#11 module the caller already loaded through cryptoki.
        let lib =
            unsafe { cryptoki_sys::Pkcs11::new(path) }.map_err(|e| Error::ModuleLoadFailed {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
        // SAFETY: C_GetFunctionList writes one pointer.
        let r = unsafe { lib.C_GetFunctionList(&mut list) };
        rv(r, "C_GetFunctionList")?;
        if list.is_null() {
            return Err(Error::ModuleMisbehaved {
                reason: "C_GetFunctionList returned a null list".into(),
            });
        }
        Ok(RawModule { _lib: lib, list })
    }

    fn list(&self) -> &CK_FUNCTION_LIST {
        // SAFETY: checked non-null at open; valid while the library is loaded.
        unsafe { &*self.list }
    }

    /// C_GetMechanismList, every value including vendor-defined ones.
    pub fn mechanism_list(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        let f = self
            .list()
            .C_GetMechanismList
            .ok_or_else(|| ckr::from_raw(0x54, "C_GetMechanismList"))?;
        for _ in 0..3 {
            let mut count: CK_ULONG = 0;
            // SAFETY: a null list asks for the count.
            rv(
                unsafe { f(slot, std::ptr::null_mut(), &mut count) },
                "C_GetMechanismList",
            )?;
            let n = usize::try_from(count).unwrap_or(0).min(4096);
            let mut v: Vec<CK_MECHANISM_TYPE> = vec![0; n];
            let mut got = n as CK_ULONG;
            // SAFETY: `v` has room for `got` values.
            let r = unsafe { f(slot, v.as_mut_ptr(), &mut got) };
            if r == CKR_BUFFER_TOO_SMALL {
                continue; // the list grew between the calls
            }
            rv(r, "C_GetMechanismList")?;
            v.truncate(usize::try_from(got).unwrap_or(0).min(n));
            return Ok(v);
        }
        Err(ckr::from_raw(CKR_BUFFER_TOO_SMALL, "C_GetMechanismList"))
    }

    /// C_GetMechanismInfo for any value.
    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO> {
        let f = self
            .list()
            .C_GetMechanismInfo
            .ok_or_else(|| ckr::from_raw(0x54, "C_GetMechanismInfo"))?;
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        // SAFETY: writes one CK_MECHANISM_INFO.
        rv(unsafe { f(slot, mech, &mut info) }, "C_GetMechanismInfo")?;
        Ok(info)
    }
}
