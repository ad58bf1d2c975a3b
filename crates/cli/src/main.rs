//! `certkey`: the CertKey command line for holders and help-desk staff.
//!
//! Exit codes (stable, documented in README.md):
//! 0 success; 1 the command failed; 2 usage error; 3 done, but some module, slot or
//! object could not be read (see `errors`); 4 token or certificate not found;
//! 5 configuration invalid; 6 PIN wrong, locked, or final try not used; 7 the CA
//! service refused or could not be reached; 8 cancelled, or not possible in the key's
//! current state; 9 waiting for the CA's review (unlock); 10 `diagnose` found an error
//! or a critical problem.

mod diagnose_cmd;
mod help;
mod i18n;
mod interact;
mod logs_cmd;
mod render;
mod seal_cmd;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use certkey_core::directory::Directory;
use certkey_core::inventory::{self, Inventory, LoginRequest, ScanOptions};
use certkey_core::setup::Setup;
use certkey_core::workflow;
use certkey_core::workflow::token::{Need, Selector};
use certkey_core::{Error, Located};
use clap::{Parser, Subcommand};
use secrecy::SecretString;
use serde::Serialize;

use i18n::{error_text, optional, t, tr, Lang, LangArg};
use interact::Terminal;

/// Exit code: the command failed.
const EXIT_FAILED: u8 = 1;
/// Exit code: finished, with errors in some module, slot or object.
const EXIT_PARTIAL: u8 = 3;
/// Exit code: token or certificate not found.
const EXIT_NOT_FOUND: u8 = 4;
/// Exit code: configuration invalid.
const EXIT_CONFIG: u8 = 5;
/// Exit code: the PIN was wrong, locked, or not tried at the final try.
const EXIT_PIN: u8 = 6;
/// Exit code: the CA service refused or could not be reached.
const EXIT_SERVICE: u8 = 7;
/// Exit code: cancelled, or the operation does not apply to the key's state.
const EXIT_NOT_APPLICABLE: u8 = 8;
/// Exit code: an unlock request waits for the CA's review.
const EXIT_PENDING: u8 = 9;

