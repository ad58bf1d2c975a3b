//! `certkey diagnose`: every probe of certkey-core's diagnostics engine, the findings
//! with their fixes, and the report as JSON or a standalone HTML page (personal data
//! masked unless --no-redact). `--fix` offers the fixes the engine can apply, each
//! only on the user's word.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certkey_core::catalog::Catalog;
use certkey_core::config;
use certkey_core::diagnose::{self, fix, Options, SelfTest, Severity, Stage};
use certkey_core::Error;
use clap::Args;

use crate::i18n::{t, tr, Lang};
use crate::{emit, read_pin, Cli};

/// Exit code: the diagnosis found an error or a critical problem.
pub const EXIT_FINDINGS: u8 = 10;

#[derive(Args, Debug)]
pub struct DiagnoseArgs {
    /// Also write the report to FILE: `.html` (a page that opens offline) or `.json`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Keep personal data (names, ID numbers, phone numbers, e-mail) in the report.
    #[arg(long)]
    no_redact: bool,
    /// Sign and verify a test message on the key named by --token, with its PIN
    /// (CERTKEY_PIN, else asked). Never run when the key has one PIN try left.
    #[arg(long, requires = "token")]
    self_test: bool,
    /// The key for --self-test: its serial number.
    #[arg(long, value_name = "SERIAL")]
    token: Option<String>,
    /// Do not contact the CA services (no service or clock checks).
    #[arg(long)]
    offline: bool,
    /// Offer the fixes CertKey can apply (each asked for first; --yes applies all).
    #[arg(long)]
    fix: bool,
    /// The sysfs folder of USB devices (tests).
    #[arg(long, value_name = "DIR", hide = true)]
    usb_root: Option<PathBuf>,
    /// The smart-card service's socket (tests).
    #[arg(long, value_name = "PATH", hide = true)]
    pcsc_socket: Option<PathBuf>,
    /// Seconds one module may take (default 20).
    #[arg(long, value_name = "S", hide = true)]
    module_timeout: Option<u64>,
    /// The folder fixes write udev rules to (tests).
    #[arg(long, value_name = "DIR", hide = true)]
    udev_rules: Option<PathBuf>,
}

fn progress_id(stage: Stage) -> &'static str {
    match stage {
        Stage::System => "diag-progress-system",
        Stage::Usb => "diag-progress-usb",
        Stage::Pcsc => "diag-progress-pcsc",
        Stage::Module => "diag-progress-module",
        Stage::Service => "diag-progress-service",
        Stage::Findings => "diag-progress-findings",
    }
}

