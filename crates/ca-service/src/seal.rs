//! `POST /seal`: the one electronic seal of a certificate. The holder signs the request
//! with the certificate's key; the service checks and normalises the picture, builds a
//! GB/T 38540 SESeal (version 4) that lists the holder's certificate, signs it with the
//! seal-maker key of the certificate's algorithm and records it. The table's primary
//! key is the certificate serial, so a second seal is impossible; the same request sent
//! again (a retry after a lost answer) gets the recorded seal back.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use certkey_protocol::v1::{seal_signed_message, SealRequest, SealResponse};
use certkey_protocol::{Base64, CertType, ErrorBody};
use certkey_seal::{CertList, Form, Picture, Seal, SealInfo, SealType};
use sha2::Digest;
use sqlx::Row;
use time::OffsetDateTime;

use crate::api::{internal, AppState, Failure};
use crate::x509::{self, KeyAlg};

/// Longest seal name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The `vid` (vendor id) written into every seal header.
pub const VENDOR_ID: &str = "CertKey";

fn bad(code: &str, message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, code, message)
}

fn check_name(name: &str) -> Result<(), Failure> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > MAX_NAME_CHARS || !name.chars().all(certkey_seal::name_char_ok)
    {
        return Err(bad(
            "invalid_seal_name",
            format!("name must be 1-{MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(())
}

/// The recorded seal of a certificate, or a conflict when another request made it.
async fn recorded(
    st: &AppState,
    serial: &str,
    request_sha256: &[u8],
) -> Result<Option<SealResponse>, Failure> {
    let row = sqlx::query("SELECT request_sha256, seal FROM seals WHERE certificate_serial = $1")
        .bind(serial)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(internal)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored_hash: Vec<u8> = row.try_get(0).map_err(internal)?;
    let seal: Vec<u8> = row.try_get(1).map_err(internal)?;
    if stored_hash != request_sha256 {
        // Only called after the request's signature by the certificate's key was
        // checked: its holder may have the existing seal (the one seal stays one).
        let mut f = Failure::new(
            StatusCode::CONFLICT,
            "seal_exists",
            "this certificate already has its electronic seal; another seal needs another certificate",
        );
        f.body_mut().seal = Some(Base64(seal));
        return Err(f);
    }
    Ok(Some(SealResponse { seal: Base64(seal) }))
}

/// `POST /seal`.
#[utoipa::path(post, path = "/api/v1/seal", tag = "seal", request_body = SealRequest,
    responses((status = 200, body = SealResponse, description = "the seal (the same one again for a repeated request)"),
              (status = 400, description = "certificate_invalid, signature_invalid, invalid_seal_name, seal_size, image_format, image_corrupt, image_dimensions, image_too_large, image_empty", body = ErrorBody),
              (status = 403, description = "certificate_revoked, certificate_expired", body = ErrorBody),
              (status = 404, description = "certificate_not_found", body = ErrorBody),
              (status = 409, description = "seal_exists", body = ErrorBody),
              (status = 429, description = "rate limited", body = ErrorBody)))]
pub async fn make(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<SealRequest>, JsonRejection>,
) -> Result<Json<SealResponse>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    crate::activation::rate_limit(
        &st,
        &format!("seal:{}", peer.ip()),
        i64::from(st.settings.rate_limits.seal_per_minute),
    )
    .await?;
    let cert_der = req.certificate.as_bytes();
    let serial = x509::cert_serial_hex(cert_der)
        .map_err(|e| bad("certificate_invalid", format!("not a certificate: {e}")))?;
    let cert = crate::renewal::certificate_row(&st, &serial)
        .await?
        .filter(|c| c.der == cert_der)
        .ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                "certificate_not_found",
                "this CA did not issue that certificate",
            )
        })?;
    let now = OffsetDateTime::now_utc();
    if cert.revoked_at.is_some() {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "certificate_revoked",
            "a revoked certificate cannot get a seal",
        ));
    }
    if cert.not_after <= now.unix_timestamp() {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            "certificate_expired",
            "an expired certificate cannot get a seal",
        ));
    }
    check_name(&req.name)?;
    let message = seal_signed_message(req.width_mm, req.height_mm, &req.name, req.image.as_bytes());
    let spki = x509::cert_spki(cert_der).map_err(internal)?;
    x509::verify_signature(&spki, &message, req.signature.as_bytes()).map_err(|_| {
        bad(
            "signature_invalid",
            "signature is not the certificate key's signature over this request",
        )
    })?;
    let request_sha256 = sha2::Sha256::digest(&message).to_vec();
    if let Some(done) = recorded(&st, &serial, &request_sha256).await? {
        return Ok(Json(done));
    }

    // Decoding and scaling a picture is CPU work: off the async workers.
    let (w, h) = (req.width_mm, req.height_mm);
    let image = req.image.0;
    let picture = tokio::task::spawn_blocking(move || {
        certkey_seal::normalise(&image, w, h, &certkey_seal::ImageLimits::default())
    })
    .await
    .map_err(internal)?
    .map_err(|e| bad(e.code(), e.to_string()))?;

    let cert_type = match &cert.order_id {
        Some(id) => sqlx::query("SELECT cert_type FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(internal)?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()
            .map_err(internal)?,
        None => None,
    };
    let seal_type = if cert_type.as_deref() == Some(CertType::Organisation.as_str()) {
        SealType::Organisation
    } else {
        SealType::Personal
    };
    let alg = if cert.key_algorithm == "sm2" {
        KeyAlg::Sm2
    } else {
        KeyAlg::P256
    };
    let maker = st.ca.get(alg);
    let sign_alg = match alg {
        KeyAlg::Sm2 => certkey_seal::OID_SM3_WITH_SM2,
        KeyAlg::P256 => certkey_seal::OID_ECDSA_WITH_SHA256,
    };
    let es_id = format!("CK{}", serial.to_ascii_uppercase());
    let info = SealInfo {
        version: certkey_seal::VERSION_2020,
        vid: VENDOR_ID.into(),
        es_id: es_id.clone(),
        seal_type,
        name: req.name.clone(),
        certs: CertList::Certs(vec![cert.der.clone()]),
        create_date: now,
        valid_start: now,
        valid_end: OffsetDateTime::from_unix_timestamp(cert.not_after).map_err(internal)?,
        picture: Picture {
            kind: "PNG".into(),
            data: picture.png,
            width_mm: w,
            height_mm: h,
        },
        ext: Vec::new(),
    };
    let tbs = info
        .to_be_signed(&maker.seal_cert_der, sign_alg)
        .map_err(internal)?;
    let signature = maker.seal_key.sign(&tbs).map_err(internal)?;
    let der = Seal::new(
        Form::V4,
        info,
        maker.seal_cert_der.clone(),
        sign_alg,
        signature,
    )
    .encode()
    .map_err(internal)?;

    let mut tx = st.db.pool.begin().await.map_err(internal)?;
    let inserted = sqlx::query(
        "INSERT INTO seals (certificate_serial, request_sha256, es_id, seal, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&serial)
    .bind(request_sha256.clone())
    .bind(&es_id)
    .bind(der.clone())
    .bind(now.unix_timestamp())
    .execute(&mut *tx)
    .await;
    if let Err(e) = inserted {
        if !e
            .as_database_error()
            .is_some_and(|d| d.is_unique_violation())
        {
            return Err(internal(e));
        }
        // Another request made this certificate's seal meanwhile.
        drop(tx);
        return match recorded(&st, &serial, &request_sha256).await? {
            Some(done) => Ok(Json(done)),
            None => Err(internal("seal vanished after a unique violation")),
        };
    }
    sqlx::query("INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, 'client', 'seal_made', $2, $3)")
        .bind(now.unix_timestamp())
        .bind(&serial)
        .bind(
            serde_json::json!({
                "es_id": es_id,
                "token": cert.token_serial,
                "width_mm": w,
                "height_mm": h,
                "picture_px": [picture.width_px, picture.height_px],
            })
            .to_string(),
        )
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(Json(SealResponse { seal: Base64(der) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("广东测试有限公司").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("   ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name(&"章".repeat(65)).is_err());
        assert!(check_name(&"章".repeat(64)).is_ok());
        assert!(check_name("广东\u{202E}司公").is_err());
    }
}
