//! `certkey seal write` and `certkey seal show`: the one electronic seal of a
//! certificate, made by the CA from the holder's picture and kept on the key.

use std::io::Read;
use std::path::{Path, PathBuf};

use certkey_core::cert::chain::Untrusted;
use certkey_core::workflow::ca_list::{self, CaList, CaListSource};
use certkey_core::workflow::seal::{self, SealOptions, SealShown};
use certkey_core::{workflow, Error};
use clap::Subcommand;

use crate::i18n::{error_text, t, tr, Lang};
use crate::interact::Terminal;
use crate::{directory, emit, selector, setup, Cli, EXIT_PARTIAL};
use certkey_core::workflow::token::Need;

/// Largest picture file read (the seal library's input limit).
const MAX_IMAGE_FILE: u64 = 4 * 1024 * 1024;

#[derive(Subcommand, Debug)]
pub enum SealCommand {
    /// Have the CA make the electronic seal of the key's certificate from a picture
    /// (PNG, JPEG or BMP, at most 4 MiB; the white background becomes transparent)
    /// and write it onto the key. One seal per certificate (CERTKEY_PIN for
    /// automation).
    Write {
        /// The seal picture.
        #[arg(long, value_name = "FILE")]
        image: PathBuf,
        /// The key: its serial number, or slot:ID or label:TEXT (default: the one key
        /// present that holds a certificate).
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// The seal's name (default: the organisation for an organisation
        /// certificate, else the holder's name).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Width in mm, 10 to 100 (default: 42 for an organisation, 20 for a person).
        #[arg(long, value_name = "N")]
        width_mm: Option<u32>,
        /// Height in mm, 10 to 100 (default: the width).
        #[arg(long, value_name = "N")]
        height_mm: Option<u32>,
        /// Allow using the key's final PIN try.
        #[arg(long)]
        final_try_ok: bool,
    },
    /// Show the seals on a key and check them (no PIN needed): the maker's signature,
    /// the binding to the certificate, and that the maker's certificate chains to a
    /// trusted CA (the CA service's /cacerts, cached for when it is out of reach, and
    /// --ca-bundle).
    Show {
        /// The key: its serial number, or slot:ID or label:TEXT (default: the one key
        /// present that holds a certificate).
        #[arg(long, value_name = "SERIAL")]
        token: Option<String>,
        /// Only the seal of the certificate with this CKA_ID (hex).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
        /// Write the seal's picture to this file (needs exactly one seal).
        #[arg(long, value_name = "FILE")]
        export: Option<PathBuf>,
    },
}

/// Reads the picture file, refusing one above 4 MiB before reading it.
fn read_image(path: &Path) -> Result<Vec<u8>, Error> {
    let too_large = |n: u64| Error::InvalidArgument {
        name: "image".into(),
        reason: format!(
            "image_too_large: {} has {n} bytes, more than the {MAX_IMAGE_FILE} allowed",
            path.display()
        ),
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, &e))?;
    if !meta.is_file() {
        return Err(Error::InvalidArgument {
            name: "image".into(),
            reason: format!("{} is not a file", path.display()),
        });
    }
    if meta.len() > MAX_IMAGE_FILE {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut data = Vec::new();
    file.take(MAX_IMAGE_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::io(path, &e))?;
    if data.len() as u64 > MAX_IMAGE_FILE {
        return Err(too_large(data.len() as u64));
    }
    Ok(data)
}

