//! Online unlock of a key whose user PIN is locked. The request is approved at once
//! when the handler (经办人) matches the one on file for the key, otherwise it waits
//! for a CA operator. When approved, the client gets the current SO PIN and a new SO PIN
//! to rotate to, both wrapped for its ephemeral key; the rotation is committed only on
//! confirm, and until then both are kept (a later unlock hands out the same pending new
//! SO PIN, so whichever the key holds is known). Each approved ticket records the
//! pending PIN it hands out, and its confirm commits only that one: once a rotation is
//! committed, every other approved ticket of the key is void (state `rejected`), so a
//! late confirm can never replace the SO PIN on file with one the key does not hold.
//! The SO PIN before the last rotation is kept too (`so_pin_prev`).
//!
//! A confirm must carry a signature by the private key of the certificate the request
//! named (the holder logs in with the new PIN after C_InitPIN and signs
//! [`unlock_confirm_message`]): knowing the handler's details gets a ticket, never a
//! committed rotation. An approved ticket hands out its SO PINs only for
//! `unlock_ticket_minutes` (certkey-ca.toml, default 30) after the approval; a confirm
//! with the key's signature is still taken after that, so a rotation done in time is
//! never lost. Should the SO PIN on file ever stop opening the key, an operator can put
//! the previous one back (`POST /admin/tokens/{serial}/so-pin/restore-previous`).

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::Json;
use certkey_protocol::v1::{
    unlock_confirm_message, UnlockConfirm, UnlockRequest, UnlockResult, UnlockState, UnlockStatus,
    UnlockTicket,
};
use sqlx::Row;
use time::OffsetDateTime;

use crate::api::{internal, AppState, Failure};
use crate::secrets::random_bytes;
use certkey_protocol::ErrorBody;

/// Refuses a `client_key` that is not a SEC1 uncompressed P-256 point on the curve
/// (400 `invalid_client_key`), before anything is stored or handed out.
pub fn check_client_key(bytes: &[u8]) -> Result<(), Failure> {
    if certkey_protocol::wrap::is_valid_client_key(bytes) {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_key",
            "client_key must be an uncompressed P-256 point (65 bytes, 0x04, on the curve)",
        ))
    }
}

fn state_of(s: &str) -> UnlockState {
    match s {
        "approved" => UnlockState::Approved,
        "needs_materials" => UnlockState::NeedsMaterials,
        "rejected" | "superseded" => UnlockState::Rejected,
        "completed" | "failed" => UnlockState::Completed,
        _ => UnlockState::PendingReview,
    }
}

fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Makes (or reuses) the pending new SO PIN of a key; returns it as sealed on file, the
/// value an approved ticket records and its confirm compares.
async fn ensure_next_so_pin(st: &AppState, serial: &str) -> Result<Vec<u8>, Failure> {
    // As long as the current one, which the key accepted.
    let row = sqlx::query("SELECT so_pin FROM tokens WHERE serial = $1")
        .bind(serial)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let current: Vec<u8> = row.try_get(0).map_err(internal)?;
    let len = st
        .data_key
        .open(&current, &format!("token:{serial}:so"))
        .map_err(internal)?
        .len();
    let next = crate::production::random_so_pin(len).map_err(internal)?;
    let sealed = st
        .data_key
        .seal(next.as_bytes(), &format!("token:{serial}:so-next"))
        .map_err(internal)?;
    sqlx::query("UPDATE tokens SET so_pin_next = $2 WHERE serial = $1 AND so_pin_next IS NULL")
        .bind(serial)
        .bind(sealed)
        .execute(&st.db.pool)
        .await
        .map_err(internal)?;
    let row = sqlx::query("SELECT so_pin_next FROM tokens WHERE serial = $1")
        .bind(serial)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let next: Option<Vec<u8>> = row.try_get(0).map_err(internal)?;
    next.ok_or_else(|| internal("pending SO PIN vanished"))
}

