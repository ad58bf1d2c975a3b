//! The seal screen: a preview of the seal a picture makes, the seals on a key with
//! their checks, and the export of a seal's picture. Writing a seal is an operation
//! (see `commands::start_operation`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certkey_core::cert::CertificateInfo;
use certkey_core::workflow::ca_list;
use certkey_core::workflow::seal::{self, SealDetails, SealOptions};
use certkey_core::workflow::token::Need;
use certkey_core::Error;
use certkey_protocol::Base64;
use serde::Serialize;
use tauri::{AppHandle, Manager};
use ts_rs::TS;

use crate::commands::{
    blocking, download_dir, file_stem, io_error, parse_hex_id, write_new, Exported,
};
use crate::state::{AppState, HOLD_WAIT};

/// The seal a picture makes for a certificate, as it would be written.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SealPreview {
    /// The seal's name.
    pub name: String,
    /// Width in mm.
    pub width_mm: u32,
    /// Height in mm.
    pub height_mm: u32,
    /// The normalised picture's width in pixels.
    pub width_px: u32,
    /// Its height in pixels.
    pub height_px: u32,
    /// Its size in bytes.
    pub picture_bytes: usize,
    /// The normalised picture (PNG) as a `data:` URL.
    pub picture: String,
}

/// One seal on a key, checked, with its picture.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SealView {
    /// CKA_ID of the seal (its certificate's), hex.
    pub certificate_id: String,
    /// The subject of that certificate on the key.
    pub certificate_subject: Option<String>,
    /// The maker's signature verifies.
    pub signature_valid: bool,
    /// The seal names this certificate.
    pub bound_to_certificate: bool,
    /// The maker is a seal maker of a trusted CA.
    pub maker_trusted: bool,
    /// That CA.
    pub maker_trusted_by: Option<String>,
    /// Why the maker is not trusted (a stable code).
    pub maker_untrusted: Option<String>,
    /// What the seal says, when it decodes.
    pub details: Option<SealDetails>,
    /// Why it cannot be read or accepted.
    pub error: Option<Error>,
    /// The picture as a `data:` URL.
    pub picture: Option<String>,
}

fn data_url(kind: &str, bytes: &[u8]) -> String {
    let mime = match kind {
        "PNG" => "image/png",
        "JPG" | "JPEG" => "image/jpeg",
        "BMP" => "image/bmp",
        "GIF" => "image/gif",
        "SVG" => "image/svg+xml",
        _ => "application/octet-stream",
    };
    format!("data:{mime};base64,{}", STANDARD.encode(bytes))
}

/// The certificate `id` of key `serial` as last read by the watch.
fn certificate_info(state: &AppState, serial: &str, id: &str) -> Result<CertificateInfo, Error> {
    state
        .inventory()
        .inventory
        .tokens
        .into_iter()
        .filter(|t| t.details.serial == serial)
        .flat_map(|t| t.certificates)
        .find(|c| c.id == id)
        .and_then(|c| c.info)
        .ok_or_else(|| Error::CertificateNotFound {
            serial: serial.to_string(),
            id: id.to_string(),
        })
}

/// What `image` (PNG, JPEG or BMP) would make as the seal of certificate `cert_id` on
/// key `serial`, with the name and size given (defaults of the certificate's type
/// otherwise). Nothing touches the key.
#[tauri::command]
pub async fn seal_preview(
    app: AppHandle,
    serial: String,
    cert_id: String,
    image: Base64,
    name: Option<String>,
    width_mm: Option<u32>,
    height_mm: Option<u32>,
) -> Result<SealPreview, Error> {
    blocking(move || {
        let state = app.state::<AppState>();
        let info = certificate_info(&state, &serial, &cert_id)?;
        let opts = SealOptions {
            name: name.filter(|n| !n.trim().is_empty()),
            width_mm,
            height_mm,
        };
        let p = seal::preview(image.as_bytes(), &opts, &info)?;
        Ok(SealPreview {
            name: p.name,
            width_mm: p.w,
            height_mm: p.h,
            width_px: p.picture.width_px,
            height_px: p.picture.height_px,
            picture_bytes: p.picture.png.len(),
            picture: data_url("PNG", &p.picture.png),
        })
    })
    .await
}

/// Every seal on key `serial`, checked against the key's CA list (the CA service's,
/// or its cache, and the configured bundles).
#[tauri::command]
pub async fn seal_show(app: AppHandle, serial: String) -> Result<Vec<SealView>, Error> {
    blocking(move || {
        let state = app.state::<AppState>();
        let loaded = state.loaded();
        let mut lease = None;
        let token = state.token(&loaded, &serial, Need::HolderCertificate, &mut lease)?;
        let held = lease.as_ref().map(|m| m.hold(HOLD_WAIT)).transpose()?;
        let now = time::OffsetDateTime::now_utc();
        let service = loaded.directory().and_then(|d| d.for_token(&token));
        let cas = ca_list::load(
            service.as_ref().map_err(Clone::clone),
            &loaded.bundle,
            certkey_core::config::state_dir().as_deref(),
            now,
        );
        let seals = seal::show(&token, now, &cas.certificates)?;
        drop(held);
        Ok(seals
            .into_iter()
            .map(|s| SealView {
                picture: s
                    .details
                    .as_ref()
                    .map(|d| data_url(&d.picture_kind, &d.picture)),
                certificate_id: s.certificate_id,
                certificate_subject: s.certificate_subject,
                signature_valid: s.signature_valid,
                bound_to_certificate: s.bound_to_certificate,
                maker_trusted: s.maker_trusted,
                maker_trusted_by: s.maker_trusted_by,
                maker_untrusted: s.maker_untrusted_reason.map(|u| u.code().to_string()),
                details: s.details,
                error: s.error,
            })
            .collect())
    })
    .await
}

/// Writes the picture of the seal of certificate `cert_id` on key `serial` into the
/// user's Downloads folder and says where.
#[tauri::command]
pub async fn seal_export(
    app: AppHandle,
    serial: String,
    cert_id: String,
) -> Result<Exported, Error> {
    parse_hex_id(&cert_id)?;
    let folder = download_dir();
    let seals = seal_show(app, serial.clone()).await?;
    blocking(move || {
        let seal = seals
            .into_iter()
            .find(|s| s.certificate_id == cert_id)
            .ok_or_else(|| Error::NotApplicable {
                reason: "no_seal".into(),
                days_left: None,
            })?;
        let Some(d) = seal.details else {
            return Err(seal.error.unwrap_or(Error::NotApplicable {
                reason: "no_seal".into(),
                days_left: None,
            }));
        };
        let ext = match d.picture_kind.as_str() {
            "PNG" => "png",
            "JPG" | "JPEG" => "jpg",
            "BMP" => "bmp",
            "GIF" => "gif",
            "SVG" => "svg",
            _ => "bin",
        };
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        let stem = format!("{}-seal", file_stem(&serial, &cert_id));
        let path = write_new(&folder, &stem, ext, &d.picture, false)?;
        Ok(Exported {
            path: path.display().to_string(),
        })
    })
    .await
}
