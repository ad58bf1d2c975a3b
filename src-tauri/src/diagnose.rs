//! The Diagnostics screen's commands. The probes run in a helper process (this
//! program with `--diagnose`), as the module watch does: a module that crashes or
//! hangs while it is examined ends or stalls only the helper, and the app loads no
//! module of its own for it (so nothing it is using is finalised under it).
//!
//! The helper reads one [`HelperRequest`] line on stdin (the PIN for the self-test
//! travels only there, never on a command line or in the environment), writes one
//! [`HelperLine`] per step and then the report on stdout. The window receives the
//! report redacted; the full one stays here for an export the user asks to include
//! personal data in.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use certkey_core::diagnose::{self, fix, Options, Report, SelfTest, Stage};
use certkey_core::Error;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};
use ts_rs::TS;
use zeroize::Zeroize;

use crate::commands::{blocking, download_dir, io_error, write_new, Exported};

/// The helper's first argument.
pub const DIAGNOSE_ARG: &str = "--diagnose";

/// The longest line read from the helper (a report with many keys stays far below).
const LINE_LIMIT: usize = 16 << 20;
/// The whole diagnosis in the helper: past this it is ended and the screen says so
/// (each module already has its own limit; this bounds whatever else could hang).
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// What the window asks for.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct DiagnoseRequest {
    /// Check the CA services and the clock.
    pub network: bool,
    /// The key for the self-test (its serial), with `pin`.
    pub self_test_token: Option<String>,
}

/// The helper's instructions (stdin).
#[derive(Serialize, Deserialize)]
struct HelperRequest {
    network: bool,
    self_test_token: Option<String>,
    pin: Option<String>,
    app_version: String,
}

impl Drop for HelperRequest {
    fn drop(&mut self) {
        if let Some(pin) = &mut self.pin {
            pin.zeroize();
        }
    }
}

/// One line from the helper (stdout).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum HelperLine {
    Progress {
        stage: Stage,
        done: usize,
        total: usize,
        module: Option<String>,
    },
    Report(Box<Report>),
}

/// A step of the diagnosis, for the progress bar.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DiagnoseProgress {
    /// What is being looked at.
    pub stage: Stage,
    /// Steps done.
    pub done: usize,
    /// All steps.
    pub total: usize,
    /// The module being examined.
    pub module: Option<String>,
}

/// The last full report, for exports with personal data.
#[derive(Default)]
pub struct LastReport(Mutex<Option<Report>>);

/// Runs as the helper: never returns.
pub fn helper_main() -> ! {
    let mut line = String::new();
    let code = match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) => match serde_json::from_str::<HelperRequest>(&line) {
            Ok(mut req) => {
                line.zeroize();
                serve(&mut req);
                0
            }
            Err(e) => {
                line.zeroize();
                eprintln!("certkey-app --diagnose: bad request: {e}");
                2
            }
        },
        Err(e) => {
            eprintln!("certkey-app --diagnose: {e}");
            2
        }
    };
    std::process::exit(code);
}

