//! Request and response bodies of protocol v1, under `/api/v1`.
//!
//! Each type is named for its endpoint; see `shared/DESIGN.md` for the table.
//!
//! Protocol note: secrets the service hands to a client (the initial user PIN, SO
//! PINs) never travel in the clear. The client sends an ephemeral P-256 public key
//! (`client_key`, SEC1 uncompressed, base64) and each secret comes back as a
//! [`WrappedSecret`]: ECDH with a fresh service key, HKDF-SHA256, AES-256-GCM, bound to
//! a context string that names its purpose (such as `activation:` followed by the token
//! serial). The exact construction, which a CA must follow byte for byte, and a test
//! vector are in [`crate::wrap`]; [`crate::wrap::wrap`] and
//! [`crate::wrap::ClientKey::unwrap`] implement it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{AttachmentInfo, Base64, CertType};

/// Path prefix of every v1 endpoint.
pub const PREFIX: &str = "/api/v1";

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when the service can serve requests.
    pub status: String,
    /// Service version.
    #[serde(default)]
    pub version: String,
}

/// `GET /time`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ServerTime {
    /// The service's clock.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// One CA chain, issuing CA first, root last.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CaChain {
    /// Key algorithm of the hierarchy: `sm2` or `p256`.
    pub key_algorithm: KeyAlgorithm,
    /// DER certificates.
    pub certificates: Vec<Base64>,
}

/// `GET /cacerts`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CaCerts {
    /// Every hierarchy the service issues from.
    pub chains: Vec<CaChain>,
}

/// Key algorithm of a certificate the CA issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum KeyAlgorithm {
    /// SM2 with SM3withSM2 signatures.
    Sm2,
    /// NIST P-256 with ECDSA-SHA256.
    P256,
}

/// State of an enrollment order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum OrderState {
    /// Waiting for the activation code.
    AwaitingActivation,
    /// Code accepted; waiting for the CSR.
    AwaitingCsr,
    /// Certificate issued.
    Completed,
    /// Too many wrong codes; the CA must reissue a code.
    Locked,
    /// The code's 30 days have passed.
    Expired,
}

/// `POST /activation/lookup` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ActivationLookupRequest {
    /// The token's serial number (CK_TOKEN_INFO.serialNumber, trimmed).
    pub token_serial: String,
}

/// `POST /activation/lookup` response: the order, for the holder to confirm.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ActivationLookupResponse {
    /// Order identifier.
    pub order_id: String,
    /// Holder name, masked (e.g. `张*`).
    pub holder: String,
    /// Certificate type.
    pub cert_type: CertType,
    /// Validity in years.
    pub years: u32,
    /// Key algorithm the token must generate.
    pub key_algorithm: KeyAlgorithm,
    /// When the activation code stops working.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub code_expires_at: OffsetDateTime,
    /// Order state.
    pub state: OrderState,
}

/// `POST /activation` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ActivationRequest {
    /// The token's serial number.
    pub token_serial: String,
    /// The 6-digit activation code.
    #[schema(value_type = String)]
    pub activation_code: crate::Secret,
    /// Ephemeral P-256 public key, SEC1 uncompressed.
    pub client_key: Base64,
}

/// A secret wrapped for a client key: ECDH with an ephemeral service key, HKDF-SHA256,
/// AES-256-GCM. See [`crate::wrap`] for the construction.
#[derive(Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct WrappedSecret {
    /// The service's ephemeral P-256 public key, SEC1 uncompressed.
    pub ephemeral_key: Base64,
    /// 12-byte AES-GCM nonce.
    pub nonce: Base64,
    /// Ciphertext with its 16-byte tag.
    pub ciphertext: Base64,
}

impl std::fmt::Debug for WrappedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrappedSecret(..)")
    }
}

/// `POST /activation` response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ActivationResponse {
    /// Identifies the activation for the certificate step.
    pub activation_id: String,
    /// The initial user PIN, wrapped for `client_key`.
    pub initial_pin: WrappedSecret,
}

/// `POST /activation/{activation_id}/certificate` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CertificateRequest {
    /// PKCS#10 request made on the token.
    pub csr: Base64,
}

/// A certificate with its chain (issuing CA first).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct IssuedCertificate {
    /// The new certificate.
    pub certificate: Base64,
    /// Its chain, issuing CA first, root last.
    pub chain: Vec<Base64>,
}

/// `POST /renewal/challenge` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RenewalChallengeRequest {
    /// Serial of the certificate to renew, lowercase hex.
    pub certificate_serial: String,
}