/// `POST /unlock`.
#[utoipa::path(post, path = "/api/v1/unlock", tag = "unlock", request_body = UnlockRequest, responses((status = 200, body = UnlockTicket), (status = 403, description = "certificate_revoked", body = ErrorBody), (status = 404, description = "token_not_found, certificate_not_found", body = ErrorBody), (status = 400, description = "bad input", body = ErrorBody), (status = 429, description = "rate limited", body = ErrorBody)))]
pub async fn request(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<UnlockRequest>, JsonRejection>,
) -> Result<Json<UnlockTicket>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let serial = req.token_serial.trim();
    if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_token_serial",
            "token_serial must be 1-64 printable ASCII characters",
        ));
    }
    let h = &req.handler;
    for (what, v, max) in [
        ("name", &h.name, 64),
        ("id_number", &h.id_number, 32),
        ("phone", &h.phone, 20),
    ] {
        if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid_handler",
                format!("handler {what} must be 1-{max} printable characters"),
            ));
        }
    }
    check_client_key(req.client_key.as_bytes())?;
    crate::activation::rate_limit(
        &st,
        &format!("unlock:{}", peer.ip()),
        i64::from(st.settings.rate_limits.unlock_per_minute),
    )
    .await?;
    let token = sqlx::query("SELECT handler_name, handler_id, handler_phone FROM tokens WHERE serial = $1 AND state = 'produced'")
        .bind(serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, "token_not_found", "this CA did not produce that key"))?;
    let cert_serial = req.certificate_serial.trim().to_ascii_lowercase();
    let cert =
        sqlx::query("SELECT revoked_at FROM certificates WHERE serial = $1 AND token_serial = $2")
            .bind(&cert_serial)
            .bind(serial)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::NOT_FOUND,
                    "certificate_not_found",
                    "no such certificate on this key",
                )
            })?;
    let revoked: Option<i64> = cert.try_get(0).map_err(internal)?;
    if revoked.is_some() {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "certificate_revoked",
            "the key's certificate is revoked: offline business",
        ));
    }
    let on_file = (
        norm(&token.try_get::<String, _>(0).map_err(internal)?),
        token
            .try_get::<String, _>(1)
            .map_err(internal)?
            .trim()
            .to_ascii_uppercase(),
        token
            .try_get::<String, _>(2)
            .map_err(internal)?
            .trim()
            .to_string(),
    );
    let matches = on_file
        == (
            norm(&h.name),
            h.id_number.trim().to_ascii_uppercase(),
            h.phone.trim().to_string(),
        );
    let ticket = format!(
        "unl-{}",
        hex::encode(random_bytes::<16>().map_err(internal)?)
    );
    let state = if matches {
        "approved"
    } else {
        "pending_review"
    };
    let released = if matches {
        Some(ensure_next_so_pin(&st, serial).await?)
    } else {
        None
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    sqlx::query(
        "INSERT INTO unlock_tickets (ticket, token_serial, certificate_serial, client_key, handler_match, released_next, state, created_at, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&ticket)
    .bind(serial)
    .bind(&cert_serial)
    .bind(req.client_key.as_bytes().to_vec())
    .bind(i64::from(matches))
    .bind(released)
    .bind(state)
    .bind(now)
    .bind(matches.then_some(now))
    .execute(&st.db.pool)
    .await
    .map_err(internal)?;
    // The handler's details stay out of the log; only whether they matched.
    let _ = st
        .db
        .audit(
            "client",
            "unlock_requested",
            serial,
            &serde_json::json!({"ticket": ticket, "state": state}),
        )
        .await;
    Ok(Json(UnlockTicket {
        ticket,
        state: state_of(state),
    }))
}

/// An unlock ticket as stored.
pub(crate) struct Ticket {
    /// The key it is for.
    pub token_serial: String,
    certificate_serial: String,
    client_key: Vec<u8>,
    /// As stored: `pending_review`, `needs_materials`, `approved`, `rejected`,
    /// `superseded`, `completed`, `failed`.
    pub state: String,
    released_next: Option<Vec<u8>>,
    decided_at: Option<i64>,
    note: Option<String>,
}

impl Ticket {
    /// An approved ticket whose SO PINs were not collected in time.
    fn expired(&self, st: &AppState) -> bool {
        let ttl = i64::from(st.settings.unlock_ticket_minutes) * 60;
        self.state == "approved"
            && self
                .decided_at
                .is_none_or(|at| OffsetDateTime::now_utc().unix_timestamp() > at + ttl)
    }
}

/// The ticket `id`, or 404 `ticket_not_found`.
pub(crate) async fn ticket(st: &AppState, id: &str) -> Result<Ticket, Failure> {
    if id.len() > 64 {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "ticket_not_found",
            "no such unlock ticket",
        ));
    }
    let row =
        sqlx::query("SELECT token_serial, certificate_serial, client_key, state, released_next, decided_at, note FROM unlock_tickets WHERE ticket = $1")
            .bind(id)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::NOT_FOUND,
                    "ticket_not_found",
                    "no such unlock ticket",
                )
            })?;
    Ok(Ticket {
        token_serial: row.try_get(0).map_err(internal)?,
        certificate_serial: row.try_get(1).map_err(internal)?,
        client_key: row.try_get(2).map_err(internal)?,
        state: row.try_get(3).map_err(internal)?,
        released_next: row.try_get(4).map_err(internal)?,
        decided_at: row.try_get(5).map_err(internal)?,
        note: row.try_get(6).map_err(internal)?,
    })
}