fn send(line: &HelperLine) {
    let mut out = std::io::stdout().lock();
    if let Ok(text) = serde_json::to_string(line) {
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

fn serve(req: &mut HelperRequest) {
    let prepared = diagnose::prepare(&certkey_core::setup::Extra::default(), None, None);
    let self_test = match (&req.self_test_token, req.pin.take()) {
        (Some(token), Some(pin)) => Some(SelfTest {
            token: token.clone(),
            pin: SecretString::from(pin),
        }),
        _ => None,
    };
    let opts = Options {
        app_version: Some(format!("CertKey app {}", req.app_version)),
        network: req.network,
        self_test,
        ..Options::default()
    };
    let report = diagnose::run_prepared(
        &prepared,
        opts,
        &|e| format!("{}: {e}", e.code()),
        &mut |stage, done, total, module| {
            send(&HelperLine::Progress {
                stage,
                done,
                total,
                module: module.map(str::to_string),
            })
        },
    );
    send(&HelperLine::Report(Box::new(report)));
}

fn this_program() -> std::path::PathBuf {
    if cfg!(target_os = "linux") {
        return "/proc/self/exe".into();
    }
    std::env::current_exe().unwrap_or_default()
}

/// Runs every probe in a helper process and returns the report with personal data
/// masked. `pin` (for the self-test) is passed to the helper and forgotten.
#[tauri::command]
pub async fn diagnose_run(
    app: AppHandle,
    request: DiagnoseRequest,
    pin: Option<String>,
    events: Channel<DiagnoseProgress>,
) -> Result<Report, Error> {
    let mut helper_request = HelperRequest {
        network: request.network,
        self_test_token: request.self_test_token.clone(),
        pin,
        app_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    if helper_request.self_test_token.is_some() != helper_request.pin.is_some() {
        return Err(Error::InvalidArgument {
            name: "self_test".into(),
            reason: "the self-test needs the key and its PIN".into(),
        });
    }
    blocking(move || {
        let mut child = Command::new(this_program())
            .arg(DIAGNOSE_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::ModuleMisbehaved {
                reason: format!("cannot start the diagnosis: {e}"),
            })?;
        let mut text =
            serde_json::to_string(&helper_request).map_err(|e| Error::InvalidArgument {
                name: "request".into(),
                reason: e.to_string(),
            })?;
        if let Some(mut p) = helper_request.pin.take() {
            p.zeroize();
        }
        let written = child.stdin.take().map(|mut stdin| {
            let r = writeln!(stdin, "{text}");
            text.zeroize();
            r
        });
        text.zeroize();
        if let Some(Err(e)) = written {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::ModuleMisbehaved {
                reason: format!("cannot start the diagnosis: {e}"),
            });
        }
        let report = read_report(child, DEADLINE, |p| {
            let _ = events.send(p);
        })?;
        let shown = diagnose::redacted(&report);
        if let Ok(mut last) = app.state::<LastReport>().0.lock() {
            *last = Some(report);
        }
        Ok(shown)
    })
    .await
}

/// Reads the helper's lines until its report, passing each step to `progress`. The
/// helper is ended once the report is in or its output ends, and by a watchdog when
/// `deadline` passes first (the error then names the module it was examining).
fn read_report(
    mut child: std::process::Child,
    deadline: std::time::Duration,
    mut progress: impl FnMut(DiagnoseProgress),
) -> Result<Report, Error> {
    let stdout = child.stdout.take().ok_or_else(|| Error::ModuleMisbehaved {
        reason: "the diagnosis has no output".into(),
    })?;
    // The watchdog: ends the helper at the deadline unless told the report is in.
    let child = std::sync::Arc::new(Mutex::new(child));
    let timed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (finished, watched) = std::sync::mpsc::channel::<()>();
    {
        let child = child.clone();
        let timed_out = timed_out.clone();
        let watchdog = std::thread::Builder::new()
            .name("diagnose-deadline".into())
            .spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    watched.recv_timeout(deadline)
                {
                    timed_out.store(true, std::sync::atomic::Ordering::SeqCst);
                    if let Ok(mut c) = child.lock() {
                        let _ = c.kill();
                    }
                }
            });
        if let Err(e) = watchdog {
            tracing::warn!(error = %e, "the diagnosis runs without its deadline");
        }
    }
    let mut reader = BufReader::new(stdout);
    let mut report = None;
    // The module under examination, to name when the helper dies.
    let mut examined: Option<String> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bytes, not text: a module that prints something else (GBK) on the
        // helper's output costs that line, not the report.
        match std::io::Read::take(&mut reader, LINE_LIMIT as u64).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        match serde_json::from_slice::<HelperLine>(&line) {
            Ok(HelperLine::Progress {
                stage,
                done,
                total,
                module,
            }) => {
                examined = module.clone();
                progress(DiagnoseProgress {
                    stage,
                    done,
                    total,
                    module,
                });
            }
            Ok(HelperLine::Report(r)) => {
                report = Some(*r);
                break;
            }
            Err(_) => {}
        }
    }
    let _ = finished.send(());
    let mut child = child.lock().map_err(|_| Error::ModuleMisbehaved {
        reason: "the diagnosis stopped".into(),
    })?;
    // With the report in hand, or its output ended, the helper has nothing left to
    // give: a module thread it left behind (one that hung) must not keep it, nor
    // the window, waiting. (Ending a helper that ended already does nothing.)
    let _ = child.kill();
    let status = child.wait();
    if report.is_none() && timed_out.load(std::sync::atomic::Ordering::SeqCst) {
        let took = match deadline.as_secs() {
            s if s >= 120 => format!("{} minutes", s / 60),
            s => format!("{s} s"),
        };
        return Err(Error::ModuleMisbehaved {
            reason: match examined {
                Some(m) => format!("the diagnosis took more than {took}, while examining {m}"),
                None => format!("the diagnosis took more than {took}"),
            },
        });
    }
    report.ok_or_else(|| stopped(status, examined))
}

