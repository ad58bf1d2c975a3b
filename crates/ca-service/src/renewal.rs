//! Online renewal: a challenge nonce, proof of possession by the current key over
//! [`renewal_term_signed_message`] (domain label, certificate serial, the term the
//! holder chose, nonce, CSR; [`renewal_signed_message`] for clients that send no term),
//! and a new certificate that continues the old validity (new not_after = old
//! not_after + the term: 1 to 5 years of 365 days, or without a term the order's).
//! Allowed only while 0 < days_left <= 90 and the certificate is neither revoked nor
//! already renewed. With `require_renewal_entitlement`, only the term paid for (the
//! entitlement's years) is renewed, once. [`quote`] tells a holder all this ahead:
//! whether renewal is open, the price of each term, whether payment is required and
//! on record. `request_id` is the idempotency key: a retry returns the
//! same certificate, and the database's unique constraints make sure a certificate is
//! renewed once. Revocation is checked inside the issuing transaction, on the row it
//! locks, so a revocation that commits before the issuance refuses it and one that
//! comes later waits for it: no certificate is issued for a revoked one.

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::Json;
use certkey_protocol::v1::{
    renewal_signed_message, renewal_term_signed_message, IssuedCertificate, LocalizedText,
    RenewalChallenge, RenewalChallengeRequest, RenewalQuote, RenewalQuoteQuery, RenewalQuoteState,
    RenewalRequest, RenewalTerm,
};
use certkey_protocol::{
    days_left, renewal_opens_at, renewed_not_after, Base64, RENEWAL_TERM_YEARS,
    RENEWAL_WINDOW_DAYS, YEAR_DAYS,
};
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use crate::api::{internal, AppState, Failure};
use crate::x509::{self, DnAttr, DnSpec, KeyAlg, Validity};
use certkey_protocol::ErrorBody;

/// How long a challenge nonce is accepted.
pub const CHALLENGE_SECONDS: i64 = 300;

/// A row of `certificates`.
pub(crate) struct CertRow {
    pub serial: String,
    pub token_serial: String,
    pub order_id: Option<String>,
    pub key_algorithm: String,
    pub der: Vec<u8>,
    pub not_after: i64,
    pub revoked_at: Option<i64>,
}

/// The certificate issued with this serial (lowercase hex), if any.
pub(crate) async fn certificate_row(
    st: &AppState,
    serial: &str,
) -> Result<Option<CertRow>, Failure> {
    let row = sqlx::query(
        "SELECT serial, token_serial, order_id, key_algorithm, der, not_after, revoked_at FROM certificates WHERE serial = $1",
    )
    .bind(serial)
    .fetch_optional(&st.db.pool)
    .await
    .map_err(internal)?;
    row.map(|r| -> Result<CertRow, sqlx::Error> {
        Ok(CertRow {
            serial: r.try_get("serial")?,
            token_serial: r.try_get("token_serial")?,
            order_id: r.try_get("order_id")?,
            key_algorithm: r.try_get("key_algorithm")?,
            der: r.try_get("der")?,
            not_after: r.try_get("not_after")?,
            revoked_at: r.try_get("revoked_at")?,
        })
    })
    .transpose()
    .map_err(internal)
}

fn check_serial_hex(s: &str) -> Result<String, Failure> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() || s.len() > 40 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_certificate_serial",
            "certificate_serial is lowercase hex, at most 20 bytes",
        ));
    }
    Ok(s)
}

fn not_found() -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "certificate_not_found",
        "this CA did not issue that certificate",
    )
}

fn revoked() -> Failure {
    Failure::new(
        StatusCode::FORBIDDEN,
        "certificate_revoked",
        "a revoked certificate cannot be renewed",
    )
}