#[derive(Parser, Debug)]
#[command(
    name = "certkey",
    version,
    about = "CertKey 证书助手: certificate USB keys over PKCS#11"
)]
struct Cli {
    /// PKCS#11 module to load (repeatable), besides the catalog's, the config's and
    /// CERTKEY_MODULES.
    #[arg(long = "module", value_name = "PATH", global = true)]
    modules: Vec<String>,
    /// Do not load the catalog's modules found on this machine.
    #[arg(long, global = true)]
    no_auto_modules: bool,
    /// CA certificates (PEM or DER) to check signatures against (repeatable).
    #[arg(long = "ca-bundle", value_name = "FILE", global = true)]
    ca_bundle: Vec<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Language of the text: zh-CN or en (default: from the locale; zh-CN when Chinese).
    #[arg(long, value_enum, global = true, hide_possible_values = true)]
    lang: Option<LangArg>,
    /// CA service URL for every operation (default: CERTKEY_SERVICE_URL, else the
    /// config's service_url, else the CA directory: the CA of the certificate's issuer,
    /// for activation the config's default_ca or the CA that has the key's order).
    #[arg(long = "service", value_name = "URL", global = true)]
    service: Option<String>,
    /// PEM file of the CA service's TLS root(s), instead of the system's (default:
    /// CERTKEY_SERVICE_CA).
    #[arg(long = "service-ca", value_name = "FILE", global = true)]
    service_ca: Option<PathBuf>,
    /// Answer yes to confirmations.
    #[arg(long, short = 'y', global = true)]
    yes: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List every key on every module with its certificates.
    List,
    /// Find out why a key does not work: the computer, USB keys, the smart-card
    /// service, the PKCS#11 modules, the keys and what they hold, the CA services and
    /// the clock. Prints the findings with what to do; --out writes the report as an
    /// HTML page or JSON (personal data masked unless --no-redact).
    Diagnose(diagnose_cmd::DiagnoseArgs),
    /// Print the log that the app and this command write (the last lines of both, in
    /// time order), or export it into one file for the help-desk.
    Logs(logs_cmd::LogsArgs),
    /// Everything about one key or all keys: flags, PIN state, memory, mechanisms,
    /// certificates, key and data objects.
    Info {
        /// Only this key: its serial number, `slot:ID` or `label:TEXT`.
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// Log in with the user PIN (CERTKEY_PIN, else asked without echo) to see
        /// private keys. Needs --token.
        #[arg(long, requires = "token")]
        login: bool,
        /// Allow using the key's final PIN try.
        #[arg(long, requires = "login")]
        final_try_ok: bool,
    },
    /// Certificate operations.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Activate a newly delivered key: check its order, trade the 6-digit activation
    /// code for the initial PIN, set your own PIN, make the key pair and install the
    /// certificate (CERTKEY_ACTIVATION_CODE and CERTKEY_NEW_PIN for automation).
    Activate {
        /// The key: its serial number, or slot:ID or label:TEXT (default: the one key
        /// present that the operation applies to).
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// Allow using the key's final PIN try (when finishing an interrupted run).
        #[arg(long)]
        final_try_ok: bool,
    },
    /// Renew the certificate online (while 0 < days left <= 90): a new key pair and
    /// certificate on the key; the old ones are removed only once the new ones work.
    Renew {
        /// The key: its serial number, or slot:ID or label:TEXT (default: the one key
        /// present that the operation applies to).
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// The term, 1 to 5 years: valid until the current expiry plus the years
        /// (default: the term paid for at the CA, else the order's, normally 1 year).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=5))]
        years: Option<u32>,
        /// Only show the CA's quote: whether renewal is open, the price of each term,
        /// whether it must be paid for and how (no PIN needed).
        #[arg(long, conflicts_with_all = ["years", "final_try_ok"])]
        quote: bool,
        /// Allow using the key's final PIN try.
        #[arg(long)]
        final_try_ok: bool,
    },
    /// The electronic seal of the key's certificate: write (once) and show.
    Seal {
        #[command(subcommand)]
        command: seal_cmd::SealCommand,
    },
    /// Unlock a key whose user PIN is locked, online: the handler (经办人) asks the CA;
    /// once approved, you choose a new PIN and the key's admin (SO) PIN is rotated.
    /// Run it again (or with --wait) while the request waits for review; attach the
    /// materials the CA asks for with --attach.
    Unlock {
        /// The key: its serial number, or slot:ID or label:TEXT (default: the one key
        /// present that the operation applies to).
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// Handler's name (default: the one remembered in the OS keyring).
        #[arg(long, value_name = "NAME")]
        handler_name: Option<String>,
        /// Handler's identity document number.
        #[arg(long, value_name = "ID")]
        handler_id: Option<String>,
        /// Handler's phone number.
        #[arg(long, value_name = "PHONE")]
        handler_phone: Option<String>,
        /// Remember the handler in the OS keyring for next time.
        #[arg(long)]
        remember: bool,
        /// Only look at a request that waits for review (never send a new one).
        #[arg(long)]
        status: bool,
        /// Wait up to this many seconds for the review, asking every 5 seconds.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// Attach a scan to the request under review (repeatable): PDF, JPEG or PNG,
        /// at most 5 MiB each, at most 5 per request. Without a request yet, one is
        /// made first.
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
    },
    /// The user PIN.
    Pin {
        #[command(subcommand)]
        command: PinCommand,
    },
}