/// `GET /unlock/{ticket}`.
#[utoipa::path(get, path = "/api/v1/unlock/{ticket}", tag = "unlock", params(("ticket" = String, Path)), responses((status = 200, body = UnlockStatus), (status = 404, description = "ticket_not_found", body = ErrorBody)))]
pub async fn status(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<UnlockStatus>, Failure> {
    let t = ticket(&st, &id).await?;
    // Whatever the state, the holder sees the operator's note and what they attached.
    let with_state = |state: UnlockState, attachments| UnlockStatus {
        note: t.note.clone(),
        attachments,
        ..UnlockStatus::of(state)
    };
    let attachments = crate::attachments::list(&st, &id).await?;
    if t.state != "approved" {
        return Ok(Json(with_state(state_of(&t.state), attachments)));
    }
    if t.expired(&st) {
        return Ok(Json(with_state(UnlockState::Expired, attachments)));
    }
    let row = sqlx::query("SELECT so_pin, so_pin_next FROM tokens WHERE serial = $1")
        .bind(&t.token_serial)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let current: Vec<u8> = row.try_get(0).map_err(internal)?;
    let pending: Option<Vec<u8>> = row.try_get(1).map_err(internal)?;
    let next = t
        .released_next
        .clone()
        .ok_or_else(|| internal("approved ticket without its SO PIN"))?;
    if pending.as_ref() != Some(&next) {
        // Another ticket committed a rotation since: this one is void.
        return Ok(Json(with_state(UnlockState::Rejected, attachments)));
    }
    let serial = &t.token_serial;
    let current = st
        .data_key
        .open(&current, &format!("token:{serial}:so"))
        .map_err(internal)?;
    let next = st
        .data_key
        .open(&next, &format!("token:{serial}:so-next"))
        .map_err(internal)?;
    let wrap = |secret: &[u8], label: &str| {
        certkey_protocol::wrap::wrap(&t.client_key, secret, format!("{label}:{id}").as_bytes())
            .map_err(internal)
    };
    Ok(Json(UnlockStatus {
        so_pin: Some(wrap(&current, "unlock-so")?),
        new_so_pin: Some(wrap(&next, "unlock-new-so")?),
        ..with_state(UnlockState::Approved, attachments)
    }))
}

/// `POST /unlock/{ticket}/confirm`: commits (or abandons) the SO PIN rotation.
#[utoipa::path(post, path = "/api/v1/unlock/{ticket}/confirm", tag = "unlock", params(("ticket" = String, Path)), request_body = UnlockConfirm, responses((status = 200, body = UnlockStatus), (status = 400, description = "proof_required", body = ErrorBody), (status = 403, description = "proof_invalid", body = ErrorBody), (status = 404, description = "ticket_not_found", body = ErrorBody), (status = 409, description = "invalid_state", body = ErrorBody)))]
pub async fn confirm(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<UnlockConfirm>, JsonRejection>,
) -> Result<Json<UnlockStatus>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let t = ticket(&st, &id).await?;
    // Only the key itself decides the rotation: a signature by the private key of the
    // certificate the request named, which the holder can make only with the new PIN
    // set by this unlock. The handler's details (personal data, no secret) are not
    // enough.
    if t.state == "approved" {
        let Some(proof) = req.proof.as_ref() else {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "proof_required",
                "the confirmation needs the key's signature (see unlock_confirm_message)",
            ));
        };
        verify_key_proof(&st, &t, &id, req.result, proof.as_bytes()).await?;
    }
    match (t.state.as_str(), req.result) {
        ("completed", UnlockResult::Rotated) | ("failed", UnlockResult::Failed) => {
            return Ok(Json(UnlockStatus::of(UnlockState::Completed)))
        }
        ("approved", _) => {}
        _ => {
            return Err(Failure::new(
                StatusCode::CONFLICT,
                "invalid_state",
                "this ticket cannot be confirmed now",
            ))
        }
    }
    let stale = || {
        Failure::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "this ticket was superseded by another unlock",
        )
    };
    let serial = t.token_serial.clone();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    // Every transaction starts with a compare-and-swap write, so concurrent confirms
    // serialise on the row (PostgreSQL) or the database lock (SQLite) and exactly one
    // wins; the loser changes nothing.
    let mut tx = st.db.pool.begin().await.map_err(internal)?;
    let action = match req.result {
        UnlockResult::Rotated => {
            let next = t.released_next.clone().ok_or_else(stale)?;
            let pin = st
                .data_key
                .open(&next, &format!("token:{serial}:so-next"))
                .map_err(internal)?;
            let sealed = st
                .data_key
                .seal(&pin, &format!("token:{serial}:so"))
                .map_err(internal)?;
            let swapped = sqlx::query(
                "UPDATE tokens SET so_pin_prev = so_pin, so_pin = $2, so_pin_next = NULL WHERE serial = $1 AND so_pin_next = $3",
            )
            .bind(&serial)
            .bind(sealed)
            .bind(next)
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected();
            if swapped != 1 {
                return Err(stale());
            }
            let done = sqlx::query("UPDATE unlock_tickets SET state = 'completed', decided_at = $2 WHERE ticket = $1 AND state = 'approved'")
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(internal)?
                .rows_affected();
            if done != 1 {
                return Err(stale());
            }
            // Other approved tickets handed out the PIN just committed: void them.
            sqlx::query("UPDATE unlock_tickets SET state = 'superseded' WHERE token_serial = $1 AND state = 'approved'")
                .bind(&serial)
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            "so_pin_rotated"
        }
        // The key kept its SO PIN: the pending one stays on file for the next attempt.
        UnlockResult::Failed => {
            let done = sqlx::query("UPDATE unlock_tickets SET state = 'failed', decided_at = $2 WHERE ticket = $1 AND state = 'approved'")
                .bind(&id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(internal)?
                .rows_affected();
            if done != 1 {
                return Err(stale());
            }
            "unlock_failed"
        }
    };
    sqlx::query(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, 'client', $2, $3, $4)",
    )
    .bind(now)
    .bind(action)
    .bind(&serial)
    .bind(serde_json::json!({"ticket": id}).to_string())
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(Json(UnlockStatus::of(UnlockState::Completed)))
}

