//! What the app does besides its window: renewal reminders as desktop notifications,
//! and the tray icon that keeps the app running when its window is closed (off by
//! default: the config's `tray = true`, or Settings).
//!
//! Which certificates are due is core's decision ([`certkey_core::reminders`]: the
//! renewal window, 30 and 7 days, at most one reminder a day, remembered between
//! runs). They are checked when the app starts, whenever the keys change, and every
//! hour; a reminder counts as given only once the notification service took it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use certkey_core::reminders::{self, Ledger, Reminder};
use certkey_i18n::{Catalog, FluentValue, Lang};
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};
use time::OffsetDateTime;

use crate::state::AppState;

/// How often the reminders are looked at while nothing changes.
const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// How long the reminders wait for the window to say its language; after that they
/// speak the system's.
const LANG_WAIT: Duration = Duration::from_secs(30);
/// The tray icon's id.
const TRAY: &str = "certkey";

/// The reminders' thread and the tray's state.
pub struct Background {
    wake: Mutex<mpsc::Sender<()>>,
    /// The window's language, once it said it.
    lang: Mutex<Option<Lang>>,
    started: Instant,
    tray: AtomicBool,
}

impl Background {
    /// Starts the reminders' thread (its first look waits for [`Background::wake`]).
    pub fn start(app: AppHandle) -> Background {
        let (tx, rx) = mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("reminders".into())
            .spawn(move || {
                // Woken (the keys changed) or every CHECK_EVERY, until the app ends.
                while let Ok(()) | Err(RecvTimeoutError::Timeout) = rx.recv_timeout(CHECK_EVERY) {
                    check(&app);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no reminders: cannot start their thread");
        }
        Background {
            wake: Mutex::new(tx),
            lang: Mutex::new(None),
            started: Instant::now(),
            tray: AtomicBool::new(false),
        }
    }

    /// Looks at the reminders again soon (the keys changed).
    pub fn wake(&self) {
        let _ = self.wake.lock().unwrap_or_else(|p| p.into_inner()).send(());
    }

    /// The window's language, for the notifications and the tray's menu; the
    /// system's until the window said it.
    pub fn lang(&self) -> Lang {
        self.said_lang().unwrap_or_else(Lang::from_env)
    }

    fn said_lang(&self) -> Option<Lang> {
        *self.lang.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether closing the window leaves the app running in the tray.
    pub fn in_tray(&self) -> bool {
        self.tray.load(Ordering::SeqCst)
    }
}

/// The window's language changed: the tray's menu follows.
pub fn set_lang(app: &AppHandle, lang: Lang) {
    let bg = app.state::<Background>();
    let before = bg
        .lang
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .replace(lang);
    if bg.in_tray() && before != Some(lang) {
        set_tray(app, true);
    }
    if before.is_none() {
        // The first reminder may have waited for it.
        bg.wake();
    }
}

/// Shows or removes the tray icon.
pub fn set_tray(app: &AppHandle, on: bool) {
    let bg = app.state::<Background>();
    bg.tray.store(on, Ordering::SeqCst);
    if !on {
        app.remove_tray_by_id(TRAY);
        return;
    }
    if let Err(e) = install_tray(app, bg.lang()) {
        // The desktop may have no tray: the window then closes as usual.
        bg.tray.store(false, Ordering::SeqCst);
        tracing::warn!(error = %e, "no tray icon");
    }
}

fn install_tray(app: &AppHandle, lang: Lang) -> tauri::Result<()> {
    let open = MenuItem::with_id(
        app,
        "open",
        Catalog::text(lang, "app-tray-open", &[]),
        true,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(
        app,
        "quit",
        Catalog::text(lang, "app-tray-quit", &[]),
        true,
        None::<&str>,
    )?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    let tooltip = Catalog::text(lang, "app-tray-tooltip", &[]);
    if let Some(tray) = app.tray_by_id(TRAY) {
        tray.set_menu(Some(menu))?;
        tray.set_tooltip(Some(tooltip))?;
        return Ok(());
    }
    let mut builder = TrayIconBuilder::with_id(TRAY)
        .menu(&menu)
        .tooltip(tooltip)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => show_window(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(())
}

/// Shows the main window, restored and focused: from the tray, or on a second launch.
pub fn show_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

/// Looks for due reminders and notifies.
fn check(app: &AppHandle) {
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let loaded = state.loaded();
    if loaded.config.reminders == Some(false) {
        return;
    }
    let live = loaded.inventory();
    if !live.complete {
        return;
    }
    let Some(path) = reminders::ledger_path() else {
        return;
    };
    let mut ledger = Ledger::load(&path);
    let now = OffsetDateTime::now_utc();
    let due = ledger.due(&live.inventory, now);
    if due.is_empty() {
        return;
    }
    let bg = app.state::<Background>();
    let Some(lang) = bg
        .said_lang()
        .or_else(|| (bg.started.elapsed() >= LANG_WAIT).then(Lang::from_env))
    else {
        // Asked again when the window says its language.
        return;
    };
    let (title, body) = text(lang, &due);
    match notify_rust::Notification::new()
        .appname(&Catalog::text(lang, "app-title", &[]))
        .summary(&title)
        .body(&escape_markup(&body))
        .icon("certkey-app")
        .show()
    {
        Ok(_) => {
            tracing::info!(certificates = due.len(), "renewal reminder shown");
            ledger.shown(&live.inventory, &due, now);
            if let Err(e) = ledger.save(&path) {
                tracing::warn!(error = %e, "cannot record the renewal reminder");
            }
        }
        // No notification service (no desktop session): asked again later.
        Err(e) => tracing::warn!(error = %e, "cannot show the renewal reminder"),
    }
}

/// The body as text, not markup: notification servers may read `<b>`, `&amp;`...
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The notification's title and body in `lang`.
pub fn text(lang: Lang, due: &[Reminder]) -> (String, String) {
    let soonest = due.iter().map(|r| r.days_left).min().unwrap_or_default();
    let title = if due.len() == 1 {
        Catalog::text(
            lang,
            "app-reminder-title-one",
            &[("days", FluentValue::from(soonest))],
        )
    } else {
        Catalog::text(
            lang,
            "app-reminder-title-many",
            &[
                ("count", FluentValue::from(due.len())),
                ("days", FluentValue::from(soonest)),
            ],
        )
    };
    let lines: Vec<String> = due
        .iter()
        .map(|r| {
            let id = if r.stage == certkey_protocol::RENEWAL_WINDOW_DAYS {
                "app-reminder-window"
            } else {
                "app-reminder-days"
            };
            Catalog::text(
                lang,
                id,
                &[
                    ("holder", FluentValue::from(r.holder.as_str())),
                    ("serial", FluentValue::from(r.token_serial.as_str())),
                    ("days", FluentValue::from(r.days_left)),
                    (
                        "date",
                        FluentValue::from(r.not_after.get(..10).unwrap_or(&r.not_after)),
                    ),
                ],
            )
        })
        .collect();
    let mut body = lines.join("\n");
    body.push('\n');
    body.push_str(&Catalog::text(lang, "app-reminder-how", &[]));
    (title, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder(holder: &str, days_left: i64, stage: i64) -> Reminder {
        Reminder {
            token_serial: "SK01".into(),
            cert_id: "01".into(),
            holder: holder.into(),
            days_left,
            not_after: "2027-01-31T08:00:00Z".into(),
            stage,
        }
    }

    #[test]
    fn the_notification_names_each_certificate_in_both_languages() {
        let due = [reminder("张三", 6, 7), reminder("广东测试有限公司", 80, 90)];
        for lang in Lang::ALL {
            let (title, body) = text(lang, &due);
            assert!(title.contains('6'), "{title}");
            assert!(
                body.contains("张三") && body.contains("广东测试有限公司"),
                "{body}"
            );
            assert!(
                body.contains("2027-01-31") && body.contains("SK01"),
                "{body}"
            );
            assert_eq!(body.lines().count(), 3, "{body}");
        }
        let (zh, _) = text(Lang::ZhCn, &due[..1]);
        let (en, _) = text(Lang::En, &due[..1]);
        assert_ne!(zh, en);
    }
}
