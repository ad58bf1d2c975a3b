//! A token's persistent state and its PIN rules. Private key material and PIN
//! verifiers are never stored in clear: a random key-encryption key (KEK) is kept
//! wrapped under the SO PIN and under the user PIN (PBKDF2-HMAC-SHA256 + AES-256-GCM),
//! and private keys are sealed under the KEK.

use std::collections::BTreeMap;

use cryptoki_sys::*;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::SlotConfig;
use crate::crypto;
use crate::object::{Hex, Object};

/// PBKDF2 iterations for PIN keys.
pub const PBKDF2_ITERATIONS: u32 = 10_000;
const KEK_AAD: &[u8] = b"certkey-softkey kek v1";

/// A KEK, wrapped under one PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    /// PBKDF2 salt.
    pub salt: Hex,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// AES-256-GCM(derived key, KEK).
    pub wrapped_kek: Hex,
}

impl PinRecord {
    /// Wraps `kek` under `pin`.
    pub fn wrap(pin: &[u8], kek: &[u8; 32]) -> Result<Self, CK_RV> {
        let salt = crypto::random_bytes(16).map_err(|_| CKR_FUNCTION_FAILED)?;
        let key = crypto::derive_pin_key(pin, &salt, PBKDF2_ITERATIONS);
        let wrapped = crypto::aead_seal(&key, kek, KEK_AAD).map_err(|_| CKR_FUNCTION_FAILED)?;
        Ok(PinRecord {
            salt: Hex(salt),
            iterations: PBKDF2_ITERATIONS,
            wrapped_kek: Hex(wrapped),
        })
    }

    /// The KEK, when `pin` is right.
    pub fn unwrap(&self, pin: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
        let key = crypto::derive_pin_key(pin, &self.salt.0, self.iterations);
        let plain = crypto::aead_open(&key, &self.wrapped_kek.0, KEK_AAD).ok()?;
        let arr: [u8; 32] = plain.as_slice().try_into().ok()?;
        Some(Zeroizing::new(arr))
    }
}

/// Who logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The holder (CKU_USER).
    User,
    /// The administrator (CKU_SO).
    So,
}

/// What a token file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenState {
    /// CKF_TOKEN_INITIALIZED.
    pub initialized: bool,
    /// Label set by C_InitToken.
    pub label: String,
    /// KEK under the SO PIN.
    pub so: Option<PinRecord>,
    /// KEK under the user PIN (None until C_InitPIN).
    pub user: Option<PinRecord>,
    /// Wrong SO PINs left before lock.
    pub so_tries_left: u32,
    /// Wrong user PINs left before lock.
    pub user_tries_left: u32,
    /// A wrong user PIN since the last right one.
    pub user_failed: bool,
    /// A wrong SO PIN since the last right one.
    pub so_failed: bool,
    /// CKF_USER_PIN_TO_BE_CHANGED.
    pub user_to_be_changed: bool,
    /// CKF_SO_PIN_TO_BE_CHANGED.
    pub so_to_be_changed: bool,
    /// Next object uid.
    pub next_uid: u32,
    /// Random identity of this initialisation; changes with every C_InitToken.
    #[serde(default)]
    pub token_id: u64,
    /// Token objects by uid.
    pub objects: BTreeMap<u32, Object>,
}

/// The 32-byte blank-padded form of a PKCS#11 label/field.
pub fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let mut n = 0;
    // Cut on a character boundary so the field stays valid UTF-8.
    for c in s.chars() {
        let mut buf = [0u8; 4];
        let b = c.encode_utf8(&mut buf).as_bytes();
        if n + b.len() > N {
            break;
        }
        out[n..n + b.len()].copy_from_slice(b);
        n += b.len();
    }
    out
}

impl TokenState {
    /// CK_TOKEN_INFO.flags.
    pub fn flags(&self, cfg: &SlotConfig) -> CK_FLAGS {
        let mut f = CKF_RNG | CKF_LOGIN_REQUIRED;
        if self.initialized {
            f |= CKF_TOKEN_INITIALIZED;
        }
        if self.user.is_some() {
            f |= CKF_USER_PIN_INITIALIZED;
            f |= pin_flags(
                self.user_tries_left,
                cfg.user_retries,
                self.user_failed,
                self.user_to_be_changed,
                [
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                    CKF_USER_PIN_TO_BE_CHANGED,
                ],
            );
        }
        if self.so.is_some() {
            f |= pin_flags(
                self.so_tries_left,
                cfg.so_retries,
                self.so_failed,
                self.so_to_be_changed,
                [
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                    CKF_SO_PIN_TO_BE_CHANGED,
                ],
            );
        }
        f
    }

