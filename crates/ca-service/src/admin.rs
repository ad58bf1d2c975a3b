//! The admin API, behind the bearer token printed by `certkey-ca init` (only its
//! SHA-256 is stored): revocation, renewal entitlements, activation code reissue, and
//! the audit log.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use sha2::Digest;
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use crate::api::{internal, AppState, Failure};
use certkey_protocol::ErrorBody;

/// Rejects requests without the right `Authorization: Bearer <token>`.
pub async fn require_token(
    State(st): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Failure> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let digest = sha2::Sha256::digest(presented.as_bytes());
    let want = hex::decode(&st.settings.admin_token_sha256).unwrap_or_default();
    // Constant-time comparison of the digests.
    let same = want.len() == digest.len()
        && want
            .iter()
            .zip(digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if presented.is_empty() || !same {
        return Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin endpoints need the admin bearer token",
        ));
    }
    Ok(next.run(req).await)
}

fn serial_param(s: &str) -> Result<String, Failure> {
    let s = s.to_ascii_lowercase();
    if s.is_empty() || s.len() > 40 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_certificate_serial",
            "serial is hex",
        ));
    }
    Ok(s)
}

/// `POST /admin/certificates/{serial}/revoke`.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{serial}/revoke", tag = "admin", security(("admin_token" = [])), params(("serial" = String, Path, description = "certificate serial, hex")), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(st): State<AppState>,
    Path(serial): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let serial = serial_param(&serial)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let n = sqlx::query(
        "UPDATE certificates SET revoked_at = $2 WHERE serial = $1 AND revoked_at IS NULL",
    )
    .bind(&serial)
    .bind(now)
    .execute(&st.db.pool)
    .await
    .map_err(internal)?
    .rows_affected();
    if n == 0 {
        let exists = sqlx::query("SELECT 1 FROM certificates WHERE serial = $1")
            .bind(&serial)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(internal)?;
        if exists.is_none() {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "certificate_not_found",
                "no such certificate",
            ));
        }
    }
    st.db
        .audit(
            "admin",
            "certificate_revoked",
            &serial,
            &serde_json::json!({}),
        )
        .await
        .map_err(internal)?;
    Ok(Json(serde_json::json!({"serial": serial, "revoked": true})))
}

/// `POST /admin/certificates/{serial}/entitlement`: one paid renewal.
#[utoipa::path(post, path = "/api/v1/admin/certificates/{serial}/entitlement", tag = "admin", security(("admin_token" = [])), params(("serial" = String, Path)), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn entitle(
    State(st): State<AppState>,
    Path(serial): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let serial = serial_param(&serial)?;
    let exists = sqlx::query("SELECT 1 FROM certificates WHERE serial = $1")
        .bind(&serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    if exists.is_none() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "certificate_not_found",
            "no such certificate",
        ));
    }
    let now = OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO entitlements (certificate_serial, granted_at, used_at) VALUES ($1, $2, NULL) \
         ON CONFLICT (certificate_serial) DO UPDATE SET granted_at = excluded.granted_at, used_at = NULL",
    )
    .bind(&serial)
    .bind(now)
    .execute(&st.db.pool)
    .await
    .map_err(internal)?;
    st.db
        .audit("admin", "renewal_entitled", &serial, &serde_json::json!({}))
        .await
        .map_err(internal)?;
    Ok(Json(
        serde_json::json!({"serial": serial, "entitled": true}),
    ))
}

/// `POST /admin/orders/{id}/code`: a new activation code (tries reset, 30 days). An
/// activation begun with the old code is void: its id no longer takes a CSR.
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/code", tag = "admin", security(("admin_token" = [])), params(("id" = String, Path)), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reissue_code(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    if id.len() > 64 {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "no such order",
        ));
    }
    let code =
        zeroize::Zeroizing::new(crate::secrets::random_string(b"0123456789", 6).map_err(internal)?);
    let salt = crate::secrets::random_bytes::<16>().map_err(internal)?;
    let expires = OffsetDateTime::now_utc() + Duration::days(crate::production::CODE_DAYS);
    let n = sqlx::query(
        "UPDATE orders SET code_salt = $2, code_mac = $3, code_expires_at = $4, attempts = 0, \
         activation_id = NULL, state = 'awaiting_activation' \
         WHERE id = $1 AND state IN ('awaiting_activation', 'awaiting_csr', 'locked')",
    )
    .bind(&id)
    .bind(salt.to_vec())
    .bind(st.data_key.code_mac(&salt, &id, &code))
    .bind(expires.unix_timestamp())
    .execute(&st.db.pool)
    .await
    .map_err(internal)?
    .rows_affected();
    if n == 0 {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "order_not_reissuable",
            "no open order with that id",
        ));
    }
    st.db
        .audit(
            "admin",
            "activation_code_reissued",
            &id,
            &serde_json::json!({}),
        )
        .await
        .map_err(internal)?;
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(internal)?;
    Ok(Json(
        serde_json::json!({"order_id": id, "activation_code": code.as_str(), "code_expires_at": expires}),
    ))
}

/// Query of `GET /admin/audit`.
#[derive(Deserialize)]
pub struct AuditQuery {
    /// Most recent entries to return (1-1000, default 100).
    pub limit: Option<i64>,
}

/// `GET /admin/audit`: most recent first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("admin_token" = [])), params(("limit" = Option<i64>, Query, description = "1-1000, default 100")), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody)))]
pub async fn audit(
    State(st): State<AppState>,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let Query(q) =
        q.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, detail FROM audit ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&st.db.pool)
    .await
    .map_err(internal)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let detail: String = r.try_get(5).map_err(internal)?;
        out.push(serde_json::json!({
            "id": r.try_get::<i64, _>(0).map_err(internal)?,
            "at": r.try_get::<i64, _>(1).map_err(internal)?,
            "actor": r.try_get::<String, _>(2).map_err(internal)?,
            "action": r.try_get::<String, _>(3).map_err(internal)?,
            "subject": r.try_get::<String, _>(4).map_err(internal)?,
            "detail": serde_json::from_str::<serde_json::Value>(&detail).unwrap_or(serde_json::Value::String(detail)),
        }));
    }
    Ok(Json(serde_json::json!({"entries": out})))
}

/// `POST /admin/unlock/{ticket}/approve`.
#[utoipa::path(post, path = "/api/v1/admin/unlock/{ticket}/approve", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path)), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn approve_unlock(
    State(st): State<AppState>,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    crate::unlock::decide(&st, &ticket, true).await
}

/// `POST /admin/unlock/{ticket}/reject`.
#[utoipa::path(post, path = "/api/v1/admin/unlock/{ticket}/reject", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path)), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject_unlock(
    State(st): State<AppState>,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    crate::unlock::decide(&st, &ticket, false).await
}
