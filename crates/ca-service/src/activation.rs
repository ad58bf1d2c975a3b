//! Activation, in two steps that are both safe to retry:
//! 1. `POST /activation`: the right 6-digit code releases the initial user PIN, wrapped
//!    for the client's ephemeral key. A wrong code costs one of the order's 5 tries,
//!    counted by one conditional UPDATE (so concurrent guesses cannot exceed 5); the
//!    fifth locks an order still waiting for activation. Once activated, the code
//!    keeps working until the certificate is issued (a client that crashed reruns with a
//!    new ephemeral key) but still only within its 30 days and its 5 tries.
//! 2. `POST /activation/{id}/certificate`: the CSR made on the key becomes the
//!    certificate; the order is claimed in a transaction so only one certificate is ever
//!    issued for it, and a retry returns that certificate.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use certkey_protocol::v1::{
    ActivationLookupRequest, ActivationLookupResponse, ActivationRequest, ActivationResponse,
    CertificateRequest, IssuedCertificate, KeyAlgorithm, OrderState,
};
use certkey_protocol::CertType;
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use crate::api::{internal, AppState, Failure};
use crate::x509::{self, DnAttr, DnSpec, KeyAlg, Validity};
use certkey_protocol::ErrorBody;

/// Wrong codes that lock an order.
pub const MAX_ATTEMPTS: i64 = 5;

struct Order {
    id: String,
    token_serial: String,
    holder: String,
    org: Option<String>,
    cert_type: String,
    years: i64,
    days: Option<i64>,
    key_algorithm: String,
    code_salt: Vec<u8>,
    code_mac: Vec<u8>,
    code_expires_at: i64,
    state: String,
    activation_id: Option<String>,
    certificate_serial: Option<String>,
}

const ORDER_COLUMNS: &str =
    "id, token_serial, holder, org, cert_type, years, days, key_algorithm, code_salt, code_mac, \
     code_expires_at, state, activation_id, certificate_serial";

fn order_from(row: &sqlx::any::AnyRow) -> Result<Order, sqlx::Error> {
    Ok(Order {
        id: row.try_get("id")?,
        token_serial: row.try_get("token_serial")?,
        holder: row.try_get("holder")?,
        org: row.try_get("org")?,
        cert_type: row.try_get("cert_type")?,
        years: row.try_get("years")?,
        days: row.try_get("days")?,
        key_algorithm: row.try_get("key_algorithm")?,
        code_salt: row.try_get("code_salt")?,
        code_mac: row.try_get("code_mac")?,
        code_expires_at: row.try_get("code_expires_at")?,
        state: row.try_get("state")?,
        activation_id: row.try_get("activation_id")?,
        certificate_serial: row.try_get("certificate_serial")?,
    })
}

async fn order_by_token(st: &AppState, serial: &str) -> Result<Order, Failure> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE token_serial = $1 AND state NOT IN ('producing', 'void') ORDER BY created_at DESC LIMIT 1"
    );
    let row = sqlx::query(&sql)
        .bind(serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    let row = row.ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "no enrollment order for this key",
        )
    })?;
    order_from(&row).map_err(internal)
}

async fn order_by_activation(st: &AppState, id: &str) -> Result<Order, Failure> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE activation_id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    let row = row.ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            "activation_not_found",
            "no such activation",
        )
    })?;
    order_from(&row).map_err(internal)
}

fn check_serial(serial: &str) -> Result<(), Failure> {
    let ok =
        !serial.is_empty() && serial.len() <= 64 && serial.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_token_serial",
            "token_serial must be 1-64 printable ASCII characters",
        ))
    }
}