#[derive(Subcommand, Debug)]
enum PinCommand {
    /// Change the user PIN (CERTKEY_PIN and CERTKEY_NEW_PIN for automation).
    Change {
        /// The key: its serial number, or slot:ID or label:TEXT (default: the one key
        /// present that the operation applies to).
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// Allow using the key's final PIN try.
        #[arg(long)]
        final_try_ok: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Write a certificate from a key to stdout or a file (DER, or PEM with --pem).
    Export {
        /// Serial number of the key.
        #[arg(long, value_name = "SERIAL")]
        token: String,
        /// CKA_ID of the certificate, hex.
        #[arg(long, value_name = "ID")]
        id: String,
        /// PEM instead of DER.
        #[arg(long)]
        pem: bool,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// An error with its place and its translated message, as printed in JSON.
#[derive(Serialize)]
struct JsonError<'a> {
    #[serde(flatten)]
    located: &'a Located,
    message: String,
}

#[derive(Serialize)]
struct JsonInventory<'a> {
    #[serde(flatten)]
    inventory: &'a Inventory,
    errors: Vec<JsonError<'a>>,
}

fn exit_for(e: &Error) -> u8 {
    match e {
        Error::TokenNotFound { .. } | Error::CertificateNotFound { .. } => EXIT_NOT_FOUND,
        Error::ConfigInvalid { .. } | Error::CaUnknown { .. } => EXIT_CONFIG,
        Error::PinLocked { .. }
        | Error::PinFinalTry { .. }
        | Error::PinIncorrect { .. }
        | Error::PinLength { .. }
        | Error::PinPolicy { .. } => EXIT_PIN,
        Error::Service { .. } | Error::Network { .. } | Error::ServiceResponse { .. } => {
            EXIT_SERVICE
        }
        Error::Cancelled | Error::NotApplicable { .. } => EXIT_NOT_APPLICABLE,
        _ => EXIT_FAILED,
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let help_lang = help::lang_of(&args);
    let matches = match help::localized(<Cli as clap::CommandFactory>::command(), help_lang)
        .try_get_matches_from(args)
    {
        Ok(m) => m,
        Err(e) => match help::error_text(&e, help_lang) {
            Some(text) => {
                // As clap's own exit: a closed standard error is no reason to panic.
                let _ = std::io::stderr().write_all(text.as_bytes());
                return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
            }
            None => e.exit(),
        },
    };
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // The log file, at the config's level; standard error only under CERTKEY_LOG.
    certkey_core::logs::init("certkey-cli", certkey_core::logs::Echo::WhenAsked);
    if !matches!(cli.command, Command::Logs(_)) {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            command = %subcommand_name(&matches),
            "certkey started"
        );
    }
    let lang = cli.lang.map_or(help_lang, Lang::from);
    match run(&cli, lang) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = error_text(lang, &e);
            if cli.json {
                let body = serde_json::json!({"error": {"message": msg, "detail": e}});
                let _ = emit(&format!("{body}\n"));
            } else {
                eprintln!("certkey: {msg}");
            }
            ExitCode::from(exit_for(&e))
        }
    }
}

/// The subcommand run (`activate`, `cert export`), for the log: never an argument.
fn subcommand_name(matches: &clap::ArgMatches) -> String {
    let mut names = Vec::new();
    let mut m = matches;
    while let Some((name, sub)) = m.subcommand() {
        names.push(name);
        m = sub;
    }
    names.join(" ")
}

fn setup(cli: &Cli) -> Result<Setup, Error> {
    certkey_core::setup::load(&certkey_core::setup::Extra {
        no_auto_modules: cli.no_auto_modules,
        modules: cli.modules.clone(),
        ca_bundles: cli.ca_bundle.clone(),
    })
}

/// The CA directory in force: the catalog's and the config's CAs, with the service
/// named by `--service`, CERTKEY_SERVICE_URL or the config's `service_url` over them.
fn directory(cli: &Cli, s: &Setup) -> Result<Directory, Error> {
    certkey_core::setup::directory(
        &s.config,
        &s.catalog,
        cli.service.clone(),
        cli.service_ca.clone(),
    )
}

