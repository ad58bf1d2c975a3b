//! Materials for an unlock request under review. A CA operator may ask for them
//! (`POST /admin/unlock/{ticket}/request-materials`, state `needs_materials`, the
//! operator's note saying what); the holder attaches scans with
//! `POST /unlock/{ticket}/attachments` (the unguessable ticket is the capability, as for
//! `GET /unlock/{ticket}`), which puts the request back under review; the operator lists
//! and fetches them through the admin API.
//!
//! A scan is a PDF, JPEG or PNG by its content ([`certkey_protocol::sniff`]), never by
//! its name; at most 5 MiB and 5 per request; stored in the database with the request
//! and pruned with it. Uploads and fetches are audited without the file's name or bytes
//! (personal data).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use certkey_protocol::{
    check_file_name, sniff, AttachmentInfo, AttachmentType, AttachmentUpload, ErrorBody,
    MAX_ATTACHMENTS, MAX_ATTACHMENT_BYTES,
};
use sha2::Digest;
use sqlx::Row;
use time::OffsetDateTime;

use crate::api::{internal, AppState, Failure};

/// Largest body of `POST /unlock/{ticket}/attachments`: a 5 MiB file in base64, with
/// room for the rest of the JSON. A file just over 5 MiB still fits, so that it gets
/// `attachment_too_large` rather than a bare `payload_too_large`.
pub const UPLOAD_BODY_LIMIT: usize = MAX_ATTACHMENT_BYTES.div_ceil(3) * 4 + 16 * 1024;

/// Longest operator note (a materials request or a rejection reason), in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// An operator's note as stored: trimmed, line ends as `\n`, at most
/// [`MAX_NOTE_CHARS`] characters, no control characters but the line end. Blank is
/// `None`. `field` names it in the error (400 `invalid_note`).
pub fn check_note(field: &str, text: Option<&str>) -> Result<Option<String>, Failure> {
    let Some(text) = text else { return Ok(None) };
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().count() > MAX_NOTE_CHARS || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_note",
            format!(
                "{field} must be at most {MAX_NOTE_CHARS} characters without control characters (line breaks allowed)"
            ),
        ));
    }
    Ok(Some(text.to_string()))
}

fn not_pending() -> Failure {
    Failure::new(
        StatusCode::CONFLICT,
        "unlock_not_pending",
        "materials are taken only while the request is under review or materials were asked for",
    )
}

/// The attachments of a ticket, oldest first (without their content).
pub async fn list(st: &AppState, ticket: &str) -> Result<Vec<AttachmentInfo>, Failure> {
    let rows = sqlx::query(
        "SELECT id, file_name, media_type, size, sha256, created_at FROM unlock_attachments \
         WHERE ticket = $1 ORDER BY id",
    )
    .bind(ticket)
    .fetch_all(&st.db.pool)
    .await
    .map_err(internal)?;
    rows.iter()
        .map(|r| {
            let media: String = r.try_get(2).map_err(internal)?;
            Ok(AttachmentInfo {
                id: r.try_get(0).map_err(internal)?,
                file_name: r.try_get(1).map_err(internal)?,
                media_type: AttachmentType::from_name(&media)
                    .ok_or_else(|| internal(format!("stored media type {media:?}")))?,
                size: u64::try_from(r.try_get::<i64, _>(3).map_err(internal)?).unwrap_or(0),
                sha256: r.try_get(4).map_err(internal)?,
                uploaded_at: r.try_get(5).map_err(internal)?,
            })
        })
        .collect()
}

/// `POST /unlock/{ticket}/attachments`: one scan for a request under review.
#[utoipa::path(post, path = "/api/v1/unlock/{ticket}/attachments", tag = "unlock", params(("ticket" = String, Path)), request_body = AttachmentUpload,
    responses((status = 201, body = AttachmentInfo, description = "stored; a request that needed materials is back under review"),
              (status = 400, description = "invalid_file_name, malformed_json", body = ErrorBody),
              (status = 404, description = "ticket_not_found", body = ErrorBody),
              (status = 409, description = "unlock_not_pending (not under review, nor needing materials), attachment_limit (5 already)", body = ErrorBody),
              (status = 413, description = "attachment_too_large (over 5 MiB), payload_too_large", body = ErrorBody),
              (status = 422, description = "attachment_type (not a PDF, JPEG or PNG by its content), invalid_body", body = ErrorBody)))]
