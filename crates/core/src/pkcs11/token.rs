//! CK_SLOT_INFO and CK_TOKEN_INFO as plain, serialisable values with every flag decoded.

use cryptoki::slot::{Limit, SlotInfo, TokenInfo};
use serde::{Deserialize, Serialize};

use super::module::version;

/// User PIN state and length range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PinState {
    /// ulMinPinLen.
    pub min_len: usize,
    /// ulMaxPinLen.
    pub max_len: usize,
    /// CKF_USER_PIN_INITIALIZED.
    pub initialized: bool,
    /// CKF_USER_PIN_COUNT_LOW: at least one wrong PIN since the last success.
    pub count_low: bool,
    /// CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the key.
    pub final_try: bool,
    /// CKF_USER_PIN_LOCKED.
    pub locked: bool,
    /// CKF_USER_PIN_TO_BE_CHANGED.
    pub to_be_changed: bool,
}

/// SO (administrator) PIN state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SoPinState {
    /// CKF_SO_PIN_COUNT_LOW.
    pub count_low: bool,
    /// CKF_SO_PIN_FINAL_TRY.
    pub final_try: bool,
    /// CKF_SO_PIN_LOCKED.
    pub locked: bool,
    /// CKF_SO_PIN_TO_BE_CHANGED.
    pub to_be_changed: bool,
}

/// Token memory in bytes; `None` where the token does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Memory {
    /// ulTotalPublicMemory.
    pub total_public: Option<u64>,
    /// ulFreePublicMemory.
    pub free_public: Option<u64>,
    /// ulTotalPrivateMemory.
    pub total_private: Option<u64>,
    /// ulFreePrivateMemory.
    pub free_private: Option<u64>,
}

/// Session counts; `None` where the token does not say or has no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Sessions {
    /// ulSessionCount.
    pub count: Option<u64>,
    /// ulMaxSessionCount (`None`: unknown or unlimited).
    pub max: Option<u64>,
    /// ulRwSessionCount.
    pub rw_count: Option<u64>,
    /// ulMaxRwSessionCount.
    pub rw_max: Option<u64>,
}

/// CK_TOKEN_INFO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TokenDetails {
    /// label, trimmed.
    pub label: String,
    /// manufacturerID, trimmed.
    pub manufacturer: String,
    /// model, trimmed.
    pub model: String,
    /// serialNumber, trimmed.
    pub serial: String,
    /// hardwareVersion.
    pub hardware_version: String,
    /// firmwareVersion.
    pub firmware_version: String,
    /// Every CKF_ flag that is set, by name.
    pub flags: Vec<String>,
    /// User PIN.
    pub pin: PinState,
    /// SO PIN.
    pub so_pin: SoPinState,
    /// Memory.
    pub memory: Memory,
    /// Sessions.
    pub sessions: Sessions,
    /// utcTime, for tokens with a clock.
    pub utc_time: Option<String>,
}

fn limit(l: Limit) -> Option<u64> {
    match l {
        Limit::Max(n) => Some(n),
        Limit::Unavailable | Limit::Infinite => None,
    }
}

impl From<&TokenInfo> for TokenDetails {
    fn from(t: &TokenInfo) -> Self {
        let named: [(&'static str, bool); 19] = [
            ("CKF_RNG", t.rng()),
            ("CKF_WRITE_PROTECTED", t.write_protected()),
            ("CKF_LOGIN_REQUIRED", t.login_required()),
            ("CKF_USER_PIN_INITIALIZED", t.user_pin_initialized()),
            ("CKF_RESTORE_KEY_NOT_NEEDED", t.restore_key_not_needed()),
            ("CKF_CLOCK_ON_TOKEN", t.clock_on_token()),
            (
                "CKF_PROTECTED_AUTHENTICATION_PATH",
                t.protected_authentication_path(),
            ),
            ("CKF_DUAL_CRYPTO_OPERATIONS", t.dual_crypto_operations()),
            ("CKF_TOKEN_INITIALIZED", t.token_initialized()),
            ("CKF_SECONDARY_AUTHENTICATION", t.secondary_authentication()),
            ("CKF_USER_PIN_COUNT_LOW", t.user_pin_count_low()),
            ("CKF_USER_PIN_FINAL_TRY", t.user_pin_final_try()),
            ("CKF_USER_PIN_LOCKED", t.user_pin_locked()),
            ("CKF_USER_PIN_TO_BE_CHANGED", t.user_pin_to_be_changed()),
            ("CKF_SO_PIN_COUNT_LOW", t.so_pin_count_low()),
            ("CKF_SO_PIN_FINAL_TRY", t.so_pin_final_try()),
            ("CKF_SO_PIN_LOCKED", t.so_pin_locked()),
            ("CKF_SO_PIN_TO_BE_CHANGED", t.so_pin_to_be_changed()),
            ("CKF_ERROR_STATE", t.error_state()),
        ];
        TokenDetails {
            label: t.label().trim().to_string(),
            manufacturer: t.manufacturer_id().trim().to_string(),
            model: t.model().trim().to_string(),
            serial: t.serial_number().trim().to_string(),
            hardware_version: version(t.hardware_version()),
            firmware_version: version(t.firmware_version()),
            flags: named
                .iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| n.to_string())
                .collect(),
            pin: PinState {
                min_len: t.min_pin_length(),
                max_len: t.max_pin_length(),
                initialized: t.user_pin_initialized(),
                count_low: t.user_pin_count_low(),
                final_try: t.user_pin_final_try(),
                locked: t.user_pin_locked(),
                to_be_changed: t.user_pin_to_be_changed(),
            },
            so_pin: SoPinState {
                count_low: t.so_pin_count_low(),
                final_try: t.so_pin_final_try(),
                locked: t.so_pin_locked(),
                to_be_changed: t.so_pin_to_be_changed(),
            },
            memory: Memory {
                total_public: t.total_public_memory().map(|v| v as u64),
                free_public: t.free_public_memory().map(|v| v as u64),
                total_private: t.total_private_memory().map(|v| v as u64),
                free_private: t.free_private_memory().map(|v| v as u64),
            },
            sessions: Sessions {
                count: t.session_count(),
                max: limit(t.max_session_count()),
                rw_count: t.rw_session_count(),
                rw_max: limit(t.max_rw_session_count()),
            },
            utc_time: t.utc_time().map(|u| {
                format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    u.year, u.month, u.day, u.hour, u.minute, u.second
                )
            }),
        }
    }
}

/// CK_SLOT_INFO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SlotDetails {
    /// slotDescription, trimmed.
    pub description: String,
    /// manufacturerID, trimmed.
    pub manufacturer: String,
    /// CKF_TOKEN_PRESENT.
    pub token_present: bool,
    /// CKF_REMOVABLE_DEVICE.
    pub removable: bool,
    /// CKF_HW_SLOT.
    pub hardware: bool,
    /// hardwareVersion.
    pub hardware_version: String,
    /// firmwareVersion.
    pub firmware_version: String,
}

impl From<&SlotInfo> for SlotDetails {
    fn from(s: &SlotInfo) -> Self {
        SlotDetails {
            description: s.slot_description().trim().to_string(),
            manufacturer: s.manufacturer_id().trim().to_string(),
            token_present: s.token_present(),
            removable: s.removable_device(),
            hardware: s.hardware_slot(),
            hardware_version: version(s.hardware_version()),
            firmware_version: version(s.firmware_version()),
        }
    }
}