/// Why the helper gave no report: it ended while examining `module` (a module that
/// crashes its process), or otherwise.
fn stopped(status: std::io::Result<std::process::ExitStatus>, module: Option<String>) -> Error {
    let how = match &status {
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    };
    Error::ModuleMisbehaved {
        reason: match module {
            Some(m) => format!("the diagnosis stopped ({how}) while examining {m}"),
            None => format!("the diagnosis stopped ({how})"),
        },
    }
}

/// The last full report, or why there is none.
fn last_report(app: &AppHandle) -> Result<Report, Error> {
    app.state::<LastReport>()
        .0
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .ok_or_else(|| Error::NotApplicable {
            reason: "no_report".into(),
            days_left: None,
        })
}

/// Which file an export writes.
#[derive(Debug, Clone, Copy, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// A standalone page.
    Html,
    /// The JSON report.
    Json,
}

/// Writes the last report into the Downloads folder (private to the user), with
/// personal data masked unless `personal`.
#[tauri::command]
pub async fn diagnose_export(
    app: AppHandle,
    format: ReportFormat,
    personal: bool,
    lang: String,
) -> Result<Exported, Error> {
    let lang = crate::settings::parse_lang(&lang)?;
    let report = last_report(&app)?;
    let folder = download_dir();
    blocking(move || {
        let report = if personal {
            report
        } else {
            diagnose::redacted(&report)
        };
        let (bytes, ext) = match format {
            ReportFormat::Html => (certkey_report::html(lang, &report).into_bytes(), "html"),
            ReportFormat::Json => (
                serde_json::to_vec_pretty(&report).map_err(|e| Error::InvalidArgument {
                    name: "report".into(),
                    reason: e.to_string(),
                })?,
                "json",
            ),
        };
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        let stamp = report
            .generated_at
            .chars()
            .filter(char::is_ascii_digit)
            .take(14)
            .collect::<String>();
        let path = write_new(
            &folder,
            &format!("certkey-diagnose-{stamp}"),
            ext,
            &bytes,
            true,
        )?;
        Ok(Exported {
            path: path.display().to_string(),
        })
    })
    .await
}

/// Applies the fix offered with finding `index` of the last report (the window asked
/// the user first) and says how to undo it.
#[tauri::command]
pub async fn diagnose_fix(app: AppHandle, index: usize) -> Result<fix::Applied, Error> {
    let report = last_report(&app)?;
    let offered = report
        .findings
        .get(index)
        .and_then(|f| f.fix.clone())
        .ok_or_else(|| Error::InvalidArgument {
            name: "index".into(),
            reason: format!("finding {index} offers no fix"),
        })?;
    let catalog = app
        .state::<crate::state::AppState>()
        .loaded()
        .catalog
        .clone();
    blocking(move || fix::apply(&offered, &catalog, &fix::Places::default())).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A helper (a real process) that reports one step on a module and then does
    /// what `then` says (shell).
    fn helper(then: &str) -> std::process::Child {
        let step = serde_json::to_string(&HelperLine::Progress {
            stage: Stage::Module,
            done: 3,
            total: 6,
            module: Some("/opt/vendor/libhangs.so".into()),
        })
        .unwrap();
        Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' '{step}'; {then}"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn reason(e: Error) -> String {
        match e {
            Error::ModuleMisbehaved { reason } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_helper_that_hangs_is_ended_at_the_deadline_naming_its_module() {
        let mut seen = Vec::new();
        // `exec`: the shell becomes the sleep, so ending it closes its output.
        let err = read_report(helper("exec sleep 600"), Duration::from_secs(1), |p| {
            seen.push((p.done, p.total, p.module))
        })
        .unwrap_err();
        assert_eq!(seen, [(3, 6, Some("/opt/vendor/libhangs.so".to_string()))]);
        assert_eq!(
            reason(err),
            "the diagnosis took more than 1 s, while examining /opt/vendor/libhangs.so"
        );
    }

    #[test]
    fn a_helper_that_ends_without_its_report_is_named_with_its_module() {
        let err = read_report(helper("exit 3"), Duration::from_secs(300), |_| {}).unwrap_err();
        let reason = reason(err);
        assert!(
            reason.starts_with("the diagnosis stopped (")
                && reason.contains('3')
                && reason.ends_with("while examining /opt/vendor/libhangs.so"),
            "{reason}"
        );
    }
}