/// Runs `certkey seal ...`.
pub fn run(cli: &Cli, lang: Lang, command: &SealCommand) -> Result<u8, Error> {
    match command {
        SealCommand::Write {
            image,
            token,
            name,
            width_mm,
            height_mm,
            final_try_ok,
        } => {
            let picture = read_image(image)?;
            let opts = SealOptions {
                name: name.clone(),
                width_mm: *width_mm,
                height_mm: *height_mm,
            };
            let s = setup(cli)?;
            let token = workflow::token::select(
                &s.modules,
                &s.catalog,
                selector(token)?.as_ref(),
                Need::HolderCertificate,
            )?;
            let service = directory(cli, &s)?.for_token(&token)?;
            let ui = Terminal::new(lang, cli.yes, *final_try_ok, cli.json);
            let done = seal::write(&ui, &token, &service, &picture, &opts);
            ui.finish();
            let done = done?;
            if cli.json {
                emit(&format!("{}\n", serde_json::json!(done)))?;
            } else {
                let text = tr(
                    lang,
                    "cli-seal-written",
                    &[
                        ("token_serial", done.token_serial.as_str().into()),
                        ("name", done.name.as_str().into()),
                        ("width_mm", done.width_mm.into()),
                        ("height_mm", done.height_mm.into()),
                        ("es_id", done.es_id.as_str().into()),
                        (
                            "certificate_subject",
                            done.certificate_subject.as_str().into(),
                        ),
                        (
                            "certificate_serial",
                            done.certificate_serial.as_str().into(),
                        ),
                        ("valid_end", done.valid_end.as_str().into()),
                    ],
                );
                emit(&format!("{text}\n"))?;
            }
            Ok(0)
        }
        SealCommand::Show { token, id, export } => {
            let want = id.as_deref().map(crate::parse_id).transpose()?;
            let s = setup(cli)?;
            let token = workflow::token::select(
                &s.modules,
                &s.catalog,
                selector(token)?.as_ref(),
                Need::HolderCertificate,
            )?;
            let now = time::OffsetDateTime::now_utc();
            // The CA list: the key's CA service (or its cache) and the bundles. No
            // service is no error here: the bundles may be enough, and the answer
            // says why the service's list is missing.
            let service = directory(cli, &s).and_then(|d| d.for_token(&token));
            let state = certkey_core::config::state_dir();
            let cas = ca_list::load(
                service.as_ref().map_err(Clone::clone),
                &s.bundle,
                state.as_deref(),
                now,
            );
            let mut seals = seal::show(&token, now, &cas.certificates)?;
            if let Some(want) = want {
                let want = hex::encode(want);
                seals.retain(|s| s.certificate_id == want);
            }
            if seals.is_empty() {
                return Err(Error::NotApplicable {
                    reason: "no_seal".into(),
                    days_left: None,
                });
            }
            if let Some(path) = export {
                let [one] = seals.as_slice() else {
                    return Err(Error::InvalidArgument {
                        name: "--export".into(),
                        reason: tr(
                            lang,
                            "cli-export-one-seal",
                            &[("count", seals.len().into())],
                        ),
                    });
                };
                let Some(d) = &one.details else {
                    return Err(one.error.clone().unwrap_or(Error::NotApplicable {
                        reason: "no_seal".into(),
                        days_left: None,
                    }));
                };
                std::fs::write(path, &d.picture).map_err(|e| Error::io(path, &e))?;
            }
            if cli.json {
                let body = serde_json::json!({
                    "token_serial": token.serial,
                    "seals": seals,
                    "ca_list": cas,
                    "exported": export,
                });
                let text = serde_json::to_string_pretty(&body).map_err(|e| Error::Io {
                    path: "<stdout>".into(),
                    reason: e.to_string(),
                })?;
                emit(&format!("{text}\n"))?;
            } else {
                emit(&render(
                    lang,
                    &token.serial,
                    &seals,
                    &cas,
                    export.as_deref(),
                ))?;
            }
            let all_good = seals.iter().all(|s| {
                s.signature_valid
                    && s.bound_to_certificate
                    && s.maker_trusted
                    && s.details.is_some()
            });
            Ok(if all_good { 0 } else { EXIT_PARTIAL })
        }
    }
}

/// Why a maker certificate is not trusted, in words.
fn untrusted_text(lang: Lang, why: Untrusted) -> String {
    t(
        lang,
        match why {
            Untrusted::NoTrustedCa => "cli-untrusted-no_trusted_ca",
            Untrusted::CertificateInvalid => "cli-untrusted-certificate_invalid",
            Untrusted::CertificateNotValidNow => "cli-untrusted-certificate_not_valid_now",
            Untrusted::SelfIssued => "cli-untrusted-self_issued",
            Untrusted::KeyUsage => "cli-untrusted-key_usage",
            Untrusted::IssuerNotTrusted => "cli-untrusted-issuer_not_trusted",
            Untrusted::HolderCertificate => "cli-untrusted-holder_certificate",
        },
    )
}

/// Where the trusted CA certificates came from, and why the service's are missing.
fn ca_list_text(lang: Lang, cas: &CaList) -> String {
    let why = cas
        .service_error
        .as_ref()
        .map(|e| error_text(lang, e))
        .unwrap_or_default();
    let cache_note = match cas.cache_error.as_deref() {
        None | Some("") => String::new(),
        Some(reason) => tr(lang, "cli-ca-list-no-cache", &[("reason", reason.into())]),
    };
    let args = [
        ("service", cas.service.as_deref().unwrap_or("?").into()),
        (
            "fetched_at",
            cas.fetched_at.as_deref().unwrap_or("?").into(),
        ),
        ("service_count", cas.service_certificates.into()),
        ("bundle_count", cas.bundle_certificates.into()),
        ("why", why.into()),
        ("cache_note", cache_note.into()),
    ];
    let id = match cas.source {
        CaListSource::Service => "cli-ca-list-service",
        CaListSource::Cache => "cli-ca-list-cache",
        CaListSource::None => "cli-ca-list-none",
    };
    format!("{}\n", tr(lang, id, &args))
}

