//! Typed errors with stable codes. Front ends translate by [`Error::code`]; the
//! fields are the parameters of the message.

use serde::{Deserialize, Serialize};

/// Result alias for certkey-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure certkey-core reports. The serialised form is
/// `{"code": "...", <fields>}`; codes never change meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Error {
    /// A module path does not name an existing file.
    #[error("PKCS#11 module {path} does not exist")]
    ModuleNotFound {
        /// The path as given.
        path: String,
    },
    /// The dynamic loader refused the module (wrong architecture, missing symbol...).
    #[error("cannot load PKCS#11 module {path}: {reason}")]
    ModuleLoadFailed {
        /// The path as given.
        path: String,
        /// The loader's own message.
        reason: String,
    },
    /// A PKCS#11 function returned an error.
    #[error("{function} returned {ckr_name} (0x{ckr:08X})")]
    Pkcs11 {
        /// The C function, e.g. `C_GetTokenInfo`.
        function: String,
        /// The CK_RV value.
        ckr: u64,
        /// The CK_RV name, e.g. `CKR_DEVICE_REMOVED`.
        ckr_name: String,
    },
    /// The module broke the PKCS#11 contract in a way cryptoki detected.
    #[error("PKCS#11 module misbehaved: {reason}")]
    ModuleMisbehaved {
        /// What went wrong.
        reason: String,
    },
    /// A module did not answer within the time allowed; its keys are not shown.
    #[error("PKCS#11 module {module} has not answered for {seconds} s")]
    ModuleNotResponding {
        /// The module path.
        module: String,
        /// How long it has been busy, whole seconds.
        seconds: u64,
    },
    /// The process watching a module ended abnormally (the module crashed it); its
    /// keys are not shown until the watch, restarted after a pause, reads them again.
    #[error("PKCS#11 module {module} crashed the process watching it")]
    ModuleCrashed {
        /// The module path.
        module: String,
        /// The signal that ended the process (11: segmentation fault, 6: abort).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        signal: Option<i32>,
        /// Its exit status, when it exited on its own.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        status: Option<i32>,
        /// Seconds until the next try.
        retry_s: u64,
    },
    /// A module that takes one caller at a time stayed busy (another operation on
    /// one of its keys, or a long read).
    #[error("PKCS#11 module {module} is busy")]
    ModuleBusy {
        /// The module path.
        module: String,
    },
    /// A certificate on the token or in a file could not be parsed.
    #[error("certificate does not parse: {reason}")]
    CertificateInvalid {
        /// The parser's message.
        reason: String,
    },
    /// No token with that serial is present on any loaded module.
    #[error("no token with serial {serial}")]
    TokenNotFound {
        /// The serial asked for.
        serial: String,
    },
    /// The serial matches tokens on several modules.
    #[error("serial {serial} is ambiguous: present on {modules:?}")]
    TokenAmbiguous {
        /// The serial asked for.
        serial: String,
        /// The modules holding a token with that serial.
        modules: Vec<String>,
    },
    /// Several keys fit the operation and none was named.
    #[error("several keys fit: {keys:?}; name one")]
    SeveralTokens {
        /// How to name each (serial, or `slot:ID` when it has none), with its label
        /// and module.
        keys: Vec<String>,
    },
    /// No CA service is known for a certificate's issuer (or, with no issuer, for an
    /// activation): the CA directory has no entry and no service was named.
    #[error("no CA service is configured for {issuer:?}")]
    CaUnknown {
        /// The certificate's issuer (RFC 4514); None for an activation.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        issuer: Option<String>,
    },
    /// No certificate with that CKA_ID on the token.
    #[error("no certificate with id {id} on token {serial}")]
    CertificateNotFound {
        /// Token serial.
        serial: String,
        /// CKA_ID, hex.
        id: String,
    },
    /// The user PIN is locked: only an unlock (SO PIN) helps.
    #[error("the user PIN of token {serial} is locked")]
    PinLocked {
        /// Token serial.
        serial: String,
    },
    /// The token is at its final PIN try and the user did not allow using it.
    #[error("token {serial} is at its final PIN try; not trying without consent")]
    PinFinalTry {
        /// Token serial.
        serial: String,
    },
    /// The PIN was wrong; the token's state after the failure.
    #[error("wrong PIN for token {serial}")]
    PinIncorrect {
        /// Token serial.
        serial: String,
        /// CKF_USER_PIN_COUNT_LOW after the failure.
        count_low: bool,
        /// CKF_USER_PIN_FINAL_TRY after the failure.
        final_try: bool,
        /// CKF_USER_PIN_LOCKED after the failure.
        locked: bool,
    },
    /// The PIN's length is outside what the token accepts.
    #[error("PIN length must be {min} to {max}")]
    PinLength {
        /// Shortest accepted.
        min: usize,
        /// Longest accepted.
        max: usize,
    },
    /// An argument from the user is malformed.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// Which argument.
        name: String,
        /// Why.
        reason: String,
    },
    /// A configuration or catalog file is malformed.
    #[error("invalid configuration file {path}: {reason}")]
    ConfigInvalid {
        /// The file.
        path: String,
        /// The parser's message.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The token does not offer a mechanism the operation needs.
    #[error("token {serial} does not support {mechanism}")]
    MechanismUnsupported {
        /// Token serial.
        serial: String,
        /// What is missing, e.g. `SM2 key generation` or a mechanism name.
        mechanism: String,
    },
    /// A signature made by the token does not verify with its public key.
    #[error("the token's signature does not verify: {reason}")]
    TokenSignatureInvalid {
        /// What was wrong.
        reason: String,
    },
    /// A new PIN breaks the PIN policy (`rule`: too_short, too_long, all_same,
    /// sequence, default_pin, same_as_old, not_printable, mismatch).
    #[error("the new PIN is not acceptable: {rule}")]
    PinPolicy {
        /// Which rule.
        rule: String,
        /// Shortest accepted.
        min: usize,
        /// Longest accepted.
        max: usize,
    },
    /// The CA service answered with an error (its stable code and fields).
    #[error("the CA service refused: {message} ({service_code})")]
    Service {
        /// HTTP status.
        status: u16,
        /// The service's error code, e.g. `activation_code_invalid`.
        service_code: String,
        /// The service's message (English).
        message: String,
        /// Activation code tries left.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        attempts_left: Option<u32>,
        /// Seconds to wait before retrying.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        retry_after_s: Option<u64>,
        /// Days left of the certificate.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        days_left: Option<i64>,
        /// With `renewal_term_mismatch`: the term (years, 1 to 5) the renewal was paid
        /// for. (A byte: the error stays as small as it was.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        paid_years: Option<u8>,
        /// With `seal_exists`: the seal the certificate already has (DER).
        #[serde(skip)]
        existing_seal: Option<Vec<u8>>,
    },
    /// The CA service could not be reached (connection, TLS, timeout).
    #[error("cannot reach the CA service at {url}: {reason}")]
    Network {
        /// The service URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The CA service answered something that is not protocol v1.
    #[error("unexpected answer from the CA service: {reason}")]
    ServiceResponse {
        /// What was wrong.
        reason: String,
    },
    /// The token is not in a state where the operation applies (e.g. renewing a
    /// certificate that is not in its renewal window, unlocking a PIN that is not
    /// locked); `reason` is a stable sub-code.
    #[error("not possible now: {reason}")]
    NotApplicable {
        /// Stable sub-code, e.g. `renewal_not_open`, `pin_not_locked`.
        reason: String,
        /// Days left of the certificate, when it matters.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "ts", ts(optional))]
        days_left: Option<i64>,
    },
    /// A secret could not be taken from the environment (`VAR` / `VAR_FILE`).
    #[error("{detail}")]
    SecretEnv {
        /// What is wrong, a stable code of [`certkey_protocol::SecretEnvError::code`]:
        /// `secret_env_conflict`, `secret_file_unreadable`, `secret_file_empty`,
        /// `secret_env_not_unicode`.
        problem: String,
        /// The variable (without `_FILE`).
        var: String,
        /// The full message (file name and OS error included; never the secret).
        detail: String,
    },
    /// The user cancelled or declined.
    #[error("cancelled")]
    Cancelled,
}

impl From<certkey_protocol::SecretEnvError> for Error {
    fn from(e: certkey_protocol::SecretEnvError) -> Self {
        Error::SecretEnv {
            problem: e.code().to_string(),
            var: e.var().to_string(),
            detail: e.to_string(),
        }
    }
}

impl Error {
    /// The stable machine code, e.g. `module_not_found`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ModuleNotFound { .. } => "module_not_found",
            Error::ModuleLoadFailed { .. } => "module_load_failed",
            Error::Pkcs11 { .. } => "pkcs11",
            Error::ModuleMisbehaved { .. } => "module_misbehaved",
            Error::ModuleNotResponding { .. } => "module_not_responding",
            Error::ModuleBusy { .. } => "module_busy",
            Error::ModuleCrashed { .. } => "module_crashed",
            Error::CertificateInvalid { .. } => "certificate_invalid",
            Error::TokenNotFound { .. } => "token_not_found",
            Error::TokenAmbiguous { .. } => "token_ambiguous",
            Error::SeveralTokens { .. } => "several_tokens",
            Error::CaUnknown { .. } => "ca_unknown",
            Error::CertificateNotFound { .. } => "certificate_not_found",
            Error::PinLocked { .. } => "pin_locked",
            Error::PinFinalTry { .. } => "pin_final_try",
            Error::PinIncorrect { .. } => "pin_incorrect",
            Error::PinLength { .. } => "pin_length",
            Error::InvalidArgument { .. } => "invalid_argument",
            Error::ConfigInvalid { .. } => "config_invalid",
            Error::Io { .. } => "io",
            Error::MechanismUnsupported { .. } => "mechanism_unsupported",
            Error::TokenSignatureInvalid { .. } => "token_signature_invalid",
            Error::PinPolicy { .. } => "pin_policy",
            Error::Service { .. } => "service",
            Error::Network { .. } => "network",
            Error::ServiceResponse { .. } => "service_response",
            Error::NotApplicable { .. } => "not_applicable",
            Error::SecretEnv { .. } => "secret_env",
            Error::Cancelled => "cancelled",
        }
    }

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, e: &std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// An error together with the place it happened, so that a listing can report it
/// beside the parts that did work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Located {
    /// Module path, when the error belongs to a module.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub module: Option<String>,
    /// Slot id, when it belongs to a slot.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub slot: Option<u64>,
    /// Token serial, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub token: Option<String>,
    /// Object CKA_ID (hex) or handle description, when it belongs to an object.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub object: Option<String>,
    /// The error.
    #[serde(flatten)]
    pub error: Error,
}

impl Located {
    /// An error located at a module.
    pub fn module(module: &str, error: Error) -> Self {
        Located {
            module: Some(module.to_string()),
            slot: None,
            token: None,
            object: None,
            error,
        }
    }
}