/// Checks `proof` against the certificate the ticket's request named, on record for
/// the ticket's key: 403 `proof_invalid` unless that certificate's key signed
/// [`unlock_confirm_message`] for this ticket, key and result.
async fn verify_key_proof(
    st: &AppState,
    t: &Ticket,
    id: &str,
    result: UnlockResult,
    proof: &[u8],
) -> Result<(), Failure> {
    let invalid = || {
        Failure::new(
            StatusCode::FORBIDDEN,
            "proof_invalid",
            "the confirmation is not signed by the key's certificate for this ticket",
        )
    };
    if proof.is_empty() || proof.len() > 256 {
        return Err(invalid());
    }
    let row = sqlx::query("SELECT der FROM certificates WHERE serial = $1 AND token_serial = $2")
        .bind(&t.certificate_serial)
        .bind(&t.token_serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?
        .ok_or_else(invalid)?;
    let der: Vec<u8> = row.try_get(0).map_err(internal)?;
    let spki = crate::x509::cert_spki(&der).map_err(internal)?;
    let message = unlock_confirm_message(id, &t.token_serial, result);
    crate::x509::verify_signature(&spki, &message, proof).map_err(|_| invalid())
}

/// `POST /admin/tokens/{serial}/so-pin/restore-previous`: swaps the SO PIN on file with
/// the one before the last committed rotation (the pending new SO PIN stays). For a key
/// whose unlock stops with `so_pin_mismatch` because the rotation on file never happened
/// on the key; calling it again swaps back.
#[utoipa::path(post, path = "/api/v1/admin/tokens/{serial}/so-pin/restore-previous", tag = "admin", security(("admin_token" = [])), params(("serial" = String, Path)), responses((status = 200, body = serde_json::Value), (status = 401, body = ErrorBody), (status = 404, description = "token_not_found", body = ErrorBody), (status = 409, description = "no_previous_so_pin", body = ErrorBody)))]
pub async fn restore_previous_so_pin(
    State(st): State<AppState>,
    Path(serial): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            "token_not_found",
            "this CA did not produce that key",
        )
    };
    if serial.is_empty() || serial.len() > 64 {
        return Err(not_found());
    }
    let row = sqlx::query("SELECT so_pin_prev FROM tokens WHERE serial = $1")
        .bind(&serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?
        .ok_or_else(not_found)?;
    let has_prev = row
        .try_get::<Option<Vec<u8>>, _>(0)
        .map_err(internal)?
        .is_some();
    // Both columns are sealed under the same label (`token:<serial>:so`), so a swap of
    // the stored values is enough; both sides of SET read the old row.
    let swapped = has_prev
        && sqlx::query(
            "UPDATE tokens SET so_pin = so_pin_prev, so_pin_prev = so_pin WHERE serial = $1 AND so_pin_prev IS NOT NULL",
        )
        .bind(&serial)
        .execute(&st.db.pool)
        .await
        .map_err(internal)?
        .rows_affected()
            == 1;
    if !swapped {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "no_previous_so_pin",
            "no previous SO PIN is on file for this key",
        ));
    }
    st.db
        .audit(
            "admin",
            "so_pin_restored_previous",
            &serial,
            &serde_json::json!({}),
        )
        .await
        .map_err(internal)?;
    Ok(Json(
        serde_json::json!({"token_serial": serial, "so_pin": "previous_restored"}),
    ))
}