/// The key a command names with `--token`, parsed.
fn selector(token: &Option<String>) -> Result<Option<Selector>, Error> {
    token.as_deref().map(Selector::parse).transpose()
}

fn run(cli: &Cli, lang: Lang) -> Result<u8, Error> {
    match &cli.command {
        Command::Activate {
            token,
            final_try_ok,
        } => {
            let s = setup(cli)?;
            let dir = directory(cli, &s)?;
            let has_order = |serial: &str| dir.has_order(serial);
            let token = workflow::token::select(
                &s.modules,
                &s.catalog,
                selector(token)?.as_ref(),
                Need::Activation {
                    has_order: Some(&has_order),
                },
            )?;
            let service = dir.for_activation(&token.serial)?;
            let ui = Terminal::new(lang, cli.yes, *final_try_ok, cli.json);
            let done = workflow::activate::activate(&ui, &token, &service);
            ui.finish();
            let done = done?;
            if cli.json {
                emit(&format!("{}\n", serde_json::json!(done)))?;
            } else {
                let text = tr(
                    lang,
                    "cli-activated",
                    &[
                        ("token_serial", done.token_serial.as_str().into()),
                        ("subject", done.subject.as_str().into()),
                        ("not_after", done.not_after.as_str().into()),
                        (
                            "certificate_serial",
                            done.certificate_serial.as_str().into(),
                        ),
                    ],
                );
                emit(&format!("{text}\n"))?;
            }
            Ok(0)
        }
        Command::Renew {
            token,
            years,
            quote,
            final_try_ok,
        } => {
            let s = setup(cli)?;
            let dir = directory(cli, &s)?;
            let token = workflow::token::select(
                &s.modules,
                &s.catalog,
                selector(token)?.as_ref(),
                Need::HolderCertificate,
            )?;
            let service = dir.for_token(&token)?;
            let now = time::OffsetDateTime::now_utc();
            if *quote {
                let q = workflow::renew::quote(&token, &service, now)?;
                if cli.json {
                    emit(&format!("{}\n", serde_json::json!(q)))?;
                } else {
                    emit(&render::quote(&q, lang))?;
                }
                return Ok(0);
            }
            let ui = Terminal::new(lang, cli.yes, *final_try_ok, cli.json);
            let done = workflow::renew::renew(&ui, &token, &service, *years, now);
            ui.finish();
            let done = done?;
            if cli.json {
                emit(&format!("{}\n", serde_json::json!(done)))?;
            } else {
                let text = tr(
                    lang,
                    "cli-renewed",
                    &[
                        ("token_serial", done.token_serial.as_str().into()),
                        ("subject", done.subject.as_str().into()),
                        ("not_after", done.not_after.as_str().into()),
                        ("days_left", done.days_left.into()),
                        ("new_serial", done.new_serial.as_str().into()),
                        ("old_serial", done.old_serial.as_str().into()),
                        ("years", optional(done.years)),
                    ],
                );
                emit(&format!("{text}\n"))?;
            }
            Ok(0)
        }
        Command::Unlock {
            token,
            handler_name,
            handler_id,
            handler_phone,
            remember,
            status,
            wait,
            attach,
        } => {
            let s = setup(cli)?;
            let dir = directory(cli, &s)?;
            let token = workflow::token::select(
                &s.modules,
                &s.catalog,
                selector(token)?.as_ref(),
                Need::LockedPin,
            )?;
            let service = dir.for_token(&token)?;
            let handler = match (handler_name, handler_id, handler_phone) {
                (Some(name), Some(id), Some(phone)) => Some(certkey_protocol::v1::Handler {
                    name: name.clone(),
                    id_number: id.clone(),
                    phone: phone.clone(),
                }),
                (None, None, None) => workflow::unlock::remembered_handler(),
                _ => {
                    return Err(Error::InvalidArgument {
                        name: "--handler-name/--handler-id/--handler-phone".into(),
                        reason: t(lang, "cli-handler-all-three"),
                    })
                }
            };
            if *status && !workflow::unlock::has_pending(&token.serial)? {
                return Err(Error::NotApplicable {
                    reason: "no_pending_unlock".into(),
                    days_left: None,
                });
            }
            // Every file is checked before anything is sent.
            let files = attach
                .iter()
                .map(|path| workflow::unlock::read_attachment(path))
                .collect::<Result<Vec<_>, _>>()?;
            let ui = Terminal::new(lang, cli.yes, false, cli.json);
            let run = || workflow::unlock::unlock(&ui, &token, &service, handler.as_ref());
            let mut attached = Vec::new();
            if !files.is_empty() {
                if !workflow::unlock::has_pending(&token.serial)? {
                    // No request yet: ask first; only one under review takes materials.
                    let first = run();
                    if !matches!(
                        first,
                        Ok(workflow::unlock::UnlockOutcome::PendingReview { .. })
                    ) {
                        ui.finish();
                        return unlock_done(cli, lang, &token.serial, first?, &attached);
                    }
                }
                ui.finish();
                for (name, bytes) in &files {
                    let info = workflow::unlock::attach(&service, &token.serial, name, bytes)?;
                    if !cli.json {
                        emit(&format!("{}\n", attached_text(lang, &info)))?;
                    }
                    attached.push(info);
                }
            }
            let deadline =
                std::time::Instant::now() + std::time::Duration::from_secs(wait.unwrap_or(0));
            let outcome = loop {
                let outcome = run();
                match &outcome {
                    Ok(workflow::unlock::UnlockOutcome::PendingReview { .. })
                        if std::time::Instant::now() < deadline =>
                    {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                    }
                    _ => break outcome,
                }
            };
            ui.finish();
            let outcome = outcome?;
            if *remember {
                if let Some(h) = &handler {
                    // Remembering is a convenience: the unlock itself stands.
                    if let Err(e) = workflow::unlock::remember_handler(h) {
                        eprintln!(
                            "certkey: {}: {}",
                            t(lang, "cli-remember-failed"),
                            error_text(lang, &e)
                        );
                    }
                }
            }
            unlock_done(cli, lang, &token.serial, outcome, &attached)
        }
        Command::Pin {
            command:
                PinCommand::Change {
                    token,
                    final_try_ok,
                },
        } => {
            let s = setup(cli)?;
            let token = workflow::token::select(
                &s.modules,
                &s.catalog,
                selector(token)?.as_ref(),
                Need::HolderCertificate,
            )?;
            let ui = Terminal::new(lang, cli.yes, *final_try_ok, cli.json);
            let done = workflow::pin::change(&ui, &token);
            ui.finish();
            done?;
            if cli.json {
                emit(&format!(
                    "{}\n",
                    serde_json::json!({"token_serial": token.serial, "pin_changed": true})
                ))?;
            } else {
                let text = tr(
                    lang,
                    "cli-pin-changed",
                    &[("serial", token.serial.as_str().into())],
                );
                emit(&format!("{text}\n"))?;
            }
            Ok(0)
        }
        Command::Seal { command } => seal_cmd::run(cli, lang, command),
        Command::List => listing(cli, lang, None, None),
        Command::Diagnose(args) => diagnose_cmd::run(cli, lang, args),
        Command::Logs(args) => logs_cmd::run(cli, lang, args),
        Command::Info {
            token,
            login,
            final_try_ok,
        } => {
            let login = if *login {
                // The PIN is asked for only for a key named by its serial number.
                if let Some(t) = token {
                    if !matches!(Selector::parse(t)?, Selector::Serial(ref s) if !s.is_empty()) {
                        return Err(Error::InvalidArgument {
                            name: "token".into(),
                            reason: format!("{t}: --login needs the key's serial number"),
                        });
                    }
                }
                Some(LoginRequest {
                    pin: read_pin(lang)?,
                    final_try_ok: *final_try_ok,
                })
            } else {
                None
            };
            listing(cli, lang, token.clone(), Some(login))
        }
        Command::Cert {
            command:
                CertCommand::Export {
                    token,
                    id,
                    pem,
                    out,
                },
        } => {
            let id = parse_id(id)?;
            let s = setup(cli)?;
            let der = inventory::export_certificate(&s.modules, token, &id)?;
            let bytes = if *pem {
                certkey_core::cert::bundle::to_pem(&der).into_bytes()
            } else {
                der
            };
            match out {
                Some(path) => std::fs::write(path, &bytes).map_err(|e| Error::io(path, &e))?,
                None => emit_bytes(&bytes)?,
            }
            Ok(0)
        }
    }
}