pub async fn upload(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<AttachmentUpload>, JsonRejection>,
) -> Result<(StatusCode, Json<AttachmentInfo>), Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let t = crate::unlock::ticket(&st, &id).await?;
    if !matches!(t.state.as_str(), "pending_review" | "needs_materials") {
        return Err(not_pending());
    }
    let file_name = check_file_name(&req.file_name).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_file_name",
            format!("file_name: {e}"),
        )
    })?;
    let data = req.data.0;
    if data.len() > MAX_ATTACHMENT_BYTES {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "attachment_too_large",
            format!("an attachment is at most {MAX_ATTACHMENT_BYTES} bytes"),
        ));
    }
    let kind = sniff(&data).ok_or_else(|| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_type",
            "an attachment must be a PDF, JPEG or PNG file (by its content)",
        )
    })?;
    let sha256 = hex::encode(sha2::Sha256::digest(&data));
    let size = data.len();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    // The transaction starts with a compare-and-swap write on the ticket, so uploads to
    // one ticket serialise on its row (PostgreSQL) or the database lock (SQLite): the
    // count below cannot be passed by a concurrent upload, and an operator's decision
    // in between wins.
    let mut tx = st.db.pool.begin().await.map_err(internal)?;
    let open = sqlx::query(
        "UPDATE unlock_tickets SET state = 'pending_review' \
         WHERE ticket = $1 AND state IN ('pending_review', 'needs_materials')",
    )
    .bind(&id)
    .execute(&mut *tx)
    .await
    .map_err(internal)?
    .rows_affected();
    if open != 1 {
        return Err(not_pending());
    }
    let count: i64 = sqlx::query("SELECT COUNT(*) FROM unlock_attachments WHERE ticket = $1")
        .bind(&id)
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?
        .try_get(0)
        .map_err(internal)?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_ATTACHMENTS {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "attachment_limit",
            format!("an unlock request takes at most {MAX_ATTACHMENTS} attachments"),
        ));
    }
    let row = sqlx::query(
        "INSERT INTO unlock_attachments (ticket, file_name, media_type, size, sha256, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(&id)
    .bind(&file_name)
    .bind(kind.as_str())
    .bind(i64::try_from(size).map_err(internal)?)
    .bind(&sha256)
    .bind(data)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(internal)?;
    let attachment_id: i64 = row.try_get(0).map_err(internal)?;
    // No file name (it may name the person) and no content in the log.
    sqlx::query(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, 'client', 'unlock_attachment_uploaded', $2, $3)",
    )
    .bind(now)
    .bind(&t.token_serial)
    .bind(
        serde_json::json!({
            "ticket": id, "attachment": attachment_id, "media_type": kind.as_str(),
            "size": size, "sha256": sha256, "from_state": t.state,
        })
        .to_string(),
    )
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok((
        StatusCode::CREATED,
        Json(AttachmentInfo {
            id: attachment_id,
            file_name,
            media_type: kind,
            size: size as u64,
            sha256,
            uploaded_at: now,
        }),
    ))
}

/// `GET /admin/unlock/{ticket}/attachments`: what the holder attached, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/unlock/{ticket}/attachments", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path)),
    responses((status = 200, body = Vec<AttachmentInfo>), (status = 401, body = ErrorBody), (status = 404, description = "ticket_not_found", body = ErrorBody)))]
pub async fn admin_list(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<AttachmentInfo>>, Failure> {
    crate::unlock::ticket(&st, &id).await?;
    Ok(Json(list(&st, &id).await?))
}

/// `filename*` of RFC 6266 / RFC 8187: UTF-8, every byte outside `attr-char`
/// percent-encoded.
fn content_disposition(file_name: &str) -> String {
    let mut v = String::from("attachment; filename*=UTF-8''");
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            v.push(char::from(b));
        } else {
            v.push_str(&format!("%{b:02X}"));
        }
    }
    v
}

/// A file's bytes, in the OpenAPI document.
struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for FileBytes {}

/// `GET /admin/unlock/{ticket}/attachments/{id}`: the file itself, with its sniffed
/// media type, as a download (never rendered in place: `nosniff`, `attachment`).
#[utoipa::path(get, path = "/api/v1/admin/unlock/{ticket}/attachments/{id}", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path), ("id" = i64, Path)),
    responses((status = 200, description = "the file, of its sniffed type, as a download", content((inline(FileBytes) = "application/pdf"), (inline(FileBytes) = "image/jpeg"), (inline(FileBytes) = "image/png"))),
              (status = 401, body = ErrorBody), (status = 404, description = "ticket_not_found, attachment_not_found", body = ErrorBody)))]
