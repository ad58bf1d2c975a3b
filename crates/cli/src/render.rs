//! Human-readable text for `certkey list` and `certkey info`.

use std::fmt::Write;

use certkey_core::cert::verify::SignatureCheck;
use certkey_core::inventory::{CertificateEntry, Inventory, TokenReport};
use certkey_core::pkcs11::objects::ObjectKind;
use certkey_core::pkcs11::token::PinState;
use certkey_protocol::{CertType, RenewalStatus};
use unicode_width::UnicodeWidthStr;

use crate::i18n::{error_text, Lang};

/// Pads to a display width (CJK characters count double).
fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Renders rows as aligned columns.
fn table(rows: &[Vec<String>], indent: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| pad(s, widths[i]))
            .collect();
        let _ = writeln!(out, "{indent}{}", line.join("  ").trim_end());
    }
    out
}

fn pin_text(lang: Lang, p: &PinState) -> String {
    let mut parts = Vec::new();
    if !p.initialized {
        parts.push(lang.t("未设置", "not set"));
    }
    if p.locked {
        parts.push(lang.t("已锁定（需解锁）", "LOCKED (needs unlocking)"));
    } else if p.final_try {
        parts.push(lang.t("仅剩最后一次机会", "final try left"));
    } else if p.count_low {
        parts.push(lang.t("曾输错，剩余次数减少", "wrong PIN entered, tries reduced"));
    }
    if p.to_be_changed {
        parts.push(lang.t("需修改", "must be changed"));
    }
    if parts.is_empty() {
        parts.push(lang.t("正常", "OK"));
    }
    format!(
        "{} ({}-{})",
        parts.join(lang.t("，", ", ")),
        p.min_len,
        p.max_len
    )
}

fn renewal_text(lang: Lang, r: RenewalStatus) -> &'static str {
    match r {
        RenewalStatus::Valid => lang.t("有效", "valid"),
        RenewalStatus::Renewable => lang.t("可续期", "renewable"),
        RenewalStatus::Expired => lang.t("已过期", "expired"),
        RenewalStatus::NotYetValid => lang.t("尚未生效", "not yet valid"),
    }
}

fn yes_no_unknown(lang: Lang, v: Option<bool>) -> &'static str {
    match v {
        Some(true) => lang.t("有", "yes"),
        Some(false) => lang.t("无", "no"),
        None => lang.t("登录后可见", "after login"),
    }
}

/// A certificate type's name.
pub fn cert_type_text(lang: Lang, t: CertType) -> &'static str {
    type_text(lang, Some(t))
}

fn type_text(lang: Lang, t: Option<CertType>) -> &'static str {
    match t {
        Some(CertType::Organisation) => lang.t("机构", "organisation"),
        Some(CertType::OrgPerson) => lang.t("机构个人", "person in organisation"),
        Some(CertType::Person) => lang.t("个人", "person"),
        None => "-",
    }
}

fn signature_text(lang: Lang, s: &Option<SignatureCheck>) -> String {
    match s {
        Some(SignatureCheck::Valid { issuer, .. }) => {
            format!("{} ({issuer})", lang.t("签名有效", "valid"))
        }
        Some(SignatureCheck::Invalid { issuer, .. }) => {
            format!("{} ({issuer})", lang.t("签名无效！", "INVALID!"))
        }
        Some(SignatureCheck::IssuerNotFound) => {
            lang.t("未找到颁发者证书", "issuer not available").into()
        }
        Some(SignatureCheck::Unsupported { algorithm }) => format!(
            "{} {algorithm}",
            lang.t("不支持的算法", "unsupported algorithm")
        ),
        None => "-".into(),
    }
}