/// `张三` -> `张*`, `欧阳娜娜` -> `欧**娜`.
pub fn mask(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// The certificate type of an order's `cert_type` column.
pub(crate) fn cert_type(s: &str) -> CertType {
    match s {
        "organisation" => CertType::Organisation,
        "org_person" => CertType::OrgPerson,
        _ => CertType::Person,
    }
}

fn key_alg(s: &str) -> (KeyAlgorithm, KeyAlg) {
    if s == "sm2" {
        (KeyAlgorithm::Sm2, KeyAlg::Sm2)
    } else {
        (KeyAlgorithm::P256, KeyAlg::P256)
    }
}

fn public_state(o: &Order, now: i64) -> OrderState {
    match o.state.as_str() {
        "completed" => OrderState::Completed,
        "locked" => OrderState::Locked,
        _ if now > o.code_expires_at && o.state == "awaiting_activation" => OrderState::Expired,
        "awaiting_csr" | "issuing" => OrderState::AwaitingCsr,
        _ => OrderState::AwaitingActivation,
    }
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, Failure> {
    body.map(|Json(b)| b).map_err(Failure::from)
}

/// `POST /activation/lookup`.
#[utoipa::path(post, path = "/api/v1/activation/lookup", tag = "activation", request_body = ActivationLookupRequest, responses((status = 200, body = ActivationLookupResponse), (status = 404, description = "order_not_found", body = ErrorBody), (status = 400, description = "bad input", body = ErrorBody)))]
pub async fn lookup(
    State(st): State<AppState>,
    body: Result<Json<ActivationLookupRequest>, JsonRejection>,
) -> Result<Json<ActivationLookupResponse>, Failure> {
    let req = json_body(body)?;
    check_serial(&req.token_serial)?;
    let o = order_by_token(&st, &req.token_serial).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    Ok(Json(ActivationLookupResponse {
        order_id: o.id.clone(),
        holder: mask(&o.holder),
        cert_type: cert_type(&o.cert_type),
        years: u32::try_from(o.years).unwrap_or(0),
        key_algorithm: key_alg(&o.key_algorithm).0,
        code_expires_at: OffsetDateTime::from_unix_timestamp(o.code_expires_at)
            .map_err(internal)?,
        state: public_state(&o, now),
    }))
}

/// Counts a request against a fixed one-minute window; errs when over `limit`.
pub async fn rate_limit(st: &AppState, key: &str, limit: i64) -> Result<(), Failure> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let window = now - now.rem_euclid(60);
    let row = sqlx::query(
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.count + 1 ELSE 1 END, \
           window_start = excluded.window_start \
         RETURNING count",
    )
    .bind(key)
    .bind(window)
    .fetch_one(&st.db.pool)
    .await
    .map_err(internal)?;
    let count: i64 = row.try_get(0).map_err(internal)?;
    if count > limit {
        let mut f = Failure::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; wait and retry",
        );
        f.body_mut().retry_after_s = Some(u64::try_from(window + 60 - now).unwrap_or(60));
        return Err(f);
    }
    Ok(())
}