/// `POST /renewal/challenge` response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RenewalChallenge {
    /// Random nonce to sign.
    pub nonce: Base64,
    /// When the nonce stops being accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// `POST /renewal` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RenewalRequest {
    /// Client-chosen idempotency key: a retry with the same id returns the same certificate.
    pub request_id: String,
    /// The current certificate.
    pub certificate: Base64,
    /// PKCS#10 request for the new key, made on the token.
    pub csr: Base64,
    /// The challenge nonce.
    pub nonce: Base64,
    /// DER signature by the current certificate's key (SM3withSM2 with the default
    /// user id, or ECDSA-SHA256) over [`renewal_signed_message`]: the domain label
    /// `"certkey-renewal-v1\0"`, then the current certificate's serial, the nonce and
    /// the CSR, each preceded by its length, so a signature made for another purpose,
    /// certificate, nonce or request never verifies here; with `years`, over
    /// [`renewal_term_signed_message`] instead (the term is signed too).
    pub signature: Base64,
    /// The term the holder chose, 1 to 5 years: the new certificate is valid until the
    /// old notAfter plus `years` × 365 days ([`crate::renewed_not_after`]). Without it
    /// (clients before terms existed) the term is the paid one when the CA requires
    /// payment, else the order's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

/// What the current key signs for `POST /renewal` (proof of possession):
/// `"certkey-renewal-v1\0"`, then the certificate serial (lowercase hex without leading
/// zero bytes, as ASCII), the nonce and the CSR (DER), each preceded by its length as a
/// 4-byte big-endian integer.
pub fn renewal_signed_message(certificate_serial: &str, nonce: &[u8], csr: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + certificate_serial.len() + nonce.len() + csr.len());
    m.extend_from_slice(b"certkey-renewal-v1\0");
    for part in [certificate_serial.as_bytes(), nonce, csr] {
        m.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

/// What the current key signs for `POST /renewal` with a chosen term:
/// `"certkey-renewal-v2\0"`, then the certificate serial (as in
/// [`renewal_signed_message`]), the term in years (decimal ASCII, e.g. `2`), the nonce
/// and the CSR, each preceded by its length as a 4-byte big-endian integer. The label
/// differs from v1's, so neither message can stand for the other.
pub fn renewal_term_signed_message(
    certificate_serial: &str,
    years: u32,
    nonce: &[u8],
    csr: &[u8],
) -> Vec<u8> {
    let years = years.to_string();
    let mut m = Vec::with_capacity(40 + certificate_serial.len() + nonce.len() + csr.len());
    m.extend_from_slice(b"certkey-renewal-v2\0");
    for part in [certificate_serial.as_bytes(), years.as_bytes(), nonce, csr] {
        m.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.extend_from_slice(part);
    }
    m
}

/// `GET /renewal/quote` query: the certificate, as in `POST /renewal/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenewalQuoteQuery {
    /// Serial of the certificate, lowercase hex.
    pub certificate_serial: String,
}

/// Whether a certificate can be renewed online now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum RenewalQuoteState {
    /// 0 < days_left <= 90: online renewal is open.
    Open,
    /// More than 90 days left: it opens at `opens_at`.
    NotYetOpen,
    /// Expired: renewal is offline business at the CA.
    Expired,
    /// Revoked: no renewal.
    Revoked,
    /// Already renewed: the new certificate is renewed in its own time.
    Renewed,
}

/// One term a holder may choose.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewalTerm {
    /// Years, 1 to 5.
    pub years: u32,
    /// The price, in the minor unit of the quote's currency (fen for CNY).
    pub price: u64,
    /// The new certificate's notAfter: the current one's plus `years` × 365 days.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub not_after: OffsetDateTime,
}

/// A text of the CA in both languages of the client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LocalizedText {
    /// Simplified Chinese.
    pub zh_cn: String,
    /// English.
    pub en: String,
}

/// `GET /renewal/quote` response: whether and on what terms the certificate can be
/// renewed online. Public information: no proof of possession is needed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RenewalQuote {
    /// Serial of the certificate, lowercase hex.
    pub certificate_serial: String,
    /// Its type, which sets the prices.
    pub cert_type: CertType,
    /// Its notAfter.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub not_after: OffsetDateTime,
    /// Days it has left (rounded up; `<= 0` once expired).
    pub days_left: i64,
    /// Whether online renewal is open now.
    pub state: RenewalQuoteState,
    /// With `not_yet_open`: when online renewal opens (notAfter minus 90 days).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ts", ts(type = "string", optional))]
    pub opens_at: Option<OffsetDateTime>,
    /// ISO 4217 code of the prices, e.g. `CNY`.
    pub currency: String,
    /// Every term the holder may choose, 1 to 5 years, with its price.
    pub terms: Vec<RenewalTerm>,
    /// The CA renews only what was paid for (through the CA, before renewing).
    pub payment_required: bool,
    /// The term (years) of the paid renewal on record, not used yet; a renewal must
    /// ask for exactly this term while payment is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub paid_years: Option<u32>,
    /// How to pay, when payment is required and none is on record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub payment_instructions: Option<LocalizedText>,
}

