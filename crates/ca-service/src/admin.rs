//! The admin API, behind the bearer token printed by `certkey-ca init` (only its
//! SHA-256 is stored): production of keys plugged into the server, orders for keys
//! initialised elsewhere, revocation, renewal entitlements (with the paid term),
//! activation code reissue, unlock review (approve, reject with a reason, ask for
//! materials and read them: see [`crate::attachments`]) and the audit log.

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

/// `POST /admin/certificates/{serial}/entitlement` body (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitlementRequest {
    /// The term paid for, 1 to 5 years (default 1): the renewal must ask for it.
    #[serde(default)]
    pub years: Option<u32>,
}

/// `POST /admin/certificates/{serial}/entitlement`: one paid renewal of `years` (a new
/// grant replaces an unused one).
#[utoipa::path(post, path = "/api/v1/admin/certificates/{serial}/entitlement", tag = "admin", security(("admin_token" = [])), params(("serial" = String, Path)), request_body(content = Option<EntitlementRequest>, description = "optional; without a body the term is 1 year"), responses((status = 200, body = serde_json::Value, description = "serial, entitled, years"), (status = 400, description = "invalid_term", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn entitle(
    State(st): State<AppState>,
    Path(serial): Path<String>,
    body: Result<Option<Json<EntitlementRequest>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let serial = serial_param(&serial)?;
    let req = body
        .map_err(Failure::from)?
        .map(|Json(r)| r)
        .unwrap_or_default();
    let years = req.years.unwrap_or(1);
    if !certkey_protocol::RENEWAL_TERM_YEARS.contains(&years) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_term",
            "years is the renewal term paid for, 1 to 5",
        ));
    }
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
        "INSERT INTO entitlements (certificate_serial, granted_at, used_at, years) VALUES ($1, $2, NULL, $3) \
         ON CONFLICT (certificate_serial) DO UPDATE SET granted_at = excluded.granted_at, used_at = NULL, years = excluded.years",
    )
    .bind(&serial)
    .bind(now)
    .bind(i64::from(years))
    .execute(&st.db.pool)
    .await
    .map_err(internal)?;
    st.db
        .audit(
            "admin",
            "renewal_entitled",
            &serial,
            &serde_json::json!({"years": years}),
        )
        .await
        .map_err(internal)?;
    Ok(Json(
        serde_json::json!({"serial": serial, "entitled": true, "years": years}),
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

/// `POST /admin/unlock/{ticket}/approve`: from `pending_review` or `needs_materials`.
#[utoipa::path(post, path = "/api/v1/admin/unlock/{ticket}/approve", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path)), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 404, description = "ticket_not_found", body = ErrorBody), (status = 409, description = "invalid_state", body = ErrorBody)))]
pub async fn approve_unlock(
    State(st): State<AppState>,
    Path(ticket): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    crate::unlock::decide(&st, &ticket, true, None).await
}

/// `POST /admin/unlock/{ticket}/reject` body (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Why, shown to the holder (at most 500 characters; line breaks allowed).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /admin/unlock/{ticket}/reject`: from `pending_review` or `needs_materials`,
/// with an optional reason the holder sees (`note` of `GET /unlock/{ticket}`).
#[utoipa::path(post, path = "/api/v1/admin/unlock/{ticket}/reject", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path)), request_body(content = Option<RejectRequest>, description = "optional; without a body no reason is given"), responses((status = 200, body = serde_json::Value, description = "ticket, state (rejected), reason"), (status = 400, description = "invalid_note", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "ticket_not_found", body = ErrorBody), (status = 409, description = "invalid_state", body = ErrorBody), (status = 422, description = "invalid_body", body = ErrorBody)))]
pub async fn reject_unlock(
    State(st): State<AppState>,
    Path(ticket): Path<String>,
    body: Result<Option<Json<RejectRequest>>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let req = body
        .map_err(Failure::from)?
        .map(|Json(r)| r)
        .unwrap_or_default();
    let reason = crate::attachments::check_note("reason", req.reason.as_deref())?;
    crate::unlock::decide(&st, &ticket, false, reason).await
}

/// `POST /admin/orders` body: an order for a key that is already initialised (by a
/// vendor tool, or produced earlier). The SO PIN and initial user PIN are needed for a
/// key the CA has not seen; for a known key its stored PINs are kept.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderRequest {
    /// The key's serial.
    pub token_serial: String,
    /// Holder name.
    pub holder: String,
    /// Organisation (organisation and org_person types).
    #[serde(default)]
    pub org: Option<String>,
    /// Certificate type.
    pub cert_type: certkey_protocol::CertType,
    /// Validity in years (1-5).
    pub years: u32,
    /// Trial validity in days, overriding `years`.
    #[serde(default)]
    pub days: Option<u32>,
    /// Key algorithm.
    pub key_algorithm: certkey_protocol::v1::KeyAlgorithm,
    /// Handler (经办人).
    pub handler: certkey_protocol::v1::Handler,
    /// The key's SO PIN (required for a key the CA has not produced).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub so_pin: Option<certkey_protocol::Secret>,
    /// The key's current user PIN, released at activation (same rule).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub initial_pin: Option<certkey_protocol::Secret>,
}

/// `POST /admin/orders`.
#[utoipa::path(post, path = "/api/v1/admin/orders", tag = "admin", security(("admin_token" = [])), request_body = OrderRequest,
    responses((status = 200, body = serde_json::Value, description = "token_serial, order_id, activation_code, code_expires_at"),
              (status = 400, description = "invalid_order, invalid_holder, invalid_org", body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, description = "order_open", body = ErrorBody)))]
