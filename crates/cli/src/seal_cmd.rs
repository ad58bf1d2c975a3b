//! `certkey seal write` and `certkey seal show`: the one electronic seal of a
//! certificate, made by the CA from the holder's picture and kept on the key.

use std::io::Read;
use std::path::{Path, PathBuf};

use certkey_core::cert::chain::Untrusted;
use certkey_core::workflow::ca_list::{self, CaList, CaListSource};
use certkey_core::workflow::seal::{self, SealOptions, SealShown};
use certkey_core::{workflow, Error};
use clap::Subcommand;

use crate::i18n::{error_text, Lang};
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
            let service = directory(cli, &s.catalog)?.for_token(&token)?;
            let ui = Terminal::new(lang, cli.yes, *final_try_ok, cli.json);
            let done = seal::write(&ui, &token, &service, &picture, &opts);
            ui.finish();
            let done = done?;
            if cli.json {
                emit(&format!("{}\n", serde_json::json!(done)))?;
            } else {
                emit(&match lang {
                    Lang::ZhCn => format!(
                        "电子印章已写入 Key {}：“{}”（{}×{} 毫米，印章编号 {}），绑定证书 {}（序列号 {}），有效期至 {}。\n",
                        done.token_serial,
                        done.name,
                        done.width_mm,
                        done.height_mm,
                        done.es_id,
                        done.certificate_subject,
                        done.certificate_serial,
                        done.valid_end
                    ),
                    Lang::En => format!(
                        "The electronic seal is on key {}: \"{}\" ({}x{} mm, seal id {}), bound to the certificate {} (serial {}), valid until {}.\n",
                        done.token_serial,
                        done.name,
                        done.width_mm,
                        done.height_mm,
                        done.es_id,
                        done.certificate_subject,
                        done.certificate_serial,
                        done.valid_end
                    ),
                })?;
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
            let service = directory(cli, &s.catalog).and_then(|d| d.for_token(&token));
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
                        reason: format!(
                            "the key holds {} seals: choose one with --id",
                            seals.len()
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

fn yes_no(
    lang: Lang,
    ok: bool,
    zh: (&'static str, &'static str),
    en: (&'static str, &'static str),
) -> &'static str {
    match (lang, ok) {
        (Lang::ZhCn, true) => zh.0,
        (Lang::ZhCn, false) => zh.1,
        (Lang::En, true) => en.0,
        (Lang::En, false) => en.1,
    }
}

/// Why a maker certificate is not trusted, in words.
fn untrusted_text(lang: Lang, why: Untrusted) -> &'static str {
    match (lang, why) {
        (Lang::ZhCn, Untrusted::NoTrustedCa) => {
            "没有任何可信的 CA 证书可供核对（见下方 CA 证书列表）"
        }
        (Lang::En, Untrusted::NoTrustedCa) => {
            "there is no trusted CA certificate to check it against (see the CA list below)"
        }
        (Lang::ZhCn, Untrusted::CertificateInvalid) => "制章者证书无法解析",
        (Lang::En, Untrusted::CertificateInvalid) => "the maker's certificate does not parse",
        (Lang::ZhCn, Untrusted::CertificateNotValidNow) => "制章者证书当前不在有效期内",
        (Lang::En, Untrusted::CertificateNotValidNow) => "the maker's certificate is not valid now",
        (Lang::ZhCn, Untrusted::SelfIssued) => "制章者证书是自签发的，不是由 CA 签发的",
        (Lang::En, Untrusted::SelfIssued) => {
            "the maker's certificate is self-issued, not issued by a CA"
        }
        (Lang::ZhCn, Untrusted::KeyUsage) => "制章者证书的密钥用法不允许签名",
        (Lang::En, Untrusted::KeyUsage) => {
            "the maker's certificate's key usage does not allow signing"
        }
        (Lang::ZhCn, Untrusted::IssuerNotTrusted) => "制章者证书不是由可信 CA 签发的",
        (Lang::En, Untrusted::IssuerNotTrusted) => {
            "the maker's certificate is not issued by a trusted CA"
        }
    }
}

/// Where the trusted CA certificates came from, and why the service's are missing.
fn ca_list_text(lang: Lang, cas: &CaList) -> String {
    let service = cas.service.as_deref().unwrap_or("?");
    let at = cas.fetched_at.as_deref().unwrap_or("?");
    let why = cas
        .service_error
        .as_ref()
        .map(|e| error_text(lang, e))
        .unwrap_or_default();
    let cache = cas.cache_error.as_deref().unwrap_or_default();
    let (n, m) = (cas.service_certificates, cas.bundle_certificates);
    match (lang, cas.source) {
        (Lang::ZhCn, CaListSource::Service) => {
            format!("CA 证书列表：来自 CA 服务 {service}（{n} 张），CA 证书包 {m} 张\n")
        }
        (Lang::En, CaListSource::Service) => format!(
            "CA list: from the CA service {service} ({n} certificates), {m} from CA bundles\n"
        ),
        (Lang::ZhCn, CaListSource::Cache) => format!(
            "CA 证书列表：CA 服务暂不可用（{why}），使用 {at} 缓存的列表（{n} 张），CA 证书包 {m} 张\n"
        ),
        (Lang::En, CaListSource::Cache) => format!(
            "CA list: the CA service cannot be used ({why}); using its list cached at {at} ({n} certificates), {m} from CA bundles\n"
        ),
        (Lang::ZhCn, CaListSource::None) => {
            let cache = if cache.is_empty() {
                String::new()
            } else {
                format!("；没有可用的缓存：{cache}")
            };
            format!("CA 证书列表：没有来自 CA 服务的列表（{why}{cache}），CA 证书包 {m} 张（可用 --ca-bundle 或配置 ca_bundle 指定）\n")
        }
        (Lang::En, CaListSource::None) => {
            let cache = if cache.is_empty() {
                String::new()
            } else {
                format!("; no usable cache: {cache}")
            };
            format!("CA list: none from a CA service ({why}{cache}); {m} from CA bundles (give them with --ca-bundle or the config's ca_bundle)\n")
        }
    }
}