/// One line per attachment sent.
fn attached_text(lang: Lang, info: &certkey_protocol::AttachmentInfo) -> String {
    tr(
        lang,
        "cli-unlock-attached",
        &[
            ("file_name", info.file_name.as_str().into()),
            ("media_type", info.media_type.as_str().into()),
            ("size", info.size.into()),
        ],
    )
}

/// Prints how an unlock run ended (with the files attached by this run, if any) and
/// returns the exit code: 0 unlocked, 9 waiting for review, 8 rejected.
fn unlock_done(
    cli: &Cli,
    lang: Lang,
    serial: &str,
    outcome: workflow::unlock::UnlockOutcome,
    attached: &[certkey_protocol::AttachmentInfo],
) -> Result<u8, Error> {
    use workflow::unlock::UnlockOutcome as O;
    if cli.json {
        let mut v = serde_json::json!(outcome);
        if !attached.is_empty() {
            v["attached"] = serde_json::json!(attached);
        }
        emit(&format!("{v}\n"))?;
    } else {
        let mut lines = Vec::new();
        match &outcome {
            O::Unlocked { .. } => {
                lines.push(tr(lang, "cli-unlocked", &[("serial", serial.into())]))
            }
            O::PendingReview {
                ticket,
                needs_materials,
                note,
                attachments,
            } => {
                match (needs_materials, note) {
                    (true, Some(note)) => lines.push(tr(
                        lang,
                        "cli-unlock-needs-materials",
                        &[
                            ("ticket", ticket.as_str().into()),
                            ("note", note.as_str().into()),
                        ],
                    )),
                    (_, note) => {
                        lines.push(tr(
                            lang,
                            "cli-unlock-pending",
                            &[("ticket", ticket.as_str().into())],
                        ));
                        if let Some(note) = note {
                            lines.push(tr(
                                lang,
                                "cli-unlock-note",
                                &[("note", note.as_str().into())],
                            ));
                        }
                    }
                }
                if !attachments.is_empty() {
                    let files: Vec<&str> =
                        attachments.iter().map(|a| a.file_name.as_str()).collect();
                    lines.push(tr(
                        lang,
                        "cli-unlock-attachments",
                        &[("files", files.join(", ").into())],
                    ));
                }
            }
            O::Rejected { ticket, reason } => lines.push(match reason {
                Some(reason) => tr(
                    lang,
                    "cli-unlock-rejected-reason",
                    &[
                        ("ticket", ticket.as_str().into()),
                        ("reason", reason.as_str().into()),
                    ],
                ),
                None => tr(
                    lang,
                    "cli-unlock-rejected",
                    &[("ticket", ticket.as_str().into())],
                ),
            }),
        }
        emit(&format!("{}\n", lines.join("\n")))?;
    }
    Ok(match outcome {
        O::Unlocked { .. } => 0,
        O::PendingReview { .. } => EXIT_PENDING,
        O::Rejected { .. } => EXIT_NOT_APPLICABLE,
    })
}