    /// Memory taken by token objects.
    pub fn used_memory(&self) -> u64 {
        self.objects.values().map(Object::size).sum()
    }

    /// C_InitToken: on an initialised token the SO PIN must be right; then every
    /// object is destroyed, a new KEK is made, the SO PIN set and the user PIN cleared.
    ///
    /// On an initialised token the PIN is checked exactly as C_Login of the SO checks
    /// it: a wrong one (whatever its length) is CKR_PIN_INCORRECT and costs a try, so
    /// C_InitToken is no way round the SO PIN's lockout. Only a blank token, which has
    /// no SO PIN yet, answers a bad length with CKR_PIN_LEN_RANGE.
    pub fn init_token(
        &mut self,
        cfg: &SlotConfig,
        so_pin: &[u8],
        label: &str,
    ) -> Result<(), CK_RV> {
        if self.initialized {
            self.verify(cfg, Who::So, so_pin)?;
        } else {
            check_len(cfg, so_pin)?;
        }
        let kek = new_kek()?;
        *self = TokenState {
            initialized: true,
            label: label.trim_end().to_string(),
            so: Some(PinRecord::wrap(so_pin, &kek)?),
            user: None,
            so_tries_left: cfg.so_retries,
            user_tries_left: cfg.user_retries,
            next_uid: 1,
            token_id: new_token_id()?,
            ..TokenState::default()
        };
        Ok(())
    }

