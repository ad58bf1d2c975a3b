//! The commands the window invokes; each is one call into certkey-core. Work that may
//! block (PKCS#11, the network) runs on a worker thread, never on the UI thread.

use std::path::{Path, PathBuf};

use certkey_core::cert::bundle;
use certkey_core::inventory;
use certkey_core::watch::LiveInventory;
use certkey_core::workflow::token::Need;
use certkey_core::workflow::{activate, pin, renew, seal, unlock};
use certkey_core::Error;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};
use ts_rs::TS;

use crate::modules::Lease;
use crate::operation::{Answer, HandlerForm, OperationEvent, OperationRequest, Outcome};
use crate::state::{AppState, HOLD_WAIT};

/// Runs blocking work off the async runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| Error::ModuleMisbehaved {
            reason: format!("worker failed: {e}"),
        })?
}

/// The key list as last seen (the `inventory-changed` event brings every change).
#[tauri::command]
pub async fn inventory(state: State<'_, AppState>) -> Result<LiveInventory, Error> {
    Ok(state.inventory())
}

/// Where an exported certificate was written.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Exported {
    /// The file written.
    pub path: String,
}

/// Writes the certificate `id` (hex CKA_ID) of key `serial` as PEM into the user's
/// Downloads folder (home when there is none) and says where.
#[tauri::command]
pub async fn export_certificate(
    app: AppHandle,
    serial: String,
    id: String,
) -> Result<Exported, Error> {
    let id_bytes = parse_hex_id(&id)?;
    let folder = download_dir();
    blocking(move || {
        let state = app.state::<AppState>();
        let loaded = state.loaded();
        // Only the module the key was seen in is loaded (another may hang).
        let module = state
            .modules
            .lease(&loaded.watch.module_for(&serial)?, HOLD_WAIT)?;
        let held = module.hold(HOLD_WAIT)?;
        let der = inventory::export_certificate_among(&[&module], &serial, &id_bytes)?;
        drop(held);
        drop(module);
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        let path = write_new(
            &folder,
            &file_stem(&serial, &id),
            "pem",
            bundle::to_pem(&der).as_bytes(),
            false,
        )?;
        Ok(Exported {
            path: path.display().to_string(),
        })
    })
    .await
}

/// Whether the CA directory knows a pending order for key `serial` (the overview
/// offers activation only then).
#[tauri::command]
pub async fn activation_available(app: AppHandle, serial: String) -> Result<bool, Error> {
    blocking(move || {
        let state = app.state::<AppState>();
        state.loaded().directory()?.pending_order(&serial)
    })
    .await
}

/// Starts an operation; its events arrive on `events`. Returns the operation's id
/// for [`answer`] and [`cancel_operation`].
#[tauri::command]
pub async fn start_operation(
    app: AppHandle,
    request: OperationRequest,
    events: Channel<OperationEvent>,
) -> Result<u32, Error> {
    let state = app.state::<AppState>();
    let (id, ui) = state
        .operations
        .begin(request.serial(), move |event| events.send(event).is_ok())?;
    let app2 = app.clone();
    std::thread::Builder::new()
        .name(format!("certkey-operation-{id}"))
        .spawn(move || {
            let state = app2.state::<AppState>();
            // The module stays loaded until the window heard the outcome (finalising
            // a module can take a while).
            let mut lease = None;
            // A bug must not leave the window waiting: a panic ends the operation too.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&state, &request, &ui, &mut lease)
            }))
            .unwrap_or_else(|_| {
                Err(Error::ModuleMisbehaved {
                    reason: "the operation stopped on an internal error".into(),
                })
            });
            // The key's objects changed: re-read it even if its token info did not.
            state.loaded().watch.refresh();
            ui.send(match result {
                Ok(outcome) => OperationEvent::Finished { outcome },
                Err(error) => OperationEvent::Failed { error },
            });
            state.operations.end(id);
            drop(lease);
        })
        .map_err(|e| Error::ModuleMisbehaved {
            reason: format!("cannot start the operation: {e}"),
        })?;
    Ok(id)
}

