//! The error envelope: `{"error": {"code": "...", "message": "...", ...}}`.

use serde::{Deserialize, Serialize};

/// The body of every non-2xx response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ApiError,
}

/// A protocol error: a stable machine code, an English message for logs, and the extra
/// fields a client needs to explain the situation (attempts left, retry delay, days left).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, utoipa::ToSchema)]
pub struct ApiError {
    /// Stable code, e.g. `activation_code_invalid`, `seal_exists`.
    pub code: String,
    /// Human-readable English text (clients translate by `code`).
    pub message: String,
    /// Activation attempts left before the order locks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// Seconds to wait before retrying (rate limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// Days the certificate has left (renewal refusals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<i64>,
    /// With `renewal_term_mismatch`: the term (years) the renewal was paid for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_years: Option<u32>,
    /// With `seal_exists`, to a request signed by the certificate's own key: the seal
    /// the certificate already has (DER SESeal), so that a holder whose earlier run
    /// was cut short can still put it on the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<crate::Base64>,
}