fn token_heading(out: &mut String, lang: Lang, t: &TokenReport) {
    let initialised = t.details.flags.contains(&"CKF_TOKEN_INITIALIZED");
    let label = if !initialised {
        lang.t("（空白 Key，未初始化）", "(blank key, not initialised)")
    } else if t.details.label.is_empty() {
        "-"
    } else {
        &t.details.label
    };
    let _ = writeln!(
        out,
        "{} {label}  {} {}  ({} {})",
        lang.t("Key", "Key"),
        lang.t("序列号", "serial"),
        t.details.serial,
        t.details.manufacturer,
        t.details.model
    );
    let _ = writeln!(
        out,
        "  {} {}  {} {}",
        lang.t("驱动", "module"),
        t.module,
        lang.t("槽", "slot"),
        t.slot
    );
    let _ = writeln!(out, "  PIN: {}", pin_text(lang, &t.details.pin));
}

fn cert_rows(lang: Lang, certs: &[CertificateEntry]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "ID".to_string(),
        lang.t("持有者", "subject").into(),
        lang.t("颁发者", "issuer").into(),
        lang.t("到期", "expires").into(),
        lang.t("剩余天数", "days left").into(),
        lang.t("状态", "status").into(),
        lang.t("算法", "key").into(),
        lang.t("私钥", "private key").into(),
    ]];
    for c in certs {
        match &c.info {
            Some(i) => rows.push(vec![
                c.id.clone(),
                i.subject_cn.clone().unwrap_or_else(|| i.subject.clone()),
                i.issuer_cn.clone().unwrap_or_else(|| i.issuer.clone()),
                i.not_after.get(..10).unwrap_or(&i.not_after).to_string(),
                i.days_left.to_string(),
                renewal_text(lang, i.renewal).into(),
                i.key_algorithm.clone(),
                yes_no_unknown(lang, c.has_private_key).into(),
            ]),
            None => rows.push(vec![
                c.id.clone(),
                c.label.clone(),
                lang.t("（无法读取）", "(unreadable)").into(),
            ]),
        }
    }
    rows
}

fn errors_block(out: &mut String, lang: Lang, inv: &Inventory) {
    if inv.errors.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", lang.t("错误：", "Errors:"));
    for e in &inv.errors {
        let mut place = Vec::new();
        if let Some(m) = &e.module {
            place.push(m.clone());
        }
        if let Some(s) = e.slot {
            place.push(format!("{} {s}", lang.t("槽", "slot")));
        }
        if let Some(o) = &e.object {
            place.push(format!("{} {o}", lang.t("对象", "object")));
        }
        let _ = writeln!(
            out,
            "  [{}] {}",
            place.join(", "),
            error_text(lang, &e.error)
        );
    }
}

/// `certkey list`.
pub fn list(inv: &Inventory, lang: Lang) -> String {
    let mut out = String::new();
    if inv.tokens.is_empty() {
        let _ = writeln!(out, "{}", lang.t("未发现 Key。", "No keys found."));
    }
    for t in &inv.tokens {
        token_heading(&mut out, lang, t);
        if t.certificates.is_empty() {
            let _ = writeln!(out, "  {}", lang.t("没有证书", "no certificates"));
        } else {
            out.push_str(&table(&cert_rows(lang, &t.certificates), "  "));
        }
        out.push('\n');
    }
    errors_block(&mut out, lang, inv);
    out
}