pub async fn create_order(
    State(st): State<AppState>,
    body: Result<Json<OrderRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let bad = |m: String| Failure::new(StatusCode::BAD_REQUEST, "invalid_order", m);
    let serial = req.token_serial.trim().to_string();
    if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad(
            "token_serial must be 1-64 printable ASCII characters".into()
        ));
    }
    let produce = crate::production::ProduceRequest {
        holder: req.holder.clone(),
        org: req.org.clone(),
        cert_type: req.cert_type,
        years: req.years,
        days: req.days,
        key: req.key_algorithm,
        handler: req.handler.clone(),
    };
    produce
        .validate()
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.code, e.message))?;
    let known = sqlx::query("SELECT state FROM tokens WHERE serial = $1")
        .bind(&serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    let (order_id, code, salt, expires) =
        crate::production::new_order_secrets().map_err(internal)?;
    let mut tx = st.db.pool.begin().await.map_err(internal)?;
    match known {
        None => {
            let (Some(so), Some(user)) = (
                req.so_pin.as_ref().map(certkey_protocol::Secret::expose),
                req.initial_pin
                    .as_ref()
                    .map(certkey_protocol::Secret::expose),
            ) else {
                return Err(bad(
                    "a key the CA has not produced needs so_pin and initial_pin".into(),
                ));
            };
            for (what, pin) in [("so_pin", so), ("initial_pin", user)] {
                if !(4..=64).contains(&pin.len()) || !pin.chars().all(|c| c.is_ascii_graphic()) {
                    return Err(bad(format!(
                        "{what} must be 4-64 printable ASCII characters"
                    )));
                }
            }
            sqlx::query(
                "INSERT INTO tokens (serial, label, so_pin, initial_pin, handler_name, handler_id, handler_phone, state, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'produced', $8)",
            )
            .bind(&serial)
            .bind("")
            .bind(st.data_key.seal(so.as_bytes(), &format!("token:{serial}:so")).map_err(internal)?)
            .bind(st.data_key.seal(user.as_bytes(), &format!("token:{serial}:initial")).map_err(internal)?)
            .bind(&req.handler.name)
            .bind(&req.handler.id_number)
            .bind(&req.handler.phone)
            .bind(OffsetDateTime::now_utc().unix_timestamp())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
        Some(row) => {
            let state: String = row.try_get(0).map_err(internal)?;
            if state != "produced" {
                return Err(Failure::new(
                    StatusCode::CONFLICT,
                    "token_not_ready",
                    "production of this key did not complete",
                ));
            }
            let open = sqlx::query(
                "SELECT id FROM orders WHERE token_serial = $1 AND state IN ('awaiting_activation', 'awaiting_csr', 'issuing', 'locked', 'producing')",
            )
            .bind(&serial)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
            if open.is_some() {
                return Err(Failure::new(
                    StatusCode::CONFLICT,
                    "order_open",
                    "the key already has an open order",
                ));
            }
        }
    }
    crate::production::insert_order(
        &mut tx,
        &st.data_key,
        &serial,
        &produce,
        &order_id,
        &code,
        &salt,
        expires,
        "awaiting_activation",
    )
    .await
    .map_err(internal)?;
    sqlx::query("INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, 'admin', 'order_created', $2, $3)")
        .bind(OffsetDateTime::now_utc().unix_timestamp())
        .bind(&serial)
        .bind(serde_json::json!({"order": order_id}).to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    let expires = expires
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(internal)?;
    Ok(Json(serde_json::json!({
        "token_serial": serial,
        "order_id": order_id,
        "activation_code": code.as_str(),
        "code_expires_at": expires,
    })))
}

/// `POST /admin/production` request: produce a blank key plugged into this server.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductionRequest {
    /// The key's PKCS#11 module: one of `production_modules` in certkey-ca.toml.
    pub module: String,
    /// Index among the slots holding a key (default: the first blank key).
    #[serde(default)]
    pub slot: Option<usize>,
    /// Holder name.
    pub holder: String,
    /// Organisation (organisation and org-person certificates).
    #[serde(default)]
    pub org: Option<String>,
    /// Certificate type.
    pub cert_type: certkey_protocol::CertType,
    /// Validity in years (1-5).
    pub years: u32,
    /// Trial validity in days (overrides years).
    #[serde(default)]
    pub days: Option<u32>,
    /// Key algorithm.
    pub key_algorithm: certkey_protocol::v1::KeyAlgorithm,
    /// Handler (经办人).
    pub handler: certkey_protocol::v1::Handler,
}

/// One production at a time per process: PKCS#11 modules are initialised process-wide.
static PRODUCTION: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `POST /admin/production`.
#[utoipa::path(post, path = "/api/v1/admin/production", tag = "admin", security(("admin_token" = [])), request_body = ProductionRequest,
    responses((status = 200, body = serde_json::Value, description = "token_serial, order_id, activation_code, code_expires_at"),
              (status = 400, description = "invalid_order, invalid_holder, invalid_org, module_not_allowed", body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 404, description = "key_not_found", body = ErrorBody),
              (status = 409, description = "key_not_blank, already_produced", body = ErrorBody),
              (status = 502, description = "module_error, token_error", body = ErrorBody)))]