/// Refuses certificates already renewed or outside the renewal window, and revoked
/// ones when `check_revoked` (the issuing transaction checks revocation again, on the
/// row it locks: see [`renew`]).
async fn check_renewable(
    st: &AppState,
    c: &CertRow,
    now: OffsetDateTime,
    check_revoked: bool,
) -> Result<(), Failure> {
    if check_revoked && c.revoked_at.is_some() {
        return Err(revoked());
    }
    let replaced = sqlx::query("SELECT new_serial FROM renewals WHERE old_serial = $1")
        .bind(&c.serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    if replaced.is_some() {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "already_renewed",
            "this certificate was already renewed",
        ));
    }
    let not_after = OffsetDateTime::from_unix_timestamp(c.not_after).map_err(internal)?;
    let left = days_left(not_after, now);
    if left <= 0 || left > RENEWAL_WINDOW_DAYS {
        let mut f = Failure::new(
            StatusCode::FORBIDDEN,
            if left <= 0 { "certificate_expired" } else { "renewal_not_open" },
            format!("online renewal is open while 0 < days left <= {RENEWAL_WINDOW_DAYS}; this certificate has {left}"),
        );
        f.body_mut().days_left = Some(left);
        return Err(f);
    }
    Ok(())
}

/// `POST /renewal/challenge`.
#[utoipa::path(post, path = "/api/v1/renewal/challenge", tag = "renewal", request_body = RenewalChallengeRequest, responses((status = 200, body = RenewalChallenge), (status = 403, description = "renewal_not_open, certificate_expired (days_left), certificate_revoked", body = ErrorBody), (status = 404, description = "certificate_not_found", body = ErrorBody), (status = 409, description = "already_renewed", body = ErrorBody), (status = 400, description = "bad input", body = ErrorBody), (status = 429, description = "rate limited", body = ErrorBody)))]
pub async fn challenge(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<RenewalChallengeRequest>, JsonRejection>,
) -> Result<Json<RenewalChallenge>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let serial = check_serial_hex(&req.certificate_serial)?;
    crate::activation::rate_limit(
        &st,
        &format!("renewal:{}", peer.ip()),
        i64::from(st.settings.rate_limits.renewal_per_minute),
    )
    .await?;
    let c = certificate_row(&st, &serial).await?.ok_or_else(not_found)?;
    let now = OffsetDateTime::now_utc();
    check_renewable(&st, &c, now, true).await?;
    let nonce = crate::secrets::random_bytes::<32>().map_err(internal)?;
    let expires = now + Duration::seconds(CHALLENGE_SECONDS);
    sqlx::query("INSERT INTO challenges (nonce, certificate_serial, expires_at, used) VALUES ($1, $2, $3, 0)")
        .bind(hex::encode(nonce))
        .bind(&serial)
        .bind(expires.unix_timestamp())
        .execute(&st.db.pool)
        .await
        .map_err(internal)?;
    Ok(Json(RenewalChallenge {
        nonce: Base64(nonce.to_vec()),
        expires_at: expires,
    }))
}

/// The unused paid renewal of a certificate: its term in years.
async fn paid_years(conn: &mut sqlx::AnyConnection, serial: &str) -> Result<Option<u32>, Failure> {
    let row = sqlx::query(
        "SELECT years FROM entitlements WHERE certificate_serial = $1 AND used_at IS NULL",
    )
    .bind(serial)
    .fetch_optional(conn)
    .await
    .map_err(internal)?;
    row.map(|r| r.try_get::<i64, _>(0))
        .transpose()
        .map_err(internal)
        .map(|y| y.map(|y| u32::try_from(y).unwrap_or(0)))
}

