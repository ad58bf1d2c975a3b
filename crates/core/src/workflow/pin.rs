//! The PIN: the policy of shared/DESIGN.md, careful logins, and `pin change`.

use cryptoki::session::Session;
use secrecy::{ExposeSecret, SecretString};

use super::token::{pin_state, Token};
use super::{Confirm, Interaction, Notice, Progress, SecretKind, Step, MAX_ASKS};
use crate::pkcs11::{ckr, login};
use crate::{Error, Result};

/// The PIN length range: the policy's 6 to 16, narrowed by the token's own limits
/// (when it reports them).
pub fn length_range(token_min: usize, token_max: usize) -> (usize, usize) {
    let min = token_min.max(6);
    let max = match token_max {
        0 => 16,
        m => m.min(16),
    };
    (min, max.max(min))
}

fn is_run(b: &[u8]) -> bool {
    b.len() > 1
        && (b.windows(2).all(|w| w[1] == w[0].wrapping_add(1))
            || b.windows(2).all(|w| w[0] == w[1].wrapping_add(1)))
}

/// Checks a new PIN against the policy: `min..=max` visible ASCII characters, not one
/// repeated character, not an ascending or descending run, not the profile's default
/// PIN, not the old PIN.
pub fn check_new_pin(
    new: &str,
    old: Option<&str>,
    (min, max): (usize, usize),
    default_pin: Option<&str>,
) -> Result<()> {
    let fail = |rule: &str| {
        Err(Error::PinPolicy {
            rule: rule.into(),
            min,
            max,
        })
    };
    let b = new.as_bytes();
    if !b.iter().all(|c| c.is_ascii_graphic()) {
        return fail("not_printable");
    }
    if b.len() < min {
        return fail("too_short");
    }
    if b.len() > max {
        return fail("too_long");
    }
    if b.iter().all(|c| *c == b[0]) {
        return fail("all_same");
    }
    if is_run(b) {
        return fail("sequence");
    }
    if default_pin.is_some_and(|d| d == new) {
        return fail("default_pin");
    }
    if old.is_some_and(|o| o == new) {
        return fail("same_as_old");
    }
    Ok(())
}