pub async fn production(
    State(st): State<AppState>,
    body: Result<Json<ProductionRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let module = st
        .settings
        .production_modules
        .iter()
        .find(|m| m.as_os_str() == req.module.as_str())
        .cloned()
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "module_not_allowed",
                "module is not one of production_modules in certkey-ca.toml",
            )
        })?;
    let produce = crate::production::ProduceRequest {
        holder: req.holder,
        org: req.org,
        cert_type: req.cert_type,
        years: req.years,
        days: req.days,
        key: req.key_algorithm,
        handler: req.handler.clone(),
    };
    // Production runs in a task of its own: once started it completes (or records its
    // failure) even if the request times out or the client goes away, so the key and
    // the database never part ways.
    let slot = req.slot;
    let (db, data_key) = (st.db.clone(), st.data_key.clone());
    let task = tokio::spawn(async move {
        let _one = PRODUCTION.lock().await;
        crate::production::produce(&db, &data_key, &module, slot, &produce).await
    });
    let p = task.await.map_err(internal)?.map_err(|e| {
        let status = match e.code {
            "invalid_order" | "invalid_holder" | "invalid_org" => StatusCode::BAD_REQUEST,
            "key_not_found" => StatusCode::NOT_FOUND,
            "key_not_blank" | "already_produced" => StatusCode::CONFLICT,
            "module_error" | "token_error" => StatusCode::BAD_GATEWAY,
            _ => return internal(e),
        };
        Failure::new(status, e.code, e.message)
    })?;
    let expires = p
        .code_expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(internal)?;
    Ok(Json(serde_json::json!({
        "token_serial": p.token_serial,
        "order_id": p.order_id,
        "activation_code": p.activation_code.as_str(),
        "code_expires_at": expires,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_request_logged_by_accident_shows_no_pin() {
        let req: OrderRequest = serde_json::from_value(serde_json::json!({
            "token_serial": "SK0001", "holder": "张三", "cert_type": "person",
            "years": 1, "key_algorithm": "sm2",
            "handler": {"name": "张三", "id_number": "110101199001011234", "phone": "13800000000"},
            "so_pin": "so-pin-7391", "initial_pin": "user-pin-5528"
        }))
        .expect("an order");
        // The PINs arrive intact for the one place that stores them...
        assert_eq!(req.so_pin.as_ref().map(|p| p.expose()), Some("so-pin-7391"));
        let shown = format!("{req:?}");
        // ... and never in a Debug line.
        assert!(
            !shown.contains("7391") && !shown.contains("5528"),
            "{shown}"
        );
        assert!(shown.contains("SK0001"), "{shown}");
    }
}