fn parse_id(id: &str) -> Result<Vec<u8>, Error> {
    let clean: String = id
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bytes = hex::decode(&clean).map_err(|e| Error::InvalidArgument {
        name: "--id".into(),
        reason: format!("{id:?} is not hex ({e})"),
    })?;
    if bytes.is_empty() {
        return Err(Error::InvalidArgument {
            name: "--id".into(),
            reason: "empty".into(),
        });
    }
    Ok(bytes)
}

/// Writes to stdout. A reader that went away (`certkey list | head`) is not an error.
fn emit_bytes(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::io("<stdout>", &e)),
        _ => Ok(()),
    }
}

/// Writes text to stdout (see [`emit_bytes`]).
fn emit(text: &str) -> Result<(), Error> {
    emit_bytes(text.as_bytes())
}

/// The user PIN from CERTKEY_PIN or CERTKEY_PIN_FILE, else from the terminal without
/// echo.
fn read_pin(lang: Lang) -> Result<SecretString, Error> {
    if let Some(pin) = certkey_protocol::secret_from_env("CERTKEY_PIN")? {
        return Ok(SecretString::from(pin.expose()));
    }
    rpassword::prompt_password(t(lang, "cli-pin-prompt"))
        .map(SecretString::from)
        .map_err(|e| Error::InvalidArgument {
            name: "PIN".into(),
            reason: e.to_string(),
        })
}