/// Handler (经办人) identity for an unlock request.
#[derive(Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Handler {
    /// Name.
    pub name: String,
    /// Identity document number.
    pub id_number: String,
    /// Phone number.
    pub phone: String,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data stays out of logs.
        f.write_str("Handler(..)")
    }
}

/// `POST /unlock` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct UnlockRequest {
    /// The token's serial number.
    pub token_serial: String,
    /// Serial of the certificate on the token, lowercase hex.
    pub certificate_serial: String,
    /// Who asks.
    pub handler: Handler,
    /// Ephemeral P-256 public key, SEC1 uncompressed.
    pub client_key: Base64,
}

/// State of an unlock ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnlockState {
    /// The SO PINs are available.
    Approved,
    /// Waiting for a CA operator.
    PendingReview,
    /// The CA operator asks for materials (`note` says which): attach them with
    /// `POST /unlock/{ticket}/attachments`, which puts the request back under review.
    NeedsMaterials,
    /// Refused by a CA operator (`note` may give the reason).
    Rejected,
    /// The client confirmed the rotation.
    Completed,
    /// Approved, but not collected in time: nothing is handed out; ask again.
    Expired,
}

/// `POST /unlock` response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct UnlockTicket {
    /// Ticket to poll.
    pub ticket: String,
    /// Current state.
    pub state: UnlockState,
}

/// `GET /unlock/{ticket}` response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct UnlockStatus {
    /// Current state.
    pub state: UnlockState,
    /// The current SO PIN, when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub so_pin: Option<WrappedSecret>,
    /// The SO PIN to rotate to, when approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_so_pin: Option<WrappedSecret>,
    /// The CA operator's text: with `needs_materials`, what to attach; with
    /// `rejected`, the reason (when one was given). The last one given stays while the
    /// request is back under review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the holder attached so far, oldest first.
    #[serde(default)]
    pub attachments: Vec<AttachmentInfo>,
}

impl UnlockStatus {
    /// A status with nothing but its state.
    pub fn of(state: UnlockState) -> Self {
        UnlockStatus {
            state,
            so_pin: None,
            new_so_pin: None,
            note: None,
            attachments: Vec::new(),
        }
    }
}

/// Outcome reported by `POST /unlock/{ticket}/confirm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnlockResult {
    /// The token now has the new SO PIN.
    Rotated,
    /// The rotation did not happen; the old SO PIN stays.
    Failed,
}

/// `POST /unlock/{ticket}/confirm` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct UnlockConfirm {
    /// What happened on the token.
    pub result: UnlockResult,
    /// DER signature by the private key of the certificate the unlock request named
    /// (SM3withSM2 with the default user id, or ECDSA-SHA256) over
    /// [`unlock_confirm_message`], made after logging in with the holder's new PIN:
    /// only the key itself can confirm (required while the ticket is approved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Base64>,
}

/// What the key signs to confirm an unlock: `"certkey-unlock-confirm-v1\0"`, then the
/// ticket, the token serial and the result (`rotated` or `failed`), each as a 4-byte
/// big-endian length and its UTF-8 bytes, so no two inputs give the same message.
pub fn unlock_confirm_message(ticket: &str, token_serial: &str, result: UnlockResult) -> Vec<u8> {
    let result = match result {
        UnlockResult::Rotated => "rotated",
        UnlockResult::Failed => "failed",
    };
    let mut m = Vec::with_capacity(64 + ticket.len() + token_serial.len());
    m.extend_from_slice(b"certkey-unlock-confirm-v1\0");
    for part in [ticket, token_serial, result] {
        m.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.extend_from_slice(part.as_bytes());
    }
    m
}

/// `POST /seal` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SealRequest {
    /// The holder's certificate.
    pub certificate: Base64,
    /// The seal image, PNG.
    pub image: Base64,
    /// Physical width in millimetres.
    pub width_mm: u32,
    /// Physical height in millimetres.
    pub height_mm: u32,
    /// Seal name (1-64 characters), written into the seal.
    pub name: String,
    /// DER signature by the certificate's key (SM3withSM2 with the default user id, or
    /// ECDSA-SHA256) over [`seal_signed_message`].
    pub signature: Base64,
}