fn run(
    state: &AppState,
    request: &OperationRequest,
    ui: &crate::operation::WindowInteraction,
    lease: &mut Option<Lease>,
) -> Result<Outcome, Error> {
    let loaded = state.loaded();
    let serial = request.serial();
    // The key's module is held for the whole operation when it takes one caller at a
    // time.
    let need = match request {
        OperationRequest::Activate { .. } => Need::Activation { has_order: None },
        OperationRequest::Unlock { .. } => Need::LockedPin,
        OperationRequest::ChangePin { .. }
        | OperationRequest::Renew { .. }
        | OperationRequest::SealWrite { .. } => Need::HolderCertificate,
    };
    let token = state.token(&loaded, serial, need, lease)?;
    let _held = lease.as_ref().map(|m| m.hold(HOLD_WAIT)).transpose()?;
    match request {
        OperationRequest::Activate { .. } => {
            let service = loaded.directory()?.for_activation(&token.serial)?;
            let activated = activate::activate(ui, &token, &service)?;
            Ok(Outcome::Activated { activated })
        }
        OperationRequest::ChangePin { .. } => {
            pin::change(ui, &token)?;
            Ok(Outcome::PinChanged)
        }
        OperationRequest::Renew { years, .. } => {
            let service = loaded.directory()?.for_token(&token)?;
            let now = time::OffsetDateTime::now_utc();
            let renewed = renew::renew(ui, &token, &service, *years, now)?;
            Ok(Outcome::Renewed { renewed })
        }
        OperationRequest::SealWrite {
            image,
            name,
            width_mm,
            height_mm,
            ..
        } => {
            let service = loaded.directory()?.for_token(&token)?;
            let opts = seal::SealOptions {
                name: name.clone().filter(|n| !n.trim().is_empty()),
                width_mm: *width_mm,
                height_mm: *height_mm,
            };
            let written = seal::write(ui, &token, &service, image.as_bytes(), &opts)?;
            Ok(Outcome::SealWritten { written })
        }
        OperationRequest::Unlock {
            handler, remember, ..
        } => {
            let handler = handler.as_ref().map(HandlerForm::to_handler).transpose()?;
            let service = loaded.directory()?.for_token(&token)?;
            let outcome = unlock::unlock(ui, &token, &service, handler.as_ref())?;
            // Remembering is a convenience: the unlock itself stands.
            let remembered = match (&handler, remember) {
                (Some(h), true) => Some(
                    unlock::remember_handler(h)
                        .inspect_err(|e| tracing::warn!(error = %e, "handler not remembered"))
                        .is_ok(),
                ),
                _ => None,
            };
            Ok(Outcome::Unlock {
                outcome,
                remembered,
            })
        }
    }
}

/// The CA's renewal quote for the certificate a renewal of key `serial` would renew:
/// whether renewal is open, the terms and their prices, payment.
#[tauri::command]
pub async fn renewal_quote(app: AppHandle, serial: String) -> Result<renew::KeyQuote, Error> {
    blocking(move || {
        let state = app.state::<AppState>();
        let loaded = state.loaded();
        let mut lease = None;
        let token = state.token(&loaded, &serial, Need::HolderCertificate, &mut lease)?;
        let _held = lease.as_ref().map(|m| m.hold(HOLD_WAIT)).transpose()?;
        let service = loaded.directory()?.for_token(&token)?;
        renew::quote(&token, &service, time::OffsetDateTime::now_utc())
    })
    .await
}

/// What the unlock screen needs before it starts: whether a request for the key
/// waits for review, and the handler remembered in the OS keyring, if any.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UnlockInfo {
    /// A request waits (the screen checks it again instead of asking anew).
    pub pending: bool,
    /// The remembered handler, to fill the form.
    pub remembered: Option<HandlerForm>,
}

/// See [`UnlockInfo`].
#[tauri::command]
pub async fn unlock_info(serial: String) -> Result<UnlockInfo, Error> {
    blocking(move || {
        Ok(UnlockInfo {
            pending: unlock::has_pending(&serial)?,
            remembered: unlock::remembered_handler()
                .as_ref()
                .map(HandlerForm::from_handler),
        })
    })
    .await
}