/// `certkey info`.
pub fn info(inv: &Inventory, lang: Lang) -> String {
    let mut out = String::new();
    if inv.tokens.is_empty() {
        let _ = writeln!(out, "{}", lang.t("未发现 Key。", "No keys found."));
    }
    for t in &inv.tokens {
        token_heading(&mut out, lang, t);
        let d = &t.details;
        let mut rows = vec![
            vec![
                lang.t("厂商配置", "vendor profile").to_string(),
                t.vendor.clone().unwrap_or_else(|| "-".into()),
            ],
            vec![
                lang.t("硬件/固件版本", "hardware/firmware").into(),
                format!("{} / {}", d.hardware_version, d.firmware_version),
            ],
            vec![lang.t("标志", "flags").into(), d.flags.join(" ")],
            vec![
                lang.t("管理员 PIN", "SO PIN").into(),
                format!(
                    "{}{}{}",
                    if d.so_pin.locked {
                        lang.t("已锁定 ", "locked ")
                    } else {
                        ""
                    },
                    if d.so_pin.final_try {
                        lang.t("最后一次机会 ", "final try ")
                    } else {
                        ""
                    },
                    if d.so_pin.count_low {
                        lang.t("曾输错", "count low")
                    } else {
                        lang.t("正常", "OK")
                    }
                ),
            ],
        ];
        let mem = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        rows.push(vec![
            lang.t("公有存储 空闲/总量", "public memory free/total")
                .into(),
            format!(
                "{} / {}",
                mem(d.memory.free_public),
                mem(d.memory.total_public)
            ),
        ]);
        rows.push(vec![
            lang.t("私有存储 空闲/总量", "private memory free/total")
                .into(),
            format!(
                "{} / {}",
                mem(d.memory.free_private),
                mem(d.memory.total_private)
            ),
        ]);
        out.push_str(&table(&rows, "  "));
        if let Some(mechs) = &t.mechanisms {
            let names: Vec<&str> = mechs.iter().map(|m| m.name.as_str()).collect();
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                lang.t("算法机制", "mechanisms"),
                mechs.len(),
                names.join(" ")
            );
        }
        for c in &t.certificates {
            let _ = writeln!(
                out,
                "  {} {} \"{}\"",
                lang.t("证书", "certificate"),
                c.id,
                c.label
            );
            match &c.info {
                Some(i) => {
                    let rows = vec![
                        vec![lang.t("持有者", "subject").to_string(), i.subject.clone()],
                        vec![lang.t("颁发者", "issuer").into(), i.issuer.clone()],
                        vec![lang.t("序列号", "serial").into(), i.serial_hex.clone()],
                        vec![
                            lang.t("有效期", "validity").into(),
                            format!("{} .. {}", i.not_before, i.not_after),
                        ],
                        vec![
                            lang.t("剩余天数", "days left").into(),
                            format!("{} ({})", i.days_left, renewal_text(lang, i.renewal)),
                        ],
                        vec![
                            lang.t("证书类型", "type").into(),
                            type_text(lang, i.cert_type_hint).into(),
                        ],
                        vec![lang.t("密钥算法", "key").into(), i.key_algorithm.clone()],
                        vec![
                            lang.t("签名算法", "signature").into(),
                            i.signature_algorithm.clone(),
                        ],
                        vec![
                            lang.t("密钥用法", "key usage").into(),
                            i.key_usage.join(" "),
                        ],
                        vec![
                            lang.t("扩展用法", "extended usage").into(),
                            i.extended_key_usage.join(" "),
                        ],
                        vec!["SHA-256".into(), i.sha256.clone()],
                        vec!["SM3".into(), i.sm3.clone()],
                        vec![
                            lang.t("私钥", "private key").into(),
                            yes_no_unknown(lang, c.has_private_key).into(),
                        ],
                        vec![
                            lang.t("签名校验", "signature check").into(),
                            signature_text(lang, &c.signature_check),
                        ],
                    ];
                    out.push_str(&table(&rows, "    "));
                }
                None => {
                    if let Some(e) = &c.error {
                        let _ = writeln!(out, "    {}", error_text(lang, e));
                    }
                }
            }
        }
        for k in &t.keys {
            let class = match k.class {
                ObjectKind::PrivateKey => lang.t("私钥", "private key"),
                ObjectKind::PublicKey => lang.t("公钥", "public key"),
                _ => lang.t("对称密钥", "secret key"),
            };
            let _ = writeln!(
                out,
                "  {class} {} \"{}\" {}",
                k.id,
                k.label,
                k.key_type.as_deref().unwrap_or("-")
            );
        }
        for d in &t.data_objects {
            let _ = writeln!(
                out,
                "  {} {} \"{}\" {} {} {}",
                lang.t("数据对象", "data object"),
                d.id,
                d.label,
                d.application.as_deref().unwrap_or("-"),
                d.size.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
                lang.t("字节", "bytes")
            );
        }
        out.push('\n');
    }
    errors_block(&mut out, lang, inv);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_with_chinese_text() {
        let t = table(
            &[
                vec!["张三".into(), "x".into()],
                vec!["ab".into(), "y".into()],
            ],
            "",
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "张三  x");
        assert_eq!(lines[1], "ab    y");
    }
}