/// What the holder signs for `POST /seal`: `"certkey-seal-v1\0"`, then width_mm,
/// height_mm, the name's UTF-8 length, the name, the image's length and the image
/// (lengths and sizes as 4-byte big-endian integers).
pub fn seal_signed_message(width_mm: u32, height_mm: u32, name: &str, image: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + name.len() + image.len());
    m.extend_from_slice(b"certkey-seal-v1\0");
    m.extend_from_slice(&width_mm.to_be_bytes());
    m.extend_from_slice(&height_mm.to_be_bytes());
    m.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_be_bytes());
    m.extend_from_slice(name.as_bytes());
    m.extend_from_slice(&u32::try_from(image.len()).unwrap_or(u32::MAX).to_be_bytes());
    m.extend_from_slice(image);
    m
}

/// `POST /seal` response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SealResponse {
    /// DER GB/T 38540 SESeal.
    pub seal: Base64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_the_public_contract() {
        let req = ActivationRequest {
            token_serial: "SK0001".into(),
            activation_code: "123456".into(),
            client_key: Base64(vec![4, 1]),
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["token_serial"], "SK0001");
        assert_eq!(v["activation_code"], "123456");
        assert_eq!(v["client_key"], "BAE=");

        let s: UnlockStatus = serde_json::from_str(r#"{"state":"pending_review"}"#).unwrap();
        assert_eq!(s.state, UnlockState::PendingReview);
        assert!(s.so_pin.is_none());
        // A service before materials existed sends neither note nor attachments.
        assert_eq!(s, UnlockStatus::of(UnlockState::PendingReview));
        let s: UnlockStatus = serde_json::from_str(
            r#"{"state":"needs_materials","note":"ID card, both sides","attachments":[]}"#,
        )
        .unwrap();
        assert_eq!(s.state, UnlockState::NeedsMaterials);
        assert_eq!(s.note.as_deref(), Some("ID card, both sides"));
        let v = serde_json::to_value(UnlockStatus::of(UnlockState::Rejected)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"state": "rejected", "attachments": []})
        );
    }

    #[test]
    fn the_renewal_messages_with_and_without_a_term_never_coincide() {
        let v1 = renewal_signed_message("0a", b"nonce", b"csr");
        let v2 = renewal_term_signed_message("0a", 2, b"nonce", b"csr");
        assert!(v2.starts_with(b"certkey-renewal-v2\0"));
        assert_ne!(v1, v2);
        assert_ne!(v2, renewal_term_signed_message("0a", 3, b"nonce", b"csr"));
        // A digit moved from the term to the serial changes the message.
        assert_ne!(
            renewal_term_signed_message("0a1", 2, b"nonce", b"csr"),
            renewal_term_signed_message("0a", 12, b"nonce", b"csr")
        );
        let r: RenewalRequest = serde_json::from_str(
            r#"{"request_id":"r","certificate":"","csr":"","nonce":"","signature":""}"#,
        )
        .unwrap();
        assert_eq!(r.years, None, "a request of an older client has no term");
        assert!(!serde_json::to_string(&r).unwrap().contains("years"));
    }

    #[test]
    fn the_unlock_confirm_message_is_unambiguous() {
        let m = unlock_confirm_message("t1", "SK01", UnlockResult::Rotated);
        assert!(m.starts_with(b"certkey-unlock-confirm-v1\0"));
        // Moving a character from one field to the next changes the message.
        assert_ne!(
            m,
            unlock_confirm_message("t1S", "K01", UnlockResult::Rotated)
        );
        assert_ne!(
            m,
            unlock_confirm_message("t1", "SK01", UnlockResult::Failed)
        );
        assert!(m.ends_with(b"\0\0\0\x07rotated"));
    }

    #[test]
    fn secrets_and_personal_data_stay_out_of_debug_output() {
        let h = Handler {
            name: "张三".into(),
            id_number: "110101199001011234".into(),
            phone: "13800000000".into(),
        };
        assert_eq!(format!("{h:?}"), "Handler(..)");
        let req = ActivationRequest {
            token_serial: "SK0001".into(),
            activation_code: "918273".into(),
            client_key: Base64(vec![4, 1]),
        };
        let shown = format!("{req:?}");
        assert!(!shown.contains("918273"), "{shown}");
        assert!(shown.contains("SK0001"), "{shown}");
    }
}