    /// Checks a PIN, counting tries: CKR_PIN_LOCKED at zero tries (even when right),
    /// CKR_PIN_INCORRECT otherwise. A right PIN resets the counter. Returns the KEK.
    pub fn verify(
        &mut self,
        cfg: &SlotConfig,
        who: Who,
        pin: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, CK_RV> {
        let (record, left, failed, max) = match who {
            Who::User => (
                &self.user,
                &mut self.user_tries_left,
                &mut self.user_failed,
                cfg.user_retries,
            ),
            Who::So => (
                &self.so,
                &mut self.so_tries_left,
                &mut self.so_failed,
                cfg.so_retries,
            ),
        };
        let Some(record) = record else {
            return Err(match who {
                Who::User => CKR_USER_PIN_NOT_INITIALIZED,
                Who::So => CKR_TOKEN_NOT_RECOGNIZED,
            });
        };
        if *left == 0 {
            return Err(CKR_PIN_LOCKED);
        }
        let len_ok = (cfg.min_pin_len..=cfg.max_pin_len).contains(&(pin.len() as u64));
        match record.unwrap(pin).filter(|_| len_ok) {
            Some(kek) => {
                *left = max;
                *failed = false;
                Ok(kek)
            }
            None => {
                *left -= 1;
                *failed = true;
                Err(if *left == 0 {
                    CKR_PIN_LOCKED
                } else {
                    CKR_PIN_INCORRECT
                })
            }
        }
    }

    /// Sets a PIN (the KEK is known: the caller verified the old PIN or is the SO).
    pub fn set_pin(
        &mut self,
        cfg: &SlotConfig,
        who: Who,
        kek: &[u8; 32],
        new_pin: &[u8],
        to_be_changed: bool,
    ) -> Result<(), CK_RV> {
        check_len(cfg, new_pin)?;
        let rec = PinRecord::wrap(new_pin, kek)?;
        match who {
            Who::User => {
                self.user = Some(rec);
                self.user_tries_left = cfg.user_retries;
                self.user_failed = false;
                self.user_to_be_changed = to_be_changed;
            }
            Who::So => {
                self.so = Some(rec);
                self.so_tries_left = cfg.so_retries;
                self.so_failed = false;
                self.so_to_be_changed = to_be_changed;
            }
        }
        Ok(())
    }
}

fn pin_flags(left: u32, max: u32, failed: bool, to_change: bool, bits: [CK_FLAGS; 4]) -> CK_FLAGS {
    let [low, final_try, locked, change] = bits;
    let mut f = 0;
    if left == 0 {
        f |= locked;
    } else if left == 1 && max > 1 {
        f |= final_try | low;
    } else if failed || left < max {
        f |= low;
    }
    if to_change {
        f |= change;
    }
    f
}

fn check_len(cfg: &SlotConfig, pin: &[u8]) -> Result<(), CK_RV> {
    if (cfg.min_pin_len..=cfg.max_pin_len).contains(&(pin.len() as u64)) {
        Ok(())
    } else {
        Err(CKR_PIN_LEN_RANGE)
    }
}

fn new_token_id() -> Result<u64, CK_RV> {
    let b = crypto::random_bytes(8).map_err(|_| CKR_FUNCTION_FAILED)?;
    let arr: [u8; 8] = b.as_slice().try_into().map_err(|_| CKR_FUNCTION_FAILED)?;
    Ok(u64::from_le_bytes(arr))
}

fn new_kek() -> Result<Zeroizing<[u8; 32]>, CK_RV> {
    let bytes = Zeroizing::new(crypto::random_bytes(32).map_err(|_| CKR_FUNCTION_FAILED)?);
    let mut kek = Zeroizing::new([0u8; 32]);
    kek.copy_from_slice(&bytes);
    Ok(kek)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SlotConfig {
        let dir = tempfile::tempdir().unwrap();
        crate::config::load(dir.path()).unwrap().remove(0)
    }

    fn initialised() -> (SlotConfig, TokenState) {
        let c = cfg();
        let mut t = TokenState::default();
        t.init_token(&c, b"87654321", "key").unwrap();
        let kek = t.verify(&c, Who::So, b"87654321").unwrap();
        t.set_pin(&c, Who::User, &kek, b"12345678", false).unwrap();
        (c, t)
    }

    #[test]
    fn six_wrong_user_pins_lock_and_the_right_one_is_refused_then() {
        let (c, mut t) = initialised();
        for i in 1..=5 {
            assert_eq!(
                t.verify(&c, Who::User, b"00000000").unwrap_err(),
                CKR_PIN_INCORRECT,
                "try {i}"
            );
            let f = t.flags(&c);
            assert!(f & CKF_USER_PIN_COUNT_LOW != 0);
            assert_eq!(
                f & CKF_USER_PIN_FINAL_TRY != 0,
                i == 5,
                "final try after {i}"
            );
        }
        assert_eq!(
            t.verify(&c, Who::User, b"00000000").unwrap_err(),
            CKR_PIN_LOCKED
        );
        assert!(t.flags(&c) & CKF_USER_PIN_LOCKED != 0);
        assert_eq!(
            t.verify(&c, Who::User, b"12345678").unwrap_err(),
            CKR_PIN_LOCKED
        );
    }

    #[test]
    fn a_right_pin_resets_the_counter_and_so_can_reset_a_locked_user_pin() {
        let (c, mut t) = initialised();
        t.verify(&c, Who::User, b"00000000").unwrap_err();
        t.verify(&c, Who::User, b"12345678").unwrap();
        assert_eq!(t.user_tries_left, 6);
        assert_eq!(t.flags(&c) & CKF_USER_PIN_COUNT_LOW, 0);
        for _ in 0..6 {
            let _ = t.verify(&c, Who::User, b"00000000");
        }
        let kek = t.verify(&c, Who::So, b"87654321").unwrap();
        t.set_pin(&c, Who::User, &kek, b"24681357", true).unwrap();
        let f = t.flags(&c);
        assert_eq!(f & CKF_USER_PIN_LOCKED, 0);
        assert!(f & CKF_USER_PIN_TO_BE_CHANGED != 0);
        // The KEK is the same: keys sealed before the unlock stay usable.
        assert_eq!(*t.verify(&c, Who::User, b"24681357").unwrap(), *kek);
    }

    #[test]
    fn reinitialising_needs_the_so_pin_and_clears_everything() {
        let (c, mut t) = initialised();
        t.objects.insert(1, Object::default());
        assert_eq!(
            t.init_token(&c, b"11111111", "x").unwrap_err(),
            CKR_PIN_INCORRECT
        );
        t.init_token(&c, b"87654321", "new label").unwrap();
        assert!(t.objects.is_empty());
        assert!(t.user.is_none());
        assert_eq!(t.label, "new label");
        // A PIN of a length no PIN can have is a wrong SO PIN on an initialised
        // token, and counts as one.
        let before = t.so_tries_left;
        assert_eq!(
            t.init_token(&c, b"123", "x").unwrap_err(),
            CKR_PIN_INCORRECT
        );
        assert_eq!(t.so_tries_left, before - 1);
        // On a blank token there is no SO PIN to check: the length is.
        assert_eq!(
            TokenState::default()
                .init_token(&c, b"123", "x")
                .unwrap_err(),
            CKR_PIN_LEN_RANGE
        );
    }

    #[test]
    fn labels_are_padded_without_splitting_characters() {
        assert_eq!(&padded::<8>("ab"), b"ab      ");
        let p = padded::<4>("张三");
        assert_eq!(&p[..3], "张".as_bytes());
        assert_eq!(p[3], b' ');
    }
}