/// Runs `certkey diagnose`; returns the exit code.
pub fn run(cli: &Cli, lang: Lang, args: &DiagnoseArgs) -> Result<u8, Error> {
    let out_kind = match &args.out {
        None => None,
        Some(p) => Some(out_kind(p)?),
    };
    let self_test = if args.self_test {
        let token = args.token.clone().unwrap_or_default();
        Some(SelfTest {
            token,
            pin: read_pin(lang)?,
        })
    } else {
        None
    };

    // A broken configuration is itself a finding: diagnose goes on with the built-in
    // catalog and the modules named on the command line and in CERTKEY_MODULES.
    let prepared = diagnose::prepare(
        &certkey_core::setup::Extra {
            no_auto_modules: cli.no_auto_modules,
            modules: cli.modules.clone(),
            ca_bundles: cli.ca_bundle.clone(),
        },
        cli.service.clone(),
        cli.service_ca.clone(),
    );
    let mut opts = Options {
        app_version: Some(format!("certkey {}", env!("CARGO_PKG_VERSION"))),
        network: !args.offline,
        self_test,
        ..Options::default()
    };
    if let Some(d) = &args.usb_root {
        opts.usb_root = d.clone();
    }
    if let Some(s) = &args.pcsc_socket {
        opts.pcsc_socket = s.clone();
    }
    if let Some(s) = args.module_timeout {
        opts.module_timeout = Duration::from_secs(s.max(1));
    }
    let show_progress = !cli.json && std::io::stderr().is_terminal();
    let mut progress = |stage: Stage, done: usize, total: usize, module: Option<&str>| {
        if show_progress {
            let what = t(lang, progress_id(stage));
            match module {
                Some(m) => eprintln!("[{}/{}] {what}: {m}", done + 1, total),
                None => eprintln!("[{}/{}] {what}", done + 1, total),
            }
        }
    };
    let report = diagnose::run_prepared(
        &prepared,
        opts,
        &|e| crate::i18n::error_text(lang, e),
        &mut progress,
    );
    // Fixes act on the real paths; what is shown and written is masked unless asked.
    let full = report;
    let report = if args.no_redact {
        full.clone()
    } else {
        diagnose::redacted(&full)
    };

    if cli.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Error::InvalidArgument {
            name: "report".into(),
            reason: e.to_string(),
        })?;
        emit(&format!("{json}\n"))?;
    } else {
        emit(&certkey_report::text(lang, &report))?;
    }
    if let (Some(path), Some(kind)) = (&args.out, out_kind) {
        let bytes = match kind {
            OutKind::Html => certkey_report::html(lang, &report).into_bytes(),
            OutKind::Json => {
                serde_json::to_vec_pretty(&report).map_err(|e| Error::InvalidArgument {
                    name: "report".into(),
                    reason: e.to_string(),
                })?
            }
        };
        write_report(path, &bytes)?;
        if !cli.json {
            eprintln!(
                "{}",
                tr(
                    lang,
                    "cli-diagnose-written",
                    &[("path", path.display().to_string().into())]
                )
            );
        }
    }
    if args.fix {
        offer_fixes(cli, lang, &full, &prepared.catalog, args)?;
    }
    let bad = report
        .findings
        .iter()
        .any(|f| matches!(f.severity, Severity::Critical | Severity::Error));
    Ok(if bad { EXIT_FINDINGS } else { 0 })
}

#[derive(Debug, Clone, Copy)]
enum OutKind {
    Html,
    Json,
}

fn out_kind(path: &Path) -> Result<OutKind, Error> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => Ok(OutKind::Html),
        Some("json") => Ok(OutKind::Json),
        _ => Err(Error::InvalidArgument {
            name: "out".into(),
            reason: format!(
                "{}: the report file must end in .html or .json",
                path.display()
            ),
        }),
    }
}

/// Writes the report privately (it may hold personal data with --no-redact).
fn write_report(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    config::write_private(path, bytes)
}

fn offer_fixes(
    cli: &Cli,
    lang: Lang,
    report: &diagnose::Report,
    catalog: &Catalog,
    args: &DiagnoseArgs,
) -> Result<(), Error> {
    let mut places = fix::Places::default();
    if let Some(d) = &args.udev_rules {
        places.udev_rules = d.clone();
    }
    let mut offered: Vec<&diagnose::Fix> = Vec::new();
    for f in &report.findings {
        let Some(fx) = &f.fix else { continue };
        if offered.contains(&fx) {
            continue;
        }
        offered.push(fx);
        let (_, fix_text) = certkey_report::finding_text(lang, f);
        let agreed = cli.yes || {
            eprint!(
                "{} ",
                tr(
                    lang,
                    "cli-diagnose-fix-ask",
                    &[("fix", fix_text.as_str().into())]
                )
            );
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Error::Io {
                    path: "<terminal>".into(),
                    reason: e.to_string(),
                })?;
            matches!(line.trim(), "y" | "Y" | "yes" | "是")
        };
        if !agreed {
            continue;
        }
        match fix::apply(fx, catalog, &places) {
            Ok(done) => eprintln!(
                "{}",
                tr(
                    lang,
                    "cli-diagnose-fix-done",
                    &[
                        ("fix", fix_text.as_str().into()),
                        ("undo", done.undo.as_str().into()),
                    ],
                )
            ),
            Err(e) => eprintln!(
                "{}",
                tr(
                    lang,
                    "cli-diagnose-fix-failed",
                    &[
                        ("fix", fix_text.as_str().into()),
                        ("reason", crate::i18n::error_text(lang, &e).into()),
                    ],
                )
            ),
        }
    }
    Ok(())
}