/// Asks for a new PIN until one passes the policy (at most [`MAX_ASKS`] times).
pub fn ask_new_pin(
    ui: &dyn Interaction,
    token: &Token,
    old: Option<&SecretString>,
) -> Result<SecretString> {
    let info = token.info()?;
    let range = length_range(info.min_pin_length(), info.max_pin_length());
    let mut last = None;
    for _ in 0..MAX_ASKS {
        let pin = match ui.secret(&SecretKind::NewPin {
            min: range.0,
            max: range.1,
        }) {
            Ok(p) => p,
            Err(Error::Cancelled) if last.is_some() => break,
            Err(e) => return Err(e),
        };
        match check_new_pin(
            pin.expose_secret(),
            old.map(|o| o.expose_secret()),
            range,
            token.default_pin(),
        ) {
            Ok(()) => return Ok(pin),
            Err(e) => {
                ui.notice(&Notice::Rejected { error: e.clone() });
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(Error::Cancelled))
}

/// Logs the user in the careful way: refuses a locked PIN, asks before using the
/// final try, warns when tries run low; the PIN comes from `pin` or is asked for.
/// After a wrong PIN the token's new state is in the error (no automatic retry:
/// tries are precious). A key that says TO_BE_CHANGED gets a new PIN at once; the PIN
/// now in force is returned.
pub fn login_user(
    ui: &dyn Interaction,
    token: &Token,
    session: &Session,
    pin: Option<&SecretString>,
) -> Result<SecretString> {
    let pin = login_only(ui, token, session, pin)?;
    // A key that says its PIN must be changed (e.g. after a reset by the SO) gets a new
    // one now, before anything else.
    if pin_state(&token.info()?).to_be_changed {
        ui.notice(&Notice::PinMustChange {
            serial: token.serial.clone(),
        });
        let new = ask_new_pin(ui, token, Some(&pin))?;
        session
            .set_pin(&pin, &new)
            .map_err(|e| ckr::convert(e, "C_SetPIN"))?;
        return Ok(new);
    }
    Ok(pin)
}

/// [`login_user`] without the forced change (for a caller that sets the PIN next
/// anyway, like activation).
pub fn login_only(
    ui: &dyn Interaction,
    token: &Token,
    session: &Session,
    pin: Option<&SecretString>,
) -> Result<SecretString> {
    let info = token.info()?;
    let state = pin_state(&info);
    if state.locked {
        return Err(Error::PinLocked {
            serial: token.serial.clone(),
        });
    }
    let mut final_try_ok = false;
    if state.final_try {
        final_try_ok = ui.confirm(&Confirm::FinalTry {
            serial: token.serial.clone(),
        })?;
        if !final_try_ok {
            return Err(Error::PinFinalTry {
                serial: token.serial.clone(),
            });
        }
    } else if state.count_low {
        ui.notice(&Notice::PinCountLow {
            serial: token.serial.clone(),
        });
    }
    let pin = match pin {
        Some(p) => p.clone(),
        None => ui.secret(&SecretKind::CurrentPin {
            serial: token.serial.clone(),
            count_low: state.count_low,
            final_try: state.final_try,
        })?,
    };
    login::login_user(&token.ctx, token.slot, session, &pin, final_try_ok)?;
    Ok(pin)
}

/// `pin change`: log in with the current PIN, choose a new one by the policy, and set
/// it with C_SetPIN. A token that says TO_BE_CHANGED gets the same treatment.
pub fn change(ui: &dyn Interaction, token: &Token) -> Result<()> {
    let mut p = Progress::new(ui, 3);
    p.step(Step::ReadToken)?;
    let session = token.session()?;
    p.step(Step::Login)?;
    let must_change = pin_state(&token.info()?).to_be_changed;
    let old = login_user(ui, token, &session, None)?;
    if must_change {
        // login_user has just set the new PIN.
        let _ = session.logout();
        return Ok(());
    }
    let new = ask_new_pin(ui, token, Some(&old))?;
    p.step(Step::SetPin)?;
    let result = session
        .set_pin(&old, &new)
        .map_err(|e| ckr::convert(e, "C_SetPIN"));
    let _ = session.logout();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(r: Result<()>) -> String {
        match r {
            Err(Error::PinPolicy { rule, .. }) => rule,
            Ok(()) => "ok".into(),
            Err(e) => format!("{e}"),
        }
    }

    #[test]
    fn the_policy() {
        let r = (6, 16);
        assert_eq!(rule(check_new_pin("a8Kq2z", None, r, None)), "ok");
        assert_eq!(rule(check_new_pin("13572468", None, r, None)), "ok");
        assert_eq!(rule(check_new_pin("12345", None, r, None)), "too_short");
        assert_eq!(
            rule(check_new_pin(&"1".repeat(17), None, r, None)),
            "too_long"
        );
        assert_eq!(rule(check_new_pin("888888", None, r, None)), "all_same");
        assert_eq!(rule(check_new_pin("123456", None, r, None)), "sequence");
        assert_eq!(rule(check_new_pin("987654", None, r, None)), "sequence");
        assert_eq!(rule(check_new_pin("abcdefg", None, r, None)), "sequence");
        assert_eq!(
            rule(check_new_pin("12345678x", None, r, Some("12345678x"))),
            "default_pin"
        );
        assert_eq!(
            rule(check_new_pin("13572468", Some("13572468"), r, None)),
            "same_as_old"
        );
        assert_eq!(
            rule(check_new_pin("1357 2468", None, r, None)),
            "not_printable"
        );
        assert_eq!(
            rule(check_new_pin("密码密码密码", None, r, None)),
            "not_printable"
        );
        // The token's limits win when stricter.
        assert_eq!(length_range(8, 12), (8, 12));
        assert_eq!(length_range(4, 0), (6, 16));
        assert_eq!(length_range(4, 64), (6, 16));
        assert_eq!(
            rule(check_new_pin("1357246", None, (8, 12), None)),
            "too_short"
        );
    }
}