/// `GET /renewal/quote`: whether the certificate can be renewed online now, the price
/// of each term for its type, and whether a paid renewal is required and on record.
#[utoipa::path(get, path = "/api/v1/renewal/quote", tag = "renewal", params(RenewalQuoteQuery), responses((status = 200, body = RenewalQuote), (status = 404, description = "certificate_not_found", body = ErrorBody), (status = 400, description = "invalid_certificate_serial, invalid_query", body = ErrorBody)))]
pub async fn quote(
    State(st): State<AppState>,
    q: Result<Query<RenewalQuoteQuery>, QueryRejection>,
) -> Result<Json<RenewalQuote>, Failure> {
    let Query(q) =
        q.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))?;
    let serial = check_serial_hex(&q.certificate_serial)?;
    let c = certificate_row(&st, &serial).await?.ok_or_else(not_found)?;
    let now = OffsetDateTime::now_utc();
    let not_after = OffsetDateTime::from_unix_timestamp(c.not_after).map_err(internal)?;
    let left = days_left(not_after, now);
    let renewed = sqlx::query("SELECT new_serial FROM renewals WHERE old_serial = $1")
        .bind(&c.serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?
        .is_some();
    let state = if c.revoked_at.is_some() {
        RenewalQuoteState::Revoked
    } else if renewed {
        RenewalQuoteState::Renewed
    } else if left <= 0 {
        RenewalQuoteState::Expired
    } else if left > RENEWAL_WINDOW_DAYS {
        RenewalQuoteState::NotYetOpen
    } else {
        RenewalQuoteState::Open
    };
    let order_id = c
        .order_id
        .as_deref()
        .ok_or_else(|| internal("certificate without order"))?;
    let row = sqlx::query("SELECT cert_type FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let cert_type = crate::activation::cert_type(&row.try_get::<String, _>(0).map_err(internal)?);
    let mut conn = st.db.pool.acquire().await.map_err(internal)?;
    let paid = paid_years(&mut conn, &c.serial).await?;
    drop(conn);
    let r = &st.settings.renewal;
    let prices = r.prices.of(cert_type);
    let terms = RENEWAL_TERM_YEARS
        .zip(prices.iter())
        .map(|(years, price)| RenewalTerm {
            years,
            price: *price,
            not_after: renewed_not_after(not_after, years),
        })
        .collect();
    let required = st.settings.require_renewal_entitlement;
    Ok(Json(RenewalQuote {
        certificate_serial: c.serial,
        cert_type,
        not_after,
        days_left: left,
        state,
        opens_at: (state == RenewalQuoteState::NotYetOpen).then(|| renewal_opens_at(not_after)),
        currency: r.currency.clone(),
        terms,
        payment_required: required,
        paid_years: paid,
        payment_instructions: (required && paid.is_none()).then(|| LocalizedText {
            zh_cn: r.payment_instructions.zh_cn.clone(),
            en: r.payment_instructions.en.clone(),
        }),
    }))
}

async fn answer(st: &AppState, new_serial: &str) -> Result<Json<IssuedCertificate>, Failure> {
    let c = certificate_row(st, new_serial)
        .await?
        .ok_or_else(|| internal("renewed certificate missing"))?;
    let alg = if c.key_algorithm == "sm2" {
        KeyAlg::Sm2
    } else {
        KeyAlg::P256
    };
    Ok(Json(st.ca.get(alg).issued(c.der)))
}

async fn replay(
    st: &AppState,
    request_id: &str,
    old_serial: &str,
) -> Result<Option<Json<IssuedCertificate>>, Failure> {
    let row = sqlx::query("SELECT old_serial, new_serial FROM renewals WHERE request_id = $1")
        .bind(request_id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    let Some(row) = row else { return Ok(None) };
    let old: String = row.try_get(0).map_err(internal)?;
    let new: String = row.try_get(1).map_err(internal)?;
    if old != old_serial {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "request_id_reused",
            "this request_id belongs to another certificate",
        ));
    }
    answer(st, &new).await.map(Some)
}