/// `POST /activation`.
#[utoipa::path(post, path = "/api/v1/activation", tag = "activation", request_body = ActivationRequest, responses((status = 200, body = ActivationResponse), (status = 403, description = "activation_code_invalid (attempts_left)", body = ErrorBody), (status = 404, description = "order_not_found", body = ErrorBody), (status = 409, description = "already_activated", body = ErrorBody), (status = 410, description = "code_expired", body = ErrorBody), (status = 423, description = "order_locked", body = ErrorBody), (status = 400, description = "bad input", body = ErrorBody), (status = 429, description = "rate limited", body = ErrorBody)))]
pub async fn activate(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<ActivationRequest>, JsonRejection>,
) -> Result<Json<ActivationResponse>, Failure> {
    let req = json_body(body)?;
    check_serial(&req.token_serial)?;
    let code = req.activation_code.expose();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_code_format",
            "the activation code is 6 digits",
        ));
    }
    crate::unlock::check_client_key(req.client_key.as_bytes())?;
    rate_limit(
        &st,
        &format!("activation:{}", peer.ip()),
        i64::from(st.settings.rate_limits.activation_per_minute),
    )
    .await?;
    let o = order_by_token(&st, &req.token_serial).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let locked = || {
        let mut f = Failure::new(
            StatusCode::LOCKED,
            "order_locked",
            "too many wrong codes: ask the CA for a new code",
        );
        f.body_mut().attempts_left = Some(0);
        f
    };
    match o.state.as_str() {
        "completed" => {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                "already_activated",
                "this key is already activated",
            ))
        }
        "locked" => return Err(locked()),
        _ => {}
    }
    if now > o.code_expires_at {
        return Err(Failure::new(
            StatusCode::GONE,
            "code_expired",
            "the activation code has expired: ask the CA for a new code",
        ));
    }
    // The code is compared first (no database needed); then one conditional statement
    // records the outcome, so a try is counted exactly when a wrong code was checked,
    // even with many requests at once, and nothing is lost if the client goes away.
    let right = st
        .data_key
        .code_matches(&o.code_salt, &o.id, code, &o.code_mac);
    if !right {
        let row = sqlx::query(
            "UPDATE orders SET attempts = attempts + 1, \
               state = CASE WHEN attempts + 1 >= $2 AND state = 'awaiting_activation' THEN 'locked' ELSE state END \
             WHERE id = $1 AND attempts < $2 AND state IN ('awaiting_activation', 'awaiting_csr') RETURNING attempts",
        )
        .bind(&o.id)
        .bind(MAX_ATTEMPTS)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
        let Some(row) = row else {
            return Err(locked());
        };
        let attempts: i64 = row.try_get(0).map_err(internal)?;
        let left = MAX_ATTEMPTS - attempts;
        if left <= 0 {
            let _ = st
                .db
                .audit(
                    "client",
                    "order_locked",
                    &o.id,
                    &serde_json::json!({"token": o.token_serial}),
                )
                .await;
            return Err(locked());
        }
        let _ = st
            .db
            .audit(
                "client",
                "activation_code_wrong",
                &o.id,
                &serde_json::json!({"attempts_left": left}),
            )
            .await;
        let mut f = Failure::new(
            StatusCode::FORBIDDEN,
            "activation_code_invalid",
            "wrong activation code",
        );
        f.body_mut().attempts_left = Some(u32::try_from(left).unwrap_or(0));
        return Err(f);
    }
    // A right code: the order moves to awaiting_csr with one activation id (kept on
    // retries), unless it was locked meanwhile.
    let fresh = format!(
        "act-{}",
        hex::encode(crate::secrets::random_bytes::<16>().map_err(internal)?)
    );
    let row = sqlx::query(
        "UPDATE orders SET activation_id = COALESCE(activation_id, $2), state = 'awaiting_csr' \
         WHERE id = $1 AND attempts < $3 AND state IN ('awaiting_activation', 'awaiting_csr') RETURNING activation_id",
    )
    .bind(&o.id)
    .bind(&fresh)
    .bind(MAX_ATTEMPTS)
    .fetch_optional(&st.db.pool)
    .await
    .map_err(internal)?;
    let Some(row) = row else {
        return Err(locked());
    };
    let activation_id: String = row.try_get(0).map_err(internal)?;
    if o.activation_id.is_none() {
        let _ = st
            .db
            .audit(
                "client",
                "activation_code_accepted",
                &o.id,
                &serde_json::json!({"activation": activation_id}),
            )
            .await;
    }
    let row = sqlx::query("SELECT initial_pin FROM tokens WHERE serial = $1")
        .bind(&o.token_serial)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let sealed: Vec<u8> = row.try_get(0).map_err(internal)?;
    let pin = st
        .data_key
        .open(&sealed, &format!("token:{}:initial", o.token_serial))
        .map_err(internal)?;
    let context = format!("activation:{}", o.token_serial);
    let wrapped = certkey_protocol::wrap::wrap(req.client_key.as_bytes(), &pin, context.as_bytes())
        .map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid_client_key",
                "client_key is not a valid P-256 point",
            )
        })?;
    Ok(Json(ActivationResponse {
        activation_id,
        initial_pin: wrapped,
    }))
}

fn subject(o: &Order) -> DnSpec {
    let mut dn = vec![(DnAttr::C, "CN".to_string())];
    if let Some(org) = &o.org {
        dn.push((DnAttr::O, org.clone()));
    }
    dn.push((DnAttr::CN, o.holder.clone()));
    DnSpec(dn)
}