/// `POST /admin/unlock/{ticket}/approve` and `/reject`: decides a request under review
/// or waiting for materials. A rejection stores its `reason` (or none) as the note the
/// holder sees.
pub async fn decide(
    st: &AppState,
    id: &str,
    approve: bool,
    reason: Option<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let t = ticket(st, id).await?;
    if !matches!(t.state.as_str(), "pending_review" | "needs_materials") {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "only a pending request can be decided",
        ));
    }
    let released = if approve {
        Some(ensure_next_so_pin(st, &t.token_serial).await?)
    } else {
        None
    };
    let state = if approve { "approved" } else { "rejected" };
    // An approval keeps the last note; a rejection's note is its reason.
    let decided = sqlx::query(
        "UPDATE unlock_tickets SET state = $2, decided_at = $3, released_next = $4, \
         note = CASE WHEN $2 = 'rejected' THEN $5 ELSE note END \
         WHERE ticket = $1 AND state IN ('pending_review', 'needs_materials')",
    )
    .bind(id)
    .bind(state)
    .bind(OffsetDateTime::now_utc().unix_timestamp())
    .bind(released)
    .bind(reason.as_deref())
    .execute(&st.db.pool)
    .await
    .map_err(internal)?
    .rows_affected();
    if decided != 1 {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "the request was decided in the meantime",
        ));
    }
    st.db
        .audit(
            "admin",
            if approve {
                "unlock_approved"
            } else {
                "unlock_rejected"
            },
            &t.token_serial,
            &serde_json::json!({"ticket": id, "from_state": t.state, "reason_given": reason.is_some()}),
        )
        .await
        .map_err(internal)?;
    let mut answer = serde_json::json!({"ticket": id, "state": state});
    if let Some(r) = reason {
        answer["reason"] = r.into();
    }
    Ok(Json(answer))
}
