//! Logging in with the user PIN the careful way (shared/DESIGN.md, "PIN"): never
//! burn a locked or final try by accident, and after a wrong PIN say what the token
//! says now.

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::{ExposeSecret, SecretString};

use crate::{Error, Result};

use super::ckr;

/// Logs `session` in as the user. Refuses before trying when the token reports the
/// PIN locked, or at its final try unless `final_try_ok`, or when the PIN's length is
/// outside the token's range. On CKR_PIN_INCORRECT the token info is read again and
/// returned in [`Error::PinIncorrect`].
pub fn login_user(
    ctx: &Pkcs11,
    slot: Slot,
    session: &Session,
    pin: &SecretString,
    final_try_ok: bool,
) -> Result<()> {
    let info = ctx
        .get_token_info(slot)
        .map_err(|e| ckr::convert(e, "C_GetTokenInfo"))?;
    let serial = info.serial_number().trim().to_string();
    if info.user_pin_locked() {
        return Err(Error::PinLocked { serial });
    }
    if info.user_pin_final_try() && !final_try_ok {
        return Err(Error::PinFinalTry { serial });
    }
    let len = pin.expose_secret().len();
    let (min, max) = (info.min_pin_length(), info.max_pin_length());
    if (min > 0 && len < min) || (max > 0 && len > max) {
        return Err(Error::PinLength { min, max });
    }
    // Traced without its module's name (a session does not know it) and, as every
    // call in the trace, without its arguments.
    let login = || {
        super::trace::call("", "C_Login", Some(slot.id()), || {
            session.login(UserType::User, Some(pin))
        })
    };
    let mut result = login();
    if matches!(
        result,
        Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _))
    ) {
        // Logged in by another session of this process: that says nothing about this
        // PIN, so log out and check it.
        let _ = session.logout();
        result = login();
    }
    match result {
        Ok(()) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            let after = ctx
                .get_token_info(slot)
                .map_err(|e| ckr::convert(e, "C_GetTokenInfo"))?;
            Err(Error::PinIncorrect {
                serial,
                count_low: after.user_pin_count_low(),
                final_try: after.user_pin_final_try(),
                locked: after.user_pin_locked(),
            })
        }
        Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Error::PinLocked { serial }),
        Err(e) => Err(ckr::convert(e, "C_Login")),
    }
}