async fn stored_certificate(
    st: &AppState,
    o: &Order,
    csr_spki: &[u8],
) -> Result<Json<IssuedCertificate>, Failure> {
    let serial = o
        .certificate_serial
        .as_ref()
        .ok_or_else(|| internal("completed order without certificate"))?;
    let row = sqlx::query("SELECT der FROM certificates WHERE serial = $1")
        .bind(serial)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let der: Vec<u8> = row.try_get(0).map_err(internal)?;
    if x509::cert_spki(&der).map_err(internal)? != csr_spki {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "already_activated",
            "this order already has a certificate for another key",
        ));
    }
    Ok(Json(st.ca.get(key_alg(&o.key_algorithm).1).issued(der)))
}

/// `POST /activation/{activation_id}/certificate`.
#[utoipa::path(post, path = "/api/v1/activation/{activation_id}/certificate", tag = "activation", params(("activation_id" = String, Path, description = "from POST /activation")), request_body = CertificateRequest, responses((status = 200, body = IssuedCertificate), (status = 400, description = "csr_invalid, csr_key_mismatch", body = ErrorBody), (status = 404, description = "activation_not_found", body = ErrorBody), (status = 409, description = "already_activated, invalid_state", body = ErrorBody), (status = 503, description = "signing_unavailable: the CA's signing key failed; retry later", body = ErrorBody)))]
pub async fn certificate(
    State(st): State<AppState>,
    Path(activation_id): Path<String>,
    body: Result<Json<CertificateRequest>, JsonRejection>,
) -> Result<Json<IssuedCertificate>, Failure> {
    let req = json_body(body)?;
    if activation_id.len() > 64 {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "activation_not_found",
            "no such activation",
        ));
    }
    let o = order_by_activation(&st, &activation_id).await?;
    let csr = x509::verify_csr(req.csr.as_bytes()).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "csr_invalid",
            format!("the CSR is not acceptable: {e}"),
        )
    })?;
    let (_, alg) = key_alg(&o.key_algorithm);
    if csr.alg != alg {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "csr_key_mismatch",
            "the CSR's key algorithm is not the one the order names",
        ));
    }
    if o.state == "completed" {
        return stored_certificate(&st, &o, &csr.spki_der).await;
    }
    if o.state != "awaiting_csr" {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "the order cannot take a certificate now",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let term = match o.days {
        Some(d) => Duration::days(d),
        None => Duration::days(365 * o.years),
    };
    let validity = Validity {
        not_before: now - Duration::minutes(5),
        not_after: now + term,
    };
    let h = st.ca.get(alg);
    let serial = x509::random_serial().map_err(internal)?;
    let serial_hex = hex::encode(serial);
    // One transaction claims the order, then signs and records the certificate: a
    // concurrent request for the same order loses the claim before anything is signed
    // and answers with the winner's certificate — one certificate per order.
    let mut tx = st.db.pool.begin().await.map_err(internal)?;
    let claimed = sqlx::query(
        "UPDATE orders SET state = 'completed', certificate_serial = $2 WHERE id = $1 AND state = 'awaiting_csr'",
    )
    .bind(&o.id)
    .bind(&serial_hex)
    .execute(&mut *tx)
    .await
    .map_err(internal)?
    .rows_affected();
    if claimed != 1 {
        drop(tx);
        let again = order_by_activation(&st, &activation_id).await?;
        if again.state == "completed" {
            return stored_certificate(&st, &again, &csr.spki_der).await;
        }
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "the order cannot take a certificate now",
        ));
    }
    let der = crate::api::issue_and_record(
        &mut tx,
        h,
        &crate::api::Issue {
            subject: &subject(&o),
            spki_der: &csr.spki_der,
            serial: &serial,
            validity,
            token_serial: &o.token_serial,
            order_id: &o.id,
            key_algorithm: &o.key_algorithm,
        },
    )
    .await?;
    sqlx::query("INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, 'client', 'certificate_issued', $2, $3)")
        .bind(now.unix_timestamp())
        .bind(&o.id)
        .bind(serde_json::json!({"serial": serial_hex, "token": o.token_serial}).to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(Json(h.issued(der)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_names_are_masked() {
        assert_eq!(mask("张三"), "张*");
        assert_eq!(mask("欧阳娜娜"), "欧**娜");
        assert_eq!(mask("王"), "*");
        assert_eq!(mask("广东测试有限公司"), "广******司");
    }
}