/// Sends a file the CA's review asks for (a scan: PDF, JPEG or PNG, checked by core
/// as the CA checks it) to the unlock request of key `serial` that waits for review.
#[tauri::command]
pub async fn unlock_attach(
    app: AppHandle,
    serial: String,
    file_name: String,
    data: certkey_protocol::Base64,
) -> Result<certkey_protocol::AttachmentInfo, Error> {
    blocking(move || {
        let state = app.state::<AppState>();
        let loaded = state.loaded();
        let mut lease = None;
        let token = state.token(&loaded, &serial, Need::LockedPin, &mut lease)?;
        let service = {
            let _held = lease.as_ref().map(|m| m.hold(HOLD_WAIT)).transpose()?;
            loaded.directory()?.for_token(&token)?
        };
        let info = unlock::attach(&service, &serial, &file_name, data.as_bytes())?;
        tracing::info!(serial = %serial, id = info.id, size = info.size, "unlock material sent");
        Ok(info)
    })
    .await
}

/// Forgets the handler remembered in the OS keyring.
#[tauri::command]
pub async fn forget_handler() -> Result<(), Error> {
    blocking(unlock::forget_handler).await
}

/// The answer to question `question` of operation `operation`.
#[tauri::command]
pub async fn answer(
    state: State<'_, AppState>,
    operation: u32,
    question: u32,
    answer: Answer,
) -> Result<(), Error> {
    state.operations.answer(operation, question, answer)
}

/// Stops an operation at its next question or step.
#[tauri::command]
pub async fn cancel_operation(state: State<'_, AppState>, operation: u32) -> Result<(), Error> {
    state.operations.cancel(operation)
}

pub(crate) fn parse_hex_id(id: &str) -> Result<Vec<u8>, Error> {
    let bad = |reason: &str| Error::InvalidArgument {
        name: "id".into(),
        reason: reason.into(),
    };
    if id.is_empty() || id.len() > 128 || id.len() % 2 != 0 {
        return Err(bad("a certificate id is an even number of hex digits"));
    }
    (0..id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&id[i..i + 2], 16).map_err(|_| bad("not hex")))
        .collect()
}

pub(crate) fn download_dir() -> PathBuf {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .unwrap_or_else(std::env::temp_dir)
}

/// `<serial>-<id>`, keeping only characters safe in a file name everywhere.
pub(crate) fn file_stem(serial: &str, id: &str) -> String {
    let clean: String = serial
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    let serial = if clean.is_empty() { "key" } else { &clean };
    format!("{serial}-{id}")
}

/// Writes `stem.ext`, or `stem (2).ext` and so on, into `folder`: a new file each
/// time (create_new: never overwriting a file, never following a planted link).
pub(crate) fn write_new(
    folder: &Path,
    stem: &str,
    ext: &str,
    bytes: &[u8],
    private: bool,
) -> Result<PathBuf, Error> {
    use std::io::Write;
    for n in 1..1000 {
        let path = match n {
            1 => folder.join(format!("{stem}.{ext}")),
            n => folder.join(format!("{stem} ({n}).{ext}")),
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        match options.open(&path) {
            Ok(mut f) => {
                f.write_all(bytes).map_err(|e| io_error(&path, e))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&path, e)),
        }
    }
    Err(Error::Io {
        path: folder.join(format!("{stem}.{ext}")).display().to_string(),
        reason: "999 exports of this file are already there".into(),
    })
}

pub(crate) fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids_must_be_hex() {
        assert_eq!(parse_hex_id("0a1B").unwrap(), vec![0x0a, 0x1b]);
        for bad in ["", "abc", "zz", "0x01", &"00".repeat(65)] {
            assert_eq!(parse_hex_id(bad).unwrap_err().code(), "invalid_argument");
        }
    }

    #[test]
    fn export_names_are_safe_and_never_overwrite() {
        assert_eq!(file_stem("SK/../1", "01"), "SK1-01");
        assert_eq!(file_stem("", "01"), "key-01");
        let dir = tempfile::tempdir().unwrap();
        let a = write_new(dir.path(), "SK1-01", "pem", b"one", false).unwrap();
        let b = write_new(dir.path(), "SK1-01", "pem", b"two", false).unwrap();
        assert!(b.ends_with("SK1-01 (2).pem"));
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        // A link planted under the next name is not written through.
        #[cfg(unix)]
        {
            let target = dir.path().join("elsewhere");
            std::os::unix::fs::symlink(&target, dir.path().join("SK1-01 (3).pem")).unwrap();
            let c = write_new(dir.path(), "SK1-01", "pem", b"three", false).unwrap();
            assert!(c.ends_with("SK1-01 (4).pem"));
            assert!(!target.exists());
        }
    }
}