fn render(
    lang: Lang,
    serial: &str,
    seals: &[SealShown],
    cas: &CaList,
    export: Option<&Path>,
) -> String {
    let mut out = tr(
        lang,
        "cli-seals-heading",
        &[("serial", serial.into()), ("count", seals.len().into())],
    );
    out.push('\n');
    for s in seals {
        let cert = s
            .certificate_subject
            .clone()
            .unwrap_or_else(|| t(lang, "cli-seal-no-certificate"));
        let Some(d) = &s.details else {
            let why = s
                .error
                .as_ref()
                .map(|e| error_text(lang, e))
                .unwrap_or_default();
            let line = tr(
                lang,
                "cli-seal-unreadable",
                &[
                    ("id", s.certificate_id.as_str().into()),
                    ("reason", why.into()),
                ],
            );
            out.push_str(&format!("\n  {line}\n"));
            continue;
        };
        let kind = match d.seal_type.as_str() {
            "organisation" => t(lang, "cli-seal-type-organisation"),
            "personal" => t(lang, "cli-seal-type-personal"),
            other => tr(lang, "cli-seal-type-other", &[("type", other.into())]),
        };
        let pixels = match (d.picture_width_px, d.picture_height_px) {
            (Some(w), Some(h)) => tr(
                lang,
                "cli-seal-pixels",
                &[("width", w.into()), ("height", h.into())],
            ),
            _ => String::new(),
        };
        let pick = |ok: bool, yes: &str, no: &str| t(lang, if ok { yes } else { no });
        let signature = pick(
            s.signature_valid,
            "cli-seal-signature-valid",
            "cli-seal-signature-invalid",
        );
        let bound = pick(
            s.bound_to_certificate,
            "cli-seal-bound-yes",
            "cli-seal-bound-no",
        );
        let trusted = match &s.maker_trusted_by {
            Some(ca) if s.maker_trusted => {
                tr(lang, "cli-seal-trusted", &[("ca", ca.as_str().into())])
            }
            _ => {
                let why = s
                    .maker_untrusted_reason
                    .unwrap_or(Untrusted::IssuerNotTrusted);
                tr(
                    lang,
                    "cli-seal-untrusted",
                    &[("reason", untrusted_text(lang, why).into())],
                )
            }
        };
        let not_valid_now = if d.valid_now {
            String::new()
        } else {
            t(lang, "cli-seal-not-valid-now")
        };
        let lines = [
            tr(
                lang,
                "cli-seal-title",
                &[
                    ("name", d.name.as_str().into()),
                    ("kind", kind.into()),
                    ("es_id", d.es_id.as_str().into()),
                ],
            ),
            tr(
                lang,
                "cli-seal-format",
                &[
                    ("form", d.form.as_str().into()),
                    ("version", d.version.into()),
                    ("vid", d.vid.as_str().into()),
                ],
            ),
            tr(
                lang,
                "cli-seal-validity",
                &[
                    ("start", d.valid_start.as_str().into()),
                    ("end", d.valid_end.as_str().into()),
                    ("not_valid_now", not_valid_now.into()),
                ],
            ),
            tr(
                lang,
                "cli-seal-picture",
                &[
                    ("picture_kind", d.picture_kind.as_str().into()),
                    ("bytes", d.picture_bytes.into()),
                    ("pixels", pixels.into()),
                    ("width_mm", d.width_mm.into()),
                    ("height_mm", d.height_mm.into()),
                ],
            ),
            tr(
                lang,
                "cli-seal-maker",
                &[
                    ("maker", d.maker_subject.as_deref().unwrap_or("?").into()),
                    ("algorithm", d.sign_algorithm.as_str().into()),
                ],
            ),
            tr(
                lang,
                "cli-seal-signature",
                &[("signature", signature.into())],
            ),
            tr(
                lang,
                "cli-seal-maker-trusted",
                &[("trusted", trusted.into())],
            ),
            tr(
                lang,
                "cli-seal-bound",
                &[
                    ("bound", bound.into()),
                    ("id", s.certificate_id.as_str().into()),
                    ("certificate", cert.into()),
                ],
            ),
        ];
        let [title, rest @ ..] = &lines;
        out.push_str(&format!("\n  {title}\n"));
        for line in rest {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out.push('\n');
    out.push_str(&ca_list_text(lang, cas));
    if let Some(path) = export {
        let line = tr(
            lang,
            "cli-seal-exported",
            &[("path", path.display().to_string().into())],
        );
        out.push_str(&format!("\n{line}\n"));
    }
    out
}