fn render(
    lang: Lang,
    serial: &str,
    seals: &[SealShown],
    cas: &CaList,
    export: Option<&Path>,
) -> String {
    let mut out = match lang {
        Lang::ZhCn => format!("Key {serial} 上的电子印章（{} 枚）：\n", seals.len()),
        Lang::En => format!("Electronic seals on key {serial} ({}):\n", seals.len()),
    };
    for s in seals {
        let cert = s.certificate_subject.as_deref().unwrap_or(match lang {
            Lang::ZhCn => "（Key 上没有此 ID 的证书）",
            Lang::En => "(no certificate with this id on the key)",
        });
        let Some(d) = &s.details else {
            let why = s
                .error
                .as_ref()
                .map(|e| error_text(lang, e))
                .unwrap_or_default();
            out.push_str(&match lang {
                Lang::ZhCn => format!("\n  ID {}：无法读取的印章（{why}）\n", s.certificate_id),
                Lang::En => format!("\n  id {}: unreadable seal ({why})\n", s.certificate_id),
            });
            continue;
        };
        let kind = match (lang, d.seal_type.as_str()) {
            (Lang::ZhCn, "organisation") => "单位印章".to_string(),
            (Lang::ZhCn, "personal") => "个人印章".to_string(),
            (Lang::ZhCn, other) => format!("类型 {other}"),
            (Lang::En, "organisation") => "organisation seal".to_string(),
            (Lang::En, "personal") => "personal seal".to_string(),
            (Lang::En, other) => format!("type {other}"),
        };
        let px = match (lang, d.picture_width_px, d.picture_height_px) {
            (Lang::ZhCn, Some(w), Some(h)) => format!("，{w}×{h} 像素"),
            (Lang::En, Some(w), Some(h)) => format!(", {w}x{h} px"),
            _ => String::new(),
        };
        let sig = yes_no(
            lang,
            s.signature_valid,
            ("有效", "无效！"),
            ("valid", "INVALID"),
        );
        let bound = yes_no(lang, s.bound_to_certificate, ("是", "否！"), ("yes", "NO"));
        let trusted = match (lang, &s.maker_trusted_by, s.maker_untrusted_reason) {
            (Lang::ZhCn, Some(ca), _) if s.maker_trusted => format!("是（{ca}）"),
            (Lang::En, Some(ca), _) if s.maker_trusted => format!("yes ({ca})"),
            (Lang::ZhCn, _, why) => format!(
                "否！（{}）",
                untrusted_text(lang, why.unwrap_or(Untrusted::IssuerNotTrusted))
            ),
            (Lang::En, _, why) => format!(
                "NO ({})",
                untrusted_text(lang, why.unwrap_or(Untrusted::IssuerNotTrusted))
            ),
        };
        let validity = yes_no(
            lang,
            d.valid_now,
            ("", "（当前不在有效期内）"),
            ("", " (not valid now)"),
        );
        let maker = d.maker_subject.as_deref().unwrap_or("?");
        out.push_str(&match lang {
            Lang::ZhCn => format!(
                "\n  “{}”  {kind}，编号 {}\n    格式        {}（版本 {}，厂商 {}）\n    有效期      {} 至 {}{validity}\n    图像        {}，{} 字节{px}，{}×{} 毫米\n    制章者      {maker}（{}）\n    制章签名    {sig}\n    制章者可信  {trusted}\n    绑定证书    {bound}：ID {}，{cert}\n",
                d.name, d.es_id, d.form, d.version, d.vid, d.valid_start, d.valid_end,
                d.picture_kind, d.picture_bytes, d.width_mm, d.height_mm, d.sign_algorithm,
                s.certificate_id
            ),
            Lang::En => format!(
                "\n  \"{}\"  {kind}, id {}\n    format       {} (version {}, vendor {})\n    valid        {} to {}{validity}\n    picture      {}, {} bytes{px}, {}x{} mm\n    maker        {maker} ({})\n    signature    {sig}\n    maker trusted {trusted}\n    bound        {bound}: id {}, {cert}\n",
                d.name, d.es_id, d.form, d.version, d.vid, d.valid_start, d.valid_end,
                d.picture_kind, d.picture_bytes, d.width_mm, d.height_mm, d.sign_algorithm,
                s.certificate_id
            ),
        });
    }
    out.push('\n');
    out.push_str(&ca_list_text(lang, cas));
    if let Some(path) = export {
        out.push_str(&match lang {
            Lang::ZhCn => format!("\n印章图像已保存到 {}\n", path.display()),
            Lang::En => format!("\nThe seal picture is saved in {}\n", path.display()),
        });
    }
    out
}