/// `POST /renewal`.
#[utoipa::path(post, path = "/api/v1/renewal", tag = "renewal", request_body = RenewalRequest, responses((status = 200, body = IssuedCertificate), (status = 402, description = "renewal_entitlement_required", body = ErrorBody), (status = 403, description = "proof_invalid, challenge_invalid, renewal_not_open, certificate_revoked", body = ErrorBody), (status = 404, description = "certificate_not_found", body = ErrorBody), (status = 409, description = "already_renewed, request_id_reused, renewal_term_mismatch (paid_years)", body = ErrorBody), (status = 400, description = "bad input, invalid_term", body = ErrorBody), (status = 429, description = "rate limited", body = ErrorBody)))]
pub async fn renew(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<RenewalRequest>, JsonRejection>,
) -> Result<Json<IssuedCertificate>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let rid = req.request_id.as_str();
    if rid.is_empty()
        || rid.len() > 64
        || !rid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_id",
            "request_id is 1-64 of [A-Za-z0-9_-]",
        ));
    }
    if req.years.is_some_and(|y| !RENEWAL_TERM_YEARS.contains(&y)) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_term",
            "years is the renewal term, 1 to 5",
        ));
    }
    crate::activation::rate_limit(
        &st,
        &format!("renewal:{}", peer.ip()),
        i64::from(st.settings.rate_limits.renewal_per_minute),
    )
    .await?;
    let parsed = x509_parser_serial(req.certificate.as_bytes())?;
    let c = certificate_row(&st, &parsed).await?.ok_or_else(not_found)?;
    if c.der != req.certificate.as_bytes() {
        return Err(not_found());
    }
    // A retry is answered from the record, whatever has happened since.
    if let Some(done) = replay(&st, rid, &c.serial).await? {
        return Ok(done);
    }
    let now = OffsetDateTime::now_utc();
    // Revocation is decided inside the issuing transaction (below), nowhere else, so
    // that one check is the one that counts.
    check_renewable(&st, &c, now, false).await?;
    let nonce_hex = hex::encode(req.nonce.as_bytes());
    let row =
        sqlx::query("SELECT certificate_serial, expires_at, used FROM challenges WHERE nonce = $1")
            .bind(&nonce_hex)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::FORBIDDEN,
                    "challenge_invalid",
                    "unknown nonce: ask for a new challenge",
                )
            })?;
    let for_serial: String = row.try_get(0).map_err(internal)?;
    let expires_at: i64 = row.try_get(1).map_err(internal)?;
    let used: i64 = row.try_get(2).map_err(internal)?;
    if for_serial != c.serial || used != 0 || expires_at < now.unix_timestamp() {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "challenge_invalid",
            "the nonce is expired, used, or for another certificate",
        ));
    }
    // Proof of possession: the current key signs the domain label, this certificate's
    // serial, the term asked for, the nonce and the CSR.
    let spki = x509::cert_spki(&c.der).map_err(internal)?;
    let (nonce, csr) = (req.nonce.as_bytes(), req.csr.as_bytes());
    let signed = match req.years {
        Some(years) => renewal_term_signed_message(&c.serial, years, nonce, csr),
        None => renewal_signed_message(&c.serial, nonce, csr),
    };
    x509::verify_signature(&spki, &signed, req.signature.as_bytes()).map_err(|_| {
        Failure::new(
            StatusCode::FORBIDDEN,
            "proof_invalid",
            "the signature does not verify with the current certificate's key",
        )
    })?;
    let csr = x509::verify_csr(req.csr.as_bytes()).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "csr_invalid",
            format!("the CSR is not acceptable: {e}"),
        )
    })?;
    let alg = if c.key_algorithm == "sm2" {
        KeyAlg::Sm2
    } else {
        KeyAlg::P256
    };
    if csr.alg != alg {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "csr_key_mismatch",
            "the new key must use the current certificate's algorithm",
        ));
    }
    // The order gives the subject, and the term when the request names none.
    let order_id = c
        .order_id
        .clone()
        .ok_or_else(|| internal("certificate without order"))?;
    let row = sqlx::query("SELECT holder, org, years, days FROM orders WHERE id = $1")
        .bind(&order_id)
        .fetch_one(&st.db.pool)
        .await
        .map_err(internal)?;
    let holder: String = row.try_get(0).map_err(internal)?;
    let org: Option<String> = row.try_get(1).map_err(internal)?;
    let years: i64 = row.try_get(2).map_err(internal)?;
    let days: Option<i64> = row.try_get(3).map_err(internal)?;
    let order_term = days
        .map(Duration::days)
        .unwrap_or_else(|| Duration::days(YEAR_DAYS * years));
    let mut dn = vec![(DnAttr::C, "CN".to_string())];
    if let Some(o) = org {
        dn.push((DnAttr::O, o));
    }
    dn.push((DnAttr::CN, holder));

    let mut tx = st.db.pool.begin().await.map_err(internal)?;
    // The certificate must still be unrevoked, checked by a write on its row: the row
    // stays locked until the commit (PostgreSQL row lock, SQLite's write lock), so an
    // admin revocation either committed before (nothing is issued) or waits until this
    // renewal is done.
    let unrevoked = sqlx::query(
        "UPDATE certificates SET revoked_at = revoked_at WHERE serial = $1 AND revoked_at IS NULL",
    )
    .bind(&c.serial)
    .execute(&mut *tx)
    .await
    .map_err(internal)?
    .rows_affected();
    if unrevoked != 1 {
        return Err(revoked());
    }
    let claimed = sqlx::query("UPDATE challenges SET used = 1 WHERE nonce = $1 AND used = 0")
        .bind(&nonce_hex)
        .execute(&mut *tx)
        .await
        .map_err(internal)?
        .rows_affected();
    if claimed != 1 {
        drop(tx);
        // A concurrent retry of the same request may have used the nonce.
        if let Some(done) = replay(&st, rid, &c.serial).await? {
            return Ok(done);
        }
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "challenge_invalid",
            "the nonce was already used",
        ));
    }
    // While payment is required, the paid term and no other (by default, the paid one).
    let years = if st.settings.require_renewal_entitlement {
        let unpaid = || {
            Failure::new(
                StatusCode::PAYMENT_REQUIRED,
                "renewal_entitlement_required",
                "renewal of this certificate has not been paid for",
            )
        };
        let paid = paid_years(&mut tx, &c.serial).await?.ok_or_else(unpaid)?;
        let years = req.years.unwrap_or(paid);
        if years != paid {
            let mut f = Failure::new(
                StatusCode::CONFLICT,
                "renewal_term_mismatch",
                format!("the renewal was paid for {paid} year(s), not {years}"),
            );
            f.body_mut().paid_years = Some(paid);
            return Err(f);
        }
        let used = sqlx::query("UPDATE entitlements SET used_at = $2 WHERE certificate_serial = $1 AND used_at IS NULL AND years = $3")
            .bind(&c.serial)
            .bind(now.unix_timestamp())
            .bind(i64::from(years))
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected();
        if used != 1 {
            return Err(unpaid());
        }
        Some(years)
    } else {
        req.years
    };
    let old_not_after = OffsetDateTime::from_unix_timestamp(c.not_after).map_err(internal)?;
    let not_after = match years {
        Some(years) => renewed_not_after(old_not_after, years),
        None => old_not_after + order_term,
    };
    let validity = Validity {
        not_before: now - Duration::minutes(5),
        not_after,
    };
    let h = st.ca.get(alg);
    let serial = x509::random_serial().map_err(internal)?;
    let serial_hex = hex::encode(serial);
    // The renewal is claimed (old serial unique) before anything is signed: a lost
    // race never leaves a signed certificate that is not on record.
    let recorded = sqlx::query("INSERT INTO renewals (request_id, old_serial, new_serial, created_at) VALUES ($1, $2, $3, $4)")
        .bind(rid)
        .bind(&c.serial)
        .bind(&serial_hex)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await;
    if let Err(e) = recorded {
        let unique = e
            .as_database_error()
            .is_some_and(|d| d.is_unique_violation());
        if !unique {
            return Err(internal(e));
        }
        // Unique constraint: the same request (or another one) renewed it meanwhile.
        drop(tx);
        if let Some(done) = replay(&st, rid, &c.serial).await? {
            return Ok(done);
        }
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "already_renewed",
            "this certificate was already renewed",
        ));
    }
    let der = crate::api::issue_and_record(
        &mut tx,
        h,
        &crate::api::Issue {
            subject: &DnSpec(dn),
            spki_der: &csr.spki_der,
            serial: &serial,
            validity,
            token_serial: &c.token_serial,
            order_id: &order_id,
            key_algorithm: &c.key_algorithm,
        },
    )
    .await?;
    sqlx::query("INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, 'client', 'certificate_renewed', $2, $3)")
        .bind(now.unix_timestamp())
        .bind(&c.serial)
        .bind(serde_json::json!({"new": serial_hex, "request_id": rid, "years": years}).to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(Json(h.issued(der)))
}

/// The serial (lowercase hex, no leading zero bytes) of a DER certificate.
fn x509_parser_serial(der: &[u8]) -> Result<String, Failure> {
    x509::cert_serial_hex(der).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "certificate_invalid",
            format!("the certificate does not parse: {e}"),
        )
    })
}