pub async fn admin_fetch(
    State(st): State<AppState>,
    Path((ticket, attachment)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let t = crate::unlock::ticket(&st, &ticket).await?;
    let not_found = || {
        Failure::new(
            StatusCode::NOT_FOUND,
            "attachment_not_found",
            "no such attachment on this unlock request",
        )
    };
    let attachment: i64 = attachment.parse().map_err(|_| not_found())?;
    let row = sqlx::query(
        "SELECT file_name, media_type, data FROM unlock_attachments WHERE id = $1 AND ticket = $2",
    )
    .bind(attachment)
    .bind(&ticket)
    .fetch_optional(&st.db.pool)
    .await
    .map_err(internal)?
    .ok_or_else(not_found)?;
    let file_name: String = row.try_get(0).map_err(internal)?;
    let media: String = row.try_get(1).map_err(internal)?;
    let data: Vec<u8> = row.try_get(2).map_err(internal)?;
    // The type is the content's, as checked when it arrived (and again now).
    let kind = sniff(&data)
        .filter(|k| k.as_str() == media)
        .ok_or_else(|| internal(format!("attachment {attachment} does not match its type")))?;
    st.db
        .audit(
            "admin",
            "unlock_attachment_fetched",
            &t.token_serial,
            &serde_json::json!({"ticket": ticket, "attachment": attachment}),
        )
        .await
        .map_err(internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.media_type().to_string()),
            (header::CONTENT_DISPOSITION, content_disposition(&file_name)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        data,
    )
        .into_response())
}

/// `POST /admin/unlock/{ticket}/request-materials` body.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialsRequest {
    /// What the holder should attach, shown to them (at most 500 characters).
    pub note: String,
}

/// `POST /admin/unlock/{ticket}/request-materials`: ask the holder for materials; only
/// while the request is under review. The holder sees the note, and an upload puts the
/// request back under review.
#[utoipa::path(post, path = "/api/v1/admin/unlock/{ticket}/request-materials", tag = "admin", security(("admin_token" = [])), params(("ticket" = String, Path)), request_body = MaterialsRequest,
    responses((status = 200, body = serde_json::Value, description = "ticket, state (needs_materials), note"),
              (status = 400, description = "invalid_note", body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "ticket_not_found", body = ErrorBody),
              (status = 409, description = "invalid_state: only a request under review", body = ErrorBody), (status = 422, description = "invalid_body", body = ErrorBody)))]
pub async fn request_materials(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<MaterialsRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, Failure> {
    let Json(req) = body.map_err(Failure::from)?;
    let note = check_note("note", Some(&req.note))?.ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_note",
            "note must say which materials to attach",
        )
    })?;
    let t = crate::unlock::ticket(&st, &id).await?;
    let n = sqlx::query(
        "UPDATE unlock_tickets SET state = 'needs_materials', note = $2 WHERE ticket = $1 AND state = 'pending_review'",
    )
    .bind(&id)
    .bind(&note)
    .execute(&st.db.pool)
    .await
    .map_err(internal)?
    .rows_affected();
    if n != 1 {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "invalid_state",
            "materials can be asked for only while the request is under review",
        ));
    }
    st.db
        .audit(
            "admin",
            "unlock_materials_requested",
            &t.token_serial,
            &serde_json::json!({"ticket": id}),
        )
        .await
        .map_err(internal)?;
    Ok(Json(
        serde_json::json!({"ticket": id, "state": "needs_materials", "note": note}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_percent_encoded_for_the_download() {
        assert_eq!(
            content_disposition("身份证 正面.jpg"),
            "attachment; filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81%20%E6%AD%A3%E9%9D%A2.jpg"
        );
        assert_eq!(
            content_disposition("a\"b;c=d'e.pdf"),
            "attachment; filename*=UTF-8''a%22b%3Bc%3Dd%27e.pdf"
        );
    }

    #[test]
    fn notes_are_checked() {
        assert_eq!(check_note("note", None).unwrap(), None);
        assert_eq!(check_note("note", Some("  \r\n ")).unwrap(), None);
        assert_eq!(
            check_note("note", Some(" 身份证正反面\r\n营业执照 ")).unwrap(),
            Some("身份证正反面\n营业执照".to_string())
        );
        assert!(check_note("note", Some(&"字".repeat(500))).is_ok());
        for bad in [
            "字".repeat(501),
            "a\tb".into(),
            "a\rb".into(),
            "a\u{7}".into(),
        ] {
            assert!(check_note("reason", Some(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_upload_limit_takes_a_file_just_over_the_maximum() {
        use base64::Engine;
        let over = base64::engine::general_purpose::STANDARD
            .encode(vec![0u8; MAX_ATTACHMENT_BYTES + 1])
            .len();
        assert!(over + 1024 < UPLOAD_BODY_LIMIT);
        const { assert!(UPLOAD_BODY_LIMIT < 8 << 20) };
    }
}
