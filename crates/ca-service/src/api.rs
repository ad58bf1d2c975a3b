//! The HTTP API, protocol v1 under `/api/v1`. Every error is
//! `{"error": {"code", "message", ...}}` with an honest status; bad input is a 4xx.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use certkey_protocol::v1::{CaCerts, CaChain, Health, KeyAlgorithm, ServerTime, PREFIX};
use certkey_protocol::{ApiError, Base64, ErrorBody};

use crate::ca::CaMaterial;
use crate::db::Db;
use crate::secrets::DataKey;
use crate::x509::KeyAlg;

/// Largest request body accepted (a seal image is well under this); attachments have
/// their own ([`crate::attachments::UPLOAD_BODY_LIMIT`]).
pub const BODY_LIMIT: usize = 1 << 20;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// Storage.
    pub db: Db,
    /// Keys and certificates.
    pub ca: Arc<CaMaterial>,
    /// Key for database secrets and activation codes.
    pub data_key: Arc<DataKey>,
    /// Settings from the configuration.
    pub settings: Arc<Settings>,
}

/// What the handlers need of the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// SHA-256 (hex) of the admin bearer token.
    pub admin_token_sha256: String,
    /// Renewals need an entitlement.
    pub require_renewal_entitlement: bool,
    /// PKCS#11 modules that `POST /admin/production` may load.
    pub production_modules: Vec<std::path::PathBuf>,
    /// Per-client-address rate limits.
    pub rate_limits: crate::config::RateLimits,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::limits::TrustedProxies,
    /// Longest time a request may take.
    pub request_timeout: std::time::Duration,
    /// How long an approved unlock ticket hands out its SO PINs, minutes.
    pub unlock_ticket_minutes: u32,
    /// Renewal prices and payment instructions.
    pub renewal: crate::config::Renewal,
}

/// An error answer. The body is boxed: every handler returns `Result<_, Failure>`, and
/// the error path should not make the success path's value large.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: Box<ApiError>,
}

impl Failure {
    /// A failure with a stable code and an English message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Failure {
            status,
            body: Box::new(ApiError {
                code: code.into(),
                message: message.into(),
                ..ApiError::default()
            }),
        }
    }
}

impl Failure {
    /// The error body, to add fields such as `attempts_left`.
    pub fn body_mut(&mut self) -> &mut ApiError {
        &mut self.body
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: *self.body })).into_response()
    }
}

impl From<JsonRejection> for Failure {
    fn from(r: JsonRejection) -> Self {
        let (status, code) = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::BytesRejection(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        Failure::new(status, code, r.body_text())
    }
}

/// The CA's signing key (an HSM, a PKCS#11 session) failed: logged, answered 503
/// `signing_unavailable` so that the client retries later rather than blaming its CSR.
pub fn signing_unavailable(e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "signing failed");
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "signing_unavailable",
        "the CA cannot sign right now; retry later",
    )
}

/// A certificate issuance error: faults of the CSR's key are the client's (400
/// `csr_invalid`), faults of the signer are `signing_unavailable`, the rest ours.
pub fn issuance_failure(e: crate::x509::X509Error) -> Failure {
    use crate::x509::X509Error as E;
    match e {
        E::Malformed(_)
        | E::InvalidKey
        | E::UnsupportedAlgorithm(_)
        | E::AlgorithmMismatch(_)
        | E::BadSignature
        | E::TooLarge { .. } => Failure::new(
            StatusCode::BAD_REQUEST,
            "csr_invalid",
            format!("cannot issue for this CSR: {e}"),
        ),
        E::Signing(_) | E::Rng => signing_unavailable(e),
        other => internal(other),
    }
}

/// A failure of ours (database, keys): logged, answered 503 without details.
pub fn internal(e: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %e, "internal error");
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the service cannot answer right now",
    )
}

#[utoipa::path(get, path = "/api/v1/health", tag = "public", responses((status = 200, body = Health), (status = 503, description = "database unavailable", body = ErrorBody)))]
async fn health(State(st): State<AppState>) -> Result<Json<Health>, Failure> {
    if !st.db.ping().await {
        return Err(internal("database does not answer"));
    }
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

#[utoipa::path(get, path = "/api/v1/time", tag = "public", responses((status = 200, body = ServerTime)))]
async fn server_time() -> Json<ServerTime> {
    Json(ServerTime {
        time: time::OffsetDateTime::now_utc(),
    })
}

#[utoipa::path(get, path = "/api/v1/cacerts", tag = "public", responses((status = 200, body = CaCerts)))]
async fn cacerts(State(st): State<AppState>) -> Json<CaCerts> {
    let chain = |alg: KeyAlg, key_algorithm| {
        let h = st.ca.get(alg);
        CaChain {
            key_algorithm,
            certificates: vec![Base64(h.issuing_der.clone()), Base64(h.root_der.clone())],
        }
    };
    Json(CaCerts {
        chains: vec![
            chain(KeyAlg::Sm2, KeyAlgorithm::Sm2),
            chain(KeyAlg::P256, KeyAlgorithm::P256),
        ],
    })
}

async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::json(),
    )
}

