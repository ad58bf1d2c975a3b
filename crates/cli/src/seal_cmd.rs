//! `certkey seal write` and `certkey seal show`: the one electronic seal of a
//! certificate, made by the CA from the holder's picture and kept on the key.

use std::io::Read;
use std::path::{Path, PathBuf};

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
    /// Show the seals on a key and check them (no PIN needed).
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
            let mut seals = seal::show(&token, time::OffsetDateTime::now_utc())?;
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
                    "exported": export,
                });
                let text = serde_json::to_string_pretty(&body).map_err(|e| Error::Io {
                    path: "<stdout>".into(),
                    reason: e.to_string(),
                })?;
                emit(&format!("{text}\n"))?;
            } else {
                emit(&render(lang, &token.serial, &seals, export.as_deref()))?;
            }
            let all_good = seals
                .iter()
                .all(|s| s.signature_valid && s.bound_to_certificate && s.details.is_some());
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

fn render(lang: Lang, serial: &str, seals: &[SealShown], export: Option<&Path>) -> String {
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
        let validity = yes_no(
            lang,
            d.valid_now,
            ("", "（当前不在有效期内）"),
            ("", " (not valid now)"),
        );
        let maker = d.maker_subject.as_deref().unwrap_or("?");
        out.push_str(&match lang {
            Lang::ZhCn => format!(
                "\n  “{}”  {kind}，编号 {}\n    格式        {}（版本 {}，厂商 {}）\n    有效期      {} 至 {}{validity}\n    图像        {}，{} 字节{px}，{}×{} 毫米\n    制章者      {maker}（{}）\n    制章签名    {sig}\n    绑定证书    {bound}：ID {}，{cert}\n",
                d.name, d.es_id, d.form, d.version, d.vid, d.valid_start, d.valid_end,
                d.picture_kind, d.picture_bytes, d.width_mm, d.height_mm, d.sign_algorithm,
                s.certificate_id
            ),
            Lang::En => format!(
                "\n  \"{}\"  {kind}, id {}\n    format       {} (version {}, vendor {})\n    valid        {} to {}{validity}\n    picture      {}, {} bytes{px}, {}x{} mm\n    maker        {maker} ({})\n    signature    {sig}\n    bound        {bound}: id {}, {cert}\n",
                d.name, d.es_id, d.form, d.version, d.vid, d.valid_start, d.valid_end,
                d.picture_kind, d.picture_bytes, d.width_mm, d.height_mm, d.sign_algorithm,
                s.certificate_id
            ),
        });
    }
    if let Some(path) = export {
        out.push_str(&match lang {
            Lang::ZhCn => format!("\n印章图像已保存到 {}\n", path.display()),
            Lang::En => format!("\nThe seal picture is saved in {}\n", path.display()),
        });
    }
    out
}