/// `detailed` is `None` for `list`, `Some(login)` for `info`.
fn listing(
    cli: &Cli,
    lang: Lang,
    token: Option<String>,
    detailed: Option<Option<LoginRequest>>,
) -> Result<u8, Error> {
    if let Some(t) = &token {
        // A malformed `slot:` is an error, not "no such key".
        Selector::parse(t)?;
    }
    let s = setup(cli)?;
    if let (Some(t), Some(Some(_))) = (&token, &detailed) {
        // The PIN goes to exactly one key (never to every key sharing a serial).
        workflow::token::select(
            &s.modules,
            &s.catalog,
            Some(&Selector::parse(t)?),
            Need::HolderCertificate,
        )?;
    }
    let opts = ScanOptions {
        mechanisms: detailed.is_some(),
        token: token.clone(),
        login: detailed.flatten(),
        ..ScanOptions::default()
    };
    let mut inv = inventory::scan(&s.modules, &s.catalog, &s.bundle, &opts);
    inv.errors.extend(s.errors);
    if let Some(serial) = &token {
        if inv.tokens.is_empty() {
            return Err(Error::TokenNotFound {
                serial: serial.clone(),
            });
        }
    }
    if cli.json {
        let errors = inv
            .errors
            .iter()
            .map(|l| JsonError {
                located: l,
                message: error_text(lang, &l.error),
            })
            .collect();
        let out = JsonInventory {
            inventory: &inv,
            errors,
        };
        let text = serde_json::to_string_pretty(&out).map_err(|e| Error::Io {
            path: "<stdout>".into(),
            reason: e.to_string(),
        })?;
        emit(&format!("{text}\n"))?;
    } else {
        let text = if opts.mechanisms {
            render::info(&inv, lang)
        } else {
            render::list(&inv, lang)
        };
        emit(&text)?;
    }
    let pin_refused = inv
        .errors
        .iter()
        .any(|e| e.error.code().starts_with("pin_"));
    Ok(if pin_refused {
        EXIT_PIN
    } else if inv.errors.is_empty() {
        0
    } else {
        EXIT_PARTIAL
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_hex_with_colons_and_refuse_garbage() {
        assert_eq!(parse_id("0a:0B").unwrap(), vec![0x0a, 0x0b]);
        assert_eq!(parse_id("0x01").unwrap(), vec![1]);
        assert_eq!(parse_id("xyz").unwrap_err().code(), "invalid_argument");
        assert_eq!(parse_id("").unwrap_err().code(), "invalid_argument");
        assert_eq!(parse_id("abc").unwrap_err().code(), "invalid_argument");
    }
}