async fn not_found() -> Failure {
    Failure::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// The router.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/health", get(health))
        .route("/time", get(server_time))
        .route("/cacerts", get(cacerts))
        .route("/openapi.json", get(openapi))
        .route("/activation/lookup", post(crate::activation::lookup))
        .route("/activation", post(crate::activation::activate))
        .route(
            "/activation/{id}/certificate",
            post(crate::activation::certificate),
        )
        .route("/renewal/challenge", post(crate::renewal::challenge))
        .route("/renewal", post(crate::renewal::renew))
        .route("/renewal/quote", get(crate::renewal::quote))
        .route("/unlock", post(crate::unlock::request))
        .route("/unlock/{ticket}", get(crate::unlock::status))
        .route("/unlock/{ticket}/confirm", post(crate::unlock::confirm))
        .route(
            "/unlock/{ticket}/attachments",
            post(crate::attachments::upload)
                .layer(DefaultBodyLimit::max(crate::attachments::UPLOAD_BODY_LIMIT)),
        )
        .route("/seal", post(crate::seal::make));
    let admin = Router::new()
        .route("/certificates/{serial}/revoke", post(crate::admin::revoke))
        .route(
            "/certificates/{serial}/entitlement",
            post(crate::admin::entitle),
        )
        .route("/orders/{id}/code", post(crate::admin::reissue_code))
        .route("/audit", get(crate::admin::audit))
        .route("/orders", post(crate::admin::create_order))
        .route("/production", post(crate::admin::production))
        .route(
            "/unlock/{ticket}/approve",
            post(crate::admin::approve_unlock),
        )
        .route("/unlock/{ticket}/reject", post(crate::admin::reject_unlock))
        .route(
            "/unlock/{ticket}/request-materials",
            post(crate::attachments::request_materials),
        )
        .route(
            "/unlock/{ticket}/attachments",
            get(crate::attachments::admin_list),
        )
        .route(
            "/unlock/{ticket}/attachments/{id}",
            get(crate::attachments::admin_fetch),
        )
        .route(
            "/tokens/{serial}/so-pin/restore-previous",
            post(crate::unlock::restore_previous_so_pin),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::admin::require_token,
        ));
    let v1 = v1.nest("/admin", admin);
    let router = Router::new()
        .nest(PREFIX, v1)
        .fallback(not_found)
        .method_not_allowed_fallback(|| async {
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::client_and_rate_limit,
        ));
    let timeout = state.settings.request_timeout;
    crate::limits::harden(router.with_state(state), timeout)
}

/// What [`issue_and_record`] issues: a holder certificate for a key, under an order.
pub(crate) struct Issue<'a> {
    /// Subject (from the order).
    pub subject: &'a crate::x509::DnSpec,
    /// The key's SubjectPublicKeyInfo (from the CSR).
    pub spki_der: &'a [u8],
    /// Certificate serial.
    pub serial: &'a [u8],
    /// Validity.
    pub validity: crate::x509::Validity,
    /// The key (token) it is for.
    pub token_serial: &'a str,
    /// The order it belongs to.
    pub order_id: &'a str,
    /// `sm2` or `p256`.
    pub key_algorithm: &'a str,
}

/// Signs a holder certificate with the issuing CA key of `h` and records it in the
/// caller's transaction (which has already claimed the order or renewal). A CSR the
/// CA cannot issue for is `csr_invalid`; a signer fault is `signing_unavailable` (the
/// caller's transaction is then dropped, so nothing is claimed).
pub(crate) async fn issue_and_record(
    tx: &mut sqlx::AnyConnection,
    h: &crate::ca::Hierarchy,
    i: &Issue<'_>,
) -> Result<Vec<u8>, Failure> {
    let der = crate::x509::issue_leaf(
        &h.issuing_der,
        h.issuing_key.as_ref(),
        i.subject,
        i.spki_der,
        i.serial,
        i.validity,
        crate::x509::Usage::Holder,
    )
    .map_err(issuance_failure)?;
    crate::db::insert_certificate(
        tx,
        &crate::db::NewCertificate {
            serial: &hex::encode(i.serial),
            token_serial: i.token_serial,
            order_id: i.order_id,
            key_algorithm: i.key_algorithm,
            der: &der,
            not_before: i.validity.not_before.unix_timestamp(),
            not_after: i.validity.not_after.unix_timestamp(),
        },
    )
    .await
    .map_err(internal)?;
    Ok(der)
}
